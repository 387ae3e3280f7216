"""Bad input: one located line per problem, exit 2, no output, never a traceback."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zksolv.accounts import read_accounts
from zksolv.cli import main
from zksolv.errors import InputError
from zksolv.params import parse_params

from .helpers import write_csv

HEADER = ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zksolv", *args], capture_output=True, text=True)


def assert_input_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"


@pytest.mark.parametrize(
    "row, fragments",
    [
        (["a", "1.0000001", "", "", ""], ["row 3", "account 'a'", "column 'USDC'", "more than 6 decimals"]),
        (["a", "abc", "", "", ""], ["row 3", "column 'USDC'", "not a decimal number"]),
        (["a", "", "92233720368.54775808", "", ""], ["column 'BTC'", "signed 64-bit range"]),
        (["a", "", "", "1e3", ""], ["column 'BTC-PERP'", "not a decimal number"]),
        (["", "1", "", "", ""], ["row 3", "column 'account_id'"]),
    ],
)
def test_bad_cells_are_located(tmp_path, params_file, secret_file, row, fragments):
    accounts = write_csv(tmp_path / "a.csv", HEADER, [["ok", "1", "", "", ""], row])
    out = tmp_path / "out"
    result = run_cli(
        "commit",
        "--params",
        str(params_file),
        "--accounts",
        str(accounts),
        "--secret",
        str(secret_file),
        "--out",
        str(out),
    )
    assert_input_error(result, str(accounts), *fragments)
    assert not out.exists(), "no output may be written for bad input"


def test_every_problem_is_reported_once_per_line(tmp_path, params_file):
    rows = [["a", "x", "", "", ""], ["b", "1", "y", "", ""], ["a", "1", "", "", ""], ["c", "1", "", "", "0.0001"]]
    accounts = write_csv(tmp_path / "a.csv", HEADER, rows)
    result = run_cli("check", "--params", str(params_file), "--accounts", str(accounts))
    assert_input_error(result, "row 2", "row 3", "duplicate account_id", "row 5", "more than 3 decimals")
    assert result.stderr.count("error:") == 4


@pytest.mark.parametrize(
    "header, fragment",
    [
        (["account_id", "USDC", "BTC", "BTC-PERP"], "missing column"),
        (["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP", "DOGE"], "unknown column"),
        (["account_id", "USDC", "USDC", "BTC", "BTC-PERP", "ETH-PERP"], "duplicate column"),
    ],
)
def test_bad_headers(tmp_path, params_file, header, fragment):
    accounts = write_csv(tmp_path / "a.csv", header, [])
    assert_input_error(run_cli("check", "--params", str(params_file), "--accounts", str(accounts)), fragment)


@pytest.mark.parametrize(
    "change, fragments",
    [
        (lambda p: p["assets"][1].__setitem__("price", "-5"), ["assets[1] (BTC).price", "negative price"]),
        (lambda p: p["assets"][0].__setitem__("asset_weight_bps", 10001), ["asset_weight_bps"]),
        (lambda p: p["assets"][0].__setitem__("liability_weight_bps", 9999), ["liability_weight_bps"]),
        (lambda p: p["markets"][0].__setitem__("maintenance_margin_bps", 20000), ["maintenance_margin_bps"]),
        (lambda p: p["markets"][0].__setitem__("symbol", "BTC"), ["unique"]),
        (lambda p: p.__setitem__("epoch", "2026-11-24T00:00:00+01:00"), ["UTC"]),
        (lambda p: p["assets"][0].__setitem__("decimals", 30), ["not below 2^64"]),
        (lambda p: p.__setitem__("extra", 1), ["extra"]),
    ],
)
def test_bad_params(tmp_path, params_dict, change, fragments):
    change(params_dict)
    params = tmp_path / "params.json"
    params.write_text(json.dumps(params_dict))
    accounts = write_csv(tmp_path / "a.csv", HEADER, [])
    assert_input_error(run_cli("check", "--params", str(params), "--accounts", str(accounts)), str(params), *fragments)


def test_bom_crlf_and_quoted_cells_are_fine(tmp_path, params_dict):
    params = parse_params(params_dict)
    path = tmp_path / "a.csv"
    path.write_bytes(b'\xef\xbb\xbfETH-PERP,account_id,USDC,BTC,BTC-PERP\r\n"-1.5","a,b",10,,0\r\n')
    (account,) = list(read_accounts(path, params))
    assert account.account_id == "a,b" and account.amounts == (10_000_000, 0, 0, -1500)


def test_json_accounts(tmp_path, params_dict):
    params = parse_params(params_dict)
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"account_id": "a", "balances": {"BTC": "-0.5"}, "positions": {"ETH-PERP": "2"}}]))
    (account,) = list(read_accounts(path, params))
    assert account.amounts == (0, -50_000_000, 0, 2000)
    path.write_text(json.dumps([{"account_id": "a", "balances": {"ETH-PERP": "1"}}, {"account_id": 5}]))
    with pytest.raises(InputError) as err:
        list(read_accounts(path, params))
    text = str(err.value)
    assert "row 1" in text and "unknown symbol in balances" in text and "row 2" in text


def test_missing_files_and_non_utf8(tmp_path, params_file):
    assert_input_error(
        run_cli("check", "--params", str(tmp_path / "nope.json"), "--accounts", "x.csv"), "nope.json", "cannot read"
    )
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"account_id,USDC,BTC,BTC-PERP,ETH-PERP\n\xff\xfe,1,,,\n")
    assert_input_error(run_cli("check", "--params", str(params_file), "--accounts", str(bad)), "not UTF-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_input_error(run_cli("check", "--params", str(params_file), "--accounts", str(empty)), "empty file")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path_factory, body):
    folder = tmp_path_factory.mktemp("fuzz")
    params = folder / "params.json"
    from .conftest import PARAMS

    params.write_text(json.dumps(PARAMS))
    accounts = folder / "a.csv"
    accounts.write_bytes(b"account_id,USDC,BTC,BTC-PERP,ETH-PERP\n" + body)
    result = CliRunner().invoke(main, ["check", "--params", str(params), "--accounts", str(accounts)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_help_lists_commands_and_schema_is_json():
    result = run_cli("--help")
    for command in ("check", "commit", "inclusion", "schema", "keygen-secret"):
        assert command in result.stdout
    schema = json.loads(run_cli("schema").stdout)
    assert schema["params"]["title"] == "ParamsFile" and schema["accounts"]["type"] == "array"


def test_an_explicit_null_is_the_field_left_out(params_dict):
    """`"insurance_fund": null` (as some JSON writers emit an unset field) means no fund, not a crash;
    a null price is a missing price, reported as such (the holders' page reads both the same way)."""
    from zksolv.params import params_hash

    plain = parse_params(params_dict)
    assert params_hash(parse_params({**params_dict, "insurance_fund": None})) == params_hash(plain)
    assets = [{**params_dict["assets"][0], "price": None}, *params_dict["assets"][1:]]
    with pytest.raises(InputError) as err:
        parse_params({**params_dict, "assets": assets})
    assert err.value.problems[0].message == "price is required (a decimal string, or give price_source)"
