"""Risk parameters: the public `params.json`, validated, scaled and hashed.

The pydantic models validate the file; everything downstream works on the
plain `RiskParams` dataclass whose prices are already exact integers at the
common value scale (docs/PROTOCOL.md §2), which is what the circuit uses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails

from .errors import InputError, Problem
from .field import BPS, PRICE_BITS, WEIGHT_BITS
from .io import read_json
from .oracle import PriceSource, check_derived_price, check_price, derive_price
from .poseidon import hash_chain
from .timestamps import epoch_seconds
from .units import fraction_digits, split_decimal

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

    _price = field_validator("mark_price")(check_price)

    @model_validator(mode="after")
    def _one_rate_rule(self, info: ValidationInfo) -> MarketSpec:
        self.mark_price = _derived_price(self.mark_price, self.mark_price_source, "mark_price", info)
        if (self.maintenance_margin_bps is None) == (self.brackets is None):
            raise ValueError("give exactly one of maintenance_margin_bps (a flat rate) and brackets")
        if self.brackets is not None:
            check_brackets([(Fraction(Decimal(b.notional_floor)), b.maintenance_margin_bps) for b in self.brackets])
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

    _insurance_fund = field_validator("insurance_fund")(check_price)

    @field_validator("epoch")
    @classmethod
    def _utc_epoch(cls, value: str) -> str:
        epoch_seconds(value)
        return value

    @model_validator(mode="after")
    def _unique_symbols(self) -> ParamsFile:
        symbols = [a.symbol for a in self.assets] + [m.symbol for m in self.markets]
        reserved = sorted(set(symbols) & {"account_id", "subaccount"})
        if reserved:
            raise ValueError(f"{', '.join(reserved)} cannot be a symbol: it names a column of the accounts file")
        dupes = sorted({s for s in symbols if symbols.count(s) > 1})
        if dupes:
            raise ValueError(f"symbols must be unique across assets and markets: {', '.join(dupes)}")
        if not 1 <= len(symbols) <= MAX_SLOTS:
            raise ValueError(f"need 1 to {MAX_SLOTS} assets + markets in all, got {len(symbols)}")
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
class MarketParams:
    symbol: str
    decimals: int
    mark_price: str
    scaled_price: int
    brackets: tuple[Bracket, ...]  # one bracket (floor 0) for a flat rate
    mark_price_source: Any = None  # as AssetParams.price_source

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
    def tiers(self) -> tuple[int, ...]:
        """Brackets per market: a template parameter of the circuit and part of its shape."""
        return tuple(len(m.brackets) for m in self.markets)


def _validated_price(price: str | None) -> str:
    """A price of a validated spec: `_derived_price` sets it from the source when only that is given."""
    assert price is not None
    return price


def params_from_model(model: ParamsFile, source: str = "params.json") -> RiskParams:
    """Scale prices to the common value scale, rejecting any that exceed 2^64."""
    pairs = [(a.decimals, _validated_price(a.price)) for a in model.assets] + [
        (m.decimals, _validated_price(m.mark_price)) for m in model.markets
    ]
    value_scale = max(d + fraction_digits(p) for d, p in pairs)
    problems: list[Problem] = []

    def scaled(symbol: str, decimals: int, price: str, column: str) -> int:
        sign, whole, frac = split_decimal(price)
        value = int(whole + frac) * 10 ** (value_scale - decimals - len(frac))
        if value >= 1 << PRICE_BITS:
            problems.append(
                Problem(
                    source,
                    f"{symbol}: price {price} at value scale 10^-{value_scale} "
                    f"is {value}, not below 2^64; declare fewer decimals for some asset or market",
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
        )
        for a in model.assets
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
        )
        for m in model.markets
    )
    if problems:
        raise InputError(problems)
    return RiskParams(
        model.epoch, epoch_seconds(model.epoch), model.quote, value_scale, assets, markets, model.insurance_fund
    )


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
    document = {
        "epoch": params.epoch,
        "quote": params.quote,
        "assets": [_asset_document(a) for a in params.assets],
        "markets": [_market_document(m) for m in params.markets],
    }
    if params.insurance_fund is not None:
        document["insurance_fund"] = params.insurance_fund
    return document


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
    return document


def canonical_params_json(params: RiskParams) -> bytes:
    return json.dumps(params_document(params), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def params_meta(params: RiskParams) -> int:
    """SHA-256 of the canonical params, in the field: binds symbols, decimals and quote."""
    return int.from_bytes(hashlib.sha256(canonical_params_json(params)).digest(), "big") >> 8


def params_field_elements(params: RiskParams) -> list[int]:
    """The values the circuit hashes into params_hash (PROTOCOL.md §5)."""
    assets = [a.scaled_price + (a.asset_weight_bps << 64) + (a.liability_weight_bps << 80) for a in params.assets]
    markets = [m.scaled_price + (m.maintenance_margin_bps << 64) for m in params.markets]
    brackets = [b.scaled_floor + (b.maintenance_margin_bps << NOTIONAL_BITS) for b in extra_brackets(params)]
    return [PARAMS_TAG, params_meta(params), params.epoch_seconds, *assets, *markets, *brackets]


def extra_brackets(params: RiskParams) -> list[Bracket]:
    """Every bracket after the first of each market, markets in order: the circuit's flattened
    bracket_floor / bracket_rate inputs (PROTOCOL.md §5)."""
    return [b for m in params.markets for b in m.brackets[1:]]


def params_hash(params: RiskParams) -> int:
    return hash_chain(params_field_elements(params))
