"""Prove: snapshot → commitment → batch witnesses → Groth16 proofs → bundle.

Refuses to start while any account is below maintenance (naming them). Batches
are proved independently — in this process, in local worker processes or on a
Dask cluster (zksolv.scheduler), with snarkjs or arkworks (zksolv.provers) —
and each proof is checked here and renamed into a work folder beside the
output as it arrives, so an interrupted run resumes where it stopped; the
bundle appears in one rename only when every batch is proved and checked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .accounts import read_accounts
from .bundle import (
    BUNDLE_FORMAT,
    CircuitInfo,
    FinalAccumulator,
    Manifest,
    batch_dir,
    liquidations_document,
    stress_document,
    totals_document,
)
from .commitment import Commitment, SlotTable, build_commitment, write_inclusion_proofs
from .errors import ArgumentError, ClaimError, InputError, Problem
from .events import EventSink, ignore
from .io import atomic_directory, dumps_json, ensure_output_free, parse_json
from .margin import SolvencyReport, Totals, unbalanced_markets, unbalanced_text
from .params import canonical_params_json, load_params, params_document, params_hash
from .provers import AUTO, PROVERS, ProverError, get_prover, proof_verifier, resolve_prover
from .scheduler import BatchError, BatchResult, BatchTask, Executor, default_workers, make_executor
from .secret import load_secret
from .setup import Keys, load_keys, manifest_setup, sha256_file
from .witness import BatchPlan, plan_batches


class InsolventError(ClaimError):
    """Some accounts are below maintenance and liquidations were not allowed: nothing was proved.

    A venue must never publish accounts in liquidation by accident: proving them needs
    `allow_liquidations=True`."""

    def __init__(self, report: SolvencyReport, params):
        self.report, self.params = report, params
        super().__init__(
            f"{len(report.insolvent)} accounts are below maintenance; nothing was proved",
            hint="to publish them with the liquidation figures, pass --allow-liquidations",
        )

    def details(self) -> dict:
        """The refused accounts as data, for the JSON error document (docs/JSON.md)."""
        return {
            "below_maintenance": [
                {
                    "account_id": i.account_id,
                    "subaccount": i.subaccount,
                    "shortfall": str(i.shortfall(self.params)),
                    "bankrupt": i.bankrupt,
                }
                for i in self.report.insolvent
            ]
        }

    def lines(self) -> list[str]:
        # Every account, so the venue sees what to fix (or to publish) without another run.
        quote = self.params.quote
        return [
            f"BELOW MAINTENANCE  {i.label}: shortfall {i.shortfall(self.params)} {quote}"
            + (", bankrupt" if i.bankrupt else "")
            for i in self.report.insolvent
        ] + [str(self)]


class UnbalancedMarketsError(ClaimError):
    """The params promise balanced markets (`balanced_markets`), but some market's long and short open
    interest differ: a counterparty is missing from the snapshot, so `verify` would refuse the bundle.
    Nothing was proved."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        super().__init__(
            f"the params say balanced_markets, but {unbalanced_text(rows)}: a position's counterparty "
            "(a house or market-maker account) is missing from the snapshot; nothing was proved",
            hint="add the missing accounts, or remove balanced_markets from the params",
        )

    def details(self) -> dict:
        return {"unbalanced_markets": self.rows}


@dataclass
class ProveResult:
    bundle: Path
    commitment: Commitment
    plan: BatchPlan
    proved: int  # batches proved in this run (the rest were resumed)
    seconds: float
    warnings: list[str]


#: Why a bundle without inclusion files is of little use (prove's `done` event, the CLI's stderr).
NO_INCLUSION_WARNING = (
    "no inclusion files written (no inclusion_out): no account holder can check that their account "
    "is in the commitment, so the proofs cover accounts nobody can recognise"
)


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
    prover: str = AUTO,
    retries: int = 2,
    worker_keys: Path | str | None = None,
    executor: Executor | None = None,
    allow_liquidations: bool = False,
) -> ProveResult:
    """Prove every batch and write the bundle.

    Where the batches are proved (zksolv.scheduler): `scheduler` (a Dask scheduler
    address, tcp://host:port), else `workers` local processes (default
    `default_workers(prover)`; 1 = this process), or a ready `executor`.
    `prover` is "snarkjs", "arkworks" or "auto" (arkworks when installed here; with a Dask
    scheduler the choice is made here, so the workers need what it names; zksolv.provers). `worker_keys` is the keys
    folder as the workers see it (default: `keys_dir`, absolute). A batch is retried
    `retries` times when its worker fails or dies. Accounts below maintenance are refused
    (InsolventError) unless `allow_liquidations`: then the bundle publishes, proved over all
    accounts, how many are below maintenance, their shortfall and the bad debt."""
    started = time.monotonic()
    out = Path(out)
    prover = resolve_prover(prover)
    if prover not in PROVERS:
        raise ArgumentError("prover", f"unknown prover {prover!r}; choose one of {', '.join(PROVERS)}")
    if scheduler is not None and workers is not None:
        raise ArgumentError(
            "workers",
            "workers and scheduler exclude each other (a cluster has its own workers)",
            hint="give --workers or --scheduler, not both",
        )
    if isinstance(scheduler, str) and "://" not in scheduler:
        raise ArgumentError("scheduler", f"{scheduler!r} is not a Dask scheduler address such as tcp://10.0.0.5:8786")
    if scheduler is None:
        get_prover(prover)  # fails early when the prover's package is missing here
    if workers is None:
        workers = default_workers(prover)
    if workers < 1 or retries < 0:
        raise ArgumentError("workers" if workers < 1 else "retries", "workers must be ≥ 1 and retries ≥ 0")
    params = load_params(params_path)
    seed = load_secret(secret_path)
    keys = load_keys(keys_dir)
    n_assets, n_markets, batch_size = keys.shape
    if (len(params.assets), len(params.markets)) != (n_assets, n_markets):
        raise InputError(
            [
                Problem(
                    str(params_path),
                    f"the keys in {keys_dir} are for {n_assets} assets and "
                    f"{n_markets} markets; these params have {len(params.assets)} and "
                    f"{len(params.markets)} (run `zksolv setup` for this shape)",
                )
            ]
        )
    if params.tiers != keys.tiers:
        raise InputError(
            [
                Problem(
                    str(params_path),
                    f"the keys in {keys_dir} are for {list(keys.tiers)} maintenance "
                    f"brackets per market; these params have {list(params.tiers)} (run `zksolv setup` "
                    "for this shape)",
                )
            ]
        )
    if len(params.scenarios) != keys.scenarios:
        raise InputError(
            [
                Problem(
                    str(params_path),
                    f"the keys in {keys_dir} are for {keys.scenarios} scenarios; these params have "
                    f"{len(params.scenarios)} (run `zksolv setup` for this shape)",
                )
            ]
        )
    ensure_output_free(out, force)
    if inclusion_out is not None:
        ensure_output_free(Path(inclusion_out), force)
    # One pass over the snapshot: the margin check and the commitment read the same stream, so
    # memory is the commitment's columns (~140 bytes per account), never a list of accounts.
    report = SolvencyReport(totals=Totals.zero(params))
    commitment = build_commitment(
        report.counting(read_accounts(accounts_path, params), params), params, seed, capacity, batch_size
    )
    if not report.accounts:
        raise InputError([Problem(str(accounts_path), "no accounts")])
    if not report.solvent and not allow_liquidations:
        raise InsolventError(report, params)
    unbalanced = unbalanced_markets(report.totals, params)
    if unbalanced:
        raise UnbalancedMarketsError(unbalanced)
    plan = plan_batches(commitment, seed, batch_size)
    on_event(
        {
            "event": "committed",
            "root": str(commitment.root),
            "capacity": commitment.capacity,
            "accounts": commitment.n_accounts,
            "batches": plan.n_batches,
        }
    )
    work = _work_dir(out, commitment, keys)
    local = executor is None and scheduler is None
    if executor is None:
        executor, where = make_executor(workers, scheduler, retries)
    else:
        where = getattr(executor, "description", "custom executor")
    shipped = str(Path(worker_keys).absolute() if worker_keys is not None else keys.dir.resolve())
    proved = _prove_batches(
        plan, keys, work, on_event, executor, where, prover, shipped, str(work.resolve()) if local else None
    )
    with atomic_directory(out, replace=force) as tmp:
        _assemble(tmp, plan, keys, work)
    if inclusion_out is not None:
        with atomic_directory(Path(inclusion_out), replace=force) as tmp:
            write_inclusion_proofs(commitment, tmp)
    shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    warnings = [] if inclusion_out is not None else [NO_INCLUSION_WARNING]
    # The last event is the whole result, so a pipeline reading the JSON lines needs nothing else.
    on_event(
        {
            "event": "done",
            "ok": True,
            "bundle": str(out),
            "root": str(commitment.root),
            "accounts": commitment.n_accounts,
            "capacity": commitment.capacity,
            "batches": plan.n_batches,
            "batch_size": plan.batch_size,
            "proved": proved,
            "inclusion": None if inclusion_out is None else str(inclusion_out),
            "seconds": round(seconds, 2),
            "warnings": warnings,
        }
    )
    return ProveResult(out, commitment, plan, proved, seconds, warnings)


def _work_dir(out: Path, commitment: Commitment, keys: Keys) -> Path:
    """Resumable work folder, named by everything the proofs depend on."""
    digest = hashlib.sha256(f"{commitment.root}:{keys.document.zkey_sha256}".encode()).hexdigest()[:16]
    work = out.parent / f".{out.name}.work-{digest}"
    work.mkdir(parents=True, exist_ok=True)
    return work


def _prove_batches(
    plan: BatchPlan,
    keys: Keys,
    work: Path,
    on_event: EventSink,
    executor: Executor,
    where: str,
    prover: str,
    worker_keys_dir: str,
    scratch_dir: str | None,
) -> int:
    """Resume what the work folder already holds, prove the rest wherever `executor` runs,
    check each proof here and rename it into the work folder (one batch = one rename)."""
    verify = proof_verifier(keys.verification_key)
    expected = {s.index: [str(x) for x in s.public_signals()] for s in plan.statements}
    real = real_accounts_per_batch(plan)
    real_proved = 0
    todo: list[int] = []
    done = 0
    for statement in plan.statements:
        index = statement.index
        if _already_proved(work / batch_dir(index), expected[index], verify):
            done += 1
            on_event({"event": "batch", "index": index, "of": plan.n_batches, "resumed": True, "done": done})
        else:
            todo.append(index)
    on_event({"event": "proving", "batches": len(todo), "resumed": done, "prover": prover, "executor": where})

    def tasks() -> Iterator[BatchTask]:  # built one at a time, as executors ask for them
        for index in todo:
            yield BatchTask(
                index,
                plan.batch_input(index),
                tuple(expected[index]),
                worker_keys_dir,
                keys.document.zkey_sha256,
                prover,
                plan.batch_size,
                scratch_dir,
            )

    def on_retry(index: int, attempt: int, reason: str) -> None:
        on_event({"event": "retry", "index": index, "attempt": attempt, "reason": reason})

    started = time.monotonic()
    proved = 0
    remaining = set(todo)
    with closing(executor(tasks(), on_retry)) as results:
        for result in results:
            index = result.index
            if index not in remaining:
                # Only an executor that breaks its contract (one result per task) gets here, such as a custom one.
                raise BatchError(
                    f"batch {index}: the executor ({where}) returned a result for a batch that is "
                    f"not (or no longer) due"
                )
            try:
                proof, public = json.loads(result.proof_json), json.loads(result.public_json)
            except ValueError:
                raise ProverError(f"batch {index}: worker {result.worker} returned unreadable JSON") from None
            if public != expected[index]:
                raise ProverError(
                    f"batch {index}: the proof's public signals {public} differ from the statement {expected[index]}"
                )
            if not verify(proof, public):
                raise ProverError(f"batch {index}: the proof from worker {result.worker} ({prover}) does not verify")
            _store(work, index, result)
            remaining.discard(index)
            proved += 1
            done += 1
            real_proved += real[index]
            elapsed = max(time.monotonic() - started, 1e-9)
            on_event(
                {
                    "event": "batch",
                    "index": index,
                    "of": plan.n_batches,
                    "resumed": False,
                    "done": done,
                    "seconds": round(result.seconds, 2),
                    "cpu_seconds": round(result.cpu_seconds, 2),
                    "accounts": real[index],  # real accounts, not the padding slots
                    "slots": plan.batch_size,
                    "worker": result.worker,
                    "worker_cpu_seconds": result.worker_cpu_seconds,
                    "worker_peak_rss_mb": result.worker_peak_rss_mb,
                    "accounts_per_s": round(real_proved / elapsed, 2),
                    "eta_s": round((len(todo) - proved) * elapsed / proved, 1),
                }
            )
    if remaining:
        missing = sorted(remaining)
        raise BatchError(
            f"the executor ({where}) stopped without results for {len(missing)} batches "
            f"({', '.join(map(str, missing[:10]))}{', …' if len(missing) > 10 else ''})"
        )
    return proved


def real_accounts_per_batch(plan: BatchPlan) -> list[int]:
    """How many of each batch's slots are real accounts: padding is spread over the tree by its keys
    (commitment.derive_padding_key), so a batch may hold anything from 0 to batch_size of them."""
    slots = plan.commitment.slots
    ids = slots.ids if isinstance(slots, SlotTable) else [s.account_id for s in slots]
    size = plan.batch_size
    return [sum(1 for i in ids[k * size : (k + 1) * size] if i is not None) for k in range(plan.n_batches)]


def _store(work: Path, index: int, result: BatchResult) -> None:
    """proof.json + public.json into a scratch folder, then one rename into place."""
    final = work / batch_dir(index)
    scratch = Path(tempfile.mkdtemp(prefix=".batch-", dir=work))
    try:
        (scratch / "proof.json").write_text(result.proof_json)
        (scratch / "public.json").write_text(result.public_json)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            shutil.rmtree(final)
        scratch.rename(final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _already_proved(folder: Path, expected: list[str], verify) -> bool:
    from .groth16 import load_proof_document

    try:
        # Strictly, as verify will read them: a proof left in another encoding is proved again.
        public = parse_json((folder / "public.json").read_bytes())
        proof = load_proof_document(folder / "proof.json")
    except (OSError, ValueError, InputError):
        return False
    return public == expected and verify(proof, public)


def _assemble(tmp: Path, plan: BatchPlan, keys: Keys, work: Path) -> None:
    """The bundle's files and its manifest. The batch roots are a level of the commitment's own tree
    (witness.plan_batches), so the tree over them ends in the commitment's root by construction, and each
    proof was checked against its batch's statement before it entered the work folder."""
    commitment = plan.commitment
    params = commitment.params
    (tmp / "params.json").write_bytes(json.dumps(params_document(params), indent=2).encode() + b"\n")
    shutil.copyfile(keys.verification_key, tmp / "verification_key.json")
    shutil.copyfile(keys.verifier_sol, tmp / "Verifier.sol")
    (tmp / "batch_roots.json").write_text(dumps_json([str(s.batch_root) for s in plan.statements]))
    for statement in plan.statements:
        shutil.copytree(work / batch_dir(statement.index), tmp / batch_dir(statement.index))
    files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    info = keys.document
    manifest = Manifest(
        format=BUNDLE_FORMAT,
        epoch=params.epoch,
        quote=params.quote,
        root=str(commitment.root),
        params_hash=str(params_hash(params)),
        params_sha256=hashlib.sha256(canonical_params_json(params)).hexdigest(),
        capacity=commitment.capacity,
        batch_size=plan.batch_size,
        n_batches=plan.n_batches,
        circuit=CircuitInfo(
            id=info.circuit_id,
            n_assets=info.n_assets,
            n_markets=info.n_markets,
            batch_size=info.batch_size,
            market_brackets=info.market_brackets,
            scenarios=info.scenarios,
            constraints=info.constraints,
            r1cs_sha256=info.r1cs_sha256,
        ),
        verification_key_sha256=info.verification_key_sha256,
        setup=manifest_setup(keys),
        acc_0=str(plan.statements[0].acc_in),  # witness.plan_batches starts the chain at zero_accumulator
        final_accumulator=FinalAccumulator(
            acc=str(plan.statements[-1].acc_out),
            totals=[str(x) for x in plan.final_totals.vector()],
            blinding=str(plan.final_blinding),
        ),
        totals=totals_document(params, plan.final_totals),
        liquidations=liquidations_document(params, plan.final_totals.liquidations),
        scenarios=stress_document(params, plan.final_totals.stress),
        files=files,
    )
    (tmp / "manifest.json").write_text(dumps_json(manifest.model_dump()))
