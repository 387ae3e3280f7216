"""Shared fixtures: example inputs, a secret, and the Node oracles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import node_available


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
