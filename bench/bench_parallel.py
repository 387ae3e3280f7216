"""Parallel proving benchmark: accounts proved per CPU-second and per wall-second, end to end.

Usage:  .venv/bin/python bench/bench_parallel.py [--batch 64] [--batches 8] [--workers 1 2]
                                                 [--provers snarkjs arkworks] [--repeat 3]

K = 4 assets + 4 perps (the demo's params), a synthetic snapshot of --batches full
batches. For each prover and worker count, `zksolv prove --json` runs as a subprocess:
wall time, and CPU = the prove command's process tree (/usr/bin/time) plus, with local
worker processes (children of multiprocessing's forkserver, which /usr/bin/time does
not see), each worker's own CPU with its Node children as reported in its last batch
event. Then, per prover, one batch alone: witness (Node/WASM) and prove, wall, CPU and
peak RSS under /usr/bin/time (medians over --repeat; arkworks proves with the key
already imported, as a worker does, and its peak RSS is the whole Python process's).

Keys: `cached_setup(4, 4, B)`; without --batch, B = 64 when that setup is cached
under build/keys (a 64-account setup takes minutes), else 16.
Targets of the "Scale" issue, checked at the end: ≥ 10 accounts per CPU-second with
snarkjs, ≥ 50 with the fast (arkworks) backend, peak RSS ≤ 1 GiB proving a batch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from zksolv import snarkjs
from zksolv.accounts import Account
from zksolv.circuit import _jsonable, _node, compile_circuit, default_build_root
from zksolv.commitment import build_commitment
from zksolv.demo import DEMO_PARAMS, synthetic_accounts, write_inputs
from zksolv.params import parse_params
from zksolv.setup import cached_setup
from zksolv.witness import plan_batches

TARGETS = {"snarkjs": 10.0, "arkworks": 50.0}
RSS_LIMIT_MB = 1024


def timed(cmd: list[str], **kwargs) -> tuple[dict, subprocess.CompletedProcess]:
    """Run under /usr/bin/time: wall s, CPU s (user+sys of the process and its waited children), peak RSS MB."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *cmd], capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]}… failed:\n{proc.stderr[-3000:]}")
    wall, user, system, rss_kb = proc.stderr.strip().splitlines()[-1].split()
    return {"wall": float(wall), "cpu": float(user) + float(system), "rss_mb": int(rss_kb) / 1024}, proc


def cached_batch_size() -> int:
    """64 when the development setup of SolvencyBatch(4, 4, 64) for the current circuits is cached."""
    if not list((default_build_root() / "keys").glob("batch-4-4-64-*-dev/setup.json")):
        return 16  # (and no compile of the 64-account circuit just to find out)
    folder = default_build_root() / "keys" / f"{compile_circuit(4, 4, 64).dir.name}-dev"
    return 64 if (folder / "setup.json").exists() else 16


def end_to_end(inputs: tuple[Path, Path, Path], keys_dir: Path, prover: str, workers: int, tmp: Path) -> dict:
    params, accounts, secret = inputs
    out = tmp / f"bundle-{prover}-{workers}"
    cmd = [
        sys.executable,
        "-m",
        "zksolv",
        "prove",
        "--params",
        str(params),
        "--accounts",
        str(accounts),
        "--secret",
        str(secret),
        "--keys",
        str(keys_dir),
        "--out",
        str(out),
        "--prover",
        prover,
        "--workers",
        str(workers),
        "--json",
        "--force",
    ]
    usage, proc = timed(cmd)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    batches = [e for e in events if e["event"] == "batch" and not e["resumed"]]
    committed = events[0]
    cpu = usage["cpu"]
    if workers > 1:  # worker processes are not children /usr/bin/time waits for
        last: dict[str, float] = {}
        for e in batches:
            last[e["worker"]] = max(last.get(e["worker"], 0.0), e["worker_cpu_seconds"])
        cpu += sum(last.values())
    accounts_proved = committed["capacity"]
    verify = subprocess.run(
        [sys.executable, "-m", "zksolv", "verify", str(out), "--json"], capture_output=True, text=True
    )
    return {
        "prover": prover,
        "workers": workers,
        "batches": len(batches),
        "accounts": accounts_proved,
        "wall": usage["wall"],
        "cpu": cpu,
        "peak_rss_mb": usage["rss_mb"],
        "batch_cpu_mean": statistics.mean(e["cpu_seconds"] for e in batches),
        "per_cpu_s": accounts_proved / cpu,
        "per_wall_s": accounts_proved / usage["wall"],
        "valid": verify.returncode == 0,
    }


ARKWORKS_ONE = textwrap.dedent("""
    import json, sys, time, groth16py
    zkey, wtns, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t, c = time.monotonic(), time.process_time()
    pk, vk = groth16py.import_zkey(zkey)
    load = (time.monotonic() - t, time.process_time() - c)
    runs = []
    for _ in range(repeat):
        t, c = time.monotonic(), time.process_time()
        groth16py.prove_wtns(pk, wtns)
        runs.append((time.monotonic() - t, time.process_time() - c))
    print(json.dumps({"import_wall": load[0], "import_cpu": load[1], "runs": runs}))
""")


def one_batch(keys, batch_size: int, repeat: int, tmp: Path) -> dict:
    params = parse_params(DEMO_PARAMS)
    accounts = [Account(i, a) for i, a in synthetic_accounts(2 * batch_size)]
    plan = plan_batches(build_commitment(accounts, params, bytes(32), batch_size=batch_size), bytes(32), batch_size)
    (tmp / "input.json").write_text(json.dumps(_jsonable(plan.batch_input(0))))
    wtns = tmp / "w.wtns"
    witness = [
        timed([_node(), str(keys.witness_js), str(keys.wasm), str(tmp / "input.json"), str(wtns)])[0]
        for _ in range(repeat)
    ]
    snark = [
        timed(
            [
                *snarkjs._cli(),
                "groth16",
                "prove",
                str(keys.zkey),
                str(wtns),
                str(tmp / "proof.json"),
                str(tmp / "public.json"),
            ]
        )[0]
        for _ in range(repeat)
    ]
    usage, proc = timed([sys.executable, "-c", ARKWORKS_ONE, str(keys.zkey), str(wtns), str(repeat)])
    ark = json.loads(proc.stdout)
    med = statistics.median
    return {
        "witness": {
            "wall": med(r["wall"] for r in witness),
            "cpu": med(r["cpu"] for r in witness),
            "rss_mb": max(r["rss_mb"] for r in witness),
        },
        "snarkjs": {
            "wall": med(r["wall"] for r in snark),
            "cpu": med(r["cpu"] for r in snark),
            "rss_mb": max(r["rss_mb"] for r in snark),
        },
        "arkworks": {
            "wall": med(r[0] for r in ark["runs"]),
            "cpu": med(r[1] for r in ark["runs"]),
            "rss_mb": usage["rss_mb"],
            "import_wall": ark["import_wall"],
            "import_cpu": ark["import_cpu"],
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=None, help="batch size (default: 64 if cached, else 16)")
    ap.add_argument("--batches", type=int, default=8, help="batches in the snapshot")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--provers", nargs="*", default=["snarkjs", "arkworks"], choices=["snarkjs", "arkworks"])
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the one-batch measurements")
    args = ap.parse_args()
    batch_size = args.batch or cached_batch_size()
    keys = cached_setup(4, 4, batch_size, on_event=lambda e: print(f"setup: {e['message']}", file=sys.stderr))
    n_accounts = args.batches * batch_size
    print(
        f"K=4, M=4, B={batch_size} ({keys.info['constraints']:,} constraints), {args.batches} batches = "
        f"{n_accounts} accounts; {os.cpu_count()} cores; load before {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    with tempfile.TemporaryDirectory(prefix="zksolv-bench-") as tmp:
        tmp = Path(tmp)
        inputs = write_inputs(tmp / "inputs", n_accounts)
        rows = [end_to_end(inputs, keys.dir, p, w, tmp) for p in args.provers for w in args.workers]
        single = one_batch(keys, batch_size, args.repeat, tmp)

    print("\n### End to end (`zksolv prove --json`, commit + prove + check + bundle)\n")
    print(
        "| prover | workers | wall s | CPU s | accounts / CPU-s | accounts / wall-s | mean batch CPU s "
        "| peak RSS MB (orchestrator tree) | bundle verifies |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['prover']} | {r['workers']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['per_cpu_s']:.1f} "
            f"| {r['per_wall_s']:.1f} | {r['batch_cpu_mean']:.2f} | {r['peak_rss_mb']:.0f} | {r['valid']} |"
        )
    print(f"\n### One batch of {batch_size} (medians of {args.repeat})\n")
    print("| step | wall s | CPU s | peak RSS MB | accounts / CPU-s (witness + prove) |")
    print("|---|---|---|---|---|")
    w = single["witness"]
    print(f"| witness (Node, WASM) | {w['wall']:.2f} | {w['cpu']:.2f} | {w['rss_mb']:.0f} | |")
    for name in ("snarkjs", "arkworks"):
        s = single[name]
        print(
            f"| prove, {name} | {s['wall']:.2f} | {s['cpu']:.2f} | {s['rss_mb']:.0f} "
            f"| {batch_size / (s['cpu'] + w['cpu']):.1f} |"
        )
    a = single["arkworks"]
    print(
        f"\narkworks: import_zkey {a['import_wall']:.2f} s wall / {a['import_cpu']:.2f} s CPU, once per process; "
        f"{a['cpu'] and single['snarkjs']['cpu'] / a['cpu']:.1f}x less prove CPU than snarkjs"
    )

    print("\n### Targets\n")
    failed = 0
    for prover, target in TARGETS.items():
        best = max((r["per_cpu_s"] for r in rows if r["prover"] == prover), default=None)
        if best is None:
            continue
        ok = best >= target
        failed += not ok
        print(
            f"- {prover}: {best:.1f} accounts per CPU-second end to end (target ≥ {target:g}): "
            f"{'PASS' if ok else 'FAIL'}"
        )
    peak = max(single["snarkjs"]["rss_mb"], single["arkworks"]["rss_mb"], single["witness"]["rss_mb"])
    ok = peak <= RSS_LIMIT_MB
    failed += not ok
    print(
        f"- peak RSS proving one {keys.info['constraints']:,}-constraint batch: {peak:.0f} MB "
        f"(target ≤ {RSS_LIMIT_MB} MB): {'PASS' if ok else 'FAIL'}"
    )
    invalid = [r for r in rows if not r["valid"]]
    print(
        "\n```json\n" + json.dumps({"batch": batch_size, "end_to_end": rows, "one_batch": single}, indent=1) + "\n```"
    )
    sys.exit(1 if failed or invalid else 0)


if __name__ == "__main__":
    main()
