"""Exact conversion between decimal strings and integers at fixed decimals.

Nothing here goes through float or rounds: a value that cannot be represented
exactly at the declared decimals is an error the caller reports to the user.
"""

from __future__ import annotations

import re

# [0-9] and re.ASCII, not \d: \d also matches "৭" (Bengali 7) or "７", which int() then reads as 7,
# so "9৭000" would look like 99000 to a reader and count as 97000.
_DECIMAL = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?|([+-]?)\.([0-9]+)", re.ASCII)


class UnitError(ValueError):
    """A decimal string that is malformed or not exact at the decimals."""


def split_decimal(text: str) -> tuple[int, str, str]:
    """Parse "[-]int[.frac]" into (sign, integer digits, fraction digits without trailing zeros)."""
    match = _DECIMAL.fullmatch(text.strip())  # fullmatch: "$" would also accept a trailing newline
    if not match:
        raise UnitError(f"not a decimal number: {text!r}")
    if match.group(2) is not None:
        sign_text, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    else:
        sign_text, whole, frac = match.group(4), "0", match.group(5)
    return (-1 if sign_text == "-" else 1), whole, frac.rstrip("0")


def fraction_digits(text: str) -> int:
    """Significant fractional digits of a decimal string ("1.50" → 1)."""
    return len(split_decimal(text)[2])


def to_units(text: str, decimals: int) -> int:
    """Decimal string → integer count of 10^-decimals units, exactly."""
    sign, whole, frac = split_decimal(text)
    if len(frac) > decimals:
        raise UnitError(f"{text.strip()!r} has more than {decimals} decimals")
    return sign * int(whole + frac.ljust(decimals, "0"))


def to_units_floor(text: str, decimals: int) -> int:
    """Decimal string → integer count of 10^-decimals units, rounded toward −∞ when it has more
    fraction digits (an asset's `rounding: down`, PROTOCOL.md §2.2): never more than the text says."""
    sign, whole, frac = split_decimal(text)
    units = int(whole + frac) if (whole + frac) else 0
    extra = len(frac) - decimals
    if extra <= 0:
        return sign * units * 10**-extra
    return (sign * units) // 10**extra


def from_units(units: int, decimals: int) -> str:
    """Integer count of 10^-decimals units → shortest exact decimal string."""
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    whole, frac = (digits[:-decimals], digits[-decimals:]) if decimals else (digits, "")
    frac = frac.rstrip("0")
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def normalize(text: str) -> str:
    """Canonical form of a decimal string: no '+', no redundant zeros."""
    sign, whole, frac = split_decimal(text)
    value = int(whole + frac) if (whole + frac) else 0
    return from_units(sign * value, len(frac))
