"""Witness generators per batch, WASM (Node) and native (circom --c), and what they change end to end.

Usage:  .venv/bin/python bench/bench_witness.py [--shapes demo flat64] [--batches 8] [--repeat 5]

Shapes: `demo` = the demo venue, K=4, M=4, B=16, BTC-PERP with 3 brackets; `flat64` = the same
assets and perps with every market flat, B=64. For each: the cached development setups with and
without the native witness generator (`cached_setup(..., native_witness=True)`; its build time is
the one recorded by the run that built it, with zksolv.circuit.NATIVE_CFLAGS); then for batch 0 of
a synthetic snapshot the witness by each generator (wall, and CPU with the children's; medians of
--repeat, each native sample the mean of 10 runs; the two .wtns files must be identical) and one
proof with the default prover (`auto`, the proving key already loaded, as in a worker); then
`zksolv prove --workers 1 --prover auto` over --batches full batches with each keys folder, whose
whole process tree's CPU gives the end-to-end accounts per CPU-second. Issue 14's target for it,
≥ 25 with arkworks, is checked at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zksolv.accounts import Account
from zksolv.circuit import NATIVE_CFLAGS, _jsonable, _node
from zksolv.commitment import build_commitment
from zksolv.demo import DEMO_PARAMS, synthetic_accounts, write_inputs
from zksolv.params import parse_params
from zksolv.provers import get_prover, resolve_prover
from zksolv.setup import Keys, cached_setup
from zksolv.witness import plan_batches

TARGET = 25.0  # end-to-end accounts per CPU-second with arkworks (issue 14)


def flat_params() -> dict:
    params = copy.deepcopy(DEMO_PARAMS)
    btc = params["markets"][0]
    del btc["brackets"]
    btc["maintenance_margin_bps"] = 500
    return params


SHAPES = {"demo": (16, DEMO_PARAMS), "flat64": (64, flat_params())}


def cpu_now() -> float:
    """CPU s of this process and of its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(cmd: list[str], runs: int = 1) -> tuple[dict, subprocess.CompletedProcess]:
    """Wall and CPU s (the process and its children) of one run of `cmd`, averaged over `runs` runs
    in a row (the native witness takes a few hundredths of a second)."""
    wall, cpu = time.monotonic(), cpu_now()
    for _ in range(runs):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]}… failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return {"wall": (time.monotonic() - wall) / runs, "cpu": (cpu_now() - cpu) / runs}, proc


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in ("wall", "cpu")}


def one_batch(keys: Keys, params: dict, repeat: int, tmp: Path) -> dict:
    batch_size = keys.shape[2]
    risk = parse_params(params)
    accounts = [Account(i, a) for i, a in synthetic_accounts(2 * batch_size)]
    plan = plan_batches(build_commitment(accounts, risk, bytes(32), batch_size=batch_size), bytes(32), batch_size)
    source = tmp / "input.json"
    source.write_text(json.dumps(_jsonable(plan.batch_input(0))))
    wasm, native = tmp / "wasm.wtns", tmp / "native.wtns"
    binary = keys.native_witness
    assert binary is not None, f"{keys.dir} has no usable native witness generator"
    by_wasm = [timed([_node(), str(keys.witness_js), str(keys.wasm), str(source), str(wasm)])[0] for _ in range(repeat)]
    by_native = [timed([str(binary), str(source), str(native)], runs=10)[0] for _ in range(repeat)]
    prover_name = resolve_prover("auto")
    prover = get_prover(prover_name)
    prover.prove(keys.zkey, wasm, tmp)  # loads the proving key, once per process as in a worker
    proofs = []
    for _ in range(repeat):
        t, c = time.monotonic(), cpu_now()
        prover.prove(keys.zkey, wasm, tmp)
        proofs.append({"wall": time.monotonic() - t, "cpu": cpu_now() - c})
    return {
        "identical": wasm.read_bytes() == native.read_bytes(),
        "witness_wasm": medians(by_wasm),
        "witness_native": medians(by_native),
        "prover": prover_name,
        "prove": medians(proofs),
    }


def end_to_end(keys: Keys, inputs: tuple[Path, Path, Path], capacity: int, tmp: Path, name: str) -> dict:
    params, accounts, secret = inputs
    cmd = [sys.executable, "-m", "zksolv", "prove", "--params", str(params), "--accounts", str(accounts)]
    cmd += ["--secret", str(secret), "--keys", str(keys.dir), "--out", str(tmp / f"bundle-{name}")]
    cmd += ["--capacity", str(capacity), "--workers", "1", "--prover", "auto", "--allow-liquidations", "--json"]
    usage, proc = timed(cmd)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    batches = [e for e in events if e["event"] == "batch"]
    accounts_proved = events[-1]["capacity"]
    return {
        "batches": len(batches),
        "accounts": accounts_proved,
        "wall": usage["wall"],
        "cpu": usage["cpu"],
        "per_cpu_s": accounts_proved / usage["cpu"],
    }


def bench(shape: str, batches: int, repeat: int) -> dict:
    batch_size, params = SHAPES[shape]
    tiers = parse_params(params).tiers
    say = {"on_event": lambda e: print(f"setup: {e['message']}", file=sys.stderr)}
    wasm_keys = cached_setup(4, 4, batch_size, tiers=tiers, **say)
    native_keys = cached_setup(4, 4, batch_size, tiers=tiers, native_witness=True, **say)
    with tempfile.TemporaryDirectory(prefix="zksolv-bench-witness-") as tmp:
        tmp = Path(tmp)
        single = one_batch(native_keys, params, repeat, tmp)
        capacity = batches * batch_size
        # write_inputs adds 2 isolated sub-accounts: the snapshot fills `capacity` exactly.
        inputs = write_inputs(tmp / "inputs", capacity - 2)
        inputs[0].write_text(json.dumps(params, indent=2) + "\n")
        runs = {
            "wasm": end_to_end(wasm_keys, inputs, capacity, tmp, "wasm"),
            "native": end_to_end(native_keys, inputs, capacity, tmp, "native"),
        }
    return {
        "shape": shape,
        "batch": batch_size,
        "tiers": list(tiers),
        "constraints": native_keys.info["constraints"],
        "native_build_s": native_keys.info["timings"].get("native_witness_s"),
        **single,
        "end_to_end": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="*", default=["demo", "flat64"], choices=sorted(SHAPES))
    ap.add_argument("--batches", type=int, default=8, help="full batches in the end-to-end snapshot (a power of 2)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load before {Path('/proc/loadavg').read_text().split()[:3]}; g++ flags {' '.join(NATIVE_CFLAGS)}")
    rows = [bench(shape, args.batches, args.repeat) for shape in args.shapes]
    print(
        "\n| shape | constraints | native build s | witness WASM wall s (CPU) | witness native wall s (CPU) "
        "| identical | prove wall s (CPU) | per batch CPU, WASM → native | accounts / CPU-s, one batch |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        w, n, p = r["witness_wasm"], r["witness_native"], r["prove"]
        before, after = w["cpu"] + p["cpu"], n["cpu"] + p["cpu"]
        markets = "flat" if set(r["tiers"]) == {1} else f"brackets {r['tiers']}"
        print(
            f"| {r['shape']} (B={r['batch']}, {markets}) | {r['constraints']:,} | {r['native_build_s']} "
            f"| {w['wall']:.3f} ({w['cpu']:.3f}) | {n['wall']:.3f} ({n['cpu']:.3f}) | {r['identical']} "
            f"| {p['wall']:.2f} ({p['cpu']:.2f}, {r['prover']}) | {before:.2f} → {after:.2f} s "
            f"| {r['batch'] / before:.1f} → {r['batch'] / after:.1f} |"
        )
    print(f"\n### End to end (`zksolv prove --workers 1 --prover auto`, {args.batches} full batches)\n")
    print("| shape | witness | accounts | wall s | CPU s | accounts / CPU-s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        for name, e in r["end_to_end"].items():
            print(
                f"| {r['shape']} | {name} | {e['accounts']} | {e['wall']:.1f} | {e['cpu']:.1f} | {e['per_cpu_s']:.1f} |"
            )
    failed = not all(r["identical"] for r in rows)
    for r in rows:
        if r["prover"] == "arkworks":
            best = r["end_to_end"]["native"]["per_cpu_s"]
            print(
                f"\n- {r['shape']}: {best:.1f} accounts per CPU-second end to end with the native witness "
                f"(issue 14 target ≥ {TARGET:g}): {'PASS' if best >= TARGET else 'FAIL'}"
            )
    print("\n```json\n" + json.dumps(rows, indent=1) + "\n```")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
