"""Development Groth16 setup in seconds, from a development ptau whose secret is known. INSECURE.

``snarkjs groth16 setup`` (plus one ``zkey contribute``) takes minutes for our
circuits: 105 s at 22k constraints, 406 s at 92k. It computes every point of
the proving key as a multi-exponentiation over the ptau's Lagrange points,
because in a real ceremony nobody knows τ. A zksolv development ptau's τ, α, β
*are* known to this machine -- that is what makes it insecure -- so
``zksolv/js/devsetup.js`` evaluates the QAP polynomials of the r1cs at τ
directly and computes each point as (known scalar)·generator (fixed-base
multiplication, worker threads), then adds one phase-2 contribution with a
fresh δ and the proof of knowledge ``snarkjs zkey contribute`` makes. The file
is the one snarkjs would write (``snarkjs zkey verify r1cs ptau zkey`` passes);
see the header of devsetup.js for the sections.

Where the secret lives: :func:`make_known_dev_ptau` writes ``<ptau>.secret``
(mode 0600, ``zksolv-dev-ptau-secret-v1:<64 hex>``) and derives the ptau's τ, α,
β from it (``devptau.js`` ``deriveSecrets``). That file is the toxic waste: with
it anyone can forge proofs for every key made from that ptau. Development ptau
files made before this module existed have no secret; for them (and for any
``--ptau`` ceremony file) the setup keeps the snarkjs path.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

from .circuit import _node, node_modules
from .errors import ToolchainError, ZksolvError
from .ptau import is_dev_ptau, make_dev_ptau

__all__ = [
    "CONTRIBUTION_NAME",
    "SECRET_HEADER",
    "DevSetupError",
    "SecretMismatch",
    "fast_setup",
    "make_known_dev_ptau",
    "ptau_secret",
    "secret_path",
    "write_ptau_secret",
]

#: Must stay identical to SECRET_HEADER in zksolv/js/devptau.js.
SECRET_HEADER = "zksolv-dev-ptau-secret-v1:"
#: The phase-2 contribution's name in fast keys (what `zksolv audit-setup` lists).
CONTRIBUTION_NAME = "zksolv dev setup (known tau, INSECURE)"

_DEVSETUP_JS = Path(__file__).resolve().parent / "js" / "devsetup.js"


class DevSetupError(ToolchainError):
    """devsetup.js failed (a tool failure, exit 4); the message carries its output."""


class SecretMismatch(ZksolvError):
    """The secret file is not the one the ptau was made from (an input problem, exit 2)."""


def secret_path(ptau: Path | str) -> Path:
    """Where the secret of a development ptau is kept: ``<ptau>.secret`` beside it."""
    ptau = Path(ptau)
    return ptau.with_name(ptau.name + ".secret")


def write_ptau_secret(path: Path | str) -> Path:
    """Create a new secret file (mode 0600) unless one exists; return its path.

    Written to a temp file and linked into place, so concurrent callers all end
    up with the same complete file (the first link wins, the others use it).
    """
    path = Path(path)
    if path.exists():
        return path
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp: mode 0600
            handle.write(f"{SECRET_HEADER}{secrets.token_hex(32)}\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path


def make_known_dev_ptau(power: int, out: Path | str) -> Path:
    """Write an INSECURE development ptau of 2^power rows whose τ, α, β derive from ``<out>.secret``.

    The secret is created first (or reused if present: the ptau is then the same
    file byte for byte, a concurrent maker's result included)."""
    out = Path(out)
    secret = write_ptau_secret(secret_path(out))
    return make_dev_ptau(power, out, node=_node(), secret=secret)


def ptau_secret(ptau: Path | str) -> Path | None:
    """The secret of a development ptau if it is known here, else None (a ceremony
    file, or a development ptau made before secrets were kept)."""
    ptau = Path(ptau)
    secret = secret_path(ptau)
    if not secret.is_file() or not is_dev_ptau(ptau):
        return None
    return secret


def fast_setup(
    r1cs: Path | str,
    ptau: Path | str,
    zkey_out: Path | str,
    secret: Path | str | None = None,
    name: str = CONTRIBUTION_NAME,
) -> dict:
    """Write the proving key of ``r1cs`` for the development ``ptau`` with one phase-2
    contribution, computed from the ptau's known secret (default ``<ptau>.secret``).

    Returns devsetup.js's summary (sizes, timings in seconds, circuit and contribution
    hashes). Raises SecretMismatch when the secret is not the ptau's (nothing is
    written then), DevSetupError on any other failure."""
    secret = Path(secret) if secret is not None else secret_path(ptau)
    heap = os.environ.get("ZKSOLV_NODE_HEAP_MB", "8192")
    cmd = [
        _node(),
        f"--max-old-space-size={heap}",
        str(_DEVSETUP_JS),
        str(r1cs),
        str(ptau),
        str(secret),
        str(zkey_out),
        name,
    ]
    env = {**os.environ, "ZKSOLV_NODE_MODULES": str(node_modules())}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    except OSError as exc:
        raise DevSetupError(f"cannot run node: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        if proc.returncode == 3:
            raise SecretMismatch(detail)
        raise DevSetupError(f"devsetup.js failed (exit {proc.returncode}): {detail}")
    try:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise DevSetupError(f"devsetup.js printed no summary: {proc.stdout[-500:]!r}") from None
    if not Path(zkey_out).is_file():
        raise DevSetupError(f"devsetup.js wrote no key at {zkey_out}")
    return summary
