"""`prove` reads the snapshot once and picks the fastest installed prover (issue 14).

The memory this saves is measured by bench/bench_prove_memory.py (docs/BENCHMARKS.md); here the
tests pin the behaviour: one pass over a one-shot stream, the same bundle and figures as the
reference model, refusals still raised before anything is written."""

from __future__ import annotations

import json
import sys

import pytest

from zksolv import prove as prove_module
from zksolv.errors import InputError
from zksolv.provers import resolve_prover
from zksolv.secret import generate_secret
from zksolv.verify import verify_bundle

from .conftest import HEADER, PARAMS, ROWS
from .helpers import write_csv


def test_auto_picks_arkworks_when_groth16py_is_installed(monkeypatch):
    pytest.importorskip("groth16py")
    assert resolve_prover("auto") == "arkworks"
    assert resolve_prover("snarkjs") == "snarkjs" and resolve_prover("arkworks") == "arkworks"
    monkeypatch.setitem(sys.modules, "groth16py", None)  # as if it were not installed
    assert resolve_prover("auto") == "snarkjs"


@pytest.fixture
def inputs(tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps(PARAMS))
    secret = generate_secret(tmp_path / "venue.secret")
    return tmp_path, params, secret


@pytest.mark.node
def test_prove_consumes_one_pass_of_the_accounts(inputs, small_keys, monkeypatch):
    folder, params, secret = inputs
    accounts = write_csv(folder / "accounts.csv", HEADER, ROWS)
    real = prove_module.read_accounts
    calls = []

    def one_shot(path, p):
        calls.append(path)
        return real(path, p)  # a generator: a second pass would see nothing

    monkeypatch.setattr(prove_module, "read_accounts", one_shot)
    result = prove_module.prove(params, accounts, secret, small_keys.dir, folder / "bundle", prover="auto")
    assert len(calls) == 1 and result.commitment.n_accounts == len(ROWS)
    report = verify_bundle(folder / "bundle", backends={})
    assert report.valid, [c for c in report.checks if not c.ok]


def test_refusals_come_before_any_output(inputs, small_keys):
    folder, params, secret = inputs
    empty = write_csv(folder / "empty.csv", HEADER, [])
    with pytest.raises(InputError, match="no accounts"):
        prove_module.prove(params, empty, secret, small_keys.dir, folder / "b1")
    below = write_csv(folder / "below.csv", HEADER, [["x", "-1", "", "", ""]])
    with pytest.raises(prove_module.InsolventError):
        prove_module.prove(params, below, secret, small_keys.dir, folder / "b2")
    bad = write_csv(folder / "bad.csv", HEADER, [["x", "1.0000001", "", "", ""]])
    with pytest.raises(InputError, match="decimals"):
        prove_module.prove(params, bad, secret, small_keys.dir, folder / "b3")
    assert not any((folder / name).exists() for name in ("b1", "b2", "b3"))
