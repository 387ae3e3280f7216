"""Audit a keys folder once per shape, so that verifiers can pin its verification key.

Why this exists: a bundle carries the verification key its proofs verify
against, and the venue chose that key. Any Groth16 key with 3 public inputs
makes `verify` print VALID for proofs made with its zkey, so a venue that ran
the setup for a *modified* circuit (say, with the health range check deleted)
proves whatever it likes. The manifest's `insecure_development` flag is also
written by the venue. What binds a key to zksolv's circuit is this audit:

1. recompile ``SolvencyBatch(K, M, B)`` from the installed zksolv's own
   ``circuits/`` and require the keys' ``circuit.r1cs`` to be byte-identical;
2. ``snarkjs zkey verify r1cs ptau zkey``: the proving key's whole phase-2
   transcript follows from that r1cs and that ptau (and the contributions it
   reports are listed, names and hashes);
3. ``verification_key.json`` is byte for byte what snarkjs exports from that
   zkey, and ``Verifier.sol`` what snarkjs renders for that key;
4. the ptau is named by its BLAKE2b-512 hash against the published hashes of
   public ceremony files (``data/known_ptau.json``), else recognised as a
   zksolv development ptau (INSECURE), else "unknown ptau".

The result (:class:`AuditReport`, ``zksolv audit-setup --json``) is also the
*trust file* that ``zksolv verify --trusted-keys`` reads: from then on every
epoch's bundle is checked against the pinned key SHA-256 for its shape.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from . import __version__, toolchain
from .errors import InputError, Problem
from .events import EventSink, ignore, step
from .ptau import PtauError, is_dev_ptau, read_ptau_power

# The trust-file format and its reading are the verifier's (zksolv.trust); re-exported here,
# where the documents are written.
from .trust import (  # noqa: F401
    AUDIT_FORMAT,
    AuditCheck,
    AuditReport,
    Beacon,
    Blake2b,
    Contribution,
    Count,
    PtauIdentity,
    Shape,
    TrustAnchors,
    _Model,
    load_trust,
)

# circuit, snarkjs, evm and setup are imported inside the functions that use them: setup
# imports this module for identify_ptau, and the api imports this one for audit_setup only.

__all__ = [
    "AUDIT_FORMAT",
    "AuditReport",
    "PtauIdentity",
    "TrustAnchors",
    "audit_setup",
    "blake2b_file",
    "identify_ptau",
    "load_trust",
    "verify_zkey",
]

KNOWN_PTAU_FILE = Path(__file__).resolve().parent / "data" / "known_ptau.json"
DEVELOPMENT_LABEL = "development ptau, INSECURE"
UNKNOWN_LABEL = "unknown ptau"

# ---------------------------------------------------------------------------
# Identifying a ptau


class _KnownFile(_Model):
    name: str
    power: Count
    ceremony: str
    blake2b: Blake2b


class _KnownList(_Model):
    ceremonies: dict[str, dict]
    files: list[_KnownFile]


@functools.lru_cache(maxsize=1)
def known_ptau() -> dict[str, tuple[_KnownFile, str]]:
    """blake2b → (published file, where its hash is published), from data/known_ptau.json."""
    try:
        known = _KnownList.model_validate(json.loads(KNOWN_PTAU_FILE.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        # A broken install, not a user input: say which file so it can be reinstalled.
        raise InputError([Problem(str(KNOWN_PTAU_FILE), f"unreadable list of known ceremony files: {exc}")]) from None
    return {f.blake2b: (f, str(known.ceremonies.get(f.ceremony, {}).get("source", f.ceremony))) for f in known.files}


def blake2b_file(path: Path | str) -> str:
    """BLAKE2b-512 of a whole file, hex: the hash snarkjs's README publishes for ceremony
    files (what `b2sum` prints)."""
    h = hashlib.blake2b(digest_size=64)
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def identify_ptau(path: Path | str) -> PtauIdentity:
    """Name a ptau file: a published ceremony file, a zksolv development ptau, or unknown.

    Raises InputError naming the file when it is not a readable ptau file."""
    path = Path(path)
    try:
        power = read_ptau_power(path)
        development = is_dev_ptau(path)
        digest = blake2b_file(path)
    except (PtauError, OSError) as exc:
        raise InputError([Problem(str(path), f"not a readable ptau file: {exc}")]) from None
    match = known_ptau().get(digest)
    if match is not None:
        known, source = match
        return PtauIdentity(
            blake2b=digest,
            power=power,
            kind="ceremony",
            name=known.name,
            source=source,
            label=f"{known.name} (public ceremony file, published hash)",
        )
    if development:
        return PtauIdentity(blake2b=digest, power=power, kind="development", label=DEVELOPMENT_LABEL)
    return PtauIdentity(
        blake2b=digest,
        power=power,
        kind="unknown",
        label=f"{UNKNOWN_LABEL} (its hash is not a published ceremony file's)",
    )


# ---------------------------------------------------------------------------
# snarkjs zkey verify


@dataclass(frozen=True)
class ZkeyTranscript:
    """What `snarkjs zkey verify` said about a proving key."""

    ok: bool
    circuit_hash: str | None
    contributions: list[Contribution]
    detail: str  # snarkjs's own error lines when not ok


# snarkjs prints a 64-byte hash as 4 lines of 4 space-separated 8-hex-digit words.
_HASH = r"((?:\s+[0-9a-f]{8}){16})"
_CONTRIBUTION = re.compile(r"contribution #(\d+) ?(.*?):[ \t]*\n" + _HASH)
_CIRCUIT_HASH = re.compile(r"Circuit Hash:[ \t]*\n" + _HASH, re.IGNORECASE)


def _hex(block: str) -> str:
    return "".join(block.split())


def parse_zkey_verify(returncode: int, output: str) -> ZkeyTranscript:
    """Parse `snarkjs zkey verify` output. Success needs both exit 0 and "ZKey Ok!": snarkjs
    sometimes prints its verdict and exits 0 after an exception, and prints some failures
    with console.log rather than its logger."""
    text = toolchain.clean(output)
    ok = returncode == 0 and "ZKey Ok!" in text
    contributions = {
        int(m[1]): Contribution(index=int(m[1]), name=m[2].strip(), hash=_hex(m[3]))
        for m in _CONTRIBUTION.finditer(text)
    }
    circuit = _CIRCUIT_HASH.search(text)
    detail = ""
    if not ok:
        errors = [
            ln.strip()
            for ln in text.splitlines()
            if re.search(r"\[ERROR\]|INVALID|Error|does not match|not identical", ln)
            and not ln.lstrip().startswith("at ")
        ]
        detail = "; ".join(errors[:5]) or (text.strip().splitlines() or [f"exit {returncode}, no output"])[-1]
    return ZkeyTranscript(
        ok, _hex(circuit[1]) if circuit else None, [contributions[i] for i in sorted(contributions)], detail
    )


def verify_zkey(r1cs: Path, ptau: Path, zkey: Path) -> ZkeyTranscript:
    """`snarkjs zkey verify r1cs ptau zkey`: the zkey follows from this r1cs and ptau
    through the phase-2 contributions it records."""
    from . import snarkjs

    proc = snarkjs.run("zkey", "verify", str(r1cs), str(ptau), str(zkey), what="zkey verify", check=False)
    return parse_zkey_verify(proc.returncode, proc.stdout + proc.stderr)


# ---------------------------------------------------------------------------
# The audit


def _snarkjs_version() -> str:
    try:
        return str(json.loads((toolchain.node_modules() / "snarkjs" / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def tool_versions() -> dict[str, str]:
    """What made or checked the keys: an auditor reproduces the r1cs only with the same circom."""
    from .circuit import circom_version

    return {"zksolv": __version__, "circom": "; ".join(circom_version().splitlines()), "snarkjs": _snarkjs_version()}


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def audit_setup(keys_dir: Path | str, ptau: Path | str, on_event: EventSink = ignore) -> AuditReport:
    """Audit a keys folder (see the module doc). Raises InputError / SetupError /
    CircuitError when an input is unreadable or the toolchain is missing; every
    mismatch is a failed check in the report instead."""
    from . import snarkjs
    from .circuit import circuits_dir, compile_circuit
    from .evm import EvmError, render_verifier
    from .setup import load_keys, sha256_file

    started = time.monotonic()
    keys = load_keys(keys_dir)
    ptau = Path(ptau)
    on_event(step(f"hashing {ptau.name}"))
    identity = identify_ptau(ptau)
    K, M, B = keys.shape
    shape = Shape(n_assets=K, n_markets=M, batch_size=B, market_brackets=list(keys.tiers), scenarios=keys.scenarios)
    checks: list[AuditCheck] = []
    warnings: list[str] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append(AuditCheck(name=name, ok=ok, detail=detail))

    # 1. The circuit is zksolv's: never trust the keys' r1cs, rebuild it from our sources.
    on_event(step(f"compiling {shape} from {circuits_dir()}"))
    reference = compile_circuit(K, M, B, tiers=keys.tiers, scenarios=keys.scenarios)
    r1cs_sha = sha256_file(keys.r1cs)
    reference_sha = sha256_file(reference.r1cs)
    check(
        "circuit",
        r1cs_sha == reference_sha,
        f"circuit.r1cs is byte-identical to {shape} compiled from {circuits_dir()} (SHA-256 {reference_sha})"
        if r1cs_sha == reference_sha
        else f"circuit.r1cs (SHA-256 {r1cs_sha}) is NOT {shape} as compiled from {circuits_dir()} "
        f"(SHA-256 {reference_sha}): the keys are for another circuit",
    )

    # 2. The proving key's phase-2 transcript, against the *reference* r1cs and the given ptau.
    on_event(step("snarkjs zkey verify (whole phase-2 transcript)"))
    transcript = verify_zkey(reference.r1cs, ptau, keys.zkey)
    check(
        "proving key",
        transcript.ok,
        f"snarkjs zkey verify: circuit.zkey follows from the reference r1cs and {ptau.name} through "
        f"{len(transcript.contributions)} phase-2 contribution(s)"
        if transcript.ok
        else f"snarkjs zkey verify rejects circuit.zkey for the reference r1cs and {ptau.name}: {transcript.detail}",
    )
    # The contributions as zksolv reads them from the zkey's own section (zksolv.ceremony.read_phase2),
    # independently of snarkjs's printout: the two must agree, and the beacons are marked.
    from .ceremony import ZkeyError, read_phase2

    try:
        phase2 = read_phase2(keys.zkey)
    except ZkeyError as exc:
        phase2 = None
        check("phase-2 record", False, f"zksolv cannot read circuit.zkey's contributions: {exc}")
    if phase2 is not None:
        ours = [(c.index, c.name, c.hash) for c in phase2.contributions]
        agree = phase2.consistent and (
            not transcript.ok or ours == [(c.index, c.name, c.hash) for c in transcript.contributions]
        )
        check(
            "phase-2 record",
            agree,
            f"circuit.zkey's contributions section, read by zksolv, chains from circuit hash "
            f"{phase2.circuit_hash[:16]}… through the contributions snarkjs lists"
            if agree
            else "circuit.zkey's contributions section, read by zksolv, "
            + ("; ".join(phase2.problems()) or "lists other contributions than snarkjs prints"),
        )
        beacons = {
            c.index: Beacon(hash=c.beacon_hash, iterations_exp=c.iterations_exp)
            for c in phase2.contributions
            if c.beacon_hash is not None and c.iterations_exp is not None
        }
        transcript = dataclasses.replace(
            transcript,
            contributions=[c.model_copy(update={"beacon": beacons.get(c.index)}) for c in transcript.contributions],
        )
    # zkey verify accepts a key with no contribution at all; its δ is then the generator
    # and anyone can forge proofs.
    n = len(transcript.contributions)
    if not transcript.ok:
        check("phase-2 contributions", False, "unknown: snarkjs lists the contributions only for a valid key")
    else:
        check(
            "phase-2 contributions",
            n >= 1,
            f"{n} contribution(s): "
            + ", ".join(
                f"#{c.index} {c.name or '(unnamed)'}" + (" (beacon)" if c.beacon else "")
                for c in transcript.contributions
            )
            if n
            else "no phase-2 contribution: δ is the generator, anyone can forge proofs",
        )
    if transcript.ok and n:
        names = ", ".join(c.name or "(unnamed)" for c in transcript.contributions)
        warnings.append(
            f"phase 2 has {n} contribution(s) ({names}): proofs are sound only if at least one of "
            "their makers destroyed its secret; a venue that made every contribution itself can "
            "forge proofs"
        )

    # 3. The published verification key and contract are the ones this zkey gives.
    with tempfile.TemporaryDirectory(prefix="zksolv-audit-") as tmp:
        exported = Path(tmp) / "verification_key.json"
        try:
            snarkjs.export_verification_key(keys.zkey, exported)
        except (snarkjs.SnarkjsError, ValueError) as exc:
            # A damaged zkey is a failed audit (exit 1), not an unreadable input.
            detail = f"snarkjs cannot export a verification key from circuit.zkey: {str(exc)[-300:]}"
            check("verification key", False, detail)
            check("verifier contract", False, "not checked: no key exported from circuit.zkey")
        else:
            same_vkey = _same_bytes(exported, keys.verification_key)
            check(
                "verification key",
                same_vkey,
                "verification_key.json is exactly what snarkjs exports from circuit.zkey"
                if same_vkey
                else "verification_key.json is NOT the key exported from circuit.zkey (its bytes differ)",
            )
            try:
                ok = keys.verifier_sol.read_text() == render_verifier(exported)
                detail = (
                    "Verifier.sol is snarkjs's verifier for that key"
                    if ok
                    else "Verifier.sol is NOT snarkjs's verifier for the key exported from circuit.zkey"
                )
            except (OSError, UnicodeDecodeError) as exc:
                ok, detail = False, f"Verifier.sol unreadable: {exc}"
            except EvmError as exc:
                ok, detail = False, str(exc)
            check("verifier contract", ok, detail)

    # 4. setup.json is the venue's own description: it must at least agree with the files.
    vkey_sha, zkey_sha = sha256_file(keys.verification_key), sha256_file(keys.zkey)
    recorded = {"r1cs_sha256": r1cs_sha, "zkey_sha256": zkey_sha, "verification_key_sha256": vkey_sha}
    wrong = [k for k, v in recorded.items() if keys.info.get(k) != v]
    recorded_ptau = (keys.info.get("ptau") or {}).get("blake2b")
    if recorded_ptau is not None and recorded_ptau != identity.blake2b:
        wrong.append("ptau.blake2b (the keys record another ptau than the one given)")
    recorded_phase2 = keys.document.phase2
    if recorded_phase2 is not None and phase2 is not None:
        listed = [(c.index, c.name, c.hash, c.beacon) for c in recorded_phase2.contributions]
        if listed != [(c.index, c.name, c.hash, c.is_beacon) for c in phase2.contributions]:
            wrong.append("phase2.contributions (not the contributions circuit.zkey holds)")
        if recorded_phase2.circuit_hash != phase2.circuit_hash:
            wrong.append("phase2.circuit_hash")
    check(
        "setup.json",
        not wrong,
        "its hashes match the files" if not wrong else f"disagrees with the files: {', '.join(wrong)}",
    )

    if identity.kind == "development":
        warnings.append(
            "the ptau is a zksolv development ptau, INSECURE: whoever made it knows τ and can forge "
            "proofs; production keys need a public ceremony file (zksolv setup --ptau FILE)"
        )
    elif identity.kind == "unknown":
        warnings.append(
            "the ptau is not a published ceremony file: `verify --require-ceremony` will fail with this audit"
        )

    return AuditReport(
        passed=all(c.ok for c in checks),
        keys=str(keys.dir),
        shape=shape,
        verification_key_sha256=vkey_sha,
        r1cs_sha256=r1cs_sha,
        zkey_sha256=zkey_sha,
        ptau=identity,
        phase2_contributions=transcript.contributions,
        circuit_hash=transcript.circuit_hash,
        checks=checks,
        warnings=warnings,
        tools=tool_versions(),
        seconds=round(time.monotonic() - started, 2),
    )
