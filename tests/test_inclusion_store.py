"""The inclusion store (zksolv/inclusion_store.py): every holder's inclusion file in one SQLite file,
the very documents of the files layout byte for byte, chosen by `write_inclusion_proofs` above
INCLUSION_FILES_MAX holders, served by `zksolv inclusion get` (docs/PROTOCOL.md §4.1)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from zksolv import api
from zksolv import commitment as commitment_module
from zksolv.accounts import Account
from zksolv.cli import main
from zksolv.commitment import (
    Commitment,
    build_commitment,
    inclusion_filename,
    resolve_inclusion_layout,
    write_inclusion_proofs,
)
from zksolv.demo_portfolio import portfolio_accounts, portfolio_params
from zksolv.errors import EXIT_INPUT, ArgumentError, InputError
from zksolv.inclusion import InclusionProofFile, verify_inclusion
from zksolv.inclusion_store import STORE_NAME, InclusionStore, holder_file
from zksolv.io import dumps_json
from zksolv.params import params_hash, parse_params

from .helpers import write_csv

SEED = bytes(range(32))
# Several accounts per holder (main and isolated sub-accounts, a holder with sub-accounts only), and
# ids that need JSON escaping or a hashed file name.
ACCOUNTS = [
    Account("alice", (10_000 * 10**6, 5 * 10**7, 15_000, -2_000)),
    Account("alice", (-48_000 * 10**6, 0, 10_000, 0), "isolated-btc"),
    Account("alice", (5_000 * 10**6, 0, 0, -1_000), "eth-hedge"),
    Account("bob/with slash", (20 * 10**6, 0, 0, 0)),
    Account('quote"back\\slash', (1, 2, 3, 4)),
    Account("zoë ünïcode", (7, 0, 0, 0), 'sub "quoted"'),
    Account("zoë ünïcode", (8, 0, 0, 0), "ä-sub"),
    *(Account(f"user-{i}", (1000 * i, -i, 3 * i - 7, (-1) ** i * i)) for i in range(9)),
]
HOLDERS = 13


@pytest.fixture
def committed(params_dict) -> Commitment:
    return build_commitment(ACCOUNTS, parse_params(params_dict), SEED)


def _both_layouts(commitment: Commitment, tmp_path: Path) -> tuple[Path, Path]:
    files, store = tmp_path / "files", tmp_path / "sqlite"
    assert write_inclusion_proofs(commitment, files, "files") == HOLDERS
    assert write_inclusion_proofs(commitment, store, "sqlite") == HOLDERS
    return files, store


def test_the_store_gives_every_holder_the_file_of_the_files_layout_byte_for_byte(committed, tmp_path):
    assert committed.n_holders == HOLDERS and committed.n_accounts == len(ACCOUNTS)
    files, folder = _both_layouts(committed, tmp_path)
    assert [p.name for p in folder.iterdir()] == [STORE_NAME], "the store only, no temporary file left"
    assert len(list(files.iterdir())) == HOLDERS
    with InclusionStore(folder / STORE_NAME) as store:
        assert store.count() == HOLDERS
        assert (store.root, store.capacity, store.epoch) == (
            str(committed.root),
            committed.capacity,
            "2026-11-24T00:00:00Z",
        )
        for account_id, indices in committed.holders():
            expected = committed.holder_proof(indices)
            document = store.get(account_id)
            assert document == expected, account_id
            text = (files / inclusion_filename(account_id)).read_text(encoding="utf-8")
            assert text == dumps_json(expected) == dumps_json(document), account_id
    alice = json.loads((files / "alice.json").read_text())
    assert [e["account"]["subaccount"] for e in alice["subaccounts"]] == ["", "eth-hedge", "isolated-btc"]


def test_params_are_stored_once_not_per_holder(committed, tmp_path):
    _, folder = _both_layouts(committed, tmp_path)
    with sqlite3.connect(folder / STORE_NAME) as connection:
        (params,) = connection.execute("SELECT params FROM meta").fetchone()
        rows = connection.execute("SELECT account_id, document FROM holders").fetchall()
    assert json.loads(params) == committed.holder_proof(next(committed.holders())[1])["params"]
    assert len(rows) == HOLDERS and all("params" not in json.loads(document) for _, document in rows)


def test_every_document_of_the_store_verifies(committed, tmp_path, params_dict):
    params = parse_params(params_dict)
    _, folder = _both_layouts(committed, tmp_path)
    with InclusionStore(folder / STORE_NAME) as store:
        for account_id, indices in committed.holders():
            proof = InclusionProofFile.model_validate(store.get(account_id))
            result = verify_inclusion(proof, committed.root, committed.capacity, params.epoch, params_hash(params))
            assert result.valid, (account_id, result.reason)
            assert len(result.subaccounts) == len(indices)


def test_part_texts_are_json_dumps_of_the_parts_with_scenarios_and_without(committed):
    # The store's text is rendered by hand for speed (commitment._PartJson): the same text as the
    # encoder gives for the same dicts, margin modes (scenario params) included.
    portfolio = build_commitment(portfolio_accounts(15), parse_params(portfolio_params()), SEED)
    for commitment in (committed, portfolio):
        parts, texts = list(commitment.holder_parts()), list(commitment.holder_part_texts())
        assert [a for a, _ in parts] == [a for a, _ in texts] == [a for a, _ in commitment.holders()]
        for (account_id, part), (_, text) in zip(parts, texts):
            assert text == json.dumps(part, ensure_ascii=False, separators=(",", ":")), account_id
    modes = {json.loads(t)["subaccounts"][0]["account"]["margin_mode"] for _, t in portfolio.holder_part_texts()}
    assert modes == {"cross", "portfolio"}


def test_a_commitment_of_plain_lists_writes_the_same_store(committed, tmp_path):
    # Commitment takes any sequence of Slot and of ints: the SlotTable / FieldVector fast paths must agree.
    plain = Commitment(committed.params, committed.capacity, list(committed.slots), [list(x) for x in committed.levels])
    assert list(plain.holder_part_texts()) == list(committed.holder_part_texts())
    assert list(plain.holder_parts()) == list(committed.holder_parts())


def test_an_unknown_account_id_is_named_with_the_store(committed, tmp_path):
    files, folder = _both_layouts(committed, tmp_path)
    with InclusionStore(folder / STORE_NAME) as store, pytest.raises(InputError) as caught:
        store.get("mallory")
    assert caught.value.exit_code == EXIT_INPUT
    assert str(folder / STORE_NAME) in str(caught.value) and "'mallory'" in str(caught.value)
    with pytest.raises(InputError, match="mallory") as caught:
        holder_file(files, "mallory")
    assert str(files) in str(caught.value) and "mallory.json" in str(caught.value)
    for where in (files, folder):
        result = CliRunner().invoke(main, ["inclusion", "get", str(where), "mallory"])
        assert result.exit_code == EXIT_INPUT, result.output
        assert "error:" in result.output and "'mallory'" in result.output and str(where) in result.output


def _store_copy(folder: Path, tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "edited" / STORE_NAME
    path.parent.mkdir()
    path.write_bytes((folder / STORE_NAME).read_bytes())
    with sqlite3.connect(path) as connection:
        connection.execute(sql)
    return path


@pytest.mark.parametrize(
    "sql, message",
    [
        ("UPDATE meta SET format = 'zksolv-inclusion/3'", "inclusion store zksolv-inclusion/3 is no longer accepted"),
        ("UPDATE meta SET format = 'zksolv-inclusion/9'", "unknown format 'zksolv-inclusion/9'"),
        ("DROP TABLE meta", "not a zksolv inclusion store"),
        ("PRAGMA application_id = 7", "not a zksolv inclusion store"),
        ('UPDATE meta SET params = \'{"a": 1, "a": 2}\'', "params are not valid JSON"),
    ],
)
def test_a_store_of_another_format_or_schema_is_refused(committed, tmp_path, sql, message):
    _, folder = _both_layouts(committed, tmp_path)
    path = _store_copy(folder, tmp_path, sql)
    with pytest.raises(InputError, match=message) as caught:
        InclusionStore(path)
    assert str(path) in str(caught.value) and caught.value.exit_code == EXIT_INPUT


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    not_sqlite = tmp_path / "a" / STORE_NAME
    not_sqlite.parent.mkdir()
    not_sqlite.write_text('{"format": "zksolv-inclusion/5"}')
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    for path in (not_sqlite, other, empty):
        with pytest.raises(InputError, match="not a zksolv inclusion store") as caught:
            InclusionStore(path)
        assert str(path) in str(caught.value)
    result = CliRunner().invoke(main, ["inclusion", "get", str(not_sqlite.parent), "alice"])
    assert result.exit_code == EXIT_INPUT and "not a zksolv inclusion store" in result.output
    with pytest.raises(InputError, match="no such file"):
        InclusionStore(tmp_path / "missing.sqlite")
    with pytest.raises(InputError, match="no such inclusion folder"):
        holder_file(tmp_path / "missing", "alice")


def test_a_stored_document_for_another_account_is_refused(committed, tmp_path):
    _, folder = _both_layouts(committed, tmp_path)
    path = _store_copy(
        folder,
        tmp_path,
        "UPDATE holders SET document = (SELECT document FROM holders WHERE account_id = 'bob/with slash') "
        "WHERE account_id = 'alice'",
    )
    with InclusionStore(path) as store, pytest.raises(InputError, match="not this account's") as caught:
        store.get("alice")
    assert "'alice'" in str(caught.value)


@pytest.mark.parametrize("layout", ["files", "sqlite"])
def test_inclusion_get_prints_and_writes_the_holders_file(committed, tmp_path, layout):
    files, store = _both_layouts(committed, tmp_path)
    folder = files if layout == "files" else store
    runner = CliRunner()
    for account_id, _ in committed.holders():
        expected = (files / inclusion_filename(account_id)).read_text(encoding="utf-8")
        printed = runner.invoke(main, ["inclusion", "get", str(folder), account_id])
        assert printed.exit_code == 0, printed.output
        assert printed.output == expected, account_id
    out = tmp_path / "handed-out" / "zoe.json"
    written = runner.invoke(main, ["inclusion", "get", str(folder), "zoë ünïcode", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert "wrote" in written.output and "2 accounts" in written.output
    assert out.read_text(encoding="utf-8") == (files / inclusion_filename("zoë ünïcode")).read_text(encoding="utf-8")
    again = runner.invoke(main, ["inclusion", "get", str(folder), "alice", "--out", str(out)])
    assert again.exit_code == EXIT_INPUT and "exists" in again.output and "--force" in again.output
    forced = runner.invoke(main, ["inclusion", "get", str(folder), "alice", "--out", str(out), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.output) == {"account_id": "alice", "out": str(out), "accounts": 3}
    assert out.read_text(encoding="utf-8") == (files / "alice.json").read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["zoe.json"], "written atomically: no temporary file left"
    if layout == "sqlite":  # the store file itself names the store too
        assert api.inclusion_get(store / STORE_NAME, "alice") == committed.holder_proof(
            next(indices for account_id, indices in committed.holders() if account_id == "alice")
        )
    with pytest.raises(ArgumentError):
        api.inclusion_get(folder, "")


def test_auto_writes_files_up_to_the_threshold_and_the_store_above(committed, tmp_path, monkeypatch):
    assert resolve_inclusion_layout(commitment_module.INCLUSION_FILES_MAX) == "files"
    assert resolve_inclusion_layout(commitment_module.INCLUSION_FILES_MAX + 1) == "sqlite"
    assert resolve_inclusion_layout(10**6, "files") == "files" and resolve_inclusion_layout(1, "sqlite") == "sqlite"
    with pytest.raises(ArgumentError, match="not an inclusion layout"):
        resolve_inclusion_layout(1, "zip")
    monkeypatch.setattr(commitment_module, "INCLUSION_FILES_MAX", HOLDERS)
    write_inclusion_proofs(committed, tmp_path / "at")
    assert len(list((tmp_path / "at").iterdir())) == HOLDERS and not (tmp_path / "at" / STORE_NAME).exists()
    monkeypatch.setattr(commitment_module, "INCLUSION_FILES_MAX", HOLDERS - 1)
    write_inclusion_proofs(committed, tmp_path / "above")
    assert [p.name for p in (tmp_path / "above").iterdir()] == [STORE_NAME]


def test_commit_writes_the_layout_asked_for_and_verify_takes_the_file_handed_out(
    tmp_path, params_file, secret_file, monkeypatch
):
    rows = [
        ["alice", "", "100", "0.1", "", ""],
        ["alice", "isolated-btc", "5", "", "0.5", ""],
        ["bob", "", "1", "", "", ""],
    ]
    accounts = write_csv(tmp_path / "a.csv", ["account_id", "subaccount", "USDC", "BTC", "BTC-PERP", "ETH-PERP"], rows)
    runner = CliRunner()
    base = ["commit", "--params", str(params_file), "--accounts", str(accounts), "--secret", str(secret_file)]
    stored = runner.invoke(main, [*base, "--out", str(tmp_path / "s"), "--inclusion-layout", "sqlite"])
    assert stored.exit_code == 0, stored.output
    assert "inclusion.sqlite" in stored.output and "2 holders" in stored.output
    assert [p.name for p in (tmp_path / "s" / "inclusion").iterdir()] == [STORE_NAME]
    monkeypatch.setattr(commitment_module, "INCLUSION_FILES_MAX", 1)  # auto: 2 holders are above it
    auto = runner.invoke(main, [*base, "--out", str(tmp_path / "auto"), "--json"])
    assert auto.exit_code == 0, auto.output
    assert json.loads(auto.output)["inclusion_layout"] == "sqlite"
    monkeypatch.undo()
    files = runner.invoke(main, [*base, "--out", str(tmp_path / "f")])
    assert files.exit_code == 0 and "2 inclusion files" in files.output, files.output
    handed = tmp_path / "alice.json"
    got = runner.invoke(main, ["inclusion", "get", str(tmp_path / "s" / "inclusion"), "alice", "--out", str(handed)])
    assert got.exit_code == 0, got.output
    checked = runner.invoke(
        main, ["inclusion", "verify", str(handed), "--commitment", str(tmp_path / "s" / "commitment.json")]
    )
    assert checked.exit_code == 0 and "VALID" in checked.output, checked.output
    with pytest.raises(ArgumentError, match="inclusion_layout"):
        api.commit(params_file, accounts, secret_file, out=tmp_path / "x", inclusion_layout="zip")
    assert not (tmp_path / "x").exists()


def test_a_full_disk_leaves_no_store_behind(committed, tmp_path):
    import subprocess

    from zksolv.io import OutputError, atomic_directory

    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        many = build_commitment(
            [Account(f"user-{i}", (i, -i, 2 * i, 3)) for i in range(300)], committed.params, SEED
        )  # ≈ 300 rows of ≈ 2 kB > 64 kB
        with pytest.raises(OutputError, match="inclusion.sqlite") as caught:
            with atomic_directory(mount / "inclusion") as tmp:
                write_inclusion_proofs(many, tmp, "sqlite")
        assert caught.value.exit_code == EXIT_INPUT
        assert list(mount.iterdir()) == [], "no store, temporary file or folder may remain"
    finally:
        subprocess.run(["umount", str(mount)], check=False)
