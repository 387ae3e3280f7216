"""The demo: a realistic synthetic venue, proved and verified end to end.

4 assets (a stablecoin, BTC, ETH, SOL) with haircuts and liability weights,
4 perpetual markets, longs and shorts, some borrowers, a few accounts
placed just above maintenance, a few being liquidated (below maintenance) and
one in every hundred bankrupt (negative equity), covered by an insurance fund,
and two holders with an isolated sub-account beside their main account (one of
them below maintenance on its own): what a real venue's snapshot looks like at
any instant.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import time
from pathlib import Path

from .accounts import SUBACCOUNT_COLUMN, Account
from .demo_portfolio import write_portfolio_inputs
from .errors import ZksolvError
from .events import Event, EventSink, ignore, step
from .field import BPS
from .margin import account_equity, maintenance_health
from .params import load_params, parse_params
from .prove import prove
from .secret import generate_secret
from .setup import cached_setup
from .statement import circuit_name
from .units import from_units
from .verify import verify_bundle

DEMO_PARAMS = {
    "epoch": "2026-11-24T00:00:00Z",
    "quote": "USD",
    "assets": [
        {"symbol": "USDC", "decimals": 6, "price": "1", "asset_weight_bps": 10000, "liability_weight_bps": 10000},
        {"symbol": "BTC", "decimals": 8, "price": "97000.12", "asset_weight_bps": 9000, "liability_weight_bps": 11000},
        {"symbol": "ETH", "decimals": 8, "price": "3612.45", "asset_weight_bps": 8500, "liability_weight_bps": 11500},
        {"symbol": "SOL", "decimals": 6, "price": "241.37", "asset_weight_bps": 7500, "liability_weight_bps": 13000},
    ],
    "markets": [
        # Tiered maintenance (PROTOCOL.md §3.1) and a mark price that is the 1-hour TWAP of the
        # published oracle rounds (§2.1): 97011.7.
        {
            "symbol": "BTC-PERP",
            "decimals": 4,
            "mark_price_source": {
                "method": "twap",
                "start": "2026-11-23T23:00:00Z",
                "end": "2026-11-24T00:00:00Z",
                "precision": 1,
                "observations": [
                    {"time": "2026-11-23T22:59:00Z", "price": "97000"},
                    {"time": "2026-11-23T23:15:00Z", "price": "97020"},
                    {"time": "2026-11-23T23:40:00Z", "price": "97005"},
                    {"time": "2026-11-23T23:50:00Z", "price": "97015"},
                ],
            },
            "brackets": [
                {"notional_floor": "0", "maintenance_margin_bps": 300},
                {"notional_floor": "250000", "maintenance_margin_bps": 500},
                {"notional_floor": "1000000", "maintenance_margin_bps": 1000},
            ],
        },
        {"symbol": "ETH-PERP", "decimals": 3, "mark_price": "3611.8", "maintenance_margin_bps": 400},
        {"symbol": "SOL-PERP", "decimals": 2, "mark_price": "241.2", "maintenance_margin_bps": 600},
        {"symbol": "DOGE-PERP", "decimals": 0, "mark_price": "0.41237", "maintenance_margin_bps": 1000},
    ],
    "insurance_fund": "250000",
}
MARKER = "demo.json"


def synthetic_accounts(n: int, seed: int = 2026) -> list[tuple[str, tuple[int, ...]]]:
    """n accounts, a few of them barely above maintenance; accounts 11 and 23 of every 50 are being
    liquidated (below maintenance, equity still positive), account 5 of every 100 is bankrupt and
    account 42 of every 100 holds a position in BTC-PERP's top maintenance bracket. These are the
    holders' main accounts; `synthetic_subaccounts` adds isolated sub-accounts to two of them."""
    rng = random.Random(seed)
    params = parse_params(DEMO_PARAMS)
    usdc = params.assets[0]
    unit_health = usdc.scaled_price * usdc.asset_weight_bps  # health of one USDC base unit (weights 1.0 both ways)
    accounts = []
    for i in range(n):
        amounts = [0] * 8
        amounts[0] = rng.randrange(100, 500_000) * 10**6
        for slot, chance, top in ((1, 0.5, 3 * 10**8), (2, 0.5, 40 * 10**8), (3, 0.3, 2000 * 10**6)):
            if rng.random() < chance:
                amounts[slot] = rng.randrange(1, top)
        if rng.random() < 0.2:  # a borrower: debt in one non-stable asset against the rest
            slot = rng.randrange(1, 4)
            amounts[slot] = -rng.randrange(1, [0, 10**8, 10 * 10**8, 500 * 10**6][slot])
        for slot, top in ((4, 5 * 10**4), (5, 50 * 10**3), (6, 500 * 10**2), (7, 200_000)):
            if rng.random() < 0.4:
                amounts[slot] = rng.choice((-1, 1)) * rng.randrange(1, top)
        if i % 100 == 42:  # a whale: 15 BTC-PERP (~1.46M USD notional) in the top maintenance bracket
            amounts[4] = rng.choice((-1, 1)) * 15 * 10**4
        liquidating = i % 50 in (11, 23)
        if liquidating:  # a perp position whose maintenance margin the account no longer covers
            amounts[4] = rng.choice((-1, 1)) * rng.randrange(10**4, 5 * 10**4)
        health = maintenance_health(tuple(amounts), params)
        near = i % 50 == 7  # a few accounts just above maintenance
        if liquidating:
            # USDC counts at weight 1 both ways, so 10000·equity − health (haircuts plus maintenance
            # margin) does not depend on it: half of that gap below zero leaves the equity positive.
            gap = BPS * account_equity(tuple(amounts), params) - health
            amounts[0] += (-(gap // 2) - health) // unit_health
        elif health < 0 or near:
            target = rng.randrange(1, 100) * 10**6 * unit_health if near else 10**9 * unit_health
            amounts[0] += (target - health) // unit_health + 1
        if i % 100 == 5:  # bankrupt: a USDC debt larger than everything the account holds
            amounts = [-rng.randrange(1_000, 20_000) * 10**6, rng.randrange(1, 10**6), 0, 0, 0, 0, 0, 0]
        account = tuple(amounts)
        health, equity = maintenance_health(account, params), account_equity(account, params)
        assert (health < 0) == (liquidating or i % 100 == 5) and (equity < 0) == (i % 100 == 5)
        accounts.append((f"acct-{i:05d}", account))
    return accounts


def synthetic_subaccounts(n: int) -> list[Account]:
    """Isolated sub-accounts (their own collateral and positions, counted on their own) of the holders
    acct-00001 and acct-00002 of `synthetic_accounts(n)`, whose main accounts are at or above
    maintenance: acct-00001/isolated-btc is long 1 BTC-PERP opened at 97,500 with 2,000 USDC of
    collateral and is below maintenance at the mark (equity still positive: liquidated, not bankrupt);
    acct-00002/isolated-eth is short 10 ETH-PERP opened at 3,500 with 3,000 USDC and above it."""
    params = parse_params(DEMO_PARAMS)
    usdc, btc_perp, eth_perp = 0, 4, 5  # slots
    specs = [
        (1, "isolated-btc", {usdc: (2_000 - 97_500) * 10**6, btc_perp: 1 * 10**4}, True),
        (2, "isolated-eth", {usdc: (3_000 + 35_000) * 10**6, eth_perp: -10 * 10**3}, False),
    ]
    accounts = []
    for holder, name, slots, below in specs:
        if holder >= n:
            continue
        amounts = tuple(slots.get(i, 0) for i in range(params.n_slots))
        health, equity = maintenance_health(amounts, params), account_equity(amounts, params)
        assert (health < 0) == below and equity > 0
        accounts.append(Account(f"acct-{holder:05d}", amounts, name))
    return accounts


def write_inputs(folder: Path, n: int) -> tuple[Path, Path, Path]:
    """The demo's params.json, accounts.csv (n holders' main accounts, with a `subaccount` column for
    the isolated sub-accounts of `synthetic_subaccounts`) and a secret."""
    folder.mkdir(parents=True, exist_ok=True)
    params_path = folder / "params.json"
    params_path.write_text(json.dumps(DEMO_PARAMS, indent=2) + "\n")
    params = parse_params(DEMO_PARAMS)
    accounts_path = folder / "accounts.csv"
    rows = [Account(account_id, amounts) for account_id, amounts in synthetic_accounts(n)] + synthetic_subaccounts(n)
    with accounts_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", SUBACCOUNT_COLUMN, *params.slot_symbols])
        for account in rows:
            writer.writerow(
                [
                    account.account_id,
                    account.subaccount,
                    *(from_units(a, d) if a else "" for a, d in zip(account.amounts, params.slot_decimals)),
                ]
            )
    secret_path = folder / "venue.secret"
    if not secret_path.exists():
        generate_secret(secret_path)
    return params_path, accounts_path, secret_path


VENUES = ("flat", "portfolio")


def run_demo(
    out: Path | str,
    n_accounts: int = 300,
    batch_size: int = 16,
    on_event: EventSink = ignore,
    venue: str = "flat",
) -> dict:
    """Write the synthetic inputs, set up (cached), prove, verify; report each stage as a `step` event
    (zksolv.events) and return the summary. `venue`: "flat" (this module's venue) or "portfolio"
    (zksolv.demo_portfolio: options and scenario margin)."""
    out = Path(out)

    def say(message: str) -> None:
        on_event(step(message))

    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ZksolvError(f"{out} exists and is not a demo folder; choose another folder", hint="choose another --out")
    for name in ("bundle", "inclusion"):
        shutil.rmtree(out / name, ignore_errors=True)
    timings = {}
    t = time.monotonic()
    if venue == "portfolio":
        params_path, accounts_path, secret_path = write_portfolio_inputs(out / "inputs", n_accounts)
    else:
        params_path, accounts_path, secret_path = write_inputs(out / "inputs", n_accounts)
    (out / MARKER).write_text(json.dumps({"accounts": n_accounts, "batch_size": batch_size, "venue": venue}) + "\n")
    params = load_params(params_path)
    K, M, S = len(params.assets), len(params.markets), len(params.scenarios)
    say(
        f"1/3 setup: {circuit_name(K, M, batch_size, params.tiers, scenarios=S)} ({K} assets, {M} markets, "
        f"{S} scenarios, {batch_size} accounts per proof) — cached after the first run"
    )
    keys = cached_setup(
        K, M, batch_size, on_event=lambda e: say(f"    {e['message']}"), tiers=params.tiers, scenarios=S
    )
    timings["setup_s"] = round(time.monotonic() - t, 1)
    say(f"2/3 prove: {n_accounts} accounts")
    t = time.monotonic()

    def on_prove_event(e: Event) -> None:
        if e.get("event") == "batch":
            say(f"    {e['done']}/{e['of']} batches proved (batch {e['index']})")

    result = prove(
        params_path,
        accounts_path,
        secret_path,
        keys.dir,
        out / "bundle",
        out / "inclusion",
        allow_liquidations=True,
        on_event=on_prove_event,
    )
    timings["prove_s"] = round(time.monotonic() - t, 1)
    say("3/3 verify")
    t = time.monotonic()
    report = verify_bundle(out / "bundle")
    timings["verify_s"] = round(time.monotonic() - t, 1)
    for check in report.checks:
        say(f"    [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    for warning in report.warnings:
        say(f"    warning: {warning}")
    manifest = report.manifest or {}
    summary = {
        "valid": report.valid,
        "root": manifest.get("root"),
        "epoch": manifest.get("epoch"),
        "accounts": n_accounts,
        "capacity": result.commitment.capacity,
        "batches": result.plan.n_batches,
        "constraints_per_batch": keys.info["constraints"],
        "timings": timings,
        "totals": manifest.get("totals"),
        "liquidations": manifest.get("liquidations"),
        "scenarios": manifest.get("scenarios"),
        "bundle": str(out / "bundle"),
        "inclusion": str(out / "inclusion"),
        "inputs": str(out / "inputs"),
    }
    say(f"\n{'VALID' if report.valid else 'INVALID'} bundle at {out / 'bundle'}  (root {summary['root']})")
    for symbol, t in (summary["totals"] or {}).get("assets", {}).items():
        say(f"  {symbol:>9}: credits {t['credit']}, debits {t['debit']}")
    for symbol, t in (summary["totals"] or {}).get("markets", {}).items():
        say(f"  {symbol:>9}: long {t['long']}, short {t['short']}")
    liquidations = summary["liquidations"]
    if liquidations:
        say(
            f"  below maintenance: {liquidations['accounts_below_maintenance']} accounts, shortfall "
            f"{liquidations['shortfall']} USD; bankrupt: {liquidations['bankrupt_accounts']}, bad debt "
            f"{liquidations['bad_debt']} USD; insurance fund {liquidations['insurance_fund']} USD: "
            f"{'covered' if liquidations['covered'] else 'NOT covered'}"
        )
    for row in summary["scenarios"] or []:
        say(
            f"  {row['name']}: {row['accounts_below_maintenance']} below maintenance, shortfall {row['shortfall']} "
            f"USD, bad debt {row['bad_debt']} USD: {'covered' if row['covered'] else 'NOT covered'}"
        )
    say(f"timings: setup {timings['setup_s']} s, prove {timings['prove_s']} s, verify {timings['verify_s']} s")
    first = "pm-00000.json" if venue == "portfolio" else "acct-00000.json"
    say(
        f"inclusion proofs: {out / 'inclusion'}; try: zksolv inclusion verify "
        f"{out / 'inclusion' / first} --bundle {out / 'bundle'}"
    )
    return summary
