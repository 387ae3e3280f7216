"""Driver for the circom circuits in ``circuits/``: compile, witness, check.

The prover side of zksolv needs the Node toolchain (circom2 = circom compiled
to WASM, snarkjs); this module is the only place that knows how to call it.
The verifier side never imports it.

Everything here is a plain function over paths so that tests (and the forged
witness tests in particular) can look at and tamper with every intermediate
file: the .r1cs header and the .wtns format are parsed in Python.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .errors import ZksolvError

__all__ = [
    "BN254_R",
    "CircuitError",
    "CompiledCircuit",
    "check_witness",
    "circom_version",
    "circuits_dir",
    "compile_circuit",
    "compile_source",
    "compute_witness",
    "default_build_root",
    "main_source",
    "node_modules",
    "public_signals",
    "r1cs_info",
    "read_sym",
    "read_wtns",
    "write_wtns",
]

#: BN254 scalar field order (circom's default prime, "bn128").
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Names of the public inputs of SolvencyBatch, in public.json order (PROTOCOL.md §6).
PUBLIC_SIGNALS = ("batch_root", "acc_in", "acc_out")


class CircuitError(ZksolvError):
    """The toolchain rejected something: compile error, failed assert/constraint
    during witness generation, or a witness that does not satisfy the R1CS.
    The message carries the tool's own output, which names the failing
    template and line."""


@dataclass(frozen=True)
class CompiledCircuit:
    """Paths of one compiled ``SolvencyBatch(K, M, B)`` (all inside ``dir``)."""

    dir: Path
    r1cs: Path
    wasm: Path
    sym: Path
    K: int
    M: int
    B: int

    @property
    def witness_js(self) -> Path:
        return self.wasm.parent / "generate_witness.js"


# --------------------------------------------------------------------------
# locations


def node_modules() -> Path:
    """The Node toolchain: ``$ZKSOLV_NODE_MODULES`` or ``<repo>/node_modules``.

    Overridable so an installed package can point at a shared ``npm ci`` tree.
    """
    env = os.environ.get("ZKSOLV_NODE_MODULES")
    return Path(env).resolve() if env else REPO_ROOT / "node_modules"


def circuits_dir() -> Path:
    """The circom sources: ``$ZKSOLV_CIRCUITS``, else ``<repo>/circuits``, else the
    copy shipped as package data (``zksolv/circuits``)."""
    env = os.environ.get("ZKSOLV_CIRCUITS")
    if env:
        return Path(env).resolve()
    repo = REPO_ROOT / "circuits"
    if repo.is_dir():
        return repo
    return Path(__file__).resolve().parent / "circuits"


def default_build_root() -> Path:
    """``<repo>/build`` (git-ignored): compiled circuits are cached here."""
    return REPO_ROOT / "build"


def _bin(name: str) -> Path:
    path = node_modules() / ".bin" / name
    if not path.exists():
        raise CircuitError(f"{path} not found: run `npm ci` (or set ZKSOLV_NODE_MODULES)")
    return path


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise CircuitError("`node` is not on PATH: the prover needs Node.js >= 18")
    return node


@functools.lru_cache(maxsize=None)
def circom_version() -> str:
    """``circom2 --version`` output (part of the cache key: a compiler upgrade
    may change the constraint system)."""
    out = _run([str(_bin("circom2")), "--version"], what="circom2 --version")
    return out.stdout.strip()


def _run(cmd: list[str], *, what: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CircuitError(f"{what} failed (exit {proc.returncode}):\n{_clean(proc.stdout + proc.stderr)}")
    return proc


def _clean(text: str) -> str:
    """Drop ANSI colour codes from circom's output."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text).strip()


# --------------------------------------------------------------------------
# compilation


def main_source(K: int, M: int, B: int) -> str:
    """The main component file for ``SolvencyBatch(K, M, B)``.

    Generated rather than checked in because K, M, B are per-venue choices;
    the public list fixes the public.json order of PROTOCOL.md §6 (circom
    orders public inputs by their declaration order in the template, which
    is the same).
    """
    if not (K >= 0 and M >= 0 and 1 <= K + M <= 45):
        raise ValueError(f"need 1 <= K + M <= 45, got K={K}, M={M}")
    if B < 1 or B & (B - 1):
        raise ValueError(f"B must be a power of two, got {B}")
    return (
        "pragma circom 2.1.0;\n\n"
        'include "batch.circom";\n\n'
        f"// SolvencyBatch(K={K}, M={M}, B={B}); generated by zksolv.circuit.main_source\n"
        "component main {public [batch_root, acc_in, acc_out]} = "
        f"SolvencyBatch({K}, {M}, {B});\n"
    )


def _sources_digest() -> str:
    """Hash of every circuits/*.circom (name and contents) and of the circomlib
    version: any change there invalidates every cached build."""
    h = hashlib.sha256()
    for path in sorted(circuits_dir().glob("*.circom")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    lib = node_modules() / "circomlib" / "package.json"
    if lib.exists():
        h.update(json.loads(lib.read_text()).get("version", "?").encode())
    return h.hexdigest()


def compile_source(
    source: str,
    build_root: Path | None = None,
    *,
    name: str = "main",
    wasm: bool = True,
    label: str = "circuit",
) -> Path:
    """Compile a main-component file (``--r1cs --sym [--wasm] --O2``), cached.

    The cache directory ``<build_root>/<label>-<digest>`` is keyed by a hash of
    the main source, all circuits/*.circom, the circomlib and circom versions
    and the output options, and is reused when present. Compilation happens
    in a temporary sibling directory that is renamed into place only after
    circom succeeded, so an interrupted compile never leaves a half-written
    cache entry that would later be trusted.
    """
    build_root = (build_root or default_build_root()).resolve()
    build_root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(
        "\0".join([source, _sources_digest(), circom_version(), f"wasm={wasm}", "O2"]).encode()
    ).hexdigest()[:20]
    final = build_root / f"{label}-{key}"
    if (final / f"{name}.r1cs").exists():
        return final

    tmp = Path(tempfile.mkdtemp(prefix=f".{label}-", dir=build_root))
    try:
        (tmp / f"{name}.circom").write_text(source)
        # circom2 runs under WASI with every ancestor of the cwd pre-opened,
        # and cannot open paths that climb out of its cwd ("../x"): run it
        # from a common ancestor with relative paths.
        paths = [tmp, circuits_dir(), node_modules()]
        cwd = Path(os.path.commonpath([str(p) for p in paths]))

        def rel(p: Path) -> str:
            return os.path.relpath(p, cwd)

        cmd = [
            _node(),
            str(node_modules() / "circom2" / "cli.js"),
            rel(tmp / f"{name}.circom"),
            "--r1cs",
            "--sym",
            "--O2",
            "-l",
            rel(node_modules()),
            "-l",
            rel(circuits_dir()),
            "-o",
            rel(tmp),
        ]
        if wasm:
            cmd.insert(4, "--wasm")
        proc = _run(cmd, what=f"circom {name}.circom", cwd=cwd)
        (tmp / "compile.log").write_text(_clean(proc.stdout + proc.stderr) + "\n")
        if not (tmp / f"{name}.r1cs").exists():
            raise CircuitError(f"circom wrote no r1cs:\n{_clean(proc.stdout + proc.stderr)}")
        try:
            tmp.rename(final)
        except OSError:
            # Another process finished the same compile first: use its result.
            if not (final / f"{name}.r1cs").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def compile_circuit(K: int, M: int, B: int, build_root: Path | None = None) -> CompiledCircuit:
    """Compile (or reuse the cached) ``SolvencyBatch(K, M, B)``."""
    directory = compile_source(main_source(K, M, B), build_root, label=f"batch-{K}-{M}-{B}")
    return CompiledCircuit(
        dir=directory,
        r1cs=directory / "main.r1cs",
        wasm=directory / "main_js" / "main.wasm",
        sym=directory / "main.sym",
        K=K,
        M=M,
        B=B,
    )


# --------------------------------------------------------------------------
# iden3 binary formats (r1cs, wtns): "magic, u32 version, u32 nSections,
# then sections (u32 type, u64 size, payload)", little-endian throughout.


def _sections(data: bytes, magic: bytes) -> tuple[int, dict[int, list[tuple[int, int]]]]:
    if data[:4] != magic:
        raise CircuitError(f"not a {magic.decode()} file (magic {data[:4]!r})")
    version, n_sections = struct.unpack_from("<II", data, 4)
    pos = 12
    sections: dict[int, list[tuple[int, int]]] = {}
    for _ in range(n_sections):
        stype, size = struct.unpack_from("<IQ", data, pos)
        pos += 12
        if pos + size > len(data):
            raise CircuitError(f"truncated {magic.decode()} file")
        sections.setdefault(stype, []).append((pos, size))
        pos += size
    return version, sections


def r1cs_info(r1cs: Path) -> dict[str, int]:
    """Header of a .r1cs file: constraints, wires, public inputs, private
    inputs, outputs, labels and the field prime.

    Parsed in Python (zksolv.r1cs) because it is a few fixed-width integers
    and shelling out to ``snarkjs r1cs info`` costs a second of Node start-up.
    """
    from .r1cs import R1CSFormatError, read_header

    try:
        header = read_header(r1cs)
    except (R1CSFormatError, struct.error) as exc:
        raise CircuitError(f"{r1cs}: not a valid r1cs file: {exc}") from None
    return {
        "constraints": header.n_constraints,
        "wires": header.n_wires,
        "public_inputs": header.n_pub_in,
        "private_inputs": header.n_prv_in,
        "outputs": header.n_pub_out,
        "labels": header.n_labels,
        "prime": header.prime,
    }


def read_wtns(path: Path) -> list[int]:
    """All wire values of a .wtns file (index 0 is the constant 1)."""
    data = Path(path).read_bytes()
    _, sections = _sections(data, b"wtns")
    pos, _ = sections[1][0]
    (n8,) = struct.unpack_from("<I", data, pos)
    (n_witness,) = struct.unpack_from("<I", data, pos + 4 + n8)
    pos2, size2 = sections[2][0]
    if size2 != n8 * n_witness:
        raise CircuitError(f"{path}: witness section has {size2} bytes, expected {n8 * n_witness}")
    return [int.from_bytes(data[pos2 + i * n8 : pos2 + (i + 1) * n8], "little") for i in range(n_witness)]


def write_wtns(path: Path, values: Iterable[int], prime: int = BN254_R) -> None:
    """Write wire values as a .wtns file (version 2, the layout snarkjs and the
    circom witness generator use). Values are reduced mod ``prime``: used by
    the forged-witness tests to hand snarkjs an arbitrary assignment."""
    vals = [v % prime for v in values]
    n8 = ((prime.bit_length() - 1) // 64 + 1) * 8
    header = struct.pack("<I", n8) + prime.to_bytes(n8, "little") + struct.pack("<I", len(vals))
    body = b"".join(v.to_bytes(n8, "little") for v in vals)
    out = b"wtns" + struct.pack("<II", 2, 2)
    out += struct.pack("<IQ", 1, len(header)) + header
    out += struct.pack("<IQ", 2, len(body)) + body
    Path(path).write_bytes(out)


def read_sym(sym: Path) -> dict[str, int]:
    """Signal name -> wire index from a .sym file, for the signals that
    survived --O2 (eliminated signals have wire -1 and are left out).
    Names are as circom prints them, e.g. ``main.account[0].amount[3].bits.out[63]``."""
    wires: dict[str, int] = {}
    with open(sym) as fh:
        for line in fh:
            parts = line.rstrip("\n").split(",", 3)
            if len(parts) == 4 and parts[1] != "-1":
                wires[parts[3]] = int(parts[1])
    return wires


# --------------------------------------------------------------------------
# witnesses


def _jsonable(value: Any) -> Any:
    """circom's input.json wants field elements as decimal strings (JSON
    numbers lose precision above 2^53)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def compute_witness(circ: CompiledCircuit, input: dict[str, Any], out_wtns: Path) -> Path:
    """Run the circuit's WASM witness generator on ``input``.

    Raises CircuitError with circom's message (template and line of the failed
    assert or ``===``) when the input does not satisfy the circuit: the
    generator checks every constraint as it computes, so an invalid statement
    fails here, before any proving.
    """
    out_wtns = Path(out_wtns)
    out_wtns.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=out_wtns.parent, delete=False) as fh:
        json.dump(_jsonable(input), fh)
        input_path = Path(fh.name)
    try:
        if out_wtns.exists():
            out_wtns.unlink()
        proc = subprocess.run(
            [_node(), str(circ.witness_js), str(circ.wasm), str(input_path), str(out_wtns)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not out_wtns.exists():
            raise CircuitError("witness generation failed:\n" + _witness_message(proc.stdout + proc.stderr))
    finally:
        input_path.unlink(missing_ok=True)
    return out_wtns


def _witness_message(text: str) -> str:
    """Keep circom's own report ("Assert Failed.", then one "Error in template
    T line: L" per level, innermost first) and drop Node's source excerpt,
    stack trace and version banner."""
    lines = _clean(text).splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Error")), 0)
    kept = [
        ln.replace("Error: Error: ", "Error: ")
        for ln in lines[start:]
        if ln.strip() and not ln.lstrip().startswith("at ") and not ln.startswith("Node.js v")
    ]
    return "\n".join(kept).strip()


def check_witness(r1cs: Path, wtns: Path) -> None:
    """``snarkjs wtns check``: every R1CS constraint holds for this witness.

    This is independent of the witness generator (which could be bypassed by a
    malicious prover) and is what the forged-witness tests rely on. Raises
    CircuitError if any constraint fails.
    """
    proc = subprocess.run(
        [_node(), str(node_modules() / "snarkjs" / "build" / "cli.cjs"), "wtns", "check", str(r1cs), str(wtns)],
        capture_output=True,
        text=True,
    )
    text = _clean(proc.stdout + proc.stderr)
    if proc.returncode != 0 or "WITNESS IS CORRECT" not in text.upper():
        raise CircuitError(f"snarkjs wtns check rejected the witness:\n{text}")


def public_signals(values: list[int], n: int = len(PUBLIC_SIGNALS)) -> list[int]:
    """The public signals of a witness: wires 1..n (no outputs, so the public
    inputs come right after the constant wire 0)."""
    return values[1 : n + 1]
