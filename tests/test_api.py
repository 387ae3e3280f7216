"""zksolv.api is the product and the CLI only dresses it: one api function per command, the
arguments checked in the library, every error carrying its own exit code; and the README's
library pipeline runs as printed."""

from __future__ import annotations

import inspect
import json
import re
import shutil

import click
import pytest
from click.testing import CliRunner

from zksolv import api
from zksolv.accounts import Account
from zksolv.cli import main
from zksolv.commitment import CapacityError
from zksolv.errors import (
    EXIT_FALSE,
    EXIT_INPUT,
    EXIT_TOOLCHAIN,
    ArgumentError,
    ClaimError,
    InputError,
    ToolchainError,
    ZksolvError,
)
from zksolv.io import OutputError
from zksolv.margin import check_solvency
from zksolv.params import parse_params

from .conftest import HEADER, PARAMS, ROWS, TINY_PARAMS
from .helpers import REPO, write_csv

#: Every CLI command (its path under `zksolv`) and the api function it calls. A new command
#: fails test_every_cli_command_has_its_api_function until it has one here.
API_OF_COMMAND = {
    "check": "check",
    "commit": "commit",
    "inclusion verify": "verify_inclusion_file",
    "inclusion get": "inclusion_get",
    "schema": "input_schemas",
    "keygen-secret": "keygen_secret",
    "circuit info": "circuit_info",
    "setup": "setup",
    "prove": "prove",
    "verify": "verify",
    "report": "report",
    "audit-setup": "audit_setup",
    "ceremony init": "ceremony_init",
    "ceremony contribute": "ceremony_contribute",
    "ceremony beacon": "ceremony_beacon",
    "ceremony verify": "ceremony_verify",
    "ceremony export": "ceremony_export",
    "demo": "demo",
    "export calldata": "export_calldata",
    "params price": "params_price",
    "page": "inclusion_page",
    "params suggest-decimals": "params_suggest_decimals",
    "publish": "publish",
}
EXAMPLE = REPO / "proofs" / "example"


def cli_commands(group: click.Group = main, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from cli_commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


def test_every_cli_command_has_its_api_function():
    commands = dict(cli_commands())
    assert set(commands) == set(API_OF_COMMAND), "map every CLI command to its api function (API_OF_COMMAND)"
    for path, command in commands.items():
        function = getattr(api, API_OF_COMMAND[path], None)
        assert callable(function), f"`zksolv {path}`: zksolv.api has no {API_OF_COMMAND[path]}()"
        source = inspect.getsource(inspect.unwrap(command.callback))
        assert f"api.{API_OF_COMMAND[path]}(" in source, f"`zksolv {path}` does not call api.{API_OF_COMMAND[path]}"


# ---------------------------------------------------------------------------
# Errors carry their exit code; messages name arguments, hints name flags


def test_error_classes_carry_the_documented_exit_codes():
    from zksolv.circuit import CircuitError
    from zksolv.prove import InsolventError
    from zksolv.provers import ProverError, ProverUnavailable
    from zksolv.scheduler import BatchError
    from zksolv.snarkjs import SnarkjsError

    codes = {
        ZksolvError: 2,
        InputError: 2,
        ArgumentError: 2,
        OutputError: 2,
        CapacityError: 2,
        ClaimError: 1,
        InsolventError: 1,
        ToolchainError: 4,
        CircuitError: 4,
        SnarkjsError: 4,
        ProverError: 4,
        ProverUnavailable: 4,
        BatchError: 4,
    }
    assert {cls: cls.exit_code for cls in codes} == codes


@pytest.mark.parametrize(
    "error, code",
    [
        (ToolchainError("snarkjs exploded", hint="run `npm ci`"), EXIT_TOOLCHAIN),
        (ClaimError("not so", hint="pass --x"), EXIT_FALSE),
        (ArgumentError("thing", "is wrong", hint="--thing N"), EXIT_INPUT),
    ],
)
def test_cli_prints_the_error_and_its_hint_and_exits_with_its_code(monkeypatch, error, code):
    def fail(*_, **__):
        raise error

    monkeypatch.setattr(api, "input_schemas", fail)
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == code, result.output
    assert f"error: {error.lines()[0]}" in result.output and f"hint: {error.hint}" in result.output


def test_insolvent_error_lists_the_accounts_and_leaves_the_flag_to_the_hint():
    from zksolv.prove import InsolventError

    params = parse_params(PARAMS)
    report = check_solvency([Account("mallory", (-100 * 10**6, 0, 0, 0))], params)
    error = InsolventError(report, params)
    assert error.exit_code == 1 and "--" not in str(error) and "--allow-liquidations" in error.hint
    assert error.lines() == ["BELOW MAINTENANCE  mallory: shortfall 100 USD, bankrupt", str(error)]


def test_batch_size_is_checked_by_the_library(params_file):
    for call in (
        lambda: api.circuit_info(params_file, 3),
        lambda: api.setup(params_file, "keys", 6),
        lambda: api.demo("out", batch_size=1),
        lambda: api.circuit_info(params_file, 1 << 31),
        lambda: api.setup(params_file, "keys", 1 << 40),
    ):
        with pytest.raises(ArgumentError) as err:
            call()
        assert err.value.argument == "batch_size" and "--" not in str(err.value) and "--batch-size" in err.value.hint
    result = CliRunner().invoke(main, ["circuit", "info", "--params", str(params_file), "--batch-size", "3"])
    assert result.exit_code == 2 and "power of two" in result.output and "internal error" not in result.output


def test_a_circuit_needs_an_asset(tmp_path, params_dict):
    # The params allow markets only, but the circuit shape (and the registry) take K ≥ 1: refused before
    # anything compiles, located in the params.
    params_dict["assets"] = []
    params = tmp_path / "params.json"
    params.write_text(json.dumps(params_dict))
    for call in (lambda: api.circuit_info(params, 2), lambda: api.setup(params, tmp_path / "keys", 2)):
        with pytest.raises(InputError, match=re.escape(str(params)) + ", column 'assets': a circuit needs at least"):
            call()
    assert not (tmp_path / "keys").exists()


@pytest.mark.node
def test_setup_json_is_written_and_read_through_one_model(small_keys, tmp_path):
    from zksolv.io import dumps_json
    from zksolv.setup import SetupError, load_keys

    text = (small_keys.dir / "setup.json").read_text()
    assert dumps_json(small_keys.document.model_dump()) == text and small_keys.info == json.loads(text)
    keys = tmp_path / "keys"
    shutil.copytree(small_keys.dir, keys)
    doc = json.loads(text)
    del doc["zkey_sha256"]
    doc["ptau"]["power"] = str(doc["ptau"]["power"])
    (keys / "setup.json").write_text(json.dumps(doc))
    with pytest.raises(
        SetupError,
        match=re.escape(
            f"{keys / 'setup.json'}: zkey_sha256: Field required; ptau.power: Input should be a valid integer"
        ),
    ):
        load_keys(keys)


def test_setup_refuses_a_file_that_is_not_a_ptau(params_file, tmp_path):
    (tmp_path / "bad.ptau").write_bytes(b"garbage")
    with pytest.raises(InputError, match="bad.ptau: not a readable ptau file"):
        api.setup(params_file, tmp_path / "keys", 2, ptau=tmp_path / "bad.ptau")
    assert not (tmp_path / "keys").exists()


def test_prove_options_are_checked_by_the_library(tmp_path):
    # Refused before any file is read: these paths do not exist.
    missing = [tmp_path / name for name in ("params.json", "accounts.csv", "venue.secret", "keys", "out")]
    with pytest.raises(ArgumentError, match="exclude each other") as err:
        api.prove(*missing, workers=2, scheduler="tcp://127.0.0.1:1")
    assert "--workers" in err.value.hint and "--" not in str(err.value)
    with pytest.raises(ArgumentError, match="not a Dask scheduler address") as err:
        api.prove(*missing, scheduler="10.0.0.5:8786")
    assert err.value.argument == "scheduler"


def test_inclusion_root_text_is_parsed_by_the_library(tmp_path):
    with pytest.raises(ArgumentError) as err:
        api.verify_inclusion_file(tmp_path / "never-read.json", root="0123", capacity=4)
    assert err.value.argument == "root" and "leading zeros" in str(err.value) and "--root" in err.value.hint


def test_check_document_is_what_the_cli_renders(params_file, tmp_path):
    accounts = write_csv(tmp_path / "accounts.csv", HEADER, ROWS + [["mallory", "-100", "", "", ""]])
    result = api.check(params_file, accounts)
    params, report = result  # still unpacks as before
    doc = result.document()
    assert not result.solvent and doc["accounts"] == report.accounts == len(ROWS) + 1 and doc["quote"] == params.quote
    assert [b["account_id"] for b in doc["below_maintenance"]] == ["mallory"]
    as_json = CliRunner().invoke(main, ["check", "--params", str(params_file), "--accounts", str(accounts), "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.output) == doc
    text = CliRunner().invoke(main, ["check", "--params", str(params_file), "--accounts", str(accounts)])
    assert text.exit_code == 1 and "BELOW MAINTENANCE  mallory: health" in text.output


def test_verify_gas_report_replays_only_valid_bundles_when_asked(monkeypatch, tmp_path):
    from zksolv import evm
    from zksolv.verify import Report

    replays = []
    monkeypatch.setattr(evm, "evm_report", lambda folder: replays.append(folder) or {"fully_proven": True})
    for valid in (True, False):
        report = Report("b")
        report.add("all", valid, "")
        monkeypatch.setattr(api, "verify_bundle", lambda *_, report=report, **__: report)
        assert api.verify(tmp_path, gas_report=False).document().get("evm") is None
        assert api.verify(tmp_path, gas_report=True).evm == ({"fully_proven": True} if valid else None)
    assert replays == [tmp_path]
    assert Report("b", evm={"x": 1}).document()["evm"] == {"x": 1}


def test_export_calldata_refuses_located(tmp_path):
    from zksolv import evm

    folder = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, folder)
    assert api.export_calldata(folder) == evm.export_calldata(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    proof_path = folder / "batches" / "000000" / "proof.json"
    proof = json.loads(proof_path.read_text())
    proof_path.write_text(json.dumps({**proof, "pi_a": ["0", "1", "0"]}))  # canonical infinity: no EVM spelling
    with pytest.raises(InputError, match=re.escape(str(proof_path)) + ": cannot be verifyProof's arguments"):
        api.export_calldata(folder)
    proof_path.write_text(json.dumps({**proof, "pi_a": [*proof["pi_a"][:2], "2"]}))  # Jacobian z = 2
    with pytest.raises(InputError, match=re.escape(str(proof_path)) + ": pi_a: z must be 1"):
        api.export_calldata(folder)
    for n_batches in ("x", [], None, 0, True):
        (folder / "manifest.json").write_text(json.dumps({**manifest, "n_batches": n_batches}))
        with pytest.raises(InputError, match=re.escape(str(folder / "manifest.json")) + ": n_batches: "):
            api.export_calldata(folder)
    del manifest["n_batches"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=re.escape(str(folder / "manifest.json")) + ": n_batches: Field required"):
        api.export_calldata(folder)


# ---------------------------------------------------------------------------
# The README's library section, run as printed


def readme_pipeline() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("\n## The library\n") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_pipeline_uses_only_the_api():
    code = readme_pipeline()
    imports = [line for line in code.splitlines() if re.match(r"\s*(from|import) ", line)]
    assert imports == ["from zksolv import api"]
    for step in ("api.setup(", "api.prove(", "api.verify(", "api.verify_inclusion_file("):
        assert step in code


@pytest.mark.node
def test_readme_pipeline_runs(tmp_path, monkeypatch, capsys):
    """setup → prove → verify → inclusion check, SolvencyBatch(1, 1, 2), exactly as the README prints it."""
    (tmp_path / "params.json").write_text(json.dumps(TINY_PARAMS))
    write_csv(
        tmp_path / "accounts.csv",
        ["account_id", "USDC", "BTC-PERP"],
        [["alice", "10000", "0.1"], ["bob", "2500", ""], ["carol", "800", "-0.01"]],
    )
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_pipeline(), "<README.md: The library>", "exec"), {"__name__": "readme"})
    assert (tmp_path / "bundle" / "manifest.json").exists() and (tmp_path / "inclusion" / "alice.json").exists()
    root = json.loads((tmp_path / "bundle" / "manifest.json").read_text())["root"]
    out = capsys.readouterr().out
    assert out.startswith(root) and "'USDC': '10000'" in out, out
