"""Option valuation (zksolv/options.py) against textbook values, an independent float model and the SPAN order.

The float model below shares no code with zksolv.options (math.erfc instead of mpmath), so agreement to
1e-9 relative checks the formula, not just that the implementation agrees with itself.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from itertools import product

import mpmath
import pytest

from zksolv.options import (
    SECONDS_PER_YEAR,
    Greeks,
    black_scholes_atoms,
    fraction_to_decimal,
    greeks,
    span_scan_scenarios,
    years_to_expiry,
)

F = Fraction

# (S, K, T, σ, r): at the money, deep in and out of the money, a day to two years, 5% to 100% volatility,
# zero and negative rates.
GRID = list(
    product(
        [F(100)],
        [F(20), F(80), F(100), F(125), F(400)],
        [F(1, 365), F(1, 4), F(2)],
        [F(5, 100), F(3, 10), F(1)],
        [F(0), F(5, 100), F(-1, 100)],
    )
)
# Where finite differences of the float model are accurate (no day-to-expiry spike at the money).
GREEK_GRID = [case for case in GRID if case[2] >= F(1, 4)]
FIXED_10 = re.compile(r"-?[0-9]+\.[0-9]{10}")


def float_normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def float_black_scholes(kind: str, s: float, k: float, t: float, sigma: float, r: float) -> float:
    d1 = (math.log(s / k) + (r + sigma * sigma / 2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    if kind == "call":
        return s * float_normal_cdf(d1) - k * math.exp(-r * t) * float_normal_cdf(d2)
    return k * math.exp(-r * t) * float_normal_cdf(-d2) - s * float_normal_cdf(-d1)


def test_hulls_textbook_example():
    # Hull, Options, Futures and Other Derivatives, Example 15.6: c = 4.76, p = 0.81.
    args = (F(42), F(40), F(1, 2), F(2, 10), F(1, 10))
    assert black_scholes_atoms("call", *args, places=2) == 476
    assert black_scholes_atoms("put", *args, places=2) == 81


@pytest.mark.parametrize("kind", ["call", "put"])
def test_agrees_with_an_independent_float_model(kind):
    for s, k, t, sigma, r in GRID:
        expected = float_black_scholes(kind, float(s), float(k), float(t), float(sigma), float(r))
        atoms = black_scholes_atoms(kind, s, k, t, sigma, r, places=6)
        assert abs(atoms / 1e6 - expected) <= 1e-6 + 1e-9 * expected, (kind, s, k, t, sigma, r)


def test_put_call_parity():
    for s, k, t, sigma, r in GRID:
        call = black_scholes_atoms("call", s, k, t, sigma, r, places=8)
        put = black_scholes_atoms("put", s, k, t, sigma, r, places=8)
        forward = (float(s) - float(k) * math.exp(-float(r) * float(t))) * 1e8
        assert abs(call - put - forward) <= 1, (s, k, t, sigma, r)


def test_deterministic_and_independent_of_the_global_precision():
    args = ("call", F(42), F(40), F(1, 2), F(2, 10), F(1, 10))
    reference = black_scholes_atoms(*args, places=30)
    reference_greeks = greeks(*args)
    assert black_scholes_atoms(*args, places=30) == reference
    saved = mpmath.mp.dps
    try:
        for dps in (15, 100):
            mpmath.mp.dps = dps
            assert black_scholes_atoms(*args, places=30) == reference
            assert greeks(*args) == reference_greeks
            assert mpmath.mp.dps == dps, "the caller's precision was changed"
    finally:
        mpmath.mp.dps = saved


def test_years_to_expiry_is_exact_act_365_and_never_negative():
    assert SECONDS_PER_YEAR == 31_536_000
    assert years_to_expiry(1_000, 1_000 + 30 * 86400) == F(30, 365)
    assert years_to_expiry(5_000, 1_000) == 0


def test_expiry_is_intrinsic_value_exactly():
    # At T = 0 volatility and rate no longer matter.
    for sigma, r in [(F(3, 10), F(1, 10)), (F(0), F(-1, 100))]:
        assert black_scholes_atoms("call", F(42), F(40), F(0), sigma, r, places=6) == 2_000_000
        assert black_scholes_atoms("put", F(42), F(40), F(0), sigma, r, places=6) == 0
        assert black_scholes_atoms("put", F(3725, 100), F(40), F(0), sigma, r, places=6) == 2_750_000
        assert black_scholes_atoms("call", F(3725, 100), F(40), F(0), sigma, r, places=6) == 0


def test_zero_volatility_is_discounted_forward_intrinsic_value():
    s, k, t, r = F(39), F(40), F(1, 2), F(1, 10)
    discounted_strike = 40 * math.exp(-0.05)  # 38.049..., below the spot although the strike is above it
    assert black_scholes_atoms("call", s, k, t, F(0), r, places=6) == round((39 - discounted_strike) * 1e6)
    assert black_scholes_atoms("put", s, k, t, F(0), r, places=6) == 0
    assert black_scholes_atoms("put", F(37), k, t, F(0), r, places=6) == round((discounted_strike - 37) * 1e6)
    # The limit of the formula: a tiny volatility gives the same value.
    assert black_scholes_atoms("call", s, k, t, F(1, 10**9), r, places=6) == black_scholes_atoms(
        "call", s, k, t, F(0), r, places=6
    )
    # Without discounting it is exact, as at expiry.
    assert black_scholes_atoms("call", F(4001, 100), k, t, F(0), F(0), places=2) == 1


def test_zero_spot():
    k, t, sigma, r = F(40), F(1, 2), F(2, 10), F(1, 10)
    assert black_scholes_atoms("call", F(0), k, t, sigma, r, places=6) == 0
    assert black_scholes_atoms("put", F(0), k, t, sigma, r, places=6) == round(40 * math.exp(-0.05) * 1e6)


def test_ties_round_half_up():
    # S − K = 0.005 is 0.5 atoms at places=2: exactly on a tie, which goes up; 0.015 is 1.5 atoms → 2.
    assert black_scholes_atoms("call", F(40005, 1000), F(40), F(0), F(2, 10), F(1, 10), places=2) == 1
    assert black_scholes_atoms("call", F(40015, 1000), F(40), F(0), F(2, 10), F(1, 10), places=2) == 2
    assert black_scholes_atoms("put", F(39995, 1000), F(40), F(0), F(2, 10), F(1, 10), places=2) == 1
    # Just below a tie goes down.
    assert black_scholes_atoms("call", F(400049, 10000), F(40), F(0), F(2, 10), F(1, 10), places=2) == 0


@pytest.mark.parametrize(
    "kind, spot, strike, years, volatility, places",
    [
        ("straddle", F(42), F(40), F(1, 2), F(2, 10), 2),
        ("Call", F(42), F(40), F(1, 2), F(2, 10), 2),
        ("call", F(-1), F(40), F(1, 2), F(2, 10), 2),
        ("put", F(42), F(-40), F(1, 2), F(2, 10), 2),
        ("put", F(42), F(0), F(1, 2), F(2, 10), 2),
        ("call", F(42), F(40), F(-1, 2), F(2, 10), 2),
        ("call", F(42), F(40), F(1, 2), F(-2, 10), 2),
        ("call", F(42), F(40), F(1, 2), F(2, 10), -1),
    ],
)
def test_invalid_inputs_raise(kind, spot, strike, years, volatility, places):
    with pytest.raises(ValueError):
        black_scholes_atoms(kind, spot, strike, years, volatility, F(1, 10), places)
    if places >= 0:
        with pytest.raises(ValueError):
            greeks(kind, spot, strike, years, volatility, F(1, 10))


def test_call_delta_minus_put_delta_is_one():
    for case in GRID:
        call, put = greeks("call", *case), greeks("put", *case)
        assert abs(Decimal(call.delta) - Decimal(put.delta) - 1) <= Decimal("1e-10"), case
        assert call.gamma == put.gamma, case


@pytest.mark.parametrize("kind", ["call", "put"])
def test_greeks_match_finite_differences_of_the_float_model(kind):
    for s, k, t, sigma, r in GREEK_GRID:
        h = float(s) * 1e-4

        def value(spot, k=k, t=t, sigma=sigma, r=r):
            return float_black_scholes(kind, spot, float(k), float(t), float(sigma), float(r))

        up, mid, down = value(float(s) + h), value(float(s)), value(float(s) - h)
        result = greeks(kind, s, k, t, sigma, r)
        assert abs(float(result.delta) - (up - down) / (2 * h)) <= 1e-5, (kind, s, k, t, sigma, r)
        assert abs(float(result.gamma) - (up - 2 * mid + down) / h**2) <= 1e-5, (kind, s, k, t, sigma, r)


def test_greeks_are_fixed_point_with_ten_fraction_digits():
    for case in GRID:
        for kind in ("call", "put"):
            result = greeks(kind, *case)
            assert FIXED_10.fullmatch(result.delta) and FIXED_10.fullmatch(result.gamma), (kind, case, result)
    # Deep out of the money: tiny values stay fixed-point (no "1e-12"), and round to zero without a "-0".
    assert greeks("put", F(100), F(20), F(1, 4), F(1, 10), F(0)) == Greeks("0.0000000000", "0.0000000000")
    assert greeks("call", F(100), F(400), F(1, 4), F(1, 10), F(0)) == Greeks("0.0000000000", "0.0000000000")


def test_greeks_in_degenerate_cases_are_the_slope_of_the_intrinsic_value():
    zero = "0.0000000000"
    assert greeks("call", F(42), F(40), F(0), F(2, 10), F(1, 10)) == Greeks("1.0000000000", zero)
    assert greeks("put", F(42), F(40), F(0), F(2, 10), F(1, 10)) == Greeks(zero, zero)
    assert greeks("put", F(38), F(40), F(0), F(2, 10), F(1, 10)) == Greeks("-1.0000000000", zero)
    # σ = 0: the spot is compared with the discounted strike 38.05, not with 40.
    assert greeks("call", F(39), F(40), F(1, 2), F(0), F(1, 10)) == Greeks("1.0000000000", zero)
    assert greeks("put", F(39), F(40), F(1, 2), F(0), F(1, 10)) == Greeks(zero, zero)
    assert greeks("put", F(38), F(40), F(1, 2), F(0), F(1, 10)) == Greeks("-1.0000000000", zero)
    # At the money at expiry: the slope at the kink is 0 for both.
    assert greeks("call", F(40), F(40), F(0), F(2, 10), F(0)) == Greeks(zero, zero)
    assert greeks("put", F(40), F(40), F(0), F(2, 10), F(0)) == Greeks(zero, zero)
    assert greeks("call", F(0), F(40), F(1, 2), F(2, 10), F(1, 10)) == Greeks(zero, zero)
    assert greeks("put", F(0), F(40), F(1, 2), F(2, 10), F(1, 10)) == Greeks("-1.0000000000", zero)


SYMBOLS = ["BTC", "BTC-C-60000", "BTC-P-40000"]


def test_span_scenarios_follow_cmes_order():
    scenarios = span_scan_scenarios("BTC", SYMBOLS, F(3, 20), F(1, 4))
    assert len(scenarios) == 16
    assert [s["name"] for s in scenarios] == [
        "BTC price unchanged vol up",
        "BTC price unchanged vol down",
        "BTC price +1/3 vol up",
        "BTC price +1/3 vol down",
        "BTC price -1/3 vol up",
        "BTC price -1/3 vol down",
        "BTC price +2/3 vol up",
        "BTC price +2/3 vol down",
        "BTC price -2/3 vol up",
        "BTC price -2/3 vol down",
        "BTC price +3/3 vol up",
        "BTC price +3/3 vol down",
        "BTC price -3/3 vol up",
        "BTC price -3/3 vol down",
        "BTC extreme +3x (35%)",
        "BTC extreme -3x (35%)",
    ]
    price = ["0", "0", "0.05", "0.05", "-0.05", "-0.05", "0.1", "0.1", "-0.1", "-0.1"]
    price += ["0.15", "0.15", "-0.15", "-0.15", "0.45", "-0.45"]
    assert [s["shocks"] for s in scenarios] == [dict.fromkeys(SYMBOLS, p) for p in price]
    assert [s["volatility_shock"] for s in scenarios] == ["0.25", "-0.25"] * 7 + ["0", "0"]
    assert [s["weight"] for s in scenarios] == ["1"] * 14 + ["0.35", "0.35"]
    assert all(set(s) == {"name", "shocks", "volatility_shock", "weight"} for s in scenarios)


def test_span_extreme_moves_follow_the_arguments():
    scenarios = span_scan_scenarios("ETH", ["ETH"], F(3, 10), F(1, 2), extreme_multiple=2, extreme_weight=F(3, 10))
    assert [s["name"] for s in scenarios[14:]] == ["ETH extreme +2x (30%)", "ETH extreme -2x (30%)"]
    assert [s["shocks"] for s in scenarios[14:]] == [{"ETH": "0.6"}, {"ETH": "-0.6"}]
    assert [s["weight"] for s in scenarios[14:]] == ["0.3", "0.3"]


def test_span_shock_without_a_finite_decimal_is_an_error_naming_the_scenario():
    # 1/3 × 1/10 = 1/30 = 0.0333…: rounding it would publish a scenario other than the one named.
    with pytest.raises(ValueError, match=re.escape("'BTC price +1/3 vol up'")):
        span_scan_scenarios("BTC", SYMBOLS, F(1, 10), F(1, 4))
    with pytest.raises(ValueError, match="BTC extreme scenarios: weight 100/3"):
        span_scan_scenarios("BTC", SYMBOLS, F(3, 20), F(1, 4), extreme_weight=F(1, 3))
    with pytest.raises(ValueError, match="no symbols"):
        span_scan_scenarios("BTC", [], F(3, 20), F(1, 4))


@pytest.mark.parametrize(
    "value, text",
    [(F(0), "0"), (F(5), "5"), (F(-3), "-3"), (F(1, 20), "0.05"), (F(-1, 20), "-0.05"), (F(250, 100), "2.5")]
    + [(F(1, 8), "0.125"), (F(-7, 2), "-3.5"), (F(1, 1024), "0.0009765625"), (F(12345, 1), "12345")],
)
def test_fraction_to_decimal_is_exact_and_canonical(value, text):
    assert fraction_to_decimal(value) == text
    assert Fraction(Decimal(text)) == value


@pytest.mark.parametrize("value", [F(1, 3), F(1, 30), F(-2, 7), F(1, 6)])
def test_fraction_to_decimal_refuses_non_terminating_values(value):
    with pytest.raises(ValueError, match="no finite decimal"):
        fraction_to_decimal(value)
