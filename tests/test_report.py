"""`zksolv report`: the audit report of a bundle, every figure the one `zksolv verify --json` prints.

The reports are made by the CLI for the two committed example bundles (flat, and portfolio with 18
scenarios) and read back: each proved figure cell names its place in the verification document
(`data-figure`, a JSON pointer), each derived one its computation (`data-derived`); both are compared
with the CLI's own `verify --json` output and with params.json, recomputed here with Fractions. The
pages are opened in headless Chromium (file://): they render, draw the chart, log no error and
fetch nothing.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from zksolv import api
from zksolv.cli import main
from zksolv.errors import EXIT_FALSE, EXIT_INPUT, EXIT_OK, EXIT_TOOLCHAIN, ArgumentError, ToolchainError
from zksolv.report import Published, build_report, render_html, render_markdown, stress_chart_svg

from .helpers import REPO

EXAMPLES = {"flat": REPO / "proofs" / "example", "portfolio": REPO / "proofs" / "example-portfolio"}


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def verify_json(bundle: Path, *extra: str) -> dict:
    """The independent side: the CLI's own verification document."""
    code, output = run_cli("verify", bundle, "--backend", "python", "--json", *extra)
    document = json.loads(output)
    assert code == (EXIT_OK if document["valid"] else EXIT_FALSE)
    return document


class Figures(HTMLParser):
    """Every element carrying data-figure / data-derived with its text, and every tag and URL-bearing
    attribute of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[tuple[str, str]] = []
        self.derived: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self._open: list[tuple[str, str, list[str]] | None] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        self.urls += [v or "" for k, v in attrs.items() if k in ("src", "href", "xlink:href", "action", "data")]
        if "data-figure" in attrs:
            self._open.append(("figure", attrs["data-figure"], []))
        elif "data-derived" in attrs:
            self._open.append(("derived", attrs["data-derived"], []))
        else:
            self._open.append(None)

    def handle_endtag(self, tag):
        item = self._open.pop() if self._open else None
        if item is not None:
            kind, name, parts = item
            (self.figures if kind == "figure" else self.derived).append((name, "".join(parts)))

    def handle_data(self, data):
        self.text.append(data)
        for item in self._open:
            if item is not None:
                item[2].append(data)


def parse(text: str) -> Figures:
    parser = Figures()
    parser.feed(text)
    parser.close()
    return parser


def lookup(document, path: str):
    """A JSON pointer (RFC 6901), resolved here rather than by zksolv.report's own resolver."""
    value = document
    for part in path.lstrip("/").split("/") if path else []:
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def leaves(value, path: str = ""):
    """The JSON pointer of every scalar in a document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}/{i}")
    else:
        yield path


def shown_equals(text: str, expected) -> bool:
    """A cell shows `expected` exactly: a decimal with its digits grouped by commas, a count, a boolean
    as yes / pass / VALID or no / NO / FAIL / INVALID, null as none, any other string as it is."""
    if isinstance(expected, bool):
        return text in (("yes", "pass", "VALID") if expected else ("no", "NO", "FAIL", "INVALID"))
    if expected is None:
        return text == "none"
    if isinstance(expected, int):
        return text.replace(",", "") == str(expected)
    if re.fullmatch(r"-?\d+(\.\d+)?", str(expected)):
        return text.replace(",", "") == expected
    return text == expected


def number(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """Each example's HTML report (made by the CLI) with the CLI's verify --json of the same bundle."""
    folder = tmp_path_factory.mktemp("reports")
    out = {}
    for name, bundle in EXAMPLES.items():
        path = folder / f"{name}.html"
        code, output = run_cli("report", bundle, "--out", path, "--json")
        assert code == EXIT_OK, output
        written = json.loads(output)
        assert written == {
            "out": str(path),
            "format": "html",
            "bundle": str(bundle),
            "valid": True,
            "failed_checks": [],
        }
        out[name] = {
            "path": path,
            "html": path.read_text(encoding="utf-8"),
            "verify": verify_json(bundle),
            "params": json.loads((bundle / "params.json").read_text()),
            "manifest": json.loads((bundle / "manifest.json").read_text()),
        }
    return out


def expected_derived(name: str, verified: dict, params: dict, manifest: dict) -> Fraction | str:
    """What a derived cell must show, recomputed from verify --json and the bundle's files."""
    prices = {a["symbol"]: Fraction(a["price"]) for a in params["assets"]}
    assets = verified["totals"]["assets"]
    fund = verified["liquidations"]["insurance_fund"]

    def value(symbol: str, side: str) -> Fraction:
        return Fraction(assets[symbol][side]) * prices[symbol]

    kind, _, rest = name.partition(":")
    if name.startswith("manifest "):
        key = name.removeprefix("manifest ")
        if key == "circuit.id":
            return manifest["circuit"]["id"].split("/")[0]
        if key == "setup.insecure_development":
            return "yes (INSECURE)" if manifest["setup"]["insecure_development"] else "no"
        return Fraction(manifest[key])
    if kind == "price":
        return prices[rest]
    if kind == "value":
        symbol, side = rest.split(":")
        if symbol == "total":
            return sum((value(s, side) for s in assets), Fraction(0))
        return value(symbol, side)
    if kind == "net":
        symbols = list(assets) if rest == "total" else [rest]
        return sum((value(s, "credit") - value(s, "debit") for s in symbols), Fraction(0))
    if kind == "headroom":
        debt = verified["scenarios"][int(rest)]["bad_debt"] if rest else verified["liquidations"]["bad_debt"]
        return Fraction(fund) - Fraction(debt)
    raise AssertionError(f"a derived figure this test does not know: {name}")


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_figure_is_the_one_verify_json_prints(reports, name):
    item = reports[name]
    verified, page = item["verify"], parse(item["html"])
    assert page.figures, "no figure is marked"
    for path, text in page.figures:
        assert shown_equals(text.strip(), lookup(verified, path)), (path, text, lookup(verified, path))
    # Everything verify establishes is shown: every scalar of its document has a cell (but a check's
    # backend, which only the proof checks have).
    shown = {path for path, _ in page.figures}
    missing = {p for p in leaves(verified) if lookup(verified, p) is not None} - shown
    assert not missing, sorted(missing)[:10]
    for how, text in page.derived:
        expected = expected_derived(how, verified, item["params"], item["manifest"])
        if isinstance(expected, Fraction):
            assert number(text) == expected, (how, text, expected)
        else:
            assert text == expected, (how, text, expected)
    kinds = {how.partition(":")[0] for how, _ in page.derived}
    assert {"price", "value", "net", "headroom"} <= kinds
    # The quote values cover every asset, both sides.
    assert {f"value:{s}:{side}" for s in verified["totals"]["assets"] for side in ("credit", "debit")} <= {
        how for how, _ in page.derived
    }


def test_the_claim_says_what_verify_establishes(reports):
    text = " ".join("".join(parse(reports["flat"]["html"]).text).split())
    liq = reports["flat"]["verify"]["liquidations"]
    assert "VALID: every check of the bundle passed" in text
    assert (
        f"Merkle tree of 32 leaves (its accounts, padded to the capacity; proved in 2 batches of 16) under root "
        f"{reports['flat']['verify']['root']}" in text
    )
    assert f"except the {liq['accounts_below_maintenance']} accounts counted below maintenance" in text
    assert "KEY NOT PINNED" in text and "INSECURE development powers of tau" in text
    assert "caught only by its holder checking their inclusion file" in text
    assert "Stress report" not in text  # the flat venue has no scenarios
    portfolio = " ".join("".join(parse(reports["portfolio"]["html"]).text).split())
    assert "a portfolio-margined account: at its worst published scenario" in portfolio
    assert "Stress report" in portfolio and "No account has negative equity (no bad debt)" in portfolio


def test_the_page_is_self_contained(reports):
    for item in reports.values():
        page = parse(item["html"])
        assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
        assert not [u for u in page.urls if not u.startswith("#")], page.urls
        assert "Content-Security-Policy" in item["html"] and "default-src 'none'" in item["html"]
    svg = parse(reports["portfolio"]["html"])
    assert svg.tags.count("svg") == 1 and "svg" not in parse(reports["flat"]["html"]).tags


PAGE_STATE = """
const chart = document.querySelector('#stress-chart svg');
const box = chart ? chart.getBoundingClientRect() : null;
const urls = [];
for (const el of document.querySelectorAll('*')) {
  for (const attr of el.attributes) {
    if (/^(src|href|xlink:href|action|data|poster)$/.test(attr.name)) urls.push(attr.value);
  }
}
return {
  banner: document.querySelector('.banner-ok, .banner-fail').innerText,
  chart: box ? [box.width, box.height] : null,
  chart_text: chart ? chart.textContent : '',
  resources: performance.getEntriesByType('resource').map(e => e.name),
  urls: urls,
  scripts: document.scripts.length,
  figures: document.querySelectorAll('[data-figure]').length,
};
"""


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_report_renders_in_chromium(reports, chromium, name):
    item = reports[name]
    chromium.get_log("browser")  # drop what earlier pages logged
    chromium.get(item["path"].as_uri())
    state = chromium.execute_script(PAGE_STATE)
    assert chromium.title == f"zksolv audit report: VALID — epoch {item['verify']['epoch']}"
    assert state["banner"].startswith("VALID")
    assert state["figures"] == len(parse(item["html"]).figures)
    assert state["resources"] == [] and state["scripts"] == 0
    assert all(u.startswith("#") for u in state["urls"]), state["urls"]
    if item["verify"]["scenarios"]:
        width, height = state["chart"]
        assert width > 300 and height > 300
        for scenario in item["verify"]["scenarios"]:
            assert scenario["name"] in state["chart_text"]
    else:
        assert state["chart"] is None
    errors = [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_markdown_has_the_same_tables(tmp_path):
    bundle = EXAMPLES["portfolio"]
    verified = verify_json(bundle)
    out = tmp_path / "report.markdown"
    code, output = run_cli("report", bundle, "--out", out, "--format", "md")
    assert code == EXIT_OK and f"wrote {out} (md): VALID" in output
    text = out.read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.setdefault(re.sub(r"\\(.)", r"\1", cells[0]).strip("*"), []).append(cells[1:])
    for symbol, figures in verified["totals"]["assets"].items():
        (cells,) = rows[symbol]
        assert (number(cells[1]), number(cells[3])) == (Fraction(figures["credit"]), Fraction(figures["debit"]))
    for symbol, figures in verified["totals"]["markets"].items():
        (cells,) = rows[symbol]
        assert [number(c) for c in cells] == [Fraction(figures[k]) for k in ("long", "short", "net")]
    for scenario in verified["scenarios"]:
        (cells,) = rows[scenario["name"]]
        assert number(cells[0]) == scenario["accounts_below_maintenance"]
        assert (number(cells[1]), number(cells[3])) == (Fraction(scenario["shortfall"]), Fraction(scenario["bad_debt"]))
        assert cells[4] == ("yes" if scenario["covered"] else "**NO**")
    assert len(rows["#"]) == 1 and len([r for r in rows if r.isdigit()]) == len(verified["checks"])
    assert "**VALID**" in text and "**KEY NOT PINNED**" in text
    assert "<svg" not in text


def test_an_invalid_bundle_gets_a_report_that_says_so(tmp_path, chromium):
    bundle = tmp_path / "bundle"
    shutil.copytree(EXAMPLES["flat"], bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["totals"]["assets"]["USDC"]["credit"] = "9991734.492234"  # the venue claims more than it proved
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    verified = verify_json(bundle)
    assert not verified["valid"] and verified["totals"] is None
    out = tmp_path / "report.html"
    code, output = run_cli("report", bundle, "--out", out)
    assert code == EXIT_FALSE and "INVALID (failed check(s): accumulator chain)" in output
    text = out.read_text(encoding="utf-8")
    page = parse(text)
    for path, shown in page.figures:
        assert shown_equals(shown.strip(), lookup(verified, path)), path
    assert not [p for p, _ in page.figures if p.startswith(("/totals", "/liquidations", "/scenarios"))]
    assert "9991734" not in text and "9,991,734" not in text  # the unproved figure is not shown
    chromium.get(out.as_uri())
    banner = chromium.find_element("css selector", ".banner-fail").text
    assert chromium.title.startswith("zksolv audit report: INVALID")
    assert banner.startswith("INVALID: failed check(s): accumulator chain")
    assert "the human-readable totals differ from the proved ones" in chromium.find_element("id", "checks").text


def test_pinning_is_reported_as_verify_reports_it(tmp_path):
    bundle = EXAMPLES["flat"]
    sha = json.loads((bundle / "manifest.json").read_text())["verification_key_sha256"]
    out = tmp_path / "pinned.html"
    code, _ = run_cli("report", bundle, "--out", out, "--trusted-vkey", sha)
    assert code == EXIT_OK
    verified = verify_json(bundle, "--trusted-vkey", sha)
    assert verified["trust"]["by"] == "hash"
    page = parse(out.read_text(encoding="utf-8"))
    for path, shown in page.figures:
        assert shown_equals(shown.strip(), lookup(verified, path)), path
    assert {"/trust/by", "/trust/statement"} <= {p for p, _ in page.figures}
    text = "".join(page.text)
    assert "pinned by a bare hash" in text and "KEY NOT PINNED" not in text
    code, _ = run_cli("report", bundle, "--out", out, "--trusted-vkey", "0" * 64, "--force")
    assert code == EXIT_FALSE and "verification key" in out.read_text(encoding="utf-8")


HOSTILE = "<script>alert(1)</script>"


def hostile_document(reports) -> dict:
    """The flat example's verification document with the portfolio's stress report, every string a
    venue chooses replaced by markup (a report renders any document; params.json would refuse such
    symbols, but not such scenario names or quote currencies)."""
    document = copy.deepcopy(reports["flat"]["verify"])
    assets = document["totals"]["assets"]
    assets[HOSTILE] = assets.pop("USDC")
    document["totals"]["markets"]['"><img src=x onerror=alert(2)>'] = document["totals"]["markets"].pop("BTC-PERP")
    document["scenarios"] = copy.deepcopy(reports["portfolio"]["verify"]["scenarios"])
    document["scenarios"][0]["name"] = "</svg><script>alert(3)</script> $\\alpha$ -->"
    document["bundle"] = "</title><script>alert(4)</script>"
    return document


def test_venue_strings_are_escaped(reports, chromium, tmp_path):
    document = hostile_document(reports)
    published = Published(quote="<b>USD</b>", prices={HOSTILE: "1", "BTC": "97000.12"}, capacity=32)
    page_text = render_html(build_report(document, published))
    page = parse(page_text)
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    assert page.tags.count("svg") == 1
    text = "".join(page.text)
    assert HOSTILE in text and "</svg><script>alert(3)</script> $\\alpha$ -->" in text
    assert page_text.count("<script") == 0
    path = tmp_path / "hostile.html"
    path.write_text(page_text, encoding="utf-8")
    chromium.get_log("browser")
    chromium.get(path.as_uri())
    state = chromium.execute_script(PAGE_STATE)
    assert state["scripts"] == 0 and state["resources"] == []
    body = chromium.find_element("tag name", "body").text
    assert HOSTILE in body and "<b>USD</b>" in body
    assert "</svg><script>alert(3)</script>" in state["chart_text"]  # the chart's label is text too
    assert [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"] == []
    markdown = render_markdown(build_report(document, published, chart=False))
    assert "<script" not in markdown and "<b>" not in markdown and "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown


def test_the_report_is_not_written_over_an_existing_file(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("keep me")
    code, output = run_cli("report", EXAMPLES["flat"], "--out", out)
    assert code == EXIT_INPUT and str(out) in output and "--force" in output
    assert out.read_text() == "keep me"
    code, _ = run_cli("report", EXAMPLES["flat"], "--out", out, "--format", "md", "--force")
    assert code == EXIT_OK and out.read_text(encoding="utf-8").startswith("# zksolv audit report: VALID")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left beside it


def test_a_report_format_is_checked_by_the_library(tmp_path):
    with pytest.raises(ArgumentError, match="not a report format"):
        api.report(EXAMPLES["flat"], tmp_path / "r.pdf", "pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_the_chart_needs_matplotlib_and_says_so(monkeypatch, reports, tmp_path):
    import sys

    for module in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(ToolchainError, match="matplotlib is not installed") as info:
        stress_chart_svg(reports["portfolio"]["verify"]["scenarios"], "100000", "USD")
    assert info.value.exit_code == EXIT_TOOLCHAIN and "zksolv[report]" in (info.value.hint or "")
    code, output = run_cli("report", EXAMPLES["portfolio"], "--out", tmp_path / "r.html")
    assert code == EXIT_TOOLCHAIN and "matplotlib is not installed" in output
    assert not (tmp_path / "r.html").exists()
    # Markdown has no chart, and a bundle without scenarios draws none: neither needs matplotlib.
    assert run_cli("report", EXAMPLES["portfolio"], "--out", tmp_path / "r.markdown", "--format", "md")[0] == EXIT_OK
    assert run_cli("report", EXAMPLES["flat"], "--out", tmp_path / "flat.html")[0] == EXIT_OK


def audited(kind: str) -> dict:
    """A `trust` field as verify writes it for a key pinned by an audit (zksolv.verify._check_pin)."""
    label = "powersOfTau28_hez_final_16.ptau" if kind == "ceremony" else "development ptau, INSECURE"
    return {
        "pinned": True,
        "by": "audit",
        "verification_key_sha256": "ab" * 32,
        "statement": "the key is the one audited for SolvencyBatch(4,4,16,[3,1,1,1])",
        "audit": {
            "shape": "SolvencyBatch(4,4,16,[3,1,1,1])",
            "keys": "keys/",
            "ptau": {"blake2b": "cd" * 64, "power": 16, "kind": kind, "label": label, "name": None, "source": None},
            "phase2_contributions": [{"index": 1, "name": "venue", "hash": "ef" * 32}],
            "tools": {"zksolv": "0.1.0"},
        },
    }


@pytest.mark.parametrize(
    ("trust", "status", "meaning"),
    [
        (audited("ceremony"), "pinned by an audit, ceremony powers of tau", "sound unless whoever made all 1 phase-2"),
        (audited("development"), "pinned by an audit, development ptau, INSECURE", "whoever made it can forge"),
        (
            {"pinned": True, "by": "hash", "verification_key_sha256": "ab" * 32, "statement": "s"},
            "pinned by a bare hash",
            "says nothing about its powers of tau",
        ),
        (
            {"pinned": True, "by": None, "verification_key_sha256": "ab" * 32, "statement": "s"},
            "pinned key does not match",
            "the verification key check fails",
        ),
    ],
    ids=["audit-ceremony", "audit-development", "hash", "mismatch"],
)
def test_the_setup_status_says_what_the_pin_means(reports, trust, status, meaning):
    document = copy.deepcopy(reports["flat"]["verify"])
    document["trust"] = trust
    page = parse(render_html(build_report(document, Published(insecure_development=False))))
    text = " ".join("".join(page.text).split())
    assert f"Status: {status}" in text and meaning in text and "KEY NOT PINNED" not in text
    for path, shown in page.figures:
        assert shown_equals(shown.strip(), lookup(document, path)), path
    shown = {p for p, _ in page.figures}
    if "audit" in trust:
        assert {
            "/trust/audit/shape",
            "/trust/audit/ptau/label",
            "/trust/audit/ptau/blake2b",
            "/trust/audit/phase2_contributions/0/hash",
        } <= shown
