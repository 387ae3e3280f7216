"""The published proof bundle (docs/PROTOCOL.md, DESIGN §7): layout and manifest.

    manifest.json  params.json  verification_key.json  Verifier.sol  batch_roots.json
    batches/<6-digit index>/proof.json, public.json     (snarkjs's own formats)

The manifest lists the SHA-256 of every other file, so a verifier detects any
edit before looking at a proof.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .margin import Liquidations, Totals, bad_debt_to_quote, covered, shortfall_to_quote
from .params import RiskParams
from .units import from_units

BUNDLE_FORMAT = "zksolv-bundle/3"
# Formats this zksolv knows but no longer accepts, with the reason shown to whoever verifies one.
RETIRED_FORMATS = {
    "zksolv-bundle/2": "format 2 proved only that every account was at or above maintenance and carried no "
                       "liquidation figures (accounts below maintenance, shortfall, bad debt); ask the venue "
                       "for a bundle in format 3",
    "zksolv-bundle/1": "format 1 (zksolv ≤ 0.1) did not bind the batch size and circuit shape into the proofs "
                       "and did not domain-separate leaves from tree nodes (SECURITY.md, issue 9): its claims "
                       "cannot be checked soundly; ask the venue for a current bundle",
}
TOP_FILES = ("params.json", "verification_key.json", "Verifier.sol", "batch_roots.json")


FieldText = Annotated[str, Field(pattern=r"^[0-9]{1,78}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=1, le=1 << 40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CircuitInfo(_Strict):
    id: str
    n_assets: Count
    n_markets: Count | Annotated[int, Field(ge=0, le=0)]
    batch_size: Count
    constraints: Count
    r1cs_sha256: Sha256


class SetupInfo(_Strict):
    insecure_development: bool
    ptau_power: Annotated[int, Field(ge=1, le=28)]


class FinalAccumulator(_Strict):
    acc: FieldText
    totals: list[FieldText]
    blinding: FieldText


class Manifest(_Strict):
    """`manifest.json`: validated before any check reads it."""

    format: str
    epoch: str
    quote: str
    root: FieldText
    params_hash: FieldText
    params_sha256: Sha256
    capacity: Count
    batch_size: Count
    n_batches: Count
    circuit: CircuitInfo
    verification_key_sha256: Sha256
    setup: SetupInfo
    final_accumulator: FinalAccumulator
    totals: dict
    liquidations: dict
    files: dict[str, Sha256]


def format_refusal(found: object) -> str:
    """Why a bundle whose manifest says format `found` is refused."""
    if isinstance(found, str) and found in RETIRED_FORMATS:
        return f"bundle {found} is no longer accepted: {RETIRED_FORMATS[found]}"
    return f"unknown format {found!r} (this zksolv verifies {BUNDLE_FORMAT})"


def batch_dir(index: int) -> str:
    return f"batches/{index:06d}"


def totals_document(params: RiskParams, totals: Totals) -> dict:
    """Human-readable totals (decimal strings at each symbol's decimals)."""
    return {
        "assets": {a.symbol: {"credit": from_units(c, a.decimals), "debit": from_units(d, a.decimals)}
                   for a, c, d in zip(params.assets, totals.credit, totals.debit)},
        "markets": {m.symbol: {"long": from_units(lg, m.decimals), "short": from_units(sh, m.decimals),
                               "net": from_units(lg - sh, m.decimals)}
                    for m, lg, sh in zip(params.markets, totals.long, totals.short)},
    }


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

