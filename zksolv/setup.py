"""Groth16 setup for one circuit shape: compile, powers of tau, keys.

The keys depend only on the shape (assets K, markets M, batch size B), never
on prices, which enter as private inputs bound by params_hash. Without a
ceremony file the setup uses a local development powers of tau whose secrets
were known to this machine: keys and bundles made with it are marked insecure.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, ValidationError, model_serializer

from . import snarkjs
from .bundle import BatchSize, Count, SetupContribution, SetupInfo, SetupPtau, Sha256
from .circuit import (
    CompiledCircuit,
    build_native_witness,
    compile_circuit,
    default_build_root,
    r1cs_info,
    require_native_toolchain,
)
from .errors import ZksolvError, validation_problems
from .events import EventSink, ignore, step
from .io import atomic_directory, dumps_json, parse_json
from .ptau import is_dev_ptau, make_dev_ptau, read_ptau_power, required_power
from .statement import circuit_name
from .trust import Blake2b

KEYS_FORMAT = "zksolv-keys/5"  # 5: the circuit has scenarios (S); 4: maintenance brackets (TIERS)


class SetupError(ZksolvError):
    """The setup cannot be made or the keys folder is unusable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class KeysPtau(_Strict):
    """The powers of tau the keys were made from, as an auditor needs it (zksolv.audit.identify_ptau)."""

    power: Annotated[int, Field(ge=1, le=28)]
    file: str
    insecure_development: bool
    blake2b: Blake2b
    identity: Literal["ceremony", "development", "unknown"]
    label: str
    name: str | None


class KeysContribution(_Strict):
    """One phase-2 contribution of the keys' zkey, as its contributions section holds it."""

    index: Annotated[int, Field(ge=1)]
    name: str
    hash: Blake2b  # what `snarkjs zkey verify` prints for it
    beacon: bool  # a public random beacon (snarkjs zkey beacon), not a secret contribution


class KeysPhase2(_Strict):
    """The phase 2 the keys come from: read from circuit.zkey when the folder is written (the venue's
    record; `audit-setup` reads the zkey itself)."""

    circuit_hash: Blake2b  # snarkjs's circuit hash (section 10): the r1cs and ptau the chain starts from
    contributions: list[KeysContribution]
    ceremony_sha256: Sha256 | None  # the ceremony.json the keys were exported from (`zksolv ceremony export`)


class KeysNativeWitness(_Strict):
    """circom's C++ witness generator, built by `setup` on its machine (`native_witness=True`).
    Provers run it where it runs and its files are these; else, and for a failing input, the WASM one."""

    binary: str  # in the keys folder; its .dat beside it
    sha256: Sha256
    dat_sha256: Sha256


class KeysFile(_Strict):
    """`setup.json` of a keys folder: written by `setup` and `ceremony export`, read by `load_keys`."""

    format: str
    n_assets: Count
    n_markets: Annotated[int, Field(ge=0, le=1 << 40)]
    batch_size: BatchSize
    market_brackets: list[Annotated[int, Field(ge=1, le=32)]]  # maintenance brackets per market (TIERS)
    scenarios: Annotated[int, Field(ge=0, lt=1 << 12)]  # scenario price vectors (S, PROTOCOL.md §3.3)
    constraints: Count
    constraints_per_account: float
    circuit_id: str
    r1cs_sha256: Sha256
    zkey_sha256: Sha256
    verification_key_sha256: Sha256
    ptau: KeysPtau
    tools: dict[str, str]  # zksolv, circom and snarkjs versions
    timings: dict[str, float]  # seconds per step
    phase2: KeysPhase2 | None = None  # absent in keys written before the ceremony (issue 16)
    native_witness: KeysNativeWitness | None = None  # absent: the keys have only the WASM generator

    @model_serializer(mode="wrap")
    def _omit_absent_fields(self, handler: SerializerFunctionWrapHandler) -> dict:
        # Keys written before `phase2` existed dump to their own setup.json, byte for byte, and keys
        # without a native witness generator stay readable by a zksolv that knows of none.
        data = handler(self)
        for field in ("phase2", "native_witness"):
            if data.get(field, ...) is None:
                del data[field]
        return data


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def _sha256_of_version(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def _has_sha256(path: Path, sha256: str) -> bool:
    """Whether the file at `path` has this SHA-256: hashed once per process and version of the file
    (a prover asks before every batch)."""
    try:
        stat = path.stat()
        return _sha256_of_version(str(path), stat.st_size, stat.st_mtime_ns) == sha256
    except OSError:
        return False


@dataclass(frozen=True)
class Keys:
    """A keys folder written by `setup` (and what its setup.json says)."""

    dir: Path
    document: KeysFile

    @property
    def info(self) -> dict:
        """setup.json as JSON data (what `zksolv setup --json` prints)."""
        return self.document.model_dump()

    @property
    def zkey(self) -> Path:
        return self.dir / "circuit.zkey"

    @property
    def verification_key(self) -> Path:
        return self.dir / "verification_key.json"

    @property
    def verifier_sol(self) -> Path:
        return self.dir / "Verifier.sol"

    @property
    def r1cs(self) -> Path:
        return self.dir / "circuit.r1cs"

    @property
    def wasm(self) -> Path:
        return self.dir / "circuit_js" / "main.wasm"

    @property
    def witness_js(self) -> Path:
        return self.dir / "circuit_js" / "generate_witness.js"

    @property
    def native_witness(self) -> Path | None:
        """The native witness generator when setup.json records one and its binary and .dat are the
        files it records (SHA-256); None: provers use the WASM generator."""
        record = self.document.native_witness
        if record is None:
            return None
        binary = self.dir / record.binary
        dat = binary.with_name(binary.name + ".dat")
        return binary if _has_sha256(binary, record.sha256) and _has_sha256(dat, record.dat_sha256) else None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.document.n_assets, self.document.n_markets, self.document.batch_size

    @property
    def tiers(self) -> tuple[int, ...]:
        """Maintenance brackets per market: the circuit's TIERS (PROTOCOL.md §3.1)."""
        return tuple(self.document.market_brackets)

    @property
    def scenarios(self) -> int:
        """Scenario price vectors: the circuit's S (PROTOCOL.md §3.3)."""
        return self.document.scenarios

    @property
    def insecure(self) -> bool:
        return self.document.ptau.insecure_development


def manifest_setup(keys: Keys) -> SetupInfo:
    """`manifest.setup` for proofs made with `keys`: the ptau by name and BLAKE2b, and every phase-2
    contribution of the circuit.zkey that proves, read from that file (not from setup.json)."""
    from .ceremony import read_phase2  # the ceremony imports this module

    ptau = keys.document.ptau
    return SetupInfo(
        insecure_development=keys.insecure,
        ptau_power=ptau.power,
        ptau=SetupPtau(name=ptau.name or ptau.file, blake2b=ptau.blake2b),
        contributions=[
            SetupContribution(name=c.name, hash=c.hash, beacon=c.is_beacon)
            for c in read_phase2(keys.zkey).contributions
        ],
    )


def load_keys(folder: Path | str) -> Keys:
    folder = Path(folder)
    path = folder / "setup.json"
    try:
        info = parse_json(path.read_bytes())
    except OSError as exc:
        raise SetupError(f"{folder}: not a keys folder (run `zksolv setup`): {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SetupError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(info, dict) or info.get("format") != KEYS_FORMAT:
        found = info.get("format") if isinstance(info, dict) else type(info).__name__
        older = isinstance(found, str) and found.startswith("zksolv-keys/")
        raise SetupError(
            f"{path}: not a {KEYS_FORMAT} file (found {found!r})"
            + ("; keys of an older statement format cannot prove it: run setup again" if older else "")
        )
    try:
        document = KeysFile.model_validate(info)
    except ValidationError as exc:
        problems = validation_problems(str(path), exc)
        raise SetupError(f"{path}: {'; '.join(p.message for p in problems[:5])}; rerun `zksolv setup`") from None
    keys = Keys(folder, document)
    for path in (keys.zkey, keys.verification_key, keys.r1cs, keys.wasm, keys.witness_js):
        if not path.exists():
            raise SetupError(f"{folder}: missing {path.name}; rerun `zksolv setup`")
    return keys


def dev_ptau(power: int, cache: Path | None = None) -> Path:
    """The cached local development powers of tau of `power` (made once, INSECURE)."""
    cache = (cache or default_build_root()) / "ptau"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"zksolv-dev-insecure-{power:02d}.ptau"
    if not path.exists():
        from .devsetup import secret_path, write_ptau_secret  # τ kept beside it: fast dev setup

        make_dev_ptau(power, path, secret=write_ptau_secret(secret_path(path)))
    return path


def setup(
    n_assets: int,
    n_markets: int,
    batch_size: int,
    out: Path | str,
    ptau: Path | None = None,
    force: bool = False,
    on_event: EventSink = ignore,
    tiers: tuple[int, ...] = (),
    scenarios: int = 0,
    native_witness: bool = False,
) -> Keys:
    """Compile, pick or make the powers of tau, run the Groth16 setup with a phase-2 contribution.

    `tiers`: maintenance brackets per market (() = every market flat); `scenarios`: S.
    `native_witness`: also build circom's C++ witness generator into the keys (`circuit_cpp/`), which
    provers then run instead of the WASM one (15–20× less CPU per witness); the build takes minutes
    for real shapes (cached under build/), and needs g++, nasm, nlohmann/json.hpp and gmp."""
    out = Path(out)
    tiers = tuple(tiers) or (1,) * n_markets
    if native_witness:
        require_native_toolchain()  # before minutes of work, not after
    timings: dict[str, float] = {}
    started = time.monotonic()
    name = circuit_name(n_assets, n_markets, batch_size, tiers, scenarios=scenarios)
    on_event(step(f"compiling {name}"))
    circuit = compile_circuit(n_assets, n_markets, batch_size, tiers=tiers, scenarios=scenarios)
    timings["compile_s"] = time.monotonic() - started
    native = None
    if native_witness:
        # Before the Groth16 setup: a build that fails must not waste a ceremony ptau's setup.
        on_event(step("native witness generator: circom --c, then g++ (cached; minutes for a large batch)"))
        t = time.monotonic()
        native = build_native_witness(circuit)
        timings["native_witness_s"] = time.monotonic() - t
    info = r1cs_info(circuit.r1cs)
    power = required_power(info["constraints"], info["public_inputs"] + info["outputs"])
    if ptau is None:
        on_event(step(f"development powers of tau 2^{power} (INSECURE, cached)"))
        t = time.monotonic()
        ptau_path = dev_ptau(power)
        timings["ptau_s"] = time.monotonic() - t
    else:
        ptau_path = Path(ptau)
        have = read_ptau_power(ptau_path)
        if have < power:
            raise SetupError(
                f"{ptau_path} has power {have}; this circuit ({info['constraints']} constraints) needs at least {power}"
            )
    insecure = is_dev_ptau(ptau_path)
    # An auditor (zksolv audit-setup) must know which ptau to rerun `zkey verify` with:
    # record its BLAKE2b hash (the one ceremonies publish) and what that hash names.
    from .audit import identify_ptau  # audit imports this module

    ptau_identity = identify_ptau(ptau_path)
    with atomic_directory(out, replace=force) as tmp:
        from .devsetup import fast_setup, ptau_secret

        secret = ptau_secret(ptau_path) if ptau is None else None
        if secret is not None:
            # The development ptau's τ, α, β are known here: compute the key directly (seconds).
            on_event(step(f"development groth16 setup from the known τ ({info['constraints']} constraints, INSECURE)"))
            t = time.monotonic()
            fast_setup(circuit.r1cs, ptau_path, tmp / "circuit.zkey", secret)
            timings["dev_setup_s"] = time.monotonic() - t
        else:
            on_event(
                step(
                    f"groth16 setup ({info['constraints']} constraints)"
                    + (
                        "; the development ptau has no known secret (made by an older zksolv): "
                        "delete it for the fast setup"
                        if ptau is None
                        else ""
                    )
                )
            )
            t = time.monotonic()
            snarkjs.groth16_setup(circuit.r1cs, ptau_path, tmp / "phase1.zkey")
            timings["groth16_setup_s"] = time.monotonic() - t
            on_event(step("phase-2 contribution"))
            t = time.monotonic()
            snarkjs.zkey_contribute(tmp / "phase1.zkey", tmp / "circuit.zkey", "zksolv setup contribution")
            timings["contribute_s"] = time.monotonic() - t
            (tmp / "phase1.zkey").unlink()
        timings["total_s"] = time.monotonic() - started
        write_keys(
            tmp,
            circuit,
            KeysPtau(
                power=read_ptau_power(ptau_path),
                file=ptau_path.name,
                insecure_development=insecure,
                blake2b=ptau_identity.blake2b,
                identity=ptau_identity.kind,
                label=ptau_identity.label,
                name=ptau_identity.name,
            ),
            timings,
            native_witness=native,
        )
    return load_keys(out)


def write_keys(
    folder: Path,
    circuit: CompiledCircuit,
    ptau: KeysPtau,
    timings: dict[str, float],
    ceremony_sha256: str | None = None,
    native_witness: Path | None = None,
) -> KeysFile:
    """Complete a keys folder whose circuit.zkey is in place (from `setup` or a ceremony's export):
    the verification key and Verifier.sol snarkjs exports from it, the circuit's r1cs and witness
    generator (and the native one, `native_witness`, from zksolv.circuit.build_native_witness), and
    setup.json, whose phase-2 record is read from that zkey."""
    from .audit import tool_versions  # audit imports this module
    from .ceremony import read_phase2  # and so does the ceremony

    zkey = folder / "circuit.zkey"
    snarkjs.export_verification_key(zkey, folder / "verification_key.json")
    snarkjs.export_solidity_verifier(zkey, folder / "Verifier.sol")
    shutil.copyfile(circuit.r1cs, folder / "circuit.r1cs")
    shutil.copytree(circuit.wasm.parent, folder / "circuit_js")
    native = None
    if native_witness is not None:
        binary = folder / "circuit_cpp" / native_witness.name
        binary.parent.mkdir()
        shutil.copy(native_witness, binary)
        shutil.copy(native_witness.with_name(native_witness.name + ".dat"), binary.parent)
        native = KeysNativeWitness(
            binary=binary.relative_to(folder).as_posix(),
            sha256=sha256_file(binary),
            dat_sha256=sha256_file(binary.with_name(binary.name + ".dat")),
        )
    phase2 = read_phase2(zkey)
    info = r1cs_info(circuit.r1cs)
    K, M, B = circuit.K, circuit.M, circuit.B
    tiers = tuple(circuit.tiers) or (1,) * M
    document = KeysFile(
        format=KEYS_FORMAT,
        n_assets=K,
        n_markets=M,
        batch_size=B,
        market_brackets=list(tiers),
        scenarios=circuit.scenarios,
        constraints=info["constraints"],
        constraints_per_account=round(info["constraints"] / B, 1),
        circuit_id=f"{circuit_name(K, M, B, tiers, False, circuit.scenarios)}/{circuit.dir.name}",
        r1cs_sha256=sha256_file(folder / "circuit.r1cs"),
        zkey_sha256=sha256_file(zkey),
        verification_key_sha256=sha256_file(folder / "verification_key.json"),
        ptau=ptau,
        tools=tool_versions(),
        timings={k: round(v, 2) for k, v in timings.items()},
        phase2=KeysPhase2(
            circuit_hash=phase2.circuit_hash,
            contributions=[
                KeysContribution(index=c.index, name=c.name, hash=c.hash, beacon=c.is_beacon)
                for c in phase2.contributions
            ],
            ceremony_sha256=ceremony_sha256,
        ),
        native_witness=native,
    )
    (folder / "setup.json").write_text(dumps_json(document.model_dump()))
    return document


def cached_setup(
    n_assets: int,
    n_markets: int,
    batch_size: int,
    on_event: EventSink = ignore,
    tiers: tuple[int, ...] = (),
    scenarios: int = 0,
    native_witness: bool = False,
) -> Keys:
    """A development setup cached under build/keys, keyed by the compiled circuit (and, with
    `native_witness`, a folder of its own that carries the native witness generator)."""
    circuit: CompiledCircuit = compile_circuit(n_assets, n_markets, batch_size, tiers=tiers, scenarios=scenarios)
    folder = default_build_root() / "keys" / f"{circuit.dir.name}-dev{'-native' if native_witness else ''}"
    if (folder / "setup.json").exists():
        try:
            keys = load_keys(folder)
            if keys.native_witness is not None or not native_witness:
                return keys
        except SetupError:
            pass  # made by an older zksolv (another keys format): a cache, so make it again
    return setup(
        n_assets,
        n_markets,
        batch_size,
        folder,
        force=True,
        on_event=on_event,
        tiers=tiers,
        scenarios=scenarios,
        native_witness=native_witness,
    )
