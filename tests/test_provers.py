"""The arkworks prover (groth16py): its proofs, converted to snarkjs's proof.json, verify
with snarkjs and with the pure-Python verifier; its public.json is snarkjs's, byte for byte;
a whole bundle proved with it verifies with both."""

from __future__ import annotations

import json
import sys

import pytest

from zksolv import snarkjs
from zksolv.bundle import batch_dir
from zksolv.circuit import compute_witness
from zksolv.groth16 import verify_proof
from zksolv.prove import prove
from zksolv.provers import (
    ArkworksProver,
    ProverUnavailable,
    SnarkjsProver,
    get_prover,
    proof_from_ethereum,
    proof_verifier,
    witness_wires,
)
from zksolv.scheduler import circuit_of
from zksolv.verify import python_backend, snarkjs_backend, verify_bundle

pytestmark = pytest.mark.node
groth16py = pytest.importorskip("groth16py")


@pytest.fixture(scope="module")
def witness(bundle, small_keys, tmp_path_factory):
    """The witness of batch 1 of the session bundle, with its expected public signals."""
    plan = bundle["result"].plan
    folder = tmp_path_factory.mktemp("witness")
    wtns = compute_witness(circuit_of(small_keys), plan.batch_input(1), folder / "witness.wtns")
    return wtns, [str(x) for x in plan.statements[1].public_signals()]


def test_arkworks_proof_verifies_with_snarkjs_and_python(small_keys, witness, tmp_path):
    wtns, expected = witness
    proof_text, public_text = ArkworksProver().prove(small_keys.zkey, wtns, tmp_path)
    snarkjs_proof, snarkjs_public = SnarkjsProver().prove(small_keys.zkey, wtns, tmp_path)
    assert public_text == snarkjs_public, "public.json must be snarkjs's, byte for byte"
    assert json.loads(public_text) == expected
    proof = json.loads(proof_text)
    reference = json.loads(snarkjs_proof)
    assert list(proof) == list(reference) and proof["protocol"] == "groth16" and proof["curve"] == "bn128"
    assert proof["pi_a"][2] == "1" and proof["pi_b"][2] == ["1", "0"] and proof["pi_c"][2] == "1"
    assert proof != reference, "Groth16 proofs are randomised"
    (tmp_path / "proof.json").write_text(proof_text)
    (tmp_path / "public.json").write_text(public_text)
    assert snarkjs.verify(small_keys.verification_key, tmp_path / "public.json", tmp_path / "proof.json")
    vk = json.loads(small_keys.verification_key.read_text())
    assert verify_proof(vk, proof, expected)
    assert proof_verifier(small_keys.verification_key)(proof, expected)


def test_swapped_fq2_order_or_other_statement_is_rejected(small_keys, witness, tmp_path):
    """The Ethereum encoding has G2 coordinates as (c1, c0); snarkjs JSON has [c0, c1]. A
    converter that got the order wrong would produce proofs every verifier rejects."""
    wtns, expected = witness
    blob = groth16py.prove_wtns(ArkworksProver.proving_key(small_keys.zkey)[0], str(wtns))
    good = proof_from_ethereum(blob)
    swapped = json.loads(json.dumps(good))
    swapped["pi_b"][0].reverse()
    swapped["pi_b"][1].reverse()
    vk = json.loads(small_keys.verification_key.read_text())
    other = [expected[0], expected[1], str(int(expected[2]) + 1)]
    assert verify_proof(vk, good, expected)
    for proof, public in ((swapped, expected), (good, other)):
        assert not verify_proof(vk, proof, public)
        assert not proof_verifier(small_keys.verification_key)(proof, public)
        (tmp_path / "proof.json").write_text(json.dumps(proof))
        (tmp_path / "public.json").write_text(json.dumps(public))
        assert not snarkjs.verify(small_keys.verification_key, tmp_path / "public.json", tmp_path / "proof.json")


def test_proving_key_is_imported_once_per_process(small_keys):
    first = ArkworksProver.proving_key(small_keys.zkey)
    assert ArkworksProver.proving_key(small_keys.zkey) is first


def test_witness_wires_reads_the_public_signals(witness):
    from zksolv.circuit import read_wtns

    wtns, expected = witness
    assert [str(x) for x in witness_wires(wtns, 1, 3)] == expected == [str(x) for x in read_wtns(wtns)[1:4]]


def test_arkworks_bundle_end_to_end(bundle, small_keys, tmp_path):
    out = tmp_path / "bundle"
    events: list[dict] = []
    result = prove(
        bundle["params"],
        bundle["accounts"],
        bundle["secret"],
        small_keys.dir,
        out,
        on_event=events.append,
        prover="arkworks",
        workers=2,
    )
    assert result.proved == 2
    assert [e for e in events if e["event"] == "proving"][0]["prover"] == "arkworks"
    report = verify_bundle(out, backends={"snarkjs": snarkjs_backend, "python": python_backend})
    assert report.valid, [c for c in report.checks if not c.ok]
    manifest = json.loads((out / "manifest.json").read_text())
    reference = json.loads((bundle["bundle"] / "manifest.json").read_text())
    assert manifest["root"] == reference["root"] and manifest["final_accumulator"] == reference["final_accumulator"]
    for i in range(2):
        assert (out / batch_dir(i) / "public.json").read_bytes() == (
            bundle["bundle"] / batch_dir(i) / "public.json"
        ).read_bytes()


def test_cli_prover_arkworks(bundle, small_keys, tmp_path):
    import subprocess

    out = tmp_path / "bundle"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "prove",
            "--params",
            str(bundle["params"]),
            "--accounts",
            str(bundle["accounts"]),
            "--secret",
            str(bundle["secret"]),
            "--keys",
            str(small_keys.dir),
            "--out",
            str(out),
            "--prover",
            "arkworks",
            "--workers",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert events[1]["prover"] == "arkworks" and events[1]["executor"] == "1 process"
    assert verify_bundle(out).valid


def test_missing_groth16py_is_a_clear_error(monkeypatch, bundle, small_keys):
    monkeypatch.setitem(sys.modules, "groth16py", None)
    with pytest.raises(ProverUnavailable, match=r"zksolv\[fast\]"):
        get_prover("arkworks")
    # without groth16py the check of fresh proofs falls back to the pure-Python verifier
    check = proof_verifier(small_keys.verification_key)
    proof = json.loads((bundle["bundle"] / batch_dir(0) / "proof.json").read_text())
    public = json.loads((bundle["bundle"] / batch_dir(0) / "public.json").read_text())
    assert check(proof, public) and not check(proof, [public[1], public[0], public[2]])


def test_groth16py_inputs_are_checked(small_keys, witness, tmp_path):
    """groth16py 0.2.0 panics on a short witness and proves an unsatisfying one without a
    word: the wrapper refuses the first, the orchestrator's check catches the second."""
    from zksolv.circuit import read_wtns, write_wtns
    from zksolv.provers import ProverError

    wtns, expected = witness
    values = read_wtns(wtns)
    write_wtns(tmp_path / "short.wtns", values[:-1])
    with pytest.raises(ProverError, match="wires"):
        ArkworksProver().prove(small_keys.zkey, tmp_path / "short.wtns", tmp_path)
    bad = list(values)
    bad[len(bad) // 2] += 1
    write_wtns(tmp_path / "bad.wtns", bad)
    proof_text, public_text = ArkworksProver().prove(small_keys.zkey, tmp_path / "bad.wtns", tmp_path)
    assert json.loads(public_text) == expected
    assert not proof_verifier(small_keys.verification_key)(json.loads(proof_text), expected)
