"""Command line: option parsing and formatting over `zksolv.api`, one api call per command.

Exit codes (zksolv.errors, README): 0 the claim holds, 1 it does not (insolvent account,
invalid proof, failed audit), 2 unusable input or output, 3 internal error, 4 a tool
(Node, circom, snarkjs, a prover or worker) is missing or failed, 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click

from . import api
from .errors import EXIT_FALSE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, ZksolvError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Print library errors (each line, then the hint) and exit with the error's own code;
    never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZksolvError as exc:
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - last line of defence: no tracebacks for users
            if os.environ.get("ZKSOLV_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc} (set ZKSOLV_DEBUG=1 for details)", err=True)
            sys.exit(EXIT_INTERNAL)

    return cast(F, wrapper)


def verdict(ok: bool) -> NoReturn:
    sys.exit(EXIT_OK if ok else EXIT_FALSE)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


existing_file = click.Path(exists=False, dir_okay=False, path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zksolv")
def main() -> None:
    """zksolv: prove in zero knowledge that every margin account is above maintenance."""


@main.command()
@click.option("--params", "params_path", required=True, type=existing_file, help="risk parameters (params.json)")
@click.option("--accounts", "accounts_path", required=True, type=existing_file, help="accounts (CSV or JSON)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable report on stdout")
@handle_errors
def check(params_path: Path, accounts_path: Path, as_json: bool) -> None:
    """Check every account against maintenance margin (exit 1 if any is below)."""
    doc = api.check(params_path, accounts_path).document()
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
        click.echo(
            "OK: every account is at or above maintenance"
            if doc["solvent"]
            else "FAIL: some accounts are below maintenance (prove needs --allow-liquidations)"
        )
    verdict(doc["solvent"])


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


def label(account_id: str, subaccount: str) -> str:
    """`alice`, or `alice/isolated-btc` for a sub-account (the JSON output gives the two fields)."""
    return f"{account_id}/{subaccount}" if subaccount else account_id


@main.command()
@click.argument("which", type=click.Choice(["all", "params", "accounts"]), default="all")
@handle_errors
def schema(which: str) -> None:
    """Print the JSON Schema of the inputs (params.json, JSON accounts)."""
    schemas = api.input_schemas()
    emit_json(schemas if which == "all" else schemas[which])


@main.command("keygen-secret")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def keygen_secret(path: Path) -> None:
    """Write a new random secret seed (owner-only permissions; never printed)."""
    api.keygen_secret(path)
    click.echo(f"wrote a new secret to {path} (mode 0600). Keep it: it reproduces every salt and key.")


def print_totals(totals: dict[str, Any]) -> None:
    for symbol, t in totals["assets"].items():
        click.echo(f"  {symbol}: credits {t['credit']}, debits {t['debit']}")
    for symbol, t in totals["markets"].items():
        click.echo(f"  {symbol}: long {t['long']}, short {t['short']}, net {t['net']}")


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
            click.echo(f"{key}: {value}")


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
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def setup_command(
    params_path: Path, batch_size: int, out_dir: Path, ptau: Path | None, force: bool, as_json: bool
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
    )
    if as_json:
        emit_json({"keys": str(out_dir), **keys.info})
    else:
        click.echo(
            f"keys written to {out_dir}: {keys.info['constraints']} constraints "
            f"({keys.info['constraints_per_account']} per account), ptau 2^{keys.info['ptau']['power']}"
        )
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
    report = api.verify(
        bundle, backend, require_ceremony, trusted_vkeys, trusted_keys, gas_report=backend in ("evm", "all")
    )  # the EVM checked the proofs: show its gas too
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
            failed = ", ".join(c.name for c in report.checks if not c.ok)
            click.echo(f"INVALID: failed check(s): {failed}")
        trust = report.trust or {}
        if trust and not trust.get("pinned"):
            # On stdout next to the verdict, not among the warnings: it qualifies the verdict itself.
            click.echo(f"KEY NOT PINNED: {trust['statement']}.")
            click.echo(f"  to audit it: {trust['how_to_audit']}")
        elif trust.get("by"):
            click.echo(f"key pinned ({'audit' if trust['by'] == 'audit' else '--trusted-vkey'}): {trust['statement']}")
    verdict(report.valid)


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
            click.echo(f"phase-2 contribution #{c.index} {c.name or '(unnamed)'}: {c.hash}")
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
@handle_errors
def export_calldata_command(bundle: Path) -> None:
    """Print verifyProof calldata for each batch (JSON), for submitting to a real chain."""
    emit_json(api.export_calldata(bundle))
