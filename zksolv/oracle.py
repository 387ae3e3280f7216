"""Prices derived from published oracle data, so a verifier recomputes every derived price.

A price in `params.json` may carry the oracle data it was derived from: `"price_source"`
beside an asset's `price`, `"mark_price_source"` beside a market's `mark_price`. The
price must then be exactly `derive_price(source)`; the verifier recomputes it from the
published data alone (`check_derived_price`), so a venue cannot publish a mark that its
own oracle data does not give. Everything is exact: decimals are read with
`zksolv.units` into `fractions.Fraction`, never a float, and rounded once at the end.

TWAP (`{"method": "twap", "start", "end", "precision", "observations": [{"time", "price"}]}`)

* Times are ISO-8601 UTC, whole seconds (`zksolv.timestamps.epoch_seconds`); `start < end`.
* Observation times are strictly increasing, and the first is at or before `start`, so the
  price is defined at every instant of the window.
* Observation i's price holds on `[t_i, t_{i+1})` (the last one's on `[t_n, ∞)`): a step
  function, as Chainlink or Pyth rounds are read (a round's answer stands until the next).
* `TWAP = (1 / (end − start)) · Σ_i price_i · |[t_i, t_{i+1}) ∩ [start, end)|`.
  Observations that do not meet the window — before the last one at or before `start`, or
  at or after `end` — contribute zero: they are allowed and ignored, so published data may
  cover more than the window (`build_twap_source` keeps only those that count).

Median (`{"method": "median", "precision", "sources": [{"name", "price"}]}`): 1 to 31
sources with unique names; the middle price in sorted order, or for an even count the mean
of the two middle ones.

Rounding, both methods: the exact rational result is rounded once to `precision` (0..18)
fraction digits, half up (a tie goes away from zero; prices are ≥ 0, so up), and written
as `zksolv.units.normalize` writes a decimal (no trailing zeros: "97000.1", "0").

Prices are decimal strings (at most 100 characters), non-negative, with ASCII digits only;
in published (canonical) params they must be spelled canonically, as `params` requires of
its prices. Observation histories come from a venue's CSV (`load_observations`); the
builders turn one symbol's history into a source and `apply_price_sources` puts sources
and their derived prices into a params document.
"""

from __future__ import annotations

import copy
import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .errors import ArgumentError, InputError, Problem, ProblemLog
from .timestamps import epoch_seconds, iso_utc
from .units import UnitError, from_units, normalize, split_decimal

MAX_PRECISION = 18
MAX_MEDIAN_SOURCES = 31
MAX_OBSERVATIONS = 100_000  # a day of one-second rounds fits; bounds what a verifier must read
MAX_PRICE_LENGTH = 100
#: Where a source goes in a params document: (list, price field, source field).
SOURCE_FIELDS = (("assets", "price", "price_source"), ("markets", "mark_price", "mark_price_source"))
CSV_COLUMNS = ("symbol", "time", "price")
SOURCE_COLUMN = "source"

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
Precision = Annotated[int, Field(ge=0, le=MAX_PRECISION, description="fraction digits of the derived price")]
PriceText = Annotated[str, Field(max_length=MAX_PRICE_LENGTH, description="non-negative decimal string")]
SourceName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


def check_price(value: str | None, info: ValidationInfo) -> str | None:
    """Pydantic validator of a price string: exact, non-negative, canonical if the context says
    so; returns the canonical spelling (the one that is hashed). An explicit JSON null of an optional
    field is the field left out."""
    if value is None:
        return None
    try:
        sign, _, _ = split_decimal(value)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    canonical = normalize(value)
    if sign < 0 and canonical != "0":
        raise ValueError(f"negative {info.field_name} {value!r}")
    if (info.context or {}).get("canonical") and value != canonical:
        raise ValueError(
            f"{info.field_name} {value!r} is not in canonical form: published params must write it "
            f"{canonical!r}, the string that is hashed"
        )
    return canonical


def _check_timestamp(value: str, info: ValidationInfo) -> str:
    assert info.field_name is not None  # a field validator: pydantic names the field
    epoch_seconds(value, info.field_name)
    return value


class TwapObservation(BaseModel):
    """One oracle round: `price` holds from `time` until the next observation's time."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    time: str = Field(description="ISO-8601 UTC timestamp, whole seconds")
    price: PriceText

    _time = field_validator("time")(_check_timestamp)
    _price = field_validator("price")(check_price)


class TwapSource(BaseModel):
    """A time-weighted average of a step function of observations over `[start, end)`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    method: Literal["twap"]
    start: str = Field(description="ISO-8601 UTC timestamp, whole seconds: the window's first instant")
    end: str = Field(description="ISO-8601 UTC timestamp, whole seconds: the window ends just before it")
    precision: Precision
    observations: list[TwapObservation] = Field(min_length=1, max_length=MAX_OBSERVATIONS)

    _start = field_validator("start", "end")(_check_timestamp)

    @model_validator(mode="after")
    def _window_is_defined(self) -> TwapSource:
        start, end = epoch_seconds(self.start), epoch_seconds(self.end)
        if start >= end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        times = [epoch_seconds(o.time) for o in self.observations]
        for i in range(1, len(times)):
            if times[i] <= times[i - 1]:
                raise ValueError(
                    f"observations[{i}].time {self.observations[i].time} is not after "
                    f"observations[{i - 1}].time {self.observations[i - 1].time}: "
                    f"times must be strictly increasing"
                )
        if times[0] > start:
            raise ValueError(
                f"observations[0].time {self.observations[0].time} is after start {self.start}: "
                f"the first observation must be at or before start, so that the price is "
                f"defined over the whole window"
            )
        return self


class SourcePrice(BaseModel):
    """One oracle's price, named (an exchange, a feed)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    name: SourceName
    price: PriceText

    _price = field_validator("price")(check_price)


class MedianSource(BaseModel):
    """The median of 1 to 31 named prices."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    method: Literal["median"]
    precision: Precision
    sources: list[SourcePrice] = Field(min_length=1, max_length=MAX_MEDIAN_SOURCES)

    @model_validator(mode="after")
    def _unique_names(self) -> MedianSource:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {', '.join(repr(n) for n in dupes)}")
        return self


PriceSource = Annotated[TwapSource | MedianSource, Field(discriminator="method")]


def _fraction(price: str) -> Fraction:
    sign, whole, frac = split_decimal(price)
    return sign * Fraction(int(whole + frac), 10 ** len(frac))


def twap(source: TwapSource) -> Fraction:
    """The exact time-weighted average (module docstring), before rounding."""
    start, end = epoch_seconds(source.start), epoch_seconds(source.end)
    times = [epoch_seconds(o.time) for o in source.observations] + [end]
    total = Fraction(0)
    for i, observation in enumerate(source.observations):
        held = min(times[i + 1], end) - max(times[i], start)
        if held > 0:
            total += _fraction(observation.price) * held
    return total / (end - start)


def median(source: MedianSource) -> Fraction:
    """The exact median (mean of the middle two for an even count), before rounding."""
    prices = sorted(_fraction(s.price) for s in source.sources)
    middle = len(prices) // 2
    return prices[middle] if len(prices) % 2 else (prices[middle - 1] + prices[middle]) / 2


def round_half_up(value: Fraction, precision: int) -> str:
    """A non-negative rational rounded to `precision` fraction digits, ties up, as a canonical decimal."""
    scaled = value * 10**precision
    units = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)  # floor(scaled + 1/2)
    return from_units(units, precision)


def derive_price(source: TwapSource | MedianSource) -> str:
    """The canonical decimal that `source` derives: what the price beside it must be."""
    exact = twap(source) if isinstance(source, TwapSource) else median(source)
    return round_half_up(exact, source.precision)


def check_derived_price(price: str, source: TwapSource | MedianSource | None, field: str) -> None:
    """For a params model validator: a price with a source must be the price the source derives.

    `field` is the price field ("price", "mark_price"); its source is `{field}_source`."""
    if source is None:
        return
    derived = derive_price(source)
    if normalize(price) != derived:
        raise ValueError(
            f"{field} {price} is not what {field}_source derives: {derived} "
            f"({source.method}, {source.precision} fraction digits, rounded half up)"
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One row of a venue's oracle history: a price of `symbol` from `time` (Unix seconds) on."""

    symbol: str
    time: int
    price: str  # canonical decimal
    source: str | None = None  # the oracle that reported it, when the file names sources


def load_observations(path: Path | str) -> dict[str, list[Observation]]:
    """A venue's oracle history by symbol, each list in time order (then by source).

    CSV with the header `symbol,time,price` in any order, and optionally a `source` column:
    a row with a source belongs to that oracle's series, a row with an empty source to the
    symbol's unnamed series. Within a series (symbol, source) times must be unique; rows
    may come in any order. Every bad row is reported with its line number (header = 1),
    all of them (up to MAX_PROBLEMS) in one InputError."""
    source_file = str(path)
    log = ProblemLog()
    by_symbol: dict[str, list[Observation]] = {}
    seen: dict[tuple[str, str | None, int], int] = {}
    try:
        with Path(path).open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise InputError(
                    [
                        Problem(
                            source_file,
                            f"empty file: expected a header row "
                            f"'{','.join(CSV_COLUMNS)}' (and optionally '{SOURCE_COLUMN}')",
                        )
                    ]
                )
            columns = _csv_columns(source_file, header)
            for fields in reader:
                row = reader.line_num
                if len(fields) != len(header):
                    if fields and fields != [""]:
                        log.add(Problem(source_file, f"expected {len(header)} cells, found {len(fields)}", row=row))
                    continue
                observation = _observation(log, source_file, row, fields, columns)
                if observation is None:
                    continue
                key = (observation.symbol, observation.source, observation.time)
                if key in seen:
                    named = f" from source {observation.source!r}" if observation.source else ""
                    log.add(
                        Problem(
                            source_file,
                            f"a second observation of {observation.symbol}{named} at "
                            f"{iso_utc(observation.time)} (the first is at row {seen[key]})",
                            row=row,
                            column="time",
                        )
                    )
                    continue
                seen[key] = row
                by_symbol.setdefault(observation.symbol, []).append(observation)
    except UnicodeDecodeError as exc:
        log.add(Problem(source_file, f"not UTF-8 text (byte {exc.start} of a decoded chunk): {exc.reason}"))
    except csv.Error as exc:
        log.add(Problem(source_file, f"malformed CSV: {exc}"))
    except OSError as exc:
        log.add(Problem(source_file, f"cannot read: {exc.strerror or exc}"))
    if not by_symbol and not log.problems:
        log.add(Problem(source_file, "no observations: the file has a header but no rows"))
    log.raise_if_any()
    return {symbol: sorted(rows, key=lambda o: (o.time, o.source or "")) for symbol, rows in by_symbol.items()}


def _csv_columns(source_file: str, header: list[str]) -> dict[str, int]:
    problems = []
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        name = name.strip()
        if name in columns:
            problems.append(Problem(source_file, "duplicate column", row=1, column=name))
        elif name not in (*CSV_COLUMNS, SOURCE_COLUMN):
            problems.append(
                Problem(
                    source_file,
                    f"unknown column: expected {', '.join(CSV_COLUMNS)} and optionally {SOURCE_COLUMN}",
                    row=1,
                    column=name,
                )
            )
        columns[name] = index
    for name in CSV_COLUMNS:
        if name not in columns:
            problems.append(Problem(source_file, "missing column", row=1, column=name))
    if problems:
        raise InputError(problems)
    return columns


def _observation(
    log: ProblemLog, source_file: str, row: int, fields: list[str], columns: dict[str, int]
) -> Observation | None:
    """One row as an Observation, or None after logging each of its bad cells."""
    ok = True
    symbol = fields[columns["symbol"]]
    if not symbol or _CONTROL_CHARACTER.search(symbol):
        log.add(Problem(source_file, "symbol must be non-empty, without control characters", row=row, column="symbol"))
        ok = False
    time = 0
    try:
        time = epoch_seconds(fields[columns["time"]].strip(), "time")
    except ValueError as exc:
        log.add(Problem(source_file, str(exc), row=row, column="time"))
        ok = False
    text = fields[columns["price"]]
    price = ""
    try:
        if len(text) > MAX_PRICE_LENGTH:
            raise UnitError(f"price has more than {MAX_PRICE_LENGTH} characters")
        sign, _, _ = split_decimal(text)
        price = normalize(text)
        if sign < 0 and price != "0":
            raise UnitError(f"negative price {text.strip()!r}")
    except UnitError as exc:
        log.add(Problem(source_file, str(exc), row=row, column="price"))
        ok = False
    name = fields[columns[SOURCE_COLUMN]].strip() if SOURCE_COLUMN in columns else ""
    if len(name) > 64 or _CONTROL_CHARACTER.search(name):
        log.add(
            Problem(
                source_file,
                "source must be at most 64 characters, without control characters",
                row=row,
                column=SOURCE_COLUMN,
            )
        )
        ok = False
    return Observation(symbol, time, price, name or None) if ok else None


def _argument_seconds(argument: str, text: str) -> int:
    try:
        return epoch_seconds(text, argument)
    except ValueError as exc:
        raise ArgumentError(argument, str(exc)) from None


def _check_precision(precision: int) -> None:
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= MAX_PRECISION:
        raise ArgumentError("precision", f"must be an integer from 0 to {MAX_PRECISION}, got {precision!r}")


def build_twap_source(
    observations: Sequence[Observation], start: str, end: str, precision: int, *, origin: str = "observations"
) -> TwapSource:
    """The TWAP source of one symbol's series over `[start, end)`, from its whole history.

    `observations` is one symbol's list as `load_observations` returns it (time order), all
    from one series (one source name, or none). Only the observations that count are kept:
    the last at or before `start` and those strictly inside the window. `origin` names the
    history in errors (the CSV path)."""
    _check_precision(precision)
    start_s, end_s = _argument_seconds("start", start), _argument_seconds("end", end)
    if start_s >= end_s:
        raise ArgumentError("end", f"end {end} must be after start {start}")
    if not observations:
        raise InputError([Problem(origin, "no observations to average")])
    symbol = observations[0].symbol
    series = sorted({o.source or "" for o in observations})
    if len(series) > 1:
        raise InputError(
            [
                Problem(
                    origin,
                    f"{symbol}: observations from several sources "
                    f"({', '.join(repr(s) for s in series)}); a TWAP averages one series",
                    column=SOURCE_COLUMN,
                )
            ]
        )
    before = [o for o in observations if o.time <= start_s]
    if not before:
        raise InputError(
            [
                Problem(
                    origin,
                    f"{symbol}: no observation at or before start {iso_utc(start_s)} "
                    f"(the first is at {iso_utc(observations[0].time)}), so the price over the "
                    f"window is not defined",
                    column="time",
                )
            ]
        )
    kept = [before[-1], *(o for o in observations if start_s < o.time < end_s)]
    return TwapSource(
        method="twap",
        start=iso_utc(start_s),
        end=iso_utc(end_s),
        precision=precision,
        observations=[TwapObservation(time=iso_utc(o.time), price=o.price) for o in kept],
    )


def build_median_source(
    observations: Sequence[Observation], at: str, precision: int, *, origin: str = "observations"
) -> MedianSource:
    """The median source of one symbol at `at`: each source's last observation at or before `at`.

    Sources that have not reported by `at` are left out (they did not exist yet); later
    observations are ignored. Every observation must name its source."""
    _check_precision(precision)
    at_s = _argument_seconds("at", at)
    if not observations:
        raise InputError([Problem(origin, "no observations to take the median of")])
    symbol = observations[0].symbol
    unnamed = sum(1 for o in observations if o.source is None)
    if unnamed:
        raise InputError(
            [
                Problem(
                    origin,
                    f"{symbol}: {unnamed} observation(s) without a source; a median "
                    f"takes the latest price of each named source",
                    column=SOURCE_COLUMN,
                )
            ]
        )
    latest: dict[str, Observation] = {}
    for observation in observations:
        source = observation.source
        assert source is not None  # observations without a source were rejected above
        current = latest.get(source)
        if observation.time <= at_s and (current is None or observation.time > current.time):
            latest[source] = observation
    if not latest:
        raise InputError(
            [Problem(origin, f"{symbol}: no source has an observation at or before {iso_utc(at_s)}", column="time")]
        )
    if len(latest) > MAX_MEDIAN_SOURCES:
        raise InputError(
            [
                Problem(
                    origin,
                    f"{symbol}: {len(latest)} sources; a median takes at most {MAX_MEDIAN_SOURCES}",
                    column=SOURCE_COLUMN,
                )
            ]
        )
    return MedianSource(
        method="median",
        precision=precision,
        sources=[SourcePrice(name=name, price=latest[name].price) for name in sorted(latest)],
    )


def apply_price_sources(
    params_document: dict, sources: Mapping[str, TwapSource | MedianSource], *, origin: str = "price sources"
) -> dict:
    """A copy of a params document with each named symbol's source and derived price set.

    An asset gets `price_source` and `price`, a market `mark_price_source` and `mark_price`;
    other entries are unchanged. The document is one `params.parse_params` accepts (validate
    it first, and the result after). A symbol that is no asset or market is a problem of
    `origin`, where the sources came from."""
    document = copy.deepcopy(params_document)
    slots = {
        entry["symbol"]: (entry, price_field, source_field)
        for kind, price_field, source_field in SOURCE_FIELDS
        for entry in document.get(kind, [])
    }
    unknown = [
        Problem(origin, f"{symbol!r} is not an asset or market symbol of the params", column="symbol")
        for symbol in sources
        if symbol not in slots
    ]
    if unknown:
        raise InputError(unknown)
    for symbol, source in sources.items():
        entry, price_field, source_field = slots[symbol]
        entry[price_field] = derive_price(source)
        entry[source_field] = source.model_dump(mode="json")
    return document
