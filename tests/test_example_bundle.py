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
        out = subprocess.run(
            [
                "node",
                str(REPO / "node_modules/snarkjs/build/cli.cjs"),
                "groth16",
                "verify",
                str(EXAMPLE / "verification_key.json"),
                str(batch / "public.json"),
                str(batch / "proof.json"),
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0 and "OK!" in out.stdout, out.stdout + out.stderr


def inclusion_verify(proof: str, bundle) -> subprocess.CompletedProcess:
    """`zksolv inclusion verify proofs/<proof> --bundle <bundle>` as a holder runs it."""
    command = [sys.executable, "-m", "zksolv", "inclusion", "verify", str(REPO / "proofs" / proof), "--bundle"]
    return subprocess.run([*command, str(bundle)], capture_output=True, text=True)


def test_example_inclusion_proof():
    run = inclusion_verify("example-inclusion.json", EXAMPLE)
    assert run.returncode == 0 and "VALID" in run.stdout, run.stdout + run.stderr


@pytest.mark.node
def test_example_bundle_passes_all_three_backends():
    pytest.importorskip("web3")
    from zksolv.verify import select_backends

    report = verify_bundle(EXAMPLE, backends=select_backends("all"))
    assert report.valid, [c for c in report.checks if not c.ok]
    # One check name whatever the backend, the backend in its own field.
    proofs = {(c.name, c.backend) for c in report.checks}
    assert proofs >= {("proofs", "snarkjs"), ("proofs", "python"), ("proofs", "evm"), ("backends agree", None)}


# --- the issue-12 margin rules as published in the example --------------------------------------


def _edited_copy(tmp_path, edit):
    """A copy of the example whose params.json is edited and whose manifest is re-hashed, as a forger
    would: every file hash matches, so only what verify recomputes can catch the edit."""
    import json
    import shutil

    from .test_bundle_mutations import rehash

    folder = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, folder)
    params = json.loads((folder / "params.json").read_text())
    edit(params)
    (folder / "params.json").write_text(json.dumps(params, indent=2))
    rehash(folder)
    return folder


def _failed(folder):
    report = verify_bundle(folder, backends={})
    return {c.name: c.detail for c in report.checks if not c.ok}


def test_editing_one_oracle_observation_fails_naming_the_price(tmp_path):
    def edit(params):
        params["markets"][0]["mark_price_source"]["observations"][2]["price"] = "97006"

    failed = _failed(_edited_copy(tmp_path, edit))
    assert "params" in failed
    assert (
        "markets[0] (BTC-PERP)" in failed["params"]
        and "mark_price 97011.7 is not what mark_price_source derives: 97011.8" in failed["params"]
    ), failed


def test_editing_a_bracket_fails(tmp_path):
    def lower_floor(params):
        params["markets"][0]["brackets"][2]["notional_floor"] = "2000000"

    def lower_rate(params):
        params["markets"][0]["brackets"][2]["maintenance_margin_bps"] = 900

    for edit in (lower_floor, lower_rate):
        failed = _failed(_edited_copy(tmp_path / edit.__name__, edit))
        assert "params hash recomputed from params.json differs" in failed.get("params", ""), failed


def test_the_example_exercises_brackets_prices_and_subaccounts():
    import json

    params = json.loads((EXAMPLE / "params.json").read_text())
    btc = params["markets"][0]
    assert len(btc["brackets"]) == 3 and btc["mark_price_source"]["method"] == "twap"
    inclusion = json.loads((REPO / "proofs" / "example-inclusion.json").read_text())
    assert [s["account"]["subaccount"] for s in inclusion["subaccounts"]] == ["", "isolated-btc"]


# --- the issue-13 portfolio venue: options, 18 scenarios, portfolio margin ------------------------

PORTFOLIO = REPO / "proofs" / "example-portfolio"


@pytest.mark.node
def test_portfolio_example_passes_all_three_backends_and_shows_its_stress_report():
    pytest.importorskip("web3")
    from zksolv.verify import select_backends

    report = verify_bundle(PORTFOLIO, backends=select_backends("all"))
    assert report.valid, [c for c in report.checks if not c.ok]
    rows = report.document()["scenarios"]
    assert len(rows) == 18 and rows[-1]["name"] == "crypto crash" and not rows[-1]["covered"]
    assert rows[0]["accounts_below_maintenance"] == 0 < rows[-1]["accounts_below_maintenance"]


def test_portfolio_example_proves_what_the_reference_model_says():
    """The published figures are those `check` computes from the demo's own inputs (which the
    demo generator asserts: hedges solvent under portfolio margin only, naked put sellers not)."""
    import json

    from zksolv import api
    from zksolv.demo_portfolio import write_portfolio_inputs

    manifest = json.loads((PORTFOLIO / "manifest.json").read_text())
    folder = REPO / "build" / "portfolio-example-inputs"
    params_path, accounts_path, _ = write_portfolio_inputs(folder, 30)
    check = api.check(params_path, accounts_path).document()
    assert manifest["scenarios"] == check["scenarios"] and manifest["liquidations"] == check["liquidations"]
    assert manifest["totals"] == check["totals"]


def test_editing_a_risk_array_entry_of_the_portfolio_example_is_named(tmp_path):
    import json
    import shutil

    from .test_bundle_mutations import rehash

    folder = tmp_path / "bundle"
    shutil.copytree(PORTFOLIO, folder)
    params = json.loads((folder / "params.json").read_text())
    entry = params["options"][1]["risk_array"][16]
    params["options"][1]["risk_array"][16] = str(int(float(entry)) - 1000)  # a cheaper put if BTC falls 20 %
    (folder / "params.json").write_text(json.dumps(params, indent=2))
    rehash(folder)
    failed = _failed(folder)
    assert "options[1].risk_array[16]" in failed["params"] and "BTC -20%" in failed["params"], failed


def test_portfolio_inclusion_shows_the_margin_mode():
    run = inclusion_verify("example-portfolio-inclusion.json", PORTFOLIO)
    assert run.returncode == 0 and "margin mode: portfolio" in run.stdout, run.stdout + run.stderr
