"""The product end to end on a small shape: setup → prove → bundle → verify,
and every edit to a bundle rejected with the right check named."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zksolv.prove import InsolventError, prove
from zksolv.verify import verify_bundle

from .conftest import HEADER, PARAMS, ROWS
from .helpers import REPO, write_csv

pytestmark = pytest.mark.node


def test_bundle_layout_and_verify(bundle):
    folder = bundle["bundle"]
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == sorted(
        [
            "manifest.json",
            "params.json",
            "verification_key.json",
            "Verifier.sol",
            "batch_roots.json",
            "batches/000000/proof.json",
            "batches/000000/public.json",
            "batches/000001/proof.json",
            "batches/000001/public.json",
        ]
    )
    report = verify_bundle(folder)
    assert report.valid, [c for c in report.checks if not c.ok]
    assert {c.name for c in report.checks} >= {
        "manifest",
        "params",
        "verification key",
        "verifier contract",
        "accumulator chain",
        "root",
        "proofs",
    }
    assert any("INSECURE" in w for w in report.warnings)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["totals"]["assets"]["USDC"] == {"credit": "20205", "debit": "20100"}
    assert manifest["totals"]["markets"]["ETH-PERP"] == {"long": "0.3", "short": "2", "net": "-1.7"}
    assert manifest["setup"]["insecure_development"] is True


def test_snarkjs_cli_verifies_each_batch(bundle):
    folder = bundle["bundle"]
    for batch in sorted((folder / "batches").iterdir()):
        out = subprocess.run(
            [
                "node",
                str(REPO / "node_modules/snarkjs/build/cli.cjs"),
                "groth16",
                "verify",
                str(folder / "verification_key.json"),
                str(batch / "public.json"),
                str(batch / "proof.json"),
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr


def test_cli_verify_json_and_require_ceremony(bundle):
    run = subprocess.run(
        [sys.executable, "-m", "zksolv", "verify", str(bundle["bundle"]), "--json"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["valid"] and report["root"] == str(bundle["result"].commitment.root)
    strict = subprocess.run(
        [sys.executable, "-m", "zksolv", "verify", str(bundle["bundle"]), "--require-ceremony"],
        capture_output=True,
        text=True,
    )
    assert strict.returncode == 1 and "ceremony" in strict.stdout


def test_inclusion_proofs_against_the_bundle(bundle):
    for proof in bundle["inclusion"].iterdir():
        run = subprocess.run(
            [sys.executable, "-m", "zksolv", "inclusion", "verify", str(proof), "--bundle", str(bundle["bundle"])],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    assert len(list(bundle["inclusion"].iterdir())) == len(ROWS)


def test_prove_refuses_insolvent_accounts(bundle, small_keys, tmp_path):
    rows = ROWS + [["mallory", "-100", "", "", ""]]
    accounts = write_csv(tmp_path / "bad.csv", HEADER, rows)
    with pytest.raises(InsolventError) as err:
        prove(bundle["params"], accounts, bundle["secret"], small_keys.dir, tmp_path / "out")
    assert [i.account_id for i in err.value.report.insolvent] == ["mallory"]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "prove",
            "--params",
            str(bundle["params"]),
            "--accounts",
            str(accounts),
            "--secret",
            str(bundle["secret"]),
            "--keys",
            str(small_keys.dir),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "mallory: shortfall 100 USD" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ liquidations (issue 11)

# Beside ROWS: frank is below maintenance with positive equity (a 1 BTC-PERP long worth 50,000 USD
# against a 47,600 USD debt: equity 2,400, but it needs 2,500 of maintenance margin: health −100);
# mallory is bankrupt (owes 100 USD, holds 0.001 BTC = 50 USD).
LIQUIDATION_ROWS = ROWS + [["frank", "-47600", "", "1", ""], ["mallory", "-100", "0.001", "", ""]]


def _independent_figures() -> dict:
    """The figures from the literal formulas of PROTOCOL.md §3 with Fractions, in quote units."""
    from fractions import Fraction

    prices = [Fraction(1), Fraction(50000), Fraction(50000), Fraction("2000.5")]
    weights = [(1, 1), (Fraction(9, 10), Fraction(11, 10))]
    mmr = [Fraction(5, 100), Fraction(3, 100)]
    below = bankrupt = 0
    shortfall = bad_debt = Fraction(0)
    for row in LIQUIDATION_ROWS:
        x = [Fraction(v) if v else Fraction(0) for v in row[1:]]
        health = sum(b * p * (w[0] if b >= 0 else w[1]) for b, p, w in zip(x[:2], prices[:2], weights))
        health += sum(s * q - abs(s) * q * r for s, q, r in zip(x[2:], prices[2:], mmr))
        equity = sum(v * p for v, p in zip(x, prices))
        if health < 0:
            below, shortfall = below + 1, shortfall - health
        if equity < 0:
            bankrupt, bad_debt = bankrupt + 1, bad_debt - equity
    return {
        "accounts_below_maintenance": below,
        "shortfall": shortfall,
        "bankrupt_accounts": bankrupt,
        "bad_debt": bad_debt,
    }


@pytest.fixture(scope="module")
def liquidation_bundle(small_keys, tmp_path_factory):
    from zksolv.secret import generate_secret

    folder = tmp_path_factory.mktemp("liquidations")
    params = folder / "params.json"
    params.write_text(json.dumps({**PARAMS, "insurance_fund": "75"}))
    accounts = write_csv(folder / "accounts.csv", HEADER, LIQUIDATION_ROWS)
    secret = generate_secret(folder / "venue.secret")
    with pytest.raises(InsolventError) as err:  # never by accident
        prove(params, accounts, secret, small_keys.dir, folder / "bundle")
    assert sorted(i.account_id for i in err.value.report.insolvent) == ["frank", "mallory"]
    prove(params, accounts, secret, small_keys.dir, folder / "bundle", folder / "inclusion", allow_liquidations=True)
    return folder


@pytest.mark.parametrize("backend", ["snarkjs", "python"])
def test_liquidation_figures_equal_an_independent_computation(liquidation_bundle, backend):
    from fractions import Fraction

    run = subprocess.run(
        [sys.executable, "-m", "zksolv", "verify", str(liquidation_bundle / "bundle"), "--json", "--backend", backend],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(run.stdout)["liquidations"]
    expected = _independent_figures()
    assert (figures["accounts_below_maintenance"], figures["bankrupt_accounts"]) == (2, 1)
    assert figures["accounts_below_maintenance"] == expected["accounts_below_maintenance"]
    assert figures["bankrupt_accounts"] == expected["bankrupt_accounts"]
    assert Fraction(figures["shortfall"]) == expected["shortfall"]
    assert Fraction(figures["bad_debt"]) == expected["bad_debt"] == 50
    assert figures["insurance_fund"] == "75" and figures["covered"] is True


def test_holder_learns_how_their_account_was_counted(liquidation_bundle):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "inclusion",
            "verify",
            str(liquidation_bundle / "inclusion" / "frank.json"),
            "--bundle",
            str(liquidation_bundle / "bundle"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (entry,) = json.loads(run.stdout)["subaccounts"]
    account = entry["account"]
    assert entry["valid"] and entry["subaccount"] == "" and account["account_id"] == "frank"
    assert account["below_maintenance"] is True and account["bankrupt"] is False


def test_bad_debt_above_the_insurance_fund_is_not_a_valid_claim(liquidation_bundle, small_keys, tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({**PARAMS, "insurance_fund": "49.99"}))
    accounts = write_csv(tmp_path / "accounts.csv", HEADER, LIQUIDATION_ROWS)
    prove(
        params,
        accounts,
        liquidation_bundle / "venue.secret",
        small_keys.dir,
        tmp_path / "bundle",
        allow_liquidations=True,
    )
    run = subprocess.run(
        [sys.executable, "-m", "zksolv", "verify", str(tmp_path / "bundle"), "--backend", "python"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[FAIL] liquidations" in run.stdout and "exceeds the insurance fund by 0.01 USD" in run.stdout


# ---------------------------------------------------------------- tampering


def _numbers(node, path=()):
    """Paths to every number (JSON int or decimal string) in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, (*path, i))
    elif isinstance(node, bool):
        return
    elif isinstance(node, int) or (isinstance(node, str) and node.lstrip("-").replace(".", "", 1).isdigit()):
        yield path


def _bump(value):
    if isinstance(value, int):
        return value + 1
    if "." in value:
        return value + "1"
    return str(int(value) + 1)


def _set(doc, path, value):
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _rehash(folder: Path) -> None:
    """What a forger does next: fix the manifest's file hashes."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _failed(folder: Path) -> set[str]:
    return {c.name for c in verify_bundle(folder).checks if not c.ok}


JSON_FILES = [
    "params.json",
    "verification_key.json",
    "batch_roots.json",
    "batches/000000/proof.json",
    "batches/000001/public.json",
]


@pytest.mark.parametrize("name", JSON_FILES)
def test_every_number_edit_is_caught_by_the_manifest(bundle, tmp_path, name):
    original = json.loads((bundle["bundle"] / name).read_text())
    paths = list(_numbers(original))
    assert paths
    for path in paths:
        copy_dir = tmp_path / "copy"
        shutil.copytree(bundle["bundle"], copy_dir)
        doc = copy.deepcopy(original)
        _set(doc, path, _bump(_get(doc, path)))
        (copy_dir / name).write_text(json.dumps(doc))
        assert "manifest" in _failed(copy_dir), f"{name}{list(path)} edit not detected"
        shutil.rmtree(copy_dir)


# (file, number path, check that must fail even after the forger re-hashes the manifest)
SEMANTIC = [
    ("params.json", ("assets", 1, "price"), "params"),
    ("params.json", ("assets", 0, "liability_weight_bps"), "params"),
    ("params.json", ("markets", 0, "maintenance_margin_bps"), "params"),
    ("batch_roots.json", (0,), "root"),
    ("batches/000000/public.json", (0,), "proofs"),
    ("batches/000000/public.json", (1,), "accumulator chain"),
    ("batches/000001/public.json", (2,), "accumulator chain"),
    ("batches/000000/proof.json", ("pi_a", 0), "proofs"),
    ("batches/000001/proof.json", ("pi_c", 1), "proofs"),
    ("verification_key.json", ("IC", 1, 0), "verification key"),
    ("manifest.json", ("root",), "root"),
    ("manifest.json", ("epoch",), "params"),
    ("manifest.json", ("final_accumulator", "totals", 0), "accumulator chain"),
    ("manifest.json", ("final_accumulator", "blinding"), "accumulator chain"),
    ("manifest.json", ("totals", "assets", "BTC", "credit"), "accumulator chain"),
    ("manifest.json", ("n_batches",), "manifest"),
    ("manifest.json", ("capacity",), "manifest"),
]


@pytest.mark.parametrize("name, path, check", SEMANTIC)
def test_rehashed_edits_fail_the_right_check(bundle, tmp_path, name, path, check):
    folder = tmp_path / "copy"
    shutil.copytree(bundle["bundle"], folder)
    doc = json.loads((folder / name).read_text())
    value = _get(doc, path)
    _set(doc, path, "2026-11-25T00:00:00Z" if path == ("epoch",) else _bump(value))
    (folder / name).write_text(json.dumps(doc))
    if name != "manifest.json":
        _rehash(folder)
    failed = _failed(folder)
    assert check in failed, f"editing {name}{list(path)} failed {failed}, expected {check!r}"


def test_swapped_and_dropped_batches(bundle, tmp_path):
    folder = tmp_path / "swap"
    shutil.copytree(bundle["bundle"], folder)
    a, b = folder / "batches/000000", folder / "batches/000001"
    a.rename(folder / "tmp"), b.rename(a), (folder / "tmp").rename(b)
    _rehash(folder)
    assert {"accumulator chain", "root"} <= _failed(folder)
    dropped = tmp_path / "drop"
    shutil.copytree(bundle["bundle"], dropped)
    shutil.rmtree(dropped / "batches/000001")
    assert "manifest" in _failed(dropped)


def test_edited_verifier_contract_is_rejected(bundle, tmp_path):
    folder = tmp_path / "sol"
    shutil.copytree(bundle["bundle"], folder)
    source = (folder / "Verifier.sol").read_text()
    start = source.index("alphax") + len("alphax  = ")
    forged = source[:start] + "1" + source[start:]
    (folder / "Verifier.sol").write_text(forged)
    assert "manifest" in _failed(folder)
    _rehash(folder)
    assert "verifier contract" in _failed(folder)
