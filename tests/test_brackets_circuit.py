"""SolvencyBatch with notional-tiered maintenance brackets (PROTOCOL.md §3.1) against the
independent reference model of tests/test_circuits.py, whose margin is Binance's formula
(notional·mmr − cum, cum accumulated as Binance documents it), not zksolv's.

Each batch pins the margins exactly: the positions are short (or long against debt) so every
account is below maintenance and its shortfall — which enters acc_out — contains its margin.
"""

from __future__ import annotations

import pytest

from zksolv.circuit import compile_circuit, r1cs_info

from .test_circuits import MAX, MIN, P_MAX, Batch, Params, accepted, health, keys_for, margin, rejected

pytestmark = pytest.mark.node

# Market 0 (mark 3) has four brackets: floors 0 / 30 / 300 / 3000 at 100 / 200 / 500 / 1000 bps;
# market 1 (mark 2) is flat at 0 bps. Floors are multiples of the mark, so s = floor/3 − 1, floor/3
# and floor/3 + 1 are one atom of size below, at and above each floor.
TIERED = Params(
    price=(1, 2),
    aw=(9999, 10000),
    lw=(10001, 10000),
    mark=(3, 2),
    mmr=(100, 0),
    brackets=(((30, 200), (300, 500), (3000, 1000)), ()),
)
TIERS = (4, 1)


def short(size: int) -> tuple[int, ...]:
    return (0, 0, -size, 0)


BOUNDARY_SIZES = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 10**6]


@pytest.fixture(scope="module")
def circ_tiered():
    return compile_circuit(2, 2, 4, tiers=TIERS)


def batches(sizes: list[int]) -> list[Batch]:
    accounts = [short(s) for s in sizes]
    accounts += [(0, 0, 0, 0)] * (-len(accounts) % 4)
    return [
        Batch(TIERED, accounts[i : i + 4], keys_for(4, tag=i), totals_in=[0] * 12, blinding_in=0)
        for i in range(0, len(accounts), 4)
    ]


def test_reference_margin_is_the_bracket_rule():
    # By hand: N = 30 is in bracket 1: 30·200 − 30·(200 − 100) = 3000; N = 27: 27·100.
    assert margin(27, 0, TIERED) == 2700
    assert margin(30, 0, TIERED) == 3000
    assert margin(3003, 0, TIERED) == 3003 * 1000 - (30 * 100 + 300 * 300 + 3000 * 500)
    # Continuity at every floor: the line below and the line of the bracket meet there.
    for floor in (30, 300, 3000):
        assert margin(floor, 0, TIERED) - margin(floor - 1, 0, TIERED) <= 1000


def test_every_floor_below_at_above(circ_tiered, tmp_path):
    for batch in batches(BOUNDARY_SIZES):
        assert all(health(a, TIERED) < 0 for a in batch.accounts if any(a))
        accepted(circ_tiered, batch, tmp_path)


def test_longs_against_debt_and_extremes(circ_tiered, tmp_path):
    # A long in the top bracket financed by debt, both signs of health, and the largest amounts.
    accounts = [(-(10**9), 0, 10**6, 0), (10**12, 0, 10**6, 5), (0, MAX, MAX, -7), (MAX, 0, MIN, 0)]
    accepted(circ_tiered, Batch(TIERED, accounts, keys_for(4, tag=9), totals_in=[0] * 12, blinding_in=0), tmp_path)


def test_notional_near_two_to_the_127(tmp_path):
    """The largest notional |MIN|·P_MAX = 2^127 − 2^63 in a top bracket whose floor is 2^127 − 2^64:
    both range-checked bounds hold at the edge of their 127 bits."""
    top = (1 << 127) - (1 << 64)
    params = Params(
        price=(1, 2),
        aw=(10000, 10000),
        lw=(10000, 10000),
        mark=(P_MAX, 2),
        mmr=(0, 0),
        brackets=(((1 << 100, 1), (top, 10000)), ()),
    )
    circ = compile_circuit(2, 2, 4, tiers=(3, 1))
    accounts = [(0, 0, MIN, 0), (0, 0, MAX, 0), (0, 0, -(1 << 37), 0), (0, 0, 0, 0)]
    assert abs(MIN) * P_MAX >= top
    accepted(circ, Batch(params, accounts, keys_for(4, tag=5), totals_in=[0] * 12, blinding_in=0), tmp_path)


@pytest.mark.parametrize(
    "brackets, chain",
    [
        # Floors must strictly increase and rates must not fall: BracketSchedule's checks.
        ((((30, 200), (30, 500), (3000, 1000)), ()), ["Num2Bits", "BracketSchedule", "SolvencyBatch"]),
        ((((300, 200), (30, 500), (3000, 1000)), ()), ["Num2Bits", "BracketSchedule", "SolvencyBatch"]),
        ((((30, 200), (300, 150), (3000, 1000)), ()), ["Num2Bits", "InRange", "BracketSchedule", "SolvencyBatch"]),
        # A rate above 100 % and a floor at 2^127: Params' range checks.
        ((((30, 200), (300, 500), (3000, 10001)), ()), ["Num2Bits", "InRange", "Params", "SolvencyBatch"]),
        ((((30, 200), (300, 500), (1 << 127, 1000)), ()), ["Num2Bits", "Params", "SolvencyBatch"]),
    ],
)
def test_bad_bracket_tables_are_rejected(circ_tiered, tmp_path, brackets, chain):
    from dataclasses import replace

    params = replace(TIERED, brackets=brackets)
    accounts = [short(1), short(2), short(3), short(4)]
    rejected(circ_tiered, Batch(params, accounts, keys_for(4), totals_in=[0] * 12, blinding_in=0), tmp_path, chain)


def test_flat_shape_costs_nothing_and_tiers_cost_what_is_documented(circ_tiered):
    flat = r1cs_info(compile_circuit(2, 2, 4).r1cs)["constraints"]
    tiered = r1cs_info(circ_tiered.r1cs)["constraints"]
    T, B, extra = 4, 4, 3
    per_account = T + (4 * T - 3) + 2 * 127 + 1  # BracketMargin(T), docs/circuits.md
    per_batch = extra * (127 + 2 * 14 + 1) + extra * (127 + 2 * 14)  # BracketSchedule + Params
    # + the longer params hash chain (a few Poseidon permutations at most)
    assert 0 <= tiered - flat - B * per_account - per_batch < 600, tiered - flat


def test_random_positions_agree_with_binance_to_the_atom(circ_tiered, tmp_path):
    """Random shorts and debt-financed longs across all four brackets: the circuit's public signals
    (whose acc_out holds every account's exact shortfall) equal the Binance-formula reference's."""
    import random

    rng = random.Random(2026)
    for round_ in range(3):
        accounts = []
        for _ in range(4):
            size = rng.choice(
                [rng.randrange(1, 12), rng.randrange(9, 120), rng.randrange(90, 1200), rng.randrange(10**3, 10**7)]
            )
            if rng.random() < 0.5:
                accounts.append(short(size))
            else:  # a long financed by debt: below maintenance by its margin and the debt's weight
                accounts.append((-3 * size * 10000 // 10001 - rng.randrange(0, 50), 0, size, 0))
        batch = Batch(TIERED, accounts, keys_for(4, tag=100 + round_), totals_in=[0] * 12, blinding_in=0)
        assert all(health(a, TIERED) < 0 for a in accounts)
        accepted(circ_tiered, batch, tmp_path)
