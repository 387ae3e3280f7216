"""The maintenance-margin reference model (docs/PROTOCOL.md §3), exact integers.

The circuit computes the same integers; `check` runs this model over every
account before any proving so an under-margined account is named with its
shortfall instead of surfacing as an unsatisfiable witness.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .accounts import Account
from .field import BPS
from .params import RiskParams
from .units import from_units


def maintenance_health(amounts: tuple[int, ...], params: RiskParams) -> int:
    """Weighted collateral minus maintenance requirement, in 10^-S quote × 1/10000.

    Positive balances count at the (haircut) asset weight, debts at the
    (penalising) liability weight; a perp position is worth s·mark and needs
    |s|·mark·mmr of maintenance margin.
    """
    health = 0
    for balance, asset in zip(amounts, params.assets):
        weight = asset.asset_weight_bps if balance >= 0 else asset.liability_weight_bps
        health += balance * asset.scaled_price * weight
    for position, market in zip(amounts[len(params.assets):], params.markets):
        health += position * market.scaled_price * BPS - abs(position) * market.scaled_price * market.maintenance_margin_bps
    return health


def health_to_quote(health: int, params: RiskParams) -> str:
    """Health integer → exact decimal string in quote units."""
    return from_units(health, params.value_scale + 4)


@dataclass
class Totals:
    """Per-asset credits/debits and per-market long/short open interest."""

    credit: list[int]
    debit: list[int]
    long: list[int]
    short: list[int]

    @classmethod
    def zero(cls, params: RiskParams) -> "Totals":
        k, m = len(params.assets), len(params.markets)
        return cls([0] * k, [0] * k, [0] * m, [0] * m)

    def add(self, amounts: tuple[int, ...]) -> None:
        k = len(self.credit)
        for i, balance in enumerate(amounts[:k]):
            if balance >= 0:
                self.credit[i] += balance
            else:
                self.debit[i] -= balance
        for i, position in enumerate(amounts[k:]):
            if position >= 0:
                self.long[i] += position
            else:
                self.short[i] -= position

    def vector(self) -> list[int]:
        """Accumulator order (PROTOCOL.md §5): credit/debit pairs, then long/short pairs."""
        out: list[int] = []
        for c, d in zip(self.credit, self.debit):
            out += [c, d]
        for lg, sh in zip(self.long, self.short):
            out += [lg, sh]
        return out

    @classmethod
    def from_vector(cls, values: list[int], params: RiskParams) -> "Totals":
        k = len(params.assets)
        pairs = [values[i:i + 2] for i in range(0, len(values), 2)]
        return cls([p[0] for p in pairs[:k]], [p[1] for p in pairs[:k]],
                   [p[0] for p in pairs[k:]], [p[1] for p in pairs[k:]])

    def net_position(self) -> list[int]:
        return [lg - sh for lg, sh in zip(self.long, self.short)]


def totals_of(accounts: Iterable[Account], params: RiskParams) -> Totals:
    totals = Totals.zero(params)
    for account in accounts:
        totals.add(account.amounts)
    return totals


@dataclass(frozen=True)
class Insolvent:
    account_id: str
    health: int

    def shortfall(self, params: RiskParams) -> str:
        """How much weighted collateral the account lacks, in quote units."""
        return health_to_quote(-self.health, params)


@dataclass
class SolvencyReport:
    """Result of checking every account against maintenance margin."""

    accounts: int = 0
    totals: Totals | None = None
    insolvent: list[Insolvent] = field(default_factory=list)
    min_health: int | None = None

    @property
    def solvent(self) -> bool:
        return not self.insolvent


def check_solvency(accounts: Iterable[Account], params: RiskParams) -> SolvencyReport:
    """Stream accounts once, accumulating totals and naming every account below maintenance."""
    report = SolvencyReport(totals=Totals.zero(params))
    for account in accounts:
        health = maintenance_health(account.amounts, params)
        report.accounts += 1
        report.totals.add(account.amounts)
        if report.min_health is None or health < report.min_health:
            report.min_health = health
        if health < 0:
            report.insolvent.append(Insolvent(account.account_id, health))
    return report
