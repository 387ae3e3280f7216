"""Benchmark zksolv.ptau.make_dev_ptau (insecure development ptau generation).

Usage: .venv/bin/python bench/bench_ptau.py [POWER ...]     (default: 12 14 16)

Prints a markdown table with wall time, CPU time (user + system of the Node
process and its worker threads) and peak RSS per power.  Each power is
measured in a fresh Python child process so that getrusage(RUSAGE_CHILDREN)
covers exactly one Node run; CPU time is reported next to wall time because
the machine may be shared (wall alone would hide contention).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure_one(power: int, out: Path) -> dict[str, float]:
    """Run make_dev_ptau once in this process and return its costs."""
    from zksolv.ptau import make_dev_ptau

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    make_dev_ptau(power, out)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "power": power,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": after.ru_maxrss / 1024,  # Linux: KiB
        "size_mb": out.stat().st_size / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("powers", nargs="*", type=int, default=[12, 14, 16])
    ap.add_argument("--child", nargs=2, metavar=("POWER", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(measure_one(int(args.child[0]), Path(args.child[1]))))
        return 0

    rows = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_ptau_") as tmp:
        for power in args.powers:
            out = Path(tmp) / f"dev_{power}.ptau"
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(power), str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr, file=sys.stderr)
                return 1
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            out.unlink()

    print(
        f"make_dev_ptau on {os.cpu_count()} CPUs, load average before start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}\n"
    )
    print("| power | wall (s) | CPU (s) | CPU/wall | peak RSS (MiB) | file (MiB) |")
    print("|------:|---------:|--------:|---------:|---------------:|-----------:|")
    for r in rows:
        print(
            f"| 2^{r['power']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['cpu_s'] / r['wall_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['size_mb']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
