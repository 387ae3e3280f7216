"""Risk parameters: the public `params.json`, validated, scaled and hashed.

The pydantic models validate the file; everything downstream works on the
plain `RiskParams` dataclass whose prices are already exact integers at the
common value scale (docs/PROTOCOL.md §2), which is what the circuit uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails

from .errors import InputError, Problem
from .field import BPS, MAX_SCENARIOS, PRICE_BITS, WEIGHT_BITS
from .io import read_json
from .oracle import PriceSource, check_derived_price, check_price, derive_price
from .poseidon import hash_chain
from .scenarios import OptionTerms, exact, option_value, scenario_value
from .timestamps import epoch_seconds
from .units import UnitError, fraction_digits, from_units, normalize, split_decimal

PARAMS_TAG = int.from_bytes(b"zksolv.params.v1", "big")
MAX_SLOTS = 15  # K + M: the accumulator hashes 2(K+M)+1 values (PROTOCOL.md §1)
MAX_BRACKETS = 32  # per market: the circuit shape packs each count − 1 into 5 bits (PROTOCOL.md §5)
NOTIONAL_BITS = 127  # every notional |s|·mark < 2^63·2^64, and every bracket floor, is below 2^127

Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Decimals = Annotated[int, Field(ge=0, le=30)]


def _derived_price(price: str | None, source: PriceSource | None, field: str, info: ValidationInfo) -> str:
    """The price of an asset or market given as a number, a source (PROTOCOL.md §2.1), or both: with
    a source the price is what the source derives; published params must write both."""
    if price is None:
        if source is None:
            raise ValueError(f"{field} is required (a decimal string, or give {field}_source)")
        if (info.context or {}).get("canonical"):
            raise ValueError(f"published params must write {field} beside {field}_source: {derive_price(source)}")
        return derive_price(source)
    check_derived_price(price, source, field)
    return price


class AssetSpec(BaseModel):
    """A collateral asset: balances may be positive (collateral) or negative (debt)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    symbol: Symbol
    decimals: Decimals
    price: str | None = Field(default=None, description="quote units per whole unit, decimal string")
    price_source: PriceSource | None = Field(default=None, description="oracle data the price is derived from")
    asset_weight_bps: int = Field(ge=0, le=BPS, description="haircut on positive balances, ≤ 10000")
    liability_weight_bps: int = Field(ge=BPS, lt=1 << WEIGHT_BITS, description="weight on debts, ≥ 10000")
    rounding: Literal["exact", "down"] = Field(
        default="exact",
        description="exact: refuse a balance with more fraction digits than decimals; down: round it toward "
        "-infinity (PROTOCOL.md §2.2), e.g. wei balances of an 18-decimal token published at fewer decimals",
    )

    _price = field_validator("price")(check_price)

    @model_validator(mode="after")
    def _price_from_source(self, info: ValidationInfo) -> AssetSpec:
        self.price = _derived_price(self.price, self.price_source, "price", info)
        return self


class BracketSpec(BaseModel):
    """One maintenance bracket: positions of notional ≥ notional_floor (quote units) need this rate."""

    model_config = ConfigDict(extra="forbid", strict=True)
    notional_floor: str = Field(description="quote units, decimal string; the first bracket's is 0")
    maintenance_margin_bps: int = Field(ge=0, le=BPS)

    _floor = field_validator("notional_floor")(check_price)


class MarketSpec(BaseModel):
    """A perpetual market: positions are signed sizes (long > 0, short < 0).

    Its maintenance rate is flat (`maintenance_margin_bps`) or tiered by notional (`brackets`,
    PROTOCOL.md §3.1), exactly one of the two."""

    model_config = ConfigDict(extra="forbid", strict=True)
    symbol: Symbol
    decimals: Decimals
    mark_price: str | None = Field(default=None, description="quote units per whole contract unit, decimal string")
    mark_price_source: PriceSource | None = Field(default=None, description="oracle data the mark is derived from")
    maintenance_margin_bps: int | None = Field(default=None, ge=0, le=BPS)
    brackets: list[BracketSpec] | None = Field(default=None, min_length=1, max_length=MAX_BRACKETS)
    entry_cost_decimals: int | None = Field(
        default=None,
        ge=0,
        le=18,
        description="accounts give each position's entry price (or cost or unrealised PnL); its cost "
        "size × entry is hashed in the leaf at these quote decimals and subtracted from equity (PROTOCOL.md §3.4)",
    )

    _price = field_validator("mark_price")(check_price)

    @model_validator(mode="after")
    def _one_rate_rule(self, info: ValidationInfo) -> MarketSpec:
        self.mark_price = _derived_price(self.mark_price, self.mark_price_source, "mark_price", info)
        if (self.maintenance_margin_bps is None) == (self.brackets is None):
            raise ValueError("give exactly one of maintenance_margin_bps (a flat rate) and brackets")
        if self.brackets is not None:
            check_brackets([(Fraction(Decimal(b.notional_floor)), b.maintenance_margin_bps) for b in self.brackets])
        return self


def _utc_timestamp(value: str, info: ValidationInfo) -> str:
    """Validator of an ISO-8601 UTC timestamp in whole seconds (zksolv.timestamps)."""
    epoch_seconds(value, info.field_name or "timestamp")
    return value


def _decimal_text(value: str, info: ValidationInfo) -> str:
    """An exact decimal string, written canonically in published params (it is hashed as written)."""
    try:
        split_decimal(value)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    if (info.context or {}).get("canonical") and value != normalize(value):
        raise ValueError(f"published params must write {info.field_name} {value!r} as {normalize(value)!r}")
    return value


def _check_relative(value: str, info: ValidationInfo) -> str:
    """A relative change as an exact decimal above −1 (a price or volatility cannot go below zero)."""
    _decimal_text(value, info)
    if Decimal(value) <= -1:
        raise ValueError(f"{info.field_name} {value!r} must be above -1 (a price or volatility cannot fall below 0)")
    return value


class ScenarioSpec(BaseModel):
    """A named price scenario (PROTOCOL.md §3.3): relative shocks to chosen assets and markets, a
    relative change of every option's implied volatility, and the fraction of the move counted."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    shocks: dict[Symbol, str] = Field(default_factory=dict, description="symbol → relative price change, e.g. -0.2")
    volatility_shock: str = Field(default="0", description="relative change of every implied volatility")
    weight: str = Field(default="1", description="fraction of the move counted, 0 < weight ≤ 1 (SPAN: 0.35)")

    _volatility = field_validator("volatility_shock")(_check_relative)

    @field_validator("shocks")
    @classmethod
    def _shocks(cls, shocks: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for symbol, shock in shocks.items():
            try:
                _check_relative(shock, info)
            except ValueError as exc:
                raise ValueError(f"{symbol}: {exc}") from None
        return shocks

    @field_validator("weight")
    @classmethod
    def _weight(cls, value: str, info: ValidationInfo) -> str:
        _decimal_text(value, info)
        if not 0 < Decimal(value) <= 1:
            raise ValueError(f"weight {value!r} must be above 0 and at most 1")
        return value


class OptionSpec(BaseModel):
    """A European option series on an asset or market (PROTOCOL.md §3.3), margined only in
    portfolio-margined accounts. `value` and `risk_array` (quote units per contract at the
    published inputs and in each scenario) are what zksolv derives; published params write them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    symbol: Symbol
    decimals: Decimals
    underlying: Symbol
    kind: Literal["call", "put"]
    strike: str = Field(description="quote units per underlying unit, decimal string, > 0")
    expiry: str = Field(description="ISO-8601 UTC timestamp")
    implied_volatility: str = Field(description="annualised, e.g. 0.55")
    interest_rate: str = Field(default="0", description="annualised, continuously compounded")
    value: str | None = None
    risk_array: list[str] | None = None

    _strike = field_validator("strike", "implied_volatility")(check_price)

    _rate = field_validator("interest_rate")(_decimal_text)

    _expiry = field_validator("expiry")(_utc_timestamp)

    @model_validator(mode="after")
    def _published(self, info: ValidationInfo) -> OptionSpec:
        if Decimal(self.strike) <= 0:
            raise ValueError("strike must be above 0")
        if (info.context or {}).get("canonical") and (self.value is None or self.risk_array is None):
            raise ValueError(
                "published params must write value and risk_array (zksolv prove writes them into the bundle)"
            )
        return self


class ParamsFile(BaseModel):
    """The public risk parameters of one epoch (`params.json`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    epoch: str = Field(description="ISO-8601 UTC timestamp, whole seconds, e.g. 2026-11-24T00:00:00Z")
    quote: str = Field(min_length=1, max_length=16)
    assets: list[AssetSpec]
    markets: list[MarketSpec]
    insurance_fund: str | None = Field(
        default=None,
        description="quote units available to cover bad debt, "
        "decimal string; verify requires bad debt ≤ insurance fund",
    )
    balanced_markets: bool = Field(
        default=False,
        description="every contract (perpetual or option) has its counterparty in the tree, house accounts "
        "included: verify requires the proved long and short open interest of each market to be equal",
    )
    options: list[OptionSpec] = Field(default_factory=list, description="option series (need scenarios)")
    scenarios: list[ScenarioSpec] = Field(default_factory=list, max_length=MAX_SCENARIOS)

    _insurance_fund = field_validator("insurance_fund")(check_price)

    _epoch = field_validator("epoch")(_utc_timestamp)

    @model_validator(mode="after")
    def _unique_symbols(self) -> ParamsFile:
        symbols = [a.symbol for a in self.assets] + [m.symbol for m in self.markets] + [o.symbol for o in self.options]
        reserved = sorted(set(symbols) & {"account_id", "subaccount", "margin_mode"})
        if reserved:
            raise ValueError(f"{', '.join(reserved)} cannot be a symbol: it names a column of the accounts file")
        dupes = sorted({s for s in symbols if symbols.count(s) > 1})
        if dupes:
            raise ValueError(f"symbols must be unique across assets and markets: {', '.join(dupes)}")
        if not 1 <= len(symbols) <= MAX_SLOTS:
            raise ValueError(f"need 1 to {MAX_SLOTS} assets + markets + options in all, got {len(symbols)}")
        return self

    @model_validator(mode="after")
    def _scenario_rules(self) -> ParamsFile:
        linear = {a.symbol for a in self.assets} | {m.symbol for m in self.markets}
        if self.options and not self.scenarios:
            raise ValueError("options need scenarios: they are margined by their risk arrays (PROTOCOL.md §3.3)")
        for option in self.options:
            if option.underlying not in linear:
                raise ValueError(f"option {option.symbol}: underlying {option.underlying!r} is no asset or market")
            if option.risk_array is not None and len(option.risk_array) != len(self.scenarios):
                raise ValueError(
                    f"option {option.symbol}: risk_array has {len(option.risk_array)} entries "
                    f"for {len(self.scenarios)} scenarios"
                )
        tiered = [m.symbol for m in self.markets if m.brackets is not None and len(m.brackets) > 1]
        if self.scenarios and tiered:
            raise ValueError(
                f"scenarios cannot be combined with maintenance brackets yet ({', '.join(tiered)}): "
                "PROTOCOL.md §3.3 says why"
            )
        names = [s.name for s in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"scenario names must be unique: {', '.join(dupes)}")
        for scenario in self.scenarios:
            unknown = sorted(set(scenario.shocks) - linear)
            if unknown:
                raise ValueError(
                    f"scenario {scenario.name!r} shocks {', '.join(unknown)}: not an asset or market "
                    "(options move with their underlying)"
                )
        return self


@dataclass(frozen=True)
class AssetParams:
    symbol: str
    decimals: int
    price: str
    scaled_price: int
    asset_weight_bps: int
    liability_weight_bps: int
    price_source: Any = None  # the published oracle data as JSON (PROTOCOL.md §2.1), hashed through meta
    rounding: str = "exact"  # "down": balances with more fraction digits are rounded toward -infinity (§2.2)
    cost_of: str | None = None  # the entry-cost slot of this market (PROTOCOL.md §3.4), not a real asset


def entry_cost_symbol(market: str) -> str:
    """The internal symbol of a market's entry-cost slot; not a valid params symbol, so it never collides."""
    return f"{market}:entry_cost"


def check_brackets(brackets: list[tuple[Fraction, int]]) -> None:
    """The bracket rule's preconditions (PROTOCOL.md §3.1), on (floor, rate) pairs: the first floor is
    0, floors strictly increase, rates never fall. The circuit proves the same (BracketSchedule)."""
    if brackets[0][0] != 0:
        raise ValueError("the first bracket's notional_floor must be 0")
    for i in range(1, len(brackets)):
        (floor_before, rate_before), (floor, rate) = brackets[i - 1], brackets[i]
        if floor <= floor_before:
            raise ValueError(f"brackets[{i}].notional_floor must be above brackets[{i - 1}]'s")
        if rate < rate_before:
            raise ValueError(f"brackets[{i}].maintenance_margin_bps must not be below brackets[{i - 1}]'s")


@dataclass(frozen=True)
class Bracket:
    """A maintenance bracket at the value scale: floor in 10^-S quote, deduction in health units
    (10^-S quote × 1/10000), recomputed from the floors and rates, never read from a file."""

    notional_floor: str
    scaled_floor: int
    maintenance_margin_bps: int
    deduction: int


@dataclass(frozen=True)
class OptionParams:
    """The published inputs of an option series and its risk array (PROTOCOL.md §3.3)."""

    underlying: str
    kind: str
    strike: str
    expiry: str
    implied_volatility: str
    interest_rate: str
    risk_array: tuple[str, ...]  # derived: quote units per contract, one per scenario


@dataclass(frozen=True)
class Scenario:
    """A scenario with its recomputed prices: one per slot, at the value scale (as `slot_prices`)."""

    name: str
    shocks: dict[str, str]
    volatility_shock: str
    weight: str
    prices: tuple[int, ...]


@dataclass(frozen=True)
class MarketParams:
    symbol: str
    decimals: int
    mark_price: str
    scaled_price: int
    brackets: tuple[Bracket, ...]  # one bracket (floor 0) for a flat rate
    mark_price_source: Any = None  # as AssetParams.price_source
    option: OptionParams | None = None  # an option series: mark_price is its value, rate 0
    entry_cost_decimals: int | None = None  # positions carry an entry cost at these quote decimals (§3.4)

    @property
    def maintenance_margin_bps(self) -> int:
        """The rate of the first bracket: the flat rate of an untiered market."""
        return self.brackets[0].maintenance_margin_bps

    @property
    def tiered(self) -> bool:
        return len(self.brackets) > 1


@dataclass(frozen=True)
class RiskParams:
    """Validated parameters with prices as integers at the common value scale."""

    epoch: str
    epoch_seconds: int
    quote: str
    value_scale: int  # values are in units of 10^-value_scale quote
    assets: tuple[AssetParams, ...]
    markets: tuple[MarketParams, ...]
    insurance_fund: str | None = None  # canonical decimal, quote units
    scenarios: tuple[Scenario, ...] = ()
    balanced_markets: bool = False  # verify requires long == short per market (PROTOCOL.md §3.5)

    @property
    def real_assets(self) -> tuple[AssetParams, ...]:
        """The collateral assets of params.json, without the markets' entry-cost slots."""
        return tuple(a for a in self.assets if a.cost_of is None)

    @property
    def entry_cost_slots(self) -> dict[str, int]:
        """Market symbol → slot index of its entry cost (PROTOCOL.md §3.4), for markets that have one."""
        return {a.cost_of: i for i, a in enumerate(self.assets) if a.cost_of is not None}

    @property
    def slot_symbols(self) -> tuple[str, ...]:
        return tuple(a.symbol for a in self.assets) + tuple(m.symbol for m in self.markets)

    @property
    def slot_decimals(self) -> tuple[int, ...]:
        return tuple(a.decimals for a in self.assets) + tuple(m.decimals for m in self.markets)

    @property
    def slot_prices(self) -> tuple[int, ...]:
        """Scaled price of every slot (asset prices, then marks), in 10^-S quote per base unit."""
        return tuple(a.scaled_price for a in self.assets) + tuple(m.scaled_price for m in self.markets)

    @property
    def n_slots(self) -> int:
        return len(self.assets) + len(self.markets)

    @property
    def unit_prices(self) -> dict[str, str]:
        """The published price of every asset and market (an option's is its value), by symbol:
        what an option's underlying is looked up in."""
        return _linear_prices(self.assets, self.markets)

    @property
    def leaf_width(self) -> int:
        """Values hashed into a leaf: every slot's amount, and with scenarios the margin mode
        (0 cross, 1 portfolio) as one more (PROTOCOL.md §4)."""
        return self.n_slots + (1 if self.scenarios else 0)

    @property
    def option_kinds(self) -> tuple[int, ...]:
        """Per market 1 for an option series (held only by portfolio accounts), else 0."""
        return tuple(int(m.option is not None) for m in self.markets)

    @property
    def tiers(self) -> tuple[int, ...]:
        """Brackets per market: a template parameter of the circuit and part of its shape."""
        return tuple(len(m.brackets) for m in self.markets)


def _validated_price(price: str | None) -> str:
    """A price of a validated spec: `_derived_price` sets it from the source when only that is given."""
    assert price is not None
    return price


def params_from_model(model: ParamsFile, source: str = "params.json") -> RiskParams:
    """Scale prices to the common value scale, rejecting any that exceed 2^64."""
    costed = [m for m in model.markets if m.entry_cost_decimals is not None]
    pairs = (
        [(a.symbol, a.decimals, _validated_price(a.price)) for a in model.assets]
        + [(m.symbol, m.decimals, _validated_price(m.mark_price)) for m in model.markets]
        + [(f"{m.symbol} entry costs", m.entry_cost_decimals or 0, "1") for m in costed]
    )
    value_scale, scale_setter = max((d + fraction_digits(p), f"{symbol} ({d} decimals)") for symbol, d, p in pairs)
    problems: list[Problem] = []
    n_slots = len(model.assets) + len(costed) + len(model.markets) + len(model.options)
    if n_slots > MAX_SLOTS:
        problems.append(
            Problem(
                source,
                f"{n_slots} slots (assets, markets' entry costs, markets, options): at most {MAX_SLOTS}",
                column="markets",
            )
        )

    def scaled(symbol: str, decimals: int, price: str, column: str) -> int:
        sign, whole, frac = split_decimal(price)
        value = int(whole + frac) * 10 ** (value_scale - decimals - len(frac))
        if value >= 1 << PRICE_BITS:
            problems.append(
                Problem(
                    source,
                    f"{symbol}: price {price} at value scale 10^-{value_scale} (set by {scale_setter}) "
                    f"is {value}, not below 2^64; declare fewer decimals for {scale_setter.split(' (')[0]} "
                    "(zksolv params suggest-decimals proposes them)",
                    column=column,
                )
            )
        return value

    assets = tuple(
        AssetParams(
            a.symbol,
            a.decimals,
            _validated_price(a.price),
            scaled(a.symbol, a.decimals, _validated_price(a.price), "price"),
            a.asset_weight_bps,
            a.liability_weight_bps,
            _source_json(a.price_source),
            a.rounding,
        )
        for a in model.assets
    ) + tuple(
        # A position's cost is a quote amount that always counts in full: price 1, both weights 10000,
        # and the leaf holds −cost, so health and equity lose exactly size × entry (PROTOCOL.md §3.4).
        AssetParams(
            entry_cost_symbol(m.symbol),
            m.entry_cost_decimals or 0,
            "1",
            10 ** (value_scale - (m.entry_cost_decimals or 0)),
            BPS,
            BPS,
            cost_of=m.symbol,
        )
        for m in costed
    )

    def brackets(market: MarketSpec) -> tuple[Bracket, ...]:
        if market.brackets is None:
            assert market.maintenance_margin_bps is not None  # MarketSpec allows exactly one rate rule
            return (Bracket("0", 0, market.maintenance_margin_bps, 0),)
        out: list[Bracket] = []
        for i, spec in enumerate(market.brackets):
            _, whole, frac = split_decimal(spec.notional_floor)
            column = f"brackets[{i}].notional_floor"
            if len(frac) > value_scale:
                problems.append(
                    Problem(
                        source,
                        f"{market.symbol}: notional_floor {spec.notional_floor} has more "
                        f"than the value scale's {value_scale} fraction digits",
                        column=column,
                    )
                )
                return ()
            floor = int(whole + frac) * 10 ** (value_scale - len(frac))
            if floor >= 1 << NOTIONAL_BITS:
                problems.append(
                    Problem(
                        source,
                        f"{market.symbol}: notional_floor {spec.notional_floor} is not "
                        f"below 2^{NOTIONAL_BITS} at value scale 10^-{value_scale}",
                        column=column,
                    )
                )
                return ()
            before = out[-1] if out else Bracket("0", 0, 0, 0)
            deduction = before.deduction + floor * (spec.maintenance_margin_bps - before.maintenance_margin_bps)
            out.append(Bracket(spec.notional_floor, floor, spec.maintenance_margin_bps, deduction))
        return tuple(out)

    markets = tuple(
        MarketParams(
            m.symbol,
            m.decimals,
            _validated_price(m.mark_price),
            scaled(m.symbol, m.decimals, _validated_price(m.mark_price), "mark_price"),
            brackets(m),
            _source_json(m.mark_price_source),
            entry_cost_decimals=m.entry_cost_decimals,
        )
        for m in model.markets
    )
    if problems:
        raise InputError(problems)
    options = _option_markets(model, source, value_scale, assets, markets)
    markets += options
    params = RiskParams(
        model.epoch,
        epoch_seconds(model.epoch),
        model.quote,
        value_scale,
        assets,
        markets,
        model.insurance_fund,
        balanced_markets=model.balanced_markets,
    )
    if not model.scenarios:
        return params
    scenarios = tuple(_scenario(model, spec, params, source) for spec in model.scenarios)
    _check_risk_arrays(model, options, scenarios, params, source)
    first = len(markets) - len(options)
    with_arrays = tuple(
        dataclasses.replace(
            market,
            option=dataclasses.replace(
                market.option,
                risk_array=tuple(
                    from_units(s.prices[len(assets) + first + j], value_scale - market.decimals) for s in scenarios
                ),
            ),
        )
        for j, market in enumerate(options)
        if market.option is not None
    )
    return dataclasses.replace(params, markets=markets[:first] + with_arrays, scenarios=scenarios)


def _option_inputs(spec: OptionSpec) -> OptionTerms:
    return OptionTerms(
        spec.kind,
        exact(spec.strike),
        epoch_seconds(spec.expiry),
        exact(spec.implied_volatility),
        exact(spec.interest_rate),
    )


def _linear_prices(assets: tuple[AssetParams, ...], markets: tuple[MarketParams, ...]) -> dict[str, str]:
    return {a.symbol: a.price for a in assets} | {m.symbol: m.mark_price for m in markets}


def _option_markets(
    model: ParamsFile,
    source: str,
    value_scale: int,
    assets: tuple[AssetParams, ...],
    markets: tuple[MarketParams, ...],
) -> tuple[MarketParams, ...]:
    """Each option series as a market whose mark is its Black–Scholes value at the published inputs
    (rate 0: its requirement is the scenarios'), the value checked against a published one."""
    underlying_price = _linear_prices(assets, markets)
    out: list[MarketParams] = []
    problems: list[Problem] = []
    for i, spec in enumerate(model.options):
        places = value_scale - spec.decimals
        if places < 0:
            problems.append(
                Problem(
                    source,
                    f"option {spec.symbol}: {spec.decimals} decimals exceed the value scale "
                    f"{value_scale} of the prices (give the contracts fewer decimals)",
                    column=f"options[{i}].decimals",
                )
            )
            continue
        terms = _option_inputs(spec)
        atoms = option_value(
            terms, exact(underlying_price[spec.underlying]), Fraction(0), epoch_seconds(model.epoch), places
        )
        value = from_units(atoms, places)
        if atoms >= 1 << PRICE_BITS:
            problems.append(
                Problem(source, f"option {spec.symbol}: value {value} is not below 2^64 atoms", column=f"options[{i}]")
            )
        if spec.value is not None and spec.value != value:
            problems.append(
                Problem(
                    source,
                    f"option {spec.symbol}: published value {spec.value} is not the Black–Scholes value "
                    f"{value} of its inputs",
                    column=f"options[{i}].value",
                )
            )
        option = OptionParams(
            spec.underlying,
            spec.kind,
            spec.strike,
            spec.expiry,
            spec.implied_volatility,
            spec.interest_rate,
            (),
        )
        out.append(MarketParams(spec.symbol, spec.decimals, value, atoms, (Bracket("0", 0, 0, 0),), None, option))
    if problems:
        raise InputError(problems)
    return tuple(out)


def _scenario(model: ParamsFile, spec: ScenarioSpec, params: RiskParams, source: str) -> Scenario:
    """Every slot's price in one scenario (PROTOCOL.md §3.3), below 2^64 or a located problem."""
    weight = exact(spec.weight)
    shock = {symbol: exact(value) for symbol, value in spec.shocks.items()}
    zero = Fraction(0)
    prices: list[int] = []
    for asset in params.assets:
        prices.append(
            scenario_value(asset.scaled_price, asset.scaled_price * (1 + shock.get(asset.symbol, zero)), weight)
        )
    underlying = {symbol: exact(price) for symbol, price in params.unit_prices.items()}
    volatility_shock = exact(spec.volatility_shock)
    for market in params.markets:
        if market.option is None:
            raw = market.scaled_price * (1 + shock.get(market.symbol, zero))
        else:
            terms = _option_inputs(next(o for o in model.options if o.symbol == market.symbol))
            spot = underlying[market.option.underlying] * (1 + shock.get(market.option.underlying, zero))
            places = params.value_scale - market.decimals
            raw = Fraction(option_value(terms, spot, volatility_shock, params.epoch_seconds, places))
        prices.append(scenario_value(market.scaled_price, raw, weight))
    too_large = [sym for sym, p in zip(params.slot_symbols, prices) if p >= 1 << PRICE_BITS]
    if too_large:
        raise InputError(
            [
                Problem(
                    source, f"scenario {spec.name!r}: the price of {sym} is not below 2^64 atoms", column="scenarios"
                )
                for sym in too_large
            ]
        )
    return Scenario(spec.name, dict(spec.shocks), spec.volatility_shock, spec.weight, tuple(prices))


def _check_risk_arrays(
    model: ParamsFile,
    options: tuple[MarketParams, ...],
    scenarios: tuple[Scenario, ...],
    params: RiskParams,
    source: str,
) -> None:
    """A published risk array must be the one zksolv derives, entry by entry, each mismatch named."""
    problems: list[Problem] = []
    first = len(params.assets) + len(params.markets) - len(options)
    for j, (spec, market) in enumerate(zip(model.options, options)):
        if spec.risk_array is None:
            continue
        places = params.value_scale - market.decimals
        for s, scenario in enumerate(scenarios):
            derived = from_units(scenario.prices[first + j], places)
            if spec.risk_array[s] != derived:
                problems.append(
                    Problem(
                        source,
                        f"option {spec.symbol}: risk_array[{s}] (scenario {scenario.name!r}) is "
                        f"{spec.risk_array[s]}, but its inputs give {derived}",
                        column=f"options[{j}].risk_array[{s}]",
                    )
                )
    if problems:
        raise InputError(problems)


def parse_params(data: Any, source: str = "params.json", canonical: bool = False) -> RiskParams:
    """Validate a parsed JSON document as params; every problem becomes a located `Problem`.

    `canonical`: also require every price to be written exactly as it is hashed ("97000.1",
    not "97000.10", "+97000.1" or "097000.1"), as zksolv writes it into bundles and inclusion
    proofs. A venue's own input may use any exact spelling."""
    try:
        model = ParamsFile.model_validate(data, context={"canonical": canonical})
    except ValidationError as exc:
        raise InputError([_pydantic_problem(source, err, data) for err in exc.errors()]) from None
    return params_from_model(model, source)


def load_params(path: Path | str) -> RiskParams:
    return parse_params(read_json(path), str(path))


def _pydantic_problem(source: str, err: ErrorDetails, data: Any) -> Problem:
    parts: list[str] = []
    for item in err.get("loc", ()):
        if isinstance(item, int):
            symbol = None
            try:
                symbol = data[parts[-1]][item].get("symbol")
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
            parts[-1] = f"{parts[-1]}[{item}]" + (f" ({symbol})" if isinstance(symbol, str) else "")
        else:
            parts.append(str(item))
    message = err.get("msg", "invalid").removeprefix("Value error, ")
    return Problem(source, message, column=".".join(parts) or None)


def params_document(params: RiskParams) -> dict:
    """The params as a JSON document (the canonical content of `params.json`)."""
    document: dict[str, Any] = {
        "epoch": params.epoch,
        "quote": params.quote,
        "assets": [_asset_document(a) for a in params.real_assets],
        "markets": [_market_document(m) for m in params.markets if m.option is None],
    }
    if params.insurance_fund is not None:
        document["insurance_fund"] = params.insurance_fund
    if params.balanced_markets:
        # Written only when set, so params without it keep their hash; in the hash (params_meta) when set,
        # so a bundle cannot drop the promise without changing params_hash.
        document["balanced_markets"] = True
    options = [_option_document(m) for m in params.markets if m.option is not None]
    if options:
        document["options"] = options
    if params.scenarios:
        document["scenarios"] = [
            {"name": s.name, "shocks": s.shocks, "volatility_shock": s.volatility_shock, "weight": s.weight}
            for s in params.scenarios
        ]
    return document


def _option_document(market: MarketParams) -> dict:
    option = market.option
    assert option is not None
    return {
        "symbol": market.symbol,
        "decimals": market.decimals,
        "underlying": option.underlying,
        "kind": option.kind,
        "strike": option.strike,
        "expiry": option.expiry,
        "implied_volatility": option.implied_volatility,
        "interest_rate": option.interest_rate,
        "value": market.mark_price,
        "risk_array": list(option.risk_array),
    }


def _source_json(source: PriceSource | None) -> Any:
    return None if source is None else source.model_dump(mode="json")


def _asset_document(asset: AssetParams) -> dict:
    document: dict[str, Any] = {
        "symbol": asset.symbol,
        "decimals": asset.decimals,
        "price": asset.price,
        "asset_weight_bps": asset.asset_weight_bps,
        "liability_weight_bps": asset.liability_weight_bps,
    }
    if asset.price_source is not None:
        document["price_source"] = asset.price_source
    if asset.rounding != "exact":
        document["rounding"] = asset.rounding
    return document


def _market_document(market: MarketParams) -> dict:
    document: dict[str, Any] = {"symbol": market.symbol, "decimals": market.decimals, "mark_price": market.mark_price}
    if market.mark_price_source is not None:
        document["mark_price_source"] = market.mark_price_source
    if market.tiered:
        document["brackets"] = [
            {"notional_floor": b.notional_floor, "maintenance_margin_bps": b.maintenance_margin_bps}
            for b in market.brackets
        ]
    else:
        document["maintenance_margin_bps"] = market.maintenance_margin_bps
    if market.entry_cost_decimals is not None:
        document["entry_cost_decimals"] = market.entry_cost_decimals
    return document


def canonical_params_json(params: RiskParams) -> bytes:
    return json.dumps(params_document(params), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def params_meta(params: RiskParams) -> int:
    """SHA-256 of the canonical params, in the field: binds symbols, decimals and quote."""
    return int.from_bytes(hashlib.sha256(canonical_params_json(params)).digest(), "big") >> 8


def params_field_elements(params: RiskParams) -> list[int]:
    """The values the circuit hashes into params_hash (PROTOCOL.md §5)."""
    assets = [a.scaled_price + (a.asset_weight_bps << 64) + (a.liability_weight_bps << 80) for a in params.assets]
    # With scenarios each market also carries its option kind at bit 78 (Params, PROTOCOL.md §5).
    kind_shift = 78 if params.scenarios else None
    markets = [
        m.scaled_price + (m.maintenance_margin_bps << 64) + ((m.option is not None) << kind_shift if kind_shift else 0)
        for m in params.markets
    ]
    brackets = [b.scaled_floor + (b.maintenance_margin_bps << NOTIONAL_BITS) for b in extra_brackets(params)]
    prices = [p for s in params.scenarios for p in s.prices]
    packed = [sum(p << (64 * t) for t, p in enumerate(prices[j : j + 3])) for j in range(0, len(prices), 3)]
    return [PARAMS_TAG, params_meta(params), params.epoch_seconds, *assets, *markets, *brackets, *packed]


def extra_brackets(params: RiskParams) -> list[Bracket]:
    """Every bracket after the first of each market, markets in order: the circuit's flattened
    bracket_floor / bracket_rate inputs (PROTOCOL.md §5)."""
    return [b for m in params.markets for b in m.brackets[1:]]


def params_hash(params: RiskParams) -> int:
    return hash_chain(params_field_elements(params))
