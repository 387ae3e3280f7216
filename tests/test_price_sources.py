"""Prices derived from published oracle data (PROTOCOL.md §2.1) inside params.json: the derived
price is what is hashed and proved, the data is hashed with it, and a verifier that reads the
params recomputes every derived price."""

from __future__ import annotations

import copy
import json

import pytest

from zksolv.errors import InputError
from zksolv.params import params_document, params_hash, parse_params

TWAP = {
    "method": "twap",
    "start": "2026-11-23T23:00:00Z",
    "end": "2026-11-24T00:00:00Z",
    "precision": 1,
    "observations": [
        {"time": "2026-11-23T22:59:30Z", "price": "50000"},
        {"time": "2026-11-23T23:30:00Z", "price": "50100"},
        {"time": "2026-11-23T23:45:00Z", "price": "49900"},
    ],
}
# (50000·30 + 50100·15 + 49900·15) / 60 = 50000 exactly
MEDIAN = {
    "method": "median",
    "precision": 2,
    "sources": [
        {"name": "chainlink", "price": "2000.5"},
        {"name": "pyth", "price": "2000.61"},
        {"name": "binance", "price": "2000.57"},
    ],
}


def with_sources(params_dict: dict, mark: bool = True) -> dict:
    document = copy.deepcopy(params_dict)
    market = document["markets"][0]
    del market["mark_price"]
    market["mark_price_source"] = copy.deepcopy(TWAP)
    document["markets"][1]["mark_price_source"] = copy.deepcopy(MEDIAN)  # beside its price 2000.5
    document["markets"][1]["mark_price"] = "2000.57"
    return document


def test_derived_prices_are_the_proved_ones_and_the_data_is_hashed(params_dict):
    params = parse_params(with_sources(params_dict))
    assert params.markets[0].mark_price == "50000" and params.markets[1].mark_price == "2000.57"
    document = params_document(params)
    assert document["markets"][0]["mark_price"] == "50000"  # published beside its source
    assert document["markets"][0]["mark_price_source"]["observations"][1]["price"] == "50100"
    assert parse_params(document, canonical=True) == params
    # The same prices without the sources hash differently: the data is part of the statement.
    plain = copy.deepcopy(document)
    for market in plain["markets"]:
        market.pop("mark_price_source", None)
    assert params_hash(parse_params(plain)) != params_hash(params)


def test_editing_one_observation_names_the_price(params_dict):
    document = params_document(parse_params(with_sources(params_dict)))
    document["markets"][0]["mark_price_source"]["observations"][2]["price"] = "49901"
    with pytest.raises(InputError) as info:
        parse_params(document, canonical=True)
    text = str(info.value)
    assert "markets[0] (BTC-PERP)" in text and "mark_price 50000 is not what mark_price_source derives: 50000.3" in text


def test_a_stated_price_must_be_the_derived_one(params_dict):
    document = with_sources(params_dict)
    document["markets"][1]["mark_price"] = "2000.5"
    with pytest.raises(InputError, match=r"mark_price 2000.5 is not what mark_price_source derives: 2000.57"):
        parse_params(document)


def test_published_params_write_the_derived_price(params_dict):
    document = params_document(parse_params(with_sources(params_dict)))
    del document["markets"][0]["mark_price"]
    with pytest.raises(InputError, match="published params must write mark_price beside mark_price_source: 50000"):
        parse_params(document, canonical=True)


def test_an_asset_price_from_a_median(params_dict):
    document = copy.deepcopy(params_dict)
    del document["assets"][1]["price"]
    document["assets"][1]["price_source"] = {
        "method": "median",
        "precision": 0,
        "sources": [{"name": "a", "price": "49999"}, {"name": "b", "price": "50002"}],
    }
    params = parse_params(document)
    assert params.assets[1].price == "50001"  # (49999 + 50002) / 2 = 50000.5, half up


def test_no_price_and_no_source(params_dict):
    document = copy.deepcopy(params_dict)
    del document["assets"][0]["price"]
    with pytest.raises(InputError, match=r"price is required \(a decimal string, or give price_source\)"):
        parse_params(document)


# --- `zksolv params price`: a venue's oracle history into params -------------------------------


def test_params_price_twap_from_history(tmp_path, params_file):
    from zksolv import api

    from .helpers import write_csv

    history = write_csv(
        tmp_path / "oracle.csv",
        ["symbol", "time", "price"],
        [
            ["BTC-PERP", "2026-11-23T22:00:00Z", "96000"],  # before the window: only its last value counts
            ["BTC-PERP", "2026-11-23T23:10:00Z", "97000.5"],
            ["BTC-PERP", "2026-11-23T23:40:00Z", "97100"],
            ["BTC-PERP", "2026-11-24T00:30:00Z", "99999"],  # after the epoch: ignored
        ],
    )
    out = tmp_path / "priced.json"
    result = api.params_price(params_file, history, out, window=3600, precision=2)
    # (96000·10 + 97000.5·30 + 97100·20) / 60 = 96866.91666… → 96866.92 (half up)
    assert result["prices"] == {"BTC-PERP": {"price": "96866.92", "inputs": 3}}
    params = parse_params(json.loads(out.read_text()), canonical=True)
    assert params.markets[0].mark_price == "96866.92"
    assert [o["price"] for o in params.markets[0].mark_price_source["observations"]] == ["96000", "97000.5", "97100"]
    with pytest.raises(InputError, match="exists"):
        api.params_price(params_file, history, out)


def test_params_price_median_and_errors(tmp_path, params_file):
    from zksolv import api

    from .helpers import write_csv

    history = write_csv(
        tmp_path / "oracle.csv",
        ["symbol", "time", "price", "source"],
        [
            ["BTC", "2026-11-23T23:59:00Z", "50010", "binance"],
            ["BTC", "2026-11-23T23:59:30Z", "49990", "coinbase"],
            ["BTC", "2026-11-23T23:58:00Z", "50100", "kraken"],
            ["BTC", "2026-11-24T00:00:01Z", "1", "kraken"],  # after `at`: not used
        ],
    )
    result = api.params_price(params_file, history, tmp_path / "m.json", method="median", precision=0)
    assert result["prices"] == {"BTC": {"price": "50010", "inputs": 3}}
    with pytest.raises(InputError, match="no observations of ETH-PERP"):
        api.params_price(params_file, history, tmp_path / "x.json", symbols=["ETH-PERP"], force=True)
    with pytest.raises(InputError, match="method must be twap or median"):
        api.params_price(params_file, history, tmp_path / "x.json", method="mean")
