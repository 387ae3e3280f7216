"""Benchmark the development Groth16 setup: fast (known τ, zksolv/js/devsetup.js) vs snarkjs.

Usage: .venv/bin/python bench/bench_setup.py [--batch 16 64] [--skip-snarkjs-64] [--skip-snarkjs] [--zkey-verify]
                                   [--json]

For each batch size B (shape 4 assets + 4 markets, the demo's), with the circuit
compiled beforehand (compile_circuit caches) and the development ptau made
beforehand (its time is reported apart):

* fast:    ``zksolv.devsetup.fast_setup`` (the proving key with one contribution),
           and the whole ``zksolv.setup.setup()`` on that path (adds the
           verification key and Verifier.sol exports and the copies);
* snarkjs: ``snarkjs groth16 setup`` + one ``snarkjs zkey contribute`` on the same
           r1cs and ptau (what ``setup()`` does for a ``--ptau`` ceremony file).

The snarkjs run at B=64 takes about 7 minutes: ``--skip-snarkjs-64`` leaves it out.
``--zkey-verify`` also runs ``snarkjs zkey verify r1cs ptau zkey`` on the fast key
(as long as a snarkjs groth16 setup). Wall and CPU time (user + sys of the Node
children) are both printed: the machine may be shared, CPU time is the robust figure.
The ptau used is the cached development ptau (build/ptau) when its secret is kept
beside it, else one made with a secret under build/bench-setup/ptau.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zksolv.setup as setup_module
from zksolv import snarkjs
from zksolv.circuit import compile_circuit, default_build_root, r1cs_info
from zksolv.devsetup import CONTRIBUTION_NAME, fast_setup, ptau_secret
from zksolv.ptau import required_power

REPO = Path(__file__).resolve().parents[1]

K, M = 4, 4


def timed(fn, *args, **kwargs) -> tuple[object, float, float]:
    """(result, wall s, CPU s of the children that ran meanwhile)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def known_ptau(power: int) -> tuple[Path, float | None]:
    """A development ptau of `power` with its secret, and the seconds it took to make (None: cached)."""
    name = f"zksolv-dev-insecure-{power:02d}.ptau"
    root = default_build_root()  # where setup.dev_ptau caches
    default = root / "ptau" / name
    if default.exists() and ptau_secret(default) is None:  # made by an older zksolv, τ forgotten
        root = root / "bench-setup"
    made = not (root / "ptau" / name).exists()
    t0 = time.perf_counter()
    path = setup_module.dev_ptau(power, root)
    return path, (time.perf_counter() - t0) if made else None


def machine() -> dict:
    def sh(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": sh("nproc"),
        "uname": sh("uname", "-a"),
        "cpu": model,
        "node": sh("node", "--version"),
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def bench(batch: int, run_snarkjs: bool, zkey_verify: bool, tmp: Path) -> dict:
    circuit = compile_circuit(K, M, batch)
    info = r1cs_info(circuit.r1cs)
    power = required_power(info["constraints"], info["public_inputs"] + info["outputs"])
    ptau, ptau_s = known_ptau(power)
    row: dict = {
        "batch": batch,
        "constraints": info["constraints"],
        "power": power,
        "ptau_made_s": None if ptau_s is None else round(ptau_s, 1),
    }

    fast_zkey = tmp / f"fast-{batch}.zkey"
    summary, wall, cpu = timed(fast_setup, circuit.r1cs, ptau, fast_zkey)
    row["fast"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "phases": summary["phases"]}

    # the whole setup() on the fast path (vkey + Verifier.sol exports, copies)
    real = setup_module.dev_ptau
    setup_module.dev_ptau = lambda p, cache=None: ptau if p == power else real(p, cache)
    try:
        keys, wall, cpu = timed(setup_module.setup, K, M, batch, tmp / f"keys-{batch}", force=True)
    finally:
        setup_module.dev_ptau = real
    assert "dev_setup_s" in keys.info["timings"], "setup() did not take the fast path"
    row["fast_setup_total"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}

    if zkey_verify:
        from zksolv.audit import verify_zkey

        transcript, wall, cpu = timed(verify_zkey, circuit.r1cs, ptau, fast_zkey)
        row["zkey_verify"] = {
            "ok": transcript.ok,
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "detail": transcript.detail,
        }

    if run_snarkjs:
        _, w1, c1 = timed(snarkjs.groth16_setup, circuit.r1cs, ptau, tmp / "phase1.zkey")
        _, w2, c2 = timed(
            snarkjs.zkey_contribute, tmp / "phase1.zkey", tmp / f"snarkjs-{batch}.zkey", CONTRIBUTION_NAME
        )  # same name: same section 10 size
        row["snarkjs"] = {
            "wall_s": round(w1 + w2, 1),
            "cpu_s": round(c1 + c2, 1),
            "groth16_setup_wall_s": round(w1, 1),
            "contribute_wall_s": round(w2, 1),
        }
        size_fast, size_snarkjs = fast_zkey.stat().st_size, (tmp / f"snarkjs-{batch}.zkey").stat().st_size
        row["same_zkey_size"] = size_fast == size_snarkjs
        (tmp / "phase1.zkey").unlink()
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", nargs="+", type=int, default=[16, 64])
    ap.add_argument("--skip-snarkjs-64", action="store_true", help="no snarkjs run at B=64 (≈ 7 min)")
    ap.add_argument("--skip-snarkjs", action="store_true", help="no snarkjs runs at all")
    ap.add_argument("--zkey-verify", action="store_true", help="also snarkjs zkey verify the fast keys")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = ap.parse_args(argv)

    env = machine()
    for b in args.batch:  # compile first: the timings below are for a cached compile
        compile_circuit(K, M, b)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_setup_") as tmp:
        for b in args.batch:
            run_snarkjs = not args.skip_snarkjs and not (args.skip_snarkjs_64 and b == 64)
            rows.append(bench(b, run_snarkjs, args.zkey_verify, Path(tmp)))
            print(f"B={b}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    env["load_after"] = [round(x, 2) for x in os.getloadavg()]

    print(f"{env['date']}: nproc {env['nproc']}, {env['cpu']}, Node {env['node']}, Python {env['python']}")
    print(f"uname -a: {env['uname']}")
    print(f"load average before {env['load_before']}, after {env['load_after']}\n")
    print(
        "| shape | constraints | ptau | fast key: wall / CPU | fast `setup()` total | "
        "snarkjs setup + contribute: wall / CPU | speed-up (wall) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        fast, total, sj = r["fast"], r["fast_setup_total"], r.get("snarkjs")
        ptau = f"2^{r['power']}" + (f" (made {r['ptau_made_s']} s)" if r["ptau_made_s"] is not None else "")
        sj_text = f"{sj['wall_s']} s / {sj['cpu_s']} s" if sj else "skipped"
        speed = f"×{sj['wall_s'] / fast['wall_s']:.0f}" if sj else "—"
        print(
            f"| {K}+{M}, B={r['batch']} | {r['constraints']:,} | {ptau} | {fast['wall_s']} s / {fast['cpu_s']} s | "
            f"{total['wall_s']} s | {sj_text} | {speed} |"
        )
    for r in rows:
        if "zkey_verify" in r:
            v = r["zkey_verify"]
            print(
                f"\nB={r['batch']}: snarkjs zkey verify of the fast key: {'ZKey Ok!' if v['ok'] else 'FAILED'} "
                f"({v['wall_s']} s wall)" + ("" if v["ok"] else f": {v['detail']}")
            )
    if args.json:
        print(json.dumps({"machine": env, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
