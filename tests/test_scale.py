"""The fast paths of the commitment (batch Poseidon in C, bulk keys, sorted columns, the CSV fast
path) compute exactly what the plain definitions compute: checked against circomlibjs, against the
pure-Python reference, and against the fallback with the C extension disabled."""

import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
from array import array

import pytest

from zksolv import poseidon as P
from zksolv.accounts import Account, _convert, read_accounts
from zksolv.commitment import (
    Slot,
    SlotTable,
    _hmac_sha256,
    account_key,
    build_commitment,
    build_slots,
    derive_padding_key,
    derive_salt,
    leaf_hash,
    leaf_hashes,
    merkle_levels,
)
from zksolv.errors import InputError, ProblemLog
from zksolv.field import FIELD_MODULUS, FieldVector
from zksolv.params import parse_params

from .helpers import REPO, run_node_json, write_csv

SEED = bytes(range(32))
native = pytest.mark.skipif(P._native is None, reason="C extension not built (no compiler at install time)")


def _vectors(n: int, rng: random.Random, count: int = 40) -> list[list[int]]:
    """Random field elements, values near r, small values, zeros and the largest element."""
    out = [[0] * n, [FIELD_MODULUS - 1] * n]
    while len(out) < count:
        kind = len(out) % 4
        out.append(
            [
                rng.randrange(FIELD_MODULUS)
                if kind == 0
                else FIELD_MODULUS - 1 - rng.randrange(8)
                if kind == 1
                else rng.randrange(1 << 64)
                if kind == 2
                else rng.randrange(1 << rng.randrange(1, 254))
                for _ in range(n)
            ]
        )
    return out


def _batch(rows: list[list[int]]) -> bytes:
    return b"".join(x.to_bytes(32, "big") for row in rows for x in row)


def _ints(digests: bytes) -> list[int]:
    return [int.from_bytes(digests[i : i + 32], "big") for i in range(0, len(digests), 32)]


@pytest.fixture
def no_native(monkeypatch):
    monkeypatch.setattr(P, "_native", None)
    import zksolv.commitment as cm

    monkeypatch.setattr(cm, "_native", None)


@pytest.fixture(params=["ifma", "portable"])
def native_path(request):
    """Run a test with the C extension's AVX-512 IFMA path and with its portable path."""
    if P._native is None:
        pytest.skip("C extension not built")
    before = P._native.simd()
    if request.param == "ifma" and not P._native.set_simd(True):
        P._native.set_simd(before)
        pytest.skip("CPU without AVX-512 IFMA")
    if request.param == "portable":
        P._native.set_simd(False)
    yield request.param
    P._native.set_simd(before)


# ---- Poseidon ----------------------------------------------------------------------------------


@pytest.mark.node
def test_batch_poseidon_matches_circomlibjs_for_every_arity(native_path):
    """≥ 40 vectors per input count 1..16 (incl. near r), in batches of 40 so that both the
    8-lane blocks and the remainder rows of the IFMA path are exercised."""
    rng = random.Random(20261125)
    per_arity = {n: _vectors(n, rng, 44) for n in range(1, P.MAX_INPUTS + 1)}
    flat = [v for n in per_arity for v in per_arity[n]]
    expected = [int(x) for x in run_node_json("poseidon.js", [[str(x) for x in v] for v in flat])]
    got = []
    for n, rows in per_arity.items():
        got += _ints(P.poseidon_batch(n, _batch(rows), threads=2))
    assert got == expected
    for v, want in zip(flat[::7], expected[::7]):
        assert P.poseidon(v) == want


def test_native_paths_match_the_reference(native_path):
    rng = random.Random(7)
    for n in range(1, P.MAX_INPUTS + 1):
        rows = _vectors(n, rng, 12)
        assert _ints(P.poseidon_batch(n, _batch(rows), threads=3)) == [P.poseidon_reference(r) for r in rows], n


@native
def test_ifma_and_portable_paths_agree_on_large_batches():
    if not P._native.set_simd(True):
        pytest.skip("CPU without AVX-512 IFMA")
    rng = random.Random(11)
    try:
        for n in (2, 4, 6):
            data = _batch([[rng.randrange(FIELD_MODULUS) for _ in range(n)] for _ in range(1001)])
            fast = P.poseidon_batch(n, data, threads=2)
            P._native.set_simd(False)
            assert P.poseidon_batch(n, data, threads=1) == fast
            P._native.set_simd(True)
    finally:
        P._native.set_simd(True)


def test_sparse_form_in_python_matches_the_reference():
    rng = random.Random(3)
    for n in range(1, P.MAX_INPUTS + 1):
        for v in _vectors(n, rng, 4):
            assert P.poseidon_optimized(v) == P.poseidon_reference(v), n


@pytest.mark.parametrize("light", [True, False], ids=["light-poseidon", "pure-python"])
def test_fallback_batches(no_native, monkeypatch, light):
    if not light:
        monkeypatch.setattr(P, "_LightHasher", None)
    elif P._LightHasher is None:
        pytest.skip("light-poseidon not installed")
    rng = random.Random(5)
    for n in (1, 2, 4, 13):
        rows = _vectors(n, rng, 5)
        assert _ints(P.poseidon_batch(n, _batch(rows))) == [P.poseidon_reference(r) for r in rows]
    assert P.poseidon_many([[1, 2], [3, 4]]) == [P.poseidon_reference([1, 2]), P.poseidon_reference([3, 4])]


@pytest.mark.parametrize("path", ["native", "fallback"])
def test_batch_rejects_bad_input(path, monkeypatch):
    if path == "fallback":
        monkeypatch.setattr(P, "_native", None)
    elif P._native is None:
        pytest.skip("C extension not built")
    good = (5).to_bytes(32, "big")
    for bad in (FIELD_MODULUS.to_bytes(32, "big"), (FIELD_MODULUS + 1).to_bytes(32, "big"), b"\xff" * 32):
        for position in (3, 18):  # inside a block of 8 rows, in the remainder rows
            rows = good * position + bad + good * (19 - position)
            with pytest.raises(ValueError, match="canonical"):
                P.poseidon_batch(2, rows)
    with pytest.raises(ValueError):
        P.poseidon_batch(2, good * 3)
    with pytest.raises(ValueError):
        P.poseidon_batch(17, good * 17)
    assert P.poseidon_batch(2, b"") == b""


# ---- commitment --------------------------------------------------------------------------------


def _naive(accounts, params, capacity=None):
    """The commitment from the definitions of PROTOCOL.md §4, one reference hash at a time."""
    epoch = params.epoch_seconds
    slots = []
    for a in accounts:
        salt = derive_salt(SEED, epoch, a.account_id)
        slots.append(Slot(account_key(a.account_id, salt), a.amounts, a.account_id, salt))
    n = len(slots)
    capacity = capacity or max(2, 1 << (n - 1).bit_length())
    slots += [Slot(derive_padding_key(SEED, epoch, j), (0,) * params.n_slots) for j in range(capacity - n)]
    slots.sort(key=lambda s: s.key)
    levels = [[leaf_hash(s.key, s.amounts) for s in slots]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([P.poseidon_reference([below[i], below[i + 1]]) for i in range(0, len(below), 2)])
    return slots, levels


def _accounts(n: int, rng: random.Random, width: int = 4) -> list[Account]:
    return [
        Account(
            f"user-{i}-{rng.randrange(1 << 30)}",
            tuple(
                rng.randrange(-(1 << 63), 1 << 63) if rng.random() < 0.3 else rng.randrange(-(10**6), 10**6)
                for _ in range(width)
            ),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("path", ["native", "fallback"])
def test_bulk_commitment_equals_the_definitions(params_dict, path, monkeypatch):
    if path == "fallback":
        monkeypatch.setattr(P, "_native", None)
        import zksolv.commitment as cm

        monkeypatch.setattr(cm, "_native", None)
    elif P._native is None:
        pytest.skip("C extension not built")
    params = parse_params(params_dict)
    rng = random.Random(2)
    for accounts, capacity in (
        (_accounts(13, rng), None),
        (_accounts(1, rng), 4),
        (_accounts(40, rng), 64),
        ([Account("big", (1 << 63, 0, 0, 0)), Account("short", (1, 2))], None),
    ):
        commitment = build_commitment(accounts, params, SEED, capacity)
        slots, levels = _naive(accounts, params, capacity)
        assert commitment.slots == slots and list(commitment.slots) == slots
        assert [list(level) for level in commitment.levels] == levels
        assert commitment.root == levels[-1][0]
        assert commitment.n_accounts == len(accounts)
        assert build_slots(accounts, params, SEED, capacity)[0] == slots


@pytest.mark.node
def test_larger_root_matches_circomlibjs(params_dict):
    params = parse_params(params_dict)
    commitment = build_commitment(_accounts(300, random.Random(9)), params, SEED)
    assert commitment.capacity == 512
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


_DIGEST_SCRIPT = """
import hashlib, json, random, sys
sys.path.insert(0, {tests!r})
from zksolv.accounts import Account
from zksolv.commitment import build_commitment
from zksolv.params import parse_params
from zksolv.poseidon import backend
params = parse_params(json.loads({params!r}))
rng = random.Random(4096)
accounts = [Account(f"acct-{{i}}", tuple(rng.randrange(-10**12, 10**12) for _ in range(4))) for i in range(4096)]
c = build_commitment(accounts, params, bytes(range(32)))
print(json.dumps({{"backend": backend(), "root": str(c.root),
                  "leaves": hashlib.sha256(b"".join(x.to_bytes(32, "big") for x in c.levels[0])).hexdigest(),
                  "slots": hashlib.sha256(repr(list(c.slots)).encode()).hexdigest()}}))
"""


def test_fallback_commitment_of_4096_accounts_equals_native(params_dict):
    """ZKSOLV_NO_NATIVE=1 forces light-poseidon / pure Python; the 2^12 commitment must not change."""
    script = _DIGEST_SCRIPT.format(tests=str(REPO), params=json.dumps(params_dict))
    results = {}
    for name, env in (("default", {}), ("fallback", {"ZKSOLV_NO_NATIVE": "1"}), ("portable", {"ZKSOLV_NO_SIMD": "1"})):
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, **env}, timeout=600
        )
        assert run.returncode == 0, run.stderr
        results[name] = json.loads(run.stdout)
    assert not results["fallback"]["backend"].startswith("native")
    if P._native is not None:
        assert results["default"]["backend"].startswith("native")
    digest = {k: v for k, v in results["default"].items() if k != "backend"}
    for name in ("fallback", "portable"):
        assert {k: v for k, v in results[name].items() if k != "backend"} == digest, name


def test_merkle_levels_accepts_ints_and_checks_them():
    leaves = [3, 1, 4, 1]
    levels = merkle_levels(leaves)
    assert levels[0] == leaves and levels[1] == [P.poseidon_reference([3, 1]), P.poseidon_reference([4, 1])]
    assert levels[-1][0] == P.poseidon_reference(levels[1][:])
    assert merkle_levels([7])[-1][0] == 7
    for bad in ([FIELD_MODULUS, 1], [-1, 1], [1, 2, 3]):
        with pytest.raises(ValueError):
            merkle_levels(bad)


def test_field_vector_and_slot_table_behave_like_lists():
    v = FieldVector.from_ints([1, 2, FIELD_MODULUS - 1])
    assert len(v) == 3 and v[2] == v[-1] == FIELD_MODULUS - 1
    assert v[0:2] == [1, 2] and list(v) == [1, 2, FIELD_MODULUS - 1]
    assert v == [1, 2, FIELD_MODULUS - 1] and [1, 2, FIELD_MODULUS - 1] == v and v != [1, 2]
    with pytest.raises(IndexError):
        v[3]
    table = SlotTable(
        (5).to_bytes(32, "big") + (6).to_bytes(32, "big"),
        (9).to_bytes(32, "big") + bytes(32),
        ["a", None],
        array("q", [1, -2, 0, 0]),
        2,
    )
    expected = [Slot(5, (1, -2), "a", 9), Slot(6, (0, 0))]
    assert table == expected and table[-1] == expected[1] and table[0:5] == expected and table.n_accounts == 1
    assert _ints(leaf_hashes(table).data) == [leaf_hash(5, (1, -2)), leaf_hash(6, (0, 0))]


@native
def test_native_sort_and_gather():
    rng = random.Random(1)
    words = [rng.randrange(1 << 256).to_bytes(32, "big") for _ in range(500)]
    words += words[:50]  # ties keep input order
    order = list(memoryview(P._native.argsort_words(b"".join(words))).cast("Q"))
    assert order == sorted(range(len(words)), key=words.__getitem__)
    assert P._native.gather_words(b"".join(words), array("Q", order).tobytes(), 32) == b"".join(sorted(words))
    with pytest.raises(IndexError):
        P._native.gather_words(b"x" * 32, array("Q", [1]).tobytes(), 32)


def test_precomputed_hmac_equals_hmac():
    rng = random.Random(8)
    for seed in (SEED, b"", b"k" * 64, b"long" * 40):
        mac = _hmac_sha256(seed)
        for _ in range(20):
            message = rng.randbytes(rng.randrange(200))
            assert mac(message) == hmac.digest(seed, message, hashlib.sha256)


# ---- CSV reader fast path ----------------------------------------------------------------------

TRICKY = [
    "",
    " ",
    "0",
    "-0",
    "+5",
    " 5",
    "5 ",
    "5.",
    ".5",
    "-.5",
    "1_000",
    "\uff15",
    "\u0661\u0662",
    "1.2300",
    "1.0000001",
    "1.000000000",
    "-1.000000",
    "9223372036854.775807",
    "9223372036854.775808",
    "-9223372036854.775808",
    "-9223372036854.775809",
    "1e3",
    "--1",
    "-",
    "007",
    "1.2.3",
    "0.5-",
    "²",
    "12345678901234567890",
    "-0.000001",
]


def _expected_problems(path, rows):
    log = ProblemLog()
    for row_number, (account, text) in enumerate(rows, start=2):
        _convert(log, str(path), row_number, account, "USDC", text, 6)
    return log.problems


def test_csv_amount_fast_path_equals_the_converter(tmp_path, params_dict):
    params = parse_params(params_dict)
    rows = [(f"id{i}", text) for i, text in enumerate(TRICKY)]
    path = write_csv(
        tmp_path / "a.csv",
        ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"],
        [[account, text, "", "", ""] for account, text in rows],
    )
    expected = _expected_problems(path, rows)
    assert expected, "some tricky cells must be rejected"
    with pytest.raises(InputError) as err:
        list(read_accounts(path, params))
    located = [p for p in err.value.problems if p.row is not None]
    assert located == expected
    # Out-of-range amounts are also summarised once per asset (issue 16.2), with no row.
    (summary,) = [p for p in err.value.problems if p.row is None]
    assert summary.column == "USDC" and "3 amount(s) above the ceiling" in summary.message
    good = [(a, t) for a, t in rows if not _expected_problems(path, [(a, t)])]
    path = write_csv(
        tmp_path / "b.csv",
        ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"],
        [[account, text, "", "", ""] for account, text in good],
    )
    log = ProblemLog()
    assert [a.amounts[0] for a in read_accounts(path, params)] == [_convert(log, "", 0, a, "", t, 6) for a, t in good]
    assert not log.problems


def test_csv_id_fast_path_equals_the_checks(tmp_path, params_dict):
    params = parse_params(params_dict)
    header = ["account_id", "USDC", "BTC", "BTC-PERP", "ETH-PERP"]
    ids = ["ok", "x" * 256, "x" * 257, "tab\there", "del\x7f", "ok", "é", "\u2028sep"]
    path = write_csv(tmp_path / "a.csv", header, [[i, "1", "", "", ""] for i in ids])
    with pytest.raises(InputError) as err:
        list(read_accounts(path, params))
    assert [(p.row, p.message) for p in err.value.problems] == [
        (4, "account_id must be 1–256 characters without control characters"),
        (5, "account_id must be 1–256 characters without control characters"),
        (6, "account_id must be 1–256 characters without control characters"),
        (7, "duplicate account_id: row 2 has the same after trimming white space and NFC"),
    ]
