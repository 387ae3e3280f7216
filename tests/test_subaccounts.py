"""Isolated sub-accounts (issue 12): each (account_id, subaccount) is its own account and leaf, with
its own key and salt, counted on its own; the holder gets one inclusion file with every path."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from zksolv import api
from zksolv.accounts import Account, read_accounts
from zksolv.cli import main
from zksolv.commitment import (
    INCLUSION_FORMAT,
    Commitment,
    Slot,
    account_id_field,
    account_key,
    build_commitment,
    derive_padding_key,
    derive_salt,
    inclusion_filename,
    leaf_hash,
    merkle_levels,
)
from zksolv.errors import InputError
from zksolv.inclusion import InclusionProofFile, load_inclusion_proof, verify_inclusion
from zksolv.margin import check_solvency, totals_of
from zksolv.params import params_hash, parse_params
from zksolv.poseidon import poseidon

from .conftest import HEADER, ROWS
from .helpers import write_csv

SEED = bytes(range(32))
SUB_HEADER = ["account_id", "subaccount", "USDC", "BTC", "BTC-PERP", "ETH-PERP"]
# alice: 100,000 USDC in her main account; her isolated BTC-PERP long (1 BTC-PERP at 50,000 with 2,000 USDC of
# collateral: quote balance −48,000) needs 2,500 of maintenance margin: health −500, equity 2,000. carol's
# isolated "degen" sub-account is bankrupt (equity −1,000) while her main account is fine.
SUB_ROWS = [
    ["alice", "", "100000", "", "", ""],
    ["alice", "isolated-btc", "-48000", "", "1", ""],
    ["alice", "eth-hedge", "5000", "", "", "-1"],
    ["bob", "", "20", "", "", ""],
    ["carol", "", "300", "0.01", "", ""],
    ["carol", "degen", "-51000", "", "1", ""],
]


def _accounts_file(tmp_path, rows=SUB_ROWS, header=SUB_HEADER):
    return write_csv(tmp_path / "accounts.csv", header, rows)


def _commit(tmp_path, params_file, secret_file, rows=SUB_ROWS):
    out = tmp_path / "out"
    commitment = api.commit(params_file, _accounts_file(tmp_path, rows), secret_file, out=out)
    return commitment, out


def _located(err: InputError) -> list[tuple]:
    return [(p.row, p.account, p.column, p.message) for p in err.problems]


# ---------------------------------------------------------------- input


def test_csv_with_and_without_the_subaccount_column(tmp_path, params_dict):
    params = parse_params(params_dict)
    accounts = list(read_accounts(_accounts_file(tmp_path), params))
    assert [(a.account_id, a.subaccount) for a in accounts] == [(r[0], r[1]) for r in SUB_ROWS]
    assert accounts[1] == Account("alice", (-48_000 * 10**6, 0, 10**4, 0), "isolated-btc")
    # The column may come anywhere; without it every account is a main account, as before.
    moved = write_csv(
        tmp_path / "moved.csv",
        ["USDC", "subaccount", "account_id", "BTC", "BTC-PERP", "ETH-PERP"],
        [["7", "x", "zed", "", "", ""], ["8", "", "zed", "", "", ""]],
    )
    assert [(a.account_id, a.subaccount, a.amounts[0]) for a in read_accounts(moved, params)] == [
        ("zed", "x", 7 * 10**6),
        ("zed", "", 8 * 10**6),
    ]
    plain = write_csv(tmp_path / "plain.csv", HEADER, ROWS)
    assert {a.subaccount for a in read_accounts(plain, params)} == {""}
    assert Account("a", (1,)) == Account("a", (1,), "", False)
    assert Account.__slots__ == ("account_id", "amounts", "subaccount", "portfolio")


def test_json_with_and_without_the_subaccount_field(tmp_path, params_dict):
    params = parse_params(params_dict)
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            [
                {"account_id": "alice", "balances": {"USDC": "1"}},
                {"account_id": "bob", "subaccount": "", "balances": {"USDC": "2"}},
                {
                    "account_id": "alice",
                    "subaccount": "isolated-btc",
                    "balances": {"USDC": "-48000"},
                    "positions": {"BTC-PERP": "1"},
                },
            ]
        )
    )
    assert [(a.account_id, a.subaccount, a.amounts) for a in read_accounts(path, params)] == [
        ("alice", "", (10**6, 0, 0, 0)),
        ("bob", "", (2 * 10**6, 0, 0, 0)),
        ("alice", "isolated-btc", (-48_000 * 10**6, 0, 10**4, 0)),
    ]
    schema = api.input_schemas()["accounts"]["$defs"]["AccountRecord"]["properties"]
    assert schema["subaccount"]["maxLength"] == 64 and schema["subaccount"]["default"] == ""


def test_duplicates_are_per_account_and_subaccount(tmp_path, params_dict):
    params = parse_params(params_dict)
    rows = [
        ["alice", "", "1", "", "", ""],
        ["alice", "iso", "1", "", "", ""],
        ["bob", "iso", "1", "", "", ""],
        ["alice", "iso", "2", "", "", ""],
        ["alice", "", "3", "", "", ""],
        ["alice", "iso2", "1", "", "", ""],
    ]
    with pytest.raises(InputError) as err:
        list(read_accounts(_accounts_file(tmp_path, rows), params))
    assert _located(err.value) == [
        (
            5,
            "alice",
            "subaccount",
            "duplicate subaccount 'iso' of this account_id: row 3 has the same after trimming white space and NFC",
        ),
        (6, "alice", "account_id", "duplicate account_id: row 2 has the same after trimming white space and NFC"),
    ]
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            [{"account_id": "a", "subaccount": "s"}, {"account_id": "a"}, {"account_id": "a", "subaccount": "s"}]
        )
    )
    with pytest.raises(InputError) as err:
        list(read_accounts(path, params))
    assert _located(err.value) == [
        (
            3,
            "a",
            "subaccount",
            "duplicate subaccount 's' of this account_id: row 1 has the same after trimming white space and NFC",
        )
    ]
    (tmp_path / "p.json").write_text(json.dumps(params_dict))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "check",
            "--params",
            str(tmp_path / "p.json"),
            "--accounts",
            str(_accounts_file(tmp_path, rows)),
        ],
        capture_output=True,
        text=True,
    )
    assert (
        result.returncode == 2
        and (
            f"{tmp_path / 'accounts.csv'}, row 5, account 'alice', column 'subaccount': "
            "duplicate subaccount 'iso' of this account_id"
        )
        in result.stderr
    )


@pytest.mark.parametrize(
    "name, ok",
    [
        ("x" * 64, True),
        ("x" * 65, False),
        ("tab\there", False),
        ("del\x7f", False),
        ("bell\x07", False),
        ("ünïcode ✓ with spaces/and-slash", True),
    ],
)
def test_subaccount_names(tmp_path, params_dict, name, ok):
    params = parse_params(params_dict)
    csv_path = tmp_path / "a.csv"
    csv_path.write_text(f'account_id,subaccount,USDC,BTC,BTC-PERP,ETH-PERP\nalice,"{name}",1,,,\n', encoding="utf-8")
    json_path = tmp_path / "a.json"
    json_path.write_text(json.dumps([{"account_id": "alice", "subaccount": name, "balances": {"USDC": "1"}}]))
    for path in (csv_path, json_path):
        if ok:
            assert [a.subaccount for a in read_accounts(path, params)] == [name]
            continue
        with pytest.raises(InputError) as err:
            list(read_accounts(path, params))
        (problem,) = err.value.problems
        assert (problem.file, problem.row, problem.column) == (str(path), 2 if path is csv_path else 1, "subaccount")
        if path is csv_path:
            assert problem.account == "alice" and "0–64 characters without control characters" in problem.message


def test_bad_id_and_bad_subaccount_on_one_row_are_both_reported(tmp_path, params_dict):
    rows = [["", "x" * 65, "1", "", "", ""]]
    with pytest.raises(InputError) as err:
        list(read_accounts(_accounts_file(tmp_path, rows), parse_params(params_dict)))
    assert [p.column for p in err.value.problems] == ["account_id", "subaccount"]


# ---------------------------------------------------------------- keys: unlinkable, main account unchanged


def _reference_key(seed: bytes, epoch: int, ident: bytes) -> tuple[int, int, int]:
    """PROTOCOL.md §4 written out: (id_field, salt, key) of the bytes ident(id, sub)."""
    id_field = int.from_bytes(hashlib.sha256(b"zksolv/account-id/v1\x00" + ident).digest(), "big") >> 8
    salt = (
        int.from_bytes(
            hmac.new(seed, b"zksolv/salt/v1\x00" + epoch.to_bytes(8, "big") + ident, hashlib.sha256).digest(), "big"
        )
        >> 8
    )
    return id_field, salt, poseidon([id_field, salt])


def test_keys_follow_the_formula_and_the_main_account_is_unchanged(params_dict):
    params = parse_params(params_dict)
    epoch = params.epoch_seconds
    commitment = build_commitment(
        [
            Account("alice", (1, 0, 0, 0)),
            Account("alice", (2, 0, 0, 0), "isolated-btc"),
            Account("alice", (3, 0, 0, 0), "eth-hedge"),
        ],
        params,
        SEED,
    )
    slots = {s.subaccount: s for s in commitment.slots if s.account_id == "alice"}
    # The main account: exactly the format-2 derivation, SHA-256(tag ‖ 0 ‖ id) and HMAC(… ‖ id).
    id_field, salt, key = _reference_key(SEED, epoch, b"alice")
    assert (account_id_field("alice"), derive_salt(SEED, epoch, "alice")) == (id_field, salt)
    assert (slots[""].salt, slots[""].key) == (salt, key) == (salt, account_key("alice", salt))
    # A sub-account: ident = id ‖ 0x00 ‖ name, its own id field and its own salt.
    for name in ("isolated-btc", "eth-hedge"):
        id_field, salt, key = _reference_key(SEED, epoch, b"alice\x00" + name.encode())
        assert (account_id_field("alice", name), derive_salt(SEED, epoch, "alice", name)) == (id_field, salt)
        assert (slots[name].salt, slots[name].key) == (salt, key) == (salt, account_key("alice", salt, name))
    # Unrelated: no two of one holder's id fields, salts or keys coincide (nor share their top bytes).
    for attribute in ("salt", "key"):
        values = [getattr(s, attribute) for s in slots.values()]
        assert len({v >> 200 for v in values}) == 3, attribute
    assert len({account_id_field("alice", n) for n in slots}) == 3
    # ident is injective: the split between id and name is not a matter of where the bytes fall.
    assert account_id_field("ab") != account_id_field("a", "b") != account_id_field("a")
    assert derive_salt(SEED, epoch, "ab") != derive_salt(SEED, epoch, "a", "b")


@pytest.mark.parametrize("path", ["native", "fallback"])
def test_bulk_commitment_with_subaccounts_equals_the_definitions(params_dict, path, monkeypatch):
    import zksolv.commitment as cm
    import zksolv.poseidon as P

    if path == "fallback":
        monkeypatch.setattr(P, "_native", None)
        monkeypatch.setattr(cm, "_native", None)
    elif P._native is None:
        pytest.skip("C extension not built")
    params = parse_params(params_dict)
    epoch = params.epoch_seconds
    for accounts in (
        [Account("a", (1, 2, 3, 4)), Account("a", (5, 6, 7, 8), "s"), Account("b", (0, 0, 0, 1), "s")],
        [Account("main-first", (1, 0, 0, 0)), Account("x", (1 << 63, 0, 0, 0), "wide")],
    ):
        commitment = build_commitment(accounts, params, SEED, capacity=8)
        expected = []
        for a in accounts:
            salt = derive_salt(SEED, epoch, a.account_id, a.subaccount)
            expected.append(
                Slot(account_key(a.account_id, salt, a.subaccount), a.amounts, a.account_id, salt, a.subaccount)
            )
        expected += [Slot(derive_padding_key(SEED, epoch, j), (0,) * 4) for j in range(8 - len(accounts))]
        expected.sort(key=lambda s: s.key)
        assert list(commitment.slots) == expected
        assert list(commitment.levels[0]) == [leaf_hash(s.key, s.amounts) for s in expected]
        assert commitment.n_accounts == len(accounts) and commitment.n_holders == len({a.account_id for a in accounts})


# ---------------------------------------------------------------- isolation


def test_a_subaccount_below_maintenance_is_counted_whatever_the_main_account_holds(tmp_path, params_dict):
    params = parse_params(params_dict)
    accounts = list(read_accounts(_accounts_file(tmp_path), params))
    report = check_solvency(accounts, params)
    assert [(i.account_id, i.subaccount, i.label) for i in report.insolvent] == [
        ("alice", "isolated-btc", "alice/isolated-btc"),
        ("carol", "degen", "carol/degen"),
    ]
    alice_iso, carol_degen = report.insolvent
    assert alice_iso.shortfall(params) == "500" and not alice_iso.bankrupt
    assert carol_degen.bankrupt and carol_degen.bad_debt(params) == "1000"
    # Merged into one cross-margined account, alice would be healthy: isolation is what counts her position.
    merged = tuple(map(sum, zip(*(a.amounts for a in accounts if a.account_id == "alice"))))
    assert check_solvency([Account("alice", merged)], params).solvent
    # Totals and liquidation figures count every sub-account: each is a leaf like any account.
    totals = report.totals
    assert totals.credit[0] == (100000 + 5000 + 20 + 300) * 10**6 and totals.debit[0] == (48000 + 51000) * 10**6
    assert totals.long == [2 * 10**4, 0] and totals.short == [0, 10**3]
    assert totals.liquidations.vector() == [2, 4000 * 10 ** (params.value_scale + 4), 1, 1000 * 10**params.value_scale]
    assert totals.vector() == totals_of(accounts, params).vector() and report.accounts == len(SUB_ROWS)


def test_check_names_the_subaccount(tmp_path, params_file):
    accounts = _accounts_file(tmp_path)
    doc = api.check(params_file, accounts).document()
    assert [(b["account_id"], b["subaccount"], b["shortfall"], b["bankrupt"]) for b in doc["below_maintenance"]] == [
        ("alice", "isolated-btc", "500", False),
        ("carol", "degen", "3500", True),
    ]
    assert doc["accounts"] == 6 and doc["liquidations"]["accounts_below_maintenance"] == 2
    as_json = CliRunner().invoke(main, ["check", "--params", str(params_file), "--accounts", str(accounts), "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.output) == doc
    text = CliRunner().invoke(main, ["check", "--params", str(params_file), "--accounts", str(accounts)])
    assert text.exit_code == 1
    assert "BELOW MAINTENANCE  alice/isolated-btc: health -500 USD, shortfall 500 USD\n" in text.output
    assert "BELOW MAINTENANCE  carol/degen: health" in text.output and "BANKRUPT: bad debt 1000 USD" in text.output
    assert "accounts: 6; below maintenance: 2" in text.output


# ---------------------------------------------------------------- one inclusion file per holder


def test_one_inclusion_file_per_holder_with_every_path(tmp_path, params_file, secret_file, params_dict):
    commitment, out = _commit(tmp_path, params_file, secret_file)
    assert commitment.n_accounts == 6 and commitment.n_holders == 3 and commitment.capacity == 8
    assert sorted(p.name for p in (out / "inclusion").iterdir()) == ["alice.json", "bob.json", "carol.json"]
    doc = json.loads((out / "inclusion" / "alice.json").read_text())
    assert doc["format"] == INCLUSION_FORMAT == "zksolv-inclusion/5" and doc["account_id"] == "alice"
    entries = doc["subaccounts"]
    assert [e["account"]["subaccount"] for e in entries] == ["", "eth-hedge", "isolated-btc"]  # main first
    assert len({e["leaf_index"] for e in entries}) == 3 and all(len(e["siblings"]) == 3 for e in entries)
    assert {e["account"]["account_id"] for e in entries} == {"alice"}
    assert entries[2]["account"] == {
        "account_id": "alice",
        "subaccount": "isolated-btc",
        "balances": {"USDC": "-48000", "BTC": "0"},
        "positions": {"BTC-PERP": "1", "ETH-PERP": "0"},
    }
    # Every entry is the slot's own path, salt and leaf.
    for entry in entries:
        index = entry["leaf_index"]
        slot = commitment.slots[index]
        assert (slot.account_id, slot.subaccount, str(slot.salt)) == (
            "alice",
            entry["account"]["subaccount"],
            entry["salt"],
        )
        assert entry["leaf"] == str(commitment.levels[0][index])
        assert entry["siblings"] == [str(s) for s in commitment.siblings(index)]
    # inclusion_proof(index) of any of alice's slots is her whole file.
    assert commitment.inclusion_proof(entries[1]["leaf_index"]) == doc
    params = parse_params(params_dict)
    result = verify_inclusion(
        load_inclusion_proof(out / "inclusion" / "alice.json"),
        commitment.root,
        commitment.capacity,
        params.epoch,
        params_hash(params),
    )
    assert result.valid and result.reason is None and [e.valid for e in result.subaccounts] == [True] * 3
    status = {a["subaccount"]: (a["below_maintenance"], a["bankrupt"]) for a in result.shown_accounts()}
    assert status == {"": (False, False), "eth-hedge": (False, False), "isolated-btc": (True, False)}
    assert result.shown_account()["subaccount"] == ""  # the main account
    carol = api.verify_inclusion_file(out / "inclusion" / "carol.json", commitment_path=out / "commitment.json")
    assert carol.valid
    assert [(a["subaccount"], a["equity"], a["bankrupt"]) for a in carol.shown_accounts()] == [
        ("", "800", False),
        ("degen", "-1000", True),
    ]


def test_inclusion_verify_cli_shows_each_subaccount(tmp_path, params_file, secret_file):
    _, out = _commit(tmp_path, params_file, secret_file)
    args = ["inclusion", "verify", str(out / "inclusion" / "alice.json"), "--commitment", str(out / "commitment.json")]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == (
        "VALID: account 'alice' is in the commitment (the main account and 2 isolated sub-accounts, "
        "each on its own path to the root)"
    )
    heading = lines.index("alice/isolated-btc (isolated sub-account):")
    assert lines.index("alice (main account):") == 1 < lines.index("alice/eth-hedge (isolated sub-account):") < heading
    assert lines[heading + 1 : heading + 6] == [
        "  balance  USDC: -48000",
        "  balance  BTC: 0",
        "  position BTC-PERP: 1",
        "  position ETH-PERP: 0",
        "  maintenance health -500: counted BELOW maintenance (in liquidation)",
    ]
    as_json = CliRunner().invoke(main, [*args, "--json"])
    doc = json.loads(as_json.output)
    assert as_json.exit_code == 0 and doc["valid"] and doc["account_id"] == "alice"
    assert (
        doc
        == api.verify_inclusion_file(
            out / "inclusion" / "alice.json", commitment_path=out / "commitment.json"
        ).document()
    )
    assert [(e["subaccount"], e["valid"], e["account"]["maintenance_health"]) for e in doc["subaccounts"]] == [
        ("", True, "100000"),
        ("eth-hedge", True, "2939.485"),
        ("isolated-btc", True, "-500"),
    ]
    carol = CliRunner().invoke(
        main,
        ["inclusion", "verify", str(out / "inclusion" / "carol.json"), "--commitment", str(out / "commitment.json")],
    )
    assert (
        "maintenance health -3500: counted BELOW maintenance (in liquidation); equity -1000: counted bankrupt"
        in carol.output
    )
    bob = CliRunner().invoke(
        main, ["inclusion", "verify", str(out / "inclusion" / "bob.json"), "--commitment", str(out / "commitment.json")]
    )
    assert bob.output.splitlines()[:2] == ["VALID: account 'bob' is in the commitment", "bob (main account):"]


def _entry(doc: dict, subaccount: str) -> dict:
    return next(e for e in doc["subaccounts"] if e["account"]["subaccount"] == subaccount)


def _verify(doc: dict, commitment: Commitment):
    return verify_inclusion(
        InclusionProofFile.model_validate(doc),
        commitment.root,
        commitment.capacity,
        commitment.params.epoch,
        params_hash(commitment.params),
    )


def test_a_tampered_subaccount_path_fails_naming_it(tmp_path, params_file, secret_file):
    commitment, out = _commit(tmp_path, params_file, secret_file)
    path = out / "inclusion" / "alice.json"
    original = json.loads(path.read_text())

    def forged(change) -> dict:
        doc = copy.deepcopy(original)
        change(doc)
        return doc

    def bump(entry: dict, level: int) -> None:
        entry["siblings"][level] = str(int(entry["siblings"][level]) + 1)

    cases = [
        (
            lambda d: bump(_entry(d, "isolated-btc"), 1),
            "sub-account 'isolated-btc': wrong path: the Merkle path does not lead to the root",
        ),
        (
            lambda d: _entry(d, "isolated-btc").__setitem__("leaf_index", _entry(d, "isolated-btc")["leaf_index"] ^ 2),
            "sub-account 'isolated-btc': wrong path: the Merkle path does not lead to the root",
        ),
        (
            lambda d: _entry(d, "eth-hedge")["account"]["balances"].__setitem__("USDC", "50000"),
            "sub-account 'eth-hedge': wrong leaf: the account's id, salt and amounts do not hash to the leaf",
        ),
        (lambda d: bump(_entry(d, ""), 0), "main account: wrong path: the Merkle path does not lead to the root"),
        # Renaming a sub-account (or calling it the main account) changes its key.
        (
            lambda d: _entry(d, "eth-hedge")["account"].__setitem__("subaccount", "other"),
            "sub-account 'other': wrong leaf",
        ),
        (
            lambda d: _entry(d, "isolated-btc")["account"].__setitem__("subaccount", ""),
            "wrong proof: the main account is listed twice",
        ),
        (
            lambda d: d["subaccounts"].append(copy.deepcopy(d["subaccounts"][1])),
            "wrong proof: the sub-account 'eth-hedge' is listed twice",
        ),
        (
            lambda d: (bump(_entry(d, "isolated-btc"), 2), bump(_entry(d, "eth-hedge"), 2)),
            "sub-account 'eth-hedge': wrong path: the Merkle path does not lead to the root (and 1 more: "
            "sub-account 'isolated-btc')",
        ),
    ]
    for change, reason in cases:
        result = _verify(forged(change), commitment)
        assert not result.valid and result.reason.startswith(reason), (reason, result.reason)
        assert result.shown_accounts() == [] and result.shown_account() is None
    # The untouched paths still verify, each on its own, and say so.
    result = _verify(forged(cases[0][0]), commitment)
    assert [(e.subaccount, e.valid) for e in result.subaccounts] == [
        ("", True),
        ("eth-hedge", True),
        ("isolated-btc", False),
    ]
    document = result.document()
    assert [e["account"] is None for e in document["subaccounts"]] == [False, False, True]
    # Another holder's path, moved into alice's file, is named and refused.
    bob = json.loads((out / "inclusion" / "bob.json").read_text())
    moved = forged(lambda d: d["subaccounts"].append(bob["subaccounts"][0]))
    assert _verify(moved, commitment).reason == "wrong proof: the main account is listed twice"
    bob["subaccounts"][0]["account"]["subaccount"] = "x"  # not alice's main account: only the account id is wrong
    moved = forged(lambda d: d["subaccounts"].append(bob["subaccounts"][0]))
    assert _verify(moved, commitment).reason == (
        "sub-account 'x': wrong account: it is listed for account 'bob' in the file of 'alice'"
    )
    # The CLI: exit 1, the failing sub-account named, every path's verdict listed.
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(forged(cases[0][0])))
    run = CliRunner().invoke(main, ["inclusion", "verify", str(tampered), "--commitment", str(out / "commitment.json")])
    assert run.exit_code == 1
    assert run.output.splitlines() == [
        "INVALID: sub-account 'isolated-btc': wrong path: the Merkle path does not lead to the root",
        "  [ok] alice",
        "  [ok] alice/eth-hedge",
        "  [FAIL] alice/isolated-btc: wrong path: the Merkle path does not lead to the root",
    ]


def test_a_file_with_only_the_main_account_keeps_the_unnamed_reasons(tmp_path, params_file, secret_file):
    commitment, out = _commit(tmp_path, params_file, secret_file)
    doc = json.loads((out / "inclusion" / "bob.json").read_text())
    doc["subaccounts"][0]["siblings"][0] = str(int(doc["subaccounts"][0]["siblings"][0]) + 1)
    assert _verify(doc, commitment).reason == "wrong path: the Merkle path does not lead to the root"


def test_holder_file_names_and_depth_attack_with_a_subaccount(tmp_path, params_dict):
    """A path one level too long is refused for a sub-account as for a main account."""
    params = parse_params(params_dict)
    seed, epoch = b"s" * 32, params.epoch_seconds
    salt = derive_salt(seed, epoch, "bob/with slash", "iso")
    bob = Slot(account_key("bob/with slash", salt, "iso"), (10**6, 0, 0, 0), "bob/with slash", salt, "iso")
    leaf = leaf_hash(bob.key, bob.amounts)
    slots = [Slot(leaf, (0,) * 4)] + [Slot(derive_padding_key(seed, epoch, j), (0,) * 4) for j in range(3)]
    tree = Commitment(params, 4, slots, merkle_levels([leaf_hash(s.key, s.amounts) for s in slots]))
    from zksolv.commitment import inclusion_document
    from zksolv.field import pack_amounts

    doc = inclusion_document(params, tree.root, 0, leaf, [pack_amounts((0,) * 4)[0], *tree.siblings(0)], bob)
    result = verify_inclusion(InclusionProofFile.model_validate(doc), tree.root, tree.capacity)
    assert not result.valid and result.reason.startswith("sub-account 'iso': wrong path: 3 siblings"), result.reason
    assert inclusion_filename("bob/with slash").startswith("~")


# ---------------------------------------------------------------- old formats


@pytest.mark.parametrize(
    "found, fragment",
    [
        (
            "zksolv-inclusion/2",
            "inclusion proof zksolv-inclusion/2 is no longer accepted: format 2 held one account per "
            "file and had no sub-accounts",
        ),
        (
            "zksolv-inclusion/1",
            "inclusion proof zksolv-inclusion/1 is no longer accepted: format 1 leaves were not domain-separated",
        ),
        (
            "zksolv-inclusion/4",
            "inclusion proof zksolv-inclusion/4 is no longer accepted: format 4 hashed account ids as written",
        ),
        (
            "zksolv-inclusion/3",
            "inclusion proof zksolv-inclusion/3 is no longer accepted: format 3 leaves had no margin mode",
        ),
        ("zksolv-inclusion/6", "not a zksolv-inclusion/5 file: unknown format 'zksolv-inclusion/6'"),
        (None, "unknown format None"),
    ],
)
def test_old_inclusion_formats_are_refused_with_the_reason(tmp_path, params_file, secret_file, found, fragment):
    _, out = _commit(tmp_path, params_file, secret_file)
    doc = json.loads((out / "inclusion" / "bob.json").read_text())
    # A format-2 file as it was: one account, its path at the top level.
    entry = doc.pop("subaccounts")[0]
    del doc["account_id"], entry["account"]["subaccount"]
    old = {**doc, **entry, "format": found}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    with pytest.raises(InputError) as err:
        load_inclusion_proof(path)
    (problem,) = err.value.problems
    assert problem.column == "format" and fragment in problem.message, problem
    run = CliRunner().invoke(main, ["inclusion", "verify", str(path), "--commitment", str(out / "commitment.json")])
    assert run.exit_code == 2 and fragment in run.output


# ---------------------------------------------------------------- the demo


def test_demo_inputs_have_isolated_subaccounts(tmp_path):
    from zksolv.demo import synthetic_accounts, synthetic_subaccounts, write_inputs

    params_path, accounts_path, _ = write_inputs(tmp_path / "inputs", 30)
    header = accounts_path.read_text().splitlines()[0]
    assert header.startswith("account_id,subaccount,USDC,")
    subs = synthetic_subaccounts(30)
    assert [(a.account_id, a.subaccount) for a in subs] == [
        ("acct-00001", "isolated-btc"),
        ("acct-00002", "isolated-eth"),
    ]
    assert synthetic_subaccounts(2) == subs[:1] and synthetic_subaccounts(1) == []
    assert len(synthetic_accounts(30)) == 30  # the holders' main accounts, as before
    doc = api.check(params_path, accounts_path).document()
    below = {(b["account_id"], b["subaccount"]) for b in doc["below_maintenance"]}
    assert ("acct-00001", "isolated-btc") in below and ("acct-00001", "") not in below
    assert ("acct-00002", "isolated-eth") not in below and doc["accounts"] == 32


# ---------------------------------------------------------------- proved end to end


@pytest.mark.node
def test_proved_bundle_counts_the_subaccounts(small_keys, tmp_path, params_file, secret_file):
    """The circuit counts a sub-account like any account: the proved liquidation figures include alice's
    isolated position, and her one inclusion file verifies against the bundle, path by path."""
    from zksolv.prove import prove

    accounts = _accounts_file(tmp_path, SUB_ROWS[:3] + [["bob", "", "20", "", "", ""], ["dave", "", "5", "", "", ""]])
    result = prove(
        params_file,
        accounts,
        secret_file,
        small_keys.dir,
        tmp_path / "bundle",
        tmp_path / "inclusion",
        allow_liquidations=True,
    )
    assert result.commitment.n_accounts == 5 and result.commitment.capacity == 8
    report = api.verify(tmp_path / "bundle", backend="python")
    assert report.valid, [c.detail for c in report.checks if not c.ok]
    liquidations = report.manifest["liquidations"]
    assert liquidations["accounts_below_maintenance"] == 1 and liquidations["shortfall"] == "500"
    assert report.manifest["totals"]["assets"]["USDC"] == {"credit": "105025", "debit": "48000"}
    assert sorted(p.name for p in (tmp_path / "inclusion").iterdir()) == ["alice.json", "bob.json", "dave.json"]
    alice = api.verify_inclusion_file(tmp_path / "inclusion" / "alice.json", bundle_path=tmp_path / "bundle")
    assert alice.valid, alice.reason
    assert [(a["subaccount"], a["below_maintenance"]) for a in alice.shown_accounts()] == [
        ("", False),
        ("eth-hedge", False),
        ("isolated-btc", True),
    ]
