"""Inclusion files at scale: write every holder's file (SQLite store, and files for small sizes), serve one.

    .venv/bin/python bench/bench_inclusion.py            # 2^16 and 2^20 accounts
    .venv/bin/python bench/bench_inclusion.py 12 14      # other sizes (exponents)

4 assets + 4 markets (the demo's params), synthetic accounts built in memory (amounts drawn as in
bench/bench_commitment.py, every 8th account an isolated sub-account of the holder before it), so
2^k accounts are 2^k · 7/8 holders in a tree of capacity 2^k. Each size runs in a fresh process so
its peak RSS is its own. Timed, each on the same commitment:

* documents: `Commitment.holder_parts()` alone (each holder's file as a dict; no output);
* JSON texts: `Commitment.holder_part_texts()` alone, the compact JSON the store keeps (no output);
* sqlite: `write_inclusion_proofs(…, layout="sqlite")`, the whole store, and its size;
* files (k ≤ 16): `write_inclusion_proofs(…, layout="files")`, one JSON file per holder, and
  their size on disk;
* get: 1,000 random holders' files from a freshly opened store (`InclusionStore.get`: the SQLite
  lookup, the strict JSON parse and the params added back); a sample is checked against
  `Commitment.holder_proof`.

Prints a Markdown table; CPU counts all threads.
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
FILES_MAX_EXPONENT = 16  # the files layout beyond this is what the store is for (and slow to clean up)


def accounts(n: int):
    """n synthetic accounts: amounts in base units as bench_commitment's CSV draws them; every 8th
    account is an isolated sub-account of the previous account's holder."""
    from zksolv.accounts import Account

    rng = random.Random(n)
    r = rng.randrange
    holder = ""
    for i in range(n):
        amounts = (
            r(10**15),  # USDC, 6 decimals
            r(10**10),  # BTC, 8
            r(10**11),  # ETH, 8
            r(10**10) if i % 3 else 0,  # SOL, 6
            r(-(10**6), 10**6),  # BTC-PERP, 4
            r(-(10**6), 10**6),  # ETH-PERP, 3
            -r(50_000) if i % 5 == 0 else 0,  # SOL-PERP, 2
            r(-(10**6), 10**6),  # DOGE-PERP, 0
        )
        if i % 8 == 7:
            yield Account(holder, amounts, "isolated")
        else:
            holder = f"acct-{i:08d}"
            yield Account(holder, amounts)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def disk_bytes(folder: Path) -> tuple[int, int]:
    """(apparent bytes, bytes allocated on disk) of the files in `folder`."""
    apparent = allocated = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            st = entry.stat()
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def measure(k: int, files: bool) -> dict:
    from zksolv.commitment import build_commitment, write_inclusion_proofs
    from zksolv.inclusion_store import STORE_NAME, InclusionStore
    from zksolv.params import parse_params

    params = parse_params(PARAMS)
    commitment, commit_wall, _ = timed(lambda: build_commitment(accounts(1 << k), params, SEED))
    out: dict = {"k": k, "accounts": commitment.n_accounts, "holders": commitment.n_holders, "commit_s": commit_wall}
    out["rss_commitment_mb"] = rss_mb()
    _, out["documents_s"], out["documents_cpu"] = timed(lambda: sum(1 for _ in commitment.holder_parts()))
    _, out["json_s"], out["json_cpu"] = timed(lambda: sum(len(text) for _, text in commitment.holder_part_texts()))
    with tempfile.TemporaryDirectory(prefix="zksolv-bench-inclusion-") as tmp:
        folder = Path(tmp) / "sqlite"
        count, out["sqlite_s"], out["sqlite_cpu"] = timed(lambda: write_inclusion_proofs(commitment, folder, "sqlite"))
        out["rss_after_sqlite_mb"] = rss_mb()
        assert count == out["holders"], (count, out["holders"])
        out["store_bytes"] = (folder / STORE_NAME).stat().st_size
        holders = list(commitment.holders())
        rng = random.Random(k)
        sample = [rng.choice(holders) for _ in range(1000)]
        with InclusionStore(folder / STORE_NAME) as store:
            assert store.count() == count
            documents, out["get_s"], _ = timed(lambda: [store.get(account_id) for account_id, _ in sample])
        for (account_id, indices), document in list(zip(sample, documents))[:50]:
            assert document == commitment.holder_proof(indices), account_id
        out["file_bytes_mean"] = sum(len(json.dumps(d, indent=2, ensure_ascii=False)) + 1 for d in documents) / 1000
        if files:
            folder = Path(tmp) / "files"
            _, out["files_s"], out["files_cpu"] = timed(lambda: write_inclusion_proofs(commitment, folder, "files"))
            out["files_bytes"], out["files_disk_bytes"] = disk_bytes(folder)
            _, out["files_rm_s"], _ = timed(lambda: [p.unlink() for p in folder.iterdir()])
    out["rss_mb"] = rss_mb()
    return out


def run_child(k: int) -> dict:
    args = ["--child", str(k)] + (["--files"] if k <= FILES_MAX_EXPONENT else [])
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"2^{k} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("exponents", nargs="*", type=int, default=[16, 20])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--files", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.files)))
        return
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; {os.cpu_count()} cores\n")
    rows = []
    for k in args.exponents:
        rows.append(run_child(k))
        print(f"2^{k} done; load average {Path('/proc/loadavg').read_text().split()[0]}", file=sys.stderr, flush=True)
    mb = 1e6
    print("| accounts | holders | stage | wall s | CPU s | µs/holder (wall) | size | peak RSS MB |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        n, h = f"2^{r['k']}", f"{r['holders']:,}"

        def row(stage: str, wall: float, cpu: float | str, size: str = "", rss: str = "", r: dict = r) -> None:
            cpu_text = f"{cpu:.2f}" if isinstance(cpu, float) else cpu
            print(
                f"| 2^{r['k']} | {r['holders']:,} | {stage} | {wall:.2f} | {cpu_text} | "
                f"{wall / r['holders'] * 1e6:.1f} | {size} | {rss} |"
            )

        row("commitment (for reference)", r["commit_s"], "", rss=f"{r['rss_commitment_mb']:.0f}")
        row("documents (`holder_parts`, no output)", r["documents_s"], r["documents_cpu"])
        row("JSON texts (`holder_part_texts`, no output)", r["json_s"], r["json_cpu"])
        row(
            "**sqlite store** (`write_inclusion_proofs`)",
            r["sqlite_s"],
            r["sqlite_cpu"],
            f"{r['store_bytes'] / mb:,.0f} MB",
            f"{r['rss_after_sqlite_mb']:.0f}",
        )
        if "files_s" in r:
            row(
                "files (one JSON per holder)",
                r["files_s"],
                r["files_cpu"],
                f"{r['files_bytes'] / mb:,.0f} MB ({r['files_disk_bytes'] / mb:,.0f} MB on disk)",
            )
        print(
            f"| {n} | {h} | 1,000 random `get`s | {r['get_s']:.3f} | | {r['get_s'] / 1000 * 1e6:.0f} per get | "
            f"{r['file_bytes_mean']:,.0f} B per file | {r['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
