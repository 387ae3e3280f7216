"""BN254 scalar field and the fixed-width bounds every private integer obeys.

The bounds are the ones the circuits range-check (docs/PROTOCOL.md §1): they
are what makes field wrap-around impossible, so Python enforces the same ones
on input instead of discovering a violation at proving time.
"""

from __future__ import annotations

FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617

AMOUNT_BITS = 64
AMOUNT_OFFSET = 1 << (AMOUNT_BITS - 1)  # signed amount x enters the circuit as x + 2^63
AMOUNT_MIN = -AMOUNT_OFFSET
AMOUNT_MAX = AMOUNT_OFFSET - 1
PRICE_BITS = 64
WEIGHT_BITS = 16
BPS = 10_000
TOTAL_BITS = 96
PACK_PER_ELEMENT = 3  # 3 × 64-bit offsets per field element (192 < 253 bits)


def to_field_bytes(x: int) -> bytes:
    """Big-endian 32-byte encoding of a canonical field element."""
    if not 0 <= x < FIELD_MODULUS:
        raise ValueError("not a canonical field element")
    return x.to_bytes(32, "big")


def pack_amounts(amounts: tuple[int, ...] | list[int]) -> list[int]:
    """Pack signed 64-bit amounts, 3 per field element, as offset values.

    Injective because each offset is < 2^64, so the circuit's linear
    combination of range-checked bits cannot alias two different accounts.
    """
    offsets = [a + AMOUNT_OFFSET for a in amounts]
    packed = []
    for start in range(0, len(offsets), PACK_PER_ELEMENT):
        chunk = offsets[start : start + PACK_PER_ELEMENT]
        packed.append(sum(u << (AMOUNT_BITS * i) for i, u in enumerate(chunk)))
    return packed
