"""Commitment at scale: read + validate a generated CSV, keys, leaves, tree; wall, CPU, peak RSS.

    .venv/bin/python bench/bench_commitment.py            # 2^16, 2^18, 2^20 accounts
    .venv/bin/python bench/bench_commitment.py 12 14      # other sizes (exponents)

4 assets + 4 markets (8 slots: leaves are Poseidon(4)). Each size runs in a fresh
process so its peak RSS is its own. Stages (the steps of zksolv.api.commit):

* read: `list(read_accounts(csv, params))` — streaming CSV reader and validation;
* keys: salts and id hashes (SHA-256/HMAC), Poseidon(2) keys, padding keys, sort by key;
* leaves: Poseidon(key, packed amounts) for every slot;
* tree: the 2^k − 1 Poseidon(2) nodes.

"Poseidon" is the part of a stage spent inside the batch hash. CPU counts all threads.
A last row per size, "streamed", runs `build_commitment(read_accounts(...))` in one pass (no
list of Account objects first, unlike zksolv.api.commit today): its peak RSS is what a
streaming caller needs.
Environment: ZKSOLV_NO_NATIVE=1 (no C extension), ZKSOLV_NO_SIMD=1 (portable C only),
ZKSOLV_THREADS=n. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zksolv.demo import DEMO_PARAMS as PARAMS  # the demo venue: 4 assets + 4 perps

SEED = bytes(range(32))


def generate(folder: Path, n: int) -> tuple[Path, Path]:
    """A CSV of n accounts with realistic-looking amounts (some empty cells, negatives, decimals)."""
    params = folder / "params.json"
    params.write_text(json.dumps(PARAMS))
    accounts = folder / f"accounts-{n}.csv"
    rng = random.Random(n)
    r = rng.randrange
    with accounts.open("w") as out:
        out.write("account_id,USDC,BTC,ETH,SOL,BTC-PERP,ETH-PERP,SOL-PERP,DOGE-PERP\n")
        for i in range(n):
            sol = f"{r(10**4)}.{r(10**6):06d}" if i % 3 else ""
            sol_perp = f"-{r(500)}.{r(100):02d}" if i % 5 == 0 else ""
            out.write(
                f"acct-{i:08d},{r(10**9)}.{r(10**6):06d},{r(100)}.{r(10**8):08d},{r(1000)}.{r(10**4)},"
                f"{sol},{r(-100, 100)}.{r(10**4):04d},{r(-1000, 1000)}.5,{sol_perp},{r(-(10**6), 10**6)}\n"
            )
    return params, accounts


def measure(params_path: Path, accounts_path: Path) -> dict:
    """Run the stages in this process; returns wall/CPU seconds, Poseidon seconds and peak RSS per stage."""
    from zksolv import commitment as cm
    from zksolv.accounts import read_accounts
    from zksolv.params import load_params
    from zksolv.poseidon import backend, default_threads, poseidon_batch

    hashing = [0.0]

    def timed_batch(*args, **kwargs):
        start = time.perf_counter()
        try:
            return poseidon_batch(*args, **kwargs)
        finally:
            hashing[0] += time.perf_counter() - start

    cm.poseidon_batch = timed_batch  # instrument the calls made by zksolv.commitment
    params = load_params(params_path)
    stages = {}

    def stage(name, fn):
        hashing[0] = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        stages[name] = {
            "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "poseidon": hashing[0],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        return result

    accounts = stage("read", lambda: list(read_accounts(accounts_path, params)))
    slots, capacity = stage("keys", lambda: cm._build_slots(accounts, params, SEED, None, None))
    leaves = stage("leaves", lambda: cm.leaf_hashes(slots))
    levels = stage("tree", lambda: cm.merkle_levels(leaves))
    commitment = cm.Commitment(params, capacity, slots, levels)
    return {
        "n": len(accounts),
        "capacity": capacity,
        "root": str(commitment.root),
        "stages": stages,
        "backend": backend(),
        "threads": default_threads(),
    }


def measure_streamed(params_path: Path, accounts_path: Path) -> dict:
    from zksolv.accounts import read_accounts
    from zksolv.commitment import build_commitment
    from zksolv.params import load_params

    params = load_params(params_path)
    wall, cpu = time.perf_counter(), time.process_time()
    commitment = build_commitment(read_accounts(accounts_path, params), params, SEED)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "root": str(commitment.root),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exponents", nargs="*", type=int, default=[16, 18, 20])
    parser.add_argument("--child", nargs=2, metavar=("PARAMS", "CSV"), help=argparse.SUPPRESS)
    parser.add_argument("--streamed", nargs=2, metavar=("PARAMS", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return
    if args.streamed:
        print(json.dumps(measure_streamed(Path(args.streamed[0]), Path(args.streamed[1]))))
        return
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; {os.cpu_count()} cores\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="zksolv-bench-") as tmp:
        for k in args.exponents:
            params, accounts = generate(Path(tmp), 1 << k)
            result = run_child("--child", str(params), str(accounts))
            result["streamed"] = run_child("--streamed", str(params), str(accounts))
            if result["streamed"]["root"] != result["root"]:
                sys.exit(f"2^{k}: the streamed commitment has another root")
            accounts.unlink()
            rows.append((k, result))
            print(
                f"2^{k}: root {result['root'][:16]}…, backend {result['backend']}, {result['threads']} threads",
                file=sys.stderr,
                flush=True,
            )
    backend_name, threads = rows[0][1]["backend"], rows[0][1]["threads"]
    print(f"Poseidon backend: {backend_name}, {threads} threads\n")
    print("| accounts | stage | wall s | CPU s | of which Poseidon (wall s) | µs/account (wall) | peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for k, result in rows:
        n = result["n"]
        total_wall = total_cpu = total_hash = 0.0
        for name, s in result["stages"].items():
            total_wall += s["wall"]
            total_cpu += s["cpu"]
            total_hash += s["poseidon"]
            hashed = f"{s['poseidon']:.2f}" if name != "read" else "–"
            print(
                f"| 2^{k} | {name} | {s['wall']:.2f} | {s['cpu']:.2f} | {hashed} | {s['wall'] / n * 1e6:.1f} | "
                f"{s['rss_mb']:.0f} |"
            )
        peak = max(s["rss_mb"] for s in result["stages"].values())
        print(
            f"| 2^{k} | **total** | **{total_wall:.2f}** | {total_cpu:.2f} | {total_hash:.2f} | "
            f"{total_wall / n * 1e6:.1f} | **{peak:.0f}** |"
        )
        streamed = result["streamed"]
        print(
            f"| 2^{k} | streamed (one pass) | {streamed['wall']:.2f} | {streamed['cpu']:.2f} | | "
            f"{streamed['wall'] / n * 1e6:.1f} | {streamed['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
