"""Verify an account holder's inclusion proof against a published root.

Recomputes everything from what the holder can check themselves: their
account's amounts (at the params' decimals), the salt, the key, the leaf, and
the Poseidon(2) path up to the root; it also checks that the params carried in
the proof are the published ones, since the decimals there decide how the
holder's balances are encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .accounts import AccountRecord
from .commitment import INCLUSION_FORMAT, account_key, leaf_hash
from .errors import InputError, Problem
from .field import AMOUNT_MAX, AMOUNT_MIN, FIELD_MODULUS, parse_canonical_uint
from .io import read_json
from .margin import account_equity, health_to_quote, maintenance_health
from .params import RiskParams, params_hash, parse_params
from .poseidon import poseidon
from .units import UnitError, from_units, to_units


def _field_text(value: str) -> str:
    # One spelling per field element (no leading zeros, ASCII digits, below r): the root the
    # holder compares with the published one is then the number that was checked.
    parse_canonical_uint(value, FIELD_MODULUS, "field element", "the field modulus r")
    return value


FieldText = Annotated[str, AfterValidator(_field_text)]


class InclusionProofFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    format: str
    epoch: str
    root: FieldText
    leaf_index: int = Field(ge=0)
    leaf: FieldText
    siblings: list[FieldText] = Field(min_length=1, max_length=64)
    salt: FieldText
    account: AccountRecord
    params: dict[str, Any]


@dataclass
class InclusionResult:
    valid: bool
    reason: str | None
    account: AccountRecord | None = None
    params: RiskParams | None = None
    warnings: list[str] = field(default_factory=list)
    amounts: tuple[int, ...] | None = None  # every slot of the leaf, as hashed (set when valid)

    def shown_account(self) -> dict | None:
        """The account as the leaf encodes it: every asset and market of the params, zeros
        included, rendered from the hashed integers (never the proof file's own strings, which
        could spell a value otherwise or leave a slot out)."""
        if not self.valid or self.account is None or self.params is None or self.amounts is None:
            return None
        n_assets = len(self.params.assets)
        return {"account_id": self.account.account_id,
                "balances": {a.symbol: from_units(v, a.decimals)
                             for a, v in zip(self.params.assets, self.amounts[:n_assets])},
                "positions": {m.symbol: from_units(v, m.decimals)
                              for m, v in zip(self.params.markets, self.amounts[n_assets:])},
                **self.margin_status()}

    def margin_status(self) -> dict:
        """How the proofs counted this account (the circuit computes the same integers from the same
        leaf): below maintenance or not, and bankrupt (negative equity) or not."""
        health = maintenance_health(self.amounts, self.params)
        equity = account_equity(self.amounts, self.params)
        return {"maintenance_health": health_to_quote(health, self.params), "below_maintenance": health < 0,
                "equity": from_units(equity, self.params.value_scale), "bankrupt": equity < 0}


def load_inclusion_proof(path: Path | str) -> InclusionProofFile:
    path = Path(path)
    data = read_json(path, "inclusion proof")
    try:
        proof = InclusionProofFile.model_validate(data)
    except ValidationError as exc:
        raise InputError([Problem(str(path), e.get("msg", "invalid").removeprefix("Value error, "),
                                  column=".".join(str(x) for x in e.get("loc", ())) or None)
                          for e in exc.errors()]) from None
    if proof.format != INCLUSION_FORMAT:
        why = (" (format 1 leaves were not domain-separated from tree nodes; ask the venue for this epoch's "
               "current proof)" if proof.format == "zksolv-inclusion/1" else "")
        raise InputError([Problem(str(path), f"unknown format {proof.format!r}: this zksolv checks "
                                             f"{INCLUSION_FORMAT}{why}", column="format")])
    return proof


def verify_inclusion(proof: InclusionProofFile, root: int, capacity: int, epoch: str | None = None,
                     expected_params_hash: int | None = None, source: str = "inclusion proof") -> InclusionResult:
    """Check the proof against a published `root` and `capacity` (and epoch and params hash when known).

    The capacity fixes the tree depth. Leaves are domain-separated from nodes
    (LEAF_TAG), so a path one level longer than the tree cannot pass through a
    dummy account whose key is the holder's leaf; the depth check is the second
    line against that attack (tests/test_attacks.py::
    test_inclusion_proof_cannot_pass_through_a_dummy_leaf).
    """
    try:
        params = parse_params(proof.params, f"{source}: params", canonical=True)
    except InputError as exc:
        return InclusionResult(False, f"wrong params: {exc}")
    result = InclusionResult(False, None, proof.account, params)
    if int(proof.root) != root:
        result.reason = f"wrong root: the proof is for root {proof.root}, expected {root}"
        return result
    if epoch is not None and proof.epoch != epoch:
        result.reason = f"wrong epoch: the proof is for {proof.epoch}, expected {epoch}"
        return result
    if proof.epoch != params.epoch:
        result.reason = "wrong epoch: the proof's epoch differs from its params' epoch"
        return result
    if expected_params_hash is not None and params_hash(params) != expected_params_hash:
        result.reason = "wrong params: they are not the published ones (params hash differs)"
        return result
    if expected_params_hash is None:
        result.warnings.append("params not checked against a publication (pass --commitment or --bundle to check them)")
    try:
        amounts = _amounts(proof.account, params)
    except ValueError as exc:
        result.reason = f"wrong account: {exc}"
        return result
    salt, leaf = int(proof.salt), int(proof.leaf)
    if max(salt, leaf, *(int(s) for s in proof.siblings)) >= FIELD_MODULUS:
        result.reason = "wrong proof: a value is not a field element"
        return result
    if leaf_hash(account_key(proof.account.account_id, salt), amounts) != leaf:
        result.reason = "wrong leaf: the account's id, salt and amounts do not hash to the leaf"
        return result
    if capacity < 2 or capacity & (capacity - 1):
        result.reason = f"wrong capacity: {capacity} is not a power of two ≥ 2"
        return result
    depth = capacity.bit_length() - 1
    if len(proof.siblings) != depth:
        result.reason = (f"wrong path: {len(proof.siblings)} siblings, but a tree of capacity {capacity} "
                         f"has depth {depth}")
        return result
    if proof.leaf_index >= capacity:
        result.reason = "wrong path: leaf index outside the capacity"
        return result
    node, index = leaf, proof.leaf_index
    for sibling in proof.siblings:
        node = poseidon([int(sibling), node] if index & 1 else [node, int(sibling)])
        index >>= 1
    if node != root:
        result.reason = "wrong path: the Merkle path does not lead to the root"
        return result
    result.valid, result.amounts = True, amounts
    return result


def _amounts(account: AccountRecord, params: RiskParams) -> tuple[int, ...]:
    amounts = []
    for kind, values, specs in (("balances", account.balances, params.assets),
                                ("positions", account.positions, params.markets)):
        unknown = set(values) - {s.symbol for s in specs}
        if unknown:
            raise ValueError(f"unknown {kind} {sorted(unknown)}")
        for spec in specs:
            try:
                # A slot missing from the file counts as 0: if the leaf holds anything else the leaf
                # hash fails, and if it is 0 the output shows the 0 (InclusionResult.shown_account).
                value = to_units(values.get(spec.symbol, "0"), spec.decimals)
            except UnitError as exc:
                raise ValueError(f"{kind}.{spec.symbol}: {exc}") from None
            if not AMOUNT_MIN <= value <= AMOUNT_MAX:
                raise ValueError(f"{kind}.{spec.symbol} outside the signed 64-bit range")
            amounts.append(value)
    return tuple(amounts)
