"""Which decimals fit a venue's export (`zksolv params suggest-decimals`, PROTOCOL.md §2.2).

Every amount in a leaf is a signed 64-bit count of base units, so an asset at 18 decimals (wei)
can hold at most 9.22 whole units. This scans an accounts file once, without refusing anything,
and proposes per asset and market the most decimals at which its largest amount still fits; where
that is fewer than the file's amounts use, the asset is published with `rounding: down`, and every
balance then loses less than one base unit (each total less than capacity base units).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .accounts import ID_COLUMN, decimals_that_fit
from .errors import InputError, Problem
from .io import read_json
from .params import RiskParams, params_document, parse_params
from .units import UnitError, from_units, split_decimal

MAX_DECIMALS = 30  # params' Decimals bound


@dataclass(frozen=True)
class Suggestion:
    symbol: str
    kind: str  # "asset" or "market"
    decimals: int  # in the params now
    suggested: int
    largest: str  # the largest |amount| in the file, exact
    fraction_digits: int  # the most fraction digits any amount of the file uses
    rounding: bool  # the suggestion rounds some amounts down (assets only)
    ceiling: str  # the largest amount at the suggested decimals

    def document(self) -> dict:
        return {
            "symbol": self.symbol,
            "kind": self.kind,
            "decimals": self.decimals,
            "suggested_decimals": self.suggested,
            "largest_amount": self.largest,
            "fraction_digits": self.fraction_digits,
            "rounding": "down" if self.rounding else "exact",
            "ceiling": self.ceiling,
        }


def _extents(path: Path, symbols: list[str]) -> dict[str, tuple[Decimal, int]]:
    """Per symbol the largest |amount| and the most fraction digits in an accounts file (CSV or JSON)."""
    extents = {symbol: (Decimal(0), 0) for symbol in symbols}
    source = str(path)

    def note(symbol: str, text: str, where: str) -> None:
        if not text.strip():
            return
        try:
            _, whole, frac = split_decimal(text)
        except UnitError as exc:
            raise InputError([Problem(source, str(exc), column=where)]) from None
        largest, digits = extents[symbol]
        extents[symbol] = (max(largest, Decimal(f"{whole}.{frac or 0}")), max(digits, len(frac)))

    if path.suffix.lower() == ".json":
        data: Any = read_json(path, "accounts")
        if not isinstance(data, list):
            raise InputError([Problem(source, "expected a JSON list of accounts")])
        for item in data:
            for kind in ("balances", "positions"):
                values = item.get(kind, {}) if isinstance(item, dict) else {}
                for symbol, text in values.items() if isinstance(values, dict) else ():
                    if symbol in extents and isinstance(text, str):
                        note(symbol, text, f"{kind}.{symbol}")
        return extents
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = [name.strip() for name in next(reader, [])]
            if ID_COLUMN not in header:
                raise InputError([Problem(source, f"no {ID_COLUMN} column in the header", row=1)])
            columns = [(i, name) for i, name in enumerate(header) if name in extents]
            for fields in reader:
                for i, symbol in columns:
                    if i < len(fields):
                        note(symbol, fields[i], symbol)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError([Problem(source, f"cannot read as CSV: {exc}")]) from None
    return extents


def suggest_decimals(params: RiskParams, accounts_path: Path | str) -> tuple[list[Suggestion], dict]:
    """Per asset and market the decimals to publish, and the params document with them (checked to
    parse: the prices must still fit the common value scale). InputError when a market's positions
    would need rounding (positions are never rounded) or an amount fits at no decimals at all."""
    path = Path(accounts_path)
    specs = [(a.symbol, "asset", a.decimals) for a in params.real_assets]
    specs += [(m.symbol, "market", m.decimals) for m in params.markets if m.option is None]
    extents = _extents(path, [symbol for symbol, _, _ in specs])
    suggestions, problems = [], []
    for symbol, kind, decimals in specs:
        largest, digits = extents[symbol]
        fit = decimals_that_fit(int(largest.scaleb(MAX_DECIMALS)), MAX_DECIMALS)
        suggested = min(fit, max(decimals, digits))
        if fit < 0 or (kind == "market" and suggested < digits):
            problems.append(
                Problem(
                    str(path),
                    f"{symbol}: the largest amount {largest.normalize():f} fits at {fit} decimals, but the "
                    f"file uses {digits}" + ("; positions are never rounded" if kind == "market" else ""),
                    column=symbol,
                )
            )
            continue
        suggestions.append(
            Suggestion(
                symbol,
                kind,
                decimals,
                suggested,
                f"{largest.normalize():f}",
                digits,
                digits > suggested,
                from_units((1 << 63) - 1, suggested),
            )
        )
    if problems:
        raise InputError(problems)
    document = params_document(params)
    by_symbol = {s.symbol: s for s in suggestions}
    for entry in document["assets"] + document["markets"]:
        suggestion = by_symbol[entry["symbol"]]
        entry["decimals"] = suggestion.suggested
        if suggestion.rounding:
            entry["rounding"] = "down"
    parse_params(document, "suggested params")  # the prices must fit the new value scale
    return suggestions, document
