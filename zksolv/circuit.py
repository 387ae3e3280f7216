"""Driver for the circom circuits in ``circuits/``: compile, witness, check.

The prover side of zksolv: it compiles circuits and computes witnesses with the
Node toolchain (circom2 = circom compiled to WASM, snarkjs), run through
zksolv.toolchain, or with circom's C++ witness generator where keys carry one
(`build_native_witness`). The verifier side never imports it (tests/test_architecture.py).

Everything here is a plain function over paths so that tests (and the forged
witness tests in particular) can look at and tamper with every intermediate
file: the .r1cs header and the .wtns format are parsed in Python.
"""

from __future__ import annotations

import filecmp
import functools
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import binfile, toolchain
from .errors import ToolchainError
from .field import MAX_SCENARIOS

# Re-exported: evm.py, devsetup.py, bench/ and tests still import these from here.
from .toolchain import REPO_ROOT, default_build_root, node_modules  # noqa: F401
from .toolchain import node as _node  # noqa: F401

__all__ = [
    "BN254_R",
    "NATIVE_CFLAGS",
    "CircuitError",
    "CompiledCircuit",
    "build_native_witness",
    "check_witness",
    "circom_version",
    "circuits_dir",
    "compile_circuit",
    "compile_source",
    "compute_witness",
    "default_build_root",
    "main_source",
    "native_toolchain_missing",
    "node_modules",
    "public_signals",
    "r1cs_info",
    "read_sym",
    "read_wtns",
    "require_native_toolchain",
    "write_wtns",
]

#: BN254 scalar field order (circom's default prime, "bn128").
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

#: Names of the public inputs of SolvencyBatch, in public.json order (PROTOCOL.md §6).
PUBLIC_SIGNALS = ("batch_root", "acc_in", "acc_out")

#: The toolchain rejected something: compile error, failed assert/constraint during witness
#: generation, or a witness that does not satisfy the R1CS (the message carries the tool's own
#: output). The toolchain's one error type under its historical name, which callers catch.
CircuitError = ToolchainError


@dataclass(frozen=True)
class CompiledCircuit:
    """Paths of one compiled ``SolvencyBatch(K, M, B, TIERS)`` (all inside ``dir``)."""

    dir: Path
    r1cs: Path
    wasm: Path
    sym: Path
    K: int
    M: int
    B: int
    tiers: tuple[int, ...] = ()  # brackets per market; () = every market flat
    scenarios: int = 0  # S, scenario price vectors (PROTOCOL.md §3.3)
    native: Path | None = None  # circom's C++ witness generator (its .dat beside it), tried before the WASM one

    @property
    def witness_js(self) -> Path:
        return self.wasm.parent / "generate_witness.js"


# --------------------------------------------------------------------------
# locations


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


@functools.cache
def circom_version() -> str:
    """``circom2 --version`` output (part of the cache key: a compiler upgrade
    may change the constraint system)."""
    out = toolchain.run([str(toolchain.node_bin("circom2")), "--version"], what="circom2 --version")
    return out.stdout.strip()


# --------------------------------------------------------------------------
# compilation


def main_source(K: int, M: int, B: int, tiers: tuple[int, ...] = (), scenarios: int = 0) -> str:
    """The main component file for ``SolvencyBatch(K, M, B, TIERS, S)``.

    Generated rather than checked in because K, M, B, the brackets per
    market (TIERS, () for all flat) and the scenario count S are per-venue choices; the public list
    fixes the public.json order of PROTOCOL.md §6 (circom orders public inputs
    by their declaration order in the template, which is the same).
    """
    if not (K >= 0 and M >= 0 and 1 <= K + M <= 45):
        raise ValueError(f"need 1 <= K + M <= 45, got K={K}, M={M}")
    if B < 1 or B & (B - 1):
        raise ValueError(f"B must be a power of two, got {B}")
    tiers = tiers or (1,) * M
    if len(tiers) != M or not all(1 <= t <= 32 for t in tiers):
        raise ValueError(f"need 1 to 32 brackets for each of the {M} markets, got {list(tiers)}")
    if not 0 <= scenarios < MAX_SCENARIOS or (scenarios and any(t > 1 for t in tiers)):
        raise ValueError(
            f"need 0 <= S < {MAX_SCENARIOS} scenarios and no tiered market with scenarios, got S={scenarios}"
        )
    # circom has no empty array literal; with M = 0 the one entry is never read.
    tiers_literal = ", ".join(str(t) for t in tiers or (1,))
    return (
        "pragma circom 2.1.0;\n\n"
        'include "batch.circom";\n\n'
        f"// SolvencyBatch(K={K}, M={M}, B={B}, TIERS=[{tiers_literal}], S={scenarios}); "
        "generated by zksolv.circuit.main_source\n"
        "component main {public [batch_root, acc_in, acc_out]} = "
        f"SolvencyBatch({K}, {M}, {B}, [{tiers_literal}], {scenarios});\n"
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
    optimization: Literal["O0", "O1", "O2"] = "O2",
    cpp: bool = False,
) -> Path:
    """Compile a main-component file (``--r1cs --sym [--wasm] [--c] --O2``, or ``--O0``/``--O1``), cached.

    ``optimization`` is circom's simplification level: ``O2`` (the default) is
    what zksolv proves with; the forged-witness tests evaluate an ``O0`` build,
    where every signal keeps its own wire and defining constraint. ``cpp`` adds
    the C++ witness generator's sources (``<name>_cpp/``; circom reserves the
    name ``main`` for them, so such a build needs another ``name``).

    The cache directory ``<build_root>/<label>-<digest>`` is keyed by a hash of
    the main source, all circuits/*.circom, the circomlib and circom versions,
    the output options and the level, and is reused when present. A level other
    than O2 is also named in it (``<label>-O0-<digest>``), and so is a C++
    build (``<label>-cpp-<digest>``); O2 builds keep the
    names they always had, which setup.json's circuit id quotes. Compilation
    happens in a temporary sibling directory that is renamed into place only
    after circom succeeded, so an interrupted compile never leaves a
    half-written cache entry that would later be trusted.
    """
    build_root = (build_root or default_build_root()).resolve()
    build_root.mkdir(parents=True, exist_ok=True)
    options = [f"wasm={wasm}", optimization, *(["cpp"] if cpp else [])]
    key = hashlib.sha256("\0".join([source, _sources_digest(), circom_version(), *options]).encode()).hexdigest()[:20]
    level = "" if optimization == "O2" else f"{optimization}-"
    final = build_root / f"{label}-{level}{'cpp-' if cpp else ''}{key}"
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
            str(node_modules() / "circom2" / "cli.js"),
            rel(tmp / f"{name}.circom"),
            "--r1cs",
            "--sym",
            f"--{optimization}",
            "-l",
            rel(node_modules()),
            "-l",
            rel(circuits_dir()),
            "-o",
            rel(tmp),
        ]
        if wasm:
            cmd.insert(3, "--wasm")
        if cpp:
            cmd.insert(3, "--c")
        proc = toolchain.run_node(cmd, what=f"circom {name}.circom", cwd=cwd)
        (tmp / "compile.log").write_text(toolchain.clean(proc.stdout + proc.stderr) + "\n")
        if not (tmp / f"{name}.r1cs").exists():
            raise CircuitError(f"circom wrote no r1cs:\n{toolchain.clean(proc.stdout + proc.stderr)}")
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


def _label(K: int, M: int, B: int, tiers: tuple[int, ...], scenarios: int) -> str:
    label = f"batch-{K}-{M}-{B}" + ("-t" + "".join(f"{t}." for t in tiers).rstrip(".") if tiers else "")
    return label + (f"-s{scenarios}" if scenarios else "")


def compile_circuit(
    K: int, M: int, B: int, build_root: Path | None = None, tiers: tuple[int, ...] = (), scenarios: int = 0
) -> CompiledCircuit:
    """Compile (or reuse the cached) ``SolvencyBatch(K, M, B, TIERS, S)``."""
    tiers = () if all(t == 1 for t in tiers) else tuple(tiers)
    directory = compile_source(
        main_source(K, M, B, tiers, scenarios), build_root, label=_label(K, M, B, tiers, scenarios)
    )
    return CompiledCircuit(
        dir=directory,
        r1cs=directory / "main.r1cs",
        wasm=directory / "main_js" / "main.wasm",
        sym=directory / "main.sym",
        K=K,
        M=M,
        B=B,
        tiers=tiers,
        scenarios=scenarios,
    )


# --------------------------------------------------------------------------
# the native (C++) witness generator

#: g++ flags of the native witness generator, chosen by measurement (docs/BENCHMARKS.md, "Native
#: witness generator"): -O1 halves -O0's witness time; circom's Makefile has -O3, which takes 1.6×
#: as long to build for no faster a witness.
NATIVE_CFLAGS = ("-std=c++11", "-O1")

#: The name of the C++ build: circom's generated main.cpp reads ``<its own path>.dat``.
NATIVE_NAME = "circuit"

#: What building it needs: the Debian package of each piece.
NATIVE_PACKAGES = {"g++": "g++", "nasm": "nasm", "nlohmann/json.hpp": "nlohmann-json3-dev", "gmp": "libgmp-dev"}


def native_toolchain_missing() -> list[str]:
    """The pieces (keys of NATIVE_PACKAGES) that building the C++ witness generator needs and this
    machine lacks: g++, nasm, the nlohmann/json.hpp header, gmp (gmp.h and libgmp)."""
    missing = [tool for tool in ("g++", "nasm") if shutil.which(tool) is None]
    if "g++" in missing:
        return missing  # the headers are looked for where g++ looks
    try:
        search = subprocess.run(
            ["g++", "-x", "c++", "-E", "-v", "-"], input="", capture_output=True, text=True
        ).stderr.splitlines()
        library = subprocess.run(["g++", "-print-file-name=libgmp.so"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ["g++", *missing]
    start = next((i for i, ln in enumerate(search) if ln.startswith("#include <...>")), len(search))
    dirs = [Path(ln.strip()) for ln in search[start + 1 :] if ln.startswith(" ")]
    if not any((d / "nlohmann" / "json.hpp").exists() for d in dirs):
        missing.append("nlohmann/json.hpp")
    # Without the library g++ prints the bare name back.
    if not any((d / "gmp.h").exists() for d in dirs) or not Path(library).is_absolute():
        missing.append("gmp")
    return missing


def require_native_toolchain() -> None:
    """Raise ToolchainError naming what is missing to build the C++ witness generator, and how to install it."""
    missing = native_toolchain_missing()
    if missing:
        packages = " ".join(NATIVE_PACKAGES.values())
        raise ToolchainError(
            f"the native witness generator cannot be built here: missing {', '.join(missing)} "
            f"(Debian packages {', '.join(NATIVE_PACKAGES[m] for m in missing)}); install them with "
            f"`make native-witness` or `apt-get install {packages}`"
        )


def build_native_witness(circ: CompiledCircuit, build_root: Path | None = None) -> Path:
    """circom's C++ witness generator of ``circ``: the binary, with its .dat beside it, built once.

    Its sources come from a ``--c`` compile of the same main source, level and include paths (a
    cache entry of its own, whose r1cs must be byte-identical to ``circ``'s: the binary computes
    the witness of the very circuit the keys prove). The build is cached beside those sources; it
    takes minutes for a 64-account batch, most of it g++ on one generated file of tens of MB.
    """
    require_native_toolchain()
    directory = compile_source(
        main_source(circ.K, circ.M, circ.B, circ.tiers, circ.scenarios),
        build_root,
        name=NATIVE_NAME,
        wasm=False,
        cpp=True,
        label=_label(circ.K, circ.M, circ.B, circ.tiers, circ.scenarios),
    )
    if not filecmp.cmp(directory / f"{NATIVE_NAME}.r1cs", circ.r1cs, shallow=False):
        raise CircuitError(f"the C++ build in {directory} has another r1cs than {circ.r1cs}: not the same circuit")
    sources = directory / f"{NATIVE_NAME}_cpp"
    binary = sources / NATIVE_NAME
    if not binary.exists():
        _build_native(sources, binary)
    return binary


def _build_native(sources: Path, binary: Path) -> None:
    """g++ and nasm over circom's generated sources, in a scratch folder: the binary is renamed into
    place whole, so an interrupted build is never taken for a finished one."""
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=sources))
    try:
        # The big generated file first: it is the whole critical path.
        units = sorted(sources.glob("*.cpp"), key=lambda f: -f.stat().st_size)
        jobs = [
            ["g++", "-c", str(unit), *NATIVE_CFLAGS, f"-I{sources}", "-o", str(scratch / f"{unit.stem}.o")]
            for unit in units
        ]
        jobs.append(["nasm", "-felf64", str(sources / "fr.asm"), "-o", str(scratch / "fr_asm.o")])
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        with ThreadPoolExecutor(cores) as pool:
            for done in [pool.submit(toolchain.run, job, what=f"{job[0]} {Path(job[2]).name}") for job in jobs]:
                done.result()
        # fr.asm has no .note.GNU-stack: without -z noexecstack the linker would make the stack executable.
        objects = sorted(str(o) for o in scratch.glob("*.o"))
        toolchain.run(
            ["g++", "-o", str(scratch / binary.name), *objects, "-lgmp", "-Wl,-z,noexecstack"],
            what="linking the native witness generator",
        )
        os.replace(scratch / binary.name, binary)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------
# iden3 binary files (zksolv.binfile reads their section tables)


def r1cs_info(r1cs: Path) -> dict[str, int]:
    """Header of a .r1cs file: constraints, wires, public inputs, private
    inputs, outputs, labels and the field prime.

    Parsed in Python (zksolv.r1cs) because it is a few fixed-width integers
    and shelling out to ``snarkjs r1cs info`` costs a second of Node start-up.
    """
    from .r1cs import R1CSFormatError, read_header

    try:
        header = read_header(r1cs)
    except R1CSFormatError as exc:
        raise CircuitError(f"not a valid r1cs file: {exc}") from None
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
    f = binfile.parse(Path(path).read_bytes(), b"wtns", file=str(path))
    header, body = f.one(1), f.one(2)
    (n8,) = f.unpack(header, "I")
    (n_witness,) = f.unpack(header, "I", 4 + n8)
    if body.size != n8 * n_witness:
        raise f.error(f"witness section has {body.size} bytes, expected {n8 * n_witness}")
    return f.elements(body, n8, n_witness)


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
    """Run the circuit's witness generator on ``input``: the native one (``circ.native``) when
    there is one and it succeeds, else the WASM one, the reference.

    Raises CircuitError with circom's message (template and line of the failed
    assert or ``===``) when the input does not satisfy the circuit: the
    generator checks every constraint as it computes, so an invalid statement
    fails here, before any proving. The native generator stops at the same
    asserts, then the WASM one runs for that message.
    """
    out_wtns = Path(out_wtns)
    out_wtns.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=out_wtns.parent, delete=False) as fh:
        json.dump(_jsonable(input), fh)
        input_path = Path(fh.name)
    try:
        if out_wtns.exists():
            out_wtns.unlink()
        if circ.native is not None and _native_witness(circ.native, input_path, out_wtns):
            return out_wtns
        proc = toolchain.run_node(
            [str(circ.witness_js), str(circ.wasm), str(input_path), str(out_wtns)],
            what="witness generation",
            check=False,
        )
        if proc.returncode != 0 or not out_wtns.exists():
            raise CircuitError("witness generation failed:\n" + _witness_message(proc.stdout + proc.stderr))
    finally:
        input_path.unlink(missing_ok=True)
    return out_wtns


def _native_witness(binary: Path, input_path: Path, out_wtns: Path) -> bool:
    """Whether the native generator wrote the witness. Any failure counts as none: it cannot run on
    this worker (another CPU, no libgmp, not executable) or the input fails an assert. So does any
    output, which it has only on failure: built without its asserts, it would print a failed one
    and go on."""
    try:
        proc = subprocess.run([str(binary), str(input_path), str(out_wtns)], capture_output=True)
    except OSError:
        return False
    if proc.returncode == 0 and not (proc.stdout + proc.stderr).strip() and out_wtns.exists():
        return True
    out_wtns.unlink(missing_ok=True)
    return False


def _witness_message(text: str) -> str:
    """Keep circom's own report ("Assert Failed.", then one "Error in template
    T line: L" per level, innermost first) and drop Node's source excerpt,
    stack trace and version banner."""
    lines = toolchain.clean(text).splitlines()
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
    proc = toolchain.run_node(
        [str(node_modules() / "snarkjs" / "build" / "cli.cjs"), "wtns", "check", str(r1cs), str(wtns)],
        what="snarkjs wtns check",
        check=False,
    )
    text = toolchain.clean(proc.stdout + proc.stderr)
    if proc.returncode != 0 or "WITNESS IS CORRECT" not in text.upper():
        raise CircuitError(f"snarkjs wtns check rejected the witness:\n{text}")


def public_signals(values: list[int], n: int = len(PUBLIC_SIGNALS)) -> list[int]:
    """The public signals of a witness: wires 1..n (no outputs, so the public
    inputs come right after the constant wire 0)."""
    return values[1 : n + 1]
