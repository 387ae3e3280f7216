"""Commitment to all accounts: salted keys, packed leaves, a Poseidon Merkle tree.

docs/PROTOCOL.md §4. Slots (real accounts and zero-amount padding accounts)
are ordered by key, so leaf positions reveal neither input order nor the
number of real accounts; the tree is binary Poseidon(2) over a power-of-two
capacity, and each real account gets an inclusion proof for its holder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .accounts import Account
from .errors import ZksolvError
from .field import pack_amounts
from .params import RiskParams, params_document, params_hash
from .poseidon import poseidon
from .secret import derive_field
from .units import from_units

INCLUSION_FORMAT = "zksolv-inclusion/1"
COMMITMENT_FORMAT = "zksolv-commitment/1"
ID_TAG = b"zksolv/account-id/v1"
SALT_TAG = b"zksolv/salt/v1"
PADDING_TAG = b"zksolv/padding/v1"
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
    return derive_field(seed, PADDING_TAG, be64(epoch_seconds), be64(index))


def derive_blinding(seed: bytes, epoch_seconds: int, batch_number: int) -> int:
    """Blinding of the accumulator after batch `batch_number` (1-based; acc_0 has blinding 0)."""
    return derive_field(seed, BLINDING_TAG, be64(epoch_seconds), be64(batch_number))


def account_key(account_id: str, salt: int) -> int:
    return poseidon([account_id_field(account_id), salt])


def leaf_hash(key: int, amounts: tuple[int, ...]) -> int:
    return poseidon([key, *pack_amounts(amounts)])


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


@dataclass
class Commitment:
    params: RiskParams
    capacity: int
    slots: list[Slot]
    levels: list[list[int]]  # levels[0] = leaves … levels[-1] = [root]

    @property
    def root(self) -> int:
        return self.levels[-1][0]

    @property
    def n_accounts(self) -> int:
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
    epoch = params.epoch_seconds
    slots = []
    for account in accounts:
        salt = derive_salt(seed, epoch, account.account_id)
        slots.append(Slot(account_key(account.account_id, salt), account.amounts, account.account_id, salt))
    n = len(slots)
    if capacity is None:
        capacity = default_capacity(n, batch_size)
    if capacity < 2 or capacity & (capacity - 1):
        raise CapacityError(f"capacity {capacity} is not a power of two ≥ 2")
    if capacity < n:
        raise CapacityError(f"capacity {capacity} is smaller than the {n} accounts")
    if batch_size and capacity % batch_size:
        raise CapacityError(f"capacity {capacity} is not a multiple of the batch size {batch_size}")
    zero = (0,) * params.n_slots
    slots += [Slot(derive_padding_key(seed, epoch, j), zero) for j in range(capacity - n)]
    slots.sort(key=lambda s: s.key)
    return slots, capacity


def merkle_levels(leaves: list[int]) -> list[list[int]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([poseidon([below[i], below[i + 1]]) for i in range(0, len(below), 2)])
    return levels


def build_commitment(accounts: Iterable[Account], params: RiskParams, seed: bytes, capacity: int | None = None,
                     batch_size: int | None = None) -> Commitment:
    slots, capacity = build_slots(accounts, params, seed, capacity, batch_size)
    leaves = [leaf_hash(s.key, s.amounts) for s in slots]
    return Commitment(params, capacity, slots, merkle_levels(leaves))


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def inclusion_filename(account_id: str) -> str:
    """A file name for the account's proof: the id itself when safe, else a hash of it."""
    if _SAFE_NAME.match(account_id) and not account_id.endswith("."):
        return f"{account_id}.json"
    return f"~{hashlib.sha256(account_id.encode()).hexdigest()[:32]}.json"
