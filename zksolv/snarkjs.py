"""snarkjs, called as a subprocess: Groth16 setup, phase-2 contribution, prove, verify.

The files it reads and writes (.zkey, proof.json, public.json,
verification_key.json) are snarkjs's own formats, so a third party can rerun
any step with the snarkjs CLI on the same files.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from . import toolchain
from .errors import ToolchainError

# The verifier side calls only `verify` (tests/test_architecture.py checks it); setup,
# contribute, export and prove are the prover's. The module itself imports only the
# toolchain, so the verifier can use it.


class SnarkjsError(ToolchainError):
    """snarkjs failed; the message carries its output."""


def _cli() -> list[str]:
    cli = toolchain.node_modules() / "snarkjs" / "build" / "cli.cjs"
    if not cli.exists():
        raise SnarkjsError(f"{cli} not found: run `npm ci` (or set ZKSOLV_NODE_MODULES)")
    # Setup keeps per-wire arrays on the V8 heap; prove does not care. A large heap
    # limit costs nothing when unused.
    heap = os.environ.get("ZKSOLV_NODE_HEAP_MB", "8192")
    return [f"--max-old-space-size={heap}", str(cli)]


def run(*args: str, what: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return toolchain.run_node([*_cli(), *args], what=f"snarkjs {what}", check=check, error=SnarkjsError, stdin=stdin)


def groth16_setup(r1cs: Path, ptau: Path, zkey_out: Path) -> None:
    proc = run("groth16", "setup", str(r1cs), str(ptau), str(zkey_out), what="groth16 setup")
    # snarkjs exits 0 with an empty zkey when the ptau is too small for the circuit.
    if not zkey_out.exists() or zkey_out.stat().st_size == 0:
        raise SnarkjsError(f"snarkjs groth16 setup wrote no key:\n{(proc.stdout + proc.stderr).strip()}")


def zkey_contribute(zkey_in: Path, zkey_out: Path, name: str) -> None:
    """A phase-2 contribution with fresh OS entropy, which is then forgotten. The entropy goes on
    stdin (snarkjs asks for it there when -e is absent), not on the command line, which any local
    user can read."""
    run(
        "zkey",
        "contribute",
        str(zkey_in),
        str(zkey_out),
        f"--name={name}",
        what="zkey contribute",
        stdin=secrets.token_hex(32) + "\n",
    )


def export_verification_key(zkey: Path, out: Path) -> dict:
    run("zkey", "export", "verificationkey", str(zkey), str(out), what="zkey export verificationkey")
    return json.loads(out.read_text())


def export_solidity_verifier(zkey: Path, out: Path) -> None:
    run("zkey", "export", "solidityverifier", str(zkey), str(out), what="zkey export solidityverifier")


def prove(zkey: Path, wtns: Path, proof_out: Path, public_out: Path) -> None:
    run("groth16", "prove", str(zkey), str(wtns), str(proof_out), str(public_out), what="groth16 prove")


def verify(vkey: Path, public: Path, proof: Path) -> bool:
    """True iff snarkjs says OK; any error output counts as a rejection."""
    proc = run("groth16", "verify", str(vkey), str(public), str(proof), what="groth16 verify", check=False)
    return proc.returncode == 0 and "OK" in proc.stdout
