"""Issue 16: the machine-readable contract (docs/JSON.md).

Every command of the CLI, found by walking the click tree (a new command without a schema or
cases fails here), runs with --json on success, on invalid input and on refusal; stdout must be
exactly one JSON document (prove: JSON lines, the last one `done` or the error document) valid
against the command's schema in docs/schemas/, and the exit code the documented one. The special
paths of the issue (a closed stdout, Ctrl-C, a bad --ptau, a usage error, a bug) run too, and none
ends in exit 3 unless it is a bug.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import jsonschema
import pytest
from click.testing import CliRunner
from referencing import Registry, Resource

from zksolv import cli, errors
from zksolv.cli import main

from .conftest import TINY_ACCOUNTS, TINY_PARAMS, TINY_SHAPE
from .helpers import REPO, node_available

SCHEMAS = REPO / "docs" / "schemas"
EXAMPLE = REPO / "proofs" / "example"
ZKSOLV = [sys.executable, "-m", "zksolv"]

pytestmark = pytest.mark.skipif(not node_available(), reason="Node toolchain not installed (run `make install`)")


# --- the command tree and the schemas ----------------------------------------------------------


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every leaf command's path (`("inclusion", "verify")`), in a stable order."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


def schema_name(path: tuple[str, ...]) -> str:
    return "-".join(path)


def _load_schemas() -> dict[str, dict]:
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.json"))}


LOADED = _load_schemas()
REGISTRY = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in LOADED.values())


def validate(name: str, document: object) -> None:
    """Raise with the most relevant message unless `document` is valid against schema `name`."""
    validator = jsonschema.Draft202012Validator(LOADED[name], registry=REGISTRY)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise AssertionError(f"{name}.schema.json: {error.message[:400]} at {list(error.absolute_path)}")


def documented_exit_codes() -> set[int]:
    """The codes of the exit-code table of docs/JSON.md (its rows start "| `N`")."""
    text = (REPO / "docs" / "JSON.md").read_text()
    return {int(code) for code in re.findall(r"^\| `(\d+)`", text, flags=re.M)}


# --- fixtures: tiny inputs, reused by every case -------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, Path]:
    """Tiny params (SolvencyBatch(1,1,2)), solvent / insolvent / malformed accounts, a secret, the
    cached tiny keys and a commit of the solvent accounts: every case reads these and writes only
    under its own tmp_path."""
    from zksolv.secret import generate_secret
    from zksolv.setup import cached_setup

    folder = tmp_path_factory.mktemp("contract")
    (folder / "params.json").write_text(json.dumps(TINY_PARAMS))
    (folder / "accounts.csv").write_text(TINY_ACCOUNTS)
    (folder / "insolvent.csv").write_text("account_id,USDC,BTC-PERP\nalice,10000,0.1\nbob,-500,\n")
    (folder / "bad.csv").write_text("account_id,USDC,BTC-PERP\nalice,abc,0.1\n")
    (folder / "oracle.csv").write_text(
        "symbol,time,price\nBTC-PERP,2026-11-23T22:30:00Z,50000\nBTC-PERP,2026-11-23T23:50:00Z,50100\n"
    )
    (folder / "late-oracle.csv").write_text("symbol,time,price\nBTC-PERP,2026-11-23T23:50:00Z,50100\n")
    (folder / "garbage.ptau").write_bytes(b"hello, not a ptau at all")
    (folder / "not-inclusion.json").write_text('{"format": "something else"}')
    generate_secret(folder / "venue.secret")
    keys = cached_setup(*TINY_SHAPE)
    ptau = REPO / "build" / "ptau" / keys.document.ptau.file
    (folder / "truncated.ptau").write_bytes(ptau.read_bytes()[:5000])
    commit = CliRunner().invoke(main, _commit_args(folder, folder / "commit"))
    assert commit.exit_code == 0, commit.output
    tampered = folder / "tampered"
    shutil.copytree(EXAMPLE, tampered)
    (tampered / "batch_roots.json").write_text('["1", "2"]\n')
    return {
        "dir": folder,
        "params": folder / "params.json",
        "accounts": folder / "accounts.csv",
        "insolvent": folder / "insolvent.csv",
        "bad": folder / "bad.csv",
        "secret": folder / "venue.secret",
        "keys": keys.dir,
        "ptau": ptau,
        "commit": folder / "commit",
        "tampered": tampered,
    }


def _commit_args(folder: Path, out: Path, accounts: str = "accounts.csv") -> list[str]:
    return [
        "commit",
        "--params",
        str(folder / "params.json"),
        "--accounts",
        str(folder / accounts),
        "--secret",
        str(folder / "venue.secret"),
        "--out",
        str(out),
        "--json",
    ]


# --- the cases -----------------------------------------------------------------------------------

Args = Callable[[dict, Path], list[str]]
Check = Callable[[object, dict], None]


@dataclass(frozen=True)
class Case:
    """One run of a command with --json: its arguments (from env and the case's own tmp folder), the
    documented exit code, and what its document must say beyond the schema (an independent fact)."""

    label: str
    args: Args
    exit_code: int
    check: Check | None = None
    kind: str | None = None  # for failures: the error document's kind
    slow: bool = field(default=False)


def e(key: str) -> Callable[[dict], str]:
    return lambda env: str(env[key])


def _prove_args(env: dict, tmp: Path, accounts: str = "accounts") -> list[str]:
    return [
        "prove",
        "--params",
        str(env["params"]),
        "--accounts",
        str(env[accounts]),
        "--secret",
        str(env["secret"]),
        "--keys",
        str(env["keys"]),
        "--out",
        str(tmp / "bundle"),
        "--workers",
        "1",
        "--json",
    ]


def _check_solvent(doc, env) -> None:
    rows = env["accounts"].read_text().splitlines()[1:]
    assert doc["solvent"] is True and doc["accounts"] == len(rows)


def _check_insolvent(doc, env) -> None:
    assert doc["solvent"] is False and [b["account_id"] for b in doc["below_maintenance"]] == ["bob"]


def _check_located(doc, env) -> None:
    assert doc["error"]["problems"][0] == {
        "file": str(env["bad"]),
        "row": 2,
        "account": "alice",
        "column": "USDC",
        "message": "not a decimal number: 'abc'",
    }


def _check_exists(doc, env) -> None:
    assert "--force" in (doc["error"]["hint"] or ""), doc


def _check_prove_done(lines, env) -> None:
    done = lines[-1]
    batches = [line for line in lines if line["event"] == "batch"]
    # Real accounts, not padding: the 3 rows of the snapshot over 2 batches of 2 slots.
    assert done["event"] == "done" and done["accounts"] == 3 and sum(b["accounts"] for b in batches) == 3
    assert done["inclusion"] is None and any("inclusion" in w for w in done["warnings"])


def _check_prove_refusal(lines, env) -> None:
    error = lines[-1]["error"]
    assert len(lines) == 1 and error["type"] == "InsolventError"
    assert [a["account_id"] for a in error["details"]["below_maintenance"]] == ["bob"]


def _check_inclusion(doc, env) -> None:
    assert doc["valid"] and doc["subaccounts"][0]["account"]["balances"] == {"USDC": "10000"}


def _check_secret_mode(doc, env) -> None:
    assert doc["mode"] == f"{os.stat(doc['secret']).st_mode & 0o777:04o}" == "0600"


def _check_page(doc, env) -> None:
    page = Path(doc["page"]).read_bytes()
    assert len(page) == doc["bytes"] and hashlib.sha256(page).hexdigest() == doc["sha256"]


def _check_twap(doc, env) -> None:
    # 50000 from 23:00 to 23:50, 50100 for the last 10 minutes: (50·50000 + 10·50100) / 60.
    assert doc["prices"]["BTC-PERP"] == {"price": "50016.67", "inputs": 2}


def _check_circuit(doc, env) -> None:
    assert (doc["n_assets"], doc["n_markets"], doc["batch_size"]) == TINY_SHAPE and doc["constraints"] > 0


def _check_verify(doc, env) -> None:
    proofs = [c for c in doc["checks"] if c["name"] == "proofs"]
    assert doc["valid"] and [c["backend"] for c in proofs] == ["python"]


def _check_calldata(doc, env) -> None:
    manifest = json.loads((EXAMPLE / "manifest.json").read_text())
    assert len(doc["batches"]) == manifest["n_batches"]


def _check_audit(doc, env) -> None:
    setup = json.loads((env["keys"] / "setup.json").read_text())
    assert doc["passed"] and doc["verification_key_sha256"] == setup["verification_key_sha256"]


def _check_setup(doc, env) -> None:
    assert (doc["n_assets"], doc["n_markets"], doc["batch_size"]) == TINY_SHAPE and doc["ptau"]["insecure_development"]


def _check_demo(doc, env) -> None:
    assert doc["valid"] and doc["accounts"] == 6


def _check_usage(doc, env) -> None:
    doc = doc[-1] if isinstance(doc, list) else doc  # prove: the one line
    assert doc["error"]["kind"] == "usage" and doc["error"]["hint"].endswith("--help`")


CASES: dict[tuple[str, ...], list[Case]] = {
    ("check",): [
        Case(
            "solvent",
            lambda v, t: ["check", "--params", e("params")(v), "--accounts", e("accounts")(v), "--json"],
            0,
            _check_solvent,
        ),
        Case(
            "insolvent",
            lambda v, t: ["check", "--params", e("params")(v), "--accounts", e("insolvent")(v), "--json"],
            1,
            _check_insolvent,
        ),
        Case(
            "malformed",
            lambda v, t: ["check", "--params", e("params")(v), "--accounts", e("bad")(v), "--json"],
            2,
            _check_located,
            "input",
        ),
        Case(
            "missing file",
            lambda v, t: ["check", "--params", e("params")(v), "--accounts", str(t / "nope.csv"), "--json"],
            2,
            None,
            "input",
        ),
        Case("usage", lambda v, t: ["check", "--params", e("params")(v), "--json"], 2, _check_usage, "usage"),
    ],
    ("commit",): [
        Case("written", lambda v, t: _commit_args(v["dir"], t / "c"), 0, lambda d, v: None),
        Case("exists", lambda v, t: _commit_args(v["dir"], v["commit"]), 2, _check_exists, "input"),
        Case("malformed", lambda v, t: _commit_args(v["dir"], t / "c", "bad.csv"), 2, None, "input"),
    ],
    ("inclusion", "verify"): [
        Case(
            "valid",
            lambda v, t: [
                "inclusion",
                "verify",
                str(v["commit"] / "inclusion" / "alice.json"),
                "--commitment",
                str(v["commit"] / "commitment.json"),
                "--json",
            ],
            0,
            _check_inclusion,
        ),
        Case(
            "wrong root",
            lambda v, t: [
                "inclusion",
                "verify",
                str(v["commit"] / "inclusion" / "alice.json"),
                "--root",
                "1",
                "--capacity",
                "4",
                "--json",
            ],
            1,
            lambda d, v: None if not d["valid"] else pytest.fail("valid"),
        ),
        Case(
            "not an inclusion file",
            lambda v, t: [
                "inclusion",
                "verify",
                str(v["dir"] / "not-inclusion.json"),
                "--root",
                "1",
                "--capacity",
                "4",
                "--json",
            ],
            2,
            None,
            "input",
        ),
        Case(
            "usage",
            lambda v, t: ["inclusion", "verify", "x.json", "--capacity", "four", "--json"],
            2,
            _check_usage,
            "usage",
        ),
    ],
    ("inclusion", "get"): [
        Case(
            "printed",
            lambda v, t: ["inclusion", "get", str(v["commit"] / "inclusion"), "alice", "--json"],
            0,
            lambda d, v: None if d["account_id"] == "alice" else pytest.fail(d),
        ),
        Case(
            "written",
            lambda v, t: [
                "inclusion",
                "get",
                str(v["commit"] / "inclusion"),
                "alice",
                "--out",
                str(t / "a.json"),
                "--json",
            ],
            0,
            lambda d, v: None if d["accounts"] == 1 else pytest.fail(d),
        ),
        Case(
            "unknown id",
            lambda v, t: ["inclusion", "get", str(v["commit"] / "inclusion"), "zoe", "--json"],
            2,
            None,
            "input",
        ),
        Case(
            "exists",
            lambda v, t: [
                "inclusion",
                "get",
                str(v["commit"] / "inclusion"),
                "alice",
                "--out",
                e("params")(v),
                "--json",
            ],
            2,
            _check_exists,
            "input",
        ),
    ],
    ("schema",): [
        Case(
            "all",
            lambda v, t: ["schema", "--json"],
            0,
            lambda d, v: None if set(d) == {"params", "accounts"} else pytest.fail(d),
        ),
        Case(
            "params",
            lambda v, t: ["schema", "params", "--json"],
            0,
            lambda d, v: None if d["title"] == "ParamsFile" else pytest.fail(d),
        ),
        Case("usage", lambda v, t: ["schema", "nothing", "--json"], 2, _check_usage, "usage"),
    ],
    ("keygen-secret",): [
        Case("written", lambda v, t: ["keygen-secret", str(t / "s.secret"), "--json"], 0, _check_secret_mode),
        Case("exists", lambda v, t: ["keygen-secret", e("secret")(v), "--json"], 2, None, "input"),
    ],
    ("page",): [
        Case("written", lambda v, t: ["page", "--out", str(t / "site"), "--json"], 0, _check_page),
        Case("inside a bundle", lambda v, t: ["page", "--out", str(EXAMPLE), "--json"], 2, None, "input"),
    ],
    ("params", "suggest-decimals"): [
        Case(
            "suggested",
            lambda v, t: [
                "params",
                "suggest-decimals",
                "--params",
                e("params")(v),
                "--accounts",
                e("accounts")(v),
                "--json",
            ],
            0,
            lambda d, v: None,
        ),
        Case(
            "malformed",
            lambda v, t: [
                "params",
                "suggest-decimals",
                "--params",
                e("params")(v),
                "--accounts",
                e("bad")(v),
                "--json",
            ],
            2,
            None,
            "input",
        ),
    ],
    ("params", "price"): [
        Case(
            "twap",
            lambda v, t: [
                "params",
                "price",
                "--params",
                e("params")(v),
                "--from",
                str(v["dir"] / "oracle.csv"),
                "--out",
                str(t / "p.json"),
                "--json",
            ],
            0,
            _check_twap,
        ),
        Case(
            "no data in the window",
            lambda v, t: [
                "params",
                "price",
                "--params",
                e("params")(v),
                "--from",
                str(v["dir"] / "late-oracle.csv"),
                "--out",
                str(t / "p.json"),
                "--json",
            ],
            2,
            None,
            "input",
        ),
        Case(
            "exists",
            lambda v, t: [
                "params",
                "price",
                "--params",
                e("params")(v),
                "--from",
                str(v["dir"] / "oracle.csv"),
                "--out",
                e("params")(v),
                "--json",
            ],
            2,
            _check_exists,
            "input",
        ),
    ],
    ("circuit", "info"): [
        Case(
            "tiny",
            lambda v, t: ["circuit", "info", "--params", e("params")(v), "--batch-size", "2", "--json"],
            0,
            _check_circuit,
        ),
        Case(
            "batch size",
            lambda v, t: ["circuit", "info", "--params", e("params")(v), "--batch-size", "3", "--json"],
            2,
            None,
            "input",
        ),
    ],
    ("setup",): [
        Case(
            "tiny",
            lambda v, t: ["setup", "--params", e("params")(v), "--batch-size", "2", "--out", str(t / "k"), "--json"],
            0,
            _check_setup,
        ),
        *(
            Case(
                f"{name} ptau",
                lambda v, t, name=name: [
                    "setup",
                    "--params",
                    e("params")(v),
                    "--batch-size",
                    "2",
                    "--out",
                    str(t / "k"),
                    "--ptau",
                    str(v["dir"] / f"{name}.ptau"),
                    "--json",
                ],
                2,
                None,
                "input",
            )
            for name in ("garbage", "truncated", "missing")
        ),
        Case(
            "exists",
            lambda v, t: ["setup", "--params", e("params")(v), "--batch-size", "2", "--out", e("keys")(v), "--json"],
            2,
            None,
            "input",
        ),
    ],
    ("prove",): [
        Case("proved", lambda v, t: _prove_args(v, t), 0, _check_prove_done),
        Case("below maintenance", lambda v, t: _prove_args(v, t, "insolvent"), 1, _check_prove_refusal, "claim"),
        Case("malformed", lambda v, t: _prove_args(v, t, "bad"), 2, None, "input"),
        Case("usage", lambda v, t: [*_prove_args(v, t), "--workers", "0"], 2, _check_usage, "usage"),
    ],
    ("verify",): [
        Case("valid", lambda v, t: ["verify", str(EXAMPLE), "--backend", "python", "--json"], 0, _check_verify),
        Case(
            "tampered",
            lambda v, t: ["verify", e("tampered")(v), "--backend", "python", "--json"],
            1,
            lambda d, v: None if not d["valid"] else pytest.fail("valid"),
        ),
        Case("not a bundle", lambda v, t: ["verify", str(t / "nothing"), "--json"], 2, None, "input"),
        Case("usage", lambda v, t: ["verify", str(EXAMPLE), "--backend", "abacus", "--json"], 2, _check_usage, "usage"),
    ],
    ("report",): [
        Case(
            "written",
            lambda v, t: ["report", str(EXAMPLE), "--out", str(t / "report.html"), "--json"],
            0,
            lambda d, v: None if d["valid"] and d["failed_checks"] == [] else pytest.fail(str(d)),
        ),
        Case(
            "tampered",
            lambda v, t: ["report", e("tampered")(v), "--out", str(t / "report.html"), "--json"],
            1,
            lambda d, v: None if not d["valid"] and d["failed_checks"] else pytest.fail(str(d)),
        ),
        Case(
            "not a bundle",
            lambda v, t: ["report", str(t / "nothing"), "--out", str(t / "r.html"), "--json"],
            2,
            None,
            "input",
        ),
        Case(
            "usage",
            lambda v, t: ["report", str(EXAMPLE), "--out", str(t / "r.html"), "--format", "pdf", "--json"],
            2,
            _check_usage,
            "usage",
        ),
    ],
    ("audit-setup",): [
        Case(
            "passed",
            lambda v, t: ["audit-setup", e("keys")(v), "--ptau", e("ptau")(v), "--json"],
            0,
            _check_audit,
            slow=True,
        ),
        *(
            Case(
                f"{name} ptau",
                lambda v, t, name=name: [
                    "audit-setup",
                    e("keys")(v),
                    "--ptau",
                    str(v["dir"] / f"{name}.ptau"),
                    "--json",
                ],
                2,
                None,
                "input",
            )
            for name in ("garbage", "truncated", "missing")
        ),
    ],
    ("demo",): [
        Case("tiny", lambda v, t: ["demo", "--out", str(t / "demo"), "--accounts", "6", "--json"], 0, _check_demo),
        Case(
            "no accounts",
            lambda v, t: ["demo", "--out", str(t / "demo"), "--accounts", "0", "--json"],
            2,
            None,
            "input",
        ),
    ],
    ("export", "calldata"): [
        Case("example", lambda v, t: ["export", "calldata", str(EXAMPLE), "--json"], 0, _check_calldata),
        Case("not a bundle", lambda v, t: ["export", "calldata", str(t / "nothing"), "--json"], 2, None, "input"),
    ],
}

#: Commands other engineers were adding while this contract was written, each with why it has no
#: cases here yet. The test fails for any other command without cases, and for one of these once
#: it has cases (so the entry is deleted with it).
PENDING: dict[tuple[str, ...], str] = {
    # Every success case needs a ceremony (snarkjs zkey new, ~25 s) that the next one continues:
    # tests/test_ceremony.py runs one and validates each command's --json document against its schema.
    **{
        ("ceremony", name): "issue 16 part 5: validated in tests/test_ceremony.py"
        for name in ("init", "contribute", "beacon", "verify", "export")
    },
    # A success needs a JSON-RPC node (Hardhat's, ~10 s to start): tests/test_publish.py validates a
    # success and a refusal against docs/schemas/publish.schema.json.
    ("publish",): "validated in tests/test_publish.py",
}


def all_cases() -> list:
    return [
        pytest.param(path, case, id=f"{' '.join(path)}: {case.label}")
        for path, cases in CASES.items()
        for case in cases
    ]


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout


def parse(path: tuple[str, ...], stdout: str) -> object:
    """stdout as exactly one JSON document, or for prove a list of JSON lines (each one document)."""
    if path == ("prove",):
        lines = stdout.splitlines()
        assert lines and all(lines), stdout
        return [json.loads(line) for line in lines]
    return json.loads(stdout)  # raises on anything but one document ("Extra data")


# --- the tests -----------------------------------------------------------------------------------


def test_every_command_has_a_schema_a_json_flag_and_cases():
    missing = []
    for path in commands():
        command = main
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if not any(p.name == "as_json" for p in command.params):
            missing.append(f"{' '.join(path)}: no --json")
        if schema_name(path) not in LOADED:
            missing.append(f"{' '.join(path)}: no docs/schemas/{schema_name(path)}.schema.json")
        cases = CASES.get(path, [])
        if path in PENDING:
            assert not cases, f"{' '.join(path)} has cases now: delete it from PENDING"
            continue
        if not any(c.exit_code == 0 for c in cases) or not any(c.kind for c in cases):
            missing.append(f"{' '.join(path)}: needs a success case and a failure case")
    assert not missing, missing


def test_schemas_are_valid_and_strict():
    for name, schema in LOADED.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{name}.schema.json")
    # A wrong document fails: a missing key, a wrong type, an unknown key, an error without its kind.
    ok = {"secret": "s", "mode": "0600"}
    validate("keygen-secret", ok)
    for wrong in ({"secret": "s"}, {"secret": 1, "mode": "0600"}, {**ok, "extra": 1}):
        with pytest.raises(AssertionError):
            validate("keygen-secret", wrong)
    with pytest.raises(AssertionError):
        validate("check", {"ok": False, "event": "error", "error": {"exit_code": 2}})


@pytest.mark.parametrize(("path", "case"), all_cases())
def test_json_output_validates(env, tmp_path, path, case):
    if case.slow and os.environ.get("ZKSOLV_FAST_CONTRACT"):
        pytest.skip("ZKSOLV_FAST_CONTRACT set")
    code, stdout = run(case.args(env, tmp_path))
    assert code == case.exit_code, stdout
    assert code in documented_exit_codes() and code != errors.EXIT_INTERNAL
    document = parse(path, stdout)
    for item in document if isinstance(document, list) else [document]:
        validate(schema_name(path), item)
    last = document[-1] if isinstance(document, list) else document
    if case.kind is not None:
        # The failure is the error document, with the code the process exited with.
        validate("error", last)
        assert last["error"]["kind"] == case.kind and last["error"]["exit_code"] == code
    else:
        assert not (isinstance(last, dict) and last.get("ok") is False), last
    if case.check is not None:
        case.check(document, env)


def test_exit_code_table_is_complete():
    codes = {getattr(errors, name) for name in dir(errors) if name.startswith("EXIT_")}
    assert codes == documented_exit_codes()
    error_schema = LOADED["error"]["properties"]["error"]["properties"]
    assert set(error_schema["exit_code"]["enum"]) == codes - {errors.EXIT_OK, errors.EXIT_BROKEN_PIPE}
    assert set(error_schema["kind"]["enum"]) == set(errors.ERROR_KINDS.values()) | {"usage"}


def test_a_bug_is_still_one_json_document(monkeypatch, env):
    """Even the path that should never happen keeps the contract (and exits 3, documented)."""

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli.api, "check", broken)
    code, stdout = run(["check", "--params", str(env["params"]), "--accounts", str(env["accounts"]), "--json"])
    doc = json.loads(stdout)
    validate("check", doc)
    assert code == 3 == doc["error"]["exit_code"] and doc["error"]["kind"] == "internal"


def test_unknown_command_under_json():
    code, stdout = run(["no-such-command", "--json"])
    doc = json.loads(stdout)
    validate("error", doc)
    assert code == 2 and doc["error"]["kind"] == "usage"


def test_check_names_are_the_same_for_every_backend():
    """verify's check names must not depend on the backend: the backend is its own field."""
    names = {}
    for backend in ("python", "snarkjs"):
        code, stdout = run(["verify", str(EXAMPLE), "--backend", backend, "--json"])
        doc = json.loads(stdout)
        assert code == 0, doc
        names[backend] = [c["name"] for c in doc["checks"]]
        assert [c["backend"] for c in doc["checks"] if c["name"] == "proofs"] == [backend]
        assert all(c["backend"] is None for c in doc["checks"] if c["name"] != "proofs")
    assert names["python"] == names["snarkjs"]


def _closed_stdout(args: list[str]) -> subprocess.CompletedProcess:
    """Run zksolv with a stdout whose reader is gone before anything is written (as `| head` once
    head has exited): every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([*ZKSOLV, *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)


def test_closed_stdout_exits_141_quietly(env, tmp_path):
    for args in (
        ["schema", "--json"],
        ["--help"],
        ["verify", str(EXAMPLE), "--backend", "python", "--json"],
        _prove_args(env, tmp_path) + ["--inclusion-out", str(tmp_path / "inclusion")],
    ):
        run_ = _closed_stdout(args)
        assert run_.returncode == errors.EXIT_BROKEN_PIPE == 141, (args, run_.stderr)
        assert "Traceback" not in run_.stderr and "internal error" not in run_.stderr and "Exception" not in run_.stderr


def test_head_of_a_pipe(tmp_path):
    """The shell's own `| head -c 10`: the first bytes arrive, nothing else is said."""
    run_ = subprocess.run(
        f"{' '.join(ZKSOLV)} schema --json | head -c 10", shell=True, capture_output=True, text=True, timeout=120
    )
    assert run_.stdout == json.dumps(json.loads(run(["schema", "--json"])[1]), indent=2)[:10]
    assert "Traceback" not in run_.stderr and "Exception" not in run_.stderr


def test_ctrl_c_during_prove(env, tmp_path):
    """SIGINT while batches are proved: exit 130 and, under --json, the error document as the last
    line after the events so far, each line valid."""
    accounts = tmp_path / "many.csv"
    accounts.write_text("account_id,USDC,BTC-PERP\n" + "".join(f"a{i:03d},1000,\n" for i in range(64)))
    args = _prove_args({**env, "many": accounts}, tmp_path, "many") + ["--prover", "snarkjs"]
    # A shell without job control starts background commands with SIGINT ignored, and Python then keeps
    # it ignored (no KeyboardInterrupt): the child gets the default disposition back, as from a terminal.
    process = subprocess.Popen(
        [*ZKSOLV, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:  # wait until proving has begun
        lines.append(line)
        if json.loads(line)["event"] == "batch":
            break
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=120)
    events = [json.loads(line) for line in lines + rest.splitlines()]
    for event in events:
        validate("prove", event)
    assert process.returncode == errors.EXIT_INTERRUPTED == 130, stderr
    assert events[-1]["error"]["kind"] == "interrupted" and events[-1]["error"]["exit_code"] == 130
    assert "Traceback" not in stderr and not (tmp_path / "bundle").exists()


def test_progress_lines_in_logs(env, tmp_path):
    """stderr not a terminal: prove prints plain progress lines (no bar) counting real accounts, and
    warns without --inclusion-out; verify reports each batch."""
    args = [a for a in _prove_args(env, tmp_path) if a != "--json"]
    environment = {**os.environ, "ZKSOLV_PROGRESS_INTERVAL": "0"}
    proved = subprocess.run([*ZKSOLV, *args], capture_output=True, text=True, env=environment, timeout=300)
    assert proved.returncode == 0, proved.stderr
    lines = proved.stderr.splitlines()
    assert lines[0].startswith("warning: no --inclusion-out")
    assert any(line.startswith("proved 1/2 batches") for line in lines)
    assert any(line.startswith("proved 2/2 batches (3 accounts this run") for line in lines), lines
    assert "\r" not in proved.stderr and "━" not in proved.stderr  # no bar redrawn in the log
    verified = subprocess.run(
        [*ZKSOLV, "verify", str(EXAMPLE), "--backend", "python"], capture_output=True, text=True, timeout=300
    )
    assert verified.returncode == 0
    assert [line for line in verified.stderr.splitlines() if line.startswith("verif")] == [
        "verifying 2 batch proofs (python)",
        "verified 1/2 batch proofs (python)",
        "verified 2/2 batch proofs (python)",
    ]


def test_progress_lines_are_throttled():
    from zksolv.progress import ProgressLines

    out = io.StringIO()
    printer = ProgressLines(interval=3600, stream=out)
    printer({"event": "verifying", "backend": "evm", "batches": 5})
    for done in range(1, 6):
        printer({"event": "verified", "backend": "evm", "index": done - 1, "ok": True, "done": done, "of": 5})
    # The first and the last batch; the three between fall inside the interval.
    assert out.getvalue().splitlines() == [
        "verifying 5 batch proofs (evm)",
        "verified 1/5 batch proofs (evm)",
        "verified 5/5 batch proofs (evm)",
    ]
