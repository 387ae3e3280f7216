"""Commitment to all accounts: salted keys, packed leaves, a Poseidon Merkle tree.

docs/PROTOCOL.md §4. Slots (real accounts and zero-amount padding accounts)
are ordered by key, so leaf positions reveal neither input order nor the
number of real accounts; the tree is binary Poseidon(2) over a power-of-two
capacity, and each real account gets an inclusion proof for its holder.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .accounts import Account
from .errors import ZksolvError
from .field import FieldVector, pack_amounts
from .io import dumps_json
from .params import RiskParams, params_document, params_hash
from .poseidon import _native, poseidon, poseidon_batch
from .secret import derive_field
from .units import from_units

INCLUSION_FORMAT = "zksolv-inclusion/2"
COMMITMENT_FORMAT = "zksolv-commitment/2"
ID_TAG = b"zksolv/account-id/v1"
SALT_TAG = b"zksolv/salt/v1"
PADDING_TAG = b"zksolv/padding/v2"
# First input of every leaf hash (PROTOCOL.md §4): domain-separates leaves from inner nodes.
LEAF_TAG = int.from_bytes(b"zksolv.leaf.v2", "big")
_LEAF_TAG_WORD = LEAF_TAG.to_bytes(32, "big")
BLINDING_TAG = b"zksolv/blinding/v1"


class CapacityError(ZksolvError):
    """The requested capacity cannot hold the accounts or is not a power of two."""


def account_id_field(account_id: str) -> int:
    """Account id → field element via SHA-256 truncated to 248 bits (no mod-r aliasing)."""
    return int.from_bytes(hashlib.sha256(ID_TAG + b"\x00" + account_id.encode()).digest(), "big") >> 8


def be64(x: int) -> bytes:
    return x.to_bytes(8, "big")


def derive_salt(seed: bytes, epoch_seconds: int, account_id: str) -> int:
    return derive_field(seed, SALT_TAG, be64(epoch_seconds), account_id.encode())


def derive_padding_key(seed: bytes, epoch_seconds: int, index: int) -> int:
    """Key of padding slot `index`: Poseidon(HMAC-derived value, 0), a Poseidon output spread over
    [0, r) exactly like a real key Poseidon(id_field, salt), so sorting by key interleaves padding
    and real slots and a holder's leaf index says nothing about the number of accounts. (A real
    salt is a 248-bit HMAC output, never 0 in practice, so no padding key equals a real key.)"""
    return poseidon([derive_field(seed, PADDING_TAG, be64(epoch_seconds), be64(index)), 0])


def derive_blinding(seed: bytes, epoch_seconds: int, batch_number: int) -> int:
    """Blinding of the accumulator after batch `batch_number` (1-based; acc_0 has blinding 0)."""
    return derive_field(seed, BLINDING_TAG, be64(epoch_seconds), be64(batch_number))


def account_key(account_id: str, salt: int) -> int:
    return poseidon([account_id_field(account_id), salt])


def leaf_hash(key: int, amounts: tuple[int, ...]) -> int:
    return poseidon([LEAF_TAG, key, *pack_amounts(amounts)])


def default_capacity(n_accounts: int, batch_size: int | None = None) -> int:
    """Next power of two ≥ the accounts (and ≥ 2 batches when batching)."""
    floor = max(n_accounts, 2 * batch_size if batch_size else 2)
    return 1 << (floor - 1).bit_length()


@dataclass(frozen=True, slots=True)
class Slot:
    """One leaf: a real account (with id and salt) or a padding account (id None)."""

    key: int
    amounts: tuple[int, ...]
    account_id: str | None = None
    salt: int | None = None


class SlotTable(Sequence[Slot]):
    """The slots of a commitment in columns; a `Slot` is built on access.

    keys and salts are 32-byte big-endian words, amounts a flat array of signed 64-bit integers
    (`width` per slot) or, for amounts outside that range, a list of tuples. About 140 bytes per
    slot (plus the id string) instead of ~500 for Slot objects with their tuples and integers.
    """

    __slots__ = ("keys", "salts", "ids", "amounts", "width")

    def __init__(self, keys: bytes, salts: bytes, ids: list[str | None],
                 amounts: array | list[tuple[int, ...]], width: int) -> None:
        n = len(ids)
        flat = isinstance(amounts, array)
        if not len(keys) == len(salts) == 32 * n or len(amounts) != (n * width if flat else n):
            raise ValueError("slot columns differ in length")
        self.keys, self.salts, self.ids, self.amounts, self.width = keys, salts, ids, amounts, width

    def __len__(self) -> int:
        return len(self.ids)

    def slot_amounts(self, index: int) -> tuple[int, ...]:
        if isinstance(self.amounts, array):
            return tuple(self.amounts[index * self.width:(index + 1) * self.width])
        return self.amounts[index]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.ids)))]
        account_id = self.ids[index]  # IndexError / negative indices as for a list
        index %= len(self.ids)
        key = int.from_bytes(self.keys[32 * index:32 * index + 32], "big")
        if account_id is None:
            return Slot(key, self.slot_amounts(index))
        return Slot(key, self.slot_amounts(index), account_id,
                    int.from_bytes(self.salts[32 * index:32 * index + 32], "big"))

    def __iter__(self):
        return (self[i] for i in range(len(self.ids)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes, bytearray)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_accounts(self) -> int:
        return len(self.ids) - self.ids.count(None)


@dataclass
class Commitment:
    params: RiskParams
    capacity: int
    slots: Sequence[Slot]  # a SlotTable from build_commitment; any sequence of Slot works
    levels: list[Sequence[int]]  # levels[0] = leaves … levels[-1] = [root] (FieldVector or list of ints)

    @property
    def root(self) -> int:
        return self.levels[-1][0]

    @property
    def n_accounts(self) -> int:
        if isinstance(self.slots, SlotTable):
            return self.slots.n_accounts
        return sum(1 for s in self.slots if s.account_id is not None)

    def siblings(self, index: int) -> list[int]:
        path = []
        for level in self.levels[:-1]:
            path.append(level[index ^ 1])
            index >>= 1
        return path

    def inclusion_proof(self, index: int) -> dict:
        """The private proof handed to the holder of the account at `index`."""
        slot = self.slots[index]
        if slot.account_id is None:
            raise ValueError("padding slots have no inclusion proof")
        return inclusion_document(self.params, self.root, index, self.levels[0][index], self.siblings(index), slot)

    def document(self) -> dict:
        """Public `commitment.json` (no account count: that stays hidden up to the capacity)."""
        return {
            "format": COMMITMENT_FORMAT,
            "epoch": self.params.epoch,
            "root": str(self.root),
            "capacity": self.capacity,
            "params_hash": str(params_hash(self.params)),
        }


def inclusion_document(params: RiskParams, root: int, index: int, leaf: int, siblings: list[int], slot: Slot) -> dict:
    balances = {a.symbol: from_units(v, a.decimals) for a, v in zip(params.assets, slot.amounts)}
    positions = {m.symbol: from_units(v, m.decimals)
                 for m, v in zip(params.markets, slot.amounts[len(params.assets):])}
    return {
        "format": INCLUSION_FORMAT,
        "epoch": params.epoch,
        "root": str(root),
        "leaf_index": index,
        "leaf": str(leaf),
        "siblings": [str(s) for s in siblings],
        "salt": str(slot.salt),
        "account": {"account_id": slot.account_id, "balances": balances, "positions": positions},
        "params": params_document(params),
    }


def build_slots(accounts: Iterable[Account], params: RiskParams, seed: bytes, capacity: int | None = None,
                batch_size: int | None = None) -> tuple[list[Slot], int]:
    """Salt and key every account, pad to capacity, order by key."""
    table, capacity = _build_slots(accounts, params, seed, capacity, batch_size)
    return list(table), capacity


def _hmac_sha256(seed: bytes):
    """HMAC-SHA256 under `seed` with the key schedule done once (stdlib `HMAC.copy`):
    the same digests as secret.derive_field computes one at a time."""
    keyed = hmac.new(seed, digestmod="sha256")

    def mac(message: bytes) -> bytes:
        h = keyed.copy()
        h.update(message)
        return h.digest()

    return mac


_CHUNK = 1 << 16  # rows per Poseidon batch while streaming: bounds the temporary buffers


def _build_slots(accounts: Iterable[Account], params: RiskParams, seed: bytes, capacity: int | None,
                 batch_size: int | None) -> tuple[SlotTable, int]:
    """build_slots as a SlotTable, in one pass over `accounts` (which may be a stream).

    Same values as `account_key(id, derive_salt(...))` and `derive_padding_key`, computed in bulk:
    x >> 8 of a 32-byte SHA-256/HMAC digest is 0x00 ‖ its first 31 bytes, and the keys are hashed
    in Poseidon batches (on all cores with the C extension).
    """
    epoch = be64(params.epoch_seconds)
    width = params.n_slots
    id_prefix = ID_TAG + b"\x00"
    salt_prefix = SALT_TAG + b"\x00" + epoch
    sha256, mac = hashlib.sha256, _hmac_sha256(seed)
    ids: list[str] = []
    flat: array | None = array("q")
    rows: list[tuple[int, ...]] = []
    salts = bytearray()
    keys = bytearray()
    key_inputs = bytearray()
    for account in accounts:
        encoded = account.account_id.encode()
        salt = b"\x00" + mac(salt_prefix + encoded)[:31]
        salts += salt
        key_inputs += b"\x00" + sha256(id_prefix + encoded).digest()[:31] + salt
        if flat is not None:
            try:
                if len(account.amounts) != width:
                    raise OverflowError
                flat.extend(account.amounts)
            except OverflowError:  # not signed 64-bit, or not one per slot: keep tuples from here on
                del flat[len(ids) * width:]
                rows = [tuple(flat[i:i + width]) for i in range(0, len(flat), width)]
                flat = None
        if flat is None:
            rows.append(account.amounts)
        ids.append(account.account_id)
        if len(key_inputs) >= 64 * _CHUNK:
            keys += poseidon_batch(2, key_inputs)
            key_inputs.clear()
    keys += poseidon_batch(2, key_inputs)
    del key_inputs
    n = len(ids)
    if capacity is None:
        capacity = default_capacity(n, batch_size)
    if capacity < 2 or capacity & (capacity - 1):
        raise CapacityError(f"capacity {capacity} is not a power of two ≥ 2")
    if capacity < n:
        raise CapacityError(f"capacity {capacity} is smaller than the {n} accounts")
    if batch_size and capacity % batch_size:
        raise CapacityError(f"capacity {capacity} is not a multiple of the batch size {batch_size}")
    padding_prefix = PADDING_TAG + b"\x00" + epoch
    zero_word = bytes(32)
    keys += poseidon_batch(2, b"".join(b"\x00" + mac(padding_prefix + be64(j))[:31] + zero_word
                                       for j in range(capacity - n)))
    salts += bytes(32 * (capacity - n))
    if flat is not None:
        flat.extend(bytes(capacity - n) * width)  # zero amounts of the padding slots
    # Slots ordered by key ascending; fixed-width big-endian words sort like the integers, and the
    # sort is stable, as was the sort of Slot objects by key (real accounts in input order, then
    # padding).
    if _native is not None:
        order_bytes = _native.argsort_words(keys)
        order = memoryview(order_bytes).cast("Q")
        gather = _native.gather_words
        keys = gather(keys, order_bytes, 32)
        salts = gather(salts, order_bytes, 32)
        if flat is not None:
            amounts = array("q", bytes(8))
            amounts *= capacity * width
            gather(flat, order_bytes, 8 * width, amounts)
    else:
        words = [bytes(keys[i:i + 32]) for i in range(0, len(keys), 32)]
        order = sorted(range(capacity), key=words.__getitem__)
        del words
        keys = b"".join([keys[32 * i:32 * i + 32] for i in order])
        salts = b"".join([salts[32 * i:32 * i + 32] for i in order])
        if flat is not None:
            amounts = array("q")
            for i in order:
                amounts.extend(flat[i * width:(i + 1) * width])
    del flat
    if rows:
        zero = (0,) * width
        amounts = [rows[i] if i < n else zero for i in order]
    return SlotTable(bytes(keys), bytes(salts), [ids[i] if i < n else None for i in order], amounts, width), capacity


def merkle_levels(leaves: Sequence[int]) -> list[FieldVector]:
    """All levels of the binary Poseidon(2) tree: levels[0] = leaves … levels[-1] = [root]."""
    level = leaves if isinstance(leaves, FieldVector) else FieldVector.from_ints(leaves)
    if len(level) == 0 or len(level) & (len(level) - 1):
        raise ValueError(f"a Merkle tree needs a power-of-two number of leaves, got {len(level)}")
    levels = [level]
    while len(level) > 1:
        level = FieldVector(poseidon_batch(2, level.data))
        levels.append(level)
    return levels


def leaf_hashes(slots: Sequence[Slot]) -> FieldVector:
    """leaf_hash of every slot, in Poseidon batches."""
    if not slots:
        return FieldVector()
    if isinstance(slots, SlotTable) and isinstance(slots.amounts, array):
        keys, flat, width = slots.keys, slots.amounts, slots.width
    else:
        keys = FieldVector.from_ints(s.key for s in slots).data
        amounts = [s.amounts for s in slots]
        width = len(amounts[0])
        if any(len(a) != width for a in amounts):
            return FieldVector.from_ints(leaf_hash(s.key, s.amounts) for s in slots)
        try:
            flat = array("q", [a for row in amounts for a in row])
        except OverflowError:  # not signed 64-bit: pack_amounts below, checked as leaf_hash would
            flat = None
    n_inputs = 2 + -(-width // 3)
    if _native is not None and flat is not None:
        leaves = bytearray()
        for start in range(0, len(keys) // 32, _CHUNK):
            rows = _native.leaf_inputs(_LEAF_TAG_WORD, keys[32 * start:32 * (start + _CHUNK)],
                                       flat[width * start:width * (start + _CHUNK)], width)
            leaves += poseidon_batch(n_inputs, rows)
        return FieldVector(leaves)
    if flat is not None:
        amounts = [flat[i:i + width] for i in range(0, len(flat), width)]
    rows = b"".join(_LEAF_TAG_WORD + keys[32 * i:32 * i + 32] + FieldVector.from_ints(pack_amounts(a)).data
                    for i, a in enumerate(amounts))
    return FieldVector(poseidon_batch(n_inputs, rows))


def build_commitment(accounts: Iterable[Account], params: RiskParams, seed: bytes, capacity: int | None = None,
                     batch_size: int | None = None) -> Commitment:
    slots, capacity = _build_slots(accounts, params, seed, capacity, batch_size)
    return Commitment(params, capacity, slots, merkle_levels(leaf_hashes(slots)))


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def inclusion_filename(account_id: str) -> str:
    """A file name for the account's proof: the id itself when safe, else a hash of it."""
    if _SAFE_NAME.match(account_id) and not account_id.endswith("."):
        return f"{account_id}.json"
    return f"~{hashlib.sha256(account_id.encode()).hexdigest()[:32]}.json"


def write_inclusion_proofs(commitment: Commitment, folder: Path) -> int:
    """One inclusion proof file per account (not per padding slot) into `folder`; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, slot in enumerate(commitment.slots):
        if slot.account_id is None:
            continue
        document = commitment.inclusion_proof(index)
        (folder / inclusion_filename(slot.account_id)).write_text(dumps_json(document), encoding="utf-8")
        count += 1
    return count
