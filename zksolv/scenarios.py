"""Scenario prices (docs/PROTOCOL.md §3.3): what every slot is worth in each published scenario.

A scenario moves chosen prices by exact relative shocks; an option series is revalued by
Black–Scholes (zksolv.options) at the shocked underlying price and implied volatility. A
scenario's `weight` w (SPAN counts its extreme moves at 35 %) scales the move itself, so that a
weighted loss is again a loss at a price vector and the circuit stays linear:

    P_s = P + round(w · (raw_s − P))        raw_s = P · (1 + shock)   or   the option's BS value

in atoms of 10^-S quote per base unit, `round` = floor(x + 1/2) (ties toward +∞). The verifier
computes every P_s itself from params.json; the params hash covers them (§5), so a proof made with
any other scenario price does not verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .options import black_scholes_atoms, years_to_expiry


def round_half_up(value: Fraction) -> int:
    """floor(value + 1/2): the one rounding rule of scenario prices."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def scenario_value(base: int, raw: Fraction, weight: Fraction) -> int:
    """The price of a slot in a scenario: its published `base` moved by `weight` of the way to `raw`."""
    return base + round_half_up(weight * (raw - base))


@dataclass(frozen=True)
class OptionTerms:
    """A European option series on one whole unit of its underlying (exact decimals as Fractions)."""

    kind: str  # "call" or "put"
    strike: Fraction
    expiry_seconds: int
    implied_volatility: Fraction
    interest_rate: Fraction


def option_value(
    terms: OptionTerms, underlying_price: Fraction, volatility_shock: Fraction, valuation_seconds: int, places: int
) -> int:
    """Black–Scholes value of one contract in atoms of 10^-places quote, with the implied
    volatility moved by `volatility_shock` (relative)."""
    return black_scholes_atoms(
        terms.kind,
        underlying_price,
        terms.strike,
        years_to_expiry(valuation_seconds, terms.expiry_seconds),
        terms.implied_volatility * (1 + volatility_shock),
        terms.interest_rate,
        places,
    )


def exact(text: str) -> Fraction:
    """An exact decimal string as a Fraction."""
    return Fraction(Decimal(text))
