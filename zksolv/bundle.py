"""The published proof bundle (docs/PROTOCOL.md; README.md "Using it"): layout and manifest.

    manifest.json  params.json  verification_key.json  Verifier.sol  batch_roots.json
    batches/<6-digit index>/proof.json, public.json     (snarkjs's own formats)

The manifest lists the SHA-256 of every other file, so a verifier detects any
edit before looking at a proof.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, Problem, validation_problems
from .field import FieldText
from .io import read_json
from .margin import Liquidations, Totals, bad_debt_to_quote, covered, shortfall_to_quote
from .params import RiskParams
from .units import from_units

BUNDLE_FORMAT = "zksolv-bundle/6"
# Formats this zksolv knows but no longer accepts, with the reason shown to whoever verifies one.
RETIRED_FORMATS = {
    "zksolv-bundle/5": "format 5 did not record the powers of tau and the phase-2 contributions behind its "
    "keys (setup.ptau, setup.contributions) nor acc_0, and its params had no entry costs or "
    "balanced_markets (PROTOCOL.md, format versions): ask the venue for a bundle in format 6",
    "zksolv-bundle/4": "format 4 had no price scenarios, stress report, portfolio margin or options; its "
    "circuits and keys differ from format 6's (PROTOCOL.md, format versions): ask the venue "
    "for a bundle in format 6",
    "zksolv-bundle/3": "format 3 had no notional-tiered maintenance brackets and no oracle-derived prices; its "
    "circuits and keys differ from format 6's (PROTOCOL.md, format versions): ask the venue "
    "for a bundle in format 6",
    "zksolv-bundle/2": "format 2 proved only that every account was at or above maintenance and carried no "
    "liquidation figures (accounts below maintenance, shortfall, bad debt); ask the venue "
    "for a bundle in format 6",
    "zksolv-bundle/1": "format 1 (zksolv ≤ 0.1) did not bind the batch size and circuit shape into the proofs "
    "and did not domain-separate leaves from tree nodes (SECURITY.md, issue 9): its claims "
    "cannot be checked soundly; ask the venue for a current bundle",
}
TOP_FILES = ("params.json", "verification_key.json", "Verifier.sol", "batch_roots.json")


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=1, le=1 << 40)]
# The largest power of two the circuit shape holds: statement.circuit_shape (and the registry) take B < 2^31.
MAX_BATCH_SIZE = 1 << 30
BatchSize = Annotated[int, Field(ge=1, le=MAX_BATCH_SIZE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CircuitInfo(_Strict):
    id: str
    n_assets: Count
    n_markets: Annotated[int, Field(ge=0, le=1 << 40)]
    batch_size: BatchSize
    market_brackets: list[Annotated[int, Field(ge=1, le=32)]]  # maintenance brackets per market (TIERS)
    scenarios: Annotated[int, Field(ge=0, lt=1 << 12)]  # scenario price vectors (S, PROTOCOL.md §3.3)
    constraints: Count
    r1cs_sha256: Sha256


class SetupPtau(_Strict):
    """The powers of tau the keys were made from: its published name (its file name when it is not a
    published file) and its BLAKE2b-512, the hash ceremonies publish (`b2sum`)."""

    name: str
    blake2b: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class SetupContribution(_Strict):
    """One phase-2 contribution of the proving key (its zkey's contributions section), in order."""

    name: str
    hash: Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]  # what `snarkjs zkey verify` prints
    beacon: bool  # a public random beacon, not a secret contribution


class SetupInfo(_Strict):
    insecure_development: bool
    ptau_power: Annotated[int, Field(ge=1, le=28)]
    # The venue's own record (docs/CEREMONY.md), so a reader sees who contributed; only an audit of the
    # zkey (`zksolv audit-setup`, then a pinned key) vouches for it.
    ptau: SetupPtau
    contributions: list[SetupContribution]


class FinalAccumulator(_Strict):
    acc: FieldText
    totals: list[FieldText]
    blinding: FieldText


class Manifest(_Strict):
    """`manifest.json`: built by the prover (zksolv.prove) and dumped as the file; read by
    `load_manifest`, before any check looks at it."""

    format: str
    epoch: str
    quote: str
    root: FieldText
    params_hash: FieldText
    params_sha256: Sha256
    capacity: Count
    batch_size: BatchSize
    n_batches: Count
    circuit: CircuitInfo
    verification_key_sha256: Sha256
    setup: SetupInfo
    # acc_0 = Poseidon2(params_hash, Z), the start of the accumulator chain (PROTOCOL.md §5): what the
    # registry derives at publishEpoch and batch 0's acc_in must be; verify recomputes it from params.json
    # and the shape.
    acc_0: FieldText
    final_accumulator: FinalAccumulator
    # Laid out by totals_document and liquidations_document: verify compares each whole with the document of
    # the proved totals, so a second description of their fields here could only drift from those.
    totals: dict[str, Any]
    liquidations: dict[str, Any]
    scenarios: list[dict[str, Any]]  # stress_document: one entry per scenario, [] without scenarios
    files: dict[str, Sha256]


def format_refusal(found: object) -> str:
    """Why a bundle whose manifest says format `found` is refused."""
    if isinstance(found, str) and found in RETIRED_FORMATS:
        return f"bundle {found} is no longer accepted: {RETIRED_FORMATS[found]}"
    return f"unknown format {found!r} (this zksolv verifies {BUNDLE_FORMAT})"


class ManifestError(InputError):
    """manifest.json is a JSON object, but not a manifest this zksolv verifies (another format, or a
    field missing or malformed). `verify` reports it as the failed `manifest` check of an invalid
    bundle; everywhere else it is unusable input."""


def load_manifest(folder: Path | str) -> Manifest:
    """The validated manifest of the bundle in `folder`. Raises InputError naming the file when it cannot
    be read or is not a JSON object, and ManifestError naming each bad field otherwise."""
    path = Path(folder) / "manifest.json"
    data = read_json(path, "manifest")
    if not isinstance(data, dict):
        raise InputError([Problem(str(path), "not a bundle manifest: a JSON object is expected")])
    if data.get("format") != BUNDLE_FORMAT:
        raise ManifestError([Problem(str(path), format_refusal(data.get("format")))])
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(validation_problems(str(path), exc)) from None


def batch_dir(index: int) -> str:
    return f"batches/{index:06d}"


def totals_document(params: RiskParams, totals: Totals) -> dict:
    """Human-readable totals (decimal strings at each symbol's decimals). `assets` are the wallet
    balances; with entry costs (PROTOCOL.md §3.4) `entry_costs` gives per market the costs paid (Σ of
    positive costs: long positions' size × entry) and received (Σ of negative ones: shorts'), from
    the cost slot whose leaf value is −cost (its credit is what was received, its debit what was paid)."""
    document: dict = {
        "assets": {
            a.symbol: {"credit": from_units(c, a.decimals), "debit": from_units(d, a.decimals)}
            for a, c, d in zip(params.assets, totals.credit, totals.debit)
            if a.cost_of is None
        },
        "markets": {
            m.symbol: {
                "long": from_units(lg, m.decimals),
                "short": from_units(sh, m.decimals),
                "net": from_units(lg - sh, m.decimals),
            }
            for m, lg, sh in zip(params.markets, totals.long, totals.short)
        },
    }
    if params.entry_cost_slots:
        document["entry_costs"] = {
            a.cost_of: {
                "paid": from_units(d, a.decimals),
                "received": from_units(c, a.decimals),
                "net": from_units(d - c, a.decimals),
            }
            for a, c, d in zip(params.assets, totals.credit, totals.debit)
            if a.cost_of is not None
        }
    return document


def liquidations_document(params: RiskParams, liquidations: Liquidations) -> dict:
    """The liquidation figures as published (`manifest.liquidations`, `verify --json`): exact decimals in
    quote units; `covered` is bad debt ≤ insurance fund (no fund: covered only without bad debt)."""
    return {
        "accounts_below_maintenance": liquidations.accounts_below_maintenance,
        "shortfall": shortfall_to_quote(liquidations.shortfall, params),
        "bad_debt": bad_debt_to_quote(liquidations.bad_debt, params),
        "bankrupt_accounts": liquidations.bankrupt_accounts,
        "insurance_fund": params.insurance_fund,
        "covered": covered(liquidations, params),
    }


def stress_document(params: RiskParams, stress: list[Liquidations]) -> list[dict]:
    """The stress report (PROTOCOL.md §3.3): per scenario, proved over every account, how many accounts
    would be below maintenance and with negative equity, their shortfall and bad debt (exact decimals,
    quote units) and whether the insurance fund covers that bad debt."""
    return [
        {
            "name": scenario.name,
            "accounts_below_maintenance": figures.accounts_below_maintenance,
            "shortfall": shortfall_to_quote(figures.shortfall, params),
            "bankrupt_accounts": figures.bankrupt_accounts,
            "bad_debt": bad_debt_to_quote(figures.bad_debt, params),
            "covered": covered(figures, params),
        }
        for scenario, figures in zip(params.scenarios, stress)
    ]
