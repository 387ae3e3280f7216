"""Shared fixtures: example inputs, a secret, and the Node oracles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import node_available, write_csv


def pytest_collection_modifyitems(config, items):
    if node_available():
        return
    skip = pytest.mark.skip(reason="Node toolchain not installed (run `make install`)")
    for item in items:
        if "node" in item.keywords:
            item.add_marker(skip)


PARAMS = {
    "epoch": "2026-11-24T00:00:00Z",
    "quote": "USD",
    "assets": [
        {"symbol": "USDC", "decimals": 6, "price": "1", "asset_weight_bps": 10000, "liability_weight_bps": 10000},
        {"symbol": "BTC", "decimals": 8, "price": "50000", "asset_weight_bps": 9000, "liability_weight_bps": 11000},
    ],
    "markets": [
        {"symbol": "BTC-PERP", "decimals": 4, "mark_price": "50000", "maintenance_margin_bps": 500},
        {"symbol": "ETH-PERP", "decimals": 3, "mark_price": "2000.5", "maintenance_margin_bps": 300},
    ],
}


@pytest.fixture
def params_dict() -> dict:
    return json.loads(json.dumps(PARAMS))


@pytest.fixture
def params_file(tmp_path, params_dict) -> Path:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params_dict))
    return path


@pytest.fixture
def secret_file(tmp_path) -> Path:
    from zksolv.secret import generate_secret

    return generate_secret(tmp_path / "venue.secret")


# The smallest shape, SolvencyBatch(1, 1, 2): for tests that run a whole setup (audit, fast setup, the
# README pipeline) and must stay quick.
TINY_SHAPE = (1, 1, 2)
TINY_PARAMS = {
    "epoch": "2026-11-24T00:00:00Z",
    "quote": "USD",
    "assets": [
        {"symbol": "USDC", "decimals": 6, "price": "1", "asset_weight_bps": 10000, "liability_weight_bps": 10000}
    ],
    "markets": [{"symbol": "BTC-PERP", "decimals": 4, "mark_price": "50000", "maintenance_margin_bps": 500}],
}
TINY_ACCOUNTS = "account_id,USDC,BTC-PERP\nalice,10000,0.1\nbob,500,\ncarol,20,\n"


HEADER = ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"]
ROWS = [
    ["alice", "10000", "0.5", "1.5", "-2"],
    ["bob", "-20000", "1", "", ""],
    ["carol", "10200", "", "-0.1", ""],
    ["dave", "-100", "0.001", "", "0.3"],
    ["erin", "5", "", "", ""],
]


@pytest.fixture(scope="session")
def small_keys():
    """2 assets + 2 markets, 4 accounts per proof: a development setup cached under build/keys."""
    from zksolv.setup import cached_setup

    return cached_setup(2, 2, 4)


@pytest.fixture(scope="session")
def bundle(small_keys, tmp_path_factory):
    """A valid 2-batch bundle (capacity 8) of ROWS, with its inputs and inclusion proofs.
    Read-only: tests that tamper with it copy it first."""
    from zksolv.prove import prove
    from zksolv.secret import generate_secret

    folder = tmp_path_factory.mktemp("e2e")
    params = folder / "params.json"
    params.write_text(json.dumps(PARAMS))
    accounts = write_csv(folder / "accounts.csv", HEADER, ROWS)
    secret = generate_secret(folder / "venue.secret")
    result = prove(params, accounts, secret, small_keys.dir, folder / "bundle", folder / "inclusion")
    assert result.plan.n_batches == 2 and result.commitment.capacity == 8
    return {
        "bundle": folder / "bundle",
        "inclusion": folder / "inclusion",
        "params": params,
        "accounts": accounts,
        "secret": secret,
        "result": result,
    }


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven through its ChromeDriver (installed by `make browser`).
    Background networking is off: this machine's network is closed, and the pages under test
    must work with nothing fetched."""
    from .helpers import chromium_driver

    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()
