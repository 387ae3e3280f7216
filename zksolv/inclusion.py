"""Verify an account holder's inclusion file against a published root.

A holder's file lists every one of their accounts (the main account and each
isolated sub-account), each its own leaf with its own path and salt. For each
one this recomputes everything from what the holder can check themselves: the
account's amounts (at the params' decimals), the salt, the key, the leaf, and
the Poseidon(2) path up to the root; it also checks that the params carried in
the file are the published ones, since the decimals there decide how the
holder's balances are encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .accounts import AccountId, AccountRecord, split_leaf_values
from .commitment import INCLUSION_FORMAT, account_document, account_key, format_refusal, leaf_hash
from .errors import InputError, Problem
from .field import AMOUNT_MAX, AMOUNT_MIN, FIELD_MODULUS, FieldText
from .io import read_json
from .margin import account_equity, account_health, health_to_quote
from .params import RiskParams, params_hash, parse_params
from .poseidon import poseidon
from .units import UnitError, from_units, to_units


class SubaccountPath(BaseModel):
    """One account of a holder's inclusion file: its leaf, path and salt, and the account."""

    model_config = ConfigDict(extra="forbid", strict=True)
    leaf_index: int = Field(ge=0)
    leaf: FieldText
    siblings: list[FieldText] = Field(min_length=1, max_length=64)
    salt: FieldText
    account: AccountRecord


class InclusionProofFile(BaseModel):
    """A holder's inclusion file (`zksolv-inclusion/3`, PROTOCOL.md §4): every account of
    `account_id` (main account and sub-accounts) with its own path."""

    model_config = ConfigDict(extra="forbid", strict=True)
    format: str
    epoch: str
    root: FieldText
    account_id: AccountId
    subaccounts: list[SubaccountPath] = Field(min_length=1)
    params: dict[str, Any]


def margin_status(values: tuple[int, ...], params: RiskParams) -> dict:
    """How the proofs counted an account from its leaf values (the circuit computes the same integers
    from the same leaf): below maintenance or not, and bankrupt (negative equity) or not; for a
    portfolio-margined account the health is its worst over the scenarios (PROTOCOL.md §3.3)."""
    amounts, portfolio = split_leaf_values(values, params)
    health = account_health(amounts, params, portfolio)
    equity = account_equity(amounts, params)
    return {
        "maintenance_health": health_to_quote(health, params),
        "below_maintenance": health < 0,
        "equity": from_units(equity, params.value_scale),
        "bankrupt": equity < 0,
    }


def subaccount_name(subaccount: str) -> str:
    """How messages name one account of a holder's file."""
    return f"sub-account {subaccount!r}" if subaccount else "main account"


@dataclass
class SubaccountResult:
    """One account of the file: valid when its leaf hashes from its data and its path leads to the root."""

    subaccount: str
    valid: bool
    reason: str | None = None
    amounts: tuple[int, ...] | None = None  # every slot of the leaf, as hashed (set when valid)


@dataclass
class InclusionResult:
    valid: bool
    reason: str | None
    account_id: str | None = None
    params: RiskParams | None = None
    warnings: list[str] = field(default_factory=list)
    subaccounts: list[SubaccountResult] = field(default_factory=list)  # in file order; empty if not reached

    def shown(self, entry: SubaccountResult) -> dict | None:
        """One account as its leaf encodes it: every asset and market of the params, zeros included,
        rendered from the hashed integers (never the file's own strings, which could spell a value
        otherwise or leave a slot out), with how the proofs counted it. None unless its path is valid."""
        if not entry.valid or entry.amounts is None or self.params is None or self.account_id is None:
            return None
        return {
            **account_document(self.params, self.account_id, entry.amounts, entry.subaccount),
            **margin_status(entry.amounts, self.params),
        }

    def shown_accounts(self) -> list[dict]:
        """Every account of the file as shown (`shown`), when the whole file is valid."""
        shown = [self.shown(entry) for entry in self.subaccounts] if self.valid else []
        return [account for account in shown if account is not None]  # all of them, when valid

    def shown_account(self) -> dict | None:
        """The holder's main account as shown (without one, their first sub-account); None unless valid."""
        shown = self.shown_accounts()
        return next((a for a in shown if a["subaccount"] == ""), shown[0] if shown else None)

    def document(self) -> dict:
        """The result as JSON data (`inclusion verify --json`): each account with its own verdict, and
        its balances, positions and margin status when its path is valid."""
        return {
            "valid": self.valid,
            "reason": self.reason,
            "warnings": self.warnings,
            "account_id": self.account_id,
            "subaccounts": [
                {"subaccount": e.subaccount, "valid": e.valid, "reason": e.reason, "account": self.shown(e)}
                for e in self.subaccounts
            ],
        }


def load_inclusion_proof(path: Path | str) -> InclusionProofFile:
    """A holder's inclusion file; InputError naming the file and field when it is not one, and the
    reason when its format is a retired one (commitment.RETIRED_FORMATS)."""
    path = Path(path)
    data = read_json(path, "inclusion proof")
    # The format first: a file of another format is refused for that, not for its other fields.
    if isinstance(data, dict) and data.get("format") != INCLUSION_FORMAT:
        raise InputError(
            [
                Problem(
                    str(path), format_refusal(data.get("format"), INCLUSION_FORMAT, "inclusion proof"), column="format"
                )
            ]
        )
    try:
        return InclusionProofFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            [
                Problem(
                    str(path),
                    e.get("msg", "invalid").removeprefix("Value error, "),
                    column=".".join(str(x) for x in e.get("loc", ())) or None,
                )
                for e in exc.errors()
            ]
        ) from None


def verify_inclusion(
    proof: InclusionProofFile,
    root: int,
    capacity: int,
    epoch: str | None = None,
    expected_params_hash: int | None = None,
    source: str = "inclusion proof",
) -> InclusionResult:
    """Check the file against a published `root` and `capacity` (and epoch and params hash when known):
    the root, epoch and params once, then every account's path. Valid when every one is; otherwise
    the reason names the failing account (when the file holds more than the main account) and each
    account's own verdict is in `subaccounts`.

    The capacity fixes the tree depth. Leaves are domain-separated from nodes
    (LEAF_TAG), so a path one level longer than the tree cannot pass through a
    dummy account whose key is the holder's leaf; the depth check is the second
    line against that attack (tests/test_attacks.py::
    test_inclusion_proof_cannot_pass_through_a_dummy_leaf).
    """
    try:
        params = parse_params(proof.params, f"{source}: params", canonical=True)
    except InputError as exc:
        return InclusionResult(False, f"wrong params: {exc}", proof.account_id)
    result = InclusionResult(False, None, proof.account_id, params)
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
    if capacity < 2 or capacity & (capacity - 1):
        result.reason = f"wrong capacity: {capacity} is not a power of two ≥ 2"
        return result
    names = [entry.account.subaccount for entry in proof.subaccounts]
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:
        result.reason = f"wrong proof: the {subaccount_name(twice)} is listed twice"
        return result
    for entry in proof.subaccounts:
        reason, amounts = _check_path(entry, proof.account_id, params, root, capacity)
        result.subaccounts.append(SubaccountResult(entry.account.subaccount, reason is None, reason, amounts))
    failed = [entry for entry in result.subaccounts if not entry.valid]
    if failed:
        first = failed[0]
        named = len(result.subaccounts) > 1 or first.subaccount != ""
        reason = f"{subaccount_name(first.subaccount)}: {first.reason}" if named else f"{first.reason}"
        if len(failed) > 1:
            others = ", ".join(subaccount_name(e.subaccount) for e in failed[1:])
            reason += f" (and {len(failed) - 1} more: {others})"
        result.reason = reason
        return result
    result.valid = True
    return result


def _check_path(
    entry: SubaccountPath, account_id: str, params: RiskParams, root: int, capacity: int
) -> tuple[str | None, tuple[int, ...] | None]:
    """(None, the hashed amounts) when one account's leaf and path are right, else (why, None)."""
    if entry.account.account_id != account_id:
        return (
            f"wrong account: it is listed for account {entry.account.account_id!r} in the file of {account_id!r}"
        ), None
    try:
        amounts = _amounts(entry.account, params)
    except ValueError as exc:
        return f"wrong account: {exc}", None
    salt, leaf = int(entry.salt), int(entry.leaf)
    if max(salt, leaf, *(int(s) for s in entry.siblings)) >= FIELD_MODULUS:
        return "wrong proof: a value is not a field element", None
    if leaf_hash(account_key(account_id, salt, entry.account.subaccount), amounts) != leaf:
        return "wrong leaf: the account's id, salt and amounts do not hash to the leaf", None
    depth = capacity.bit_length() - 1
    if len(entry.siblings) != depth:
        return (
            f"wrong path: {len(entry.siblings)} siblings, but a tree of capacity {capacity} has depth {depth}"
        ), None
    if entry.leaf_index >= capacity:
        return "wrong path: leaf index outside the capacity", None
    node, index = leaf, entry.leaf_index
    for sibling in entry.siblings:
        node = poseidon([int(sibling), node] if index & 1 else [node, int(sibling)])
        index >>= 1
    if node != root:
        return "wrong path: the Merkle path does not lead to the root", None
    return None, amounts


def _amounts(account: AccountRecord, params: RiskParams) -> tuple[int, ...]:
    """The leaf values of the account as its file shows it: balances, then the positions' entry
    costs (the leaf holds −cost, PROTOCOL.md §3.4), positions, and with scenarios the margin mode."""
    if account.entry_prices or account.unrealized_pnl:
        raise ValueError("an inclusion file gives entry_costs, not entry_prices or unrealized_pnl")
    slots = [("balances", account.balances, a.symbol, a.decimals, 1) for a in params.assets if a.cost_of is None]
    slots += [("entry_costs", account.entry_costs, a.cost_of, a.decimals, -1) for a in params.assets if a.cost_of]
    slots += [("positions", account.positions, m.symbol, m.decimals, 1) for m in params.markets]
    for kind, values in (
        ("balances", account.balances),
        ("entry_costs", account.entry_costs),
        ("positions", account.positions),
    ):
        unknown = set(values) - {symbol for k, _, symbol, _, _ in slots if k == kind}
        if unknown:
            raise ValueError(f"unknown {kind} {sorted(unknown)}")
    amounts = []
    for kind, values, symbol, decimals, sign in slots:
        try:
            # A slot missing from the file counts as 0: if the leaf holds anything else the leaf
            # hash fails, and if it is 0 the output shows the 0 (InclusionResult.shown_account).
            value = sign * to_units(values.get(symbol, "0"), decimals)
        except UnitError as exc:
            raise ValueError(f"{kind}.{symbol}: {exc}") from None
        if not AMOUNT_MIN <= value <= AMOUNT_MAX:
            raise ValueError(f"{kind}.{symbol} outside the signed 64-bit range")
        amounts.append(value)
    if params.scenarios:
        amounts.append(int(account.margin_mode == "portfolio"))
    return tuple(amounts)
