"""The portfolio-margin demo venue (PROTOCOL.md §3.3): BTC and ETH spot, their perps and three BTC
options, margined by 16 CME SPAN scan scenarios on BTC plus two named stress scenarios.

Cross-margined traders sit beside portfolio-margined ones: basis traders (spot BTC hedged by a short
perp) whom the flat rates would call below maintenance but whose worst scenario loss their
collateral covers; protective puts under a long perp; and naked put sellers, solvent at today's
prices and below maintenance in the scenarios that move BTC down. The bundle proves all of it and
publishes the stress report of every scenario.
"""

from __future__ import annotations

import csv
import json
import random
from fractions import Fraction
from pathlib import Path

from .accounts import MODE_COLUMN, SUBACCOUNT_COLUMN, Account
from .margin import account_health, maintenance_health
from .options import span_scan_scenarios
from .params import parse_params
from .secret import generate_secret
from .units import from_units

EXPIRY = "2027-03-26T08:00:00Z"


def portfolio_params() -> dict:
    """The venue's params.json: prices, weights, the option series' published inputs and the scenarios
    (the option values and risk arrays are derived: `zksolv check` and `verify` recompute them)."""
    scenarios = span_scan_scenarios("BTC", ["BTC", "BTC-PERP"], Fraction(15, 100), Fraction(25, 100))
    scenarios += [
        {"name": "BTC -20%", "shocks": {"BTC": "-0.2", "BTC-PERP": "-0.2"}},
        {
            "name": "crypto crash",
            "shocks": {"BTC": "-0.3", "BTC-PERP": "-0.3", "ETH": "-0.4", "ETH-PERP": "-0.4"},
            "volatility_shock": "0.5",
        },
    ]

    def option(symbol: str, kind: str, strike: str, volatility: str) -> dict:
        return {
            "symbol": symbol,
            "decimals": 2,
            "underlying": "BTC-PERP",
            "kind": kind,
            "strike": strike,
            "expiry": EXPIRY,
            "implied_volatility": volatility,
            "interest_rate": "0.04",
        }

    return {
        "epoch": "2026-11-24T00:00:00Z",
        "quote": "USD",
        "assets": [
            {"symbol": "USDC", "decimals": 6, "price": "1", "asset_weight_bps": 10000, "liability_weight_bps": 10000},
            {"symbol": "BTC", "decimals": 8, "price": "97000", "asset_weight_bps": 9500, "liability_weight_bps": 10500},
            {"symbol": "ETH", "decimals": 8, "price": "3600", "asset_weight_bps": 9000, "liability_weight_bps": 11000},
        ],
        "markets": [
            {"symbol": "BTC-PERP", "decimals": 4, "mark_price": "97010", "maintenance_margin_bps": 500},
            {"symbol": "ETH-PERP", "decimals": 3, "mark_price": "3601", "maintenance_margin_bps": 500},
        ],
        "options": [
            option("BTC-26MAR27-80000-P", "put", "80000", "0.58"),
            option("BTC-26MAR27-90000-P", "put", "90000", "0.55"),
            option("BTC-26MAR27-110000-C", "call", "110000", "0.5"),
        ],
        "insurance_fund": "100000",
        "scenarios": scenarios,
    }


# Decimals of the slots of portfolio_params: assets, perps, options.
DECIMALS = (6, 8, 8, 4, 3, 2, 2, 2)


def _amounts(**whole: Fraction | int) -> tuple[int, ...]:
    """Amounts in whole units by slot name (usdc=…, btc_perp=…) → base units, rounded down."""
    names = ("usdc", "btc", "eth", "btc_perp", "eth_perp", "put_80k", "put_90k", "call_110k")
    out = [0] * len(names)
    for name, value in whole.items():
        slot = names.index(name)
        out[slot] = int(Fraction(value) * 10 ** DECIMALS[slot] // 1)
    return tuple(out)


def portfolio_accounts(n: int, seed: int = 2027) -> list[Account]:
    """n accounts in a fixed rotation of five kinds, each checked against the reference model as it is
    made. Perp and option positions carry their cost in the USDC balance (PnL is settled in the quote
    balance, PROTOCOL.md §3): USDC = collateral − size·entry price − premiums paid + premiums received.

    0 cross-margined perp traders; 1 portfolio-margined reverse basis trades (long the perp, short
    borrowed spot BTC) with 7 % collateral, which the flat rates (5 % margin plus the 5 % liability
    weight on the BTC debt) would liquidate; 2 portfolio-margined protective puts under a long perp;
    3 portfolio-margined naked put sellers, below maintenance in the scenarios that move BTC down;
    4 cross-margined spot holders."""
    params = parse_params(portfolio_params())
    value = {m.symbol: Fraction(m.mark_price) for m in params.markets}
    mark = value["BTC-PERP"]
    rng = random.Random(seed)
    accounts = []
    for i in range(n):
        kind = i % 5
        size = rng.randrange(1, 6)
        if kind == 0:
            side, eth = rng.choice((-1, 1)), rng.choice((-1, 1)) * rng.randrange(1, 20)
            entry = mark * (1 + Fraction(rng.randrange(-300, 300), 10_000))
            collateral = rng.randrange(20_000, 60_000) * size
            amounts = _amounts(
                usdc=collateral - side * size * entry - eth * value["ETH-PERP"], btc_perp=side * size, eth_perp=eth
            )
        elif kind == 1:
            amounts = _amounts(usdc=(7_000 - mark + 97_000) * size, btc=-size, btc_perp=size)
        elif kind == 2:
            premium = value["BTC-26MAR27-90000-P"]
            amounts = _amounts(usdc=(15_000 - mark - premium) * size, btc_perp=size, put_90k=size)
        elif kind == 3:
            received = value["BTC-26MAR27-80000-P"] + value["BTC-26MAR27-90000-P"]
            amounts = _amounts(usdc=(12_000 + received) * size, put_80k=-size, put_90k=-size)
        else:
            amounts = _amounts(
                usdc=rng.randrange(1_000, 50_000), btc=Fraction(rng.randrange(1, 200), 100), eth=rng.randrange(1, 30)
            )
        portfolio = kind in (1, 2, 3)
        account = Account(f"pm-{i:05d}", amounts, "", portfolio)
        assert (account_health(amounts, params, portfolio) < 0) == (kind == 3), (i, kind)
        if kind == 1:
            assert maintenance_health(amounts, params) < 0  # the flat model would liquidate it
        accounts.append(account)
    return accounts


def write_portfolio_inputs(folder: Path, n: int) -> tuple[Path, Path, Path]:
    """params.json, accounts.csv (with a margin_mode column) and a secret for the portfolio venue."""
    folder.mkdir(parents=True, exist_ok=True)
    document = portfolio_params()
    params_path = folder / "params.json"
    params_path.write_text(json.dumps(document, indent=2) + "\n")
    params = parse_params(document)
    accounts_path = folder / "accounts.csv"
    with accounts_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", SUBACCOUNT_COLUMN, MODE_COLUMN, *params.slot_symbols])
        for account in portfolio_accounts(n):
            writer.writerow(
                [
                    account.account_id,
                    account.subaccount,
                    "portfolio" if account.portfolio else "cross",
                    *(from_units(a, d) if a else "" for a, d in zip(account.amounts, params.slot_decimals)),
                ]
            )
    secret_path = folder / "venue.secret"
    if not secret_path.exists():
        generate_secret(secret_path)
    return params_path, accounts_path, secret_path
