"""The multi-party phase-2 ceremony: init, contribute, beacon, verify, export (docs/CEREMONY.md).

Why: `setup --ptau FILE` makes the only phase-2 contribution itself, so the venue knows δ and
could forge proofs. Groth16's phase 2 is sound if *one* contributor destroyed its secret, so
the keys must come from contributions by parties the verifiers trust not to collude with the
venue. This module runs snarkjs's own phase 2 (``zkey new`` → ``zkey contribute`` … →
``zkey beacon``) over a ceremony folder handed from one contributor to the next:

    ceremony.json        the transcript: shape, circuit hash, ptau (name, BLAKE2b, power), contributions
    circuit_0000.zkey    the initial key (``snarkjs zkey new``: no contribution, δ = generator)
    circuit_0001.zkey …  one per contribution, the last one closing with the beacon

Nothing secret is ever written: a contribution's δ factor lives in the snarkjs process only, its
entropy reaches snarkjs on stdin (not on the command line, which other local users can read), and
snarkjs mixes 64 bytes of its own OS randomness into it.

The transcript is the venue's description and proves nothing by itself. What the keys hold is
the zkey's contributions section (section 10): each contribution's public key, its transcript
hash chained over every earlier one, and its name (and a beacon's parameters). This module reads
that section in Python (:func:`read_phase2`), recomputes every contribution hash and the chain
the way snarkjs does (``zkey_utils.js`` hashPubKey, ``zkey_verify_frominit.js``), and requires
the transcript, the zkey and ``snarkjs zkey verify`` to agree; ``audit-setup`` lists the
contributions from the zkey, never from the keys folder's setup.json.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import snarkjs
from .binfile import BinFileError, scan
from .bundle import BatchSize, Count, Sha256
from .errors import ArgumentError, InputError, Problem, validation_problems
from .events import EventSink, ignore, step
from .io import OutputError, atomic_directory, read_json, write_json_atomic
from .trust import Blake2b, Shape

if TYPE_CHECKING:
    from .setup import Keys

__all__ = [
    "CEREMONY_FORMAT",
    "TRANSCRIPT",
    "CeremonyReport",
    "Phase2",
    "ZkeyContribution",
    "beacon",
    "contribute",
    "export",
    "init",
    "load_transcript",
    "read_phase2",
    "verify",
]

CEREMONY_FORMAT: Final = "zksolv-ceremony/1"
TRANSCRIPT = "ceremony.json"
#: snarkjs stores a name as at most 64 characters (zkey_utils.js writeContribution truncates); a
#: longer one would be recorded differently in the zkey than in the transcript.
MAX_NAME_BYTES = 64
#: snarkjs zkey beacon accepts 2^10 .. 2^63 SHA-256 iterations.
MIN_BEACON_EXP, MAX_BEACON_EXP = 10, 63


def zkey_name(index: int) -> str:
    """The file of the key after `index` contributions (snarkjs's own naming: circuit_0000.zkey …)."""
    return f"circuit_{index:04d}.zkey"


# ---------------------------------------------------------------------------
# Reading a zkey's phase-2 section in Python (independent of snarkjs)


class ZkeyError(BinFileError):
    """A zkey whose header or contributions section cannot be read (unusable input, exit 2)."""


@dataclass(frozen=True)
class ZkeyContribution:
    """One contribution as section 10 of a zkey stores it."""

    index: int  # 1-based, in order
    name: str
    hash: str  # BLAKE2b-512 of its public key (what snarkjs prints as the contribution hash)
    transcript: str  # BLAKE2b-512 chained over the circuit hash and every earlier contribution
    chained: bool  # transcript recomputed from the earlier contributions equals the stored one
    beacon_hash: str | None  # hex, for a beacon (type 1)
    iterations_exp: int | None

    @property
    def is_beacon(self) -> bool:
        return self.beacon_hash is not None


@dataclass(frozen=True)
class Phase2:
    """The phase-2 record of a zkey: its circuit hash and contributions, and whether they chain."""

    circuit_hash: str
    contributions: list[ZkeyContribution]
    delta_matches: bool  # the last deltaAfter (or the generator, with none) is the header's δ1

    @property
    def consistent(self) -> bool:
        return self.delta_matches and all(c.chained for c in self.contributions)

    def problems(self) -> list[str]:
        out = [
            f"contribution #{c.index} ({c.name!r}): its transcript hash does not chain"
            for c in self.contributions
            if not c.chained
        ]
        if not self.delta_matches:
            out.append("the key's δ is not the last contribution's (a contribution was removed or its points replaced)")
        return out


def _g1_generator_lem(n8: int, q: int) -> bytes:
    """The G1 generator (1, 2) of BN254, the curve of every zksolv key, in snarkjs's file form
    (Montgomery, little-endian): δ1 of a key before any contribution."""
    r = 1 << (8 * n8)
    return b"".join(((v * r) % q).to_bytes(n8, "little") for v in (1, 2))


def read_phase2(path: Path | str) -> Phase2:
    """Read a Groth16 zkey's header δ and contributions section (snarkjs 0.7 format, zkey_utils.js)
    and recompute what snarkjs checks first: each contribution's hash, the transcript chain, and
    that the key's δ is the last contribution's. Pairings (the proofs of knowledge, the points of
    the key) are left to `snarkjs zkey verify`. Raises ZkeyError naming the file."""
    f = scan(path, b"zkey", error=ZkeyError)
    header = f.one(1)
    if f.unpack(header, "I") != (1,):
        raise f.error("not a Groth16 zkey (prover type is not 1)")
    groth = f.one(2)
    (n8q,) = f.unpack(groth, "I")
    q = int.from_bytes(f.read(groth, 4, n8q), "little")
    if q < 3 or n8q == 0:
        raise f.error("malformed Groth16 header")
    (n8r,) = f.unpack(groth, "I", 4 + n8q)
    points_at = 4 + n8q + 4 + n8r + 12  # nVars, nPublic, domainSize
    g1, g2 = 2 * n8q, 4 * n8q
    delta1 = f.read(groth, points_at + 2 * g1 + 2 * g2, g1)  # after alpha1, beta1, beta2, gamma2
    r_inv = pow(1 << (8 * n8q), -1, q)

    def field_be(raw: bytes) -> bytes:
        return (int.from_bytes(raw, "little") * r_inv % q).to_bytes(n8q, "big")

    def uncompressed(point: bytes) -> bytes:
        # ffjavascript toRprUncompressed (wasmcurves LEMtoU): leave Montgomery form, then reverse the
        # bytes of each coordinate as a whole: for G2 that puts c1 before c0.
        if not any(point):
            return bytes(len(point))
        half = len(point) // 2
        out = b""
        for coordinate in (point[:half], point[half:]):
            parts = [field_be(coordinate[i : i + n8q]) for i in range(0, half, n8q)]
            out += b"".join(reversed(parts))
        return out

    section = f.one(10)
    data = f.read(section)
    if len(data) < 68:
        raise f.error("contributions section too short")
    circuit_hash, (count,) = data[:64], struct.unpack_from("<I", data, 64)
    pos = 68
    raw: list[tuple[bytes, bytes, bytes, bytes, bytes, int, dict[int, bytes]]] = []
    for number in range(1, count + 1):
        fixed = 3 * g1 + g2 + 64 + 8
        if pos + fixed > len(data):
            raise f.error(f"contribution #{number} runs past the end of the contributions section")
        after, s, sx = data[pos : pos + g1], data[pos + g1 : pos + 2 * g1], data[pos + 2 * g1 : pos + 3 * g1]
        spx = data[pos + 3 * g1 : pos + 3 * g1 + g2]
        transcript = data[pos + 3 * g1 + g2 : pos + 3 * g1 + g2 + 64]
        kind, length = struct.unpack_from("<II", data, pos + 3 * g1 + g2 + 64)
        pos += fixed
        params, end, last = {}, pos + length, 0
        if end > len(data):
            raise f.error(f"contribution #{number}: parameters run past the end of the section")
        while pos < end:
            # Each parameter: a type byte (strictly increasing), then for 1 (name) and 3 (beacon hash)
            # a length byte and the bytes, for 2 (iterations exponent) one byte.
            ptype = data[pos]
            if ptype <= last or ptype not in (1, 2, 3) or pos + 2 > end:
                raise f.error(f"contribution #{number}: malformed parameters")
            last = ptype
            size = 1 if ptype == 2 else data[pos + 1]
            start = pos + (1 if ptype == 2 else 2)
            if start + size > end:
                raise f.error(f"contribution #{number}: malformed parameters")
            params[ptype] = data[start : start + size]
            pos = start + size
        raw.append((after, s, sx, spx, transcript, kind, params))
    if pos != len(data):
        raise f.error("trailing bytes after the last contribution")

    contributions = []
    chain = hashlib.blake2b(circuit_hash, digest_size=64)  # snarkjs's accumulatedHasher
    previous_after = _g1_generator_lem(n8q, q)
    for number, (after, s, sx, spx, transcript, kind, params) in enumerate(raw, 1):
        ours = chain.copy()
        ours.update(uncompressed(s) + uncompressed(sx))
        public_key = uncompressed(after) + uncompressed(s) + uncompressed(sx) + uncompressed(spx) + transcript
        chain.update(public_key)
        previous_after = after
        try:
            name = params.get(1, b"").decode("utf-8")
        except UnicodeDecodeError:
            raise f.error(f"contribution #{number}: its name is not UTF-8") from None
        beacon = kind == 1
        contributions.append(
            ZkeyContribution(
                index=number,
                name=name,
                hash=hashlib.blake2b(public_key, digest_size=64).hexdigest(),
                transcript=transcript.hex(),
                chained=ours.digest() == transcript,
                beacon_hash=params[3].hex() if beacon and 3 in params else None,
                iterations_exp=params[2][0] if beacon and 2 in params else None,
            )
        )
    return Phase2(circuit_hash.hex(), contributions, delta_matches=previous_after == delta1)


def read_phase2_or_problem(path: Path) -> Phase2:
    """read_phase2, its failure as an InputError naming the file."""
    try:
        return read_phase2(path)
    except BinFileError as exc:
        raise InputError([Problem(str(path), f"not a readable Groth16 zkey: {exc}")]) from None


def public_ptau(power: int) -> dict | None:
    """The smallest published ceremony file (data/known_ptau.json) that covers 2^power rows, with
    its published BLAKE2b and where it is downloaded; None when no listed file is big enough.
    Nothing is downloaded here: a venue fetches it once and checks `b2sum` against the hash."""
    import json

    from .audit import KNOWN_PTAU_FILE

    try:
        data = json.loads(KNOWN_PTAU_FILE.read_text())
    except (OSError, ValueError) as exc:
        raise InputError([Problem(str(KNOWN_PTAU_FILE), f"unreadable list of known ceremony files: {exc}")]) from None
    files = sorted((f for f in data["files"] if f["power"] >= power), key=lambda f: f["power"])
    if not files:
        return None
    best = files[0]
    ceremony = data["ceremonies"].get(best["ceremony"], {})
    return {
        "name": best["name"],
        "power": best["power"],
        "blake2b": best["blake2b"],
        "url": best.get("url"),
        "ceremony": ceremony.get("title", best["ceremony"]),
        "hash_source": ceremony.get("source"),
    }


# ---------------------------------------------------------------------------
# The transcript (ceremony.json)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CeremonyPtau(_Strict):
    """The powers of tau the ceremony's initial key was made from (audit.identify_ptau at init)."""

    file: str
    name: str | None  # the published file name, for a public ceremony file
    blake2b: Blake2b
    power: Annotated[int, Field(ge=1, le=28)]
    identity: Literal["ceremony", "development", "unknown"]
    label: str


class CeremonyBeacon(_Strict):
    hash: Annotated[str, Field(pattern=r"^([0-9a-f]{2}){1,255}$")]
    iterations_exp: Annotated[int, Field(ge=MIN_BEACON_EXP, le=MAX_BEACON_EXP)]
    source: str | None  # what the value is, e.g. "Ethereum mainnet block 21000000 hash" (announced in advance)


class CeremonyContribution(_Strict):
    index: Annotated[int, Field(ge=1)]
    name: str
    hash: Blake2b
    zkey: str
    zkey_sha256: Sha256
    beacon: CeremonyBeacon | None


class Transcript(_Strict):
    """`ceremony.json`: written by init and appended to by contribute and beacon."""

    format: Literal["zksolv-ceremony/1"]
    n_assets: Count
    n_markets: Annotated[int, Field(ge=0, le=1 << 40)]
    batch_size: BatchSize
    market_brackets: list[Annotated[int, Field(ge=1, le=32)]]
    scenarios: Annotated[int, Field(ge=0, lt=1 << 12)]
    circuit_id: str
    constraints: Count
    r1cs_sha256: Sha256
    circuit_hash: Blake2b  # section 10's csHash: binds every key of the ceremony to this r1cs and ptau
    ptau: CeremonyPtau
    initial_zkey: str
    initial_zkey_sha256: Sha256
    contributions: list[CeremonyContribution]

    @property
    def shape(self) -> Shape:
        return Shape(
            n_assets=self.n_assets,
            n_markets=self.n_markets,
            batch_size=self.batch_size,
            market_brackets=self.market_brackets,
            scenarios=self.scenarios,
        )

    @property
    def latest(self) -> tuple[str, str]:
        """The newest key's file name and its recorded SHA-256."""
        if self.contributions:
            return self.contributions[-1].zkey, self.contributions[-1].zkey_sha256
        return self.initial_zkey, self.initial_zkey_sha256

    @property
    def closed(self) -> bool:
        """A beacon ends the ceremony: a contribution after it would not be covered by it."""
        return bool(self.contributions) and self.contributions[-1].beacon is not None


def load_transcript(folder: Path | str) -> Transcript:
    path = Path(folder) / TRANSCRIPT
    data = read_json(path, "ceremony transcript")
    if not isinstance(data, dict) or data.get("format") != CEREMONY_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise InputError(
            [Problem(str(path), f"not a {CEREMONY_FORMAT} transcript (format {found!r})")],
            hint="a ceremony folder is made by `zksolv ceremony init`",
        )
    try:
        return Transcript.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(str(path), exc)) from None


def _save(folder: Path, transcript: Transcript) -> None:
    try:
        write_json_atomic(folder / TRANSCRIPT, transcript.model_dump())
    except OSError as exc:
        raise OutputError(f"cannot write {folder / TRANSCRIPT}: {exc.strerror or exc}") from None


def _sha256(path: Path) -> str:
    from .setup import sha256_file

    return sha256_file(path)


def transcript_problems(folder: Path, transcript: Transcript) -> tuple[list[str], Phase2 | None]:
    """Where the transcript and its newest zkey disagree (nothing = they agree), and the zkey's
    phase-2 record. The zkey is the evidence: its contributions section must hold exactly the
    transcript's contributions, in order, with their names, hashes and beacon parameters, chained
    from the transcript's circuit hash, and the file must be the one recorded."""
    name, recorded_sha = transcript.latest
    path = folder / name
    if not path.is_file():
        return [f"{path}: the newest key of the transcript is missing"], None
    phase2 = read_phase2_or_problem(path)
    problems = [f"{name}: {p}" for p in phase2.problems()]
    if phase2.circuit_hash != transcript.circuit_hash:
        problems.append(
            f"{name}: its circuit hash {phase2.circuit_hash[:16]}… is not the ceremony's "
            f"{transcript.circuit_hash[:16]}…: a key for another circuit or ptau"
        )
    listed, held = transcript.contributions, phase2.contributions
    for entry, found in zip(listed, held):
        what = f"contribution #{entry.index} {entry.name!r} (hash {entry.hash[:16]}…)"
        if entry.index != found.index or entry.hash != found.hash:
            problems.append(
                f"{what} of the transcript is not in {name}, whose #{found.index} is {found.name!r} "
                f"(hash {found.hash[:16]}…): the key comes from another chain of contributions"
            )
        elif entry.name != found.name:
            problems.append(f"{what}: {name} names it {found.name!r}")
        elif (entry.beacon is None) != (not found.is_beacon) or (
            entry.beacon is not None
            and (entry.beacon.hash, entry.beacon.iterations_exp) != (found.beacon_hash, found.iterations_exp)
        ):
            problems.append(f"{what}: its beacon parameters differ in {name}")
    for entry in listed[len(held) :]:
        problems.append(
            f"the transcript lists contribution #{entry.index} {entry.name!r} (hash {entry.hash[:16]}…), "
            f"which {name} does not contain ({len(held)} contribution(s))"
        )
    for found in held[len(listed) :]:
        problems.append(
            f"{name} holds contribution #{found.index} {found.name!r} (hash {found.hash[:16]}…), "
            f"which the transcript does not list"
        )
    if not problems and _sha256(path) != recorded_sha:
        problems.append(f"{name}: its SHA-256 is not the one the transcript records (the file was replaced)")
    return problems, phase2


def _require_consistent(folder: Path, transcript: Transcript) -> Phase2:
    problems, phase2 = transcript_problems(folder, transcript)
    if problems or phase2 is None:
        raise InputError(
            [Problem(str(folder), p) for p in problems],
            hint="run `zksolv ceremony verify` for the whole check; take the ceremony folder from its last contributor",
        )
    return phase2


# ---------------------------------------------------------------------------
# init, contribute, beacon


def init(
    n_assets: int,
    n_markets: int,
    batch_size: int,
    out: Path | str,
    ptau: Path | str,
    force: bool = False,
    on_event: EventSink = ignore,
    tiers: tuple[int, ...] = (),
    scenarios: int = 0,
) -> Transcript:
    """Start a ceremony: compile (cached) the shape, `snarkjs zkey new` from the ptau into
    circuit_0000.zkey (no contribution yet), and write the transcript."""
    from .audit import identify_ptau
    from .circuit import compile_circuit, r1cs_info
    from .ptau import read_ptau_power, required_power
    from .setup import SetupError
    from .statement import circuit_name

    out, ptau = Path(out), Path(ptau)
    tiers = tuple(tiers) or (1,) * n_markets
    name = circuit_name(n_assets, n_markets, batch_size, tiers, scenarios=scenarios)
    on_event(step(f"compiling {name}"))
    circuit = compile_circuit(n_assets, n_markets, batch_size, tiers=tiers, scenarios=scenarios)
    info = r1cs_info(circuit.r1cs)
    need = required_power(info["constraints"], info["public_inputs"] + info["outputs"])
    on_event(step(f"hashing {ptau.name}"))
    identity = identify_ptau(ptau)
    if read_ptau_power(ptau) < need:
        raise SetupError(
            f"{ptau} has power {identity.power}; this circuit ({info['constraints']} constraints) needs at least {need}"
        )
    with atomic_directory(out, replace=force) as tmp:
        on_event(step(f"snarkjs zkey new ({info['constraints']} constraints): the initial key, no contribution yet"))
        snarkjs.run("zkey", "new", str(circuit.r1cs), str(ptau), str(tmp / zkey_name(0)), what="zkey new")
        initial = tmp / zkey_name(0)
        if not initial.is_file() or initial.stat().st_size == 0:
            raise snarkjs.SnarkjsError(f"snarkjs zkey new wrote no key for {name} from {ptau}")
        phase2 = read_phase2(initial)
        transcript = Transcript(
            format=CEREMONY_FORMAT,
            n_assets=n_assets,
            n_markets=n_markets,
            batch_size=batch_size,
            market_brackets=list(tiers),
            scenarios=scenarios,
            circuit_id=f"{circuit_name(n_assets, n_markets, batch_size, tiers, False, scenarios)}/{circuit.dir.name}",
            constraints=info["constraints"],
            r1cs_sha256=_sha256(circuit.r1cs),
            circuit_hash=phase2.circuit_hash,
            ptau=CeremonyPtau(
                file=ptau.name,
                name=identity.name,
                blake2b=identity.blake2b,
                power=identity.power,
                identity=identity.kind,
                label=identity.label,
            ),
            initial_zkey=zkey_name(0),
            initial_zkey_sha256=_sha256(initial),
            contributions=[],
        )
        _save(tmp, transcript)
    return transcript


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ArgumentError("name", "a contribution needs a name (who contributed)", hint="pass --name")
    if not name.isprintable() or len(name.encode()) > MAX_NAME_BYTES:
        raise ArgumentError(
            "name",
            f"{name!r}: a name is printable text of at most {MAX_NAME_BYTES} bytes (snarkjs truncates longer ones)",
        )
    return name


def _phase2_step(
    folder: Path | str,
    name: str,
    run: Callable[[Path, Path], str],
    beacon: CeremonyBeacon | None,
    on_event: EventSink,
    what: str,
) -> CeremonyContribution:
    """Check the folder, let `run(old, new)` write the next key with snarkjs (it returns snarkjs's
    output; `what` says what it runs), check the new key extends the old one by exactly this
    contribution, then record it."""
    folder = Path(folder)
    transcript = load_transcript(folder)
    if transcript.closed:
        last = transcript.contributions[-1]
        raise InputError(
            [Problem(str(folder / TRANSCRIPT), f"the ceremony was closed by the beacon {last.name!r} (#{last.index})")],
            hint="export the keys (`zksolv ceremony export`); a new ceremony starts with `zksolv ceremony init`",
        )
    on_event(step("checking the newest key against the transcript"))
    before = _require_consistent(folder, transcript)
    old = folder / transcript.latest[0]
    index = len(transcript.contributions) + 1
    target = folder / zkey_name(index)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        on_event(step(f"{what}: {old.name} → {target.name}"))
        output = run(old, tmp)
        after = read_phase2_or_problem(tmp)
        added = after.contributions[-1] if len(after.contributions) == index else None
        if (
            added is None
            or [c.hash for c in after.contributions[:-1]] != [c.hash for c in before.contributions]
            or after.circuit_hash != before.circuit_hash
            or not after.consistent
            or added.name != name
            or added.is_beacon != (beacon is not None)
        ):
            raise snarkjs.SnarkjsError(f"snarkjs wrote a key that is not {old.name} plus this contribution:\n{output}")
        printed = _printed_contribution_hash(output)
        if printed is not None and printed != added.hash:
            raise snarkjs.SnarkjsError(
                f"snarkjs printed contribution hash {printed}, the key holds {added.hash} (zksolv's reading)"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    entry = CeremonyContribution(
        index=index, name=name, hash=added.hash, zkey=target.name, zkey_sha256=_sha256(target), beacon=beacon
    )
    transcript.contributions.append(entry)
    _save(folder, transcript)
    return entry


_PRINTED_HASH = re.compile(r"Contribution Hash:[ \t]*\n((?:\s+[0-9a-f]{8}){16})")


def _printed_contribution_hash(output: str) -> str | None:
    from .toolchain import clean

    match = _PRINTED_HASH.search(clean(output))
    return "".join(match[1].split()) if match else None


def contribute(
    folder: Path | str, name: str, entropy_file: Path | str | None = None, on_event: EventSink = ignore
) -> CeremonyContribution:
    """Add one phase-2 contribution to the ceremony in `folder` (snarkjs zkey contribute).

    The entropy is 64 fresh bytes from os.urandom, plus the BLAKE2b of `entropy_file` when given
    (for contributors who want their own source too); it is handed to snarkjs on stdin and never
    written. The contributor's secret exists only inside that snarkjs process."""
    name = _check_name(name)
    extra = b""
    if entropy_file is not None:
        try:
            extra = hashlib.blake2b(Path(entropy_file).read_bytes(), digest_size=64).digest()
        except OSError as exc:
            raise InputError(
                [Problem(str(entropy_file), f"cannot read the entropy file: {exc.strerror or exc}")]
            ) from None

    def run(old: Path, new: Path) -> str:
        entropy = (os.urandom(64) + extra).hex()
        # No -e on the command line: snarkjs asks for the entropy on stdin when it has none.
        proc = snarkjs.run(
            "zkey", "contribute", str(old), str(new), f"--name={name}", what="zkey contribute", stdin=entropy + "\n"
        )
        return proc.stdout + proc.stderr

    return _phase2_step(folder, name, run, None, on_event, f"snarkjs zkey contribute as {name!r}")


def beacon(
    folder: Path | str,
    beacon_hash: str,
    iterations_exp: int = MIN_BEACON_EXP,
    name: str = "beacon",
    source: str | None = None,
    on_event: EventSink = ignore,
) -> CeremonyContribution:
    """Close the ceremony with a public random beacon (snarkjs zkey beacon): a contribution whose
    secret is derived from `beacon_hash` by 2^iterations_exp SHA-256 rounds, so anyone can redo it.
    The value must be one nobody knew before the last contribution: e.g. the hash of a future
    block, its height announced in advance (`source` records which)."""
    name = _check_name(name)
    text = beacon_hash.strip().lower() if isinstance(beacon_hash, str) else ""
    text = text.removeprefix("0x")
    if not re.fullmatch(r"([0-9a-f]{2}){1,255}", text):
        raise ArgumentError(
            "beacon_hash", f"{beacon_hash!r} is not 1 to 255 bytes of hex", hint="--hash takes e.g. a block hash"
        )
    if (
        isinstance(iterations_exp, bool)
        or not isinstance(iterations_exp, int)
        or not (MIN_BEACON_EXP <= iterations_exp <= MAX_BEACON_EXP)
    ):
        raise ArgumentError(
            "iterations_exp", f"{iterations_exp!r}: snarkjs takes {MIN_BEACON_EXP} to {MAX_BEACON_EXP} (2^N rounds)"
        )
    record = CeremonyBeacon(hash=text, iterations_exp=iterations_exp, source=source)

    def run(old: Path, new: Path) -> str:
        proc = snarkjs.run(
            "zkey", "beacon", str(old), str(new), text, str(iterations_exp), f"--name={name}", what="zkey beacon"
        )
        return proc.stdout + proc.stderr

    entry = _phase2_step(
        folder, name, run, record, on_event, f"snarkjs zkey beacon ({text[:16]}…, 2^{iterations_exp} SHA-256 rounds)"
    )
    return entry


# ---------------------------------------------------------------------------
# verify


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str


class ListedContribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    name: str
    hash: str
    beacon: CeremonyBeacon | None = None


class CeremonyReport(BaseModel):
    """What `zksolv ceremony verify` found."""

    passed: bool
    ceremony: str
    shape: str
    zkey: str
    circuit_hash: str
    ptau: CeremonyPtau
    contributions: list[ListedContribution]
    checks: list[CheckResult]
    warnings: list[str]
    seconds: float

    def document(self) -> dict:
        return self.model_dump(mode="json")


def verify(folder: Path | str, ptau: Path | str, on_event: EventSink = ignore) -> CeremonyReport:
    """Verify a ceremony: the transcript against its newest zkey (Python, above), the circuit
    recompiled from zksolv's sources against the transcript's r1cs, the ptau against the one the
    transcript names, and `snarkjs zkey verify` of the newest key against that r1cs and ptau,
    whose contribution list must be the zkey's and the transcript's. A mismatch is a failed check;
    an unreadable folder or ptau is an InputError."""
    from .audit import identify_ptau, verify_zkey
    from .circuit import compile_circuit

    started = time.monotonic()
    folder, ptau = Path(folder), Path(ptau)
    transcript = load_transcript(folder)
    checks: list[CheckResult] = []
    warnings: list[str] = []

    def check(name: str, ok: bool, detail: str) -> bool:
        checks.append(CheckResult(name=name, ok=ok, detail=detail))
        return ok

    on_event(step("reading the newest key's contributions"))
    problems, phase2 = transcript_problems(folder, transcript)
    latest = transcript.latest[0]
    check(
        "transcript",
        not problems,
        f"{TRANSCRIPT} lists exactly the {len(transcript.contributions)} contribution(s) of {latest}, chained "
        f"from circuit hash {transcript.circuit_hash[:16]}…"
        if not problems
        else "; ".join(problems),
    )
    shape = transcript.shape
    on_event(step(f"compiling {shape}"))
    reference = compile_circuit(*shape.dims[:3], tiers=tuple(shape.market_brackets), scenarios=shape.scenarios)
    reference_sha = _sha256(reference.r1cs)
    circuit_ok = check(
        "circuit",
        reference_sha == transcript.r1cs_sha256,
        f"{shape} compiled from zksolv's circuits is the transcript's r1cs (SHA-256 {reference_sha[:16]}…)"
        if reference_sha == transcript.r1cs_sha256
        else f"the transcript's r1cs (SHA-256 {transcript.r1cs_sha256[:16]}…) is not {shape} compiled from "
        f"zksolv's circuits ({reference_sha[:16]}…)",
    )
    on_event(step(f"hashing {ptau.name}"))
    identity = identify_ptau(ptau)
    ptau_ok = check(
        "ptau",
        identity.blake2b == transcript.ptau.blake2b,
        f"{ptau.name} is the transcript's ptau ({identity.label})"
        if identity.blake2b == transcript.ptau.blake2b
        else f"{ptau.name} (BLAKE2b {identity.blake2b[:16]}…) is not the ptau the ceremony started from "
        f"({transcript.ptau.file}, {transcript.ptau.blake2b[:16]}…)",
    )
    if not problems and circuit_ok and ptau_ok and phase2 is not None:
        on_event(step(f"snarkjs zkey verify {latest} (every contribution's proof of knowledge)"))
        zkey = verify_zkey(reference.r1cs, ptau, folder / latest)
        ours = [(c.index, c.name, c.hash) for c in phase2.contributions]
        theirs = [(c.index, c.name, c.hash) for c in zkey.contributions]
        if not zkey.ok:
            check("snarkjs zkey verify", False, f"snarkjs rejects {latest}: {zkey.detail}")
        else:
            check(
                "snarkjs zkey verify",
                ours == theirs,
                f"{latest} follows from the r1cs and {ptau.name} through the {len(theirs)} contribution(s) snarkjs "
                "lists, the same as zksolv reads from the key"
                if ours == theirs
                else f"snarkjs lists other contributions than zksolv reads from {latest}: {theirs} vs {ours}",
            )
    else:
        check("snarkjs zkey verify", False, "not run: the checks above failed")
    n = len(transcript.contributions)
    check(
        "contributions",
        n >= 1,
        f"{n} contribution(s)" if n else "no contribution yet: δ is the generator, anyone can forge proofs",
    )
    if n and not transcript.closed:
        warnings.append(
            "no beacon closes the ceremony yet: end it with `zksolv ceremony beacon` on a value announced in advance"
        )
    if transcript.ptau.identity == "development":
        warnings.append("the ptau is a zksolv development ptau, INSECURE: whoever made it can forge proofs")
    elif transcript.ptau.identity == "unknown":
        warnings.append("the ptau is not a published ceremony file (its hash is not in zksolv's list)")
    return CeremonyReport(
        passed=all(c.ok for c in checks),
        ceremony=str(folder),
        shape=str(shape),
        zkey=latest,
        circuit_hash=transcript.circuit_hash,
        ptau=transcript.ptau,
        contributions=[
            ListedContribution(index=c.index, name=c.name, hash=c.hash, beacon=c.beacon)
            for c in transcript.contributions
        ],
        checks=checks,
        warnings=warnings,
        seconds=round(time.monotonic() - started, 2),
    )


# ---------------------------------------------------------------------------
# export


def export(folder: Path | str, out: Path | str, force: bool = False, on_event: EventSink = ignore) -> Keys:
    """Write a keys folder for `zksolv prove` from the ceremony's newest key (the layout `setup`
    writes), its setup.json recording the ptau and every contribution. Refused when the transcript
    and the key disagree, the circuit is not zksolv's, or nobody contributed. Run `ceremony verify`
    first (it also runs snarkjs zkey verify); `audit-setup` then checks the keys folder itself."""
    from .circuit import compile_circuit
    from .setup import KeysPtau, load_keys, write_keys

    started = time.monotonic()
    folder, out = Path(folder), Path(out)
    transcript = load_transcript(folder)
    phase2 = _require_consistent(folder, transcript)
    if not phase2.contributions:
        raise InputError(
            [Problem(str(folder), "no contribution yet: its δ is the generator and anyone could forge proofs")],
            hint="add contributions with `zksolv ceremony contribute`, then a beacon",
        )
    shape = transcript.shape
    on_event(step(f"compiling {shape}"))
    K, M, B = shape.dims[:3]
    circuit = compile_circuit(K, M, B, tiers=tuple(shape.market_brackets), scenarios=shape.scenarios)
    if _sha256(circuit.r1cs) != transcript.r1cs_sha256:
        raise InputError(
            [Problem(str(folder / TRANSCRIPT), f"r1cs_sha256: not {shape} as this zksolv compiles it")],
            hint="export with the zksolv (and circom) the ceremony was started with",
        )
    with atomic_directory(out, replace=force) as tmp:
        on_event(step(f"exporting {transcript.latest[0]}: verification key, Verifier.sol"))
        shutil.copyfile(folder / transcript.latest[0], tmp / "circuit.zkey")
        write_keys(
            tmp,
            circuit,
            KeysPtau(
                power=transcript.ptau.power,
                file=transcript.ptau.file,
                insecure_development=transcript.ptau.identity == "development",
                blake2b=transcript.ptau.blake2b,
                identity=transcript.ptau.identity,
                label=transcript.ptau.label,
                name=transcript.ptau.name,
            ),
            {"export_s": round(time.monotonic() - started, 2)},
            ceremony_sha256=_sha256(folder / TRANSCRIPT),
        )
    return load_keys(out)
