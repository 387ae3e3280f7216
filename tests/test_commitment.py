"""Commitment and inclusion proofs: recomputed independently with circomlibjs,
valid for every account, and broken by any change to any field."""

import copy
import json
import subprocess
import sys

import pytest

from zksolv import api
from zksolv.accounts import Account
from zksolv.commitment import (
    CommitmentFile,
    account_id_field,
    build_commitment,
    default_capacity,
    derive_salt,
    inclusion_filename,
    load_commitment_file,
)
from zksolv.errors import InputError
from zksolv.field import FIELD_MODULUS
from zksolv.inclusion import InclusionProofFile, verify_inclusion
from zksolv.params import params_hash, parse_params
from zksolv.secret import load_secret

from .helpers import run_node_json, write_csv

SEED = bytes(range(32))


def _accounts(n: int) -> list[Account]:
    return [Account(f"user-{i}", (1000 * i, -i, 3 * i - 7, (-1) ** i * i)) for i in range(n)]


@pytest.mark.node
def test_root_matches_independent_circomlibjs_computation(params_dict):
    params = parse_params(params_dict)
    commitment = build_commitment(_accounts(11), params, SEED)
    assert commitment.capacity == 16
    slots = [
        {
            "account_id": s.account_id,
            "salt": None if s.salt is None else str(s.salt),
            "key": str(s.key),
            "amounts": [str(a) for a in s.amounts],
        }
        for s in commitment.slots
    ]
    oracle = run_node_json("commitment.js", {"slots": slots})
    assert int(oracle["root"]) == commitment.root
    assert [int(x) for x in oracle["leaves"]] == commitment.levels[0]


def test_every_account_verifies_and_padding_is_interleaved(params_dict):
    params = parse_params(params_dict)
    commitment = build_commitment(_accounts(20), params, SEED, capacity=64)
    real_positions = [i for i, s in enumerate(commitment.slots) if s.account_id is not None]
    assert len(real_positions) == 20
    for index in real_positions:
        proof = InclusionProofFile.model_validate(commitment.inclusion_proof(index))
        result = verify_inclusion(proof, commitment.root, commitment.capacity, params.epoch, params_hash(params))
        assert result.valid, result.reason


def test_commitment_is_reproducible_and_salted_per_epoch(params_dict):
    params = parse_params(params_dict)
    first = build_commitment(_accounts(5), params, SEED)
    again = build_commitment(list(reversed(_accounts(5))), params, SEED)
    assert first.root == again.root, "input order must not matter"
    params_dict["epoch"] = "2026-11-25T00:00:00Z"
    later = parse_params(params_dict)
    assert derive_salt(SEED, later.epoch_seconds, "user-1") != derive_salt(SEED, params.epoch_seconds, "user-1")
    assert build_commitment(_accounts(5), later, SEED).root != first.root
    assert build_commitment(_accounts(5), params, bytes(32)).root != first.root


def _mutations(doc: dict):
    """Every field of an inclusion proof, changed one at a time (the account's path: its only entry)."""

    def bump(s: str) -> str:
        return str((int(s) + 1) % FIELD_MODULUS)

    def entry(d: dict) -> dict:
        return d["subaccounts"][0]

    yield "root", lambda d: d.__setitem__("root", bump(d["root"]))
    yield "leaf", lambda d: entry(d).__setitem__("leaf", bump(entry(d)["leaf"]))
    yield "salt", lambda d: entry(d).__setitem__("salt", bump(entry(d)["salt"]))
    yield "leaf_index", lambda d: entry(d).__setitem__("leaf_index", entry(d)["leaf_index"] ^ 1)
    for i in range(len(entry(doc)["siblings"])):
        yield f"siblings[{i}]", lambda d, i=i: entry(d)["siblings"].__setitem__(i, bump(entry(d)["siblings"][i]))
    yield "account_id", lambda d: entry(d)["account"].__setitem__("account_id", d["account_id"] + "x")
    yield "file account_id", lambda d: d.__setitem__("account_id", d["account_id"] + "x")
    yield (
        "both account_ids",
        lambda d: (
            d.__setitem__("account_id", d["account_id"] + "x"),
            entry(d)["account"].__setitem__("account_id", d["account_id"]),
        ),
    )
    yield "subaccount", lambda d: entry(d)["account"].__setitem__("subaccount", "isolated")
    for kind in ("balances", "positions"):
        for symbol in entry(doc)["account"][kind]:

            def change(d, kind=kind, symbol=symbol):
                entry(d)["account"][kind][symbol] = str(int(float(entry(d)["account"][kind][symbol])) + 1)

            yield f"{kind}.{symbol}", change
    yield "epoch", lambda d: d.__setitem__("epoch", "2026-11-25T00:00:00Z")
    yield "params.price", lambda d: d["params"]["assets"][1].__setitem__("price", "50001")
    yield "params.decimals", lambda d: d["params"]["assets"][0].__setitem__("decimals", 7)


def test_flipping_any_field_fails(params_dict):
    params = parse_params(params_dict)
    commitment = build_commitment(_accounts(6), params, SEED)
    index = next(i for i, s in enumerate(commitment.slots) if s.account_id == "user-3")
    doc = commitment.inclusion_proof(index)
    names = []
    for name, mutate in _mutations(doc):
        forged = copy.deepcopy(doc)
        mutate(forged)
        proof = InclusionProofFile.model_validate(forged)
        result = verify_inclusion(proof, commitment.root, commitment.capacity, params.epoch, params_hash(params))
        assert not result.valid, f"mutation of {name} was accepted"
        assert result.reason, name
        names.append(name)
    assert len(names) >= 15


def test_commit_and_inclusion_cli(tmp_path, params_file, secret_file):
    rows = [["alice", "100", "0.1", "", ""], ["bob/with slash", "5", "", "", ""], ["carol", "1", "", "", ""]]
    accounts = write_csv(tmp_path / "a.csv", ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"], rows)
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "commit",
            "--params",
            str(params_file),
            "--accounts",
            str(accounts),
            "--secret",
            str(secret_file),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    published = json.loads((out / "commitment.json").read_text())
    assert published["root"] == summary["root"] and published["capacity"] == 4
    assert "accounts" not in published, "the account count stays private"
    files = sorted(p.name for p in (out / "inclusion").iterdir())
    assert files == sorted(["alice.json", "carol.json", inclusion_filename("bob/with slash")])
    alice = out / "inclusion" / "alice.json"
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "inclusion",
            "verify",
            str(alice),
            "--commitment",
            str(out / "commitment.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "balance  BTC: 0.1" in ok.stdout, ok.stdout + ok.stderr
    wrong = subprocess.run(
        [sys.executable, "-m", "zksolv", "inclusion", "verify", str(alice), "--root", "12345", "--capacity", "4"],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1 and "wrong root" in wrong.stdout
    doc = json.loads(alice.read_text())
    assert doc["format"] == "zksolv-inclusion/5" and doc["account_id"] == "alice" and len(doc["subaccounts"]) == 1
    doc["subaccounts"][0]["account"]["balances"]["USDC"] = "1000"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "zksolv",
            "inclusion",
            "verify",
            str(forged),
            "--root",
            published["root"],
            "--capacity",
            "4",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "wrong leaf" in bad.stdout


def test_commitment_json_is_written_and_read_through_one_model(tmp_path, params_dict):
    params = parse_params(params_dict)
    commitment = build_commitment(_accounts(5), params, SEED)
    out = api.write_commitment(commitment, tmp_path / "out")
    published = load_commitment_file(out / "commitment.json")
    assert published == CommitmentFile.model_validate(commitment.document())
    assert (int(published.root), published.capacity, int(published.params_hash)) == (
        commitment.root,
        commitment.capacity,
        params_hash(params),
    )
    path = tmp_path / "commitment.json"
    for change, fragment in [
        ({"root": "0" + published.root}, "root: field element: expected a decimal string"),
        ({"root": str(FIELD_MODULUS)}, "root: field element"),
        ({"capacity": "8"}, "capacity: Input should be a valid integer"),
        ({"capacity": True}, "capacity: Input should be a valid integer"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
        (
            {"format": "zksolv-commitment/1"},
            "commitment zksolv-commitment/1 is no longer accepted: format 1 leaves were not",
        ),
        (
            {"format": "zksolv-commitment/2"},
            "commitment zksolv-commitment/2 is no longer accepted: format 2 committed one leaf per",
        ),
        ({"format": "zksolv-commitment/9"}, "not a zksolv-commitment/5 file: unknown format 'zksolv-commitment/9'"),
    ]:
        path.write_text(json.dumps({**commitment.document(), **change}))
        with pytest.raises(InputError, match=f"{path}: {fragment}"):
            load_commitment_file(path)
    path.write_text(json.dumps({k: v for k, v in commitment.document().items() if k != "params_hash"}))
    with pytest.raises(InputError, match="params_hash: Field required"):
        api.verify_inclusion_file(out / "inclusion" / "user-1.json", commitment_path=path)


def test_the_holder_sees_the_account_as_the_proof_renders_it(params_dict):
    """inclusion verify shows the account rendered from the hashed integers exactly as the venue's
    inclusion proof renders it (one function), with how the proofs counted it."""
    params = parse_params(params_dict)
    commitment = build_commitment(_accounts(6), params, SEED)
    index = next(i for i, s in enumerate(commitment.slots) if s.account_id == "user-3")
    doc = commitment.inclusion_proof(index)
    result = verify_inclusion(InclusionProofFile.model_validate(doc), commitment.root, commitment.capacity)
    shown = result.shown_account()
    account = doc["subaccounts"][0]["account"]
    assert {k: shown[k] for k in ("account_id", "subaccount", "balances", "positions")} == account
    assert result.shown_accounts() == [shown] and account["subaccount"] == ""
    assert account["balances"] == {"USDC": "0.003", "BTC": "-0.00000003"}  # base units at the decimals
    assert account["positions"] == {"BTC-PERP": "0.0002", "ETH-PERP": "-0.003"}
    assert set(shown) - set(account) == {"maintenance_health", "below_maintenance", "equity", "bankrupt"}


def test_api_commit_validates_before_building(tmp_path, params_file, secret_file):
    accounts = write_csv(
        tmp_path / "a.csv",
        ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"],
        [["a", "1", "", "", ""], ["a", "2", "", "", ""]],
    )
    with pytest.raises(InputError) as err:
        api.commit(params_file, accounts, secret_file)
    assert "duplicate account_id" in str(err.value)
    assert load_secret(secret_file) and (secret_file.stat().st_mode & 0o777) == 0o600


def test_ids_hash_without_aliasing_and_capacity_rules():
    assert account_id_field("a") != account_id_field("b")
    assert account_id_field("x" * 256) < FIELD_MODULUS >> 5
    assert default_capacity(5) == 8 and default_capacity(1) == 2 and default_capacity(100, batch_size=64) == 128


def _ks_distance_from_uniform(positions: list[int], capacity: int) -> float:
    """Kolmogorov–Smirnov distance between the positions and the uniform distribution on [0, capacity)."""
    xs = sorted((p + 0.5) / capacity for p in positions)
    n = len(xs)
    return max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(xs))


@pytest.mark.parametrize("seed", [SEED, b"another venue seed, 32 bytes.....", b"\x00" * 32])
def test_real_leaf_indices_are_uniform_over_the_capacity(params_dict, seed):
    """A holder must not learn the number of accounts from their leaf index (issue 9 §4).

    With format 1's padding keys (248-bit HMAC values below every Poseidon key) 200 accounts in capacity
    4096 sat at the top of the tree: KS distance 0.92 from uniform. Real keys and padding keys are now
    both Poseidon outputs, so the real accounts' indices are a uniform sample: the KS distance stays
    below the 0.1 % critical value 1.95/√n."""
    params = parse_params(params_dict)
    n, capacity = 200, 4096
    commitment = build_commitment(_accounts(n), params, seed, capacity=capacity)
    real_positions = [i for i, s in enumerate(commitment.slots) if s.account_id is not None]
    assert len(real_positions) == n
    assert _ks_distance_from_uniform(real_positions, capacity) < 1.95 / n**0.5
    # The high-key test the audit used: a real key ≥ 2^248 no longer tells a holder that every slot
    # above is real, because padding keys are ≥ 2^248 just as often (about 97 %).
    padding_high = sum(s.key >> 248 != 0 for s in commitment.slots if s.account_id is None) / (capacity - n)
    assert 0.9 < padding_high
