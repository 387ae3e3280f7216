"""The maintenance-margin reference model (docs/PROTOCOL.md §3), exact integers.

The circuit computes the same integers; `check` runs this model over every
account before any proving so an under-margined account is named with its
shortfall instead of surfacing as an unsatisfiable witness.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from . import options
from .accounts import Account, account_label
from .field import BPS
from .params import MarketParams, RiskParams
from .timestamps import epoch_seconds
from .units import from_units


def maintenance_health(amounts: tuple[int, ...], params: RiskParams) -> int:
    """Weighted collateral minus maintenance requirement, in 10^-S quote × 1/10000.

    Positive balances count at the (haircut) asset weight, debts at the
    (penalising) liability weight; a perp position is worth s·mark and needs the
    maintenance margin of its notional |s|·mark (`maintenance_margin`).
    """
    health = 0
    for balance, asset in zip(amounts, params.assets):
        weight = asset.asset_weight_bps if balance >= 0 else asset.liability_weight_bps
        health += balance * asset.scaled_price * weight
    for position, market in zip(amounts[len(params.assets) :], params.markets):
        health += position * market.scaled_price * BPS - maintenance_margin(abs(position) * market.scaled_price, market)
    return health


def maintenance_margin(notional: int, market: MarketParams) -> int:
    """The maintenance margin of a position of `notional` (10^-S quote), in health units (PROTOCOL.md §3.1):
    N·rate_t − deduction_t for the bracket t with floor_t ≤ N < floor_{t+1}; N·mmr for a flat market."""
    bracket = market.brackets[0]
    for candidate in market.brackets[1:]:
        if notional < candidate.scaled_floor:
            break
        bracket = candidate
    return notional * bracket.maintenance_margin_bps - bracket.deduction


def account_equity(amounts: tuple[int, ...], params: RiskParams) -> int:
    """Unweighted account value at the published prices, in 10^-S quote: Σ b·P + Σ s·mark.

    Negative equity is bad debt: what the account owes beyond everything it holds, which the venue
    (its insurance fund) must cover once the account is liquidated. Perp PnL is settled in the quote
    balance (PROTOCOL.md §3), so a position is worth s·mark.
    """
    return scenario_equity(amounts, params.slot_prices)


def scenario_health(amounts: tuple[int, ...], params: RiskParams, prices: tuple[int, ...], portfolio: bool) -> int:
    """Health at one price vector (PROTOCOL.md §3.3), in health units: collateral at its weight,
    positions at full value, and for a cross-margined account the flat rate of every position's
    notional at these prices (scenario shapes have no brackets). Options are worth q·V."""
    k = len(params.assets)
    health = 0
    for balance, asset, price in zip(amounts, params.assets, prices):
        weight = asset.asset_weight_bps if balance >= 0 else asset.liability_weight_bps
        health += balance * price * weight
    for position, market, price in zip(amounts[k:], params.markets, prices[k:]):
        health += position * price * BPS
        if not portfolio:
            health -= abs(position) * price * market.maintenance_margin_bps
    return health


def scenario_equity(amounts: tuple[int, ...], prices: tuple[int, ...]) -> int:
    """Unweighted value at one price vector, 10^-S quote (negative: bad debt)."""
    return sum(amount * price for amount, price in zip(amounts, prices))


def account_health(amounts: tuple[int, ...], params: RiskParams, portfolio: bool = False) -> int:
    """The health the claim is about (PROTOCOL.md §3, §3.3): a cross-margined account's maintenance
    health; a portfolio-margined one's worst health over the published prices and every scenario
    (its requirement is its largest scenario loss)."""
    if not portfolio:
        return maintenance_health(amounts, params)
    return min(
        scenario_health(amounts, params, prices, True)
        for prices in (params.slot_prices, *(s.prices for s in params.scenarios))
    )


def option_greeks(params: RiskParams) -> list[dict]:
    """Per option series its value and Black–Scholes delta and gamma at the published inputs (per
    contract on one unit of the underlying): the venue's own risk view in `check --json`, not proved."""
    out = []
    underlying = params.unit_prices
    for market in params.markets:
        option = market.option
        if option is None:
            continue
        greeks = options.greeks(
            option.kind,
            Fraction(Decimal(underlying[option.underlying])),
            Fraction(Decimal(option.strike)),
            options.years_to_expiry(params.epoch_seconds, epoch_seconds(option.expiry)),
            Fraction(Decimal(option.implied_volatility)),
            Fraction(Decimal(option.interest_rate)),
        )
        out.append({"symbol": market.symbol, "value": market.mark_price, "delta": greeks.delta, "gamma": greeks.gamma})
    return out


def health_to_quote(health: int, params: RiskParams) -> str:
    """Health integer → exact decimal string in quote units."""
    return from_units(health, params.value_scale + 4)


@dataclass
class Liquidations:
    """The liquidation figures of a snapshot (PROTOCOL.md §3), proved over all accounts.

    shortfall is in health units (10^-S quote × 1/10000), bad_debt in 10^-S quote.
    """

    accounts_below_maintenance: int = 0
    shortfall: int = 0  # Σ max(−health, 0)
    bankrupt_accounts: int = 0
    bad_debt: int = 0  # Σ max(−equity, 0)

    def add(self, health: int, equity: int) -> None:
        if health < 0:
            self.accounts_below_maintenance += 1
            self.shortfall -= health
        if equity < 0:
            self.bankrupt_accounts += 1
            self.bad_debt -= equity

    def vector(self) -> list[int]:
        return [self.accounts_below_maintenance, self.shortfall, self.bankrupt_accounts, self.bad_debt]


def stress_figures(amounts: tuple[int, ...], params: RiskParams, portfolio: bool) -> list[tuple[int, int]]:
    """(health, equity) of one account in every scenario, for the stress report (PROTOCOL.md §3.3)."""
    return [
        (scenario_health(amounts, params, s.prices, portfolio), scenario_equity(amounts, s.prices))
        for s in params.scenarios
    ]


def shortfall_to_quote(shortfall: int, params: RiskParams) -> str:
    return health_to_quote(shortfall, params)


def bad_debt_to_quote(bad_debt: int, params: RiskParams) -> str:
    return from_units(bad_debt, params.value_scale)


def insurance_fund_covers(bad_debt: int, params: RiskParams) -> bool | None:
    """bad_debt (10^-S quote) ≤ the published insurance fund, exactly; None without a fund (then any
    bad debt is uncovered: see `covered`)."""
    if params.insurance_fund is None:
        return None
    return Fraction(bad_debt, 10**params.value_scale) <= Fraction(Decimal(params.insurance_fund))


def covered(liquidations: Liquidations, params: RiskParams) -> bool:
    """The claim's coverage condition: no bad debt, or bad debt within the insurance fund."""
    return liquidations.bad_debt == 0 or bool(insurance_fund_covers(liquidations.bad_debt, params))


def uncovered_amount(liquidations: Liquidations, params: RiskParams) -> str:
    """How much bad debt exceeds the insurance fund, as an exact decimal in quote units."""
    fund = Fraction(Decimal(params.insurance_fund or "0"))
    excess = Fraction(liquidations.bad_debt, 10**params.value_scale) - fund
    return _fraction_to_decimal(max(excess, Fraction(0)))


def _fraction_to_decimal(value: Fraction) -> str:
    # Both sides have finite decimal expansions (denominators are powers of ten).
    scale = 0
    while (value * 10**scale).denominator != 1:
        scale += 1
    return from_units(int(value * 10**scale), scale)


@dataclass
class Totals:
    """Per-asset credits/debits, per-market long/short open interest, and the liquidation figures."""

    credit: list[int]
    debit: list[int]
    long: list[int]
    short: list[int]
    liquidations: Liquidations = field(default_factory=Liquidations)
    stress: list[Liquidations] = field(default_factory=list)  # the liquidation figures per scenario

    @classmethod
    def zero(cls, params: RiskParams) -> Totals:
        k, m = len(params.assets), len(params.markets)
        return cls([0] * k, [0] * k, [0] * m, [0] * m, stress=[Liquidations() for _ in params.scenarios])

    def add(
        self, amounts: tuple[int, ...], params: RiskParams, portfolio: bool = False
    ) -> tuple[int, int, list[tuple[int, int]]]:
        """Count one account in; returns its (health, equity) at the published prices and its
        (health, equity) in every scenario."""
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
        health, equity = account_health(amounts, params, portfolio), account_equity(amounts, params)
        self.liquidations.add(health, equity)
        in_scenarios = stress_figures(amounts, params, portfolio)
        for figures, (scenario_h, scenario_e) in zip(self.stress, in_scenarios):
            figures.add(scenario_h, scenario_e)
        return health, equity, in_scenarios

    def vector(self) -> list[int]:
        """Accumulator order (PROTOCOL.md §5): credit/debit pairs, long/short pairs, then the
        liquidation figures."""
        out: list[int] = []
        for c, d in zip(self.credit, self.debit):
            out += [c, d]
        for lg, sh in zip(self.long, self.short):
            out += [lg, sh]
        out += self.liquidations.vector()
        for figures in self.stress:
            out += figures.vector()
        return out

    @classmethod
    def from_vector(cls, values: list[int], params: RiskParams) -> Totals:
        k, n = len(params.assets), params.n_slots
        pairs = [values[i : i + 2] for i in range(0, 2 * n, 2)]
        return cls(
            [p[0] for p in pairs[:k]],
            [p[1] for p in pairs[:k]],
            [p[0] for p in pairs[k:]],
            [p[1] for p in pairs[k:]],
            Liquidations(*values[2 * n : 2 * n + 4]),
            [Liquidations(*values[j : j + 4]) for j in range(2 * n + 4, len(values), 4)],
        )

    def net_position(self) -> list[int]:
        return [lg - sh for lg, sh in zip(self.long, self.short)]


def unbalanced_markets(totals: Totals, params: RiskParams) -> list[dict]:
    """Under `balanced_markets` (PROTOCOL.md §3.5), each market whose long and short open interest
    differ, with both in contract units: a position whose counterparty is missing from the tree.
    Empty when the params make no such promise."""
    if not params.balanced_markets:
        return []
    return [
        {"market": m.symbol, "long": from_units(lg, m.decimals), "short": from_units(sh, m.decimals)}
        for m, lg, sh in zip(params.markets, totals.long, totals.short)
        if lg != sh
    ]


def unbalanced_text(rows: list[dict]) -> str:
    return "; ".join(f"{r['market']}: long {r['long']}, short {r['short']}" for r in rows)


def totals_vector_length(params: RiskParams) -> int:
    return 2 * params.n_slots + 4 + 4 * len(params.scenarios)


def totals_of(accounts: Iterable[Account], params: RiskParams) -> Totals:
    totals = Totals.zero(params)
    for account in accounts:
        totals.add(account.amounts, params, account.portfolio)
    return totals


@dataclass(frozen=True)
class Insolvent:
    """An account below maintenance (health < 0); bankrupt when its equity is negative too. A
    sub-account is counted on its own (`subaccount`; "" is the holder's main account)."""

    account_id: str
    health: int
    equity: int
    subaccount: str = ""

    @property
    def label(self) -> str:
        """`alice` or `alice/isolated-btc`, for messages (reports give the two fields apart)."""
        return account_label(self.account_id, self.subaccount)

    def shortfall(self, params: RiskParams) -> str:
        """How much weighted collateral the account lacks, in quote units."""
        return health_to_quote(-self.health, params)

    @property
    def bankrupt(self) -> bool:
        return self.equity < 0

    def bad_debt(self, params: RiskParams) -> str:
        return bad_debt_to_quote(max(-self.equity, 0), params)


@dataclass
class SolvencyReport:
    """Result of checking every account against maintenance margin."""

    totals: Totals
    accounts: int = 0
    insolvent: list[Insolvent] = field(default_factory=list)
    stress_failures: list[StressFailure] = field(default_factory=list)  # capped at MAX_STRESS_FAILURES

    @property
    def solvent(self) -> bool:
        """The strict claim: every account at or above maintenance."""
        return not self.insolvent

    def add(self, account: Account, params: RiskParams) -> None:
        """Count one account in, naming it if it is below maintenance (health < 0 ⇒ counted;
        equity < 0 ⇒ bankrupt, since health ≤ 10000·equity) and, up to MAX_STRESS_FAILURES, the
        scenarios it fails."""
        self.accounts += 1
        health, equity, in_scenarios = self.totals.add(account.amounts, params, account.portfolio)
        if health < 0:
            self.insolvent.append(Insolvent(account.account_id, health, equity, account.subaccount))
        for scenario, (scenario_h, scenario_e) in zip(params.scenarios, in_scenarios):
            if scenario_h < 0 and len(self.stress_failures) < MAX_STRESS_FAILURES:
                self.stress_failures.append(
                    StressFailure(account.account_id, account.subaccount, scenario.name, scenario_h, scenario_e)
                )

    def counting(self, accounts: Iterable[Account], params: RiskParams) -> Iterator[Account]:
        """`accounts`, passed through and counted in as they go: one pass feeds this report and
        another consumer (the commitment, in `prove`)."""
        for account in accounts:
            self.add(account, params)
            yield account


MAX_STRESS_FAILURES = 1000  # named in `check`; the stress figures themselves count every account


@dataclass(frozen=True)
class StressFailure:
    """An account below maintenance in a scenario (its health there is negative)."""

    account_id: str
    subaccount: str
    scenario: str
    health: int
    equity: int


def check_solvency(accounts: Iterable[Account], params: RiskParams) -> SolvencyReport:
    """Stream accounts once, accumulating totals and the liquidation figures and naming every account
    below maintenance (health < 0 ⇒ counted; equity < 0 ⇒ bankrupt, since health ≤ 10000·equity)."""
    report = SolvencyReport(totals=Totals.zero(params))
    for account in accounts:
        report.add(account, params)
    return report
