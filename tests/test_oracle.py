"""Oracle-derived prices: TWAP and median against independent computations, every validation
error, and the venue's CSV history located by row."""

from __future__ import annotations

import json
import statistics
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from zksolv.errors import MAX_PROBLEMS, ArgumentError, InputError
from zksolv.oracle import (
    MAX_OBSERVATIONS,
    MedianSource,
    Observation,
    PriceSource,
    apply_price_sources,
    build_median_source,
    build_twap_source,
    check_derived_price,
    derive_price,
    load_observations,
    round_half_up,
)
from zksolv.timestamps import epoch_seconds, iso_utc
from zksolv.units import normalize

from .helpers import write_csv

BASE = epoch_seconds("2026-11-24T00:00:00Z")
SOURCE = TypeAdapter(PriceSource)


def at(offset: int) -> str:
    return iso_utc(BASE + offset)


def twap_data(observations: list[tuple[int, str]], start: int, end: int, precision: int = 6) -> dict:
    return {
        "method": "twap",
        "start": at(start),
        "end": at(end),
        "precision": precision,
        "observations": [{"time": at(t), "price": p} for t, p in observations],
    }


def median_data(prices: list[str], precision: int = 6) -> dict:
    return {
        "method": "median",
        "precision": precision,
        "sources": [{"name": f"s{i}", "price": p} for i, p in enumerate(prices)],
    }


def derive(data: dict) -> str:
    return derive_price(SOURCE.validate_python(data))


def brute_force_twap(observations: list[tuple[int, str]], start: int, end: int, precision: int) -> str:
    """Average of the price at every whole second of [start, end), in 200-digit Decimal: an
    independent reading of the step function (no segments, no Fraction)."""
    with localcontext() as context:
        context.prec = 200
        total = Decimal(0)
        for second in range(start, end):
            total += Decimal([p for t, p in observations if t <= second][-1])
        average = total / (end - start)
        rounded = average.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)
    return normalize(format(rounded, "f"))


def errors_of(data: dict, **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        SOURCE.validate_python(data, **kwargs)
    return str(info.value)


# --- TWAP -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observations, start, end, precision",
    [
        ([(0, "100")], 0, 60, 2),  # one observation exactly at start
        ([(-30, "90"), (0, "100"), (20, "130")], 0, 60, 4),  # earlier observation ignored
        ([(-5, "100"), (10, "101.5"), (15, "99.25"), (59, "200")], 0, 60, 6),  # several, one in the last second
        ([(-5, "1"), (3, "2"), (7, "3")], 0, 7, 8),  # observation exactly at end ignored
        ([(-100, "42.42")], 0, 3, 0),  # window inside one observation
        ([(0, "0.000001"), (1, "0")], 0, 3, 6),
        ([(-1, "1"), (1, "2"), (2, "4")], 0, 3, 18),
    ],
)
def test_twap_matches_brute_force(observations, start, end, precision):
    assert derive(twap_data(observations, start, end, precision)) == brute_force_twap(
        observations, start, end, precision
    )


def test_twap_worked_example():
    # 100 for 10 s, 110 for 20 s, 95 for 30 s: (1000 + 2200 + 2850) / 60 = 100.8333…
    data = twap_data([(-3, "100"), (10, "110"), (30, "95"), (60, "1000000")], 0, 60, 2)
    assert derive(data) == "100.83"
    assert SOURCE.validate_python(data).observations[3].price == "1000000"  # after end: allowed, ignored


def test_twap_window_inside_one_observation_is_its_price():
    assert derive(twap_data([(-3600, "97000.1")], 0, 1, 8)) == "97000.1"


@pytest.mark.parametrize(
    "observations, end, precision, expected",
    [
        ([(0, "1"), (1, "2")], 2, 0, "2"),  # 1.5 → 2: a tie rounds up
        ([(0, "2"), (1, "3")], 2, 0, "3"),  # 2.5 → 3, not to even
        ([(0, "0.12"), (1, "0.13")], 2, 2, "0.13"),  # 0.125 → 0.13
        ([(0, "0.12"), (1, "0.129999")], 2, 2, "0.12"),  # 0.1249995 → 0.12: just below the tie
        ([(0, "1"), (1, "0")], 3, 0, "0"),  # 1/3 → 0
        ([(0, "0"), (1, "1")], 3, 1, "0.7"),  # 2/3 → 0.7
        ([(0, "1.50")], 1, 1, "1.5"),  # canonical: no trailing zero
        ([(0, "0.4")], 1, 0, "0"),
    ],
)
def test_twap_rounds_once_half_up(observations, end, precision, expected):
    assert derive(twap_data(observations, 0, end, precision)) == expected


def test_round_half_up():
    assert round_half_up(Fraction(5, 2), 0) == "3"
    assert round_half_up(Fraction(1, 2) - Fraction(1, 10**40), 0) == "0"
    assert round_half_up(Fraction(12345, 1000), 2) == "12.35"
    assert round_half_up(Fraction(0), 18) == "0"
    assert round_half_up(Fraction(10**30 + 1, 10**30), 18) == "1"


@settings(max_examples=200, deadline=None)
@given(data=st.data(), length=st.integers(1, 40), precision=st.integers(0, 9))
def test_twap_property_brute_force(data, length, precision):
    first = data.draw(st.integers(-20, 0))
    later = data.draw(st.lists(st.integers(first + 1, length + 20), unique=True, max_size=8))
    times = [first, *sorted(later)]
    prices = data.draw(
        st.lists(
            st.decimals(0, 10**6, places=6, allow_nan=False, allow_infinity=False),
            min_size=len(times),
            max_size=len(times),
        )
    )
    observations = [(t, format(p, "f")) for t, p in zip(times, prices)]
    derived = derive(twap_data(observations, 0, length, precision))
    assert derived == brute_force_twap(observations, 0, length, precision)
    held = [Decimal(p) for t, p in observations if t < length]
    assert min(held) - Decimal(1).scaleb(-precision) <= Decimal(derived) <= max(held) + Decimal(1).scaleb(-precision)


# --- median -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prices, precision, expected",
    [
        (["97000.1"], 2, "97000.1"),
        (["3", "1", "2"], 0, "2"),
        (["10", "1", "2", "1000"], 2, "6"),  # mean of 2 and 10
        (["1", "2"], 0, "2"),  # 1.5 → 2
        (["0.01", "0.02"], 2, "0.02"),  # 0.015 → 0.02
        (["1", "1.000001"], 6, "1.000001"),  # 1.0000005 → up
        (["5", "5", "0", "100", "5"], 0, "5"),
    ],
)
def test_median(prices, precision, expected):
    assert derive(median_data(prices, precision)) == expected


@settings(max_examples=200, deadline=None)
@given(
    prices=st.lists(st.decimals(0, 10**9, places=8, allow_nan=False, allow_infinity=False), min_size=1, max_size=31),
    precision=st.integers(0, 10),
)
def test_median_property(prices, precision):
    texts = [format(p, "f") for p in prices]
    exact = statistics.median(Fraction(t) for t in texts)
    expected = Decimal(exact.numerator) / Decimal(exact.denominator)  # denominator ≤ 2·10^8: exact in Decimal
    rounded = normalize(format(expected.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP), "f"))
    assert derive(median_data(texts, precision)) == rounded


# --- validation -------------------------------------------------------------------------------

GOOD_TWAP = twap_data([(-1, "1"), (5, "2")], 0, 10)


def with_(base: dict, **changes) -> dict:
    data = json.loads(json.dumps(base))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "data, fragment",
    [
        (twap_data([(-1, "1"), (5, "2"), (3, "3")], 0, 10), "observations[2].time"),
        (twap_data([(-1, "1"), (5, "2"), (5, "3")], 0, 10), "strictly increasing"),
        (twap_data([(1, "1"), (5, "2")], 0, 10), "first observation must be at or before start"),
        (twap_data([(-1, "1")], 10, 10), "must be before end"),
        (twap_data([(-1, "1")], 10, 5), "must be before end"),
        (twap_data([(-1, "-1")], 0, 10), "negative price"),
        (twap_data([(-1, "1e3")], 0, 10), "not a decimal number"),
        (twap_data([(-1, "")], 0, 10), "not a decimal number"),
        (twap_data([(-1, "1" * 101)], 0, 10), "at most 100 characters"),
        (twap_data([(-1, "9৭")], 0, 10), "not a decimal number"),
        (twap_data([], 0, 10), "at least 1 item"),
        (with_(GOOD_TWAP, start="2026-11-24T00:00:00"), "must be in UTC"),
        (with_(GOOD_TWAP, end="2026-11-24T01:00:00.5Z"), "must be whole seconds"),
        (with_(GOOD_TWAP, start="yesterday"), "not an ISO-8601 timestamp"),
        (with_(GOOD_TWAP, precision=19), "less than or equal to 18"),
        (with_(GOOD_TWAP, precision=-1), "greater than or equal to 0"),
        (with_(GOOD_TWAP, precision="2"), "valid integer"),
        (with_(GOOD_TWAP, precision=True), "valid integer"),
        (with_(GOOD_TWAP, window="1h"), "Extra inputs are not permitted"),
        (with_(GOOD_TWAP, method="vwap"), "does not match any of the expected tags"),
        (with_(GOOD_TWAP, observations=[{"time": at(-1), "price": 1}]), "valid string"),
        (with_(GOOD_TWAP, observations=[{"time": at(-1), "price": "1", "round": 7}]), "Extra inputs"),
        (with_(GOOD_TWAP, observations=[{"time": "2026-11-24T00:00:00+01:00", "price": "1"}]), "must be in UTC"),
        ({"start": at(0)}, "Unable to extract tag using discriminator 'method'"),
        (median_data([]), "at least 1 item"),
        (median_data(["1"] * 32), "at most 31 items"),
        (median_data(["1", "-2"]), "negative price"),
        (median_data(["1", "two"]), "not a decimal number"),
        (
            with_(median_data(["1", "2"]), sources=[{"name": "a", "price": "1"}, {"name": "a", "price": "2"}]),
            "source names must be unique: 'a'",
        ),
        (with_(median_data(["1"]), sources=[{"name": "", "price": "1"}]), "at least 1 character"),
        (with_(median_data(["1"]), sources=[{"name": "a\nb", "price": "1"}]), "should match pattern"),
        (with_(median_data(["1"]), observations=[]), "Extra inputs"),
    ],
)
def test_invalid_sources_are_refused(data, fragment):
    assert fragment in errors_of(data)


def test_observations_are_bounded():
    observations = [(t, "1") for t in range(MAX_OBSERVATIONS + 1)]
    assert f"at most {MAX_OBSERVATIONS} items" in errors_of(twap_data(observations, 0, 10))


def test_negative_zero_is_zero_and_canonical_context_is_honoured():
    assert derive(twap_data([(-1, "-0")], 0, 1)) == "0"
    assert SOURCE.validate_python(twap_data([(-1, "+1.50")], 0, 1)).observations[0].price == "1.5"
    assert "not in canonical form" in errors_of(twap_data([(-1, "1.50")], 0, 1), context={"canonical": True})
    assert "not in canonical form" in errors_of(median_data(["01"]), context={"canonical": True})
    SOURCE.validate_python(twap_data([(-1, "1.5")], 0, 1), context={"canonical": True})


def test_check_derived_price():
    source = SOURCE.validate_python(twap_data([(0, "1"), (1, "2")], 0, 2, 0))
    check_derived_price("2", source, "mark_price")
    check_derived_price("2.00", source, "mark_price")  # compared canonically
    check_derived_price("123", None, "price")
    with pytest.raises(ValueError, match=r"mark_price 1.5 is not what mark_price_source derives: 2 \(twap"):
        check_derived_price("1.5", source, "mark_price")


def test_a_dumped_source_validates_back_to_itself():
    for data in (twap_data([(-1, "+1.50"), (3, "2")], 0, 5, 3), median_data(["3", "1.0"], 1)):
        source = SOURCE.validate_python(data)
        dumped = source.model_dump(mode="json")
        assert SOURCE.validate_python(dumped, context={"canonical": True}) == source
        assert json.loads(json.dumps(dumped)) == dumped


# --- CSV history ------------------------------------------------------------------------------


def test_load_observations(tmp_path):
    path = write_csv(
        tmp_path / "oracle.csv",
        ["price", "symbol", "time"],
        [
            ["101", "BTC", at(10)],
            ["100.50", "BTC", at(0)],
            ["2000", "ETH-PERP", at(0)],
        ],
    )
    history = load_observations(path)
    assert history == {
        "BTC": [Observation("BTC", BASE, "100.5"), Observation("BTC", BASE + 10, "101")],
        "ETH-PERP": [Observation("ETH-PERP", BASE, "2000")],
    }


def test_load_observations_with_sources(tmp_path):
    path = tmp_path / "oracle.csv"
    path.write_text(
        f"\ufeffsymbol,source,time,price\nBTC,pyth,{at(5)},100\nBTC,chainlink,{at(5)},101\nBTC,,{at(5)},99\n"
        f"BTC,pyth,{at(0)},102\n\n",
        encoding="utf-8",
    )
    assert load_observations(path)["BTC"] == [
        Observation("BTC", BASE, "102", "pyth"),
        Observation("BTC", BASE + 5, "99"),
        Observation("BTC", BASE + 5, "101", "chainlink"),
        Observation("BTC", BASE + 5, "100", "pyth"),
    ]


def test_bad_rows_are_all_located(tmp_path):
    path = write_csv(
        tmp_path / "oracle.csv",
        ["symbol", "time", "price"],
        [
            ["BTC", at(0), "100"],  # row 2
            ["BTC", "noon", "100"],  # row 3: time
            ["BTC", at(1), "-5"],  # row 4: negative
            ["BTC", at(2), "1,5"],  # row 5: 4 cells
            ["", at(3), "abc"],  # row 6: symbol and price
            ["BTC", at(0), "101"],  # row 7: duplicate of row 2
            ["ETH", "2026-11-24T00:00:00", "1"],  # row 8: not UTC
        ],
    )
    with pytest.raises(InputError) as info:
        load_observations(path)
    lines = [str(p) for p in info.value.problems]
    assert lines == [
        f"{path}, row 3, column 'time': time 'noon' is not an ISO-8601 timestamp",
        f"{path}, row 4, column 'price': negative price '-5'",
        f"{path}, row 5: expected 3 cells, found 4",
        f"{path}, row 6, column 'symbol': symbol must be non-empty, without control characters",
        f"{path}, row 6, column 'price': not a decimal number: 'abc'",
        f"{path}, row 7, column 'time': a second observation of BTC at {at(0)} (the first is at row 2)",
        f"{path}, row 8, column 'time': time '2026-11-24T00:00:00' must be in UTC (end with Z or +00:00)",
    ]


def test_bad_source_and_long_price_cells(tmp_path):
    path = write_csv(
        tmp_path / "o.csv",
        ["symbol", "source", "time", "price"],
        [["BTC", "x" * 65, at(0), "1"], ["BTC", "a", f" {at(0)} ", "1" * 101], ["BTC", " b ", at(0), " 2 "]],
    )
    with pytest.raises(InputError) as info:
        load_observations(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, row 2, column 'source': source must be at most 64 characters, without control characters",
        f"{path}, row 3, column 'price': price has more than 100 characters",
    ]


def test_duplicate_times_are_per_series(tmp_path):
    path = write_csv(
        tmp_path / "o.csv",
        ["symbol", "source", "time", "price"],
        [["BTC", "a", at(0), "1"], ["BTC", "b", at(0), "2"], ["BTC", "a", at(0), "3"]],
    )
    with pytest.raises(InputError) as info:
        load_observations(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}, row 4, column 'time': a second observation of BTC from source 'a' at {at(0)} (the first is at row 2)"
    ]


@pytest.mark.parametrize(
    "header, fragments",
    [
        (["symbol", "time"], ["row 1, column 'price': missing column"]),
        (["symbol", "time", "price", "round"], ["row 1, column 'round': unknown column"]),
        (["symbol", "time", "price", "time"], ["row 1, column 'time': duplicate column"]),
    ],
)
def test_bad_headers(tmp_path, header, fragments):
    path = write_csv(tmp_path / "o.csv", header, [])
    with pytest.raises(InputError) as info:
        load_observations(path)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty file: expected a header row 'symbol,time,price'"),
        (b"symbol,time,price\n", "no observations"),
        (b"symbol,time,price\nBTC,\xff,1\n", "not UTF-8 text"),
        (b'symbol,time,price\nBTC,"2026,1\n', "malformed CSV"),
    ],
)
def test_unreadable_files(tmp_path, content, fragment):
    path = tmp_path / "o.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        load_observations(path)
    with pytest.raises(InputError, match="cannot read"):
        load_observations(tmp_path / "missing.csv")


def test_problems_are_capped(tmp_path):
    path = write_csv(tmp_path / "o.csv", ["symbol", "time", "price"], [["BTC", "x", "1"]] * (MAX_PROBLEMS + 5))
    with pytest.raises(InputError) as info:
        load_observations(path)
    assert len(info.value.problems) == MAX_PROBLEMS and info.value.truncated


# --- builders ---------------------------------------------------------------------------------


def series(points: list[tuple[int, str]], source: str | None = None, symbol: str = "BTC") -> list[Observation]:
    return [Observation(symbol, BASE + t, p, source) for t, p in points]


def test_build_twap_source_keeps_only_what_counts():
    history = series([(-20, "1"), (-10, "2"), (0, "3"), (5, "4"), (10, "5"), (15, "6")])
    source = build_twap_source(history, at(0), at(10), 3)
    assert [o.time for o in source.observations] == [at(0), at(5)]
    assert (source.start, source.end, source.precision) == (at(0), at(10), 3)
    assert derive_price(source) == "3.5"
    inside = build_twap_source(history, at(-5), at(1), 0)
    assert [o.price for o in inside.observations] == ["2", "3"]


@settings(max_examples=100, deadline=None)
@given(
    times=st.lists(st.integers(-50, 50), min_size=1, max_size=12, unique=True),
    prices=st.lists(st.integers(0, 10**6), min_size=12, max_size=12),
    start=st.integers(-50, 50),
    length=st.integers(1, 30),
)
def test_trimming_never_changes_the_price(times, prices, start, length):
    points = [(t, str(p)) for t, p in zip(sorted(times), prices)]
    if points[0][0] > start:
        return
    built = build_twap_source(series(points), at(start), at(start + length), 4)
    assert derive_price(built) == derive(twap_data(points, start, start + length, 4))


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda h: build_twap_source(h, at(-30), at(10), 2), InputError, "BTC: no observation at or before start"),
        (
            lambda h: build_twap_source(h + series([(3, "1")], "pyth"), at(0), at(10), 2),
            InputError,
            "observations from several sources ('', 'pyth')",
        ),
        (lambda h: build_twap_source([], at(0), at(10), 2), InputError, "no observations"),
        (lambda h: build_twap_source(h, at(10), at(10), 2), ArgumentError, "end: end"),
        (lambda h: build_twap_source(h, "soon", at(10), 2), ArgumentError, "start 'soon' is not an ISO-8601"),
        (lambda h: build_twap_source(h, at(0), at(10), 19), ArgumentError, "precision"),
        (lambda h: build_median_source(h, at(0), 2), InputError, "without a source"),
        (
            lambda h: build_median_source(series([(5, "1")], "a"), at(0), 2),
            InputError,
            "no source has an observation at or before",
        ),
        (lambda h: build_median_source([], at(0), 2), InputError, "no observations"),
        (lambda h: build_median_source(h, "noon", 2), ArgumentError, "at 'noon'"),
        (lambda h: build_median_source(h, at(0), -1), ArgumentError, "precision"),
        (
            lambda h: build_median_source([o for i in range(32) for o in series([(0, "1")], f"s{i:02}")], at(0), 2),
            InputError,
            "32 sources; a median takes at most 31",
        ),
    ],
)
def test_builder_errors(call, error, fragment):
    with pytest.raises(error) as info:
        call(series([(-10, "1"), (5, "2")]))
    assert fragment in str(info.value)


def test_build_median_source_takes_each_sources_latest():
    history = (
        series([(-10, "100"), (0, "104"), (5, "999")], "pyth")
        + series([(-3, "101")], "chainlink")
        + series([(-20, "90"), (-1, "102")], "binance")
        + series([(1, "5")], "late")
    )
    source = build_median_source(history, at(0), 2)
    assert [(s.name, s.price) for s in source.sources] == [("binance", "102"), ("chainlink", "101"), ("pyth", "104")]
    assert derive_price(source) == "102"
    assert derive_price(build_median_source(history, at(1), 1)) == "101.5"  # "late" has reported by then


def test_csv_to_params_document(tmp_path, params_dict):
    path = write_csv(
        tmp_path / "o.csv",
        ["symbol", "time", "price"],
        [
            ["BTC", at(-60), "50000"],
            ["BTC", at(30), "50001"],
            ["ETH-PERP", at(-1), "2000"],
            ["ETH-PERP", at(45), "2001.1"],
        ],
    )
    history = load_observations(path)
    sources = {symbol: build_twap_source(obs, at(0), at(60), 2, origin=str(path)) for symbol, obs in history.items()}
    document = apply_price_sources(params_dict, sources, origin=str(path))
    btc = next(a for a in document["assets"] if a["symbol"] == "BTC")
    eth = next(m for m in document["markets"] if m["symbol"] == "ETH-PERP")
    assert (btc["price"], eth["mark_price"]) == ("50000.5", "2000.28")  # 2000.275 → up
    assert btc["price_source"] == sources["BTC"].model_dump(mode="json")
    assert btc["price_source"]["observations"] == [
        {"time": at(-60), "price": "50000"},
        {"time": at(30), "price": "50001"},
    ]
    assert eth["mark_price_source"]["method"] == "twap" and "price_source" not in eth
    assert "price_source" not in params_dict["assets"][1], "the input document is not changed"
    usdc = document["assets"][0]
    assert usdc == params_dict["assets"][0]
    for entry, field in ((btc, "price"), (eth, "mark_price")):
        check_derived_price(entry[field], SOURCE.validate_python(entry[f"{field}_source"]), field)


def test_unknown_symbols_are_located(params_dict):
    source = MedianSource(method="median", precision=0, sources=[{"name": "a", "price": "1"}])
    with pytest.raises(InputError) as info:
        apply_price_sources(params_dict, {"DOGE": source, "BTC": source, "SOL-PERP": source}, origin="o.csv")
    assert [str(p) for p in info.value.problems] == [
        "o.csv, column 'symbol': 'DOGE' is not an asset or market symbol of the params",
        "o.csv, column 'symbol': 'SOL-PERP' is not an asset or market symbol of the params",
    ]
