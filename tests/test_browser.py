"""The holders' page (web/, shipped by `zksolv page`) in headless Chromium, against zksolv's Python.

The page is the one a venue hosts: written by `api.inclusion_page`, opened from file:// or served
over http. Its primitives (Poseidon, SHA-256, account keys, leaves, the params hash, leaf values,
margin status) are compared value by value with zksolv's; its verdict with `zksolv inclusion
verify`'s (api.verify_inclusion_file) on the committed example bundles, on an entry-cost commitment
built here, and on every single-field change of the inclusion file and of the manifest fields the
check reads. Formats and figures are read from zksolv and from the files, never written here.

    python -m tests.test_browser --screenshot docs/img/inclusion-page.png   # the README's screenshot
"""

from __future__ import annotations

import copy
import functools
import http.server
import io
import json
import random
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from hashlib import sha256
from pathlib import Path

import pytest

from zksolv import api
from zksolv.bundle import BUNDLE_FORMAT
from zksolv.bundle import RETIRED_FORMATS as RETIRED_BUNDLES
from zksolv.commitment import INCLUSION_FORMAT, account_id_field, account_key, leaf_hash
from zksolv.commitment import RETIRED_FORMATS as RETIRED_FILES
from zksolv.errors import InputError
from zksolv.field import AMOUNT_MAX, AMOUNT_MIN, FIELD_MODULUS
from zksolv.inclusion import margin_status
from zksolv.io import dumps_json
from zksolv.params import params_hash, parse_params
from zksolv.poseidon import poseidon, poseidon_reference
from zksolv.secret import generate_secret
from zksolv.units import normalize

from .conftest import PARAMS, TINY_PARAMS
from .helpers import REPO

PROOFS = REPO / "proofs"
EXAMPLES = {
    "flat": (PROOFS / "example", PROOFS / "example-inclusion.json"),
    "portfolio": (PROOFS / "example-portfolio", PROOFS / "example-portfolio-inclusion.json"),
}
R = FIELD_MODULUS
# The fields of a manifest the inclusion check reads (inclusion.verify_inclusion's arguments and the
# format); the rest is for `zksolv verify`, which checks the proofs behind them.
MANIFEST_CHECKED = ("format", "epoch", "root", "params_hash", "capacity")

# An entry-cost venue (PROTOCOL.md §3.4): BTC-PERP positions carry their cost at 2 decimals, ETH-PERP
# none, so the leaf has the synthetic slot "BTC-PERP:entry_cost" between the assets and the positions.
ENTRY_COST_PARAMS = copy.deepcopy(PARAMS)
ENTRY_COST_PARAMS["markets"][0]["entry_cost_decimals"] = 2
ENTRY_COST_ACCOUNTS = (
    "account_id,subaccount,USDC,BTC,BTC-PERP,BTC-PERP:entry_price,ETH-PERP\n"
    "alice,,10000,0.01,0.1,48000.5,1\n"
    "alice,iso,200,,0.1,49999.99,\n"  # cost 5000.00 (rounded up): equity 200 < maintenance 250
    "bob,,500,,-0.2,51000,\n"
    "carol,,20,,,,\n"
)

# After a check, what the page shows: the verdict, the facts, and every account card's rows.
PAGE_STATE = """
const text = (el) => (el ? el.textContent : null);
return {
  state: document.body.dataset.state || null,
  valid: document.getElementById('verdict').dataset.valid || null,
  verdict: text(document.getElementById('verdict')),
  reason: text(document.getElementById('reason')),
  reasonHidden: document.getElementById('reason').hidden,
  loadError: document.getElementById('load-error').hidden ? null : text(document.getElementById('load-error')),
  facts: Object.fromEntries(
    Array.from(document.querySelectorAll('[data-fact]'), (d) => [d.dataset.fact, d.textContent])),
  failures: Array.from(document.querySelectorAll('#failures li'), (li) => [li.className, li.textContent]),
  accounts: Array.from(document.querySelectorAll('article.account'), (a) => ({
    subaccount: a.dataset.subaccount,
    status: a.querySelector('[data-status]').dataset.status,
    rows: Array.from(a.querySelectorAll('tr'),
      (tr) => [tr.dataset.kind, tr.dataset.symbol, text(tr.querySelector('td.value'))]),
  })),
  slots: Object.fromEntries(['inclusion', 'manifest'].map((k) => {
    const slot = document.getElementById('slot-' + k);
    return [k, {loaded: slot.dataset.loaded === 'true', from: text(slot.querySelector('.status'))}];
  })),
  resources: performance.getEntriesByType('resource').map((e) => e.name),
};
"""

# window.zksolv.verify over many (inclusion, manifest) texts in one round trip. A throw would be a
# fault of the page, not a verdict, and fails the test through execute_script.
VERIFY_ALL = """
return arguments[0].map(([inclusion, manifest]) => {
  const r = window.zksolv.verify(inclusion, manifest);
  return {valid: r.valid, reason: r.reason, failures: r.subaccounts.filter((s) => !s.valid).map((s) => s.reason)};
});
"""

# window.zksolv.paramsHash over many params texts: the hash, or why the page refuses the params.
PARAMS_HASH_ALL = """
return arguments[0].map((text) => {
  try { return {hash: window.zksolv.paramsHash(text)}; } catch (e) { return {error: String(e.message)}; }
});
"""


# ---------------------------------------------------------------------------------------------
# The independent side and shared helpers.


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def python_check(folder: Path, inclusion_text: str, manifest_text: str) -> tuple[bool, str | None, object]:
    """zksolv's own verdict on the two texts, as `zksolv inclusion verify FILE --bundle FOLDER` gives
    it: (valid, reason, the result or None when a file is refused before any check)."""
    bundle = folder / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    (folder / "inclusion.json").write_text(inclusion_text, encoding="utf-8")
    (bundle / "manifest.json").write_text(manifest_text, encoding="utf-8")
    try:
        result = api.verify_inclusion_file(folder / "inclusion.json", bundle_path=bundle)
    except InputError as exc:
        return False, str(exc), None
    return result.valid, result.reason, result


def expected_rows(shown: dict, quote: str) -> list[list[str]]:
    """The rows an account card should have, from zksolv's rendering of the hashed leaf values."""
    rows = [["balance", symbol, value] for symbol, value in shown["balances"].items()]
    rows += [["entry_cost", symbol, value] for symbol, value in shown.get("entry_costs", {}).items()]
    rows += [["position", symbol, value] for symbol, value in shown["positions"].items()]
    if "margin_mode" in shown:
        rows.append(["margin_mode", "", shown["margin_mode"]])
    rows.append(["health", quote, shown["maintenance_health"]])
    rows.append(["equity", quote, shown["equity"]])
    return rows


def other_value(value: object) -> object:
    """Another value of the same type that looks valid: the smallest change a forger or a bug makes."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, str), value
    if re.fullmatch(r"[0-9a-f]{64}|[0-9a-f]{128}", value):  # a SHA-256 or BLAKE2b in hex
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    if re.fullmatch(r"0|[1-9][0-9]{19,}", value):  # a field element: the next one, still below r
        return str((int(value) + 1) % R)
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):  # an amount or price: one unit of its last digit more
        number = Decimal(value)
        return format(number + Decimal(1).scaleb(number.as_tuple().exponent), "f")
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value):
        moved = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(seconds=1)
        return moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    swapped = {"cross": "portfolio", "portfolio": "cross", "call": "put", "put": "call", "twap": "median"}
    if value in swapped:
        return swapped[value]
    return value[:-1] + ("x" if value[-1:] != "x" else "y")


def leaves(value: object, path: tuple = ()) -> Iterator[tuple[tuple, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def keyed(value: object, path: tuple = ()) -> Iterator[tuple]:
    """The path of every key of every object in `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from keyed(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from keyed(item, (*path, index))


def changed(document: dict, path: tuple, value: object) -> dict:
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def renamed(document: dict, path: tuple) -> dict:
    """`document` with the key at `path` spelt otherwise, its place in the object kept."""
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    items = list(node.items())
    node.clear()
    node.update({(other_value(k) if k == path[-1] else k): v for k, v in items})
    return out


def single_field_changes(document: dict) -> Iterator[tuple[str, dict]]:
    """Every one-field change of a document: each scalar to another value of its type, each key renamed."""
    for path, value in leaves(document):
        yield (
            f"{'.'.join(map(str, path))}: {value!r} -> {other_value(value)!r}",
            changed(document, path, other_value(value)),
        )
    for path in keyed(document):
        yield f"rename key {'.'.join(map(str, path))}", renamed(document, path)


# ---------------------------------------------------------------------------------------------
# Fixtures.


@pytest.fixture(scope="module")
def examples() -> dict[str, dict]:
    """The committed example bundles with their holders' files, as text; refused (not skipped) when
    they are not in the formats zksolv writes, since the page is then tested against nothing current."""
    out = {}
    for name, (bundle, inclusion) in EXAMPLES.items():
        manifest_text, inclusion_text = read(bundle / "manifest.json"), read(inclusion)
        formats = json.loads(manifest_text)["format"], json.loads(inclusion_text)["format"]
        assert formats == (BUNDLE_FORMAT, INCLUSION_FORMAT), (
            f"{bundle} and {inclusion.name} are {formats}, zksolv writes {(BUNDLE_FORMAT, INCLUSION_FORMAT)}: "
            "regenerate the examples"
        )
        out[name] = {
            "bundle": bundle,
            "inclusion_path": inclusion,
            "manifest": manifest_text,
            "inclusion": inclusion_text,
        }
    return out


@pytest.fixture(scope="module")
def page_file(tmp_path_factory) -> Path:
    """The page as a venue gets it: `zksolv page --out DIR`."""
    written = api.inclusion_page(tmp_path_factory.mktemp("site"))
    return Path(written["page"])


@pytest.fixture
def page(chromium, page_file):
    chromium.get_log("browser")  # drop what earlier pages logged
    chromium.get(page_file.as_uri())
    return chromium


@pytest.fixture(scope="module")
def entry_costs(tmp_path_factory, examples) -> dict:
    """A commitment of an entry-cost venue made by zksolv itself, and alice's file with a manifest that
    publishes its root (the example manifest with the commitment's root, epoch, capacity and hash)."""
    folder = tmp_path_factory.mktemp("entry-costs")
    (folder / "params.json").write_text(json.dumps(ENTRY_COST_PARAMS))
    (folder / "accounts.csv").write_text(ENTRY_COST_ACCOUNTS)
    secret = generate_secret(folder / "venue.secret")
    commitment = api.commit(folder / "params.json", folder / "accounts.csv", secret, out=folder / "out")
    published = json.loads(read(folder / "out" / "commitment.json"))
    manifest = json.loads(examples["flat"]["manifest"])
    manifest.update({k: published[k] for k in ("epoch", "root", "capacity", "params_hash")})
    (folder / "bundle").mkdir()
    (folder / "bundle" / "manifest.json").write_text(dumps_json(manifest))
    document = api.inclusion_get(folder / "out" / "inclusion", "alice")
    (folder / "alice.json").write_text(dumps_json(document))
    assert commitment.params.entry_cost_slots == {"BTC-PERP": 2}  # USDC, BTC, then the cost slot
    return {
        "bundle": folder / "bundle",
        "inclusion_path": folder / "alice.json",
        "manifest": read(folder / "bundle" / "manifest.json"),
        "inclusion": read(folder / "alice.json"),
        "params": folder / "params.json",
    }


def cases(examples, entry_costs) -> dict[str, dict]:
    return {**examples, "entry-costs": entry_costs}


def load_files(driver, *paths: Path, again: bool = True) -> dict:
    """Choose the files in the page's file input (after "Start again" unless `again` is False) and
    wait for the verdict."""
    from selenium.webdriver.support.ui import WebDriverWait

    if again:
        driver.find_element("id", "clear").click()
    driver.find_element("id", "files").send_keys("\n".join(str(p) for p in paths))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.body.dataset.state") == "checked")
    return driver.execute_script(PAGE_STATE)


# ---------------------------------------------------------------------------------------------
# 1. The primitives, value by value.


def test_the_page_reads_the_formats_zksolv_writes(page):
    assert page.execute_script("return window.zksolv.INCLUSION_FORMAT") == INCLUSION_FORMAT
    assert page.execute_script("return window.zksolv.BUNDLE_FORMAT") == BUNDLE_FORMAT


@pytest.mark.node
def test_the_shipped_page_is_the_build_of_web_src(tmp_path, page_file):
    import subprocess

    subprocess.run(["node", str(REPO / "web" / "build.mjs"), "--out", str(tmp_path / "p.html")], check=True, cwd=REPO)
    assert (tmp_path / "p.html").read_bytes() == page_file.read_bytes(), "run `make install` to rebuild the page"


def test_poseidon_matches_zksolv(page):
    rng = random.Random(1)
    edge = [0, 1, 2, R - 1, R - 2, 2**253, 2**248 - 1, 2**64]
    inputs = []
    for arity in range(1, 17):
        inputs.append([R - 1] * arity)
        inputs.append([edge[(arity + j) % len(edge)] for j in range(arity)])
        inputs.append([rng.randrange(R) for _ in range(arity)])
    got = page.execute_script(
        "return arguments[0].map((xs) => window.zksolv.poseidon(xs))", [[str(x) for x in xs] for xs in inputs]
    )
    assert got == [str(poseidon(xs)) for xs in inputs]
    assert got[::5] == [str(poseidon_reference(xs)) for xs in inputs[::5]]  # and the pure-Python reference
    refused = page.execute_script(
        "return arguments[0].map((xs) => {"
        "  try { window.zksolv.poseidon(xs); return null; } catch (e) { return e.message; } })",
        [[str(R)], ["1", str(R + 1)], [], ["0"] * 17],
    )
    assert all(refused), refused
    for xs in ([R], [1, R + 1], [], [0] * 17):
        with pytest.raises(ValueError):
            poseidon(xs)


def test_sha256_matches_hashlib_around_the_block_boundaries(page):
    rng = random.Random(2)
    lengths = [*range(0, 130), 183, 184, 191, 192, 1000, 4097]
    messages = [rng.randbytes(n) for n in lengths]
    got = page.execute_script("return arguments[0].map((h) => window.zksolv.sha256(h))", [m.hex() for m in messages])
    assert got == [sha256(m).hexdigest() for m in messages]


def test_account_keys_match_zksolv(page):
    rng = random.Random(3)
    ids = ["alice", "acct-00001", "Ünïcödé", "名前", "🦊 fox", "a/b", "x" * 256, "é" * 200]
    subs = ["", "isolated-btc", "ü", "🦊", "s" * 64]
    salts = [0, 1, R - 1, rng.randrange(R)]
    combos = [(i, s, salts[n % len(salts)]) for n, (i, s) in enumerate((i, s) for i in ids for s in subs)]
    got = page.execute_script(
        "return arguments[0].map(([id, sub, salt]) =>"
        "  [window.zksolv.accountIdField(id, sub), window.zksolv.accountKey(id, salt, sub)])",
        [[i, s, str(salt)] for i, s, salt in combos],
    )
    assert got == [[str(account_id_field(i, s)), str(account_key(i, salt, s))] for i, s, salt in combos]


def test_leaf_hash_matches_zksolv(page):
    rng = random.Random(4)
    edge = [AMOUNT_MIN, AMOUNT_MAX, 0, -1, 1]
    leaves_in = []
    for width in (1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 17):
        values = [edge[j % len(edge)] if j % 2 else rng.randint(AMOUNT_MIN, AMOUNT_MAX) for j in range(width)]
        leaves_in.append((rng.randrange(R), values))
    leaves_in.append((R - 1, [AMOUNT_MAX] * 15))
    got = page.execute_script(
        "return arguments[0].map(([key, values]) => window.zksolv.leafHash(key, values))",
        [[str(k), [str(v) for v in vs]] for k, vs in leaves_in],
    )
    assert got == [str(leaf_hash(k, tuple(vs))) for k, vs in leaves_in]


def test_params_hash_matches_zksolv(page, examples, entry_costs):
    documents = [
        json.loads(read(examples["flat"]["bundle"] / "params.json")),
        json.loads(read(examples["portfolio"]["bundle"] / "params.json")),
        json.loads(read(entry_costs["params"])),
        PARAMS,
        TINY_PARAMS,
        {**ENTRY_COST_PARAMS, "balanced_markets": True},
    ]
    assert any(m.get("entry_cost_decimals") is not None for d in documents for m in d["markets"])
    got = page.execute_script(PARAMS_HASH_ALL, [json.dumps(d) for d in documents])
    assert got == [{"hash": str(params_hash(parse_params(d, canonical=True)))} for d in documents]


def test_leaf_values_and_margin_status_match_zksolv(page, examples, entry_costs, tmp_path):
    for name, case in cases(examples, entry_costs).items():
        valid, reason, result = python_check(tmp_path / name, case["inclusion"], case["manifest"])
        assert valid, reason
        expected = [[str(v) for v in entry.amounts] for entry in result.subaccounts]
        assert page.execute_script("return window.zksolv.leafValues(arguments[0])", case["inclusion"]) == expected
        params_text = json.dumps(json.loads(case["inclusion"])["params"])
        for values, entry in zip(expected, result.subaccounts):
            status = page.execute_script(
                "return window.zksolv.marginStatus(arguments[0], arguments[1])", values, params_text
            )
            assert status == margin_status(entry.amounts, result.params)


def test_the_verdict_document_is_zksolvs(page, examples, entry_costs, tmp_path):
    """window.zksolv.verify returns inclusion verify's own document (InclusionResult.document())."""
    for name, case in cases(examples, entry_costs).items():
        _, _, result = python_check(tmp_path / name, case["inclusion"], case["manifest"])
        got = page.execute_script(
            "return window.zksolv.verify(arguments[0], arguments[1])", case["inclusion"], case["manifest"]
        )
        expected = result.document()
        assert {k: got[k] for k in expected} == expected
        manifest = json.loads(case["manifest"])
        assert [got[k] for k in ("epoch", "root", "capacity", "params_hash")] == [
            manifest["epoch"],
            manifest["root"],
            str(manifest["capacity"]),
            manifest["params_hash"],
        ]


def test_an_entry_cost_venue_is_read_as_zksolv_reads_it(page, entry_costs, tmp_path):
    """Entry costs are synthetic asset slots "<market>:entry_cost" after the real assets: the leaf
    holds −cost, and the page shows the cost and counts it in health and equity as zksolv does."""
    document = json.loads(entry_costs["inclusion"])
    assert [e["account"]["subaccount"] for e in document["subaccounts"]] == ["", "iso"]
    assert all("entry_costs" in e["account"] for e in document["subaccounts"])
    state = load_files(page, entry_costs["inclusion_path"], entry_costs["bundle"] / "manifest.json")
    valid, reason, result = python_check(tmp_path, entry_costs["inclusion"], entry_costs["manifest"])
    assert valid and state["valid"] == "true", (reason, state["reason"])
    shown = result.shown_accounts()
    assert [a["rows"] for a in state["accounts"]] == [expected_rows(s, "USD") for s in shown]
    costs = {a["subaccount"]: [r for r in a["rows"] if r[0] == "entry_cost"] for a in state["accounts"]}
    assert costs == {"": [["entry_cost", "BTC-PERP", "4800.05"]], "iso": [["entry_cost", "BTC-PERP", "5000"]]}
    assert [a["status"] for a in state["accounts"]] == ["above", "below"]
    assert [s["below_maintenance"] for s in shown] == [False, True]
    # A leaf value of −cost: the file's "entry_costs" negated, in the slot after the real assets.
    values = page.execute_script("return window.zksolv.leafValues(arguments[0])", entry_costs["inclusion"])
    assert [v[2] for v in values] == ["-480005", "-500000"]
    # An inclusion file gives entry_costs; a venue's entry_prices belong to the accounts file only.
    account = document["subaccounts"][0]["account"]
    wrong = changed(document, ("subaccounts", 0, "account"), {**account, "entry_prices": {"BTC-PERP": "48000.5"}})
    (js,) = page.execute_script(VERIFY_ALL, [[json.dumps(wrong), entry_costs["manifest"]]])
    py_valid, py_reason, _ = python_check(tmp_path, json.dumps(wrong), entry_costs["manifest"])
    assert not js["valid"] and not py_valid and "entry_prices" in js["reason"] and js["reason"] == py_reason


# ---------------------------------------------------------------------------------------------
# 2. The page itself: file input, paste, ?bundle=.


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_page_shows_what_the_inclusion_file_records(page, examples, tmp_path, name):
    case = examples[name]
    state = load_files(page, case["inclusion_path"], case["bundle"] / "manifest.json")
    document, manifest = json.loads(case["inclusion"]), json.loads(case["manifest"])
    valid, reason, result = python_check(tmp_path, case["inclusion"], case["manifest"])
    assert valid, reason
    assert state["valid"] == "true" and state["reasonHidden"] and state["failures"] == []
    assert document["account_id"] in state["verdict"]
    assert state["facts"]["epoch"] == manifest["epoch"] == document["epoch"]
    assert state["facts"]["account"] == document["account_id"]
    assert state["facts"]["root"] == manifest["root"] == document["root"]
    assert state["facts"]["capacity"] == str(manifest["capacity"])
    assert state["slots"]["inclusion"] == {"loaded": True, "from": case["inclusion_path"].name}
    assert state["slots"]["manifest"] == {"loaded": True, "from": "manifest.json"}
    # Every balance and position as the file records it (a slot the file leaves out is 0) ...
    assert [a["subaccount"] for a in state["accounts"]] == [e["account"]["subaccount"] for e in document["subaccounts"]]
    for card, entry in zip(state["accounts"], document["subaccounts"]):
        for kind, field in (("balance", "balances"), ("position", "positions"), ("entry_cost", "entry_costs")):
            shown = {symbol: value for k, symbol, value in card["rows"] if k == kind}
            recorded = {symbol: normalize(value) for symbol, value in entry["account"].get(field, {}).items()}
            assert {s: v for s, v in shown.items() if s in recorded} == recorded
            assert all(v == "0" for s, v in shown.items() if s not in recorded)
    # ... and, row for row, what zksolv renders of the hashed leaf values, with how it was counted.
    quote = document["params"]["quote"]
    shown = result.shown_accounts()
    assert [a["rows"] for a in state["accounts"]] == [expected_rows(s, quote) for s in shown]
    assert [a["status"] == "below" for a in state["accounts"]] == [s["below_maintenance"] for s in shown]
    assert state["resources"] == []  # opened from disk, it asked for nothing
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []


def paste(driver, text: str) -> None:
    """Paste into the page's text box and press its button. The text is set in one go, as a paste
    does: typing kilobytes key by key would only make the test slow."""
    if not driver.execute_script("return document.getElementById('paste-box').open"):
        driver.find_element("css selector", "#paste-box summary").click()
    box = driver.find_element("id", "paste")
    driver.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", box, text
    )
    driver.find_element("id", "use-paste").click()


def test_both_files_can_be_pasted(page, examples):
    from selenium.webdriver.support.ui import WebDriverWait

    case = examples["portfolio"]
    paste(page, case["manifest"])
    assert page.execute_script(PAGE_STATE)["slots"]["manifest"] == {"loaded": True, "from": "pasted JSON"}
    paste(page, case["inclusion"])
    WebDriverWait(page, 10).until(lambda d: d.execute_script("return document.body.dataset.state") == "checked")
    state = page.execute_script(PAGE_STATE)
    document = json.loads(case["inclusion"])
    assert state["valid"] == "true", state["reason"]
    assert state["facts"]["epoch"] == document["epoch"]
    assert [r for r in state["accounts"][0]["rows"] if r[0] == "margin_mode"] == [
        ["margin_mode", "", document["subaccounts"][0]["account"]["margin_mode"]]
    ]
    paste(page, '{"neither": "file"}')
    assert "neither an inclusion file" in page.execute_script(PAGE_STATE)["loadError"]


class Site:
    """A folder served over http on 127.0.0.1, recording every path asked for."""

    def __init__(self, folder: Path) -> None:
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path, examples):
    """A venue's site: the page written by `zksolv page` beside a bundle folder."""
    api.inclusion_page(tmp_path)
    shutil.copytree(examples["flat"]["bundle"], tmp_path / "2026-11-24")
    served = Site(tmp_path)
    yield served
    served.close()


def test_a_served_page_loads_the_bundle_named_in_its_link(chromium, site, examples):
    from selenium.webdriver.support.ui import WebDriverWait

    chromium.get(f"{site.url}/inclusion.html?bundle=2026-11-24")
    WebDriverWait(chromium, 10).until(
        lambda d: d.execute_script("return document.getElementById('slot-manifest').dataset.loaded") == "true"
    )
    state = load_files(chromium, examples["flat"]["inclusion_path"], again=False)
    assert state["valid"] == "true", state["reason"]
    assert state["slots"]["manifest"]["from"] == f"{site.url}/2026-11-24/manifest.json"
    assert state["facts"]["epoch"] == json.loads(examples["flat"]["manifest"])["epoch"]
    # The one request the page made: that manifest, on its own site.
    assert state["resources"] == [f"{site.url}/2026-11-24/manifest.json"]
    assert [p for p in site.requests if not p.startswith("/favicon")] == [
        "/inclusion.html?bundle=2026-11-24",
        "/2026-11-24/manifest.json",
    ]


def test_the_page_loads_no_manifest_from_another_site_or_from_disk(chromium, site, page_file):
    other = site.url.replace("127.0.0.1", "localhost")  # same server, another origin
    chromium.get(f"{site.url}/inclusion.html?bundle={other}/2026-11-24/")
    state = chromium.execute_script(PAGE_STATE)
    assert state["loadError"].startswith(f"not loading {other}/2026-11-24/manifest.json: the page loads a manifest")
    assert not state["slots"]["manifest"]["loaded"] and state["resources"] == []
    assert all("manifest" not in p for p in site.requests)
    chromium.get(page_file.as_uri() + "?bundle=2026-11-24")
    assert (
        "opened from disk, give it the manifest.json file instead" in chromium.execute_script(PAGE_STATE)["loadError"]
    )


# ---------------------------------------------------------------------------------------------
# 3. Every single-field change is refused, by the page and by zksolv alike.


def verdicts(driver, folder: Path, pairs: list[tuple[str, str]]) -> Iterator[tuple[dict, tuple]]:
    for js, (inclusion, manifest) in zip(driver.execute_script(VERIFY_ALL, pairs), pairs):
        yield js, python_check(folder, inclusion, manifest)


def test_every_change_of_the_inclusion_file_is_refused(page, examples, entry_costs, tmp_path):
    """Each scalar of the file (path siblings, index, leaf, salt, amounts, ids, every params field, root,
    epoch, format) changed to another value of its type, and each key renamed: the page refuses it with
    a reason, and so does zksolv. Where zksolv's reason is its own check's (not its params or JSON
    reader's words), the page gives the very same reason."""
    count = 0
    for name, case in cases(examples, entry_costs).items():
        document = json.loads(case["inclusion"])
        mutations = list(single_field_changes(document))
        pairs = [(json.dumps(m, ensure_ascii=False), case["manifest"]) for _, m in mutations]
        for (label, _), (js, (py_valid, py_reason, result)) in zip(mutations, verdicts(page, tmp_path, pairs)):
            assert not js["valid"] and js["reason"], f"{name}: the page accepts {label}"
            assert not py_valid, f"{name}: zksolv accepts {label}"
            if result is not None and not py_reason.startswith("wrong params:"):
                assert js["reason"] == py_reason, label
                assert js["failures"] == [e.reason for e in result.subaccounts if not e.valid], label
        count += len(mutations)
    assert count > 500  # flat ≈ 130, portfolio ≈ 400, entry costs ≈ 70


def test_every_change_of_what_the_check_reads_in_the_manifest_is_refused(page, examples, entry_costs, tmp_path):
    """The manifest's format, epoch, root, params hash and capacity changed (and their keys renamed)
    are refused by both. Its other fields are for `zksolv verify` (the proofs, totals, files): a change
    of their values is accepted by both here, which is right, since the inclusion check does not read
    them and `zksolv verify` on the bundle refuses it (its file hashes and proofs bind them). Those are
    walked in the flat example's manifest only: the page never reads them, so one manifest shows it."""
    checked = other = 0
    for name, case in cases(examples, entry_costs).items():
        manifest = json.loads(case["manifest"])
        walked = [(p, v) for p, v in leaves(manifest) if name == "flat" or p[0] in MANIFEST_CHECKED]
        mutations = [(p, changed(manifest, p, other_value(v))) for p, v in walked]
        mutations += [(p, renamed(manifest, p)) for p in keyed(manifest) if p[0] in MANIFEST_CHECKED]
        mutations.append((("capacity",), changed(manifest, ("capacity",), 2 * manifest["capacity"])))
        pairs = [(case["inclusion"], json.dumps(m)) for _, m in mutations]
        for (path, _), (js, (py_valid, py_reason, _)) in zip(mutations, verdicts(page, tmp_path, pairs)):
            assert js["valid"] == py_valid, (name, path, js["reason"], py_reason)
            if path[0] in MANIFEST_CHECKED:
                assert not js["valid"] and js["reason"], (name, path)
                checked += 1
            else:
                other += 1
    assert checked >= 3 * 11 and other > 50


def test_the_ui_says_why_for_a_sample_of_changes(page, examples, tmp_path):
    case = examples["flat"]
    document = json.loads(case["inclusion"])
    assert len(document["subaccounts"]) == 2, "the flat example's holder has a main account and a sub-account"
    symbol = next(iter(document["subaccounts"][0]["account"]["balances"]))
    sample = [
        ("subaccounts", 0, "siblings", 2),
        ("subaccounts", 1, "leaf_index"),
        ("subaccounts", 0, "salt"),
        ("subaccounts", 0, "account", "balances", symbol),
        ("subaccounts", 1, "account", "subaccount"),
        ("root",),
        ("epoch",),
        ("params", "assets", 1, "price"),
    ]
    for path in sample:
        node = document
        for key in path:
            node = node[key]
        mutated = tmp_path / "changed.json"
        mutated.write_text(json.dumps(changed(document, path, other_value(node))))
        state = load_files(page, mutated, case["bundle"] / "manifest.json")
        (js,) = page.execute_script(VERIFY_ALL, [[read(mutated), case["manifest"]]])
        assert state["valid"] == "false" and state["verdict"] == "✗ Not verified", path
        assert not state["reasonHidden"] and state["reason"] == js["reason"] != "", path
        assert state["accounts"] == []  # nothing is shown as if it were in the commitment
        if path[0] == "subaccounts":  # the failing account is marked in the list, the other one passes
            marks = [cls for cls, _ in state["failures"]]
            assert marks.count("bad") == 1 and marks.count("ok") == 1, state["failures"]


def test_respelling_an_amount_changes_nothing(page, examples, tmp_path):
    """The leaf binds integers, not spellings: " +0100.0 " for "100", a zero balance left out, or a
    byte-order mark before the JSON are the same file to zksolv and to the page, which is right; the
    page shows the integers it hashed ("100", "0"), never the file's strings."""
    case = examples["flat"]
    document = json.loads(case["inclusion"])
    symbol, amount = next(iter(document["subaccounts"][0]["account"]["balances"].items()))
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("+", amount)
    spelt = f" {sign}0{digits}{'' if '.' in digits else '.'}0 "  # "441761" -> " +0441761.0 "
    respelt = changed(document, ("subaccounts", 0, "account", "balances", symbol), spelt)
    zero = next(
        (i, kind, s)
        for i, entry in enumerate(document["subaccounts"])
        for kind in ("balances", "positions")
        for s, v in entry["account"][kind].items()
        if v == "0"
    )
    dropped = copy.deepcopy(document)
    del dropped["subaccounts"][zero[0]]["account"][zero[1]][zero[2]]
    for variant in (json.dumps(respelt), json.dumps(dropped), "\ufeff" + case["inclusion"]):
        (js,) = page.execute_script(VERIFY_ALL, [[variant, case["manifest"]]])
        assert js["valid"] and python_check(tmp_path, variant, case["manifest"])[0]
    mutated = tmp_path / "respelt.json"
    mutated.write_text(json.dumps(respelt))
    rows = load_files(page, mutated, case["bundle"] / "manifest.json")["accounts"][0]["rows"]
    assert ["balance", symbol, normalize(amount)] in rows


def test_json_zksolv_refuses_is_refused(page, examples, tmp_path):
    """What zksolv's strict JSON reader and pydantic models refuse, the page refuses: a duplicate key
    (JSON.parse would keep the last), a "__proto__" symbol (a plain object would swallow it), numbers
    of the wrong type, and the structural changes a single-field walk cannot make."""
    case = examples["flat"]
    text, document = case["inclusion"], json.loads(case["inclusion"])
    entry = document["subaccounts"][0]
    account = entry["account"]
    first_balance = next(iter(account["balances"]))
    variants = {
        "duplicate key": text.replace('"epoch":', f'"epoch": "{document["epoch"]}", "epoch":', 1),
        "duplicate balance": text.replace(
            f'"{first_balance}":', f'"{first_balance}": "{account["balances"][first_balance]}", "{first_balance}":', 1
        ),
        "__proto__ balance": json.dumps(
            changed(document, ("subaccounts", 0, "account", "balances"), {**account["balances"], "__proto__": "1"})
        ),
        "index as text": json.dumps(changed(document, ("subaccounts", 0, "leaf_index"), str(entry["leaf_index"]))),
        "index as float": text.replace(
            f'"leaf_index": {entry["leaf_index"]},', f'"leaf_index": {entry["leaf_index"]}.0,'
        ),
        "salt = r": json.dumps(changed(document, ("subaccounts", 0, "salt"), str(R))),
        "salt with a leading zero": json.dumps(changed(document, ("subaccounts", 0, "salt"), "0" + entry["salt"])),
        "a sibling fewer": json.dumps(changed(document, ("subaccounts", 0, "siblings"), entry["siblings"][:-1])),
        "a sibling more": json.dumps(changed(document, ("subaccounts", 0, "siblings"), [*entry["siblings"], "0"])),
        "an account twice": json.dumps(changed(document, ("subaccounts",), [entry, *document["subaccounts"]])),
        "no account": json.dumps(changed(document, ("subaccounts",), [])),
        "another holder's account": json.dumps(
            changed(document, ("subaccounts", 0, "account", "account_id"), "mallory")
        ),
        "too many decimals": json.dumps(
            changed(document, ("subaccounts", 0, "account", "balances", first_balance), "0." + "0" * 30 + "1")
        ),
        "outside 64 bits": json.dumps(
            changed(
                document, ("subaccounts", 0, "account", "positions", next(iter(account["positions"]))), "1" + "0" * 19
            )
        ),
        "an unknown field": json.dumps({**document, "note": "hi"}),
        "no params": json.dumps({k: v for k, v in document.items() if k != "params"}),
        "not JSON": text[:-3],
        "NaN": text.replace(f'"leaf_index": {entry["leaf_index"]},', '"leaf_index": NaN,'),
    }
    pairs = [(v, case["manifest"]) for v in variants.values()]
    for label, (js, (py_valid, _, _)) in zip(variants, verdicts(page, tmp_path, pairs)):
        assert not py_valid, f"zksolv accepts {label}"
        assert not js["valid"] and js["reason"], f"the page accepts {label}"
    for label, manifest in {
        "duplicate key": case["manifest"].replace('"epoch":', '"epoch": "x", "epoch":', 1),
        "capacity as text": json.dumps(
            {**json.loads(case["manifest"]), "capacity": str(json.loads(case["manifest"])["capacity"])}
        ),
    }.items():
        (js,) = page.execute_script(VERIFY_ALL, [[text, manifest]])
        assert not python_check(tmp_path, text, manifest)[0] and not js["valid"] and js["reason"], label


def params_variants(document: dict) -> Iterator[tuple[str, dict]]:
    """Single-field changes of published params, and some invalid values a +1 walk does not reach."""
    yield from single_field_changes(document)
    first_asset, first_market = document["assets"][0], document["markets"][0]
    for key, value in [("rounding", "up"), ("decimals", 31), ("asset_weight_bps", 10001), ("price", "1.0")]:
        yield f"asset {key} {value!r}", changed(document, ("assets", 0), {**first_asset, key: value})
    for key, value in [("entry_cost_decimals", 19), ("mark_price", "-5"), ("maintenance_margin_bps", None)]:
        yield f"market {key} {value!r}", changed(document, ("markets", 0), {**first_market, key: value})
    yield "reserved symbol", changed(document, ("assets", 0), {**first_asset, "symbol": "account_id"})
    yield "duplicate symbol", changed(document, ("markets", 0), {**first_market, "symbol": first_asset["symbol"]})
    yield "balanced_markets as text", {**document, "balanced_markets": "yes"}
    yield "options null", {**document, "options": None}  # a list with a default, not `X | None`
    yield "scenarios null", {**document, "scenarios": None}
    yield "negative insurance fund", {**document, "insurance_fund": "-1"}
    if document.get("scenarios"):
        scenario, option = document["scenarios"][0], document["options"][0]
        bad_scenario = [("weight", "0"), ("weight", "1.5"), ("volatility_shock", "-1"), ("name", ""), ("name", "a\nb")]
        bad_scenario += [("name", "n" * 65), ("shocks", {next(iter(scenario["shocks"])): "-1"})]
        for key, value in bad_scenario:
            yield f"scenario {key} {value!r}", changed(document, ("scenarios", 0), {**scenario, key: value})
        bad_option = [("kind", "straddle"), ("underlying", "NOPE"), ("strike", "0"), ("implied_volatility", "-0.5")]
        bad_option += [("interest_rate", "0.040"), ("expiry", "2027-13-01T00:00:00Z")]
        for key, value in bad_option:
            yield f"option {key} {value!r}", changed(document, ("options", 0), {**option, key: value})
        yield "options without scenarios", {k: v for k, v in document.items() if k != "scenarios"}


def params_respellings(document: dict) -> Iterator[tuple[str, dict]]:
    """Other spellings of the same params that zksolv reads alike (defaults written out or left out,
    nulls for absent fields, keys in another order): they must hash as zksolv hashes them."""
    assets, markets = document["assets"], document["markets"]
    yield "rounding exact", changed(document, ("assets", 0), {**assets[0], "rounding": "exact"})
    yield "price_source null", changed(document, ("assets", 0), {**assets[0], "price_source": None})
    yield "keys reversed", {k: document[k] for k in reversed(document)}
    yield "balanced_markets false", {**document, "balanced_markets": False}
    flat = next((i for i, m in enumerate(markets) if "maintenance_margin_bps" in m), None)
    if flat is not None:
        market = markets[flat]
        rate = market["maintenance_margin_bps"]
        one = {k: v for k, v in market.items() if k != "maintenance_margin_bps"}
        one["brackets"] = [{"notional_floor": "0", "maintenance_margin_bps": rate}]
        yield "one bracket", changed(document, ("markets", flat), one)
        yield "brackets null", changed(document, ("markets", flat), {**market, "brackets": None})
        if "entry_cost_decimals" not in market:
            yield (
                "entry_cost_decimals null",
                changed(document, ("markets", flat), {**market, "entry_cost_decimals": None}),
            )
        yield "mark_price_source null", changed(document, ("markets", flat), {**market, "mark_price_source": None})
    if not document.get("scenarios"):
        yield "no options, no scenarios", {**document, "options": [], "scenarios": []}
    for i, scenario in enumerate(document.get("scenarios", [])):
        defaults = {"shocks": {}, "volatility_shock": "0", "weight": "1"}
        left_out = {k: v for k, v in scenario.items() if defaults.get(k, object()) != v}
        if left_out != scenario:
            yield f"scenario {i} defaults left out", changed(document, ("scenarios", i), left_out)
            break


def test_params_are_read_and_hashed_as_zksolv_reads_them(page, examples, entry_costs):
    """Every params variant: when zksolv reads it, the page computes zksolv's params hash; when zksolv
    refuses it, so does the page. Two derivations the page takes as published (web/src/params.js says
    so; `zksolv verify` redoes them): an option's Black–Scholes value and risk array, and a price derived
    from its price_source. A change zksolv refuses only for those is left to the hash, which differs."""
    taken_as_published = re.compile(r"Black–Scholes value|risk_array\[\d+\] .* but its inputs give|_source derives")
    counts = {"same hash": 0, "refused by both": 0, "taken as published": 0, "respelt": 0}
    for name, case in cases(examples, entry_costs).items():
        document = json.loads(case["inclusion"])["params"]
        variants = [(label, v, False) for label, v in params_variants(document)]
        variants += [(label, v, True) for label, v in params_respellings(document)]
        got = page.execute_script(PARAMS_HASH_ALL, [json.dumps(v) for _, v, _ in variants])
        original = str(params_hash(parse_params(document, canonical=True)))
        for (label, variant, respelt), js in zip(variants, got):
            try:
                expected = str(params_hash(parse_params(variant, canonical=True)))
            except InputError as exc:
                if "_source." in label or taken_as_published.search(str(exc)):
                    counts["taken as published"] += 1
                    assert js.get("hash") != original, (name, label)
                else:
                    counts["refused by both"] += 1
                    assert "error" in js, f"{name}: the page reads params zksolv refuses ({label}: {exc})"
                continue
            assert js == {"hash": expected}, (name, label)
            if respelt:
                assert expected == original, (name, label)
                counts["respelt"] += 1
            else:
                counts["same hash"] += 1
    assert counts["refused by both"] > 100 and counts["respelt"] >= 15 and counts["same hash"] > 50, counts


# ---------------------------------------------------------------------------------------------
# 4. Other formats.


def test_other_formats_are_refused_with_the_reason(page, examples, tmp_path):
    case = examples["flat"]
    document, manifest = json.loads(case["inclusion"]), json.loads(case["manifest"])
    old_files = [f for f in RETIRED_FILES if f.startswith("zksolv-inclusion/")]
    old_bundles = list(RETIRED_BUNDLES)
    assert old_files and old_bundles
    formats = [(f, INCLUSION_FORMAT) for f in [*old_files, "zksolv-inclusion/99"]]
    formats += [(f, BUNDLE_FORMAT) for f in [*old_bundles, "zksolv-bundle/99"]]
    pairs = [
        (json.dumps({**document, "format": f}), case["manifest"])
        if current == INCLUSION_FORMAT
        else (case["inclusion"], json.dumps({**manifest, "format": f}))
        for f, current in formats
    ]
    for (found, expected), (js, (py_valid, py_reason, _)) in zip(formats, verdicts(page, tmp_path, pairs)):
        assert not py_valid and found in py_reason
        assert not js["valid"], found
        assert f"format '{found}'" in js["reason"] and f"this page checks {expected}" in js["reason"], js["reason"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**document, "format": old_files[0]}))
    state = load_files(page, old, case["bundle"] / "manifest.json")
    assert state["valid"] == "false" and old_files[0] in state["reason"] and INCLUSION_FORMAT in state["reason"]


# ---------------------------------------------------------------------------------------------
# 5. What a holder sees.


def verdict_colours(page_file: Path) -> dict[str, tuple[int, int, int]]:
    """The verdict's background colours, from the page's own CSS."""
    css = read(page_file)
    out = {}
    for kind in ("ok", "bad"):
        (hex_colour,) = re.findall(rf"\.verdict\.{kind} \{{ background: #([0-9a-f]{{6}}); \}}", css)
        out[kind] = tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
    return out


def screenshot(driver, *files: Path) -> tuple[bytes, tuple[int, int, int]]:
    """The page after checking `files`, as a PNG, and the colour at the left of its verdict bar."""
    from PIL import Image

    load_files(driver, *files)
    driver.execute_script("window.scrollTo(0, 0)")
    box = driver.execute_script(
        "const r = document.getElementById('verdict').getBoundingClientRect();"
        "return [r.left, r.top, r.height, window.devicePixelRatio]"
    )
    png = driver.get_screenshot_as_png()
    left, top, height, ratio = box
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return png, image.getpixel((int((left + 8) * ratio), int((top + height / 2) * ratio)))


def test_the_screenshot_shows_the_verdict(page, page_file, examples, tmp_path):
    case = examples["flat"]
    colours = verdict_colours(page_file)
    png, valid_colour = screenshot(page, case["inclusion_path"], case["bundle"] / "manifest.json")
    mutated = tmp_path / "changed.json"
    document = json.loads(case["inclusion"])
    mutated.write_text(
        json.dumps(changed(document, ("subaccounts", 0, "salt"), other_value(document["subaccounts"][0]["salt"])))
    )
    _, invalid_colour = screenshot(page, mutated, case["bundle"] / "manifest.json")
    assert valid_colour == colours["ok"] and invalid_colour == colours["bad"]
    assert png.startswith(b"\x89PNG") and len(png) < 300_000


def write_screenshot(out: Path) -> None:
    """The README's screenshot: the flat example bundle's holder, checked."""
    import tempfile

    from .helpers import chromium_driver

    bundle, inclusion = EXAMPLES["flat"]
    driver = chromium_driver(1100, 1500)
    try:
        with tempfile.TemporaryDirectory() as folder:
            driver.get(Path(api.inclusion_page(folder)["page"]).as_uri())
            png, _ = screenshot(driver, inclusion, bundle / "manifest.json")
    finally:
        driver.quit()
    out.write_bytes(png)
    print(f"wrote {out} ({len(png) // 1024} KiB)")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--screenshot"] or len(sys.argv) != 3:
        sys.exit("usage: python -m tests.test_browser --screenshot docs/img/inclusion-page.png")
    write_screenshot(Path(sys.argv[2]))
