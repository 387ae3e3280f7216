"""Trust files: the audits (`zksolv audit-setup --json`) and key hashes a verifier pins.

Why a module of its own: `verify` reads trust files on every run, and must do so on the
verifier side, without anything that makes or audits keys (circuits, ptau files, snarkjs
zkey verify: zksolv.audit). This module holds the audit document's format and the
reading of pins; zksolv.audit writes the documents and re-exports these names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .bundle import Sha256
from .errors import InputError, Problem
from .io import read_json
from .statement import circuit_name

__all__ = [
    "AUDIT_FORMAT",
    "AuditCheck",
    "AuditReport",
    "Beacon",
    "Contribution",
    "PtauIdentity",
    "Shape",
    "TrustAnchors",
    "load_trust",
]

AUDIT_FORMAT: Final = "zksolv-audit/1"

Blake2b = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]
Count = Annotated[int, Field(ge=0, le=1 << 40)]


class _Model(BaseModel):
    # Extra fields are ignored so that a trust file written by a later zksolv
    # (with more detail) still loads; every field read here is validated.
    model_config = ConfigDict(extra="ignore", frozen=True)


class PtauIdentity(_Model):
    """What a powers-of-tau file is, as far as its hash tells."""

    blake2b: Blake2b
    power: Count
    kind: Literal["ceremony", "development", "unknown"]
    label: str  # one line for people: the ceremony file's name, or why it is not one
    name: str | None = None  # the published file name, for a ceremony file
    source: str | None = None  # where its hash is published


class Beacon(_Model):
    """A public random beacon's parameters: its secret is 2^iterations_exp SHA-256 rounds of `hash`."""

    hash: Annotated[str, Field(pattern=r"^([0-9a-f]{2}){1,255}$")]
    iterations_exp: Annotated[int, Field(ge=1, le=63)]


class Contribution(_Model):
    index: Annotated[int, Field(ge=1)]
    name: str
    hash: Blake2b
    beacon: Beacon | None = None  # set for a beacon (snarkjs zkey beacon), read from the zkey


class Shape(_Model):
    n_assets: Count
    n_markets: Count
    batch_size: Annotated[int, Field(ge=1)]
    market_brackets: list[Annotated[int, Field(ge=1, le=32)]]  # maintenance brackets per market (TIERS)
    scenarios: Annotated[int, Field(ge=0, lt=1 << 12)] = 0  # S (PROTOCOL.md §3.3)

    @property
    def dims(self) -> tuple[int, int, int, tuple[int, ...], int]:
        return self.n_assets, self.n_markets, self.batch_size, tuple(self.market_brackets), self.scenarios

    def __str__(self) -> str:
        K, M, B, tiers, scenarios = self.dims
        return circuit_name(K, M, B, tiers, spaced=False, scenarios=scenarios)


class AuditCheck(_Model):
    name: str
    ok: bool
    detail: str


class AuditReport(_Model):
    """The result of `zksolv audit-setup`, and one entry of a trust file."""

    format: Literal["zksolv-audit/1"] = AUDIT_FORMAT
    passed: bool
    keys: str
    shape: Shape
    verification_key_sha256: Sha256
    r1cs_sha256: Sha256
    zkey_sha256: Sha256
    ptau: PtauIdentity
    phase2_contributions: list[Contribution]
    circuit_hash: str | None = None
    checks: list[AuditCheck]
    warnings: list[str] = []
    tools: dict[str, str] = {}
    seconds: float = 0.0

    def document(self) -> dict:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class TrustAnchors:
    """The keys a verifier pinned: bare SHA-256 hashes and audits (trust files)."""

    hashes: frozenset[str] = frozenset()
    audits: tuple[AuditReport, ...] = ()

    @property
    def pinned(self) -> bool:
        return bool(self.hashes or self.audits)

    def audits_of(self, sha256: str) -> list[AuditReport]:
        return [a for a in self.audits if a.verification_key_sha256 == sha256]


_SHA256 = re.compile(r"[0-9a-f]{64}")


def load_trust(trusted_vkeys: Iterable[str] = (), trusted_keys: Iterable[Path | str] = ()) -> TrustAnchors:
    """Read the pins; raise InputError naming the bad hash or file.

    A trust file holds one audit document (AuditReport) or a JSON list of them. A
    failed audit in it is refused: pinning a key whose audit failed is a mistake."""
    problems: list[Problem] = []
    hints: list[str] = []
    hashes = set()
    for value in trusted_vkeys:
        text = value.strip().lower()
        if not _SHA256.fullmatch(text):
            problems.append(Problem("trusted_vkeys", f"{value!r} is not a SHA-256 (64 hex digits)"))
            hints.append("--trusted-vkey takes the SHA-256 of a verification_key.json that an audit printed")
        hashes.add(text)
    audits: list[AuditReport] = []
    for path in trusted_keys:
        data = read_json(path, "trust file")
        entries = data if isinstance(data, list) else [data]
        if not entries:
            problems.append(Problem(str(path), "the trust file holds no audit"))
        for number, entry in enumerate(entries, 1):
            where = f"entry {number}" if isinstance(data, list) else "the audit"
            try:
                audit = AuditReport.model_validate(entry)
            except ValidationError as exc:
                first = exc.errors()[0]
                problems.append(
                    Problem(
                        str(path),
                        f"{where} is not a zksolv audit document "
                        f"({'.'.join(str(x) for x in first['loc'])}: {first['msg']})",
                    )
                )
                hints.append("a trust file is what `zksolv audit-setup KEYS --ptau PTAU --json` prints")
                continue
            if not audit.passed:
                failed = ", ".join(c.name for c in audit.checks if not c.ok)
                problems.append(Problem(str(path), f"{where} records a FAILED audit ({failed}); remove it"))
                continue
            audits.append(audit)
    if problems:
        raise InputError(problems, hint="; ".join(dict.fromkeys(hints)) or None)
    return TrustAnchors(frozenset(hashes), tuple(audits))
