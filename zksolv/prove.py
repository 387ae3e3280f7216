"""Prove: snapshot → commitment → batch witnesses → Groth16 proofs → bundle.

Refuses to start while any account is below maintenance (naming them). Proofs
are made one batch at a time into a work folder beside the output, so an
interrupted run resumes where it stopped; the bundle appears in one rename
only when every batch is proved and checked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import snarkjs
from .accounts import read_accounts
from .api import write_inclusion_proofs
from .bundle import BUNDLE_FORMAT, batch_dir, totals_document
from .circuit import CompiledCircuit, compute_witness
from .commitment import Commitment, build_commitment, merkle_levels
from .errors import InputError, Problem, ZksolvError
from .io import atomic_directory, dumps_json, ensure_output_free
from .margin import SolvencyReport, check_solvency
from .params import canonical_params_json, load_params, params_document, params_hash
from .secret import load_secret
from .setup import Keys, load_keys, sha256_file
from .witness import BatchPlan, plan_batches

Event = Callable[[dict], None]


class InsolventError(ZksolvError):
    """Some accounts are below maintenance: nothing can be proved."""

    def __init__(self, report: SolvencyReport, params):
        self.report, self.params = report, params
        super().__init__(f"{len(report.insolvent)} accounts are below maintenance")


@dataclass
class ProveResult:
    bundle: Path
    commitment: Commitment
    plan: BatchPlan
    proved: int  # batches proved in this run (the rest were resumed)
    seconds: float


def prove(params_path: Path | str, accounts_path: Path | str, secret_path: Path | str, keys_dir: Path | str,
          out: Path | str, inclusion_out: Path | str | None = None, capacity: int | None = None,
          force: bool = False, on_event: Event = lambda _: None) -> ProveResult:
    started = time.monotonic()
    out = Path(out)
    params = load_params(params_path)
    seed = load_secret(secret_path)
    keys = load_keys(keys_dir)
    n_assets, n_markets, batch_size = keys.shape
    if (len(params.assets), len(params.markets)) != (n_assets, n_markets):
        raise InputError([Problem(str(params_path), f"the keys in {keys_dir} are for {n_assets} assets and "
                                  f"{n_markets} markets; these params have {len(params.assets)} and "
                                  f"{len(params.markets)} (run `zksolv setup` for this shape)")])
    ensure_output_free(out, force)
    if inclusion_out is not None:
        ensure_output_free(Path(inclusion_out), force)
    accounts = list(read_accounts(accounts_path, params))
    if not accounts:
        raise InputError([Problem(str(accounts_path), "no accounts")])
    report = check_solvency(accounts, params)
    if not report.solvent:
        raise InsolventError(report, params)
    commitment = build_commitment(accounts, params, seed, capacity, batch_size)
    del accounts
    plan = plan_batches(commitment, seed, batch_size)
    on_event({"event": "committed", "root": str(commitment.root), "capacity": commitment.capacity,
              "accounts": commitment.n_accounts, "batches": plan.n_batches})
    work = _work_dir(out, commitment, keys)
    proved = _prove_batches(plan, keys, work, on_event)
    with atomic_directory(out, replace=force) as tmp:
        _assemble(tmp, plan, keys, work)
    if inclusion_out is not None:
        with atomic_directory(Path(inclusion_out), replace=force) as tmp:
            write_inclusion_proofs(commitment, tmp)
    shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    on_event({"event": "done", "bundle": str(out), "seconds": round(seconds, 2)})
    return ProveResult(out, commitment, plan, proved, seconds)


def _work_dir(out: Path, commitment: Commitment, keys: Keys) -> Path:
    """Resumable work folder, named by everything the proofs depend on."""
    digest = hashlib.sha256(f"{commitment.root}:{keys.info['zkey_sha256']}".encode()).hexdigest()[:16]
    work = out.parent / f".{out.name}.work-{digest}"
    work.mkdir(parents=True, exist_ok=True)
    return work


def _circuit(keys: Keys) -> CompiledCircuit:
    n_assets, n_markets, batch_size = keys.shape
    return CompiledCircuit(dir=keys.dir, r1cs=keys.r1cs, wasm=keys.wasm, sym=keys.dir / "circuit.sym",
                           K=n_assets, M=n_markets, B=batch_size)


def _prove_batches(plan: BatchPlan, keys: Keys, work: Path, on_event: Event) -> int:
    circuit = _circuit(keys)
    proved = 0
    for statement in plan.statements:
        index = statement.index
        final = work / batch_dir(index)
        expected = [str(x) for x in statement.public_signals()]
        if _already_proved(final, expected, keys):
            on_event({"event": "batch", "index": index, "of": plan.n_batches, "resumed": True})
            continue
        t = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix=".batch-", dir=work))
        try:
            compute_witness(circuit, plan.batch_input(index), scratch / "witness.wtns")
            snarkjs.prove(keys.zkey, scratch / "witness.wtns", scratch / "proof.json", scratch / "public.json")
            public = json.loads((scratch / "public.json").read_text())
            if public != expected:
                raise ZksolvError(f"batch {index}: the proof's public signals {public} differ from the "
                                  f"statement {expected}")
            (scratch / "witness.wtns").unlink()
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                shutil.rmtree(final)
            scratch.rename(final)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        proved += 1
        on_event({"event": "batch", "index": index, "of": plan.n_batches, "resumed": False,
                  "seconds": round(time.monotonic() - t, 2), "accounts": plan.batch_size})
    return proved


def _already_proved(folder: Path, expected: list[str], keys: Keys) -> bool:
    try:
        public = json.loads((folder / "public.json").read_text())
    except (OSError, ValueError):
        return False
    return public == expected and snarkjs.verify(keys.verification_key, folder / "public.json", folder / "proof.json")


def _assemble(tmp: Path, plan: BatchPlan, keys: Keys, work: Path) -> None:
    commitment = plan.commitment
    params = commitment.params
    (tmp / "params.json").write_bytes(json.dumps(params_document(params), indent=2).encode() + b"\n")
    shutil.copyfile(keys.verification_key, tmp / "verification_key.json")
    shutil.copyfile(keys.verifier_sol, tmp / "Verifier.sol")
    roots = [str(s.batch_root) for s in plan.statements]
    (tmp / "batch_roots.json").write_text(dumps_json(roots))
    for statement in plan.statements:
        shutil.copytree(work / batch_dir(statement.index), tmp / batch_dir(statement.index))
    top = merkle_levels([s.batch_root for s in plan.statements])[-1][0]
    if top != commitment.root:
        raise ZksolvError("internal error: batch roots do not rebuild the commitment root")
    files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    info = keys.info
    manifest = {
        "format": BUNDLE_FORMAT,
        "epoch": params.epoch,
        "quote": params.quote,
        "root": str(commitment.root),
        "params_hash": str(params_hash(params)),
        "params_sha256": hashlib.sha256(canonical_params_json(params)).hexdigest(),
        "capacity": commitment.capacity,
        "batch_size": plan.batch_size,
        "n_batches": plan.n_batches,
        "circuit": {"id": info["circuit_id"], "n_assets": info["n_assets"], "n_markets": info["n_markets"],
                    "batch_size": info["batch_size"], "constraints": info["constraints"],
                    "r1cs_sha256": info["r1cs_sha256"]},
        "verification_key_sha256": info["verification_key_sha256"],
        "setup": {"insecure_development": keys.insecure, "ptau_power": info["ptau"]["power"]},
        "final_accumulator": {
            "acc": str(plan.statements[-1].acc_out),
            "totals": [str(x) for x in plan.final_totals.vector()],
            "blinding": str(plan.final_blinding),
        },
        "totals": totals_document(params, plan.final_totals),
        "files": files,
    }
    (tmp / "manifest.json").write_text(dumps_json(manifest))
