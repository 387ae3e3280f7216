"""The committed example bundle keeps verifying with the current code."""

import subprocess
import sys

import pytest

from zksolv.verify import verify_bundle

from .helpers import REPO

EXAMPLE = REPO / "proofs" / "example"


@pytest.mark.node
def test_example_bundle_verifies_with_snarkjs():
    report = verify_bundle(EXAMPLE)
    assert report.valid, [c for c in report.checks if not c.ok]
    assert report.manifest["n_batches"] == 2


@pytest.mark.node
def test_snarkjs_cli_on_each_batch():
    for batch in sorted((EXAMPLE / "batches").iterdir()):
        out = subprocess.run(["node", str(REPO / "node_modules/snarkjs/build/cli.cjs"), "groth16", "verify",
                              str(EXAMPLE / "verification_key.json"), str(batch / "public.json"),
                              str(batch / "proof.json")], capture_output=True, text=True)
        assert out.returncode == 0 and "OK!" in out.stdout, out.stdout + out.stderr


def test_example_inclusion_proof():
    run = subprocess.run([sys.executable, "-m", "zksolv", "inclusion", "verify",
                          str(REPO / "proofs" / "example-inclusion.json"), "--bundle", str(EXAMPLE)],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "VALID" in run.stdout, run.stdout + run.stderr


@pytest.mark.node
def test_example_bundle_passes_all_three_backends():
    pytest.importorskip("web3")
    from zksolv.verify import select_backends

    report = verify_bundle(EXAMPLE, backends=select_backends("all"))
    assert report.valid, [c for c in report.checks if not c.ok]
    assert {c.name for c in report.checks} >= {"proofs (snarkjs)", "proofs (python)", "proofs (evm)", "backends agree"}
