"""Property-based robustness: whatever bytes or JSON arrive in any file the CLI
reads, the outcome is a clear message with exit 1 or 2 — never a traceback,
never an internal error, never partial output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zksolv.evm  # noqa: F401 - imports py_ecc, which raises the recursion limit: before Hypothesis runs, not during
from zksolv.bundle import batch_dir
from zksolv.cli import main

from .conftest import HEADER, PARAMS
from .helpers import REPO

EXAMPLE = REPO / "proofs" / "example"  # committed: export calldata needs neither Node nor a proving run

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
CELL = st.one_of(
    st.just(""),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=12).map(str),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
    st.sampled_from(["-0", "+1", "1e9", "0x10", " 5 ", "١٢", "NaN", "∞", "9" * 40, "-9223372036854775808"]),
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "params.json").write_text(json.dumps(PARAMS))
    from zksolv.secret import generate_secret

    generate_secret(folder / "venue.secret")
    return folder


@SETTINGS
@given(doc=JSON)
def test_params_json_of_any_shape(workdir, doc):
    path = workdir / "fuzz-params.json"
    path.write_text(json.dumps(doc))
    (workdir / "a.csv").write_text(",".join(HEADER) + "\n")
    result = invoke("check", "--params", str(path), "--accounts", str(workdir / "a.csv"))
    assert result.exit_code in (0, 2)


@SETTINGS
@given(doc=JSON)
def test_accounts_json_of_any_shape(workdir, doc):
    path = workdir / "fuzz-accounts.json"
    path.write_text(json.dumps(doc))
    invoke("check", "--params", str(workdir / "params.json"), "--accounts", str(path))


@SETTINGS
@given(rows=st.lists(st.lists(CELL, min_size=5, max_size=6), max_size=6), bom=st.booleans(), crlf=st.booleans())
def test_csv_cells_of_any_kind_commit_all_or_nothing(workdir, rows, bom, crlf):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n" if crlf else "\n").writerows([HEADER, *rows])
    path = workdir / "fuzz.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode())
    out = workdir / "out"
    shutil.rmtree(out, ignore_errors=True)
    result = invoke(
        "commit",
        "--params",
        str(workdir / "params.json"),
        "--accounts",
        str(path),
        "--secret",
        str(workdir / "venue.secret"),
        "--out",
        str(out),
    )
    if result.exit_code == 0:
        assert (out / "commitment.json").exists()
    else:
        assert not out.exists(), "bad input must leave no output"


@SETTINGS
@given(csv_rows=st.lists(st.lists(CELL, min_size=6, max_size=7), max_size=6))
def test_csv_with_subaccount_column_commits_all_or_nothing(workdir, csv_rows):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows([[HEADER[0], "subaccount", *HEADER[1:]], *csv_rows])
    path = workdir / "fuzz-sub.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    out = workdir / "out-sub"
    shutil.rmtree(out, ignore_errors=True)
    result = invoke(
        "commit",
        "--params",
        str(workdir / "params.json"),
        "--accounts",
        str(path),
        "--secret",
        str(workdir / "venue.secret"),
        "--out",
        str(out),
    )
    if result.exit_code == 0:
        assert (out / "commitment.json").exists()
    else:
        assert not out.exists(), "bad input must leave no output"


# The top-level fields of a holder's inclusion file, and those of each account's path (the main account's
# and the sub-account's of the holder alice).
INCLUSION_FIELDS = ["format", "epoch", "root", "account_id", "subaccounts", "params"] + [
    f"subaccounts[{i}].{f}" for i in (0, 1) for f in ("leaf_index", "leaf", "siblings", "salt", "account")
]


@SETTINGS
@given(field=st.sampled_from(INCLUSION_FIELDS), value=JSON)
def test_inclusion_proof_fields_of_any_value(workdir, field, value):
    from zksolv.api import commit

    proof_path = workdir / "proof.json"
    if not (workdir / "valid-proof.json").exists():
        c = commit(workdir / "params.json", _tiny_accounts(workdir), workdir / "venue.secret")
        index = next(i for i, s in enumerate(c.slots) if s.account_id == "alice")
        (workdir / "valid-proof.json").write_text(json.dumps(c.inclusion_proof(index)))
        (workdir / "root").write_text(str(c.root))
        (workdir / "capacity").write_text(str(c.capacity))
    doc = json.loads((workdir / "valid-proof.json").read_text())
    assert [e["account"]["subaccount"] for e in doc["subaccounts"]] == ["", "iso"]
    where, _, name = field.rpartition(".")
    (doc["subaccounts"][int(where[-2])] if where else doc)[name] = value
    proof_path.write_text(json.dumps(doc))
    result = invoke(
        "inclusion",
        "verify",
        str(proof_path),
        "--root",
        (workdir / "root").read_text(),
        "--capacity",
        (workdir / "capacity").read_text(),
    )
    assert result.exit_code in (1, 2)


@SETTINGS
@given(
    field=st.sampled_from(["format", "epoch", "root", "capacity", "params_hash", "extra"]),
    value=st.one_of(JSON, st.sampled_from(["01", str(2**256), 2, 3, 2**41, True])),
)
def test_commitment_json_fields_of_any_value(workdir, field, value):
    """inclusion verify --commitment: whatever commitment.json holds, a verdict or a located refusal."""
    from zksolv.api import commit

    c = commit(workdir / "params.json", _tiny_accounts(workdir), workdir / "venue.secret")
    proof = workdir / "commitment-proof.json"
    proof.write_text(json.dumps(c.inclusion_proof(next(i for i, s in enumerate(c.slots) if s.account_id))))
    path = workdir / "commitment.json"
    path.write_text(json.dumps({**c.document(), field: value}))
    result = invoke("inclusion", "verify", str(proof), "--commitment", str(path))
    assert result.exit_code in (0, 1, 2)
    if result.exit_code == 2:
        assert f"{path}: " in result.output


@SETTINGS
@given(data=st.binary(max_size=200))
def test_inclusion_proof_random_bytes(workdir, data):
    path = workdir / "bytes-proof.json"
    path.write_bytes(data)
    assert invoke("inclusion", "verify", str(path), "--root", "1", "--capacity", "2").exit_code == 2


def _tiny_accounts(workdir: Path) -> Path:
    path = workdir / "tiny.csv"
    path.write_text(
        ",".join([HEADER[0], "subaccount", *HEADER[1:]]) + "\nalice,,100,,,\nbob,,5,0.1,,\nalice,iso,3,,,-0.5\n"
    )
    return path


@pytest.mark.node
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(
        [
            "format",
            "epoch",
            "root",
            "params_hash",
            "params_sha256",
            "capacity",
            "batch_size",
            "n_batches",
            "circuit",
            "verification_key_sha256",
            "setup",
            "final_accumulator",
            "totals",
            "files",
        ]
    ),
    value=JSON,
)
def test_manifest_fields_of_any_value(bundle, tmp_path_factory, field, value):
    folder = tmp_path_factory.mktemp("manifest-fuzz") / "bundle"
    shutil.copytree(bundle["bundle"], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest[field] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("verify", str(folder))
    if field != "setup":  # the insecure flag is the venue's own statement (docs/SECURITY.md)
        assert result.exit_code in (1, 2), result.output


@pytest.mark.node
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(
        [
            "manifest.json",
            "params.json",
            "verification_key.json",
            "batch_roots.json",
            "batches/000000/public.json",
            "batches/000001/proof.json",
        ]
    ),
    data=st.binary(max_size=120),
)
def test_bundle_files_replaced_by_random_bytes(bundle, tmp_path_factory, name, data):
    folder = tmp_path_factory.mktemp("bytes-fuzz") / "bundle"
    shutil.copytree(bundle["bundle"], folder)
    (folder / name).write_bytes(data)
    assert invoke("verify", str(folder)).exit_code in (1, 2)


@pytest.mark.node
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=JSON)
def test_keys_setup_json_of_any_shape(bundle, small_keys, tmp_path_factory, doc):
    keys = tmp_path_factory.mktemp("keys-fuzz") / "keys"
    shutil.copytree(small_keys.dir, keys)
    (keys / "setup.json").write_text(json.dumps(doc))
    out = keys.parent / "out"
    result = invoke(
        "prove",
        "--params",
        str(bundle["params"]),
        "--accounts",
        str(bundle["accounts"]),
        "--secret",
        str(bundle["secret"]),
        "--keys",
        str(keys),
        "--out",
        str(out),
    )
    assert result.exit_code == 2 and not out.exists()


# ---------------------------------------------------------------------------
# export calldata and circuit info: whatever the bundle or the arguments hold, exit 0 or 2


@pytest.fixture(scope="module")
def example_copy(tmp_path_factory):
    """A fresh copy of the example bundle for each example (the copy is cheap: 2 batches)."""
    root = tmp_path_factory.mktemp("calldata-fuzz")

    def fresh() -> Path:
        folder = root / "bundle"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(EXAMPLE, folder)
        return folder

    return fresh


FIELD_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
EXAMPLE_MANIFEST = json.loads((EXAMPLE / "manifest.json").read_text())
# Every field of the manifest and of its objects, as a path: ("circuit", "n_assets"),
# ("final_accumulator", "totals", 3)…
MANIFEST_PATHS = (
    [(k,) for k in EXAMPLE_MANIFEST]
    + [(k, sub) for k, v in EXAMPLE_MANIFEST.items() if isinstance(v, dict) and k != "files" for sub in v]
    + [("final_accumulator", "totals", 0), ("final_accumulator", "totals", 19), ("files", "batches/000001/proof.json")]
)
# What a field may become: any JSON, a number as text or a text as number, the same digits with a leading zero
# or beyond r, the missing field (None here: the key is deleted).
MANIFEST_VALUES = st.one_of(
    JSON,
    st.none(),
    st.sampled_from(
        [
            "2",
            "0",
            "-1",
            "01",
            " 1",
            "1e3",
            str(2**256),
            str(FIELD_R),
            2,
            0,
            -1,
            2**40,
            2**40 + 1,
            1.0,
            True,
            "zksolv-bundle/2",
            "zksolv-bundle/3",
            "a" * 64,
            "0" * 64,
        ]
    ),
)


@SETTINGS
@given(path=st.sampled_from(MANIFEST_PATHS), value=MANIFEST_VALUES, delete=st.booleans())
def test_export_calldata_manifest_fields_of_any_value(example_copy, path, value, delete):
    folder = example_copy()
    manifest = json.loads((folder / "manifest.json").read_text())
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("export", "calldata", str(folder))
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert f"{folder / 'manifest.json'}: " in result.output or f"{folder / 'batches'}" in result.output
    elif path == ("n_batches",):
        assert len(json.loads(result.output)["batches"]) == value


PUBLIC_VALUES = st.one_of(
    JSON,
    st.sampled_from(["0", "01", "-1", " 1", "0x1", str(2**256), "1" * 80]),
    st.lists(st.sampled_from(["0", "1", "2"]), max_size=5),
)


@SETTINGS
@given(position=st.sampled_from([None, 0, 1, 2, 3]), value=PUBLIC_VALUES)
def test_export_calldata_public_signals_of_any_value(example_copy, position, value):
    """public.json: a signal replaced, appended (position 3) or the whole document replaced (None)."""
    folder = example_copy()
    path = folder / batch_dir(0) / "public.json"
    public = json.loads(path.read_text())
    if position is None:
        public = value
    elif position == len(public):
        public.append(value)
    else:
        public[position] = value
    path.write_text(json.dumps(public))
    result = invoke("export", "calldata", str(folder))
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert f"{path}: " in result.output


POINT_PART = st.one_of(
    JSON,
    st.sampled_from(["0", "1", "2", "01", " 1"]),
    st.lists(st.sampled_from(["0", "1", "2"]), min_size=2, max_size=3),
    # The points at infinity snarkjs writes: canonical, yet no calldata spells them.
    st.sampled_from([["0", "1", "0"], [["0", "0"], ["1", "0"], ["0", "0"]]]),
)


@SETTINGS
@given(
    name=st.sampled_from(["pi_a", "pi_b", "pi_c", "protocol", "curve"]),
    position=st.sampled_from([None, 0, 1, 2]),
    value=POINT_PART,
)
def test_export_calldata_proof_fields_of_any_value(example_copy, name, position, value):
    folder = example_copy()
    path = folder / batch_dir(1) / "proof.json"
    proof = json.loads(path.read_text())
    if position is None or not isinstance(proof[name], list):
        proof[name] = value
    else:
        proof[name][position] = value  # z = "2", infinity [0, 1, 0], a G2 coordinate as a string…
    path.write_text(json.dumps(proof))
    assert invoke("export", "calldata", str(folder)).exit_code in (0, 2)


@SETTINGS
@given(
    name=st.sampled_from(["manifest.json", f"{batch_dir(0)}/public.json", f"{batch_dir(1)}/proof.json"]),
    data=st.binary(max_size=120),
)
def test_export_calldata_files_replaced_by_random_bytes(example_copy, name, data):
    folder = example_copy()
    (folder / name).write_bytes(data)
    assert invoke("export", "calldata", str(folder)).exit_code == 2


def compiles(batch_size: int) -> bool:
    """A batch size `circuit info` takes, and compiles a circuit for (tests/test_circuits.py does that)."""
    return 2 <= batch_size <= 2**30 and not batch_size & (batch_size - 1)


# Any integer, and the powers of two around and beyond what the circuit shape holds (B < 2^31).
BATCH_SIZES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(-1, 200).map(lambda k: 1 << k if k >= 0 else 0),
    st.integers(31, 200).map(lambda k: -(1 << k)),
).filter(lambda b: not compiles(b))


@SETTINGS
@given(batch_size=BATCH_SIZES)
def test_circuit_info_batch_size_of_any_value(workdir, batch_size):
    result = invoke("circuit", "info", "--params", str(workdir / "params.json"), "--batch-size", str(batch_size))
    assert result.exit_code == 2 and "batch_size" in result.output


def _params_of_shape(n_assets: int, n_markets: int) -> dict:
    asset, market = PARAMS["assets"][0], PARAMS["markets"][0]
    return {
        **PARAMS,
        "assets": [{**asset, "symbol": f"A{i}"} for i in range(n_assets)],
        "markets": [{**market, "symbol": f"M{i}-PERP"} for i in range(n_markets)],
    }


@SETTINGS
@given(n_assets=st.integers(0, 40), n_markets=st.integers(0, 40), batch_size=st.one_of(st.just(2), BATCH_SIZES))
def test_circuit_info_shapes_of_any_size(workdir, n_assets, n_markets, batch_size):
    """Any number of assets and markets (none, beyond the 15 slots) with any batch size: refused before any
    circuit compiles. A shape that would compile is left out (tests/test_circuits.py compiles them)."""
    assume(not (n_assets >= 1 and n_assets + n_markets <= 15 and compiles(batch_size)))
    path = workdir / "fuzz-shape-params.json"
    path.write_text(json.dumps(_params_of_shape(n_assets, n_markets)))
    result = invoke("circuit", "info", "--params", str(path), "--batch-size", str(batch_size))
    assert result.exit_code == 2
    assert "batch_size" in result.output if not compiles(batch_size) else str(path) in result.output


@SETTINGS
@given(doc=JSON)
def test_circuit_info_params_of_any_shape(workdir, doc):
    path = workdir / "fuzz-circuit-params.json"
    path.write_text(json.dumps(doc))
    assert invoke("circuit", "info", "--params", str(path), "--batch-size", "2").exit_code == 2
