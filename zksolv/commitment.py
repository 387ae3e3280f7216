"""Commitment to all accounts: salted keys, packed leaves, a Poseidon Merkle tree.

docs/PROTOCOL.md §4. Slots (real accounts and zero-amount padding accounts)
are ordered by key, so leaf positions reveal neither input order nor the
number of real accounts; the tree is binary Poseidon(2) over a power-of-two
capacity. Every (account_id, subaccount) is its own leaf with its own key and
salt, and each holder gets one inclusion file with the path of every one of
their accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .accounts import Account, leaf_values, split_leaf_values
from .errors import ArgumentError, InputError, Problem, ZksolvError, validation_problems
from .field import FieldText, FieldVector, pack_amounts
from .io import dumps_json, read_json
from .params import RiskParams, params_document, params_hash
from .poseidon import _native, poseidon, poseidon_batch
from .secret import derive_field
from .units import from_units

INCLUSION_FORMAT = "zksolv-inclusion/5"
COMMITMENT_FORMAT = "zksolv-commitment/5"
# Formats this zksolv knows but no longer accepts, with the reason shown to whoever checks one
# (as bundle.RETIRED_FORMATS for bundles).
RETIRED_FORMATS = {
    "zksolv-inclusion/4": "format 4 hashed account ids as written (no trimming or NFC) and its params had no "
    "entry costs or balanced_markets (PROTOCOL.md §3.4, §4): ask the venue for this epoch's inclusion "
    "file in format 5",
    "zksolv-commitment/4": "format 4 hashed account ids as written (no trimming or NFC) and its params had no "
    "entry costs or balanced_markets (PROTOCOL.md §3.4, §4): ask the venue for this epoch's commitment "
    "in format 5",
    "zksolv-inclusion/3": "format 3 leaves had no margin mode and its params no scenarios or options "
    "(PROTOCOL.md §3.3, §4): ask the venue for this epoch's inclusion file in format 5",
    "zksolv-commitment/3": "format 3 committed under a params hash without scenarios or option series "
    "(PROTOCOL.md §5): ask the venue for this epoch's commitment in format 5",
    "zksolv-inclusion/2": "format 2 held one account per file and had no sub-accounts; format 3 lists every "
    "account of a holder (main and isolated sub-accounts), each with its own path "
    "(PROTOCOL.md §4): ask the venue for this epoch's inclusion file in format 5",
    "zksolv-inclusion/1": "format 1 leaves were not domain-separated from tree nodes (SECURITY.md, issue 9): "
    "ask the venue for this epoch's inclusion file in format 5",
    "zksolv-commitment/2": "format 2 committed one leaf per account id, without sub-accounts, under a params "
    "hash without maintenance brackets (PROTOCOL.md §4, §5): ask the venue for this "
    "epoch's commitment in format 5",
    "zksolv-commitment/1": "format 1 leaves were not domain-separated from tree nodes (SECURITY.md, issue 9): "
    "ask the venue for this epoch's commitment in format 5",
}
ID_TAG = b"zksolv/account-id/v1"
SALT_TAG = b"zksolv/salt/v1"
PADDING_TAG = b"zksolv/padding/v2"
# First input of every leaf hash (PROTOCOL.md §4): domain-separates leaves from inner nodes.
LEAF_TAG = int.from_bytes(b"zksolv.leaf.v2", "big")
_LEAF_TAG_WORD = LEAF_TAG.to_bytes(32, "big")
BLINDING_TAG = b"zksolv/blinding/v1"


class CapacityError(ZksolvError):
    """The requested capacity cannot hold the accounts or is not a power of two."""


def format_refusal(found: object, expected: str, what: str) -> str:
    """Why a `what` ("inclusion proof", "commitment") whose format field says `found` is refused."""
    if isinstance(found, str) and found in RETIRED_FORMATS:
        return f"{what} {found} is no longer accepted: {RETIRED_FORMATS[found]}"
    return f"not a {expected} file: unknown format {found!r} (this zksolv checks {expected})"


def identity_bytes(account_id: str, subaccount: str = "") -> bytes:
    """What the id field and the salt hash (PROTOCOL.md §4): utf8(id) for a main account, exactly as
    before sub-accounts existed, and utf8(id) ‖ 0x00 ‖ utf8(subaccount) for a sub-account. Neither
    contains a control character, so the 0x00 is unambiguous and no two accounts hash alike."""
    encoded = account_id.encode()
    return encoded + b"\x00" + subaccount.encode() if subaccount else encoded


def account_id_field(account_id: str, subaccount: str = "") -> int:
    """(Sub-)account → field element via SHA-256 truncated to 248 bits (no mod-r aliasing)."""
    return (
        int.from_bytes(hashlib.sha256(ID_TAG + b"\x00" + identity_bytes(account_id, subaccount)).digest(), "big") >> 8
    )


def be64(x: int) -> bytes:
    return x.to_bytes(8, "big")


def derive_salt(seed: bytes, epoch_seconds: int, account_id: str, subaccount: str = "") -> int:
    """The (sub-)account's salt for the epoch: each sub-account has its own, so outsiders cannot link
    the sub-accounts of one holder (nor see that they share a holder)."""
    return derive_field(seed, SALT_TAG, be64(epoch_seconds), identity_bytes(account_id, subaccount))


def derive_padding_key(seed: bytes, epoch_seconds: int, index: int) -> int:
    """Key of padding slot `index`: Poseidon(HMAC-derived value, 0), a Poseidon output spread over
    [0, r) exactly like a real key Poseidon(id_field, salt), so sorting by key interleaves padding
    and real slots and a holder's leaf index says nothing about the number of accounts. (A real
    salt is a 248-bit HMAC output, never 0 in practice, so no padding key equals a real key.)"""
    return poseidon([derive_field(seed, PADDING_TAG, be64(epoch_seconds), be64(index)), 0])


def derive_blinding(seed: bytes, epoch_seconds: int, batch_number: int) -> int:
    """Blinding of the accumulator after batch `batch_number` (1-based; acc_0 has blinding 0)."""
    return derive_field(seed, BLINDING_TAG, be64(epoch_seconds), be64(batch_number))


def account_key(account_id: str, salt: int, subaccount: str = "") -> int:
    return poseidon([account_id_field(account_id, subaccount), salt])


def leaf_hash(key: int, amounts: tuple[int, ...]) -> int:
    return poseidon([LEAF_TAG, key, *pack_amounts(amounts)])


def default_capacity(n_accounts: int, batch_size: int | None = None) -> int:
    """Next power of two ≥ the accounts (and ≥ 2 batches when batching)."""
    floor = max(n_accounts, 2 * batch_size if batch_size else 2)
    return 1 << (floor - 1).bit_length()


@dataclass(frozen=True, slots=True)
class Slot:
    """One leaf: a real account (with id, sub-account and salt) or a padding account (id None)."""

    key: int
    amounts: tuple[int, ...]
    account_id: str | None = None
    salt: int | None = None
    subaccount: str = ""


class SlotTable(Sequence[Slot]):
    """The slots of a commitment in columns; a `Slot` is built on access.

    keys and salts are 32-byte big-endian words, amounts a flat array of signed 64-bit integers
    (`width` per slot) or, for amounts outside that range, a list of tuples. About 140 bytes per
    slot (plus the id string) instead of ~500 for Slot objects with their tuples and integers.
    `subaccounts` is None when every account is a main account, else one name per slot ("" for main
    accounts and padding).
    """

    __slots__ = ("keys", "salts", "ids", "amounts", "width", "subaccounts")

    def __init__(
        self,
        keys: bytes,
        salts: bytes,
        ids: list[str | None],
        amounts: array | list[tuple[int, ...]],
        width: int,
        subaccounts: list[str] | None = None,
    ) -> None:
        n = len(ids)
        flat = isinstance(amounts, array)
        if (
            not len(keys) == len(salts) == 32 * n
            or len(amounts) != (n * width if flat else n)
            or (subaccounts is not None and len(subaccounts) != n)
        ):
            raise ValueError("slot columns differ in length")
        self.keys, self.salts, self.ids, self.amounts, self.width = keys, salts, ids, amounts, width
        self.subaccounts = subaccounts

    def __len__(self) -> int:
        return len(self.ids)

    def slot_amounts(self, index: int) -> tuple[int, ...]:
        if isinstance(self.amounts, array):
            return tuple(self.amounts[index * self.width : (index + 1) * self.width])
        return self.amounts[index]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.ids)))]
        account_id = self.ids[index]  # IndexError / negative indices as for a list
        index %= len(self.ids)
        key = int.from_bytes(self.keys[32 * index : 32 * index + 32], "big")
        if account_id is None:
            return Slot(key, self.slot_amounts(index))
        return Slot(
            key,
            self.slot_amounts(index),
            account_id,
            int.from_bytes(self.salts[32 * index : 32 * index + 32], "big"),
            self.subaccounts[index] if self.subaccounts is not None else "",
        )

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
    levels: Sequence[Sequence[int]]  # levels[0] = leaves … levels[-1] = [root] (FieldVector or list of ints)

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

    @property
    def n_holders(self) -> int:
        """Distinct account ids: one inclusion file each (sub-accounts included in their holder's)."""
        return len({i for i in _slot_ids(self.slots) if i is not None})

    def holders(self) -> Iterator[tuple[str, list[int]]]:
        """(account_id, the slot indices of every one of its accounts), holder by holder in id order."""
        ids = _slot_ids(self.slots)
        real = [i for i, account_id in enumerate(ids) if account_id is not None]
        real.sort(key=ids.__getitem__)  # type: ignore[arg-type]  # ~45 bytes per account, not a dict of lists
        start = 0
        for end in range(1, len(real) + 1):
            if end == len(real) or ids[real[end]] != ids[real[start]]:
                yield ids[real[start]] or "", real[start:end]
                start = end

    def holder_proof(self, indices: Sequence[int]) -> dict:
        """The private inclusion file of one holder: the path of each of the slots `indices` (all of
        the holder's accounts)."""
        return holder_document(
            self.params, self.root, [(i, self.levels[0][i], self.siblings(i), self.slots[i]) for i in indices]
        )

    def holder_parts(self) -> Iterator[tuple[str, dict]]:
        """(account_id, the holder's inclusion file without its "params") for every holder, in
        `holders()` order, one at a time: `{**part, "params": params_document(params)}` is
        `holder_proof` of the holder's indices, in the same key order. Built for writing all of
        them (`_PathTexts`), with the params left out so that they are rendered once."""
        paths = _PathTexts(self)
        params, root = self.params, str(self.root)
        for account_id, indices in self.holders():
            yield account_id, holder_part(params, root, account_id, paths.entries(indices))

    def holder_part_texts(self) -> Iterator[tuple[str, str]]:
        """`holder_parts` as compact JSON text (what the inclusion store keeps per holder): the
        text json.dumps(part, ensure_ascii=False, separators=(",", ":")) gives, rendered straight
        from the path texts by `_PartJson` in about the time it takes to build the dicts alone;
        json.dumps on top of them took ≈ 18 s more at 2^20 (docs/BENCHMARKS.md: its C encoder
        makes a new string per value, and most of a part is its ~30 decimal strings per account)."""
        paths = _PathTexts(self)
        render = _PartJson(self.params, str(self.root))
        for account_id, indices in self.holders():
            yield account_id, render(account_id, paths.entries(indices))

    def inclusion_proof(self, index: int) -> dict:
        """The private inclusion file of the holder of the account at `index`: it covers every
        (sub-)account of that holder, not only this one."""
        slot = self.slots[index]
        if slot.account_id is None:
            raise ValueError("padding slots have no inclusion proof")
        ids = _slot_ids(self.slots)
        return self.holder_proof([i for i, account_id in enumerate(ids) if account_id == slot.account_id])

    def document(self) -> dict:
        """Public `commitment.json` as JSON data (no account count: that stays hidden up to the capacity)."""
        return CommitmentFile(
            format=COMMITMENT_FORMAT,
            epoch=self.params.epoch,
            root=str(self.root),
            capacity=self.capacity,
            params_hash=str(params_hash(self.params)),
        ).model_dump()


class CommitmentFile(BaseModel):
    """`commitment.json`, the public commitment: written by `Commitment.document`, read by
    `load_commitment_file`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    format: str
    epoch: str
    root: FieldText
    capacity: int = Field(ge=1, le=1 << 40)  # a power of two: inclusion.verify_inclusion says so when it is not
    params_hash: FieldText


def load_commitment_file(path: Path | str) -> CommitmentFile:
    """A published `commitment.json`; InputError naming the file and the field when it is not one
    (and the reason when it is one of a retired format)."""
    path = Path(path)
    data = read_json(path, "commitment")
    if not isinstance(data, dict):
        raise InputError([Problem(str(path), f"not a {COMMITMENT_FORMAT} file: a JSON object is expected")])
    if data.get("format") != COMMITMENT_FORMAT:
        raise InputError([Problem(str(path), format_refusal(data.get("format"), COMMITMENT_FORMAT, "commitment"))])
    try:
        return CommitmentFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(str(path), exc)) from None


def account_document(params: RiskParams, account_id: str, values: Sequence[int], subaccount: str = "") -> dict:
    """An account as its holder reads it from its leaf values (`leaf_values`): every asset's balance and
    every market's (and option's) position of the params (zeros included) at their decimals, and with
    scenarios its margin mode. The one rendering of the inclusion proof a venue writes and of what
    `inclusion verify` shows from the hashed integers; `subaccount` "" is the main account."""
    amounts, portfolio = split_leaf_values(tuple(values), params)
    n_assets = len(params.assets)
    document: dict = {
        "account_id": account_id,
        "subaccount": subaccount,
        "balances": {a.symbol: from_units(v, a.decimals) for a, v in zip(params.assets, amounts) if a.cost_of is None},
        "positions": {m.symbol: from_units(v, m.decimals) for m, v in zip(params.markets, amounts[n_assets:])},
    }
    if params.entry_cost_slots:  # the leaf holds −cost (PROTOCOL.md §3.4); the holder reads the cost
        document["entry_costs"] = {
            a.cost_of: from_units(-v, a.decimals) for a, v in zip(params.assets, amounts) if a.cost_of is not None
        }
    if params.scenarios:
        document["margin_mode"] = "portfolio" if portfolio else "cross"
    return document


def holder_document(params: RiskParams, root: int, paths: Sequence[tuple[int, int, Sequence[int], Slot]]) -> dict:
    """A holder's inclusion file (PROTOCOL.md §4): for each of their accounts, given as (leaf index,
    leaf, siblings, slot), its path and salt and the account as `account_document` renders it; the
    main account first, then the sub-accounts by name."""
    holders = {slot.account_id for _, _, _, slot in paths}
    account_id = holders.pop() if len(holders) == 1 else None
    if account_id is None:
        raise ValueError("an inclusion file covers the accounts of exactly one holder")
    entries: list[PathText] = [
        (index, str(leaf), [str(s) for s in siblings], str(slot.salt), slot.subaccount, slot.amounts)
        for index, leaf, siblings, slot in paths
    ]
    return {**holder_part(params, str(root), account_id, entries), "params": params_document(params)}


# One account of a holder's file as `holder_part` takes it: (leaf index, leaf, siblings, salt,
# subaccount, leaf values), the field elements as their decimal text.
PathText = tuple[int, str, Sequence[str], str, str, tuple[int, ...]]


def holder_part(params: RiskParams, root: str, account_id: str, entries: Sequence[PathText]) -> dict:
    """`holder_document` without its last key, "params": what every holder's file has of its own
    (the inclusion store keeps this per holder and the params once), from the root and each
    account's path as decimal text; the main account first, then the sub-accounts by name."""
    return {
        "format": INCLUSION_FORMAT,
        "epoch": params.epoch,
        "root": root,
        "account_id": account_id,
        "subaccounts": [
            {
                "leaf_index": index,
                "leaf": leaf,
                "siblings": list(siblings),
                "salt": salt,
                "account": account_document(params, account_id, values, subaccount),
            }
            for index, leaf, siblings, salt, subaccount, values in _in_file_order(entries)
        ],
    }


def _in_file_order(entries: Sequence[PathText]) -> Sequence[PathText]:
    """The main account ("") first, then the sub-accounts by name."""
    return entries if len(entries) == 1 else sorted(entries, key=lambda entry: entry[4])


class _PartJson:
    """`holder_part` as compact JSON text (separators "," and ":", no ASCII escaping: the spelling
    of json.dumps(part, ensure_ascii=False, separators=(",", ":"))), for one commitment's params and
    root. Only the account id, sub-account names and the params' symbols and epoch can need JSON
    escaping (json.encoder.encode_basestring, the encoder's own function); the rest is decimal
    text. tests/test_inclusion_store.py checks it against json.dumps for every holder."""

    __slots__ = ("head", "assets", "markets", "n_assets", "n_slots", "scenarios")

    def __init__(self, params: RiskParams, root: str) -> None:
        quote = encode_basestring
        self.head = (
            f'{{"format":{quote(INCLUSION_FORMAT)},"epoch":{quote(params.epoch)},"root":{quote(root)},"account_id":'
        )
        self.assets = [(f"{quote(a.symbol)}:", a.decimals) for a in params.assets]
        self.markets = [(f"{quote(m.symbol)}:", m.decimals) for m in params.markets]
        self.n_assets, self.n_slots, self.scenarios = len(params.assets), params.n_slots, bool(params.scenarios)

    def __call__(self, account_id: str, entries: Sequence[PathText]) -> str:
        quote, n_assets = encode_basestring, self.n_assets
        holder = quote(account_id)
        accounts = []
        for index, leaf, siblings, salt, subaccount, values in _in_file_order(entries):
            balances = ",".join(
                f'{key}"{from_units(v, d) if v else "0"}"' for (key, d), v in zip(self.assets, values[:n_assets])
            )
            positions = ",".join(
                f'{key}"{from_units(v, d) if v else "0"}"'
                for (key, d), v in zip(self.markets, values[n_assets : self.n_slots])
            )
            mode = (
                (',"margin_mode":"portfolio"' if values[self.n_slots] else ',"margin_mode":"cross"')
                if self.scenarios
                else ""
            )
            path = '","'.join(siblings)
            accounts.append(
                f'{{"leaf_index":{index},"leaf":"{leaf}","siblings":["{path}"],"salt":"{salt}",'
                f'"account":{{"account_id":{holder},"subaccount":{quote(subaccount)},'
                f'"balances":{{{balances}}},"positions":{{{positions}}}{mode}}}}}'
            )
        return f'{self.head}{holder},"subaccounts":[{",".join(accounts)}]}}'


class _PathTexts:
    """Each account's path as `holder_part` takes it, for writing every holder's file of a
    commitment: each tree level above the leaves is turned into decimal text once, as a list of
    strings (a level-t node is a sibling on 2^t paths, and int → decimal text is most of the cost
    of a path), the leaves on demand (each is read twice: as a leaf and as its neighbour's
    sibling); a SlotTable's salts and amounts are read from its columns without Slot objects.
    About 130 bytes per node above the leaves (≈ 130 MB at 2^20) while writing."""

    __slots__ = ("leaves", "upper", "slots")

    def __init__(self, commitment: Commitment) -> None:
        leaves = commitment.levels[0]
        self.leaves = leaves.data if isinstance(leaves, FieldVector) else leaves
        # (t, level t as text) for t = 1 … depth − 1: node i's ancestor at level t is i >> t.
        self.upper = [(t, _level_text(level)) for t, level in enumerate(commitment.levels[1:-1], 1)]
        self.slots = commitment.slots

    def entries(self, indices: Sequence[int]) -> list[PathText]:
        leaves, upper, slots = self.leaves, self.upper, self.slots
        words = isinstance(leaves, bytes)
        entries: list[PathText] = []
        for i in indices:
            if words:
                j = i ^ 1
                leaf = str(int.from_bytes(leaves[32 * i : 32 * i + 32], "big"))
                path = [str(int.from_bytes(leaves[32 * j : 32 * j + 32], "big"))]
            else:
                leaf, path = str(leaves[i]), [str(leaves[i ^ 1])]
            path += [level[(i >> shift) ^ 1] for shift, level in upper]
            if isinstance(slots, SlotTable):
                salt = str(int.from_bytes(slots.salts[32 * i : 32 * i + 32], "big"))
                subaccount = slots.subaccounts[i] if slots.subaccounts is not None else ""
                entries.append((i, leaf, path, salt, subaccount, slots.slot_amounts(i)))
            else:
                slot = slots[i]
                entries.append((i, leaf, path, str(slot.salt), slot.subaccount, slot.amounts))
        return entries


def _level_text(level: Sequence[int]) -> list[str]:
    if isinstance(level, FieldVector):
        data = level.data
        return [str(int.from_bytes(data[i : i + 32], "big")) for i in range(0, len(data), 32)]
    return [str(x) for x in level]


def inclusion_document(params: RiskParams, root: int, index: int, leaf: int, siblings: list[int], slot: Slot) -> dict:
    """The inclusion file of a holder with the one account `slot` (holder_document with one path)."""
    return holder_document(params, root, [(index, leaf, siblings, slot)])


def _slot_ids(slots: Sequence[Slot]) -> list[str | None]:
    return slots.ids if isinstance(slots, SlotTable) else [s.account_id for s in slots]


def build_slots(
    accounts: Iterable[Account],
    params: RiskParams,
    seed: bytes,
    capacity: int | None = None,
    batch_size: int | None = None,
) -> tuple[list[Slot], int]:
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


def _build_slots(
    accounts: Iterable[Account], params: RiskParams, seed: bytes, capacity: int | None, batch_size: int | None
) -> tuple[SlotTable, int]:
    """build_slots as a SlotTable, in one pass over `accounts` (which may be a stream).

    Same values as `account_key(id, derive_salt(...))` and `derive_padding_key`, computed in bulk:
    x >> 8 of a 32-byte SHA-256/HMAC digest is 0x00 ‖ its first 31 bytes, and the keys are hashed
    in Poseidon batches (on all cores with the C extension).
    """
    epoch = be64(params.epoch_seconds)
    width = params.leaf_width
    id_prefix = ID_TAG + b"\x00"
    salt_prefix = SALT_TAG + b"\x00" + epoch
    sha256, mac = hashlib.sha256, _hmac_sha256(seed)
    ids: list[str] = []
    subaccounts: list[str] | None = None  # created at the first sub-account
    flat: array | None = array("q")
    rows: list[tuple[int, ...]] = []
    # bytearrays while they grow; joined bytes once they are put in key order.
    salts: bytes | bytearray = bytearray()
    keys: bytes | bytearray = bytearray()
    key_inputs = bytearray()
    for account in accounts:
        encoded = account.account_id.encode()
        if account.subaccount:  # identity_bytes: id ‖ 0x00 ‖ subaccount
            encoded += b"\x00" + account.subaccount.encode()
            if subaccounts is None:
                subaccounts = [""] * len(ids)
        if subaccounts is not None:
            subaccounts.append(account.subaccount)
        salt = b"\x00" + mac(salt_prefix + encoded)[:31]
        salts += salt
        key_inputs += b"\x00" + sha256(id_prefix + encoded).digest()[:31] + salt
        values = leaf_values(account, params)
        if flat is not None:
            try:
                if len(values) != width:
                    raise OverflowError
                flat.extend(values)
            except OverflowError:  # not signed 64-bit, or not one per slot: keep tuples from here on
                del flat[len(ids) * width :]
                rows = [tuple(flat[i : i + width]) for i in range(0, len(flat), width)]
                flat = None
        if flat is None:
            rows.append(values)
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
    amounts: array | list[tuple[int, ...]] = []  # the SlotTable column, filled in key order below
    keys += poseidon_batch(
        2, b"".join(b"\x00" + mac(padding_prefix + be64(j))[:31] + zero_word for j in range(capacity - n))
    )
    salts += bytes(32 * (capacity - n))
    if flat is not None:
        flat.extend(bytes(capacity - n) * width)  # zero amounts of the padding slots
    # Slots ordered by key ascending; fixed-width big-endian words sort like the integers, and the
    # sort is stable, as was the sort of Slot objects by key (real accounts in input order, then
    # padding).
    if _native is not None:
        order_bytes = _native.argsort_words(keys)
        order: Sequence[int] = memoryview(order_bytes).cast("Q")
        gather = _native.gather_words
        keys = gather(keys, order_bytes, 32)
        salts = gather(salts, order_bytes, 32)
        if flat is not None:
            amounts = array("q", bytes(8))
            amounts *= capacity * width
            gather(flat, order_bytes, 8 * width, amounts)
    else:
        words = [bytes(keys[i : i + 32]) for i in range(0, len(keys), 32)]
        order = sorted(range(capacity), key=words.__getitem__)
        del words
        keys = b"".join([keys[32 * i : 32 * i + 32] for i in order])
        salts = b"".join([salts[32 * i : 32 * i + 32] for i in order])
        if flat is not None:
            amounts = array("q")
            for i in order:
                amounts.extend(flat[i * width : (i + 1) * width])
    del flat
    if rows:
        zero = (0,) * width
        amounts = [rows[i] if i < n else zero for i in order]
    sorted_subaccounts = None if subaccounts is None else [subaccounts[i] if i < n else "" for i in order]
    return SlotTable(
        bytes(keys), bytes(salts), [ids[i] if i < n else None for i in order], amounts, width, sorted_subaccounts
    ), capacity


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
        amounts: Sequence[Sequence[int]] = [s.amounts for s in slots]
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
            rows = _native.leaf_inputs(
                _LEAF_TAG_WORD,
                keys[32 * start : 32 * (start + _CHUNK)],
                flat[width * start : width * (start + _CHUNK)],
                width,
            )
            leaves += poseidon_batch(n_inputs, rows)
        return FieldVector(leaves)
    if flat is not None:
        amounts = [flat[i : i + width] for i in range(0, len(flat), width)]
    rows = b"".join(
        _LEAF_TAG_WORD + keys[32 * i : 32 * i + 32] + FieldVector.from_ints(pack_amounts(a)).data
        for i, a in enumerate(amounts)
    )
    return FieldVector(poseidon_batch(n_inputs, rows))


def build_commitment(
    accounts: Iterable[Account],
    params: RiskParams,
    seed: bytes,
    capacity: int | None = None,
    batch_size: int | None = None,
) -> Commitment:
    slots, capacity = _build_slots(accounts, params, seed, capacity, batch_size)
    return Commitment(params, capacity, slots, merkle_levels(leaf_hashes(slots)))


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def inclusion_filename(account_id: str) -> str:
    """A file name for the holder's inclusion file (all their sub-accounts): the id itself when safe,
    else a hash of it."""
    if _SAFE_NAME.match(account_id) and not account_id.endswith("."):
        return f"{account_id}.json"
    return f"~{hashlib.sha256(account_id.encode()).hexdigest()[:32]}.json"


# Up to this many holders, layout "auto" writes one JSON file per holder; above it, one SQLite store
# (zksolv.inclusion_store). A folder of 10^6 files is what a web backend does not want (slow to list,
# copy and back up, an inode each, ~4 KB of disk for a 2 KB file), while one SQLite file serves a
# holder's file by primary key in microseconds. 10,000 files is still a folder anyone can browse.
INCLUSION_FILES_MAX = 10_000
INCLUSION_LAYOUTS = ("auto", "files", "sqlite")


def resolve_inclusion_layout(n_holders: int, layout: str = "auto") -> str:
    """The layout `write_inclusion_proofs` uses for `n_holders` holders: "files" or "sqlite" as
    asked, and for "auto" files up to INCLUSION_FILES_MAX holders, the store above."""
    if layout not in INCLUSION_LAYOUTS:
        raise ArgumentError(
            "inclusion_layout",
            f"{layout!r} is not an inclusion layout; choose one of {', '.join(INCLUSION_LAYOUTS)}",
            hint="--inclusion-layout takes auto, files or sqlite",
        )
    if layout == "auto":
        return "files" if n_holders <= INCLUSION_FILES_MAX else "sqlite"
    return layout


def write_inclusion_proofs(commitment: Commitment, folder: Path, layout: str = "auto") -> int:
    """Every holder's inclusion file (one per account id, covering every one of the holder's
    accounts: main and sub-accounts; none for padding slots) into `folder`; returns how many.

    `layout` (`resolve_inclusion_layout`): "files" writes `<inclusion_filename(id)>` per holder, "sqlite"
    the one store `inclusion.sqlite` (zksolv.inclusion_store; `InclusionStore.get` gives back the
    same document), "auto" files up to INCLUSION_FILES_MAX holders, the store above. Streaming:
    one holder's document at a time. The caller makes the folder appear atomically (prove and
    api.write_commitment write it inside io.atomic_directory)."""
    chosen = resolve_inclusion_layout(commitment.n_holders if layout == "auto" else 0, layout)
    folder.mkdir(parents=True, exist_ok=True)
    params = params_document(commitment.params)
    if chosen == "sqlite":
        from .inclusion_store import STORE_NAME, write_store

        return write_store(
            folder / STORE_NAME,
            epoch=commitment.params.epoch,
            root=str(commitment.root),
            capacity=commitment.capacity,
            params=params,
            holders=commitment.holder_part_texts(),
        )
    # dumps_json of the whole document, spliced: the holder's part as json.dumps renders it with
    # indent 2, then "params" (rendered once, indented one level: JSON text never holds a raw
    # newline inside a string) as its last key. The same bytes as dumps_json(holder_proof(…)).
    params_text = dumps_json(params).rstrip("\n").replace("\n", "\n  ")
    count = 0
    for account_id, part in commitment.holder_parts():
        text = json.dumps(part, indent=2, ensure_ascii=False)
        (folder / inclusion_filename(account_id)).write_text(
            f'{text[:-2]},\n  "params": {params_text}\n}}\n', encoding="utf-8"
        )
        count += 1
    return count
