"""The margin reference model against hand-worked accounts.

Params (tests/conftest.py): USDC $1 (weights 1.0/1.0), BTC $50,000 (asset
weight 0.90, liability weight 1.10), BTC-PERP mark $50,000 with 5% maintenance,
ETH-PERP mark $2,000.5 with 3% maintenance. Health in USD is
Σ balance·price·weight + Σ (position·mark − |position|·mark·mmr).
"""

import random
import subprocess
import sys

import pytest

from zksolv.accounts import Account, read_accounts
from zksolv.margin import check_solvency, health_to_quote, maintenance_health, totals_of
from zksolv.params import parse_params

from .helpers import write_csv

HEADER = ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"]

# Worked by hand: (row, expected shortfall in USD)
UNDER_MAINTENANCE = [
    # −1000 USDC of debt, nothing else: health = −1000 × 1.0
    (["plain-debtor", "-1000", "", "", ""], "1000"),
    # long 1 BTC-PERP financed with −47,600 USDC: −47,600 + 50,000 − 5% × 50,000 (2,500) = −100
    (["long-undermargined", "-47600", "", "1", ""], "100"),
    # borrowed 0.1 BTC (−0.1 × 50,000 × 1.10 = −5,500) against 5,400 USDC: −100
    (["btc-borrower", "5400", "-0.1", "", ""], "100"),
    # short 10 ETH-PERP: −20,005 − 3% × 20,005 (600.15) + 20,000 USDC = −605.15
    (["eth-short", "20000", "", "", "-10"], "605.15"),
    # 1 BTC at 90% (45,000) against −45,000.01 USDC: −0.01
    (["haircut-edge", "-45000.01", "1", "", ""], "0.01"),
]
AT_MAINTENANCE = [
    # exactly zero health is solvent: 1 BTC × 0.9 × 50,000 = 45,000 against −45,000 USDC
    ["haircut-exact", "-45000", "1", "", ""],
    # long 1 BTC-PERP with −47,500 USDC: −47,500 + 47,500 = 0
    ["long-exact", "-47500", "", "1", ""],
]


def _healthy_rows(n: int, rng: random.Random) -> list[list[str]]:
    rows = []
    for i in range(n):
        usdc = rng.randrange(1_000, 100_000)
        btc = f"{rng.randrange(0, 200_000_000) / 1e8:.8f}"
        btc_perp = f"{rng.randrange(-100, 101) / 1e4:.4f}"  # |value| ≤ 500, margin ≤ 25
        eth_perp = f"{rng.randrange(-100, 101) / 1e3:.3f}"  # |value| ≤ 200.05
        rows.append([f"acct-{i:05d}", str(usdc), btc, btc_perp, eth_perp])
    return rows


@pytest.fixture
def snapshot(tmp_path):
    rng = random.Random(7)
    rows = _healthy_rows(1000 - len(UNDER_MAINTENANCE) - len(AT_MAINTENANCE), rng)
    for row, _ in UNDER_MAINTENANCE:
        rows.insert(rng.randrange(len(rows)), row)
    for row in AT_MAINTENANCE:
        rows.insert(rng.randrange(len(rows)), row)
    return write_csv(tmp_path / "accounts.csv", HEADER, rows)


def test_check_names_exactly_the_hand_worked_accounts(snapshot, params_dict):
    params = parse_params(params_dict)
    report = check_solvency(read_accounts(snapshot, params), params)
    assert report.accounts == 1000
    found = {i.account_id: i.shortfall(params) for i in report.insolvent}
    assert found == {row[0]: shortfall for row, shortfall in UNDER_MAINTENANCE}


def test_cli_check_exit_codes_and_listing(snapshot, params_file, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "zksolv", "check", "--params", str(params_file), "--accounts", str(snapshot), "--json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["accounts"] == 1000 and report["solvent"] is False
    assert {b["account_id"]: b["shortfall"] for b in report["below_maintenance"]} == {
        row[0]: s for row, s in UNDER_MAINTENANCE
    }
    healthy = write_csv(tmp_path / "ok.csv", HEADER, [r for r in AT_MAINTENANCE])
    ok = subprocess.run(
        [sys.executable, "-m", "zksolv", "check", "--params", str(params_file), "--accounts", str(healthy)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "accounts: 2; below maintenance: 0" in ok.stdout


def test_health_scale_and_weights(params_dict):
    params = parse_params(params_dict)
    # value scale: max(decimals + price fraction digits) = ETH-PERP 3 + 1 … BTC 8 + 0 → 8
    assert params.value_scale == 8
    one_btc = (0, 100_000_000, 0, 0)
    assert health_to_quote(maintenance_health(one_btc, params), params) == "45000"
    minus_one_btc = (0, -100_000_000, 0, 0)
    assert health_to_quote(maintenance_health(minus_one_btc, params), params) == "-55000"
    short_perp = (0, 0, -10_000, 0)  # −1 BTC-PERP: −50,000 − 2,500
    assert health_to_quote(maintenance_health(short_perp, params), params) == "-52500"


def test_totals_are_credits_debits_and_open_interest(params_dict):
    params = parse_params(params_dict)
    accounts = [Account("a", (5, -3, 7, -2)), Account("b", (-1, 4, -7, 1)), Account("c", (0, 0, 0, 0))]
    totals = totals_of(accounts, params)
    assert (totals.credit, totals.debit) == ([5, 4], [1, 3])
    assert (totals.long, totals.short) == ([7, 1], [7, 2])
    assert totals.net_position() == [0, -1]
    assert totals.vector()[:8] == [5, 1, 4, 3, 7, 7, 1, 2]
    assert totals.vector()[8:] == totals.liquidations.vector()  # the figures close the vector


# Worked by hand: (row, below maintenance, bad debt in USD)
LIQUIDATION_CASES = [
    # −1000 USDC, nothing else: equity −1000, bankrupt
    (["plain-debtor", "-1000", "", "", ""], True, "1000"),
    # long 1 BTC-PERP with −47,600 USDC: equity −47,600 + 50,000 = 2,400 > 0, below maintenance only
    (["long-undermargined", "-47600", "", "1", ""], True, "0"),
    # short 1 BTC-PERP with −50,100 USDC: a short is worth −50,000, so equity = −100,100, bankrupt
    (["short-bankrupt", "-50100", "", "-1", ""], True, "100100"),
    # at maintenance exactly: 5,500 USDC against −0.1 BTC (health 0, equity 500)
    (["at-maintenance", "5500", "-0.1", "", ""], False, "0"),
]


@pytest.mark.parametrize("row, below, bad_debt", LIQUIDATION_CASES, ids=[c[0][0] for c in LIQUIDATION_CASES])
def test_liquidation_figures_by_hand(tmp_path, params_dict, row, below, bad_debt):
    from zksolv.bundle import liquidations_document

    params = parse_params(params_dict)
    report = check_solvency(read_accounts(write_csv(tmp_path / "a.csv", HEADER, [row]), params), params)
    doc = liquidations_document(params, report.totals.liquidations)
    assert doc["accounts_below_maintenance"] == int(below)
    assert doc["bad_debt"] == bad_debt and doc["bankrupt_accounts"] == int(bad_debt != "0")
    assert doc["covered"] is (bad_debt == "0")  # no insurance fund in these params


def test_every_bankrupt_account_is_below_maintenance(params_dict):
    """health ≤ 10000·equity for every account (weights aw ≤ 10000 ≤ lw, mmr ≥ 0), so the bankrupt
    accounts are a subset of those below maintenance: checked on random accounts."""
    from zksolv.margin import account_equity

    params = parse_params(params_dict)
    rng = random.Random(11)
    for _ in range(2000):
        amounts = tuple(rng.randrange(-(10**12), 10**12) for _ in range(params.n_slots))
        assert maintenance_health(amounts, params) <= 10000 * account_equity(amounts, params)
