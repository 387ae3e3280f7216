"""The audit report of a verified bundle (`zksolv report`): HTML or Markdown, rendered from verify's result.

Every figure comes from the verification document (`Report.document()`, what `zksolv verify --json`
prints): the checks, the trust status, and, only for a valid bundle, the proved totals, liquidation
figures and stress report. The only other inputs are `Published`, read by the caller from the bundle
*after* verification: the layout of the verified manifest (capacity, batches) and, for a valid bundle,
the published asset prices and quote currency of the verified params.json, from which the quote value
of each credit and debit is computed (shown as derived, never as proved).

The content is built once (`build_report`: sections of paragraphs, tables and a chart) and rendered
twice (`render_html`, `render_markdown`), so the two formats cannot drift apart. Every proved figure in
the HTML carries `data-figure`, a JSON pointer (RFC 6901) into the verification document, and every
derived one `data-derived`, naming its computation, so a reader (or a test) can check each against
`verify --json`. Every string shown is escaped: asset symbols, scenario names, the quote currency and
paths are the venue's, and the page forbids scripts and fetches (Content-Security-Policy) in case.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from . import __version__
from .errors import ToolchainError

FORMATS = ("html", "md")


@dataclass(frozen=True)
class Published:
    """What the report shows besides the verification document, all of it from files verify checked:
    the manifest's layout (whose consistency the manifest check establishes) and, for a valid bundle,
    params.json's quote currency and asset prices (bound into every proof by the params hash)."""

    capacity: int | None = None
    n_batches: int | None = None
    batch_size: int | None = None
    circuit: str | None = None
    insecure_development: bool | None = None  # the manifest's flag: the venue's own statement
    quote: str | None = None
    prices: dict[str, str] = field(default_factory=dict)  # asset symbol → published price (quote units)


# ---------------------------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Span:
    """A piece of text: plain, or a proved figure (`figure`: JSON pointer into the verification
    document), or a derived one (`derived`: how it is computed). `style` is a presentation hint:
    "strong", "code", "ok", "fail", "warn"."""

    text: str
    figure: str | None = None
    derived: str | None = None
    style: str | None = None


Cell = tuple[Span, ...]


@dataclass(frozen=True)
class Paragraph:
    spans: Cell
    style: str | None = None  # "banner-ok", "banner-fail", "warn", "note"


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric: frozenset[int] = frozenset()  # columns right-aligned
    id: str | None = None


@dataclass(frozen=True)
class Chart:
    svg: str  # an inline <svg> element
    caption: str


Block = Paragraph | Table | Chart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]
    id: str


@dataclass(frozen=True)
class ReportContent:
    title: str
    valid: bool
    sections: tuple[Section, ...]


def pointer(*parts: str | int) -> str:
    """The JSON pointer (RFC 6901) of a value in the verification document."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve_pointer(document: Any, path: str) -> Any:
    """The value a JSON pointer names (the inverse of `pointer`), for readers of `data-figure`."""
    value = document
    for raw in path.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def group_digits(text: str) -> str:
    """A decimal string with its whole part grouped by commas (`-5991734.49` → `-5,991,734.49`);
    removing the commas gives the string back, exactly as verify wrote it."""
    match = re.fullmatch(r"(-?)(\d+)(\.\d+)?", text)
    if not match:
        return text
    sign, whole, frac = match.groups()
    return f"{sign}{int(whole):,}{frac or ''}"


def _exact(value: Decimal) -> str:
    """Shortest exact decimal text of a Decimal (no exponent, no trailing zeros, no `-0`)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _calc(op: str, a: str, b: str) -> str:
    """a × b or a − b of exact decimal strings, exactly (precision far above any published figure)."""
    with localcontext() as ctx:
        ctx.prec = 200
        return _exact(Decimal(a) * Decimal(b) if op == "*" else Decimal(a) - Decimal(b))


def _sum(values: Iterable[str]) -> str:
    with localcontext() as ctx:
        ctx.prec = 200
        return _exact(sum((Decimal(v) for v in values), Decimal(0)))


def _fig(document: dict, *path: str | int, style: str | None = None) -> Span:
    """A proved figure, shown as verify wrote it (decimals with grouped digits, booleans as yes / no)."""
    value = resolve_pointer(document, pointer(*path))
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif value is None:
        text = "none"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:  # identifiers (a root, a hash: style "code") keep their digits ungrouped
        text = str(value) if style == "code" else group_digits(str(value))
    return Span(text, figure=pointer(*path), style=style)


def _derived(value: str, how: str) -> Span:
    return Span(group_digits(value), derived=how)


def _check_cells(document: dict) -> tuple[tuple[Cell, ...], ...]:
    return tuple(
        (
            (Span(str(i + 1)),),
            (_fig(document, "checks", i, "name"),),
            (
                Span(
                    "pass" if check["ok"] else "FAIL",
                    figure=pointer("checks", i, "ok"),
                    style="ok" if check["ok"] else "fail",
                ),
            ),
            (_fig(document, "checks", i, "detail"),),
            # The proof checks name the backend that ran them; the others have none.
            (_fig(document, "checks", i, "backend"),) if check.get("backend") is not None else (Span(""),),
        )
        for i, check in enumerate(document["checks"])
    )


def _claim(document: dict, published: Published) -> tuple[Block, ...]:
    """The claim in plain words: exactly what the checks establish (SECURITY.md "What is proved"),
    then what they do not ("Limits")."""
    quote = published.quote or ""
    liq = document["liquidations"]
    below = liq["accounts_below_maintenance"]
    scenarios = bool(document.get("scenarios"))
    spans: list[Span] = [Span("At epoch "), _fig(document, "epoch", style="strong"), Span(", the venue's ")]
    if published.capacity is not None and published.n_batches is not None and published.batch_size is not None:
        spans += [
            Span("Merkle tree of "),
            Span(f"{published.capacity:,}", derived="manifest capacity"),
            Span(" leaves (its accounts, padded to the capacity; proved in "),
            Span(f"{published.n_batches:,}", derived="manifest n_batches"),
            Span(" batches of "),
            Span(f"{published.batch_size:,}", derived="manifest batch_size"),
            Span(") "),
        ]
    else:
        spans.append(Span("Merkle tree "))
    spans += [Span("under root "), _fig(document, "root", style="code"), Span(" holds only accounts that are ")]
    spans.append(Span("at or above maintenance margin at the published prices and weights"))
    if scenarios:
        spans.append(Span(" (a portfolio-margined account: at its worst published scenario)"))
    if below == 0:
        spans.append(Span(": no account is below maintenance. "))
    else:
        spans += [
            Span(", except the "),
            _fig(document, "liquidations", "accounts_below_maintenance", style="strong"),
            Span(" accounts counted below maintenance, with a total shortfall of "),
            _fig(document, "liquidations", "shortfall", style="strong"),
            Span(f" {quote}. "),
        ]
    fund = liq["insurance_fund"]
    if liq["bankrupt_accounts"]:
        spans += [
            # Negative equity implies negative health (weights and margins only lower it), so the bankrupt
            # accounts are among those below maintenance.
            Span("Of these, "),
            _fig(document, "liquidations", "bankrupt_accounts"),
            Span(" with negative equity carry a total bad debt of "),
            _fig(document, "liquidations", "bad_debt", style="strong"),
            Span(f" {quote}, which the published insurance fund of "),
            _fig(document, "liquidations", "insurance_fund"),
            Span(f" {quote} covers. "),
        ]
    else:
        spans.append(Span("No account has negative equity (no bad debt). "))
        if fund is not None:
            spans += [Span("The published insurance fund is "), _fig(document, "liquidations", "insurance_fund")]
            spans.append(Span(f" {quote}. "))
    spans.append(
        Span(
            "The per-asset credit and debit totals and the per-market long and short open interest below "
            "are the sums over exactly these accounts."
            + (
                " The stress report is proved over every account too (information, not part of the claim)."
                if scenarios
                else ""
            )
        )
    )
    trust = document.get("trust") or {}
    qualifier = (
        Paragraph(
            (
                Span("KEY NOT PINNED: ", style="fail"),
                Span(
                    "all of this holds for the circuit the bundle's verification key was made for, which the "
                    "venue chose; see “Key pinning and setup” below."
                ),
            ),
            style="warn",
        )
        if not trust.get("pinned")
        else Paragraph(
            (
                Span(
                    "All of this holds for the circuit of the pinned verification key; "
                    "see “Key pinning and setup” below."
                ),
            ),
            style="note",
        )
    )
    limits = Paragraph(
        (
            Span("What this does not show: ", style="strong"),
            Span(
                "that every real account is in the tree (an omitted account or a lowered balance is caught only by "
                "its holder checking their inclusion file against this root, `zksolv inclusion verify FILE --bundle "
                "BUNDLE`); that the venue holds reserves covering the credits (a separate proof of reserves); that "
                "the prices, weights"
                + (", scenarios and option inputs" if scenarios else " and margin rates")
                + " are fair (they are the venue's published params.json, bound into every proof); and that the "
                "insurance fund exists (it is the venue's published figure, not a proved reserve)."
            ),
        )
    )
    return (Paragraph(tuple(spans)), qualifier, limits)


def _trust_blocks(document: dict, published: Published) -> tuple[Block, ...]:
    """verify's `trust` field, with one sentence on what it means for the claim (SECURITY.md, key pinning)."""
    trust = document.get("trust")
    if not trust:
        return (Paragraph((Span("The verification key was not examined: the bundle is unreadable before it."),)),)
    rows: list[tuple[Cell, ...]] = [
        ((Span("verification key SHA-256"),), (_fig(document, "trust", "verification_key_sha256", style="code"),)),
        (
            (Span("pinned"),),
            (
                Span(
                    "yes" if trust["pinned"] else "NO",
                    figure=pointer("trust", "pinned"),
                    style="ok" if trust["pinned"] else "fail",
                ),
            ),
        ),
    ]
    if trust.get("pinned"):
        rows.append(((Span("pinned by"),), (_fig(document, "trust", "by"),)))
    audit = trust.get("audit")
    if audit:
        rows += [
            ((Span("audited shape"),), (_fig(document, "trust", "audit", "shape"),)),
            ((Span("powers of tau"),), (_fig(document, "trust", "audit", "ptau", "label"),)),
            ((Span("ptau kind"),), (_fig(document, "trust", "audit", "ptau", "kind"),)),
        ]
        if audit["ptau"].get("blake2b"):
            rows.append(((Span("ptau BLAKE2b"),), (_fig(document, "trust", "audit", "ptau", "blake2b", style="code"),)))
        for i, _ in enumerate(audit["phase2_contributions"]):
            rows.append(
                (
                    (Span(f"phase-2 contribution {i + 1}"),),
                    (
                        _fig(document, "trust", "audit", "phase2_contributions", i, "name"),
                        Span(" "),
                        _fig(document, "trust", "audit", "phase2_contributions", i, "hash", style="code"),
                    ),
                )
            )
    rows.append(((Span("statement"),), (_fig(document, "trust", "statement"),)))
    if "how_to_audit" in trust:
        rows.append(((Span("how to audit"),), (_fig(document, "trust", "how_to_audit"),)))
    if published.insecure_development is not None:
        rows.append(
            (
                (Span("manifest says development setup"),),
                (
                    Span(
                        "yes (INSECURE)" if published.insecure_development else "no",
                        derived="manifest setup.insecure_development",
                        style="fail" if published.insecure_development else None,
                    ),
                ),
            )
        )

    if not trust["pinned"]:
        status, meaning = (
            "KEY NOT PINNED",
            "The proofs are valid for the verification key shipped inside the bundle, which the venue chose. "
            "Nothing here ties that key to zksolv's circuit: keys made for a modified circuit (one that never "
            "counts an account below maintenance, say) would pass every check above. Until the key is audited "
            "once for this shape and pinned (`zksolv audit-setup`, then `--trusted-keys`), the claim rests on "
            "the venue's word about its key.",
        )
    elif audit and audit["ptau"]["kind"] == "ceremony":
        n = len(audit["phase2_contributions"])
        status, meaning = (
            "pinned by an audit, ceremony powers of tau",
            "An audit recompiled zksolv's circuit for this shape, checked that the proving key follows from it "
            "and from a published ceremony powers of tau, and this is the key it exported. The proofs are "
            f"sound unless whoever made all {n} phase-2 contribution(s) kept their secret: check that one of "
            "them is a contributor you trust.",
        )
    elif audit:
        status, meaning = (
            f"pinned by an audit, {audit['ptau']['label']}",
            "An audit tied the key to zksolv's circuit for this shape, but its powers of tau is not a published "
            "ceremony file: whoever made it can forge proofs. Treat the claim as a test, not as evidence.",
        )
    elif trust.get("by") == "hash":
        status, meaning = (
            "pinned by a bare hash",
            "The key is one pinned by its SHA-256 (`--trusted-vkey`): the claim holds as far as whoever gave "
            "that hash audited the key; a hash says nothing about its powers of tau.",
        )
    else:
        status, meaning = (
            "pinned key does not match",
            "Keys were pinned, but the bundle's key is not one of them (or was audited for another shape): "
            "the verification key check fails.",
        )
    if published.insecure_development:
        meaning += (
            " The manifest also says the key was made with zksolv's INSECURE development powers of tau: "
            "whoever ran that setup could forge proofs (the flag is the venue's own statement; only an audit "
            "shows a ceremony)."
        )
    head = Paragraph(
        (Span("Status: ", style="strong"), Span(status, style="fail" if not trust["pinned"] else "strong")),
        style="warn" if not trust["pinned"] or (audit and audit["ptau"]["kind"] != "ceremony") else None,
    )
    return (
        head,
        Paragraph((Span("What it means: ", style="strong"), Span(meaning))),
        Table(("", "value"), tuple(rows), id="trust"),
    )


def _asset_table(document: dict, published: Published) -> Table:
    assets = document["totals"]["assets"]
    rows: list[tuple[Cell, ...]] = []
    values: dict[str, list[str]] = {"credit": [], "debit": []}
    for symbol, figures in assets.items():
        price = published.prices.get(symbol)
        cells: list[Cell] = [
            (Span(symbol, style="strong"),),
            (_derived(price, f"price:{symbol}"),) if price is not None else (Span("—"),),
        ]
        for side in ("credit", "debit"):
            cells.append((_fig(document, "totals", "assets", symbol, side),))
            if price is None:
                cells.append((Span("—"),))
            else:
                value = _calc("*", figures[side], price)
                values[side].append(value)
                cells.append((_derived(value, f"value:{symbol}:{side}"),))
        if price is None:
            cells.append((Span("—"),))
        else:
            cells.append((_derived(_calc("-", values["credit"][-1], values["debit"][-1]), f"net:{symbol}"),))
        rows.append(tuple(cells))
    if values["credit"]:
        credit, debit = _sum(values["credit"]), _sum(values["debit"])
        rows.append(
            (
                (Span("total", style="strong"),),
                (Span(""),),
                (Span(""),),
                (_derived(credit, "value:total:credit"),),
                (Span(""),),
                (_derived(debit, "value:total:debit"),),
                (_derived(_calc("-", credit, debit), "net:total"),),
            )
        )
    quote = published.quote or "quote"
    return Table(
        (
            "asset",
            f"price ({quote})",
            "credit",
            f"credit value ({quote})",
            "debit",
            f"debit value ({quote})",
            f"credit − debit ({quote})",
        ),
        tuple(rows),
        numeric=frozenset(range(1, 7)),
        id="assets",
    )


def _market_table(document: dict) -> Table:
    markets = document["totals"]["markets"]
    return Table(
        ("market", "long", "short", "net"),
        tuple(
            (
                (Span(symbol, style="strong"),),
                *((_fig(document, "totals", "markets", symbol, side),) for side in ("long", "short", "net")),
            )
            for symbol in markets
        ),
        numeric=frozenset({1, 2, 3}),
        id="markets",
    )


def _headroom(fund: str | None, bad_debt: str, how: str) -> Span:
    """The insurance fund left after the bad debt (negative: the uncovered amount)."""
    return Span("—") if fund is None else _derived(_calc("-", fund, bad_debt), how)


def _liquidation_table(document: dict, published: Published) -> Table:
    quote = published.quote or ""
    liq = document["liquidations"]
    rows = [
        ("accounts below maintenance", _fig(document, "liquidations", "accounts_below_maintenance")),
        (f"total shortfall ({quote})", _fig(document, "liquidations", "shortfall")),
        ("accounts with negative equity", _fig(document, "liquidations", "bankrupt_accounts")),
        (f"total bad debt ({quote})", _fig(document, "liquidations", "bad_debt")),
        (f"insurance fund ({quote})", _fig(document, "liquidations", "insurance_fund")),
        (
            "covered by the insurance fund",
            Span(
                "yes" if liq["covered"] else "NO",
                figure=pointer("liquidations", "covered"),
                style="ok" if liq["covered"] else "fail",
            ),
        ),
        (f"fund left after the bad debt ({quote})", _headroom(liq["insurance_fund"], liq["bad_debt"], "headroom")),
    ]
    return Table(("", "value"), tuple(((Span(k),), (v,)) for k, v in rows), numeric=frozenset({1}), id="liquidations")


def _stress_table(document: dict, published: Published) -> Table:
    fund = document["liquidations"]["insurance_fund"]
    quote = published.quote or "quote"
    rows = []
    for i, row in enumerate(document["scenarios"]):
        rows.append(
            (
                (_fig(document, "scenarios", i, "name"),),
                (_fig(document, "scenarios", i, "accounts_below_maintenance"),),
                (_fig(document, "scenarios", i, "shortfall"),),
                (_fig(document, "scenarios", i, "bankrupt_accounts"),),
                (_fig(document, "scenarios", i, "bad_debt"),),
                (
                    Span(
                        "yes" if row["covered"] else "NO",
                        figure=pointer("scenarios", i, "covered"),
                        style="ok" if row["covered"] else "fail",
                    ),
                ),
                (_headroom(fund, row["bad_debt"], f"headroom:{i}"),),
            )
        )
    return Table(
        (
            "scenario",
            "below maintenance",
            f"shortfall ({quote})",
            "negative equity",
            f"bad debt ({quote})",
            "covered",
            f"fund − bad debt ({quote})",
        ),
        tuple(rows),
        numeric=frozenset({1, 2, 3, 4, 6}),
        id="stress",
    )


ASSETS_NOTE = (
    "Credits are what the venue owes holders, debits what holders owe the venue, each summed over every "
    "account. The quote values are derived here: each total times the asset's published price in "
    "params.json."
)
LIQUIDATIONS_NOTE = (
    "Shortfall is how far the accounts below maintenance are from it; bad debt is the negative equity of "
    "the bankrupt ones, which the insurance fund must cover once they are liquidated. Both at the "
    "published prices."
)
STRESS_NOTE = (
    "Per published scenario, proved over every account: the accounts that would be below maintenance, "
    "their shortfall, those with negative equity and their bad debt, and whether the insurance fund would"
    " cover it."
)


def _note(text: str) -> Paragraph:
    return Paragraph((Span(text),), style="note")


def build_report(document: dict, published: Published, chart: bool = True) -> ReportContent:
    """The report's content from the verification document. With `chart`, a bundle with scenarios gets
    the stress chart (matplotlib, drawn to SVG)."""
    valid = bool(document["valid"])
    epoch = document.get("epoch")
    failed = [c["name"] for c in document["checks"] if not c["ok"]]
    if valid:
        verdict = Paragraph(
            (Span("VALID", figure=pointer("valid"), style="strong"), Span(": every check of the bundle passed.")),
            style="banner-ok",
        )
    else:
        verdict = Paragraph(
            (
                Span("INVALID", figure=pointer("valid"), style="strong"),
                Span(f": failed check(s): {', '.join(failed)}. "),
                Span(
                    "Nothing this bundle claims is established: its totals, liquidation figures and stress report "
                    "are not shown (they would be the venue's unverified word)."
                ),
            ),
            style="banner-fail",
        )
    head: list[Block] = [verdict]
    if not (document.get("trust") or {}).get("pinned", True):
        head.append(
            Paragraph(
                (
                    Span("KEY NOT PINNED", style="fail"),
                    Span(": the verification key is the venue's own choice; see “Key pinning and setup”."),
                ),
                style="warn",
            )
        )
    for i, _ in enumerate(document.get("warnings") or []):
        head.append(Paragraph((Span("warning: ", style="warn"), _fig(document, "warnings", i)), style="warn"))
    meta = [
        ((Span("bundle"),), (_fig(document, "bundle", style="code"),)),
        ((Span("epoch" if valid else "epoch (manifest, unverified)"),), (_fig(document, "epoch"),)),
        ((Span("root" if valid else "root (manifest, unverified)"),), (_fig(document, "root", style="code"),)),
    ]
    if document.get("acc_0") is not None:
        meta.append(((Span("acc_0 (from params.json)"),), (_fig(document, "acc_0", style="code"),)))
    if published.circuit:
        meta.append(((Span("circuit"),), (Span(published.circuit, derived="manifest circuit.id", style="code"),)))
    head.append(Table(("", ""), tuple(meta), id="bundle"))
    sections = [Section("Verdict", tuple(head), "verdict")]
    if valid:
        sections.append(Section("The claim", _claim(document, published), "claim"))
    sections.append(
        Section(
            "Checks",
            (Table(("#", "check", "result", "detail", "backend"), _check_cells(document), id="checks"),),
            "checks",
        )
    )
    sections.append(Section("Key pinning and setup", _trust_blocks(document, published), "trust"))
    if valid:
        sections.append(
            Section(
                "Liabilities: per-asset credits and debits",
                (
                    _note(ASSETS_NOTE),
                    _asset_table(document, published),
                ),
                "assets",
            )
        )
        if document["totals"]["markets"]:
            sections.append(Section("Open interest: per-market long and short", (_market_table(document),), "markets"))
        sections.append(
            Section(
                "Liquidations and insurance fund",
                (
                    _note(LIQUIDATIONS_NOTE),
                    _liquidation_table(document, published),
                ),
                "liquidations",
            )
        )
        if document.get("scenarios"):
            blocks: list[Block] = [
                _note(STRESS_NOTE),
                _stress_table(document, published),
            ]
            if chart:
                blocks.append(
                    Chart(
                        stress_chart_svg(
                            document["scenarios"], document["liquidations"]["insurance_fund"], published.quote or ""
                        ),
                        "Shortfall and bad debt by scenario; the dashed line is the insurance fund.",
                    )
                )
            sections.append(Section("Stress report", tuple(blocks), "stress"))
    title = f"zksolv audit report: {'VALID' if valid else 'INVALID'}" + (f" — epoch {epoch}" if epoch else "")
    return ReportContent(title, valid, tuple(sections))


# ------------------------------------------------------------------------------------------------ chart


def stress_chart_svg(scenarios: Sequence[dict], insurance_fund: str | None, quote: str) -> str:
    """Shortfall and bad debt per scenario as horizontal bars, with the insurance fund as a dashed line:
    an inline <svg> element (matplotlib, text kept as text and escaped by matplotlib's SVG writer, no
    mathtext, no external reference)."""
    try:
        from matplotlib import rc_context
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise ToolchainError(
            "matplotlib is not installed: the stress chart of the report needs it",
            hint="pip install 'zksolv[report]' (or use the md format, which has no chart)",
        ) from None
    names = [str(s["name"]) for s in scenarios]
    shortfall = [float(Decimal(s["shortfall"])) for s in scenarios]
    bad_debt = [float(Decimal(s["bad_debt"])) for s in scenarios]
    with rc_context(
        {
            "svg.fonttype": "none",  # text as <text>, not glyph paths: readable, searchable, small
            "svg.hashsalt": "zksolv-report",  # element ids reproducible from run to run
            "text.parse_math": False,  # a scenario name with `$` is text, not TeX
            "font.size": 9,
        }
    ):
        # A Figure without pyplot: no GUI backend and no global state; savefig picks the SVG canvas.
        fig = Figure(figsize=(8.0, max(2.4, 0.34 * len(names) + 1.3)), layout="constrained")
        ax = fig.add_subplot()
        rows = list(range(len(names)))
        height = 0.4
        ax.barh([r - height / 2 for r in rows], shortfall, height, label="shortfall", color="#d08c2c")
        ax.barh([r + height / 2 for r in rows], bad_debt, height, label="bad debt", color="#b3261e")
        if insurance_fund is not None:
            ax.axvline(
                float(Decimal(insurance_fund)), color="#1f4e79", linestyle="--", linewidth=1.2, label="insurance fund"
            )
        ax.set_yticks(rows, labels=names)
        ax.invert_yaxis()  # the table's order, top to bottom
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_xlabel(f"{quote} (at the scenario prices)".strip())
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        fig.legend(loc="outside upper center", ncols=3, frameon=False)  # above the bars, never over them
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Creator": f"zksolv {__version__}", "Date": None})
    svg = buffer.getvalue()
    # Inline SVG in HTML takes the <svg> element alone: the XML prolog and the DOCTYPE (which names a DTD URL)
    # belong to standalone files.
    return svg[svg.index("<svg") :].strip()


# ------------------------------------------------------------------------------------------------- HTML

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1b1b1b;
max-width:1100px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6rem 0;width:100%}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.banner-ok,.banner-fail{font-size:1.25rem;padding:.6rem 1rem;border-radius:4px}
.banner-ok{background:#e3f4e5;border:2px solid #2e7d32}.banner-fail{background:#fde7e7;border:3px solid #b3261e}
.warn{background:#fff4e0;border-left:4px solid #e08a00;padding:.4rem .8rem}
.note{color:#555}.ok{color:#2e7d32;font-weight:600}.fail{color:#b3261e;font-weight:700}
.strong{font-weight:700}figure{margin:1rem 0}figure svg{width:100%;max-width:900px;height:auto}
figcaption{color:#555;font-size:.9rem}footer{margin-top:2rem;color:#777;font-size:.85rem}
"""

# No script, no fetch of any kind: the report is data, and a venue-supplied string that escaped the
# escaping could still not run or call home. Inline styles (ours and the SVG's) are all it needs.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _html_span(span: Span) -> str:
    classes = {"code": "code", "strong": "strong", "ok": "ok", "fail": "fail", "warn": "fail"}
    attrs = ""
    if span.figure is not None:
        attrs += f' data-figure="{html.escape(span.figure)}"'
    if span.derived is not None:
        attrs += f' data-derived="{html.escape(span.derived)}"'
    if span.style in classes:
        attrs += f' class="{classes[span.style]}"'
    text = html.escape(span.text)
    return f"<span{attrs}>{text}</span>" if attrs else text


def _html_cell(cell: Cell) -> str:
    return "".join(_html_span(s) for s in cell)


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        cls = f' class="{block.style}"' if block.style else ""
        return f"<p{cls}>{_html_cell(block.spans)}</p>"
    if isinstance(block, Chart):
        return f'<figure id="stress-chart">{block.svg}<figcaption>{html.escape(block.caption)}</figcaption></figure>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if i in block.numeric else ''}>{_html_cell(cell)}</td>" for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in block.rows
    )
    table_id = f' id="table-{block.id}"' if block.id else ""
    thead = f"<thead><tr>{head}</tr></thead>" if any(block.header) else ""  # a key / value table has none
    return f"<table{table_id}>{thead}<tbody>{body}</tbody></table>"


def render_html(content: ReportContent) -> str:
    """One self-contained page: inline CSS and SVG, nothing fetched, no script."""
    sections = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>'
        + "".join(_html_block(b) for b in s.blocks)
        + "</section>"
        for s in content.sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(content.title)}</title><style>{CSS}</style></head>\n"
        f'<body data-valid="{str(content.valid).lower()}"><h1>{html.escape(content.title)}</h1>\n{sections}\n'
        f"<footer>Rendered by zksolv {html.escape(__version__)} from its verification of the bundle "
        "(the figures are those of <code>zksolv verify --json</code>).</footer>\n</body></html>\n"
    )


# --------------------------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def md_escape(text: str) -> str:
    """Text shown literally by a Markdown renderer, also inside a table cell: Markdown punctuation
    backslash-escaped, and `<`, `>`, `&` as entities so that no inline HTML comes through."""
    text = re.sub(r"\s+", " ", text)  # a newline would end the table row
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_span(span: Span) -> str:
    # A code span shows its content raw (no escape works inside it): only for identifiers such as a root,
    # a hash or a path made of plain characters; anything else is escaped text.
    if span.style == "code" and re.fullmatch(r"[\w.,:/()\[\] -]+", span.text):
        return f"`{span.text}`"
    text = md_escape(span.text)
    if span.style not in ("strong", "fail") or not text.strip():
        return text
    # Emphasis must hug its text (CommonMark flanking rules): spaces go outside the asterisks.
    core = text.strip()
    return text[: len(text) - len(text.lstrip())] + f"**{core}**" + text[len(text.rstrip()) :]


def _md_cell(cell: Cell) -> str:
    return "".join(_md_span(s) for s in cell)


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        text = _md_cell(block.spans)
        return f"> {text}" if block.style in ("banner-ok", "banner-fail", "warn") else text
    if isinstance(block, Chart):
        return f"*{md_escape(block.caption)} (chart in the HTML format)*"
    header = [md_escape(h) or " " for h in block.header]
    align = ["---:" if i in block.numeric else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


def render_markdown(content: ReportContent) -> str:
    """The same content as Markdown: paragraphs and tables (the stress chart only in HTML)."""
    parts = [f"# {md_escape(content.title)}"]
    for section in content.sections:
        parts.append(f"## {md_escape(section.title)}")
        parts += [_md_block(b) for b in section.blocks]
    parts.append(f"*Rendered by zksolv {__version__} from its verification of the bundle.*")
    return "\n\n".join(parts) + "\n"


def render(document: dict, published: Published, fmt: str = "html") -> str:
    """The report in `fmt` ("html" or "md") of a verification document."""
    if fmt == "md":
        return render_markdown(build_report(document, published, chart=False))
    return render_html(build_report(document, published))
