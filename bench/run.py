"""`make bench`: every benchmark in sequence; results go to stdout as Markdown.

The figures recorded in docs/BENCHMARKS.md come from this command (machine,
date and load are noted there). Each script can also be run on its own.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = [
    ("Constraint counts per template (K=4, M=4)", ["constraint_counts.py", "4", "4", "--batch", "16", "64"]),
    ("Development powers of tau", ["bench_ptau.py", "12", "14", "16"]),
    ("Prover per batch size (snarkjs)", ["bench_prove.py", "--batch", "16", "64"]),
    ("Pure-Python bundle verification", ["bench_verify.py"]),
    ("Whole-bundle verification per backend (16 and 256 batches)", ["bench_bundle_verify.py"]),
    ("Commitment at scale (2^16, 2^18, 2^20 accounts)", ["bench_commitment.py"]),
    ("Prove orchestrator memory before proving, one pass vs a list (2^20 accounts)", ["bench_prove_memory.py"]),
    ("Inclusion files at scale (2^16, 2^20 accounts)", ["bench_inclusion.py"]),
    ("A 10^4-account run: 2 local workers and a 2-worker Dask LocalCluster", ["bench_scale_run.py"]),
    ("Parallel proving and prover backends", ["bench_parallel.py"]),
    ("Witness generators per batch, WASM and native (circom --c), end to end", ["bench_witness.py"]),
    ("Gas of a publication on a local JSON-RPC node (Hardhat)", ["bench_publish.py"]),
]


def main() -> None:
    print(f"# zksolv benchmarks — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"machine: {platform.node()}, {platform.processor() or platform.machine()}, "
        f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
        f"Python {platform.python_version()}; load before: {Path('/proc/loadavg').read_text().split()[:3]}\n"
    )
    failed = 0
    for title, (script, *args) in STEPS:
        print(f"\n## {title}\n", flush=True)
        if not (HERE / script).exists():
            print(f"(skipped: bench/{script} not present)")
            continue
        proc = subprocess.run([sys.executable, str(HERE / script), *args])
        failed += proc.returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
