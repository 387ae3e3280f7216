"""Notional-tiered maintenance brackets (PROTOCOL.md §3.1) in the reference model and params.

The expected margins come from Binance's published formula, computed here in decimal quote
units with the deductions (`cum`) accumulated the way Binance documents them, independently of
zksolv's integer deductions: maintenance = notional × mmr_t − cum_t for the bracket t with
notional_floor_t ≤ notional < notional_floor_{t+1}, cum_0 = 0,
cum_t = cum_{t−1} + notional_floor_t × (mmr_t − mmr_{t−1}).
"""

from __future__ import annotations

import copy
import random
from decimal import Decimal

import pytest

from zksolv.errors import InputError
from zksolv.margin import maintenance_health, maintenance_margin
from zksolv.params import params_document, params_field_elements, parse_params

# A BTC-PERP table shaped like Binance's first tiers (floors in USD, rates in bps).
TABLE = [("0", 40), ("50000", 50), ("600000", 100), ("3000000", 250), ("12000000", 500)]


def binance_maintenance(notional: Decimal, table: list[tuple[str, int]]) -> Decimal:
    cum, previous_rate, chosen = Decimal(0), Decimal(0), None
    for floor, bps in table:
        rate = Decimal(bps) / 10000
        cum += Decimal(floor) * (rate - previous_rate)
        previous_rate = rate
        if notional >= Decimal(floor):
            chosen = (rate, cum)
    rate, cum = chosen
    return notional * rate - cum


def tiered(params_dict: dict, table=TABLE) -> dict:
    document = copy.deepcopy(params_dict)
    market = document["markets"][0]
    del market["maintenance_margin_bps"]
    market["brackets"] = [{"notional_floor": f, "maintenance_margin_bps": r} for f, r in table]
    return document


def margin_in_quote(notional_quote: Decimal, params) -> Decimal:
    scale = 10**params.value_scale
    notional = notional_quote * scale
    assert notional == int(notional)
    return Decimal(maintenance_margin(int(notional), params.markets[0])) / (scale * 10000)


def test_every_floor_one_atom_below_at_and_above(params_dict):
    params = parse_params(tiered(params_dict))
    atom = Decimal(1) / 10**params.value_scale
    for floor, _ in TABLE:
        for notional in (Decimal(floor) - atom, Decimal(floor), Decimal(floor) + atom):
            if notional < 0:
                continue
            assert margin_in_quote(notional, params) == binance_maintenance(notional, TABLE), notional


def test_random_positions_agree_with_binance_to_the_atom(params_dict):
    params = parse_params(tiered(params_dict))
    market = params.markets[0]
    rng = random.Random(12)
    mark = Decimal(market.mark_price)
    for _ in range(2000):
        size = Decimal(rng.randrange(-(10**9), 10**9)) / 10**market.decimals  # up to ±100,000 BTC
        notional = abs(size) * mark
        amounts = [0] * params.n_slots
        amounts[len(params.assets)] = int(size * 10**market.decimals)
        expected_health = size * mark - binance_maintenance(notional, TABLE)
        health = Decimal(maintenance_health(tuple(amounts), params)) / (10**params.value_scale * 10000)
        assert health == expected_health, size


def test_margin_is_the_max_of_the_bracket_lines(params_dict):
    """With rates that never fall the bracket rule is the convex max of N·rate_t − ded_t, which is
    the definition the circuit's selector is checked against (no tier can be undercharged)."""
    params = parse_params(tiered(params_dict))
    market = params.markets[0]
    rng = random.Random(3)
    for _ in range(500):
        notional = rng.randrange(0, 10**24)
        lines = [notional * b.maintenance_margin_bps - b.deduction for b in market.brackets]
        assert maintenance_margin(notional, market) == max(lines)


def test_deductions_are_recomputed_and_hashed(params_dict):
    params = parse_params(tiered(params_dict))
    scale = 10**params.value_scale
    deductions = [b.deduction for b in params.markets[0].brackets]
    # cum in quote units × 10^S × 10^4: 0, 50000·10, +600000·50, +3000000·150, +12000000·250
    assert deductions == [0, 500_000 * scale, 30_500_000 * scale, 480_500_000 * scale, 3_480_500_000 * scale]
    assert params.tiers == (5, 1)
    # Four extra brackets are hashed after the markets, floor + 2^127 · rate.
    elements = params_field_elements(params)
    assert elements[-4:] == [int(f) * scale + (r << 127) for f, r in TABLE[1:]]
    # The canonical document keeps the table (never the deductions) and parses back to the same.
    document = params_document(params)
    assert document["markets"][0]["brackets"][1] == {"notional_floor": "50000", "maintenance_margin_bps": 50}
    assert "deduction" not in str(document)
    assert parse_params(document, canonical=True) == params


@pytest.mark.parametrize(
    "table, message",
    [
        ([("10", 40), ("50000", 50)], "first bracket's notional_floor must be 0"),
        ([("0", 40), ("50000", 50), ("50000", 60)], "brackets[2].notional_floor must be above"),
        ([("0", 40), ("60000", 50), ("50000", 60)], "brackets[2].notional_floor must be above"),
        ([("0", 40), ("50000", 30)], "brackets[1].maintenance_margin_bps must not be below"),
        ([("0", 40), ("50000", 10001)], "less than or equal to 10000"),
        ([("0", 40), ("-5", 50)], "negative notional_floor"),
        ([("0", 40), ("5e3", 50)], "notional_floor"),
        ([("0", 40)] + [(str(i * 1000), 40 + i) for i in range(1, 33)], "at most 32"),
    ],
)
def test_bad_tables_are_located_errors(params_dict, table, message):
    with pytest.raises(InputError) as info:
        parse_params(tiered(params_dict, table))
    text = str(info.value)
    assert message in text and "markets[0] (BTC-PERP)" in text, text


def test_exactly_one_rate_rule(params_dict):
    both = tiered(params_dict)
    both["markets"][0]["maintenance_margin_bps"] = 40
    neither = copy.deepcopy(params_dict)
    del neither["markets"][0]["maintenance_margin_bps"]
    for document in (both, neither):
        with pytest.raises(InputError, match="exactly one of maintenance_margin_bps"):
            parse_params(document)


def test_floor_finer_than_the_value_scale_is_refused(params_dict):
    with pytest.raises(InputError, match=r"more than the value scale's \d+ fraction digits"):
        parse_params(tiered(params_dict, [("0", 40), ("1." + "0" * 30 + "1", 50)]))
