"""Verify a proof bundle: every check of DESIGN §8, each reported by name.

A bundle is valid only if all checks pass. Checks run in order of cost and all
of them run (so a report names every problem), except that proofs are not
checked once the bundle's structure is already known to be broken.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .bundle import BUNDLE_FORMAT, TOP_FILES, Manifest, batch_dir, totals_document
from .commitment import merkle_levels
from .errors import InputError, Problem
from .field import FIELD_MODULUS, TOTAL_BITS
from .io import read_json
from .margin import Totals
from .params import canonical_params_json, params_hash, parse_params
from .witness import accumulator, zero_accumulator

# A proof backend checks every batch proof of a bundle folder whose structure is
# already verified, returning one verdict per batch index (0…n−1).
ProofBackend = Callable[[Path, dict], list[bool]]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    bundle: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: dict | None = None

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def document(self) -> dict:
        manifest = self.manifest or {}
        return {
            "bundle": self.bundle,
            "valid": self.valid,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "warnings": self.warnings,
            "epoch": manifest.get("epoch"),
            "root": manifest.get("root"),
            "totals": manifest.get("totals") if self.valid else None,
        }


def snarkjs_backend(folder: Path, manifest: dict) -> list[bool]:
    """`snarkjs groth16 verify` on each batch (needs Node)."""
    from . import snarkjs

    vkey = folder / "verification_key.json"
    return [snarkjs.verify(vkey, folder / batch_dir(i) / "public.json", folder / batch_dir(i) / "proof.json")
            for i in range(int(manifest["n_batches"]))]


def python_backend(folder: Path, manifest: dict) -> list[bool]:
    """Pure-Python Groth16 on py_ecc (no Node needed)."""
    from .groth16 import python_backend as backend

    return backend(folder, manifest)


def evm_backend(folder: Path, manifest: dict) -> list[bool]:
    """The bundle's Verifier.sol on an in-process EVM (py-evm)."""
    from .evm import evm_backend as backend

    return backend(folder, manifest)


BACKENDS: dict[str, ProofBackend] = {"snarkjs": snarkjs_backend, "python": python_backend, "evm": evm_backend}


def node_toolchain_available() -> bool:
    from .circuit import CircuitError, _node, node_modules

    try:
        _node()
    except CircuitError:
        return False
    return (node_modules() / "snarkjs").is_dir()


def select_backends(name: str) -> dict[str, ProofBackend]:
    """`auto` (snarkjs when Node is installed, else pure Python), `snarkjs`, `python`,
    `evm`, or `all` (every backend, which must then agree)."""
    if name == "auto":
        name = "snarkjs" if node_toolchain_available() else "python"
    if name == "all":
        return dict(BACKENDS)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)} or all")
    return {name: BACKENDS[name]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_bundle(folder: Path | str, backends: dict[str, ProofBackend] | None = None,
                  require_ceremony: bool = False) -> Report:
    """Run every check; raise InputError only when the bundle cannot be read at all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), "not a bundle folder")])
    manifest = read_json(folder / "manifest.json", "manifest")
    if not isinstance(manifest, dict):
        raise InputError([Problem(str(folder / "manifest.json"), "manifest must be a JSON object")])
    report = Report(str(folder), manifest=manifest)
    structure_ok = _check_manifest(folder, manifest, report)
    if not structure_ok:
        report.add("proofs", False, "not checked: the manifest is broken")
        return report
    params = _check_params(folder, manifest, report)
    publics = _load_publics(folder, manifest, report)
    vkey = _check_verification_key(folder, manifest, report)
    if vkey:
        _check_verifier_contract(folder, report)
    _check_setup(manifest, report, require_ceremony)
    if publics is not None and params is not None:
        _check_accumulator_chain(manifest, params, publics, report)
        _check_roots(folder, manifest, publics, report)
        if vkey:
            _check_proofs(folder, manifest, report, backends or {"snarkjs": snarkjs_backend})
    if publics is None:
        report.add("proofs", False, "not checked: the public signals are unreadable")
    return report


def _check_manifest(folder: Path, manifest: dict, report: Report) -> bool:
    if manifest.get("format") != BUNDLE_FORMAT:
        return report.add("manifest", False, f"unknown format {manifest.get('format')!r} (expected {BUNDLE_FORMAT})")
    try:
        Manifest.model_validate(manifest)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return report.add("manifest", False, f"malformed: {errors}")
    files = manifest["files"]
    n_batches, batch_size, capacity = (manifest[k] for k in ("n_batches", "batch_size", "capacity"))
    expected = set(TOP_FILES) | {f"{batch_dir(i)}/{name}" for i in range(n_batches)
                                 for name in ("proof.json", "public.json")}
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    problems = []
    if set(files) != expected:
        problems.append(f"file list differs from the layout for {n_batches} batches "
                        f"(missing {sorted(expected - set(files))[:3]}, extra {sorted(set(files) - expected)[:3]})")
    if present != set(files):
        problems.append(f"files on disk differ from the manifest (missing {sorted(set(files) - present)[:3]}, "
                        f"unlisted {sorted(present - set(files))[:3]})")
    for name in sorted(set(files) & present):
        if _sha256(folder / name) != files[name]:
            problems.append(f"{name} was modified (SHA-256 differs)")
    if n_batches < 1 or batch_size < 2 or batch_size & (batch_size - 1) or capacity != n_batches * batch_size \
            or n_batches & (n_batches - 1):
        problems.append(f"inconsistent sizes: {n_batches} batches × {batch_size} ≠ capacity {capacity} "
                        f"(all powers of two)")
    if problems:
        return report.add("manifest", False, "; ".join(problems))
    return report.add("manifest", True, f"format {BUNDLE_FORMAT}; {len(files)} files, all hashes match; "
                                        f"batches 0…{n_batches - 1} each exactly once")


def _check_params(folder: Path, manifest: dict, report: Report):
    try:
        params = parse_params(json.loads((folder / "params.json").read_bytes()), str(folder / "params.json"))
    except (OSError, ValueError) as exc:
        report.add("params", False, f"params.json unreadable: {exc}")
        return None
    except InputError as exc:
        report.add("params", False, f"params.json invalid: {exc}")
        return None
    problems = []
    if str(params_hash(params)) != str(manifest.get("params_hash")):
        problems.append("params hash recomputed from params.json differs from the manifest's")
    if params.epoch != manifest.get("epoch"):
        problems.append(f"epoch {params.epoch} in params.json differs from the manifest's {manifest.get('epoch')}")
    if hashlib.sha256(canonical_params_json(params)).hexdigest() != manifest.get("params_sha256"):
        problems.append("canonical params differ from the manifest's params_sha256")
    circuit = manifest.get("circuit") or {}
    if (circuit.get("n_assets"), circuit.get("n_markets")) != (len(params.assets), len(params.markets)):
        problems.append("the circuit shape does not match the number of assets and markets")
    if problems:
        report.add("params", False, "; ".join(problems))
        return None
    report.add("params", True, f"params hash recomputed from params.json; epoch {params.epoch}")
    return params


def _load_publics(folder: Path, manifest: dict, report: Report) -> list[list[int]] | None:
    publics = []
    for index in range(int(manifest["n_batches"])):
        path = folder / batch_dir(index) / "public.json"
        try:
            values = json.loads(path.read_text())
            if not (isinstance(values, list) and len(values) == 3):
                raise ValueError("expected 3 public signals")
            numbers = [int(v) for v in values]
            if any(not 0 <= v < FIELD_MODULUS for v in numbers) or any(not isinstance(v, str) for v in values):
                raise ValueError("signals must be decimal strings of field elements")
        except (OSError, ValueError, TypeError) as exc:
            report.add("public signals", False, f"{batch_dir(index)}/public.json: {exc}")
            return None
        publics.append(numbers)
    return publics


def _check_verification_key(folder: Path, manifest: dict, report: Report) -> bool:
    from py_ecc.bn128 import G2

    path = folder / "verification_key.json"
    try:
        vkey = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return report.add("verification key", False, f"unreadable: {exc}")
    problems = []
    if _sha256(path) != manifest.get("verification_key_sha256"):
        problems.append("it is not the key the manifest names (SHA-256 differs)")
    if vkey.get("protocol") != "groth16" or vkey.get("curve") != "bn128" or vkey.get("nPublic") != 3:
        problems.append("not a Groth16/BN254 key with 3 public signals")
    generator = [[str(c) for c in G2[0].coeffs], [str(c) for c in G2[1].coeffs]]
    if (vkey.get("vk_delta_2") or [None])[:2] == generator:
        problems.append("δ is the G2 generator: the key has no phase-2 contribution (anyone could forge proofs)")
    if problems:
        return report.add("verification key", False, "; ".join(problems))
    return report.add("verification key", True, "the manifest's key; Groth16/BN254; has a phase-2 contribution")


def _check_verifier_contract(folder: Path, report: Report) -> None:
    """Verifier.sol must be snarkjs's contract for this verification key.

    With Node: rendered from snarkjs's own template and compared byte for byte.
    Without Node (the pure-Python path): every constant of the contract is
    compared with the key.
    """
    from .circuit import CircuitError, _node, node_modules

    try:
        sol = (folder / "Verifier.sol").read_text()
        vkey = json.loads((folder / "verification_key.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        report.add("verifier contract", False, f"Verifier.sol or the key unreadable: {exc}")
        return
    script = Path(__file__).resolve().parent / "js" / "render_verifier.js"
    try:
        node = _node()
        if not (node_modules() / "snarkjs").is_dir():
            raise CircuitError("snarkjs not installed")
    except CircuitError:
        from .groth16 import verifier_contract_matches

        ok = verifier_contract_matches(sol, vkey)
        report.add("verifier contract", ok, "Verifier.sol holds this key's constants (Node absent: template not "
                   "rendered)" if ok else "Verifier.sol's constants are not this verification key's")
        return
    proc = subprocess.run([node, str(script), str(folder / "verification_key.json")], capture_output=True,
                          text=True, env={**os.environ, "ZKSOLV_NODE_MODULES": str(node_modules())})
    if proc.returncode != 0:
        report.add("verifier contract", False, f"cannot render the verifier for this key: {proc.stderr.strip()[:200]}")
        return
    ok = sol == proc.stdout
    report.add("verifier contract", ok, "Verifier.sol is snarkjs's verifier for this key" if ok else
               "Verifier.sol is not snarkjs's verifier for this verification key")


def _check_setup(manifest: dict, report: Report, require_ceremony: bool) -> None:
    setup = manifest.get("setup") or {}
    if setup.get("insecure_development", True):
        message = ("made with an INSECURE local development powers of tau: whoever ran the setup could "
                   "forge proofs; production bundles need a ceremony ptau (zksolv setup --ptau FILE)")
        if require_ceremony:
            report.add("ceremony", False, message)
        else:
            report.warnings.append(message)


def _check_accumulator_chain(manifest, params, publics, report) -> None:
    final = manifest.get("final_accumulator") or {}
    try:
        totals = [int(x) for x in final["totals"]]
        blinding = int(final["blinding"])
    except (KeyError, TypeError, ValueError):
        report.add("accumulator chain", False, "final_accumulator must hold totals and blinding as decimal strings")
        return
    problems = []
    if publics[0][1] != zero_accumulator(params):
        problems.append("batch 0 does not start from acc_0 of the published params (other prices, weights "
                        "or epoch, or non-zero starting totals)")
    for i in range(1, len(publics)):
        if publics[i][1] != publics[i - 1][2]:
            problems.append(f"batch {i} does not continue batch {i - 1}'s accumulator")
    if len(totals) != 2 * params.n_slots or any(not 0 <= t < 1 << TOTAL_BITS for t in totals):
        problems.append(f"final totals must be {2 * params.n_slots} integers in [0, 2^96)")
    elif accumulator(params_hash(params), totals, blinding) != publics[-1][2]:
        problems.append("the published totals and blinding do not open the last accumulator")
    elif str(final.get("acc")) != str(publics[-1][2]):
        problems.append("final_accumulator.acc is not the last batch's acc_out")
    elif manifest.get("totals") != totals_document(params, Totals.from_vector(totals, params)):
        problems.append("the human-readable totals differ from the proved ones")
    report.add("accumulator chain", not problems, "; ".join(problems) if problems else
               f"acc_0 (published params, zero totals) → … → acc_{len(publics)} links; "
               f"the published totals open the last accumulator")


def _check_roots(folder, manifest, publics, report) -> None:
    try:
        roots = [int(r) for r in json.loads((folder / "batch_roots.json").read_text())]
    except (OSError, ValueError, TypeError) as exc:
        report.add("root", False, f"batch_roots.json unreadable: {exc}")
        return
    problems = []
    if roots != [p[0] for p in publics]:
        problems.append("batch_roots.json differs from the roots the proofs commit to")
    elif merkle_levels(roots)[-1][0] != int(manifest.get("root", -1)):
        problems.append("the batch roots do not hash to the published root")
    report.add("root", not problems, "; ".join(problems) if problems else
               f"{len(roots)} batch roots hash to the published root")


def _check_proofs(folder, manifest, report, backends: dict[str, ProofBackend]) -> None:
    """Every backend must accept every batch proof, and all backends must agree."""
    verdicts = {}
    for name, backend in backends.items():
        verdicts[name] = backend(folder, manifest)
        bad = [i for i, ok in enumerate(verdicts[name]) if not ok]
        label = "proofs" if len(backends) == 1 else f"proofs ({name})"
        report.add(label, not bad and len(verdicts[name]) == int(manifest["n_batches"]),
                   f"all {manifest['n_batches']} batch proofs verify ({name})" if not bad
                   else f"batch proofs {bad[:10]} do not verify ({name})")
    if len(verdicts) > 1:
        distinct = {tuple(v) for v in verdicts.values()}
        report.add("backends agree", len(distinct) == 1,
                   f"{', '.join(verdicts)} give the same verdict on every batch" if len(distinct) == 1
                   else "backends disagree: " + "; ".join(f"{n}: {v}" for n, v in verdicts.items()))
