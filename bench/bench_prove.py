"""Prover benchmark: constraints, setup, witness, prove and verify per batch size.

Usage:  .venv/bin/python bench/bench_prove.py [--batch 16 64] [--repeat 3]

K = 4 assets + 4 perps (the demo's params). For each batch size: a cached
development setup (its timings are those of the run that made it), a
synthetic snapshot of two batches, then witness (WASM), snarkjs prove and
snarkjs verify of batch 0, each run under /usr/bin/time for wall, CPU and
peak RSS; medians over --repeat runs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from zksolv import snarkjs
from zksolv.accounts import Account
from zksolv.circuit import _jsonable, _node
from zksolv.commitment import build_commitment
from zksolv.demo import DEMO_PARAMS, synthetic_accounts
from zksolv.params import parse_params
from zksolv.setup import cached_setup
from zksolv.witness import plan_batches


def timed(cmd: list[str]) -> dict:
    """Run under /usr/bin/time: wall s, CPU s (user+sys), peak RSS MB."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    wall, user, system, rss_kb = proc.stderr.strip().splitlines()[-1].split()
    return {"wall": float(wall), "cpu": float(user) + float(system), "rss_mb": int(rss_kb) / 1024}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench(batch_size: int, repeat: int) -> dict:
    keys = cached_setup(4, 4, batch_size)
    params = parse_params(DEMO_PARAMS)
    accounts = [Account(i, a) for i, a in synthetic_accounts(2 * batch_size)]
    plan = plan_batches(build_commitment(accounts, params, bytes(32), batch_size=batch_size), bytes(32), batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Field elements as decimal strings: JSON numbers would lose precision in Node.
        (tmp / "input.json").write_text(json.dumps(_jsonable(plan.batch_input(0))))
        witness, prove, verify = [], [], []
        for _ in range(repeat):
            witness.append(
                timed([_node(), str(keys.witness_js), str(keys.wasm), str(tmp / "input.json"), str(tmp / "w.wtns")])
            )
            prove.append(
                timed(
                    [
                        *snarkjs._cli(),
                        "groth16",
                        "prove",
                        str(keys.zkey),
                        str(tmp / "w.wtns"),
                        str(tmp / "proof.json"),
                        str(tmp / "public.json"),
                    ]
                )
            )
            verify.append(
                timed(
                    [
                        *snarkjs._cli(),
                        "groth16",
                        "verify",
                        str(keys.verification_key),
                        str(tmp / "public.json"),
                        str(tmp / "proof.json"),
                    ]
                )
            )
    info = keys.info
    return {
        "batch": batch_size,
        "constraints": info["constraints"],
        "per_account": info["constraints_per_account"],
        "ptau_power": info["ptau"]["power"],
        "setup": info["timings"],
        "zkey_mb": round(keys.zkey.stat().st_size / 2**20, 1),
        "witness_wall": median(witness, "wall"),
        "witness_cpu": median(witness, "cpu"),
        "prove_wall": median(prove, "wall"),
        "prove_cpu": median(prove, "cpu"),
        "prove_rss_mb": round(max(r["rss_mb"] for r in prove)),
        "verify_wall": median(verify, "wall"),
        "accounts_per_cpu_s": round(batch_size / (median(prove, "cpu") + median(witness, "cpu")), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="*", default=[16, 64])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [bench(b, args.repeat) for b in args.batch]
    print(
        "| B | constraints | per account | ptau | setup total s (groth16 setup / contribute) | zkey MB "
        "| witness wall s (CPU) | prove wall s (CPU) | prove peak RSS MB | verify wall s | accounts / CPU-s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["setup"]
        print(
            f"| {r['batch']} | {r['constraints']:,} | {r['per_account']} | 2^{r['ptau_power']} "
            f"| {s.get('total_s')} ({s.get('groth16_setup_s')} / {s.get('contribute_s')}) | {r['zkey_mb']} "
            f"| {r['witness_wall']:.2f} ({r['witness_cpu']:.2f}) | {r['prove_wall']:.2f} ({r['prove_cpu']:.2f}) "
            f"| {r['prove_rss_mb']} | {r['verify_wall']:.2f} | {r['accounts_per_cpu_s']} |"
        )
    print("\n```json\n" + json.dumps(rows, indent=1) + "\n```")


if __name__ == "__main__":
    main()
