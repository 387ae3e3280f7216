"""Deterministic option valuation for risk arrays: Black–Scholes values, greeks and SPAN scan scenarios.

The verifier recomputes every option value the prover put into a risk array, so a value must come out as
the same integer wherever it is computed. Floats cannot promise that (libm's exp/erf differ between
platforms in the last bits, and a last bit decides a rounding now and then). Here every value is computed
with mpmath at 60 significant digits, from inputs converted exactly from Fractions, in mpmath's integer
arithmetic (no hardware floats: the same mpmath gives the same bits on every machine). The result is then
rounded once, by one rule: half up, floor(value·10^places + 1/2), to an integer count of 10^-places quote.

Two computations round to different integers only if a tie, k + 1/2 atoms, lies between their two
results. At 60 digits the value is known some 40 digits beyond what a float holds (about 16), so another
computation accurate to 40 digits (another Python, another mpmath version, a big-decimal implementation
next to snarkjs) gets the same integer for every value that is not within ~10^-40 (relative) of a tie.
A value on a tie, or closer to one than the 60 digits resolve, is not distinguishable from the tie; the
documented rule for it is the rule for every value: the 60-digit result is rounded half up, so an exact
tie goes up. Where a value is rational (a degenerate case with r·T == 0: nothing to discount) it is
computed with Fractions, so its ties are exact.

`mpmath.workdps` sets mpmath's process-wide precision for the duration of a block and restores the
caller's afterwards, so the caller's `mp.dps` never matters; the flip side is that these functions must
not run in several threads at once (one thread's exit would restore another thread's precision).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath  # type: ignore[import-untyped]

from .units import from_units

#: ACT/365: a year is 365 days of 86400 seconds, whatever the calendar says.
SECONDS_PER_YEAR = 365 * 86400
#: Significant decimal digits of every mpmath computation here (see the module docstring).
DIGITS = 60
#: Fraction digits of a greek's decimal string.
GREEK_PLACES = 10

KINDS = ("call", "put")


def years_to_expiry(valuation_seconds: int, expiry_seconds: int) -> Fraction:
    """Time to expiry in years (ACT/365), exact; an expired option has 0 years left, not a negative time."""
    return Fraction(max(expiry_seconds - valuation_seconds, 0), SECONDS_PER_YEAR)


def black_scholes_atoms(
    kind: str,
    spot: Fraction,
    strike: Fraction,
    years: Fraction,
    volatility: Fraction,
    rate: Fraction,
    places: int,
) -> int:
    """Black–Scholes value of one European option (no dividends) on one unit, in 10^-places quote, half up.

    T, σ or S of zero is handled without ln(0) or a division by zero: the value is then the discounted
    forward intrinsic value max(±(S − K·e^(−rT)), 0), the limit of the formula.
    """
    _check_inputs(kind, spot, strike, years, volatility)
    if places < 0:
        raise ValueError(f"places must be ≥ 0, got {places}")
    with mpmath.workdps(DIGITS):
        if _is_degenerate(spot, years, volatility):
            moneyness = _forward_moneyness(spot, strike, years, rate)
            return _round_half_up(max(moneyness if kind == "call" else -moneyness, 0), places)
        s, k, t, r = _mpf(spot), _mpf(strike), _mpf(years), _mpf(rate)
        d1, d2 = _d1_d2(spot, strike, years, volatility, rate)
        discounted_strike = k * mpmath.exp(-r * t)
        if kind == "call":
            value = s * mpmath.ncdf(d1) - discounted_strike * mpmath.ncdf(d2)
        else:
            value = discounted_strike * mpmath.ncdf(-d2) - s * mpmath.ncdf(-d1)
        return _round_half_up(value, places)


@dataclass(frozen=True)
class Greeks:
    """Sensitivities of one option on one unit, as decimal strings with GREEK_PLACES fraction digits.

    Strings, not floats, so that what is published is exactly what the verifier recomputes.
    """

    delta: str
    gamma: str


def greeks(
    kind: str,
    spot: Fraction,
    strike: Fraction,
    years: Fraction,
    volatility: Fraction,
    rate: Fraction,
) -> Greeks:
    """Delta (∂V/∂S) and gamma (∂²V/∂S²) of one option on one unit, rounded half up at GREEK_PLACES.

    Half up is floor(x·10^10 + 1/2) for negative values too (a tie goes towards +∞): that rule commutes
    with adding an integer, so the rounded call delta minus the rounded put delta (which is N(d1) − 1) is
    exactly 1. In a degenerate case (T, σ or S zero) the value is the discounted forward intrinsic value,
    piecewise linear in S: delta is its slope (0 at the kink) and gamma is 0.
    """
    _check_inputs(kind, spot, strike, years, volatility)
    with mpmath.workdps(DIGITS):
        if _is_degenerate(spot, years, volatility):
            moneyness = _forward_moneyness(spot, strike, years, rate)
            if kind == "call":
                slope = 1 if moneyness > 0 else 0
            else:
                slope = -1 if moneyness < 0 else 0
            return Greeks(_fixed(slope * 10**GREEK_PLACES), _fixed(0))
        d1, _ = _d1_d2(spot, strike, years, volatility, rate)
        delta = mpmath.ncdf(d1) - (0 if kind == "call" else 1)
        gamma = mpmath.npdf(d1) / (_mpf(spot) * _mpf(volatility) * mpmath.sqrt(_mpf(years)))
        return Greeks(_fixed(_round_half_up(delta, GREEK_PLACES)), _fixed(_round_half_up(gamma, GREEK_PLACES)))


def span_scan_scenarios(
    name_prefix: str,
    shocked: list[str],
    price_range: Fraction,
    volatility_range: Fraction,
    extreme_multiple: int = 3,
    extreme_weight: Fraction = Fraction(35, 100),
) -> list[dict[str, Any]]:
    """The 16 CME SPAN scan scenarios of one underlying, in CME's order, as params.json scenario dicts.

    Every symbol in `shocked` (the underlying and whatever is priced off it) moves by the same relative
    price shock; volatility_shock is the relative change of the implied volatility. Scenarios 1–14 move
    the price by 0, ±1/3, ±2/3 and ±3/3 of the price range, each with volatility up and down, at weight 1.
    15 and 16 are the extreme moves, ±extreme_multiple × the range with volatility unchanged: they exist
    for short deep out-of-the-money options, whose loss the ±range moves miss, and only extreme_weight of
    their loss counts. Every decimal is exact: a shock with no finite decimal expansion raises ValueError rather
    than being rounded, because a rounded shock would be a different scenario from the one named.
    """
    if not shocked:
        raise ValueError(f"{name_prefix}: no symbols to shock")
    moves: list[tuple[str, Fraction, Fraction, Fraction]] = []  # (name, price shock, volatility shock, weight)
    for thirds in range(4):
        for sign in (1,) if thirds == 0 else (1, -1):
            price = "unchanged" if thirds == 0 else f"{'+' if sign > 0 else '-'}{thirds}/3"
            for vol_sign, vol in ((1, "up"), (-1, "down")):
                name = f"{name_prefix} price {price} vol {vol}"
                moves.append((name, sign * Fraction(thirds, 3) * price_range, vol_sign * volatility_range, Fraction(1)))
    try:
        percent = fraction_to_decimal(extreme_weight * 100)
    except ValueError as error:
        raise ValueError(f"{name_prefix} extreme scenarios: weight {error}") from error
    for sign, sign_text in ((1, "+"), (-1, "-")):
        name = f"{name_prefix} extreme {sign_text}{extreme_multiple}x ({percent}%)"
        moves.append((name, sign * extreme_multiple * price_range, Fraction(0), extreme_weight))
    return [_scenario(shocked, *move) for move in moves]


def fraction_to_decimal(value: Fraction) -> str:
    """The exact, canonical decimal string of a Fraction ("0.05", "-3", "0"); ValueError if it has none.

    A Fraction p/q in lowest terms has a finite decimal expansion iff q = 2^a·5^b, and then exactly
    max(a, b) fraction digits.
    """
    twos, rest = _strip_factor(value.denominator, 2)
    fives, rest = _strip_factor(rest, 5)
    if rest != 1:
        raise ValueError(f"{value} has no finite decimal expansion")
    places = max(twos, fives)
    return from_units(value.numerator * 10**places // value.denominator, places)


def _scenario(
    shocked: list[str], name: str, shock: Fraction, volatility_shock: Fraction, weight: Fraction
) -> dict[str, Any]:
    try:
        price = fraction_to_decimal(shock)
        return {
            "name": name,
            "shocks": dict.fromkeys(shocked, price),
            "volatility_shock": fraction_to_decimal(volatility_shock),
            "weight": fraction_to_decimal(weight),
        }
    except ValueError as error:
        raise ValueError(f"scenario {name!r}: {error}") from error


def _strip_factor(number: int, prime: int) -> tuple[int, int]:
    """(k, number / prime^k) for the largest k with prime^k dividing number (number > 0)."""
    count = 0
    while number % prime == 0:
        number //= prime
        count += 1
    return count, number


def _check_inputs(kind: str, spot: Fraction, strike: Fraction, years: Fraction, volatility: Fraction) -> None:
    if kind not in KINDS:
        raise ValueError(f"option kind must be 'call' or 'put', got {kind!r}")
    if spot < 0 or years < 0 or volatility < 0:
        raise ValueError(f"spot, years and volatility must be ≥ 0, got {spot}, {years}, {volatility}")
    if strike <= 0:
        raise ValueError(f"strike must be > 0, got {strike}")


def _is_degenerate(spot: Fraction, years: Fraction, volatility: Fraction) -> bool:
    """Whether d1 is undefined (σ√T == 0 or ln S == −∞), so the value is the formula's limit."""
    return years == 0 or volatility == 0 or spot == 0


def _forward_moneyness(spot: Fraction, strike: Fraction, years: Fraction, rate: Fraction) -> Fraction | Any:
    """S − K·e^(−rT): a Fraction when rT == 0 (nothing to discount, so exact), else an mpf (in workdps)."""
    if rate * years == 0:
        return spot - strike
    return _mpf(spot) - _mpf(strike) * mpmath.exp(-_mpf(rate) * _mpf(years))


def _d1_d2(spot: Fraction, strike: Fraction, years: Fraction, volatility: Fraction, rate: Fraction) -> tuple[Any, Any]:
    """Black–Scholes d1 and d2 as mpf (in workdps; T, σ, S > 0)."""
    vol_sqrt_t = _mpf(volatility) * mpmath.sqrt(_mpf(years))
    d1 = (mpmath.log(_mpf(spot / strike)) + (_mpf(rate) + _mpf(volatility) ** 2 / 2) * _mpf(years)) / vol_sqrt_t
    return d1, d1 - vol_sqrt_t


def _mpf(value: Fraction) -> Any:
    """A Fraction as an mpf, rounded at the working precision from its integers, never through a float."""
    return mpmath.mpf(value.numerator) / value.denominator


def _round_half_up(value: int | Fraction | Any, places: int) -> int:
    """floor(value·10^places + 1/2), exactly for an int or Fraction and at the working precision for an mpf."""
    if isinstance(value, int | Fraction):
        return math.floor(value * 10**places + Fraction(1, 2))
    return int(mpmath.floor(value * 10**places + mpmath.mpf(1) / 2))


def _fixed(units: int) -> str:
    """A count of 10^-GREEK_PLACES as a fixed-point string with exactly GREEK_PLACES fraction digits."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**GREEK_PLACES)
    return f"{sign}{whole}.{frac:0{GREEK_PLACES}d}"
