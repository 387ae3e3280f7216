"""A venue's export as it is (issue 16): entry prices and unrealised PnL per position, 18-decimal
assets with the suggested decimals, account ids with stray white space. Each figure is checked
against an independent computation in Fractions, not against the code under test."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from zksolv import api
from zksolv.accounts import normalize_account_id, read_accounts
from zksolv.errors import InputError
from zksolv.margin import account_equity
from zksolv.params import parse_params

PARAMS = {
    "epoch": "2026-12-01T00:00:00Z",
    "quote": "USD",
    "assets": [
        {"symbol": "USDT", "decimals": 6, "price": "1", "asset_weight_bps": 10000, "liability_weight_bps": 10000},
        {"symbol": "ETH", "decimals": 18, "price": "3000", "asset_weight_bps": 9000, "liability_weight_bps": 11000},
    ],
    "markets": [
        {
            "symbol": "BTC-PERP",
            "decimals": 4,
            "mark_price": "97000",
            "maintenance_margin_bps": 500,
            "entry_cost_decimals": 6,
        }
    ],
}
MARK = Fraction(97000)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_entry_price_gives_unrealised_pnl_and_wallet_totals(tmp_path):
    params = parse_params(PARAMS)
    rows = [
        ("uid1", "10000", "0", "-1", "96000.123456"),  # short 1 BTC: PnL −1,000 (less rounding)
        ("uid2", "10000", "1.5", "0.5", "100000"),  # long 0.5 BTC: PnL −1,500
    ]
    csv = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price\n" + "".join(",".join(r) + "\n" for r in rows)
    accounts = list(read_accounts(_write(tmp_path, "a.csv", csv), params))
    for account, (_, usdt, eth, size, entry) in zip(accounts, rows):
        cost = Fraction(size) * Fraction(entry)
        cost_units = -((-cost * 10**6).numerator // (cost * 10**6).denominator)  # rounded up
        expected = Fraction(usdt) + Fraction(eth) * 3000 + Fraction(size) * MARK - Fraction(cost_units, 10**6)
        assert Fraction(account_equity(account.amounts, params), 10**params.value_scale) == expected
    # The wallet balances stay as exported: the cost is its own slot, never folded into USDT.
    usdt = [a.symbol for a in params.assets].index("USDT")
    assert [a.amounts[usdt] for a in accounts] == [10000 * 10**6] * 2


def PARAMS_PATH(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(PARAMS))
    return path


def test_unrealized_pnl_column_is_the_same_cost(tmp_path):
    params = parse_params(PARAMS)
    by_entry = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price\nu,10000,0,-1,96000\n"
    by_pnl = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:unrealized_pnl\nu,10000,0,-1,-1000\n"
    a = list(read_accounts(_write(tmp_path, "e.csv", by_entry), params))
    b = list(read_accounts(_write(tmp_path, "p.csv", by_pnl), params))
    assert a[0].amounts == b[0].amounts
    cost_slot = params.entry_cost_slots["BTC-PERP"]
    assert a[0].amounts[cost_slot] == 96000 * 10**6  # the leaf holds −cost; a short's cost is −96000


@pytest.mark.parametrize(
    ("header", "row", "fragment"),
    [
        ("BTC-PERP:entry_price", "u,1,0,1,", "missing entry_price of a non-zero position"),
        ("BTC-PERP:entry_price", "u,1,0,1,-5", "negative"),
        ("BTC-PERP:unrealized_pnl", "u,1,0,0,7", "zero position"),
    ],
)
def test_bad_entry_cells_are_located(tmp_path, header, row, fragment):
    params = parse_params(PARAMS)
    path = _write(tmp_path, "a.csv", f"account_id,USDT,ETH,BTC-PERP,{header}\n{row}\n")
    with pytest.raises(InputError) as err:
        list(read_accounts(path, params))
    assert any(fragment in p.message and p.row == 2 for p in err.value.problems), err.value.problems


def test_entry_columns_need_the_params_and_exactly_one(tmp_path):
    params = parse_params(PARAMS)
    both = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price,BTC-PERP:entry_cost\nu,1,0,0,,\n"
    with pytest.raises(InputError, match="two entry columns"):
        list(read_accounts(_write(tmp_path, "b.csv", both), params))
    none = "account_id,USDT,ETH,BTC-PERP\nu,1,0,0\n"
    with pytest.raises(InputError, match="missing entry column"):
        list(read_accounts(_write(tmp_path, "n.csv", none), params))
    flat = json.loads(json.dumps(PARAMS))
    del flat["markets"][0]["entry_cost_decimals"]
    with pytest.raises(InputError, match="entry_cost_decimals"):
        list(
            read_accounts(
                _write(tmp_path, "f.csv", "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price\nu,1,0,0,\n"),
                parse_params(flat),
            )
        )


def test_ids_are_trimmed_and_nfc_and_duplicates_name_both_rows(tmp_path):
    assert normalize_account_id("  uid1 ") == "uid1"
    assert normalize_account_id("e\u0301") == "\u00e9"
    assert normalize_account_id("Alice") != normalize_account_id("alice")  # case-sensitive
    params = parse_params(PARAMS)
    text = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price\nuid1,1,0,0,\n uid1,1,0,0,\nuid1 ,1,0,0,\n"
    with pytest.raises(InputError) as err:
        list(read_accounts(_write(tmp_path, "d.csv", text), params))
    rows = [(p.row, p.message) for p in err.value.problems]
    assert [r for r, _ in rows] == [3, 4] and all("row 2" in m for _, m in rows)


def test_eighteen_decimals_name_the_asset_and_suggest_decimals(tmp_path):
    params = parse_params(PARAMS)
    text = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price\na,1,1234.123456789123456789,0,\nb,1,20.5,0,\n"
    path = _write(tmp_path, "w.csv", text)
    with pytest.raises(InputError) as err:
        list(read_accounts(path, params))
    summary = err.value.problems[-1].message
    assert "ETH" in summary and "9.223372036854775807" in summary and "15 decimals" in summary
    doc = api.params_suggest_decimals(PARAMS_PATH(tmp_path), path, tmp_path / "p2.json")
    eth = next(s for s in doc["suggestions"] if s["symbol"] == "ETH")
    # 1234.12… × 10^15 < 2^63 ≤ 1234.12… × 10^16: computed here independently.
    assert Fraction("1234.123456789123456789") * 10**15 < 2**63 <= Fraction("1234.123456789123456789") * 10**16
    assert eth["suggested_decimals"] == 15 and eth["rounding"] == "down"
    suggested = parse_params(json.loads((tmp_path / "p2.json").read_text()))
    accounts = {a.account_id: a for a in read_accounts(path, suggested)}
    # Rounded toward −∞ at 15 decimals: never more than the export says, less than 10^-15 below it.
    eth_slot = [a.symbol for a in suggested.assets].index("ETH")
    value = Fraction(accounts["a"].amounts[eth_slot], 10**15)
    assert 0 <= Fraction("1234.123456789123456789") - value < Fraction(1, 10**15)


@pytest.mark.node
def test_a_realistic_export_proves_and_verifies(tmp_path):
    """Wallet balances, sizes with entry prices, ETH at 18 decimals (above 9.22 ETH) and ids with
    stray spaces: suggest-decimals, then prove and verify with only documented options; the totals
    are the wallet balances summed here, and a holder's file shows the entry cost."""
    rows = [
        ("uid1 ", "100000", "0", "-1", "96000.5"),
        (" uid2", "10000", "12.345678901234567891", "1", "90000"),
        ("uid3", "5", "0", "0", ""),
    ]
    text = "account_id,USDT,ETH,BTC-PERP,BTC-PERP:entry_price\n" + "".join(",".join(r) + "\n" for r in rows)
    accounts = _write(tmp_path, "export.csv", text)
    params = tmp_path / "published-params.json"
    api.params_suggest_decimals(PARAMS_PATH(tmp_path), accounts, params)
    secret = api.keygen_secret(tmp_path / "venue.secret")
    api.setup(params, tmp_path / "keys", batch_size=2)
    api.prove(params, accounts, secret, tmp_path / "keys", tmp_path / "bundle", tmp_path / "incl")
    report = api.verify(tmp_path / "bundle", backend="python")
    assert report.valid, report.document()
    totals = report.document()["totals"]
    wallet_usdt = sum(Fraction(r[1]) for r in rows)
    assert Fraction(totals["assets"]["USDT"]["credit"]) == wallet_usdt
    eth_decimals = json.loads(params.read_text())["assets"][1]["decimals"]
    exact_eth = sum(Fraction(r[2]) for r in rows)
    assert 0 <= exact_eth - Fraction(totals["assets"]["ETH"]["credit"]) < Fraction(4, 10**eth_decimals)
    assert totals["entry_costs"]["BTC-PERP"] == {"paid": "90000", "received": "96000.5", "net": "-6000.5"}
    holder = api.verify_inclusion_file(tmp_path / "incl" / "uid1.json", bundle_path=tmp_path / "bundle")
    assert holder.valid and holder.shown_account()["entry_costs"] == {"BTC-PERP": "-96000.5"}
