"""Command line: option parsing and formatting over `zksolv.api`, one api call per command.

Exit codes (zksolv.errors, README, docs/JSON.md): 0 the claim holds, 1 it does not (insolvent
account, invalid proof, failed audit), 2 unusable input or output (a usage error included), 3
internal error, 4 a tool (Node, circom, snarkjs, a prover or worker) is missing or failed, 130
interrupted, 141 stdout closed by its reader.

The JSON contract (docs/JSON.md): under `--json` a command writes exactly one JSON document on
stdout, or JSON lines for `prove`'s events, whatever happens. A failure is one line, the error
document of zksolv.errors.error_document ({"ok": false, "event": "error", "error": {...}}), so it is
also a valid last line of an event stream. Any command decorated with `handle_errors` that takes an
`as_json` parameter gets this for free; a command line click refuses (`Main`) too.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click

from . import api
from .errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FALSE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ZksolvError,
    error_document,
)

F = TypeVar("F", bound=Callable[..., Any])


def stdout_closed() -> NoReturn:
    """The reader of stdout went away (`zksolv … | head`): stop quietly with EXIT_BROKEN_PIPE.
    stdout is pointed at /dev/null first, or the interpreter's own flush at exit would raise
    again and print a traceback-like "Exception ignored" message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's buffer): nothing to flush
        pass
    sys.exit(EXIT_BROKEN_PIPE)


def fail(
    exc: BaseException,
    as_json: bool,
    *,
    exit_code: int | None = None,
    kind: str | None = None,
    message: str | None = None,
    hint: str | None = None,
) -> NoReturn:
    """Report a failure and exit: the text on stderr always (people read it in logs), and under
    --json the error document as one line on stdout (a whole document, and a valid last line of
    an event stream)."""
    document = error_document(exc, exit_code=exit_code, kind=kind, message=message, hint=hint)
    error = document["error"]
    try:
        for line in error["message"].splitlines() or [""]:
            click.echo(f"error: {line}" if kind != "interrupted" else line, err=True)
        if error["hint"]:
            click.echo(f"hint: {error['hint']}", err=True)
        if as_json:
            click.echo(json.dumps(document, ensure_ascii=False))
    except BrokenPipeError:
        stdout_closed()
    sys.exit(error["exit_code"])


def handle_errors(func: F) -> F:
    """Turn every way a command can fail into its documented exit code (docs/JSON.md), never a
    traceback: a library error (its lines, then the hint; its own exit code), Ctrl-C (130), a closed
    stdout (141), a bug (3). A command with an `as_json` parameter that is set also prints the JSON
    error document on stdout."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except ZksolvError as exc:
            fail(exc, as_json)
        except KeyboardInterrupt as exc:
            fail(exc, as_json, exit_code=EXIT_INTERRUPTED, kind="interrupted", message="interrupted")
        except BrokenPipeError:
            stdout_closed()
        except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
            if os.environ.get("ZKSOLV_DEBUG"):
                raise
            fail(
                exc,
                as_json,
                exit_code=EXIT_INTERNAL,
                kind="internal",
                message=f"internal error: {type(exc).__name__}: {exc} (set ZKSOLV_DEBUG=1 for details)",
            )

    return cast(F, wrapper)


def verdict(ok: bool) -> NoReturn:
    sys.exit(EXIT_OK if ok else EXIT_FALSE)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def wants_json(argv: Sequence[str]) -> bool:
    """Whether a command line asks for --json (before any `--`, after which words are arguments)."""
    words = list(argv)
    return "--json" in (words[: words.index("--")] if "--" in words else words)


class Main(click.Group):
    """The top-level group. click's standalone mode prints a usage error (an unknown option, a
    missing one, a bad value) as text; here, with --json on the command line, it is the JSON error
    document too (kind "usage", click's exit code, 2). Ctrl-C and a closed stdout outside a
    command (at a prompt, while printing --help) end as inside one."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        as_json = wants_json(argv)
        try:
            result = super().main(argv, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            if not as_json:
                exc.show()
                sys.exit(exc.exit_code)
            context = getattr(exc, "ctx", None)
            fail(
                exc,
                True,
                exit_code=exc.exit_code,
                kind="usage",
                message=exc.format_message(),
                hint=f"see `{context.command_path} --help`" if context is not None else None,
            )
        except (click.Abort, KeyboardInterrupt) as exc:
            fail(exc, as_json, exit_code=EXIT_INTERRUPTED, kind="interrupted", message="interrupted")
        except BrokenPipeError:
            stdout_closed()
        # Without standalone mode click returns an Exit's code (--help, --version) or the command's value.
        sys.exit(result if isinstance(result, int) and not isinstance(result, bool) else EXIT_OK)

    # click itself ends a closed stdout with exit 1; these two cover everything it prints (--help
    # and --version in make_context, every subcommand within invoke), so the exit is EXIT_BROKEN_PIPE.
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            stdout_closed()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            stdout_closed()


existing_file = click.Path(exists=False, dir_okay=False, path_type=Path)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zksolv")
def main() -> None:
    """zksolv: prove in zero knowledge that every margin account is above maintenance."""


@main.command()
@click.option("--params", "params_path", required=True, type=existing_file, help="risk parameters (params.json)")
@click.option("--accounts", "accounts_path", required=True, type=existing_file, help="accounts (CSV or JSON)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable report on stdout")
@handle_errors
def check(params_path: Path, accounts_path: Path, as_json: bool) -> None:
    """Check every account against maintenance margin (exit 1 if any is below, or if the params say
    balanced_markets and some market's long and short differ)."""
    result = api.check(params_path, accounts_path)
    doc = result.document()
    quote = doc["quote"]
    if as_json:
        emit_json(doc)
    else:
        for item in doc["below_maintenance"]:
            click.echo(
                f"BELOW MAINTENANCE  {label(item['account_id'], item['subaccount'])}: "
                f"health {item['health']} {quote}, "
                f"shortfall {item['shortfall']} {quote}"
                + (f", BANKRUPT: bad debt {item['bad_debt']} {quote}" if item["bankrupt"] else "")
            )
        click.echo(f"accounts: {doc['accounts']}; below maintenance: {len(doc['below_maintenance'])}")
        print_totals(doc["totals"])
        print_liquidations(doc["liquidations"], quote)
        if doc["scenarios"]:
            print_stress(doc["scenarios"], quote)
            for item in doc["below_maintenance_in_scenarios"][:20]:
                click.echo(
                    f"  below maintenance in {item['scenario']!r}: {label(item['account_id'], item['subaccount'])} "
                    f"(health {item['health']} {quote})"
                )
        for option in doc["options"]:
            click.echo(
                f"  option {option['symbol']}: value {option['value']} {quote}, "
                f"delta {option['delta']}, gamma {option['gamma']}"
            )
        for row in doc["unbalanced_markets"]:
            click.echo(f"UNBALANCED  {row['market']}: long {row['long']}, short {row['short']} (balanced_markets)")
        if not doc["solvent"]:
            click.echo("FAIL: some accounts are below maintenance (prove needs --allow-liquidations)")
        if doc["unbalanced_markets"]:
            click.echo("FAIL: the params promise balanced markets, but a counterparty is missing (prove refuses)")
        if doc["solvent"] and not doc["unbalanced_markets"]:
            click.echo("OK: every account is at or above maintenance")
    verdict(result.ok)


@main.command()
@click.option("--params", "params_path", required=True, type=existing_file)
@click.option("--accounts", "accounts_path", required=True, type=existing_file)
@click.option("--secret", "secret_path", required=True, type=existing_file, help="seed file from keygen-secret")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--capacity", type=int, default=None, help="tree capacity, a power of two (default: next ≥ accounts)")
@click.option("--force", is_flag=True, help="replace an existing output folder")
@click.option(
    "--inclusion-layout",
    type=click.Choice(["auto", "files", "sqlite"]),
    default="auto",
    show_default=True,
    help="the private inclusion files: one JSON file per holder, or one SQLite store "
    "(inclusion.sqlite, served by `zksolv inclusion get`); auto = files up to 10,000 holders",
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def commit(
    params_path: Path,
    accounts_path: Path,
    secret_path: Path,
    out_dir: Path,
    capacity: int | None,
    force: bool,
    inclusion_layout: str,
    as_json: bool,
) -> None:
    """Commit to all accounts: writes OUT/commitment.json and OUT/inclusion/ (one JSON file per
    holder, or with many holders one store OUT/inclusion/inclusion.sqlite)."""
    commitment = api.commit(
        params_path, accounts_path, secret_path, capacity, out=out_dir, force=force, inclusion_layout=inclusion_layout
    )
    holders = commitment.n_holders
    layout = api.resolve_inclusion_layout(holders, inclusion_layout)
    summary = {
        **commitment.document(),
        "accounts": commitment.n_accounts,
        "holders": holders,
        "out": str(out_dir),
        "inclusion_layout": layout,
    }
    if as_json:
        emit_json(summary)
    else:
        where = (
            f"{holders} inclusion files, one per holder with all their sub-accounts, in {out_dir}/inclusion/"
            if layout == "files"
            else f"the inclusion files of {holders} holders, each with all their sub-accounts, in one store "
            f"{out_dir}/inclusion/inclusion.sqlite (`zksolv inclusion get {out_dir}/inclusion ID` gives one)"
        )
        click.echo(
            f"root {summary['root']}\ncapacity {commitment.capacity} ({commitment.n_accounts} accounts)\n"
            f"wrote {out_dir}/commitment.json and {where} (private: hand each to its holder)"
        )


@main.group()
def inclusion() -> None:
    """Inclusion files: a venue hands a holder theirs (get); the holder checks that their accounts
    are in the commitment (verify)."""


@inclusion.command("verify")
@click.argument("proof", type=existing_file)
@click.option("--root", type=str, default=None, help="root to check against (decimal); needs --capacity")
@click.option("--capacity", type=int, default=None, help="published tree capacity (fixes the path length)")
@click.option("--commitment", "commitment_path", type=existing_file, default=None, help="published commitment.json")
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="published proof bundle (checks its root, epoch and params)",
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def inclusion_verify(
    proof: Path,
    root: str | None,
    capacity: int | None,
    commitment_path: Path | None,
    bundle_path: Path | None,
    as_json: bool,
) -> None:
    """Verify a holder's inclusion file: every path in it (main account and each sub-account);
    prints each account's balances and how it was counted when valid."""
    result = api.verify_inclusion_file(proof, root, commitment_path, bundle_path, capacity)
    # What is shown is what the leaves hash: every slot of the params, rendered from the integers.
    shown = result.shown_accounts()
    if as_json:
        emit_json(result.document())
    elif result.valid:
        subs = sum(1 for account in shown if account["subaccount"])
        what = (["the main account"] if subs < len(shown) else []) + (
            [f"{subs} isolated sub-account{'s' if subs > 1 else ''}"] if subs else []
        )
        click.echo(
            f"VALID: account {result.account_id!r} is in the commitment"
            + (f" ({' and '.join(what)}, each on its own path to the root)" if subs else "")
        )
        for account in shown:
            click.echo(
                f"{label(account['account_id'], account['subaccount'])} "
                f"({'isolated sub-account' if account['subaccount'] else 'main account'}):"
            )
            for symbol, value in account["balances"].items():
                click.echo(f"  balance  {symbol}: {value}")
            for symbol, value in account["positions"].items():
                click.echo(f"  position {symbol}: {value}")
            for symbol, value in account.get("entry_costs", {}).items():
                click.echo(f"  entry cost {symbol}: {value} (size × entry price)")
            if "margin_mode" in account:
                click.echo(
                    f"  margin mode: {account['margin_mode']}"
                    + (" (worst health over the published scenarios)" if account["margin_mode"] == "portfolio" else "")
                )
            click.echo(
                f"  maintenance health {account['maintenance_health']}: "
                + (
                    "counted BELOW maintenance (in liquidation)"
                    if account["below_maintenance"]
                    else "counted at or above maintenance"
                )
                + (f"; equity {account['equity']}: counted bankrupt" if account["bankrupt"] else "")
            )
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    else:
        click.echo(f"INVALID: {result.reason}")
        for entry in result.subaccounts:
            name = label(result.account_id or "", entry.subaccount)
            click.echo(f"  [ok] {name}" if entry.valid else f"  [FAIL] {name}: {entry.reason}")
    verdict(result.valid)


@inclusion.command("get")
@click.argument("inclusion_dir", type=click.Path(path_type=Path))
@click.argument("account_id")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the file there (atomically) instead of printing it",
)
@click.option("--force", is_flag=True, help="replace an existing --out file")
@click.option("--json", "as_json", is_flag=True, help="with --out, report what was written as JSON")
@handle_errors
def inclusion_get(inclusion_dir: Path, account_id: str, out_path: Path | None, force: bool, as_json: bool) -> None:
    """Print one holder's inclusion file (JSON), from the inclusion folder that `commit` or `prove`
    wrote: its inclusion.sqlite store, or the holder's own file. The output is the holder's file
    byte for byte, for `zksolv inclusion verify`."""
    document = api.inclusion_get(inclusion_dir, account_id, out_path, force)
    if out_path is None:
        emit_json(document)  # json.dumps with indent 2 and a newline: the file's own bytes
        return
    accounts = len(document["subaccounts"])
    if as_json:
        emit_json({"account_id": account_id, "out": str(out_path), "accounts": accounts})
    else:
        click.echo(
            f"wrote {out_path}: the inclusion file of {account_id!r} ({accounts} account{'s' if accounts > 1 else ''}; "
            "private: hand it to its holder)"
        )


@main.command("page")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="folder for inclusion.html: beside the bundle folders, not inside one",
)
@click.option("--force", is_flag=True, help="replace an existing inclusion.html")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def page_command(out_dir: Path, force: bool, as_json: bool) -> None:
    """Write the holders' page, OUT/inclusion.html: one self-contained file in which a holder checks
    their inclusion file against a bundle's manifest.json in the browser, sending nothing. Host it
    beside the bundles and link inclusion.html?bundle=FOLDER (the page then loads that manifest)."""
    result = api.inclusion_page(out_dir, force)
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"wrote {result['page']} ({result['bytes'] // 1024} KiB, sha256 {result['sha256']}): "
            "host it beside the bundle folders and link inclusion.html?bundle=FOLDER"
        )


def label(account_id: str, subaccount: str) -> str:
    """`alice`, or `alice/isolated-btc` for a sub-account (the JSON output gives the two fields)."""
    return f"{account_id}/{subaccount}" if subaccount else account_id


@main.command()
@click.argument("which", type=click.Choice(["all", "params", "accounts"]), default="all")
@click.option("--json", "as_json", is_flag=True, help="the same document; accepted as on every command")
@handle_errors
def schema(which: str, as_json: bool) -> None:
    """Print the JSON Schema of the inputs (params.json, JSON accounts): one JSON document, with or
    without --json."""
    schemas = api.input_schemas()
    emit_json(schemas if which == "all" else schemas[which])


@main.command("keygen-secret")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="report what was written as JSON (never the secret)")
@handle_errors
def keygen_secret(path: Path, as_json: bool) -> None:
    """Write a new random secret seed (owner-only permissions; never printed)."""
    written = api.keygen_secret(path)
    if as_json:
        emit_json({"secret": str(written), "mode": f"{written.stat().st_mode & 0o777:04o}"})
    else:
        click.echo(f"wrote a new secret to {path} (mode 0600). Keep it: it reproduces every salt and key.")


def print_totals(totals: dict[str, Any]) -> None:
    for symbol, t in totals["assets"].items():
        click.echo(f"  {symbol}: credits {t['credit']}, debits {t['debit']}")
    for symbol, t in totals["markets"].items():
        click.echo(f"  {symbol}: long {t['long']}, short {t['short']}, net {t['net']}")
    for symbol, t in totals.get("entry_costs", {}).items():
        click.echo(f"  {symbol} entry costs: paid {t['paid']}, received {t['received']}, net {t['net']}")


def print_liquidations(doc: dict[str, Any], quote: str) -> None:
    fund = f"{doc['insurance_fund']} {quote}" if doc["insurance_fund"] is not None else "none published"
    click.echo(
        f"  below maintenance: {doc['accounts_below_maintenance']} accounts, shortfall {doc['shortfall']} {quote}"
    )
    click.echo(
        f"  negative equity:   {doc['bankrupt_accounts']} accounts, bad debt {doc['bad_debt']} {quote}; "
        f"insurance fund {fund}: {'covered' if doc['covered'] else 'NOT COVERED'}"
    )


def print_stress(rows: list[dict[str, Any]], quote: str) -> None:
    """The stress report as a table: one row per scenario (PROTOCOL.md §3.3)."""
    width = max(len("scenario"), *(len(r["name"]) for r in rows))
    click.echo(f"  stress report ({quote}):")
    click.echo(f"    {'scenario':<{width}}  {'below':>6}  {'shortfall':>18}  {'bad debt':>18}  covered")
    for r in rows:
        click.echo(
            f"    {r['name']:<{width}}  {r['accounts_below_maintenance']:>6}  {r['shortfall']:>18}  "
            f"{r['bad_debt']:>18}  {'yes' if r['covered'] else 'NO'}"
        )


@main.group("params")
def params_group() -> None:
    """Build params.json."""


@params_group.command("price")
@click.option("--params", "params_path", required=True, type=existing_file, help="params.json to start from")
@click.option(
    "--from",
    "observations_path",
    required=True,
    type=existing_file,
    help="oracle history CSV: symbol,time,price[,source]",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="params file to write (the derived prices and their data)",
)
@click.option(
    "--method",
    type=click.Choice(["twap", "median"]),
    default="twap",
    show_default=True,
    help="time-weighted average of one series, or median of several sources",
)
@click.option("--window", type=int, default=3600, show_default=True, help="TWAP window in seconds, ending at --at")
@click.option("--at", default=None, help="ISO-8601 UTC time the window ends / the median is taken (default: epoch)")
@click.option(
    "--precision",
    type=click.IntRange(0, 18),
    default=2,
    show_default=True,
    help="fraction digits of the derived prices (rounded half up)",
)
@click.option("--symbol", "symbols", multiple=True, help="only these symbols (default: every one in both files)")
@click.option("--force", is_flag=True, help="replace an existing --out file")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def params_price(
    params_path: Path,
    observations_path: Path,
    out_path: Path,
    method: str,
    window: int,
    at: str | None,
    precision: int,
    symbols: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Derive mark / index prices from oracle observations (TWAP or median) into a params file."""
    doc = api.params_price(
        params_path, observations_path, out_path, method, window, at, precision, symbols or None, force
    )
    if as_json:
        emit_json(doc)
        return
    for symbol, derived in doc["prices"].items():
        click.echo(
            f"{symbol}: {derived['price']} ({doc['method']} of {derived['inputs']} "
            f"{'observations' if doc['method'] == 'twap' else 'sources'} at {doc['at']})"
        )
    click.echo(f"wrote {doc['params']}")


@params_group.command("suggest-decimals")
@click.option("--params", "params_path", required=True, type=existing_file, help="params.json to start from")
@click.option("--accounts", "accounts_path", required=True, type=existing_file, help="accounts (CSV or JSON)")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the params with the suggested decimals",
)
@click.option("--force", is_flag=True, help="replace an existing --out file")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def params_suggest_decimals(
    params_path: Path, accounts_path: Path, out_path: Path | None, force: bool, as_json: bool
) -> None:
    """Propose decimals at which every amount of the accounts fits (e.g. 18-decimal tokens)."""
    doc = api.params_suggest_decimals(params_path, accounts_path, out_path, force)
    if as_json:
        emit_json(doc)
        return
    for s in doc["suggestions"]:
        note = "rounded down (each balance loses < 1 base unit)" if s["rounding"] == "down" else "exact"
        click.echo(
            f"{s['symbol']}: {s['decimals']} -> {s['suggested_decimals']} decimals, {note}; largest "
            f"{s['largest_amount']}, ceiling {s['ceiling']}"
        )
    if doc["params"]:
        click.echo(f"wrote {doc['params']}")


@main.group()
def circuit() -> None:
    """Inspect the batch circuit."""


@circuit.command("info")
@click.option("--params", "params_path", required=True, type=existing_file)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def circuit_info(params_path: Path, batch_size: int, as_json: bool) -> None:
    """Compile (cached) and report constraints in total and per account."""
    doc = api.circuit_info(params_path, batch_size)
    if as_json:
        emit_json(doc)
    else:
        for key, value in doc.items():
            if key != "ceremony_ptau":
                click.echo(f"{key}: {value}")
        public = doc["ceremony_ptau"]
        if public is None:
            click.echo(f"ceremony_ptau: no listed public ceremony file covers power {doc['ptau_power']}")
        else:
            click.echo(
                f"ceremony_ptau: {public['name']} (power {public['power']}; {public['ceremony']})\n"
                f"  download: {public['url']}\n  b2sum must print: {public['blake2b']}\n"
                f"  (hash published in {public['hash_source']}); then `zksolv ceremony init --ptau FILE` "
                "(docs/CEREMONY.md)"
            )


@main.command("setup")
@click.option("--params", "params_path", required=True, type=existing_file, help="params.json (for the shape)")
@click.option("--batch-size", type=int, default=64, show_default=True, help="accounts per proof, a power of two")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ptau",
    type=existing_file,
    default=None,
    help="ceremony powers of tau; without it a local INSECURE development one is made and cached",
)
@click.option("--force", is_flag=True, help="replace an existing keys folder")
@click.option(
    "--native-witness",
    is_flag=True,
    help="also build circom's C++ witness generator into the keys (minutes; needs g++, nasm, "
    "nlohmann-json3-dev, libgmp-dev: `make native-witness`); prove runs it instead of the WASM one, "
    "which stays the fallback",
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def setup_command(
    params_path: Path,
    batch_size: int,
    out_dir: Path,
    ptau: Path | None,
    force: bool,
    native_witness: bool,
    as_json: bool,
) -> None:
    """Groth16 setup for the params' shape: proving key, verification key, Verifier.sol."""
    from .progress import step_printer

    keys = api.setup(
        params_path,
        out_dir,
        batch_size,
        ptau,
        force,
        on_event=step_printer(quiet=as_json),
        native_witness=native_witness,
    )
    if as_json:
        emit_json({"keys": str(out_dir), **keys.info})
    else:
        click.echo(
            f"keys written to {out_dir}: {keys.info['constraints']} constraints "
            f"({keys.info['constraints_per_account']} per account), ptau 2^{keys.info['ptau']['power']}"
        )
        native = keys.info.get("native_witness")
        if native is not None:
            click.echo(f"native witness generator: {native['binary']} (sha256 {native['sha256']})")
        if keys.insecure:
            click.echo("WARNING: development setup (local powers of tau): INSECURE, for testing only", err=True)


@main.command("prove")
@click.option("--params", "params_path", required=True, type=existing_file)
@click.option("--accounts", "accounts_path", required=True, type=existing_file)
@click.option("--secret", "secret_path", required=True, type=existing_file)
@click.option("--keys", "keys_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--inclusion-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for the private inclusion files, one per holder (all their sub-accounts)",
)
@click.option("--capacity", type=int, default=None, help="tree capacity (power of two, ≥ 2 batches)")
@click.option("--force", is_flag=True, help="replace existing output folders")
@click.option("--json", "as_json", is_flag=True, help="progress events and the result as JSON lines")
@click.option(
    "--prover",
    type=click.Choice(["auto", "snarkjs", "arkworks"]),
    default="auto",
    show_default=True,
    help="auto (arkworks when groth16py is installed, else snarkjs), snarkjs or arkworks",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="local processes proving batches in parallel [default: cores for arkworks, max(2, cores/2) for "
    "snarkjs; 1 = in this process]",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="prove on a Dask distributed cluster (workers: `dask worker ADDRESS --nthreads 1`)",
)
@click.option(
    "--worker-keys",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="the keys folder as the workers see it, if not at the --keys path",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="times a batch is proved again when its worker fails or dies",
)
@click.option(
    "--allow-liquidations",
    is_flag=True,
    help="prove even with accounts below maintenance, publishing their count, shortfall and bad debt",
)
@handle_errors
def prove_command(
    params_path: Path,
    accounts_path: Path,
    secret_path: Path,
    keys_dir: Path,
    out_dir: Path,
    inclusion_out: Path | None,
    capacity: int | None,
    force: bool,
    as_json: bool,
    prover: str,
    workers: int | None,
    scheduler: str | None,
    worker_keys: Path | None,
    retries: int,
    allow_liquidations: bool,
) -> None:
    """Commit, prove every batch and write the bundle (refuses if any account is below maintenance,
    unless --allow-liquidations).

    Batches are proved in parallel by local processes (--workers) or on a Dask cluster
    (--scheduler), each checked and saved as it arrives: an interrupted run resumes."""
    from .progress import event_printer

    if inclusion_out is None:
        # Before the work, where it can still change the run (JSON: the `done` event's warnings).
        click.echo(
            "warning: no --inclusion-out: no inclusion files will be written, so no account holder can "
            "check that their account is in the commitment",
            err=True,
        )
    with event_printer(as_json) as on_event:
        result = api.prove(
            params_path,
            accounts_path,
            secret_path,
            keys_dir,
            out_dir,
            inclusion_out,
            capacity,
            force,
            on_event,
            workers=workers,
            scheduler=scheduler,
            prover=prover,
            retries=retries,
            worker_keys=worker_keys,
            allow_liquidations=allow_liquidations,
        )
    if not as_json:
        click.echo(f"bundle {result.bundle}: root {result.commitment.root}")
        click.echo(
            f"{result.plan.n_batches} batches of {result.plan.batch_size} "
            f"({result.commitment.n_accounts} accounts, capacity {result.commitment.capacity}); "
            f"{result.proved} proved now in {result.seconds:.1f} s"
        )
        if inclusion_out:
            click.echo(f"inclusion proofs (private) in {inclusion_out}")


@main.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--backend",
    type=click.Choice(["auto", "snarkjs", "python", "evm", "all"]),
    default="auto",
    show_default=True,
    help="who checks the Groth16 proofs: auto = snarkjs if Node is installed, else "
    "pure Python; all = the three, which must agree",
)
@click.option(
    "--trusted-vkey",
    "trusted_vkeys",
    multiple=True,
    metavar="SHA256",
    help="pin the verification key: the bundle's key must have this SHA-256 (repeatable)",
)
@click.option(
    "--trusted-keys",
    "trusted_keys",
    multiple=True,
    type=existing_file,
    metavar="FILE",
    help="pin the key by a trust file (`zksolv audit-setup --json` output, one document or a list): "
    "the key must be an audited one, for the bundle's shape (repeatable)",
)
@click.option(
    "--require-ceremony",
    is_flag=True,
    help="fail unless the key is pinned by a trust file whose audit found a published ceremony ptau",
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def verify_command(
    bundle: Path,
    backend: str,
    trusted_vkeys: tuple[str, ...],
    trusted_keys: tuple[Path, ...],
    require_ceremony: bool,
    as_json: bool,
) -> None:
    """Verify a proof bundle (exit 0 valid, 1 invalid, 2 unreadable).

    The verification key comes with the bundle, chosen by the venue: pin it (--trusted-keys from
    `zksolv audit-setup`, or --trusted-vkey) or the claim holds only if that key is the right one."""
    from .progress import verify_printer

    report = api.verify(
        bundle,
        backend,
        require_ceremony,
        trusted_vkeys,
        trusted_keys,
        gas_report=backend in ("evm", "all"),  # the EVM checked the proofs: show its gas too
        on_event=verify_printer(quiet=as_json),
    )
    gas = report.evm
    if as_json:
        emit_json(report.document())
    else:
        for check in report.checks:
            click.echo(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        if gas:
            click.echo(
                f"EVM ({gas['fork']}, solc {gas['solc']}): registry fully proven: {gas['fully_proven']}; "
                f"deploy gas {gas['deploy_gas']}"
            )
            for item in gas["batches"]:
                click.echo(
                    f"  batch {item['index']}: verifyProof {item['verify_proof_gas']:,} gas, "
                    f"registry submit {item['submit_gas']:,} gas"
                )
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        if report.valid and report.manifest is not None:  # a valid report always read its manifest
            manifest = report.manifest
            liquidations = manifest["liquidations"]
            below = liquidations["accounts_below_maintenance"]
            claim = (
                "every account under root {root} is at or above maintenance"
                if below == 0
                else "every account under root {root} is at or above maintenance except {below} counted below "
                "maintenance, whose shortfall and bad debt are proved and covered"
            )
            click.echo(f"VALID: at {manifest['epoch']} {claim.format(root=manifest['root'], below=below)}; totals:")
            print_totals(manifest["totals"])
            print_liquidations(liquidations, manifest["quote"])
            if manifest["scenarios"]:
                print_stress(manifest["scenarios"], manifest["quote"])
        else:
            failed = ", ".join(c.name + (f" ({c.backend})" if c.backend else "") for c in report.checks if not c.ok)
            click.echo(f"INVALID: failed check(s): {failed}")
        trust = report.trust or {}
        if trust and not trust.get("pinned"):
            # On stdout next to the verdict, not among the warnings: it qualifies the verdict itself.
            click.echo(f"KEY NOT PINNED: {trust['statement']}.")
            click.echo(f"  to audit it: {trust['how_to_audit']}")
        elif trust.get("by"):
            click.echo(f"key pinned ({'audit' if trust['by'] == 'audit' else '--trusted-vkey'}): {trust['statement']}")
    verdict(report.valid)


@main.command("report")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the report file"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md"]),
    default="html",
    show_default=True,
    help="html: one self-contained page with the stress chart; md: the same content as Markdown tables",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "snarkjs", "python", "evm", "all"]),
    default="python",
    show_default=True,
    help="who checks the Groth16 proofs, as for verify (python needs no Node)",
)
@click.option("--trusted-vkey", "trusted_vkeys", multiple=True, metavar="SHA256", help="as for verify (repeatable)")
@click.option("--trusted-keys", "trusted_keys", multiple=True, type=existing_file, metavar="FILE", help="as for verify")
@click.option("--require-ceremony", is_flag=True, help="as for verify")
@click.option("--force", is_flag=True, help="replace an existing --out file")
@click.option("--json", "as_json", is_flag=True, help="print what was written and the verdict as JSON")
@handle_errors
def report_command(
    bundle: Path,
    out_path: Path,
    fmt: str,
    backend: str,
    trusted_vkeys: tuple[str, ...],
    trusted_keys: tuple[Path, ...],
    require_ceremony: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Verify a bundle and write its audit report (exit 0 valid, 1 invalid: the report is written
    and says INVALID, 2 unreadable).

    Every figure in the report is one verify establishes (those of `zksolv verify --json`): the claim in
    plain words, each check, the key pinning and setup status, the totals with their quote values, the
    liquidation figures and, with scenarios, the stress table and chart."""
    result = api.report(bundle, out_path, fmt, backend, require_ceremony, trusted_vkeys, trusted_keys, force)
    if as_json:
        emit_json(result.document())
    else:
        doc = result.document()
        state = "VALID" if doc["valid"] else f"INVALID (failed check(s): {', '.join(doc['failed_checks'])})"
        click.echo(f"wrote {doc['out']} ({fmt}): {state}")
    verdict(result.valid)


@main.command("audit-setup")
@click.argument("keys_dir", type=click.Path(path_type=Path))
@click.option(
    "--ptau",
    required=True,
    type=existing_file,
    help="the powers of tau the keys were made from (the one setup.json names)",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print the audit as one JSON document: the trust file that `zksolv verify --trusted-keys` reads",
)
@handle_errors
def audit_setup_command(keys_dir: Path, ptau: Path, as_json: bool) -> None:
    """Audit a keys folder once per shape (exit 0 passed, 1 failed, 2 unreadable).

    Recompiles the circuit for the keys' shape from this zksolv's circuits/ and checks that
    circuit.r1cs is that circuit, that circuit.zkey follows from it and PTAU (snarkjs zkey
    verify), that verification_key.json and Verifier.sol are exported from that zkey, and names
    the ptau by its published hash. Then pin the printed key hash when verifying bundles."""
    from .progress import step_printer

    report = api.audit_setup(keys_dir, ptau, on_event=step_printer(quiet=as_json))
    if as_json:
        emit_json(report.document())
    else:
        for check in report.checks:
            click.echo(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        click.echo(f"shape: {report.shape}")
        click.echo(f"r1cs SHA-256: {report.r1cs_sha256}")
        click.echo(f"ptau: {report.ptau.label} (blake2b {report.ptau.blake2b[:32]}…, power {report.ptau.power})")
        for c in report.phase2_contributions:
            click.echo(f"phase-2 contribution #{c.index} {c.name or '(unnamed)'}: {c.hash}{beacon_note(c.beacon)}")
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        if report.passed:
            click.echo(
                f"PASSED ({report.ptau.label}): pin verification key SHA-256 "
                f"{report.verification_key_sha256} for {report.shape} "
                f"(zksolv verify --trusted-vkey HASH, or save --json output for --trusted-keys)"
            )
        else:
            failed = ", ".join(c.name for c in report.checks if not c.ok)
            click.echo(
                f"FAILED: failed check(s): {failed}; do not trust verification key SHA-256 "
                f"{report.verification_key_sha256}"
            )
    verdict(report.passed)


def beacon_note(beacon: Any) -> str:
    """` (beacon HEX, 2^N rounds)` after a contribution that is a public random beacon."""
    return f" (beacon {beacon.hash}, 2^{beacon.iterations_exp} SHA-256 rounds)" if beacon is not None else ""


@main.group()
def ceremony() -> None:
    """A multi-party phase-2 ceremony (docs/CEREMONY.md): init → contribute (each party) → beacon →
    verify → export, so that no single party, the venue included, knows the keys' secret."""


@ceremony.command("init")
@click.option("--params", "params_path", required=True, type=existing_file, help="params.json (for the shape)")
@click.option("--batch-size", type=int, default=64, show_default=True, help="accounts per proof, a power of two")
@click.option("--ptau", required=True, type=existing_file, help="a public powers-of-tau file (`zksolv circuit info`)")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace an existing ceremony folder")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def ceremony_init_command(
    params_path: Path, batch_size: int, ptau: Path, out_dir: Path, force: bool, as_json: bool
) -> None:
    """Start a ceremony: OUT/circuit_0000.zkey (no contribution yet) and OUT/ceremony.json."""
    from .progress import step_printer

    transcript = api.ceremony_init(params_path, out_dir, ptau, batch_size, force, on_event=step_printer(quiet=as_json))
    if as_json:
        emit_json({"ceremony": str(out_dir), **transcript.model_dump()})
    else:
        click.echo(
            f"ceremony for {transcript.shape} started in {out_dir}: circuit hash {transcript.circuit_hash[:32]}…, "
            f"ptau {transcript.ptau.name or transcript.ptau.file} (power {transcript.ptau.power})"
        )
        click.echo(f"next: each contributor runs `zksolv ceremony contribute {out_dir} --name NAME` in turn")


@ceremony.command("contribute")
@click.argument("ceremony_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", required=True, help="who contributes (recorded in the key, at most 64 bytes)")
@click.option(
    "--entropy-file",
    type=existing_file,
    default=None,
    help="extra entropy of your own, hashed in with 64 bytes from the OS (never written anywhere)",
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def ceremony_contribute_command(ceremony_dir: Path, name: str, entropy_file: Path | None, as_json: bool) -> None:
    """Add your contribution to the ceremony in CEREMONY_DIR (then hand the folder on)."""
    from .progress import step_printer

    entry = api.ceremony_contribute(ceremony_dir, name, entropy_file, on_event=step_printer(quiet=as_json))
    if as_json:
        emit_json(entry.model_dump())
    else:
        click.echo(f"contribution #{entry.index} {entry.name!r} written to {ceremony_dir / entry.zkey}")
        click.echo(f"contribution hash (publish it, so anyone can find it in the keys): {entry.hash}")
        click.echo("nothing secret was written: your contribution's secret existed only in snarkjs's memory")


@ceremony.command("beacon")
@click.argument("ceremony_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--hash", "beacon_hash", required=True, help="the beacon value, hex (e.g. a future block's hash)")
@click.option(
    "--iterations-exp", type=int, default=10, show_default=True, help="2^N SHA-256 rounds over the hash (10 to 63)"
)
@click.option("--name", default="beacon", show_default=True, help="the name recorded in the key")
@click.option("--source", default=None, help="what the value is, e.g. 'Ethereum block 21000000' (recorded)")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def ceremony_beacon_command(
    ceremony_dir: Path, beacon_hash: str, iterations_exp: int, name: str, source: str | None, as_json: bool
) -> None:
    """Close the ceremony with a public random beacon announced in advance."""
    from .progress import step_printer

    entry = api.ceremony_beacon(
        ceremony_dir, beacon_hash, iterations_exp, name, source, on_event=step_printer(quiet=as_json)
    )
    if as_json:
        emit_json(entry.model_dump())
    else:
        click.echo(f"beacon #{entry.index} {entry.name!r} written to {ceremony_dir / entry.zkey}: {entry.hash}")
        click.echo(f"the ceremony is closed: `zksolv ceremony verify {ceremony_dir} --ptau PTAU`, then export")


@ceremony.command("verify")
@click.argument("ceremony_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--ptau", required=True, type=existing_file, help="the powers of tau the ceremony started from")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def ceremony_verify_command(ceremony_dir: Path, ptau: Path, as_json: bool) -> None:
    """Verify a ceremony and list its contributions (exit 0 passed, 1 failed, 2 unreadable)."""
    from .progress import step_printer

    report = api.ceremony_verify(ceremony_dir, ptau, on_event=step_printer(quiet=as_json))
    if as_json:
        emit_json(report.document())
    else:
        for check in report.checks:
            click.echo(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        for c in report.contributions:
            click.echo(f"contribution #{c.index} {c.name}: {c.hash}{beacon_note(c.beacon)}")
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        failed = ", ".join(c.name for c in report.checks if not c.ok)
        click.echo(
            f"PASSED: {report.shape}, {len(report.contributions)} contribution(s)"
            if report.passed
            else f"FAILED: failed check(s): {failed}"
        )
    verdict(report.passed)


@ceremony.command("export")
@click.argument("ceremony_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace an existing keys folder")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def ceremony_export_command(ceremony_dir: Path, out_dir: Path, force: bool, as_json: bool) -> None:
    """Write a keys folder for `zksolv prove` from the ceremony's newest key."""
    from .progress import step_printer

    keys = api.ceremony_export(ceremony_dir, out_dir, force, on_event=step_printer(quiet=as_json))
    if as_json:
        emit_json({"keys": str(out_dir), **keys.info})
    else:
        n = len(keys.info["phase2"]["contributions"])
        click.echo(f"keys written to {out_dir} from {n} contribution(s); audit them: `zksolv audit-setup {out_dir}`")


@main.command("demo")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True
)
@click.option("--accounts", "n_accounts", type=int, default=300, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option(
    "--venue",
    type=click.Choice(["flat", "portfolio"]),
    default="flat",
    show_default=True,
    help="flat: tiered perps and sub-accounts; portfolio: BTC options, 18 scenarios, portfolio margin",
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def demo_command(out_dir: Path, n_accounts: int, batch_size: int, venue: str, as_json: bool) -> None:
    """Synthetic snapshot → setup (cached) → prove → verify, with a summary."""
    from .progress import step_printer

    summary = api.demo(out_dir, n_accounts, batch_size, on_event=step_printer(quiet=as_json, err=False), venue=venue)
    if as_json:
        emit_json(summary)
    verdict(summary["valid"])


@main.group()
def export() -> None:
    """Export parts of a bundle for other tools."""


@export.command("calldata")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="the same document; errors as the JSON error document")
@handle_errors
def export_calldata_command(bundle: Path, as_json: bool) -> None:
    """Print the calldata of a publication (JSON): the registry's publishEpoch and openTotals
    arguments, and per batch verifyProof's and the registry's submitBatch's (ABI-ready values and
    transaction data). `zksolv publish` sends them itself."""
    emit_json(api.export_calldata(bundle))


@main.command("publish")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rpc", required=True, metavar="URL", help="the node's HTTP JSON-RPC endpoint")
@click.option(
    "--registry",
    default=None,
    metavar="ADDRESS",
    help="reuse this SolvencyRegistry (audited against the bundle first); default: deploy the verifier, "
    "the Poseidon contracts and a registry",
)
@click.option(
    "--key-file",
    type=existing_file,
    default=None,
    help="the sender's private key, 64 hex digits, in a file only its owner can read (never printed)",
)
@click.option(
    "--from", "from_address", default=None, metavar="ADDRESS", help="send from an account the node holds unlocked"
)
@click.option("--chain-id", type=int, default=None, help="refuse any other chain")
@click.option(
    "--max-batches",
    type=click.IntRange(min=0),
    default=None,
    help="submit at most this many batches in this run (run again to continue)",
)
@click.option("--no-verify", is_flag=True, help="skip `zksolv verify` of the bundle before sending anything")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="the result as one JSON document: addresses, every transaction's hash and gas",
)
@handle_errors
def publish_command(
    bundle: Path,
    rpc: str,
    registry: str | None,
    key_file: Path | None,
    from_address: str | None,
    chain_id: int | None,
    max_batches: int | None,
    no_verify: bool,
    as_json: bool,
) -> None:
    """Publish a bundle on a chain (exit 0 once the registry says isFullyProvenAndOpened, 1 while
    batches are still to submit, 2 refused, 4 node unreachable).

    Verifies the bundle, deploys the contracts (or audits --registry), publishes the epoch, opens its
    totals and submits every batch not yet proven there: an interrupted run, run again with the
    registry's address, resumes without sending any batch twice."""
    from .progress import step_printer

    result = api.publish(
        bundle,
        rpc,
        registry,
        key_file,
        from_address,
        chain_id=chain_id,
        max_batches=max_batches,
        verify=not no_verify,
        on_event=step_printer(quiet=as_json),
    )
    doc = result.document()
    if as_json:
        emit_json(doc)
    else:
        for name, contract in doc["contracts"].items():
            how = f"deployed, {contract['gas_used']:,} gas" if contract["deployed"] else "reused"
            click.echo(f"{name}: {contract['address']} ({how})")
        for tx in doc["transactions"]:
            click.echo(f"  {tx['what']}: {tx['tx_hash']}, {tx['gas_used']:,} gas")
        click.echo(
            f"epoch {doc['epoch']} on registry {doc['registry']} (chain {doc['chain_id']}): {doc['submitted']} batches "
            f"submitted, {doc['skipped']} already proven, {doc['pending']} still to submit; "
            f"{doc['gas_used']:,} gas in this run"
        )
        click.echo(
            "isFullyProvenAndOpened: true"
            if doc["complete"]
            else f"isFullyProven: {str(doc['fully_proven']).lower()}; run again to submit the remaining batches"
        )
    verdict(result.complete)
