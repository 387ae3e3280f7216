"""Powers-of-tau helpers: fast INSECURE development ptau files and header parsing.

``snarkjs powersoftau new / contribute / prepare phase2`` takes minutes to
tens of minutes for the sizes we use, which is too slow for development and
tests.  :func:`make_dev_ptau` runs ``zksolv/js/devptau.js`` instead, which
picks tau, alpha and beta itself and computes every point of the file
directly (seconds).  Such a file is insecure by construction -- the process
that made it knew the toxic waste -- so it carries a marker that
:func:`is_dev_ptau` detects; production keys must come from a real ceremony.

File format facts used here (snarkjs 0.7.x): a ptau is an iden3 binary
file (:mod:`zksolv.binfile`) with the magic ``b"ptau"`` and version 1.
Section 1 (header) is ``u32 n8, q (n8 bytes), u32 power, u32 ceremonyPower``.
Section 7 holds the contributions; the development file has one whose name
is :data:`DEV_PTAU_MARKER`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .binfile import BinFile, BinFileError, scan

__all__ = [
    "DEV_PTAU_MARKER",
    "MAX_DEV_POWER",
    "PtauError",
    "is_dev_ptau",
    "make_dev_ptau",
    "read_ptau_power",
    "required_power",
]

#: Contribution name written by devptau.js (must stay identical to MARKER there).
DEV_PTAU_MARKER = b"zksolv INSECURE dev ptau - NEVER use in production"

#: Largest power devptau.js accepts: section 12 needs the domain 2^(power+1),
#: and BN254's scalar field has 2-adicity 28.
MAX_DEV_POWER = 27

_DEVPTAU_JS = Path(__file__).resolve().parent / "js" / "devptau.js"


class PtauError(BinFileError):
    """A ptau file could not be made or is not a readable snarkjs ptau file."""


def _scan(path: Path) -> BinFile:
    """The section table of a ptau file, read by seeking (the file can be GBs)."""
    f = scan(path, b"ptau", error=PtauError)
    if f.version != 1:
        raise f.error(f"unsupported ptau version {f.version}")
    return f


def read_ptau_power(path: Path) -> int:
    """Return the ``power`` in a ptau header (the file covers 2^power rows).

    A circuit fits a prepared ptau when ``required_power(...) <= power``.
    Read in Python so that callers can check this before starting Node:
    ``snarkjs groth16 setup`` exits 0 and leaves an empty zkey when the
    circuit is too big.
    """
    f = _scan(path)
    header = f.one(1)
    (n8,) = f.unpack(header, "I")
    if header.size != 4 + n8 + 8:
        raise f.error("invalid ptau header size")
    power, _ceremony_power = f.unpack(header, "II", 4 + n8)
    return power


def is_dev_ptau(path: Path) -> bool:
    """True if the file is an insecure development ptau made by devptau.js.

    Looks for :data:`DEV_PTAU_MARKER` in the contributions section (7), where
    snarkjs keeps contributor names; a real ceremony file never has it.
    """
    f = _scan(path)
    return any(DEV_PTAU_MARKER in f.read(section) for section in f.all(7))


def required_power(n_constraints: int, n_public: int) -> int:
    """Domain power snarkjs ``groth16 setup`` needs for a circuit.

    ``n_public`` counts public outputs plus public inputs (not the constant
    ONE).  snarkjs (zkey_new.js) uses
    ``cirPower = log2(nConstraints + nPubInputs + nOutputs) + 1`` with an
    integer (floor) log2, i.e. the smallest p with
    ``2^p >= nConstraints + nPublic + 1``: the QAP domain holds one row per
    constraint plus one per public signal including ONE.  The ptau must have
    ``power >= cirPower``; the H query then reads the 2^(cirPower+1) Lagrange
    domain, which a prepared ptau of that power contains.
    """
    if n_constraints < 0 or n_public < 0:
        raise ValueError("counts must be non-negative")
    return max(1, (n_constraints + n_public).bit_length())


def make_dev_ptau(power: int, out: Path, node: str = "node", secret: Path | None = None) -> Path:
    """Write an INSECURE development ptau covering 2^power rows to ``out``.

    Runs ``zksolv/js/devptau.js`` (which writes atomically: temp file plus
    rename, so ``out`` is either complete or untouched) and checks the result.
    With ``secret`` (a file written by :func:`zksolv.devsetup.write_ptau_secret`)
    tau, alpha and beta are derived from it rather than drawn and forgotten,
    so that :mod:`zksolv.devsetup` can compute keys for the file directly.
    Node modules are found via ``$ZKSOLV_NODE_MODULES`` or ``<repo>/node_modules``.
    Never use the result for anything but development and tests.
    """
    if not 1 <= power <= MAX_DEV_POWER:
        raise PtauError(f"power must be in 1..{MAX_DEV_POWER}, got {power}")
    out = Path(out)
    if not out.parent.is_dir():
        raise PtauError(f"output directory does not exist: {out.parent}")
    cmd = [node, str(_DEVPTAU_JS), str(power), str(out)] + ([str(secret)] if secret is not None else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise PtauError(f"cannot run {node!r}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise PtauError(f"devptau.js failed (exit {proc.returncode}): {detail}")
    got = read_ptau_power(out)
    if got != power or not is_dev_ptau(out):
        raise PtauError(f"devptau.js wrote an unexpected file (power {got})", file=str(out))
    return out
