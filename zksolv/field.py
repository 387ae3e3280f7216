"""BN254 scalar field and the fixed-width bounds every private integer obeys.

The bounds are the ones the circuits range-check (docs/PROTOCOL.md §1): they
are what makes field wrap-around impossible, so Python enforces the same ones
on input instead of discovering a violation at proving time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator

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

# ASCII digits only, no sign, no leading zero: the one spelling of each integer. Python's int()
# also reads "０１", "৭", " 1_0\n" and so on, so a number a human reads one way could count as another.
_CANONICAL_UINT = re.compile(r"0|[1-9][0-9]*", re.ASCII)


class EncodingError(ValueError):
    """A number that is not written in its one canonical decimal spelling, or out of range."""


def parse_canonical_uint(text: Any, bound: int, what: str = "value", bound_name: str = "") -> int:
    """`text` as an integer in [0, bound), accepting only the canonical spelling `0|[1-9][0-9]*` (ASCII).

    Every integer zksolv reads from a file goes through here, so that each value has exactly
    one spelling: the string a reader sees is then the one that was hashed or verified."""
    if not isinstance(text, str) or not _CANONICAL_UINT.fullmatch(text):
        shown = (repr(text[:40]) + ("…" if len(text) > 40 else "")) if isinstance(text, str) else type(text).__name__
        raise EncodingError(f"{what}: expected a decimal string (ASCII digits, no sign, no leading zeros), got {shown}")
    # Length first: int() of a huge digit string is slow (and refused above 4300 digits).
    if len(text) > len(str(bound)) or int(text) >= bound:
        raise EncodingError(f"{what}: {text[:20]}{'…' if len(text) > 20 else ''} is not below {bound_name or bound}")
    return int(text)


def _field_text(value: str) -> str:
    parse_canonical_uint(value, FIELD_MODULUS, "field element", "the field modulus r")
    return value


# A field element in a file (manifest, commitment, inclusion proof): kept as the text, which must be its one
# spelling (ASCII digits, no leading zeros, below r), so the number a reader compares is the one checked.
FieldText = Annotated[str, AfterValidator(_field_text)]


def pack_amounts(amounts: Sequence[int]) -> list[int]:
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


class FieldVector(Sequence[int]):
    """Field elements stored as consecutive 32-byte big-endian words, read back as ints.

    A Merkle level of 2^20 nodes takes 32 MiB here instead of ~70 MiB of Python
    ints, and it is already in the format of the batch Poseidon functions.
    Compares equal to any sequence of the same ints.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        data = bytes(data)
        if len(data) % 32:
            raise ValueError("a FieldVector holds whole 32-byte words")
        self.data = data

    @classmethod
    def from_ints(cls, values: Iterable[int]) -> FieldVector:
        words = []
        for x in values:
            if not 0 <= x < FIELD_MODULUS:
                raise ValueError("not a canonical field element")
            words.append(x.to_bytes(32, "big"))
        return cls(b"".join(words))

    def __len__(self) -> int:
        return len(self.data) >> 5

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self.data) >> 5
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("FieldVector index out of range")
        return int.from_bytes(self.data[32 * index : 32 * index + 32], "big")

    def __iter__(self) -> Iterator[int]:
        data = self.data
        return (int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldVector):
            return self.data == other.data
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes, bytearray)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(str(x) for x in self[:3])
        return f"FieldVector([{head}{', …' if len(self) > 3 else ''}] × {len(self)})"


# Scenario price vectors per params (PROTOCOL.md §3.3): each costs ≈ 460 constraints per account, and the
# shape packs the count into 12 bits.
MAX_SCENARIOS = 64
