"""Benchmark the pure-Python Groth16 verifier (zksolv.groth16) on bundle-sized proof sets.

Usage: .venv/bin/python bench/bench_verify.py [--bundle DIR] [--sizes 16 256] [--workers 2]

Proofs: the batch proofs of a small real bundle (`--bundle`, or one proved once
with the cached 2-asset/2-market/4-account development keys, which needs Node),
*re-randomised* N times: for random t, u, (A/t, t·B + t·u·δ, C + u·A) is another
valid proof of the same statement. So every proof in a set is distinct — merging
equal B's or any caching cannot flatter the numbers — and each set is as costly
as N genuine proofs. Generated proofs are cached under build/bench-verify/.

Modes, per N:
  individual   verify_proof on each (JSON → parse → 3 Miller loops → final exp), 1 process
  batched      verify_many(workers=1): one random-linear-combination check, 1 process
  batched+W    verify_many(workers=W): chunks batch-checked in W processes
  backend      python_backend on a bundle folder (reads the files, parses the key,
               workers = os.cpu_count()): what `zksolv verify --backend python` runs

CPU time = this process + its (joined) worker processes, user + system: the
machine may be shared, so wall time alone would hide contention.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import sys
import time
from pathlib import Path

from py_ecc.optimized_bn128 import add, curve_order, multiply

from zksolv import groth16

REPO = Path(__file__).resolve().parents[1]

CACHE = REPO / "build" / "bench-verify"


def source_bundle(path: str | None) -> Path:
    """The given bundle, or one proved once from examples/ with the cached small keys."""
    if path:
        return Path(path)
    folder = CACHE / "source"
    if (folder / "bundle" / "manifest.json").exists():
        return folder / "bundle"
    from zksolv.prove import prove
    from zksolv.secret import generate_secret
    from zksolv.setup import cached_setup

    folder.mkdir(parents=True, exist_ok=True)
    keys = cached_setup(2, 2, 4, on_event=lambda e: print(f"  setup: {e['message']}", file=sys.stderr))
    secret = folder / "venue.secret"
    if not secret.exists():
        generate_secret(secret)
    prove(
        REPO / "examples" / "params.json",
        REPO / "examples" / "accounts.csv",
        secret,
        keys.dir,
        folder / "bundle",
        force=True,
    )
    return folder / "bundle"


def rerandomise(vk: groth16.VerificationKey, proof: groth16.Proof) -> dict:
    """(A/t, t·B + t·u·δ, C + u·A): e(A/t, t·B + t·u·δ) = e(A, B)·e(u·A, δ), and C + u·A
    adds the same factor e(u·A, δ) on the right-hand side."""
    t = secrets.randbelow(curve_order - 1) + 1
    u = secrets.randbelow(curve_order)
    a = multiply(proof.a, pow(t, -1, curve_order))
    b = multiply(add(proof.b, multiply(vk.delta, u)), t)
    c = add(proof.c, multiply(proof.a, u))
    return {
        "pi_a": groth16.g1_to_json(a),
        "pi_b": groth16.g2_to_json(b),
        "pi_c": groth16.g1_to_json(c),
        "protocol": "groth16",
        "curve": "bn128",
    }


def proof_set(bundle: Path, n: int) -> tuple[dict, list[tuple[dict, list[str]]]]:
    """The key and n distinct valid (proof, public) documents, cycling through the bundle's batches."""
    vkey_bytes = (bundle / "verification_key.json").read_bytes()
    vkey = json.loads(vkey_bytes)
    cache = CACHE / f"proofs-{hashlib.sha256(vkey_bytes).hexdigest()[:16]}.json"
    items = json.loads(cache.read_text()) if cache.exists() else []
    if len(items) < n:
        vk = groth16.parse_verification_key(vkey)
        manifest = json.loads((bundle / "manifest.json").read_text())
        batches = [
            (
                json.loads((bundle / f"batches/{i:06d}/proof.json").read_text()),
                json.loads((bundle / f"batches/{i:06d}/public.json").read_text()),
            )
            for i in range(int(manifest["n_batches"]))
        ]
        print(f"re-randomising {n - len(items)} proofs…", file=sys.stderr)
        for k in range(len(items), n):
            proof, public = batches[k % len(batches)]
            items.append([rerandomise(vk, groth16.parse_proof(proof)), public])
        assert groth16.verify_proof(vk, *items[-1])
        CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(items))
    return vkey, [tuple(item) for item in items[:n]]


def write_bundle_folder(vkey: dict, items: list, folder: Path) -> dict:
    """The layout python_backend reads (no manifest hashes: only n_batches is used)."""
    (folder / "batches").mkdir(parents=True, exist_ok=True)
    (folder / "verification_key.json").write_text(json.dumps(vkey))
    for i, (proof, public) in enumerate(items):
        (folder / f"batches/{i:06d}").mkdir(exist_ok=True)
        (folder / f"batches/{i:06d}/proof.json").write_text(json.dumps(proof))
        (folder / f"batches/{i:06d}/public.json").write_text(json.dumps(public))
    return {"n_batches": len(items)}


def measure(run) -> tuple[float, float, list[bool]]:
    """Wall and CPU seconds (this process + joined children) of run()."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    verdicts = run()
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0 + (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return wall, cpu, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", help="a valid bundle to take proofs from (default: prove one, needs Node)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--skip-individual-above", type=int, default=10**9, help="measure the one-by-one mode only for N up to this"
    )
    args = parser.parse_args()

    bundle = source_bundle(args.bundle)
    vkey, all_items = proof_set(bundle, max(args.sizes))
    t0, c0 = time.perf_counter(), time.process_time()
    vk = groth16.parse_verification_key(vkey)
    key_wall, key_cpu = time.perf_counter() - t0, time.process_time() - c0

    rows = []
    for n in args.sizes:
        items = all_items[:n]
        modes = []
        if n <= args.skip_individual_above:
            modes.append(
                ("individual, 1 process", lambda items=items: [groth16.verify_proof(vk, p, s) for p, s in items])
            )
        modes.append(("batched, 1 process", lambda items=items: groth16.verify_many(vk, items, workers=1)))
        modes.append(
            (
                f"batched, {args.workers} processes",
                lambda items=items: groth16.verify_many(vk, items, workers=args.workers),
            )
        )
        folder = CACHE / f"bundle-{n}"
        manifest = write_bundle_folder(vkey, items, folder)
        modes.append(
            (
                f"python_backend (files + key, {os.cpu_count()} processes)",
                lambda folder=folder, manifest=manifest: groth16.python_backend(folder, manifest),
            )
        )
        for name, run in modes:
            wall, cpu, verdicts = measure(run)
            assert verdicts == [True] * n, f"{name}: not every proof verified"
            rows.append((n, name, wall, cpu))
            print(f"  N={n} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)

    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (at the end); "
        f"key parse (3 G2 subgroup checks + Miller loop of e(α, β)): {key_wall:.2f} s wall, {key_cpu:.2f} s CPU\n"
    )
    print("| N | mode | wall s | CPU s | proofs/s (wall) | proofs per CPU-second |")
    print("|---:|---|---:|---:|---:|---:|")
    for n, name, wall, cpu in rows:
        print(f"| {n} | {name} | {wall:.2f} | {cpu:.2f} | {n / wall:.1f} | {n / cpu:.1f} |")


if __name__ == "__main__":
    main()
