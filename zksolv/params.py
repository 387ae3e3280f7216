"""Risk parameters: the public `params.json`, validated, scaled and hashed.

The pydantic models validate the file; everything downstream works on the
plain `RiskParams` dataclass whose prices are already exact integers at the
common value scale (docs/PROTOCOL.md §2), which is what the circuit uses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .errors import InputError, Problem
from .field import BPS, PRICE_BITS, WEIGHT_BITS
from .io import read_json
from .poseidon import hash_chain
from .units import UnitError, fraction_digits, normalize, split_decimal

PARAMS_TAG = int.from_bytes(b"zksolv.params.v1", "big")
MAX_SLOTS = 15  # K + M: the accumulator hashes 2(K+M)+1 values (PROTOCOL.md §1)

Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Decimals = Annotated[int, Field(ge=0, le=30)]


def _check_price(value: str, info: ValidationInfo) -> str:
    try:
        sign, _, _ = split_decimal(value)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    canonical = normalize(value)
    if sign < 0 and canonical != "0":
        raise ValueError(f"negative {info.field_name} {value!r}")
    # Published params (a bundle's params.json, an inclusion proof's params) must already be in the
    # form that is hashed, so that the string a reader sees is the hashed one (PROTOCOL.md §2).
    if (info.context or {}).get("canonical") and value != canonical:
        raise ValueError(f"{info.field_name} {value!r} is not in canonical form: published params must write it "
                         f"{canonical!r}, the string that is hashed")
    return canonical


class AssetSpec(BaseModel):
    """A collateral asset: balances may be positive (collateral) or negative (debt)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    symbol: Symbol
    decimals: Decimals
    price: str = Field(description="quote units per whole unit, decimal string")
    asset_weight_bps: int = Field(ge=0, le=BPS, description="haircut on positive balances, ≤ 10000")
    liability_weight_bps: int = Field(ge=BPS, lt=1 << WEIGHT_BITS, description="weight on debts, ≥ 10000")

    _price = field_validator("price")(_check_price)


class MarketSpec(BaseModel):
    """A perpetual market: positions are signed sizes (long > 0, short < 0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    symbol: Symbol
    decimals: Decimals
    mark_price: str = Field(description="quote units per whole contract unit, decimal string")
    maintenance_margin_bps: int = Field(ge=0, le=BPS)

    _price = field_validator("mark_price")(_check_price)


class ParamsFile(BaseModel):
    """The public risk parameters of one epoch (`params.json`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    epoch: str = Field(description="ISO-8601 UTC timestamp, whole seconds, e.g. 2026-11-24T00:00:00Z")
    quote: str = Field(min_length=1, max_length=16)
    assets: list[AssetSpec]
    markets: list[MarketSpec]
    insurance_fund: str | None = Field(default=None, description="quote units available to cover bad debt, "
                                       "decimal string; verify requires bad debt ≤ insurance fund")

    _insurance_fund = field_validator("insurance_fund")(_check_price)

    @field_validator("epoch")
    @classmethod
    def _utc_epoch(cls, value: str) -> str:
        epoch_seconds(value)
        return value

    @model_validator(mode="after")
    def _unique_symbols(self) -> "ParamsFile":
        symbols = [a.symbol for a in self.assets] + [m.symbol for m in self.markets]
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


@dataclass(frozen=True)
class MarketParams:
    symbol: str
    decimals: int
    mark_price: str
    scaled_price: int
    maintenance_margin_bps: int


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


def epoch_seconds(epoch: str) -> int:
    """ISO-8601 UTC timestamp → Unix seconds; rejects local times and fractions."""
    try:
        parsed = datetime.fromisoformat(epoch.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"epoch {epoch!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset().total_seconds() != 0:
        raise ValueError(f"epoch {epoch!r} must be in UTC (end with Z or +00:00)")
    if parsed.microsecond:
        raise ValueError(f"epoch {epoch!r} must be whole seconds")
    seconds = int(parsed.timestamp())
    if seconds < 0:
        raise ValueError(f"epoch {epoch!r} is before 1970")
    return seconds


def params_from_model(model: ParamsFile, source: str = "params.json") -> RiskParams:
    """Scale prices to the common value scale, rejecting any that exceed 2^64."""
    pairs = [(a.decimals, a.price) for a in model.assets] + [(m.decimals, m.mark_price) for m in model.markets]
    value_scale = max(d + fraction_digits(p) for d, p in pairs)
    problems: list[Problem] = []

    def scaled(symbol: str, decimals: int, price: str, column: str) -> int:
        sign, whole, frac = split_decimal(price)
        value = int(whole + frac) * 10 ** (value_scale - decimals - len(frac))
        if value >= 1 << PRICE_BITS:
            problems.append(Problem(source, f"{symbol}: price {price} at value scale 10^-{value_scale} "
                                    f"is {value}, not below 2^64; declare fewer decimals for some asset or market",
                                    column=column))
        return value

    assets = tuple(
        AssetParams(a.symbol, a.decimals, a.price, scaled(a.symbol, a.decimals, a.price, "price"),
                    a.asset_weight_bps, a.liability_weight_bps)
        for a in model.assets
    )
    markets = tuple(
        MarketParams(m.symbol, m.decimals, m.mark_price, scaled(m.symbol, m.decimals, m.mark_price, "mark_price"),
                     m.maintenance_margin_bps)
        for m in model.markets
    )
    if problems:
        raise InputError(problems)
    return RiskParams(model.epoch, epoch_seconds(model.epoch), model.quote, value_scale, assets, markets,
                      model.insurance_fund)


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


def _pydantic_problem(source: str, err: dict, data: Any) -> Problem:
    parts = []
    for i, item in enumerate(err.get("loc", ())):
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
        "assets": [
            {"symbol": a.symbol, "decimals": a.decimals, "price": a.price,
             "asset_weight_bps": a.asset_weight_bps, "liability_weight_bps": a.liability_weight_bps}
            for a in params.assets
        ],
        "markets": [
            {"symbol": m.symbol, "decimals": m.decimals, "mark_price": m.mark_price,
             "maintenance_margin_bps": m.maintenance_margin_bps}
            for m in params.markets
        ],
    }
    if params.insurance_fund is not None:
        document["insurance_fund"] = params.insurance_fund
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
    return [PARAMS_TAG, params_meta(params), params.epoch_seconds, *assets, *markets]


def params_hash(params: RiskParams) -> int:
    return hash_chain(params_field_elements(params))
