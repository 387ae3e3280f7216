"""Peak memory of the `prove` orchestrator before the first proof, one pass versus a list first.

    .venv/bin/python bench/bench_prove_memory.py            # 2^20 accounts (≈ 10^6)
    .venv/bin/python bench/bench_prove_memory.py 16 18      # other sizes (exponents)

What `zksolv prove` holds while it proves is what it built before the first batch: the margin
check, the commitment (columns and tree) and the batch plan (statements and running totals). This
runs exactly that part of zksolv.prove.prove, B = 64 on the demo venue (4 assets + 4 perps), in a
fresh process per run so each peak RSS is its own:

* streamed: `SolvencyReport.counting` feeding `build_commitment` (what prove does now);
* listed: `list(read_accounts(...))`, `check_solvency`, then `build_commitment` (what it did).

Both then plan the batches and build the first batch's circuit input. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_commitment import SEED, generate

BATCH = 64


def measure(params_path: Path, accounts_path: Path, streamed: bool) -> dict:
    from zksolv.accounts import read_accounts
    from zksolv.commitment import build_commitment
    from zksolv.margin import SolvencyReport, Totals, check_solvency
    from zksolv.params import load_params
    from zksolv.witness import plan_batches

    params = load_params(params_path)
    wall, cpu = time.perf_counter(), time.process_time()
    if streamed:
        report = SolvencyReport(totals=Totals.zero(params))
        commitment = build_commitment(
            report.counting(read_accounts(accounts_path, params), params), params, SEED, None, BATCH
        )
    else:
        accounts = list(read_accounts(accounts_path, params))
        report = check_solvency(accounts, params)
        commitment = build_commitment(accounts, params, SEED, None, BATCH)
        del accounts
    committed = time.perf_counter() - wall
    plan = plan_batches(commitment, SEED, BATCH)
    plan.batch_input(0)
    return {
        "accounts": report.accounts,
        "below": len(report.insolvent),
        "root": str(commitment.root),
        "batches": plan.n_batches,
        "commit_s": committed,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("exponents", type=int, nargs="*", default=[20])
    ap.add_argument("--child", nargs=3, metavar=("PARAMS", "ACCOUNTS", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        params, accounts, mode = args.child
        print(json.dumps(measure(Path(params), Path(accounts), mode == "streamed")))
        return
    print("| accounts | orchestrator before proving | wall (CPU) | peak RSS | batches of 64 |")
    print("|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.exponents:
            params, accounts = generate(Path(tmp), 1 << k)
            runs = {}
            for mode in ("streamed", "listed"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(params), str(accounts), mode],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[mode] = json.loads(out.stdout)
                r = runs[mode]
                print(
                    f"| 2^{k} | {mode} | {r['wall_s']:.1f} s ({r['cpu_s']:.1f} s) | {r['rss_mb']:,.0f} MiB | "
                    f"{r['batches']:,} |",
                    flush=True,
                )
            assert runs["streamed"]["root"] == runs["listed"]["root"]


if __name__ == "__main__":
    main()
