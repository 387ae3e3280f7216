"""The native witness generator (`setup --native-witness`: circom --c, built with g++ and nasm).

Keys that carry it compute every witness with it; its witnesses are byte-identical to the WASM
generator's (the reference) for honest batches, solvent or not; an input that fails the circuit
fails natively and then gets the WASM generator's CircuitError, word for word; a binary that cannot
run here (not executable, not a binary, not the one setup.json records) leaves the WASM generator
to do the work, and the bundle still verifies. A machine without the toolchain gets an error that
names what is missing and how to install it, before anything is compiled.

Shape K=1, M=1, B=2 (the native build is cached under build/, like the keys).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import stat
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import zksolv.circuit as circuit_module
from zksolv.accounts import read_accounts
from zksolv.circuit import (
    CircuitError,
    CompiledCircuit,
    compute_witness,
    native_toolchain_missing,
    require_native_toolchain,
)
from zksolv.cli import main
from zksolv.commitment import build_commitment
from zksolv.errors import ToolchainError
from zksolv.params import parse_params
from zksolv.prove import prove
from zksolv.scheduler import circuit_of
from zksolv.secret import generate_secret
from zksolv.setup import cached_setup, load_keys, setup, sha256_file
from zksolv.verify import python_backend, verify_bundle
from zksolv.witness import plan_batches

from .conftest import TINY_ACCOUNTS, TINY_PARAMS, TINY_SHAPE

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parent.parent
SEED = bytes(range(32))
# 7 accounts, 4 batches of 2: dave is bankrupt, erin below maintenance (a 0.1 BTC short on 100 USDC).
ACCOUNTS = TINY_ACCOUNTS + "dave,-100,\nerin,100,-0.1\nfrank,0.5,\ngrace,250000,-2\n"


@pytest.fixture(scope="module")
def native_keys():
    return cached_setup(*TINY_SHAPE, native_witness=True)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("native-plan")
    (folder / "accounts.csv").write_text(ACCOUNTS)
    params = parse_params(TINY_PARAMS)
    commitment = build_commitment(read_accounts(folder / "accounts.csv", params), params, SEED, batch_size=2)
    return plan_batches(commitment, SEED, 2)


@pytest.fixture
def inputs(tmp_path) -> dict[str, Path]:
    (tmp_path / "params.json").write_text(json.dumps(TINY_PARAMS))
    (tmp_path / "accounts.csv").write_text(TINY_ACCOUNTS)
    return {
        "params": tmp_path / "params.json",
        "accounts": tmp_path / "accounts.csv",
        "secret": generate_secret(tmp_path / "venue.secret"),
    }


def wasm_only(circ: CompiledCircuit) -> CompiledCircuit:
    return dataclasses.replace(circ, native=None)


def native_runs(monkeypatch) -> list[bool]:
    """Whether each native run (in this process) wrote the witness, in order."""
    runs: list[bool] = []
    real = circuit_module._native_witness

    def spy(*args) -> bool:
        runs.append(real(*args))
        return runs[-1]

    monkeypatch.setattr(circuit_module, "_native_witness", spy)
    return runs


def test_setup_records_the_native_generator(native_keys):
    record = native_keys.info["native_witness"]
    binary = native_keys.dir / record["binary"]
    assert record["binary"] == "circuit_cpp/circuit" and binary.stat().st_mode & stat.S_IXUSR
    assert sha256_file(binary) == record["sha256"]
    assert sha256_file(binary.with_name("circuit.dat")) == record["dat_sha256"]
    assert native_keys.native_witness == binary == circuit_of(native_keys).native
    assert "native_witness_s" in native_keys.info["timings"]


def test_keys_without_it_omit_the_field():
    keys = cached_setup(*TINY_SHAPE)
    assert "native_witness" not in keys.info and keys.native_witness is None and circuit_of(keys).native is None
    assert "native_witness" not in json.loads((keys.dir / "setup.json").read_text())


def test_native_and_wasm_witnesses_are_byte_identical(native_keys, plan, tmp_path, monkeypatch):
    assert plan.n_batches == 4
    circ = circuit_of(native_keys)
    wasm = [compute_witness(wasm_only(circ), plan.batch_input(i), tmp_path / f"wasm{i}.wtns") for i in range(4)]
    runs = native_runs(monkeypatch)
    native = [compute_witness(circ, plan.batch_input(i), tmp_path / f"native{i}.wtns") for i in range(4)]
    assert runs == [True] * 4
    for w, n in zip(wasm, native, strict=True):
        assert n.read_bytes() == w.read_bytes()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda inp: inp.update(batch_root=inp["batch_root"] + 1), id="wrong batch_root"),
        pytest.param(lambda inp: inp["amount"][0].__setitem__(0, 1 << 70), id="amount out of range"),
    ],
)
def test_a_failing_input_gets_the_wasm_message(native_keys, plan, tamper, tmp_path, monkeypatch):
    circ = circuit_of(native_keys)
    bad = json.loads(json.dumps(plan.batch_input(0)))
    tamper(bad)
    with pytest.raises(CircuitError) as reference:
        compute_witness(wasm_only(circ), bad, tmp_path / "wasm.wtns")
    runs = native_runs(monkeypatch)
    with pytest.raises(CircuitError) as native:
        compute_witness(circ, bad, tmp_path / "native.wtns")
    assert runs == [False], "the native generator must stop at the failed assert"
    assert str(native.value) == str(reference.value) and "Error in template" in str(native.value)
    assert not (tmp_path / "native.wtns").exists()


def test_a_native_binary_that_cannot_run_falls_back(native_keys, plan, tmp_path, monkeypatch):
    circ = circuit_of(native_keys)
    reference = compute_witness(wasm_only(circ), plan.batch_input(1), tmp_path / "wasm.wtns").read_bytes()
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF not really")
    garbage.chmod(0o755)
    runs = native_runs(monkeypatch)
    for i, binary in enumerate([garbage, tmp_path / "missing", Path(shutil.which("false") or "/bin/false")]):
        out = compute_witness(dataclasses.replace(circ, native=binary), plan.batch_input(1), tmp_path / f"{i}.wtns")
        assert out.read_bytes() == reference
    assert runs == [False] * 3


def test_a_binary_that_is_not_the_recorded_one_is_not_run(native_keys, tmp_path):
    copy = shutil.copytree(native_keys.dir, tmp_path / "keys")
    (copy / "circuit_cpp" / "circuit").write_bytes(b"#!/bin/sh\nexit 0\n")
    assert load_keys(copy).native_witness is None
    copy = shutil.copytree(native_keys.dir, tmp_path / "keys2")
    (copy / "circuit_cpp" / "circuit.dat").write_bytes(b"")
    assert load_keys(copy).native_witness is None


def test_prove_with_native_keys_is_valid(native_keys, inputs, tmp_path, monkeypatch):
    runs = native_runs(monkeypatch)
    out = tmp_path / "bundle"
    result = prove(inputs["params"], inputs["accounts"], inputs["secret"], native_keys.dir, out, workers=1)
    assert result.proved == 2 and runs == [True, True]
    report = verify_bundle(out, backends={"python": python_backend})
    assert report.valid, [c for c in report.checks if not c.ok]


def test_prove_with_a_non_executable_native_binary_is_valid(native_keys, inputs, tmp_path, monkeypatch):
    copy = shutil.copytree(native_keys.dir, tmp_path / "keys")
    (copy / "circuit_cpp" / "circuit").chmod(0o644)
    assert load_keys(copy).native_witness is not None  # the same file: tried, and it cannot execute
    runs = native_runs(monkeypatch)
    out = tmp_path / "bundle"
    result = prove(inputs["params"], inputs["accounts"], inputs["secret"], copy, out, workers=1)
    assert result.proved == 2 and runs == [False, False]
    report = verify_bundle(out, backends={"python": python_backend})
    assert report.valid, [c for c in report.checks if not c.ok]


def test_cli_setup_native_witness_json(native_keys, inputs, tmp_path):
    """The build is cached: this setup copies it. The document matches setup.schema.json."""
    args = ["setup", "--params", str(inputs["params"]), "--batch-size", "2", "--out", str(tmp_path / "k")]
    result = CliRunner().invoke(main, [*args, "--native-witness", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["native_witness"]["sha256"] == native_keys.info["native_witness"]["sha256"]
    schema = json.loads((REPO / "docs" / "schemas" / "setup.schema.json").read_text())
    jsonschema.validate(doc, schema["$defs"]["result"])
    text = CliRunner().invoke(main, [*args[:-1], str(tmp_path / "k2"), "--native-witness"])
    assert text.exit_code == 0, text.output
    assert f"native witness generator: circuit_cpp/circuit (sha256 {doc['native_witness']['sha256']})" in text.stdout


def fake_tool(folder: Path, name: str, script: str = "exit 0") -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_missing_toolchain_pieces_are_named(tmp_path, monkeypatch):
    assert native_toolchain_missing() == [], "this machine has them (make native-witness)"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert native_toolchain_missing() == ["g++", "nasm"]
    # A g++ that finds no header and no library, and a nasm.
    search = 'echo "#include <...> search starts here:" >&2; echo " /nonexistent" >&2'
    fake_tool(tmp_path, "g++", f"{search}; echo libgmp.so")
    fake_tool(tmp_path, "nasm")
    assert native_toolchain_missing() == ["nlohmann/json.hpp", "gmp"]
    with pytest.raises(ToolchainError) as exc:
        require_native_toolchain()
    message = str(exc.value)
    assert "missing nlohmann/json.hpp, gmp (Debian packages nlohmann-json3-dev, libgmp-dev)" in message
    assert "`make native-witness`" in message and "apt-get install g++ nasm nlohmann-json3-dev libgmp-dev" in message


def test_setup_without_the_toolchain_fails_before_compiling(inputs, tmp_path, monkeypatch):
    def no_compile(*args, **kwargs):
        raise AssertionError("compiled before checking the toolchain")

    monkeypatch.setattr("zksolv.setup.compile_circuit", no_compile)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolchainError, match="missing g\\+\\+, nasm"):
        setup(*TINY_SHAPE, tmp_path / "keys", native_witness=True)
    result = CliRunner().invoke(
        main,
        ["setup", "--params", str(inputs["params"]), "--batch-size", "2", "--out", str(tmp_path / "k")]
        + ["--native-witness"],
    )
    assert result.exit_code == ToolchainError.exit_code == 4
    assert "error: the native witness generator cannot be built here: missing g++, nasm" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "k").exists()
