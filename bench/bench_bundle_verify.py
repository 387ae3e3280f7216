"""Whole-bundle verification time per backend, for bundles of 16 and 256 batches.

Usage:  .venv/bin/python bench/bench_bundle_verify.py [--batches 16 256] [--backends python snarkjs evm] [--evm-max 16]

Groth16 verification costs the same for any circuit size, so the bundles use
the small test shape (2 assets + 2 markets, 4 accounts per batch) to keep the
proving cheap (arkworks prover when installed). Bundles are cached under
build/bench-bundles/. Each verification is `zksolv verify BUNDLE --backend X`
as a user runs it, timed with /usr/bin/time (wall, CPU, peak RSS).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from zksolv.prove import prove
from zksolv.secret import generate_secret
from zksolv.setup import cached_setup

REPO = Path(__file__).resolve().parent.parent  # build/ cache lives here

PARAMS = {
    "epoch": "2026-11-24T00:00:00Z",
    "quote": "USD",
    "assets": [
        {"symbol": "USDC", "decimals": 6, "price": "1", "asset_weight_bps": 10000, "liability_weight_bps": 10000},
        {"symbol": "BTC", "decimals": 8, "price": "50000", "asset_weight_bps": 9000, "liability_weight_bps": 11000},
    ],
    "markets": [
        {"symbol": "BTC-PERP", "decimals": 4, "mark_price": "50000", "maintenance_margin_bps": 500},
        {"symbol": "ETH-PERP", "decimals": 3, "mark_price": "2000.5", "maintenance_margin_bps": 300},
    ],
}


def bundle_with(batches: int) -> Path:
    folder = REPO / "build" / "bench-bundles" / f"b{batches}"
    if (folder / "bundle" / "manifest.json").exists():
        return folder / "bundle"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(PARAMS))
    rows = ["account_id,USDC,BTC,BTC-PERP,ETH-PERP"]
    rows += [f"acct-{i},{5000 + i},0.0{i % 10},,-0.{i % 7}" for i in range(4 * batches)]
    (folder / "accounts.csv").write_text("\n".join(rows) + "\n")
    if not (folder / "venue.secret").exists():
        generate_secret(folder / "venue.secret")
    keys = cached_setup(2, 2, 4)
    prover = "arkworks" if importlib.util.find_spec("groth16py") else "snarkjs"
    prove(
        folder / "params.json",
        folder / "accounts.csv",
        folder / "venue.secret",
        keys.dir,
        folder / "bundle",
        capacity=4 * batches,
        force=True,
        prover=prover,
    )
    return folder / "bundle"


def timed_verify(bundle: Path, backend: str) -> dict:
    cmd = [
        "/usr/bin/time",
        "-f",
        "%e %U %S %M",
        sys.executable,
        "-m",
        "zksolv",
        "verify",
        str(bundle),
        "--backend",
        backend,
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall, user, system, rss = proc.stderr.strip().splitlines()[-1].split()
    valid = json.loads(proc.stdout)["valid"] if proc.stdout.strip() else False
    return {"wall": float(wall), "cpu": float(user) + float(system), "rss_mb": int(rss) // 1024, "valid": valid}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="*", default=[16, 256])
    ap.add_argument("--backends", nargs="*", default=["python", "snarkjs", "evm"])
    ap.add_argument(
        "--evm-max",
        type=int,
        default=16,
        help="largest bundle for the EVM backend (py-evm: ≈ 3 s per batch, plus the gas replay)",
    )
    args = ap.parse_args()
    print("| batches | backend | wall s | CPU s | peak RSS MB | per batch (wall) | valid |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for batches in args.batches:
        bundle = bundle_with(batches)
        for backend in args.backends:
            if backend == "evm" and batches > args.evm_max:
                continue
            r = timed_verify(bundle, backend)
            print(
                f"| {batches} | {backend} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss_mb']} "
                f"| {r['wall'] / batches:.2f} | {r['valid']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
