"""`balanced_markets` (issue 16.6, PROTOCOL.md §3.5): a venue whose every contract has its counterparty
in the tree promises long = short per market, and the verifier checks that promise on the proved
totals. The expected open interest is summed here from the rows, not by the code under test."""

from __future__ import annotations

import hashlib
import json
import shutil
from decimal import Decimal

import pytest
from click.testing import CliRunner

from zksolv import api
from zksolv.cli import main
from zksolv.params import canonical_params_json, params_hash, parse_params
from zksolv.prove import UnbalancedMarketsError

from .conftest import HEADER, PARAMS, ROWS
from .helpers import write_csv

BALANCED = {**PARAMS, "balanced_markets": True}
# Every perp has its counterparty: alice is long 1.5 BTC-PERP against carol, short 2 ETH-PERP against dave.
BALANCED_ROWS = [list(row) for row in ROWS]
BALANCED_ROWS[2][1:4] = ["80000", "", "-1.5"]  # carol
BALANCED_ROWS[3][4] = "2"  # dave


def _open_interest(rows):
    """Per market (long, short) as exact decimals, summed from the CSV rows."""
    result = {}
    for column, market in ((3, "BTC-PERP"), (4, "ETH-PERP")):
        sizes = [Decimal(r[column]) for r in rows if r[column]]
        result[market] = (sum(s for s in sizes if s > 0), -sum(s for s in sizes if s < 0))
    return result


def _files(tmp_path, params, rows):
    params_path = tmp_path / "params.json"
    params_path.write_text(json.dumps(params))
    return params_path, write_csv(tmp_path / "accounts.csv", HEADER, rows)


def test_the_flag_is_hashed_only_when_set():
    plain, flagged = parse_params(PARAMS), parse_params(BALANCED)
    assert not plain.balanced_markets and flagged.balanced_markets
    assert b"balanced_markets" not in canonical_params_json(plain)
    assert json.loads(canonical_params_json(flagged))["balanced_markets"] is True
    # In params_meta, so a bundle cannot drop the promise and keep its params hash.
    assert params_hash(plain) != params_hash(flagged)
    assert params_hash(parse_params({**PARAMS, "balanced_markets": False})) == params_hash(plain)


def test_check_lists_each_unbalanced_market(tmp_path):
    params, accounts = _files(tmp_path, BALANCED, ROWS)
    result = api.check(params, accounts)
    expected = [
        {"market": m, "long": str(lg.normalize()), "short": str(sh.normalize())}
        for m, (lg, sh) in _open_interest(ROWS).items()
        if lg != sh
    ]
    assert len(expected) == 2 and result.unbalanced_markets == expected
    assert result.solvent and not result.ok
    run = CliRunner().invoke(main, ["check", "--params", str(params), "--accounts", str(accounts)])
    assert run.exit_code == 1
    assert "UNBALANCED  BTC-PERP: long 1.5, short 0.1 (balanced_markets)" in run.output
    doc = json.loads(
        CliRunner().invoke(main, ["check", "--params", str(params), "--accounts", str(accounts), "--json"]).output
    )
    assert doc["unbalanced_markets"] == expected


def test_without_the_flag_nothing_is_required(tmp_path):
    params, accounts = _files(tmp_path, PARAMS, ROWS)
    result = api.check(params, accounts)
    assert result.unbalanced_markets == [] and result.ok


def test_prove_refuses_an_unbalanced_snapshot(tmp_path, small_keys, secret_file):
    params, accounts = _files(tmp_path, BALANCED, ROWS)
    with pytest.raises(UnbalancedMarketsError) as err:
        api.prove(params, accounts, secret_file, small_keys.dir, tmp_path / "bundle", tmp_path / "incl")
    assert "BTC-PERP: long 1.5, short 0.1" in str(err.value) and "ETH-PERP: long 0.3, short 2" in str(err.value)
    assert err.value.exit_code == 1 and err.value.details()["unbalanced_markets"][0]["market"] == "BTC-PERP"
    assert not (tmp_path / "bundle").exists() and not (tmp_path / "incl").exists()


@pytest.fixture(scope="module")
def balanced_bundle(small_keys, tmp_path_factory):
    from zksolv.secret import generate_secret

    folder = tmp_path_factory.mktemp("balanced")
    params, accounts = _files(folder, BALANCED, BALANCED_ROWS)
    secret = generate_secret(folder / "venue.secret")
    api.prove(params, accounts, secret, small_keys.dir, folder / "bundle", folder / "incl")
    return folder / "bundle"


@pytest.mark.node
def test_a_balanced_bundle_verifies_with_the_check(balanced_bundle):
    report = api.verify(balanced_bundle, backend="python")
    check = next(c for c in report.checks if c.name == "balanced markets")
    assert report.valid and check.ok and "each of the 2 markets" in check.detail
    markets = report.document()["totals"]["markets"]
    for market, (lg, sh) in _open_interest(BALANCED_ROWS).items():
        assert Decimal(markets[market]["long"]) == lg == sh == Decimal(markets[market]["short"])


@pytest.mark.node
def test_the_verifier_checks_the_proved_totals_not_the_prover(tmp_path, small_keys, secret_file, monkeypatch):
    """A venue whose prover skips the refusal proves an unbalanced snapshot under balanced params: every
    proof and the accumulator chain are sound, and the verifier still finds the imbalance in the
    proved totals."""
    import zksolv.prove

    monkeypatch.setattr(zksolv.prove, "unbalanced_markets", lambda totals, params: [])
    params, accounts = _files(tmp_path, BALANCED, ROWS)
    api.prove(params, accounts, secret_file, small_keys.dir, tmp_path / "bundle", tmp_path / "incl")
    report = api.verify(tmp_path / "bundle", backend="python")
    by_name = {c.name: c for c in report.checks}
    assert not report.valid and not by_name["balanced markets"].ok
    assert by_name["accumulator chain"].ok and by_name["proofs"].ok
    assert "BTC-PERP: long 1.5, short 0.1" in by_name["balanced markets"].detail


@pytest.mark.node
def test_dropping_the_promise_breaks_the_chain(balanced_bundle, tmp_path):
    """A forger removes balanced_markets from params.json and rewrites the manifest's params hash,
    digest and file list: the proofs' accumulators still open to the flagged params hash."""
    folder = tmp_path / "bundle"
    shutil.copytree(balanced_bundle, folder)
    document = json.loads((folder / "params.json").read_text())
    del document["balanced_markets"]
    (folder / "params.json").write_text(json.dumps(document))
    parsed = parse_params(document)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["params_hash"] = str(params_hash(parsed))
    manifest["params_sha256"] = hashlib.sha256(canonical_params_json(parsed)).hexdigest()
    manifest["files"]["params.json"] = hashlib.sha256((folder / "params.json").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = api.verify(folder, backend="python")
    by_name = {c.name: c for c in report.checks}
    assert not report.valid and not by_name["accumulator chain"].ok
    assert "batch 0 does not start from acc_0" in by_name["accumulator chain"].detail
