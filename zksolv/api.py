"""The library API: every CLI command is one call here, so pipelines can import it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from . import audit
from .accounts import AccountsFile, read_accounts
from .audit import AuditReport
from .commitment import COMMITMENT_FORMAT, Commitment, build_commitment, inclusion_filename
from .errors import InputError, Problem
from .field import FIELD_MODULUS, parse_canonical_uint
from .inclusion import InclusionResult, load_inclusion_proof, verify_inclusion
from .io import atomic_directory, dumps_json, read_json
from .margin import SolvencyReport, check_solvency
from .params import ParamsFile, RiskParams, load_params
from .secret import load_secret
from .verify import Report, select_backends, verify_bundle


def check(params_path: Path | str, accounts_path: Path | str) -> tuple[RiskParams, SolvencyReport]:
    """Run the margin reference model over every account (streaming)."""
    params = load_params(params_path)
    return params, check_solvency(read_accounts(accounts_path, params), params)


def commit(params_path: Path | str, accounts_path: Path | str, secret_path: Path | str,
           capacity: int | None = None, batch_size: int | None = None) -> Commitment:
    """Read and validate everything, then build the commitment in memory (nothing written)."""
    params = load_params(params_path)
    seed = load_secret(secret_path)
    # Streamed straight into the commitment: at 2^20 accounts this halves peak memory.
    commitment = build_commitment(read_accounts(accounts_path, params), params, seed, capacity, batch_size)
    if commitment.n_accounts == 0:
        raise InputError([Problem(str(accounts_path), "no accounts")])
    return commitment


def write_inclusion_proofs(commitment: Commitment, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for index, slot in enumerate(commitment.slots):
        if slot.account_id is None:
            continue
        document = commitment.inclusion_proof(index)
        (folder / inclusion_filename(slot.account_id)).write_text(dumps_json(document), encoding="utf-8")
        count += 1
    return count


def write_commitment(commitment: Commitment, out_dir: Path | str, force: bool = False) -> Path:
    """Write `commitment.json` and `inclusion/` atomically (all or nothing)."""
    out_dir = Path(out_dir)
    with atomic_directory(out_dir, replace=force) as tmp:
        (tmp / "commitment.json").write_text(dumps_json(commitment.document()), encoding="utf-8")
        write_inclusion_proofs(commitment, tmp / "inclusion")
    return out_dir


def load_commitment_document(path: Path | str) -> dict:
    path = Path(path)
    data = read_json(path, "commitment")
    if not isinstance(data, dict) or data.get("format") != COMMITMENT_FORMAT:
        raise InputError([Problem(str(path), f"not a {COMMITMENT_FORMAT} file")])
    try:
        data["root"], data["params_hash"] = (parse_canonical_uint(data[k], FIELD_MODULUS, k)
                                             for k in ("root", "params_hash"))
    except (KeyError, TypeError, ValueError):
        raise InputError([Problem(str(path), "root and params_hash must be decimal strings")]) from None
    return data


def verify_inclusion_file(proof_path: Path | str, root: int | None = None,
                          commitment_path: Path | str | None = None,
                          bundle_path: Path | str | None = None, capacity: int | None = None) -> InclusionResult:
    """Verify a holder's proof against an explicit root and capacity, a commitment.json or a bundle's manifest."""
    proof = load_inclusion_proof(proof_path)
    if bundle_path is not None:
        manifest = read_json(Path(bundle_path) / "manifest.json", "bundle manifest")
        if not isinstance(manifest, dict):
            raise InputError([Problem(str(bundle_path), "manifest must be a JSON object")])
        try:
            bundle_root, bundle_hash = (parse_canonical_uint(manifest[k], FIELD_MODULUS, k)
                                        for k in ("root", "params_hash"))
            bundle_capacity = manifest["capacity"]
            if not isinstance(bundle_capacity, int):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise InputError([Problem(str(bundle_path), "manifest has no root/params_hash/capacity")]) from None
        result = verify_inclusion(proof, bundle_root, bundle_capacity, manifest.get("epoch"), bundle_hash,
                                  str(proof_path))
        result.warnings.append("this checks the account against the bundle's root; run `zksolv verify` on the "
                               "bundle to check its proofs")
        return result
    if commitment_path is not None:
        published = load_commitment_document(commitment_path)
        if not isinstance(published.get("capacity"), int):
            raise InputError([Problem(str(commitment_path), "capacity must be an integer")])
        return verify_inclusion(proof, published["root"], published["capacity"], published.get("epoch"),
                                published["params_hash"], str(proof_path))
    if root is None or capacity is None:
        raise InputError([Problem(str(proof_path), "give what to check against: --bundle, --commitment, or "
                                                   "--root with --capacity (the published tree capacity)")])
    return verify_inclusion(proof, root, capacity, source=str(proof_path))


def verify(bundle_path: Path | str, backend: str = "auto", require_ceremony: bool = False,
           trusted_vkeys: Iterable[str] = (), trusted_keys: Iterable[Path | str] = ()) -> Report:
    """Verify a bundle (zksolv.verify.verify_bundle) with the named proof backend(s).

    `trusted_vkeys` / `trusted_keys` pin the verification key (see audit_setup); without
    them the report's `trust` says what the claim then rests on."""
    return verify_bundle(bundle_path, backends=select_backends(backend), require_ceremony=require_ceremony,
                         trusted_vkeys=trusted_vkeys, trusted_keys=trusted_keys)


def audit_setup(keys_dir: Path | str, ptau: Path | str,
                progress: Callable[[str], None] = lambda _: None) -> AuditReport:
    """Audit a keys folder against zksolv's own circuits and a ptau (zksolv.audit.audit_setup):
    the result's `document()` is the trust file `verify --trusted-keys` reads."""
    return audit.audit_setup(keys_dir, ptau, progress)


def input_schemas() -> dict:
    """JSON Schemas of the two inputs (params.json and the JSON accounts format)."""
    accounts = AccountsFile.model_json_schema()
    list_schema = {"title": "Accounts", "type": "array", "items": {"$ref": "#/$defs/AccountRecord"},
                   "$defs": accounts.get("$defs", {}),
                   "description": AccountsFile.__doc__.replace("\n", " ").strip()}
    return {"params": ParamsFile.model_json_schema(), "accounts": list_schema}
