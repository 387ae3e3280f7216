"""Tests for zksolv.ptau and zksolv/js/devptau.js (insecure development ptau).

The Groth16 pipeline is run twice on tests/fixtures/tiny.circom: once with a
development ptau from devptau.js and once with a real snarkjs ptau (new,
contribute, prepare phase2) of the same power.  Both must verify, proofs must
not cross over between the two keys, and tampered public signals must fail.
The ptau power is exactly what the circuit needs, so the H query comes from
the 2^(power+1) Lagrange domain, the one prepare phase2 builds specially.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from zksolv.binfile import scan
from zksolv.errors import EXIT_INPUT, ZksolvError
from zksolv.ptau import (
    DEV_PTAU_MARKER,
    PtauError,
    is_dev_ptau,
    make_dev_ptau,
    read_ptau_power,
    required_power,
)
from zksolv.r1cs import read_header

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "node_modules"
SNARKJS = NODE_MODULES / ".bin" / "snarkjs"
CIRCOM = NODE_MODULES / ".bin" / "circom2"
FIXTURE = Path("tests") / "fixtures" / "tiny.circom"  # relative: circom2 (WASI) needs it

HAVE_NODE = shutil.which("node") is not None and SNARKJS.exists() and CIRCOM.exists()
needs_node = pytest.mark.skipif(not HAVE_NODE, reason="Node toolchain not installed (npm ci)")

TINY_INPUT = {"a": "3", "b": "5", "c": "7", "salt": "11"}


def run(*args: object, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def snarkjs(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(SNARKJS, *args, check=check)


def verifies(vkey: Path, public: Path, proof: Path) -> bool:
    proc = snarkjs("groth16", "verify", vkey, public, proof, check=False)
    ok = proc.returncode == 0 and "OK!" in proc.stdout
    assert ok or proc.returncode != 0, proc.stdout + proc.stderr
    return ok


def r1cs_counts(path: Path) -> tuple[int, int]:
    """(nConstraints, nPublic = outputs + public inputs) from an r1cs header."""
    header = read_header(path)
    return header.n_constraints, header.n_pub_out + header.n_pub_in


def section_table(path: Path) -> dict[int, int]:
    f = scan(path, b"ptau")
    last = f.sections[-1]
    assert last.start + last.size == path.stat().st_size
    return {s.kind: s.size for s in f.sections}


# --------------------------------------------------------------------------
# Pure Python (no Node)
# --------------------------------------------------------------------------


def test_required_power_matches_snarkjs_formula() -> None:
    # snarkjs: cirPower = floor(log2(nConstraints + nPublic)) + 1
    assert required_power(0, 0) == 1
    assert required_power(1, 0) == 1
    assert required_power(2, 0) == 2
    assert required_power(3, 0) == 2
    assert required_power(255, 0) == 8  # 255 + ONE = 256 rows
    assert required_power(255, 1) == 9  # 257 rows
    assert required_power(243, 3) == 8
    assert required_power(65535, 0) == 16
    assert required_power(65536, 0) == 17
    with pytest.raises(ValueError):
        required_power(-1, 0)


def _fake_ptau(path: Path, power: int, contribution: bytes) -> None:
    q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
    header = struct.pack("<I", 32) + q.to_bytes(32, "little") + struct.pack("<II", power, power)
    sections = [(1, header), (7, struct.pack("<I", 0) + contribution)]
    out = b"ptau" + struct.pack("<II", 1, len(sections))
    for sid, payload in sections:
        out += struct.pack("<IQ", sid, len(payload)) + payload
    path.write_bytes(out)


def test_header_parsing_without_node(tmp_path: Path) -> None:
    plain = tmp_path / "plain.ptau"
    _fake_ptau(plain, 11, b"")
    assert read_ptau_power(plain) == 11
    assert not is_dev_ptau(plain)
    marked = tmp_path / "marked.ptau"
    _fake_ptau(marked, 5, b"\x01" + DEV_PTAU_MARKER)
    assert read_ptau_power(marked) == 5
    assert is_dev_ptau(marked)
    bad = tmp_path / "bad.ptau"
    bad.write_bytes(b"zkey" + bytes(20))
    with pytest.raises(PtauError, match=r"bad\.ptau: not a \.ptau file \(magic b'zkey'"):
        read_ptau_power(bad)
    truncated = tmp_path / "trunc.ptau"
    truncated.write_bytes(plain.read_bytes()[:30])
    with pytest.raises(PtauError, match="trunc.ptau: section 1 runs past the end of the file"):
        read_ptau_power(truncated)
    with pytest.raises(PtauError, match="missing.ptau: cannot read: No such file"):
        is_dev_ptau(tmp_path / "missing.ptau")


def test_ptau_errors_are_input_errors() -> None:
    # The CLI reports a ZksolvError with its exit code; anything else would be an "internal error".
    assert issubclass(PtauError, ZksolvError) and PtauError.exit_code == EXIT_INPUT


def test_make_dev_ptau_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(PtauError):
        make_dev_ptau(0, tmp_path / "x.ptau")
    with pytest.raises(PtauError):
        make_dev_ptau(28, tmp_path / "x.ptau")
    with pytest.raises(PtauError):
        make_dev_ptau(4, tmp_path / "missing-dir" / "x.ptau")
    with pytest.raises(PtauError):
        make_dev_ptau(4, tmp_path / "x.ptau", node=str(tmp_path / "no-such-node"))
    assert not (tmp_path / "x.ptau").exists()


# --------------------------------------------------------------------------
# Full pipeline (Node)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Circuit:
    r1cs: Path
    wasm: Path
    witness: Path
    power: int


@dataclass(frozen=True)
class Keys:
    ptau: Path
    zkey: Path
    vkey: Path
    proof: Path
    public: Path


@pytest.fixture(scope="module")
def circuit(tmp_path_factory: pytest.TempPathFactory) -> Circuit:
    out = tmp_path_factory.mktemp("tiny")
    # circom2 is a WASI build: give it paths relative to the repo.
    run(CIRCOM, FIXTURE, "--r1cs", "--wasm", "--O2", "-l", "node_modules", "-o", out, cwd=REPO)
    r1cs = out / "tiny.r1cs"
    wasm = out / "tiny_js" / "tiny.wasm"
    inp = out / "input.json"
    inp.write_text(json.dumps(TINY_INPUT))
    witness = out / "tiny.wtns"
    snarkjs("wtns", "calculate", wasm, inp, witness)
    n_constraints, n_public = r1cs_counts(r1cs)
    assert n_public == 3 and n_constraints > 100
    return Circuit(r1cs, wasm, witness, required_power(n_constraints, n_public))


def _keys(circuit: Circuit, ptau: Path, out: Path) -> Keys:
    zkey0, zkey = out / "c_0000.zkey", out / "c_final.zkey"
    vkey, proof, public = out / "vkey.json", out / "proof.json", out / "public.json"
    snarkjs("groth16", "setup", circuit.r1cs, ptau, zkey0)
    assert zkey0.stat().st_size > 0
    snarkjs("zkey", "contribute", zkey0, zkey, "-n=test", "-e=test entropy " + out.name)
    snarkjs("zkey", "export", "verificationkey", zkey, vkey)
    snarkjs("groth16", "prove", zkey, circuit.witness, proof, public)
    return Keys(ptau, zkey, vkey, proof, public)


@pytest.fixture(scope="module")
def dev(circuit: Circuit, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    out = tmp_path_factory.mktemp("dev")
    ptau = make_dev_ptau(circuit.power, out / "dev.ptau")
    return _keys(circuit, ptau, out)


@pytest.fixture(scope="module")
def real(circuit: Circuit, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    out = tmp_path_factory.mktemp("real")
    p0, p1, ptau = out / "pot_0000.ptau", out / "pot_0001.ptau", out / "real.ptau"
    snarkjs("powersoftau", "new", "bn128", circuit.power, p0)
    snarkjs("powersoftau", "contribute", p0, p1, "-name=test", "-e=real ceremony entropy")
    snarkjs("powersoftau", "prepare", "phase2", p1, ptau)
    return _keys(circuit, ptau, out)


@needs_node
@pytest.mark.node
def test_tiny_circuit_needs_exactly_the_ptau_power(circuit: Circuit) -> None:
    # 243 constraints + 3 public + ONE = 247 rows -> 2^8; ptau power == cirPower
    # means the H query reads section 12's 2^(power+1) domain.
    assert circuit.power == 8


@needs_node
@pytest.mark.node
def test_dev_ptau_proof_verifies(dev: Keys) -> None:
    assert verifies(dev.vkey, dev.public, dev.proof)
    assert json.loads(dev.public.read_text())[2] == TINY_INPUT["salt"]


@needs_node
@pytest.mark.node
def test_real_ptau_proof_verifies(real: Keys) -> None:
    assert verifies(real.vkey, real.public, real.proof)


@needs_node
@pytest.mark.node
def test_proofs_do_not_cross_keys(dev: Keys, real: Keys) -> None:
    assert dev.public.read_text() == real.public.read_text()
    assert not verifies(real.vkey, dev.public, dev.proof)
    assert not verifies(dev.vkey, real.public, real.proof)


@needs_node
@pytest.mark.node
def test_tampered_public_signal_fails(dev: Keys, tmp_path: Path) -> None:
    public = json.loads(dev.public.read_text())
    for i in range(len(public)):
        bad = list(public)
        bad[i] = str(int(bad[i]) + 1)
        path = tmp_path / f"public_{i}.json"
        path.write_text(json.dumps(bad))
        assert not verifies(dev.vkey, path, dev.proof)


@needs_node
@pytest.mark.node
def test_ptau_power_and_marker(circuit: Circuit, dev: Keys, real: Keys) -> None:
    assert read_ptau_power(dev.ptau) == circuit.power
    assert read_ptau_power(real.ptau) == circuit.power
    assert is_dev_ptau(dev.ptau)
    assert not is_dev_ptau(real.ptau)
    # Same sections with the same sizes as a real prepared ptau, except the
    # contributions (7), whose record differs.
    dev_table, real_table = section_table(dev.ptau), section_table(real.ptau)
    assert sorted(dev_table) == sorted(real_table) == [1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15]
    del dev_table[7], real_table[7]
    assert dev_table == real_table


@needs_node
@pytest.mark.node
def test_dev_ptau_equals_snarkjs_prepare_phase2(dev: Keys, tmp_path: Path) -> None:
    # prepare phase2 recomputes sections 12-15 from sections 2-5 by FFT; our
    # directly computed Lagrange sections must be byte-for-byte the same.
    again = tmp_path / "again.ptau"
    snarkjs("powersoftau", "prepare", "phase2", dev.ptau, again)
    assert again.read_bytes() == dev.ptau.read_bytes()


@needs_node
@pytest.mark.node
def test_dev_zkey_passes_snarkjs_zkey_verify(circuit: Circuit, dev: Keys) -> None:
    proc = snarkjs("zkey", "verify", circuit.r1cs, dev.ptau, dev.zkey)
    assert "ZKey Ok!" in proc.stdout


@needs_node
@pytest.mark.node
def test_dev_ptau_rejected_by_powersoftau_verify(dev: Keys) -> None:
    proc = snarkjs("powersoftau", "verify", dev.ptau, check=False)
    assert proc.returncode != 0


@needs_node
@pytest.mark.node
def test_too_small_ptau_gives_empty_zkey(circuit: Circuit, tmp_path: Path) -> None:
    # snarkjs trap worth knowing: a ptau one power too small makes
    # `groth16 setup` log an error but exit 0, leaving an empty zkey.
    ptau = make_dev_ptau(circuit.power - 1, tmp_path / "small.ptau")
    zkey = tmp_path / "small.zkey"
    snarkjs("groth16", "setup", circuit.r1cs, ptau, zkey, check=False)
    assert not zkey.exists() or zkey.stat().st_size == 0
