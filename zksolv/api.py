"""The library API: every CLI command is one call here (the CLI only parses options and formats).

    check · commit · verify_inclusion_file · inclusion_get · inclusion_page · input_schemas · keygen_secret ·
    circuit_info · setup · prove · verify · report · audit_setup · ceremony_* · demo · export_calldata ·
    params_price · publish

Arguments are checked here, not in the CLI, so a pipeline calling the library gets the same
refusals (ArgumentError) as a person at the command line. Every error is a ZksolvError carrying
its exit code (zksolv.errors). The prover side (setup, prove, circuits) and the EVM are imported
inside the calls that need them: a verifier's `import zksolv.api` loads neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .accounts import AccountsFile, read_accounts
from .bundle import MAX_BATCH_SIZE, liquidations_document, load_manifest, stress_document, totals_document
from .commitment import (
    Commitment,
    build_commitment,
    load_commitment_file,
    resolve_inclusion_layout,
    write_inclusion_proofs,
)
from .errors import ArgumentError, InputError, Problem, ToolchainError
from .events import EventSink, ignore
from .field import FIELD_MODULUS, EncodingError, parse_canonical_uint
from .inclusion import InclusionResult, load_inclusion_proof, verify_inclusion
from .inclusion_store import holder_file
from .io import OutputError, atomic_directory, dumps_json, write_json_atomic, write_text_atomic
from .margin import (
    SolvencyReport,
    bad_debt_to_quote,
    check_solvency,
    health_to_quote,
    option_greeks,
    unbalanced_markets,
)
from .params import ParamsFile, RiskParams, load_params
from .secret import generate_secret, load_secret
from .verify import Report, select_backends, verify_bundle

if TYPE_CHECKING:
    from .audit import AuditReport
    from .ceremony import CeremonyContribution, CeremonyReport
    from .ceremony import Transcript as CeremonyTranscript
    from .prove import ProveResult
    from .publish import PublishResult
    from .report import Published
    from .setup import Keys

__all__ = [
    "CheckResult",
    "audit_setup",
    "ceremony_beacon",
    "ceremony_contribute",
    "ceremony_export",
    "ceremony_init",
    "ceremony_verify",
    "check",
    "circuit_info",
    "commit",
    "demo",
    "export_calldata",
    "inclusion_get",
    "inclusion_page",
    "input_schemas",
    "keygen_secret",
    "load_commitment_file",
    "params_price",
    "prove",
    "publish",
    "report",
    "resolve_inclusion_layout",
    "setup",
    "verify",
    "verify_inclusion_file",
    "write_commitment",
]


def _count(value: object, least: int = 1) -> bool:
    """An integer ≥ `least` (not a bool, which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _batch_size(batch_size: int) -> int:
    """The accounts per proof: a power of two ≥ 2 (the batch is a subtree of the commitment), at most
    MAX_BATCH_SIZE."""
    if not _count(batch_size, 2) or batch_size & (batch_size - 1) or batch_size > MAX_BATCH_SIZE:
        raise ArgumentError(
            "batch_size",
            f"{batch_size!r} is not a power of two from 2 to 2^30",
            hint="--batch-size takes a power of two from 2 to 2^30 (accounts per proof)",
        )
    return batch_size


def _circuit_params(params_path: Path | str, batch_size: int) -> tuple[RiskParams, int]:
    """The params and batch size a circuit is made for (circuit_info, setup), refused before anything
    compiles: the shape needs a batch size `_batch_size` takes and at least one asset (the params allow
    markets only, but the circuit shape and the registry take K ≥ 1)."""
    batch_size = _batch_size(batch_size)
    params = load_params(params_path)
    if not params.assets:
        raise InputError([Problem(str(params_path), "a circuit needs at least one asset", column="assets")])
    return params, batch_size


class CheckResult(NamedTuple):
    """What `check` found; unpacks as (params, report)."""

    params: RiskParams
    report: SolvencyReport

    @property
    def solvent(self) -> bool:
        return self.report.solvent

    @property
    def unbalanced_markets(self) -> list[dict]:
        """Markets whose long and short differ although the params say balanced_markets (else [])."""
        return unbalanced_markets(self.report.totals, self.params)

    @property
    def ok(self) -> bool:
        """What `prove` needs (liquidations apart): every account at or above maintenance, and balanced
        markets where the params promise them."""
        return self.solvent and not self.unbalanced_markets

    def document(self) -> dict:
        """The whole result as JSON-ready data (what `zksolv check --json` prints, and what its text shows)."""
        params, report = self
        below = [
            {
                "account_id": i.account_id,
                "subaccount": i.subaccount,
                "health": str(health_to_quote(i.health, params)),
                "shortfall": str(i.shortfall(params)),
                "bankrupt": i.bankrupt,
                "bad_debt": i.bad_debt(params),
            }
            for i in report.insolvent
        ]
        return {
            "solvent": report.solvent,
            "unbalanced_markets": self.unbalanced_markets,
            "accounts": report.accounts,
            "quote": params.quote,
            "below_maintenance": below,
            "totals": totals_document(params, report.totals),
            "liquidations": liquidations_document(params, report.totals.liquidations),
            "scenarios": stress_document(params, report.totals.stress),
            "below_maintenance_in_scenarios": [
                {
                    "account_id": f.account_id,
                    "subaccount": f.subaccount,
                    "scenario": f.scenario,
                    "health": health_to_quote(f.health, params),
                    "equity": bad_debt_to_quote(f.equity, params),
                }
                for f in report.stress_failures
            ],
            "options": option_greeks(params),
        }


def check(params_path: Path | str, accounts_path: Path | str) -> CheckResult:
    """Run the margin reference model over every account (streaming)."""
    params = load_params(params_path)
    return CheckResult(params, check_solvency(read_accounts(accounts_path, params), params))


def commit(
    params_path: Path | str,
    accounts_path: Path | str,
    secret_path: Path | str,
    capacity: int | None = None,
    batch_size: int | None = None,
    out: Path | str | None = None,
    force: bool = False,
    inclusion_layout: str = "auto",
) -> Commitment:
    """Read and validate everything, then build the commitment in memory; with `out`, also write
    it there (write_commitment: all or nothing, an existing folder replaced only with `force`;
    `inclusion_layout` as for write_commitment)."""
    resolve_inclusion_layout(0, inclusion_layout)  # an unknown layout is refused before any work
    params = load_params(params_path)
    seed = load_secret(secret_path)
    # Streamed straight into the commitment: at 2^20 accounts this halves peak memory.
    commitment = build_commitment(read_accounts(accounts_path, params), params, seed, capacity, batch_size)
    if commitment.n_accounts == 0:
        raise InputError([Problem(str(accounts_path), "no accounts")])
    if out is not None:
        write_commitment(commitment, out, force, inclusion_layout)
    return commitment


def write_commitment(
    commitment: Commitment, out_dir: Path | str, force: bool = False, inclusion_layout: str = "auto"
) -> Path:
    """Write `commitment.json` and `inclusion/` (every holder's inclusion file, covering all their
    sub-accounts) atomically (all or nothing). `inclusion_layout` (commitment.write_inclusion_proofs):
    "files" (one JSON file per holder), "sqlite" (one store, `inclusion/inclusion.sqlite`) or "auto"
    (files up to commitment.INCLUSION_FILES_MAX holders, the store above)."""
    out_dir = Path(out_dir)
    with atomic_directory(out_dir, replace=force) as tmp:
        (tmp / "commitment.json").write_text(dumps_json(commitment.document()), encoding="utf-8")
        write_inclusion_proofs(commitment, tmp / "inclusion", inclusion_layout)
    return out_dir


def inclusion_get(
    inclusion_dir: Path | str, account_id: str, out: Path | str | None = None, force: bool = False
) -> dict:
    """One holder's inclusion file, to hand to them: from the inclusion folder `commit` or `prove`
    wrote, in either layout (its `inclusion.sqlite`, or the holder's JSON file), or from a store
    file itself; the document `verify_inclusion_file` checks, and `io.dumps_json` of it is the file
    byte for byte. With `out`, also written there atomically (an existing file replaced only with
    `force`). InputError naming the folder or store and the account id when it has no file for it."""
    if not isinstance(account_id, str) or not account_id:
        raise ArgumentError("account_id", f"{account_id!r} is not an account id")
    target = None if out is None else Path(out)
    if target is not None and target.exists() and not force:
        raise ArgumentError("out", f"{target} exists", hint="pass --force to replace it")
    document = holder_file(inclusion_dir, account_id)
    if target is not None:
        try:
            write_json_atomic(target, document)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return document


PAGE_NAME = "inclusion.html"


def inclusion_page(out: Path | str, force: bool = False) -> dict:
    """Write the holders' page (web/, PROTOCOL.md §4) as `out`/inclusion.html: one self-contained
    HTML file in which a holder checks their inclusion file against a bundle's manifest.json, in the
    browser, sending nothing. A venue hosts it beside its bundle folders (a file inside a bundle
    would fail `verify`, which refuses unlisted files) and links `inclusion.html?bundle=FOLDER`.
    Returns where it went, its size and SHA-256 (which a venue can publish for holders to compare).
    The page is package data built at install (`make install`: web/build.mjs with esbuild)."""
    from importlib import resources

    folder = Path(out)
    if (folder / "manifest.json").exists():
        raise ArgumentError(
            "out",
            f"{folder} is a bundle folder: `zksolv verify` refuses files its manifest does not list",
            hint="write the page beside the bundle folders (their parent), and link inclusion.html?bundle=FOLDER",
        )
    target = folder / PAGE_NAME
    if target.exists() and not force:
        raise ArgumentError("out", f"{target} exists", hint="pass --force to replace it")
    source = resources.files("zksolv.data").joinpath(PAGE_NAME)
    try:
        page = source.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise ToolchainError(
            "the holders' page is not built: `make install` bundles it from web/ "
            "(node web/build.mjs, then copied into zksolv/data/)"
        ) from None
    try:
        write_text_atomic(target, page.decode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return {"page": str(target), "bytes": len(page), "sha256": hashlib.sha256(page).hexdigest()}


def _root(root: int | str | None) -> int | None:
    """A root given as text must be the published spelling: one canonical decimal below r."""
    if not isinstance(root, str):
        return root
    try:
        return parse_canonical_uint(root, FIELD_MODULUS, "root", "the field modulus r")
    except EncodingError as exc:
        # EncodingError reads "root: why"; the argument's name is the location.
        raise ArgumentError(
            "root",
            str(exc).partition(": ")[2],
            hint="--root takes the published root: decimal digits, no sign or leading zeros",
        ) from None


def verify_inclusion_file(
    proof_path: Path | str,
    root: int | str | None = None,
    commitment_path: Path | str | None = None,
    bundle_path: Path | str | None = None,
    capacity: int | None = None,
) -> InclusionResult:
    """Verify a holder's inclusion file (every path in it: main account and sub-accounts) against a
    bundle's manifest, a commitment.json, or an explicit root (an int, or its decimal text) with the
    published capacity."""
    root = _root(root)
    proof = load_inclusion_proof(proof_path)
    if bundle_path is not None:
        manifest = load_manifest(bundle_path)
        result = verify_inclusion(
            proof, int(manifest.root), manifest.capacity, manifest.epoch, int(manifest.params_hash), str(proof_path)
        )
        result.warnings.append(
            "this checks the accounts against the bundle's root; run `zksolv verify` on the bundle to check its proofs"
        )
        return result
    if commitment_path is not None:
        published = load_commitment_file(commitment_path)
        return verify_inclusion(
            proof, int(published.root), published.capacity, published.epoch, int(published.params_hash), str(proof_path)
        )
    if root is None or capacity is None:
        raise InputError(
            [
                Problem(
                    str(proof_path),
                    "nothing to check it against: give a bundle, a commitment, or "
                    "a root with the published tree capacity",
                )
            ],
            hint="pass --bundle, --commitment, or --root with --capacity",
        )
    return verify_inclusion(proof, root, capacity, source=str(proof_path))


def input_schemas() -> dict:
    """JSON Schemas of the two inputs (params.json and the JSON accounts format)."""
    accounts = AccountsFile.model_json_schema()
    list_schema = {
        "title": "Accounts",
        "type": "array",
        "items": {"$ref": "#/$defs/AccountRecord"},
        "$defs": accounts.get("$defs", {}),
        "description": (AccountsFile.__doc__ or "").replace("\n", " ").strip(),
    }
    return {"params": ParamsFile.model_json_schema(), "accounts": list_schema}


def keygen_secret(path: Path | str) -> Path:
    """Write a new random secret seed (owner-only permissions; refuses to overwrite one)."""
    return generate_secret(path)


def circuit_info(params_path: Path | str, batch_size: int = 64) -> dict:
    """Compile (cached) SolvencyBatch for the params' shape; its constraints in total and per account."""
    params, batch_size = _circuit_params(params_path, batch_size)
    from .circuit import compile_circuit, r1cs_info

    compiled = compile_circuit(
        len(params.assets), len(params.markets), batch_size, tiers=params.tiers, scenarios=len(params.scenarios)
    )
    info = r1cs_info(compiled.r1cs)
    from .ceremony import public_ptau
    from .ptau import required_power

    power = required_power(info["constraints"], info["public_inputs"] + info["outputs"])
    return {
        "n_assets": len(params.assets),
        "n_markets": len(params.markets),
        "batch_size": batch_size,
        "market_brackets": list(params.tiers),
        "scenarios": len(params.scenarios),
        "constraints": info["constraints"],
        "constraints_per_account": round(info["constraints"] / batch_size, 1),
        "wires": info["wires"],
        "public_inputs": info["public_inputs"],
        "r1cs": str(compiled.r1cs),
        # The smallest ptau the setup or a ceremony needs, and the public ceremony file that covers it
        # (docs/CEREMONY.md): downloaded once by the venue, checked against the published hash.
        "ptau_power": power,
        "ceremony_ptau": public_ptau(power),
    }


def setup(
    params_path: Path | str,
    out_dir: Path | str,
    batch_size: int = 64,
    ptau: Path | str | None = None,
    force: bool = False,
    on_event: EventSink = ignore,
    native_witness: bool = False,
) -> Keys:
    """Groth16 setup for the params' shape (zksolv.setup.setup): proving key, verification key,
    Verifier.sol. Without `ptau`, a local development powers of tau: INSECURE (`keys.insecure`).
    `native_witness`: also build circom's C++ witness generator into the keys (minutes; needs g++,
    nasm, nlohmann/json.hpp and gmp), which provers run instead of the WASM one where it runs."""
    params, batch_size = _circuit_params(params_path, batch_size)
    if ptau is not None:
        _check_ptau(Path(ptau))
    from .setup import setup as run_setup

    return run_setup(
        len(params.assets),
        len(params.markets),
        batch_size,
        Path(out_dir),
        None if ptau is None else Path(ptau),
        force,
        on_event=on_event,
        tiers=params.tiers,
        scenarios=len(params.scenarios),
        native_witness=native_witness,
    )


def _check_ptau(path: Path) -> None:
    """Refuse a file that is not a ptau before compiling anything (reads only its header)."""
    from .ptau import PtauError, read_ptau_power

    try:
        read_ptau_power(path)
    except PtauError as exc:
        raise InputError([Problem(str(path), f"not a readable ptau file: {exc}")]) from None


def prove(
    params_path: Path | str,
    accounts_path: Path | str,
    secret_path: Path | str,
    keys_dir: Path | str,
    out: Path | str,
    inclusion_out: Path | str | None = None,
    capacity: int | None = None,
    force: bool = False,
    on_event: EventSink = ignore,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    prover: str = "auto",
    retries: int = 2,
    worker_keys: Path | str | None = None,
    allow_liquidations: bool = False,
) -> ProveResult:
    """Commit, prove every batch and write the bundle (zksolv.prove.prove, which documents every
    option); refuses accounts below maintenance (InsolventError, exit 1) unless `allow_liquidations`."""
    from .prove import prove as run_prove

    return run_prove(
        params_path,
        accounts_path,
        secret_path,
        keys_dir,
        out,
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


def verify(
    bundle_path: Path | str,
    backend: str = "auto",
    require_ceremony: bool = False,
    trusted_vkeys: Iterable[str] = (),
    trusted_keys: Iterable[Path | str] = (),
    gas_report: bool = False,
    on_event: EventSink = ignore,
) -> Report:
    """Verify a bundle (zksolv.verify.verify_bundle) with the named proof backend(s).

    `trusted_vkeys` / `trusted_keys` pin the verification key (see audit_setup); without
    them the report's `trust` says what the claim then rests on. With `gas_report`, a valid
    bundle's publication is replayed on an in-process EVM (zksolv.evm.evm_report: real
    receipts), into `report.evm`. `on_event` gets the progress of the proof checks, batch by batch
    (zksolv.verify.verify_bundle)."""
    report = verify_bundle(
        bundle_path,
        backends=select_backends(backend),
        require_ceremony=require_ceremony,
        trusted_vkeys=trusted_vkeys,
        trusted_keys=trusted_keys,
        on_event=on_event,
    )
    if gas_report and report.valid:
        from .evm import evm_report  # web3 and py-evm: only when asked for

        report.evm = evm_report(bundle_path)
    return report


class ReportResult(NamedTuple):
    """What `report` wrote: the file, its format, and the verification it renders."""

    out: Path
    format: str
    verification: Report

    @property
    def valid(self) -> bool:
        return self.verification.valid

    def document(self) -> dict:
        """What `zksolv report --json` prints."""
        return {
            "out": str(self.out),
            "format": self.format,
            "bundle": self.verification.bundle,
            "valid": self.valid,
            "failed_checks": [c.name for c in self.verification.checks if not c.ok],
        }


def report(
    bundle_path: Path | str,
    out: Path | str,
    fmt: str = "html",
    backend: str = "python",
    require_ceremony: bool = False,
    trusted_vkeys: Iterable[str] = (),
    trusted_keys: Iterable[Path | str] = (),
    force: bool = False,
) -> ReportResult:
    """Verify a bundle (as `verify`) and write its audit report to `out` (zksolv.report): "html", one
    self-contained page, or "md". The report is rendered from the verification result, never from the
    manifest's own figures; an invalid bundle gets a report that says INVALID (and shows no figures).
    `out` is written atomically and replaced only with `force`."""
    from . import report as rendering

    if fmt not in rendering.FORMATS:
        raise ArgumentError("format", f"{fmt!r} is not a report format; choose html or md")
    target = Path(out)
    if target.exists() and not force:
        raise ArgumentError("out", f"{target} exists", hint="pass --force to replace it")
    verification = verify(bundle_path, backend, require_ceremony, trusted_vkeys, trusted_keys)
    text = rendering.render(verification.document(), _published(verification, Path(bundle_path)), fmt)
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return ReportResult(target, fmt, verification)


def _published(verification: Report, folder: Path) -> Published:
    """The report's inputs besides the verification document: the verified manifest's layout and, for a
    valid bundle, the quote currency and asset prices of params.json — read again here, and used only if
    it is still the file whose SHA-256 the verified manifest lists."""
    from .io import parse_json
    from .params import parse_params
    from .report import Published

    manifest = verification.manifest
    if manifest is None:
        return Published()
    layout = {
        "capacity": manifest["capacity"],
        "n_batches": manifest["n_batches"],
        "batch_size": manifest["batch_size"],
        "circuit": str(manifest["circuit"]["id"]).split("/")[0],
        "insecure_development": manifest["setup"]["insecure_development"],
    }
    if not verification.valid:
        return Published(**layout)
    path = folder / "params.json"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    if hashlib.sha256(raw).hexdigest() != manifest["files"]["params.json"]:
        raise InputError([Problem(str(path), "changed while the bundle was being verified")])
    params = parse_params(parse_json(raw), str(path), canonical=True)
    return Published(**layout, quote=params.quote, prices={a.symbol: a.price for a in params.real_assets})


def audit_setup(keys_dir: Path | str, ptau: Path | str, on_event: EventSink = ignore) -> AuditReport:
    """Audit a keys folder against zksolv's own circuits and a ptau (zksolv.audit.audit_setup):
    the result's `document()` is the trust file `verify(trusted_keys=…)` reads."""
    from . import audit

    return audit.audit_setup(keys_dir, ptau, on_event)


def ceremony_init(
    params_path: Path | str,
    out_dir: Path | str,
    ptau: Path | str,
    batch_size: int = 64,
    force: bool = False,
    on_event: EventSink = ignore,
) -> CeremonyTranscript:
    """Start a multi-party phase-2 ceremony for the params' shape (zksolv.ceremony.init): the
    ceremony folder with the initial key (no contribution) and its transcript, from a ptau file
    (a public ceremony file in production; docs/CEREMONY.md)."""
    params, batch_size = _circuit_params(params_path, batch_size)
    if not isinstance(ptau, (str, Path)) or not str(ptau):
        raise ArgumentError(
            "ptau", "a ceremony starts from a powers-of-tau file", hint="pass --ptau (`zksolv circuit info` names one)"
        )
    _check_ptau(Path(ptau))
    from . import ceremony

    return ceremony.init(
        len(params.assets),
        len(params.markets),
        batch_size,
        Path(out_dir),
        Path(ptau),
        force,
        on_event=on_event,
        tiers=params.tiers,
        scenarios=len(params.scenarios),
    )


def ceremony_contribute(
    ceremony_dir: Path | str, name: str, entropy_file: Path | str | None = None, on_event: EventSink = ignore
) -> CeremonyContribution:
    """Add one contribution to a ceremony (zksolv.ceremony.contribute): fresh OS entropy, never
    written; the contributor keeps nothing."""
    from . import ceremony

    return ceremony.contribute(ceremony_dir, name, entropy_file, on_event)


def ceremony_beacon(
    ceremony_dir: Path | str,
    beacon_hash: str,
    iterations_exp: int = 10,
    name: str = "beacon",
    source: str | None = None,
    on_event: EventSink = ignore,
) -> CeremonyContribution:
    """Close a ceremony with a public random beacon (zksolv.ceremony.beacon)."""
    from . import ceremony

    return ceremony.beacon(ceremony_dir, beacon_hash, iterations_exp, name, source, on_event)


def ceremony_verify(ceremony_dir: Path | str, ptau: Path | str, on_event: EventSink = ignore) -> CeremonyReport:
    """Verify a ceremony: transcript against the key, circuit, ptau, snarkjs zkey verify
    (zksolv.ceremony.verify); `passed` is the verdict."""
    from . import ceremony

    return ceremony.verify(ceremony_dir, ptau, on_event)


def ceremony_export(
    ceremony_dir: Path | str, out_dir: Path | str, force: bool = False, on_event: EventSink = ignore
) -> Keys:
    """A keys folder for `prove` from a ceremony's newest key (zksolv.ceremony.export)."""
    from . import ceremony

    return ceremony.export(ceremony_dir, out_dir, force, on_event)


def demo(
    out: Path | str = "demo-out",
    n_accounts: int = 300,
    batch_size: int = 16,
    on_event: EventSink = ignore,
    venue: str = "flat",
) -> dict:
    """Synthetic snapshot → setup (cached) → prove → verify (zksolv.demo.run_demo); the summary.
    Each stage is a `step` event (zksolv.events). `venue`: "flat" (tiered perps, sub-accounts) or
    "portfolio" (options, 18 scenarios, portfolio margin)."""
    batch_size = _batch_size(batch_size)
    if not _count(n_accounts):
        raise ArgumentError(
            "n_accounts",
            f"{n_accounts!r}: the demo needs at least one account",
            hint="--accounts takes a number of accounts ≥ 1",
        )
    from .demo import VENUES, run_demo

    if venue not in VENUES:
        raise ArgumentError("venue", f"{venue!r} is not a demo venue", hint=f"--venue takes one of {', '.join(VENUES)}")
    return run_demo(out, n_accounts, batch_size, on_event=on_event, venue=venue)


def export_calldata(bundle_path: Path | str) -> dict:
    """The calldata of a publication on a real chain (zksolv.evm.export_calldata): the registry's
    publishEpoch and openTotals arguments, and per batch verifyProof's and submitBatch's. A bundle
    that cannot give calldata is an InputError naming the file and the field, never a crash."""
    from . import evm

    return evm.export_calldata(bundle_path)


def publish(
    bundle_path: Path | str,
    rpc: str,
    registry: str | None = None,
    key_file: Path | str | None = None,
    from_address: str | None = None,
    *,
    chain_id: int | None = None,
    max_batches: int | None = None,
    verify: bool = True,
    on_event: EventSink = ignore,
) -> PublishResult:
    """Publish a bundle on a real chain over JSON-RPC (zksolv.publish.publish_bundle): verify it, deploy
    the verifier, Poseidon contracts and a registry (or audit the `registry` given), publish the epoch,
    open its totals and submit every batch not yet proven there, so an interrupted run resumes. The
    sender: a private key file (`key_file`, owner-only; never printed) or an account the node holds
    unlocked (`from_address`). Returns every transaction's hash and gas and the registry's verdict."""
    from .publish import Sender, checksum_address, load_key_file, publish_bundle

    if (key_file is None) == (from_address is None):
        raise ArgumentError(
            "key_file",
            "give exactly one sender: a private key file, or an account the node holds unlocked (from_address)",
            hint="pass --key-file FILE or --from ADDRESS",
        )
    if not isinstance(rpc, str) or not rpc.startswith(("http://", "https://")):
        raise ArgumentError("rpc", f"{rpc!r} is not an HTTP(S) JSON-RPC URL", hint="--rpc takes http://HOST:PORT")
    sender = load_key_file(key_file) if key_file is not None else Sender(checksum_address(from_address, "from_address"))
    return publish_bundle(
        bundle_path, rpc, sender, registry, chain_id=chain_id, max_batches=max_batches, verify=verify, on_event=on_event
    )


def params_suggest_decimals(
    params_path: Path | str, accounts_path: Path | str, out_path: Path | str | None = None, force: bool = False
) -> dict:
    """Propose per asset and market the decimals at which every amount of an accounts file fits the
    signed 64-bit range (PROTOCOL.md §2.2), with `rounding: down` for an asset whose file uses more
    digits; with `out_path`, write the params with them. Returns the suggestions."""
    from .decimals import suggest_decimals
    from .io import write_json_atomic

    out = Path(out_path) if out_path is not None else None
    if out is not None and out.exists() and not force:
        raise ArgumentError("out", f"{out} exists", hint="pass --force to replace it")
    suggestions, document = suggest_decimals(load_params(params_path), accounts_path)
    if out is not None:
        write_json_atomic(out, document)
    return {
        "suggestions": [s.document() for s in suggestions],
        "params": str(out) if out is not None else None,
        "changed": [s.symbol for s in suggestions if s.suggested != s.decimals or s.rounding],
    }


def params_price(
    params_path: Path | str,
    observations_path: Path | str,
    out_path: Path | str,
    method: str = "twap",
    window: int = 3600,
    at: str | None = None,
    precision: int = 2,
    symbols: Iterable[str] | None = None,
    force: bool = False,
) -> dict:
    """Derive prices from a venue's oracle history (a CSV `symbol,time,price[,source]`) into a new
    params file (PROTOCOL.md §2.1): for each symbol of both the history and the params (or only
    `symbols`), a TWAP over the `window` seconds that end at `at` (default: the params' epoch), or
    the median of each source's latest price at or before `at`. The data goes into the params
    beside the derived price, so every verifier recomputes it. Returns what was derived."""
    from .io import read_json, write_json_atomic
    from .oracle import TwapSource, apply_price_sources, build_median_source, build_twap_source, load_observations
    from .params import params_document, parse_params
    from .timestamps import epoch_seconds, iso_utc

    if method not in ("twap", "median"):
        raise ArgumentError("method", f"method must be twap or median, not {method!r}")
    if method == "twap" and not 1 <= window <= 366 * 86400:
        raise ArgumentError("window", f"window must be 1 second to 366 days, got {window}")
    out = Path(out_path)
    if out.exists() and not force:
        raise ArgumentError("out", f"{out} exists", hint="pass --force to replace it")
    params = load_params(params_path)
    end = at if at is not None else params.epoch
    end_seconds = epoch_seconds(end, "at")
    history = load_observations(observations_path)
    known = set(params.slot_symbols)
    wanted = list(symbols) if symbols is not None else sorted(known & set(history))
    missing = [
        Problem(str(observations_path), f"no observations of {symbol}", column="symbol")
        for symbol in wanted
        if symbol not in history
    ]
    missing += [
        Problem(str(params_path), f"{symbol!r} is not an asset or market of the params", column="symbol")
        for symbol in wanted
        if symbol not in known
    ]
    if missing:
        raise InputError(missing)
    if not wanted:
        raise InputError([Problem(str(observations_path), "no symbol of the params has observations")])
    origin = str(observations_path)
    sources = {
        symbol: build_twap_source(
            history[symbol], iso_utc(end_seconds - window), iso_utc(end_seconds), precision, origin=origin
        )
        if method == "twap"
        else build_median_source(history[symbol], iso_utc(end_seconds), precision, origin=origin)
        for symbol in wanted
    }
    document = apply_price_sources(read_json(params_path, "params"), sources, origin=origin)
    derived = parse_params(document, str(out))  # the result must be valid params, as it will be read
    write_json_atomic(out, params_document(derived))
    prices = {a.symbol: a.price for a in derived.assets} | {m.symbol: m.mark_price for m in derived.markets}
    return {
        "params": str(out),
        "method": method,
        "at": iso_utc(end_seconds),
        "window_s": window if method == "twap" else None,
        "prices": {
            symbol: {
                "price": prices[symbol],
                "inputs": len(source.observations if isinstance(source, TwapSource) else source.sources),
            }
            for symbol, source in sources.items()
        },
    }
