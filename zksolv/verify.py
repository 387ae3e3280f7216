"""Verify a proof bundle: every check of docs/SECURITY.md "What is proved", each reported by name.

A bundle is valid only if all checks pass. Checks run in order of cost and all
of them run (so a report names every problem), except that proofs are not
checked once the bundle's structure is already known to be broken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from . import toolchain
from .bundle import (
    BUNDLE_FORMAT,
    TOP_FILES,
    Manifest,
    ManifestError,
    batch_dir,
    liquidations_document,
    load_manifest,
    stress_document,
    totals_document,
)
from .commitment import merkle_levels
from .errors import ArgumentError, InputError, Problem
from .events import EventSink, ignore
from .field import FIELD_MODULUS, TOTAL_BITS, parse_canonical_uint
from .io import parse_json
from .margin import Liquidations, Totals, totals_vector_length, unbalanced_markets, unbalanced_text, uncovered_amount
from .params import canonical_params_json, params_hash, parse_params
from .statement import accumulator, circuit_name, circuit_shape, zero_accumulator
from .trust import AuditReport, TrustAnchors, load_trust

#: Told each batch's verdict as a backend reaches it: (batch index, verdict).
BatchSink = Callable[[int, bool], None]


class ProofBackend(Protocol):
    """Checks every batch proof of a bundle folder whose structure is already verified, returning
    one verdict per batch index (0…n−1), and telling `on_batch` each verdict as it is reached (for
    progress). It gets the manifest as JSON data (Report.manifest): it reads only n_batches."""

    def __call__(self, folder: Path, manifest: dict, on_batch: BatchSink | None = None) -> list[bool]: ...


@dataclass
class Check:
    """One named check. The name is the same whichever backend checked the proofs (a report's
    checks are compared across backends and machines); a proof check names its backend in `backend`."""

    name: str
    ok: bool
    detail: str
    backend: str | None = None


@dataclass
class Report:
    bundle: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: dict | None = None  # the validated manifest as JSON data (None when it is not one)
    # Whether the verification key was pinned and what the claim rests on (see _check_verification_key).
    trust: dict | None = None
    # The totals and liquidation figures the last accumulator opens to (set once the chain checks out).
    proved: Totals | None = None
    # The EVM replay of the publication (zksolv.evm.evm_report), when asked for: gas and the registry's verdict.
    evm: dict | None = None
    # acc_0 = Poseidon2(params_hash, Z) recomputed from params.json and the circuit shape (once they are read):
    # the value a registry derives at publication.
    acc_0: str | None = None

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str, backend: str | None = None) -> bool:
        self.checks.append(Check(name, ok, detail, backend))
        return ok

    def document(self) -> dict:
        manifest = self.manifest or {}
        return {
            "bundle": self.bundle,
            "valid": self.valid,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "backend": c.backend} for c in self.checks],
            "warnings": self.warnings,
            "epoch": manifest.get("epoch"),
            "root": manifest.get("root"),
            "acc_0": self.acc_0,
            "totals": manifest.get("totals") if self.valid else None,
            "liquidations": manifest.get("liquidations") if self.valid else None,
            "scenarios": manifest.get("scenarios") if self.valid else None,
            "trust": self.trust,
            **({"evm": self.evm} if self.evm is not None else {}),
        }


def snarkjs_backend(folder: Path, manifest: dict, on_batch: BatchSink | None = None) -> list[bool]:
    """`snarkjs groth16 verify` on each batch (needs Node)."""
    from . import snarkjs

    vkey = folder / "verification_key.json"
    verdicts = []
    for i in range(int(manifest["n_batches"])):
        batch = folder / batch_dir(i)
        verdicts.append(snarkjs.verify(vkey, batch / "public.json", batch / "proof.json"))
        if on_batch is not None:
            on_batch(i, verdicts[-1])
    return verdicts


def python_backend(folder: Path, manifest: dict, on_batch: BatchSink | None = None) -> list[bool]:
    """Pure-Python Groth16 on py_ecc (no Node needed)."""
    from .groth16 import python_backend as backend

    return backend(folder, manifest, on_batch)


def evm_backend(folder: Path, manifest: dict, on_batch: BatchSink | None = None) -> list[bool]:
    """The bundle's Verifier.sol on an in-process EVM (py-evm)."""
    from .evm import evm_backend as backend

    return backend(folder, manifest, on_batch)


BACKENDS: dict[str, ProofBackend] = {"snarkjs": snarkjs_backend, "python": python_backend, "evm": evm_backend}


def node_toolchain_available() -> bool:
    return toolchain.available("snarkjs")


def select_backends(name: str) -> dict[str, ProofBackend]:
    """`auto` (snarkjs when Node is installed, else pure Python), `snarkjs`, `python`,
    `evm`, or `all` (every backend, which must then agree)."""
    if name == "auto":
        name = "snarkjs" if node_toolchain_available() else "python"
    if name == "all":
        return dict(BACKENDS)
    if name not in BACKENDS:
        raise ArgumentError("backend", f"unknown backend {name!r}; choose from {', '.join(BACKENDS)} or all")
    return {name: BACKENDS[name]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_bundle(
    folder: Path | str,
    backends: dict[str, ProofBackend] | None = None,
    require_ceremony: bool = False,
    trusted_vkeys: Iterable[str] = (),
    trusted_keys: Iterable[Path | str] = (),
    on_event: EventSink = ignore,
) -> Report:
    """Run every check; raise InputError only when the bundle or a trust file cannot be read at all.

    `on_event` gets the progress of the proof checks (zksolv.events): `verifying` (backend, batches)
    as each backend starts, `verified` (backend, index, ok, done, of) per batch.

    `trusted_vkeys` (SHA-256 hashes) and `trusted_keys` (trust files: `zksolv audit-setup --json`
    documents) pin the verification key. The key ships inside the bundle, chosen by the venue, so
    without a pin the claim holds only if that key was made for the bundle's circuit, and the
    report says so. `require_ceremony` passes only for a key pinned by an audit whose ptau is a
    published ceremony file."""
    trust = load_trust(trusted_vkeys, trusted_keys)
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), "not a bundle folder")])
    try:
        manifest = load_manifest(folder)
    except ManifestError as exc:
        report = Report(str(folder))
        report.add(
            "manifest", False, "; ".join(p.message for p in exc.problems[:5]) + ("; …" if len(exc.problems) > 5 else "")
        )
        report.add("proofs", False, "not checked: the manifest is broken")
        return report
    report = Report(str(folder), manifest=manifest.model_dump())
    if not _check_manifest(folder, manifest, report):
        report.add("proofs", False, "not checked: the manifest is broken")
        return report
    params = _check_params(folder, manifest, report)
    publics = _load_publics(folder, manifest, report)
    vkey = _check_verification_key(folder, manifest, report, trust)
    if vkey:
        _check_verifier_contract(folder, report)
    _check_setup(manifest, report, require_ceremony)
    if publics is not None and params is not None:
        _check_accumulator_chain(manifest, params, publics, report)
        _check_roots(folder, manifest, publics, report)
        if vkey:
            _check_proofs(folder, manifest, report, backends or {"snarkjs": snarkjs_backend}, on_event)
    if publics is None:
        report.add("proofs", False, "not checked: a batch's public.json or proof.json is unreadable or not canonical")
    return report


def _check_manifest(folder: Path, manifest: Manifest, report: Report) -> bool:
    files = manifest.files
    n_batches, batch_size, capacity = manifest.n_batches, manifest.batch_size, manifest.capacity
    # n_batches is the venue's number (up to 2^40): the layout is spelled out only as far as the file list could
    # match it, since beyond len(files) batches the list is too short anyway.
    expected = set(TOP_FILES) | {
        f"{batch_dir(i)}/{name}" for i in range(min(n_batches, len(files))) for name in ("proof.json", "public.json")
    }
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    problems = []
    if set(files) != expected:
        problems.append(
            f"file list differs from the layout for {n_batches} batches "
            f"(missing {sorted(expected - set(files))[:3]}, extra {sorted(set(files) - expected)[:3]})"
        )
    if present != set(files):
        problems.append(
            f"files on disk differ from the manifest (missing {sorted(set(files) - present)[:3]}, "
            f"unlisted {sorted(present - set(files))[:3]})"
        )
    for name in sorted(set(files) & present):
        if _sha256(folder / name) != files[name]:
            problems.append(f"{name} was modified (SHA-256 differs)")
    if (
        batch_size < 2
        or batch_size & (batch_size - 1)
        or capacity != n_batches * batch_size
        or n_batches & (n_batches - 1)
    ):
        problems.append(
            f"inconsistent sizes: {n_batches} batches × {batch_size} ≠ capacity {capacity} (all powers of two)"
        )
    # The published batch size must be the circuit's: the proofs bind Shape(K, M, B) of the circuit into
    # acc_0 (checked in the accumulator chain), and the inclusion depth follows from the capacity.
    if batch_size != manifest.circuit.batch_size:
        problems.append(f"batch size {batch_size} differs from the circuit's {manifest.circuit.batch_size}")
    if problems:
        return report.add("manifest", False, "; ".join(problems))
    return report.add(
        "manifest",
        True,
        f"format {BUNDLE_FORMAT}; {len(files)} files, all hashes match; batches 0…{n_batches - 1} each exactly once",
    )


def _check_params(folder: Path, manifest: Manifest, report: Report):
    try:
        params = parse_params(
            parse_json((folder / "params.json").read_bytes()), str(folder / "params.json"), canonical=True
        )  # the bundle shows exactly what it hashes (PROTOCOL.md §2)
    except (OSError, ValueError) as exc:
        report.add("params", False, f"params.json unreadable: {exc}")
        return None
    except InputError as exc:
        report.add("params", False, f"params.json invalid: {exc}")
        return None
    problems = []
    if str(params_hash(params)) != manifest.params_hash:
        problems.append("params hash recomputed from params.json differs from the manifest's")
    if params.epoch != manifest.epoch:
        problems.append(f"epoch {params.epoch} in params.json differs from the manifest's {manifest.epoch}")
    if hashlib.sha256(canonical_params_json(params)).hexdigest() != manifest.params_sha256:
        problems.append("canonical params differ from the manifest's params_sha256")
    if (manifest.circuit.n_assets, manifest.circuit.n_markets) != (len(params.assets), len(params.markets)):
        problems.append("the circuit shape does not match the number of assets and markets")
    elif tuple(manifest.circuit.market_brackets) != params.tiers:
        problems.append(
            f"the circuit's maintenance brackets per market {manifest.circuit.market_brackets} are not "
            f"params.json's {list(params.tiers)}"
        )
    elif manifest.circuit.scenarios != len(params.scenarios):
        problems.append(
            f"the circuit has {manifest.circuit.scenarios} scenarios; params.json has {len(params.scenarios)}"
        )
    if problems:
        report.add("params", False, "; ".join(problems))
        return None
    report.add("params", True, f"params hash recomputed from params.json; epoch {params.epoch}")
    return params


def _load_publics(folder: Path, manifest: Manifest, report: Report) -> list[list[int]] | None:
    """Every batch's public signals, or None (with the failed check named) when any batch's
    public.json or proof.json is not in snarkjs's canonical encoding.

    Why here, before any backend: snarkjs also reads hex, leading zeros, coordinates + q and
    Jacobian z ≠ 1, while the Python and EVM backends refuse them, so without this step the
    verdict on a re-encoded (and re-hashed) bundle would depend on the backend, or on whether
    Node is installed."""
    from .groth16 import load_public_signals

    proofs_encoded = _check_proof_encoding(folder, manifest, report)
    publics = []
    for index in range(manifest.n_batches):
        name = f"{batch_dir(index)}/public.json"
        try:
            values = load_public_signals(folder / name)
        except InputError as exc:
            report.add("public signals", False, f"{name}: {exc.problems[0].message}")
            return None
        if len(values) != 3:
            report.add("public signals", False, f"{name}: expected 3 public signals, got {len(values)}")
            return None
        publics.append(list(values))
    report.add("public signals", True, f"{len(publics)} × 3 signals, canonical decimal strings below r")
    return publics if proofs_encoded else None


def _check_proof_encoding(folder: Path, manifest: Manifest, report: Report) -> bool:
    """Every batch's proof.json in exactly the encoding snarkjs writes (groth16.load_proof_document):
    strict JSON, canonical decimal coordinates below q, affine points on their curves."""
    from .groth16 import load_proof_document

    for index in range(manifest.n_batches):
        name = f"{batch_dir(index)}/proof.json"
        try:
            load_proof_document(folder / name)
        except InputError as exc:
            return report.add("proof encoding", False, f"{name}: {exc.problems[0].message}")
    return report.add(
        "proof encoding",
        True,
        f"all {manifest.n_batches} proof.json files in snarkjs's canonical "
        f"encoding (decimal strings below q, affine points on the curves)",
    )


def _check_verification_key(folder: Path, manifest: Manifest, report: Report, trust: TrustAnchors) -> bool:
    path = folder / "verification_key.json"
    try:
        vkey = parse_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        return report.add("verification key", False, f"unreadable: {exc}")
    if not isinstance(vkey, dict):
        return report.add("verification key", False, "verification_key.json is not a JSON object")
    problems = []
    sha = _sha256(path)
    if sha != manifest.verification_key_sha256:
        problems.append("it is not the key the manifest names (SHA-256 differs)")
    if vkey.get("protocol") != "groth16" or vkey.get("curve") != "bn128" or vkey.get("nPublic") != 3:
        problems.append("not a Groth16/BN254 key with 3 public signals")
    weak = _weak_delta(vkey)
    if weak:
        problems.append(weak)
    pin = _check_pin(sha, manifest, report, trust)
    if pin:
        problems.append(pin)
    if problems:
        return report.add("verification key", False, "; ".join(problems))
    pinned = report.trust or {}
    how = (
        "pinned by an audit of " + pinned["audit"]["shape"]
        if pinned.get("audit")
        else "pinned by --trusted-vkey"
        if pinned.get("pinned")
        else "NOT pinned"
    )
    return report.add(
        "verification key",
        True,
        f"the manifest's key (SHA-256 {sha}), {how}; Groth16/BN254; δ is not a small multiple of G2 or γ",
    )


#: δ = ±k·G2 (or ±k·γ) for k up to this is rejected: see _weak_delta.
SMALL_MULTIPLES = 256


def _weak_delta(vkey: dict) -> str | None:
    """Why δ is unusable, or None.

    Whoever knows log δ forges a proof of any public input: A = α + r·G1, B = β + s·G2,
    C = (s·α + r·β + rs·G1 − Σ aᵢ·ICᵢ)/δ. δ = G2 (no phase-2 contribution), −G2 or any small
    multiple has a known log, which costs a few hundred additions to detect. This is only a
    sanity check: a δ with a large known log looks like any other, and only the audit
    (zksolv audit-setup, then a pinned key) ties δ to a real phase-2 transcript."""
    from py_ecc.optimized_bn128 import G2, add, eq, is_inf, neg

    from .groth16 import MalformedError, parse_g2

    try:
        delta = parse_g2(vkey.get("vk_delta_2"), "vk_delta_2")
        gamma = parse_g2(vkey.get("vk_gamma_2"), "vk_gamma_2")
    except MalformedError as exc:
        return f"malformed: {exc}"
    if is_inf(delta) or is_inf(gamma):
        return "δ or γ is the point at infinity"
    bases = [("G2", G2)] + ([] if eq(gamma, G2) else [("γ", gamma)])
    for name, base in bases:
        point = base
        for k in range(1, SMALL_MULTIPLES + 1):
            if eq(delta, point) or eq(delta, neg(point)):
                what = "the G2 generator" if (name, k) == ("G2", 1) else f"{k}·{name}"
                return (
                    f"δ is ±{what}: its discrete log is known, so anyone can forge proofs "
                    f"(a key without a real phase-2 contribution)"
                )
            point = add(point, base)
    return None


def _contributions_line(audit: AuditReport) -> str:
    """`3 phase-2 contributions (alice, bob, carol) and a beacon`: who made the audited key's δ, as
    the audit read it from the zkey (sound if one of them destroyed its secret)."""
    secret = [c.name or "(unnamed)" for c in audit.phase2_contributions if c.beacon is None]
    beacons = len(audit.phase2_contributions) - len(secret)
    line = f"{len(secret)} phase-2 contribution(s)" + (f" ({', '.join(secret)})" if secret else "")
    return line + (f" and {beacons} beacon(s)" if beacons else "")


def _check_pin(sha: str, manifest: Manifest, report: Report, trust: TrustAnchors) -> str | None:
    """Record in report.trust what the key is trusted as; return the problem if it is pinned wrongly.

    Why: every check of the bundle holds for *some* circuit with 3 public inputs; only a key
    audited for SolvencyBatch(K, M, B) (or pinned by someone who audited it) makes that circuit
    zksolv's, with its health range check."""
    circuit = manifest.circuit
    tiers = tuple(circuit.market_brackets)
    shape = (circuit.n_assets, circuit.n_markets, circuit.batch_size, tiers, circuit.scenarios)
    name = circuit_name(*shape[:4], spaced=False, scenarios=circuit.scenarios)
    statement = (
        f"the claim holds only if this verification key (SHA-256 {sha}) was made for {name} "
        f"as compiled from zksolv's published circuits, with a ceremony powers of tau and an "
        f"honest phase-2 contribution"
    )
    if not trust.pinned:
        report.trust = {
            "pinned": False,
            "verification_key_sha256": sha,
            "statement": statement + "; the key was chosen by the venue and nothing here checked that",
            "how_to_audit": f"once per shape, with the venue's keys folder for {name} (its circuit.zkey) and the "
            f"ptau it names: `zksolv audit-setup KEYS --ptau PTAU --json > trusted-keys.json`, "
            f"then `zksolv verify BUNDLE --trusted-keys trusted-keys.json` every epoch",
        }
        return None
    audits = trust.audits_of(sha)
    matching = [a for a in audits if a.shape.dims == shape]
    if matching:
        audit = matching[0]
        report.trust = {
            "pinned": True,
            "by": "audit",
            "verification_key_sha256": sha,
            "statement": f"the key is the one audited for {name}, with {_contributions_line(audit)}",
            "audit": {
                "shape": str(audit.shape),
                "keys": audit.keys,
                "ptau": audit.ptau.model_dump(),
                "phase2_contributions": [c.model_dump() for c in audit.phase2_contributions],
                "tools": audit.tools,
            },
        }
        return None
    if sha in trust.hashes and not audits:
        report.trust = {
            "pinned": True,
            "by": "hash",
            "verification_key_sha256": sha,
            "statement": f"the key is one given with --trusted-vkey; {statement}, which whoever "
            f"chose that hash vouches for",
        }
        return None
    report.trust = {"pinned": True, "by": None, "verification_key_sha256": sha, "statement": statement}
    if audits:
        # An audit of this very key for another shape is conclusive, even if the hash is also pinned bare.
        return (
            f"the key was audited for {', '.join(sorted({str(a.shape) for a in audits}))}, not for the bundle's {name}"
        )
    return (
        f"the key (SHA-256 {sha}) is not one of the pinned keys ({len(trust.hashes)} hash(es), "
        f"{len(trust.audits)} audit(s) given)"
    )


def _check_verifier_contract(folder: Path, report: Report) -> None:
    """Verifier.sol must be snarkjs's contract for this verification key.

    With Node: rendered from snarkjs's own template and compared byte for byte.
    Without Node (the pure-Python path): every constant of the contract is
    compared with the key.
    """
    try:
        sol = (folder / "Verifier.sol").read_text()
        vkey = parse_json((folder / "verification_key.json").read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        report.add("verifier contract", False, f"Verifier.sol or the key unreadable: {exc}")
        return
    script = Path(__file__).resolve().parent / "js" / "render_verifier.js"
    if not toolchain.available("snarkjs"):
        from .groth16 import verifier_contract_matches

        ok = verifier_contract_matches(sol, vkey)
        report.add(
            "verifier contract",
            ok,
            "Verifier.sol holds this key's constants (Node absent: template not rendered)"
            if ok
            else "Verifier.sol's constants are not this verification key's",
        )
        return
    proc = toolchain.run_node(
        [str(script), str(folder / "verification_key.json")], what="render_verifier.js", check=False
    )
    if proc.returncode != 0:
        report.add("verifier contract", False, f"cannot render the verifier for this key: {proc.stderr.strip()[:200]}")
        return
    ok = sol == proc.stdout
    report.add(
        "verifier contract",
        ok,
        "Verifier.sol is snarkjs's verifier for this key"
        if ok
        else "Verifier.sol is not snarkjs's verifier for this verification key",
    )


def _check_setup(manifest: Manifest, report: Report, require_ceremony: bool) -> None:
    """The ceremony requirement rests only on a pinned audit: the manifest's
    `insecure_development` flag is written by the venue, so it can warn but never vouch."""
    trust = report.trust or {}
    audit = trust.get("audit")
    if manifest.setup.insecure_development:
        report.warnings.append(
            "made with an INSECURE local development powers of tau (the manifest says so): "
            "whoever ran the setup could forge proofs; production bundles need a ceremony "
            "ptau (zksolv setup --ptau FILE)"
        )
    if audit and audit["ptau"]["kind"] != "ceremony":
        report.warnings.append(
            f"the pinned key was audited with a {audit['ptau']['label']}: whoever made that ptau could forge proofs"
        )
    listed = manifest.setup.contributions
    audited = [(c["name"], c["hash"]) for c in audit["phase2_contributions"]] if audit else None
    if audited is not None and [(c.name, c.hash) for c in listed] != audited:
        # The audit read the contributions from the zkey; the manifest's list is the venue's own words.
        report.warnings.append(
            "the manifest lists other phase-2 contributions than the audited key holds "
            "(setup.contributions): believe the audit's list"
        )
    if not require_ceremony:
        return
    if audit and audit["ptau"]["kind"] == "ceremony":
        n = len(audit["phase2_contributions"])
        report.add(
            "ceremony",
            True,
            f"the pinned key was audited against {audit['ptau']['name']} (a published "
            f"public ceremony file); phase 2 has {n} contribution(s), listed in the trust "
            f"file: sound if one of them was honest",
        )
    elif audit:
        report.add(
            "ceremony",
            False,
            f"the pinned key was audited with a {audit['ptau']['label']}, not a published ceremony file",
        )
    elif trust.get("pinned") and trust.get("by") == "hash":
        report.add(
            "ceremony",
            False,
            "the key is pinned only by a bare hash (--trusted-vkey), which says nothing "
            "about its ptau; pin it with --trusted-keys FILE from `zksolv audit-setup`",
        )
    elif trust.get("pinned"):
        report.add("ceremony", False, "the key is not one of the pinned keys")
    else:
        report.add(
            "ceremony",
            False,
            "no audited key is pinned, and the manifest's insecure_development flag is "
            "written by the venue, so it proves nothing; audit the keys "
            "(`zksolv audit-setup KEYS --ptau PTAU --json > trusted-keys.json`) and "
            "pass --trusted-keys trusted-keys.json",
        )


def _check_accumulator_chain(manifest: Manifest, params, publics, report) -> None:
    final = manifest.final_accumulator
    totals = [int(x) for x in final.totals]  # FieldText: canonical decimals below r
    blinding = int(final.blinding)
    problems = []
    circuit = manifest.circuit
    shape = circuit_shape(circuit.n_assets, circuit.n_markets, circuit.batch_size, params.tiers, len(params.scenarios))
    acc_0 = zero_accumulator(params, circuit.batch_size)
    report.acc_0 = str(acc_0)
    # The manifest's acc_0 is what a registry reader compares with EpochPublished: it must be the one
    # the params and shape give, not merely batch 0's acc_in.
    if manifest.acc_0 != report.acc_0:
        problems.append("acc_0 of the manifest is not Poseidon2(params_hash, Z) of the published params and shape")
    if publics[0][1] != acc_0:
        name = circuit_name(
            circuit.n_assets, circuit.n_markets, circuit.batch_size, params.tiers, scenarios=len(params.scenarios)
        )
        problems.append(
            f"batch 0 does not start from acc_0 of the published params and shape {name} "
            f"(other prices, weights, epoch or circuit shape, or non-zero starting totals)"
        )
    for i in range(1, len(publics)):
        if publics[i][1] != publics[i - 1][2]:
            problems.append(f"batch {i} does not continue batch {i - 1}'s accumulator")
    n_totals = totals_vector_length(params)
    if len(totals) != n_totals or any(not 0 <= t < 1 << TOTAL_BITS for t in totals[: 2 * params.n_slots]):
        problems.append(f"final totals must be {n_totals} integers, the per-asset and per-market ones in [0, 2^96)")
    elif accumulator(params_hash(params), shape, totals, blinding) != publics[-1][2]:
        problems.append("the published totals and blinding do not open the last accumulator")
    elif final.acc != str(publics[-1][2]):
        problems.append("final_accumulator.acc is not the last batch's acc_out")
    else:
        proved = Totals.from_vector(totals, params)
        if manifest.totals != totals_document(params, proved):
            problems.append("the human-readable totals differ from the proved ones")
        if manifest.liquidations != liquidations_document(params, proved.liquidations):
            problems.append("the published liquidation figures differ from the proved ones")
        if manifest.scenarios != stress_document(params, proved.stress):
            problems.append("the published stress report differs from the proved one")
        if not problems:
            report.proved = proved
    report.add(
        "accumulator chain",
        not problems,
        "; ".join(problems)
        if problems
        else f"acc_0 (published params, zero totals) → … → acc_{len(publics)} links; "
        f"the published totals open the last accumulator",
    )
    if report.proved is not None:
        _check_liquidations(params, report.proved.liquidations, report)
        if params.balanced_markets:
            _check_balanced_markets(params, report.proved, report)
        if params.scenarios:
            _check_stress(params, report.proved.stress, report)


def _check_stress(params, stress: list[Liquidations], report: Report) -> None:
    """The stress report is information, not part of the claim: each scenario's proved figures are
    shown (and in --json), with the scenarios whose bad debt the insurance fund would not cover."""
    rows = stress_document(params, stress)
    uncovered = [row["name"] for row in rows if not row["covered"]]
    report.add(
        "stress report",
        True,
        f"{len(rows)} scenarios proved over every account"
        + (f"; the insurance fund would not cover: {', '.join(uncovered)}" if uncovered else "; all covered"),
    )


def _check_liquidations(params, liquidations: Liquidations, report: Report) -> None:
    """The claim holds only if the proved bad debt is covered by the published insurance fund."""
    doc = liquidations_document(params, liquidations)
    figures = (
        f"{doc['accounts_below_maintenance']} accounts below maintenance (shortfall {doc['shortfall']} "
        f"{params.quote}), {doc['bankrupt_accounts']} with negative equity (bad debt {doc['bad_debt']} "
        f"{params.quote}), insurance fund {doc['insurance_fund'] or 'none'}"
    )
    if doc["covered"]:
        report.add("liquidations", True, f"{figures}: covered")
    else:
        report.add(
            "liquidations",
            False,
            f"{figures}: the bad debt exceeds the insurance fund by "
            f"{uncovered_amount(liquidations, params)} {params.quote}",
        )


def _check_balanced_markets(params, proved: Totals, report: Report) -> None:
    """With `balanced_markets` in the (hashed) params, every market's proved long open interest must equal
    its short: a position whose counterparty was left out of the tree shows here, with no holder's help."""
    unbalanced = unbalanced_markets(proved, params)
    report.add(
        "balanced markets",
        not unbalanced,
        f"the params promise balanced markets, but {unbalanced_text(unbalanced)}: positions are missing"
        if unbalanced
        else f"proved long = short open interest in each of the {len(params.markets)} markets",
    )


def _check_roots(folder, manifest: Manifest, publics, report) -> None:
    try:
        roots = [
            parse_canonical_uint(r, FIELD_MODULUS, "batch root")
            for r in parse_json((folder / "batch_roots.json").read_bytes())
        ]
    except (OSError, ValueError, TypeError) as exc:
        report.add("root", False, f"batch_roots.json unreadable: {exc}")
        return
    problems = []
    if roots != [p[0] for p in publics]:
        problems.append("batch_roots.json differs from the roots the proofs commit to")
    elif str(merkle_levels(roots)[-1][0]) != manifest.root:  # the displayed root, spelled canonically
        problems.append("the batch roots do not hash to the published root")
    report.add(
        "root",
        not problems,
        "; ".join(problems) if problems else f"{len(roots)} batch roots hash to the published root",
    )


def _check_proofs(
    folder, manifest: Manifest, report, backends: dict[str, ProofBackend], on_event: EventSink = ignore
) -> None:
    """Every backend must accept every batch proof, and all backends must agree. Each backend's
    check is named "proofs", with the backend in its own field."""
    verdicts = {}
    n = manifest.n_batches
    for name, backend in backends.items():
        on_event({"event": "verifying", "backend": name, "batches": n})

        def on_batch(index: int, ok: bool, name: str = name, done: list[int] = [0]) -> None:  # noqa: B006 - one counter per backend
            done[0] += 1
            on_event({"event": "verified", "backend": name, "index": index, "ok": ok, "done": done[0], "of": n})

        verdicts[name] = backend(folder, report.manifest, on_batch)
        bad = [i for i, ok in enumerate(verdicts[name]) if not ok]
        report.add(
            "proofs",
            not bad and len(verdicts[name]) == n,
            f"all {n} batch proofs verify ({name})" if not bad else f"batch proofs {bad[:10]} do not verify ({name})",
            backend=name,
        )
    if len(verdicts) > 1:
        distinct = {tuple(v) for v in verdicts.values()}
        report.add(
            "backends agree",
            len(distinct) == 1,
            f"{', '.join(verdicts)} give the same verdict on every batch"
            if len(distinct) == 1
            else "backends disagree: " + "; ".join(f"{n}: {v}" for n, v in verdicts.items()),
        )
