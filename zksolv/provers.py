"""Groth16 provers behind one small interface: snarkjs (Node) and arkworks (groth16py).

Both take a circom ``.wtns`` witness and the keys of `zksolv setup` and give back
proof.json and public.json **as text in snarkjs's own format** (what
``JSON.stringify(x, null, 1)`` writes), so a bundle does not say which prover
made it and ``snarkjs groth16 verify`` checks either.

- ``snarkjs``: ``snarkjs groth16 prove`` in a Node subprocess (multi-threaded).
- ``arkworks``: groth16py (Rust, single-threaded, optional extra ``zksolv[fast]``),
  proving with the snarkjs .zkey imported once per process. It returns the
  proof as Ethereum calldata bytes, converted here; the public signals are the
  witness wires 1..nPublic, exactly what snarkjs writes to public.json.

`proof_verifier` gives a fast check for freshly made proofs: groth16py's
verifier when installed (≈2 ms), else the pure-Python verifier of
`zksolv.groth16` (≈0.16 s).
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .binfile import BinFile, scan
from .errors import ToolchainError

PROVERS = ("snarkjs", "arkworks")
AUTO = "auto"  # resolve_prover: the fastest prover installed here


class ProverUnavailable(ToolchainError):
    """The requested prover cannot run here (a missing optional dependency)."""


class ProverError(ToolchainError):
    """The prover failed on this witness, or gave back something that is not a proof."""


class Prover(Protocol):
    name: str

    def prove(self, zkey: Path, wtns: Path, scratch: Path) -> tuple[str, str]:
        """Prove the witness; return (proof.json text, public.json text). `scratch` is a
        private folder for temporary files."""


def snarkjs_json(data) -> str:
    """JSON text as snarkjs writes it (``JSON.stringify(data, null, 1)``)."""
    return json.dumps(data, indent=1)


class SnarkjsProver:
    name = "snarkjs"

    def prove(self, zkey: Path, wtns: Path, scratch: Path) -> tuple[str, str]:
        from . import snarkjs

        snarkjs.prove(zkey, wtns, scratch / "proof.json", scratch / "public.json")
        return (scratch / "proof.json").read_text(), (scratch / "public.json").read_text()


_FIELD_BYTES = 32


def proof_from_ethereum(blob: bytes) -> dict:
    """groth16py's 256-byte proof (a.x, a.y, b.x.c1, b.x.c0, b.y.c1, b.y.c0, c.x, c.y, big-endian
    words: the EVM precompile order) → snarkjs's proof.json document (Fq2 as [c0, c1])."""
    if len(blob) != 8 * _FIELD_BYTES:
        raise ProverError(f"groth16py returned a {len(blob)}-byte proof, expected 256")
    w = [str(int.from_bytes(blob[i : i + _FIELD_BYTES], "big")) for i in range(0, len(blob), _FIELD_BYTES)]
    return {
        "pi_a": [w[0], w[1], "1"],
        "pi_b": [[w[3], w[2]], [w[5], w[4]], ["1", "0"]],
        "pi_c": [w[6], w[7], "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }


def _wtns(wtns: Path) -> tuple[BinFile, int, int]:
    """A circom .wtns file's table, field size n8 and wire count, from its header section only."""
    f = scan(wtns, b"wtns")
    header = f.one(1)
    (n8,) = f.unpack(header, "I")
    (n_wires,) = f.unpack(header, "I", 4 + n8)
    return f, n8, n_wires


def witness_wires(wtns: Path, first: int, count: int) -> list[int]:
    """Wires [first, first + count) of a circom .wtns file, without reading the rest."""
    f, n8, n_wires = _wtns(wtns)
    if first + count > n_wires:
        raise ProverError(f"{wtns}: {n_wires} wires, asked for {first}..{first + count - 1}")
    return f.elements(f.one(2), n8, count, offset=first * n8)


def zkey_header(zkey: Path) -> dict[str, int]:
    """nVars, nPublic and domainSize from a snarkjs Groth16 .zkey (section 2), reading only the
    section headers and that section's start."""
    f = scan(zkey, b"zkey")
    header = f.one(2)
    (n8q,) = f.unpack(header, "I")
    (n8r,) = f.unpack(header, "I", 4 + n8q)
    n_vars, n_public, domain = f.unpack(header, "III", 8 + n8q + n8r)
    return {"nVars": n_vars, "nPublic": n_public, "domainSize": domain}


class ArkworksProver:
    """groth16py: the proving key imported from the .zkey once per process (cached by path,
    size and mtime; two shapes at most).

    groth16py 0.2.0 does not check its input: a witness with fewer wires than the key makes
    it panic (pyo3 PanicException, a BaseException), one with more wires or one that does not
    satisfy the constraints gives a proof without error (an invalid one in the second case).
    So the wire count is checked here first, any failure becomes a ProverError, and the
    orchestrator verifies every proof (zksolv.prove)."""

    name = "arkworks"
    _cache: dict[tuple, tuple] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        try:
            importlib.import_module("groth16py")
        except ImportError:
            raise ProverUnavailable(
                "the arkworks prover needs groth16py: pip install 'zksolv[fast]' (or groth16py==0.2.0)"
            ) from None

    @classmethod
    def proving_key(cls, zkey: Path):
        import groth16py

        stat = zkey.stat()
        key = (str(zkey.resolve()), stat.st_size, stat.st_mtime_ns)
        with cls._lock:
            if key not in cls._cache:
                if len(cls._cache) >= 2:
                    cls._cache.pop(next(iter(cls._cache)))
                header = zkey_header(zkey)
                pk, _ = groth16py.import_zkey(str(zkey))
                cls._cache[key] = (pk, header)
            return cls._cache[key]

    def prove(self, zkey: Path, wtns: Path, scratch: Path) -> tuple[str, str]:
        import groth16py

        pk, header = self.proving_key(zkey)
        _, _, wires = _wtns(wtns)
        if wires != header["nVars"]:
            raise ProverError(f"{wtns} has {wires} wires; the proving key {zkey} is for {header['nVars']}")
        try:
            blob = groth16py.prove_wtns(pk, str(wtns))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust panic arrives as pyo3's PanicException(BaseException)
            raise ProverError(f"groth16py failed: {type(exc).__name__}: {exc}") from None
        proof = proof_from_ethereum(blob)
        public = [str(x) for x in witness_wires(wtns, 1, header["nPublic"])]
        return snarkjs_json(proof), snarkjs_json(public)


def resolve_prover(name: str) -> str:
    """ "auto" → "arkworks" when groth16py is installed here (`make install` installs it; ~4× less
    CPU per batch than snarkjs, docs/BENCHMARKS.md), else "snarkjs"; any other name unchanged."""
    if name != AUTO:
        return name
    try:
        import groth16py  # noqa: F401
    except ImportError:
        return "snarkjs"
    return "arkworks"


def get_prover(name: str) -> Prover:
    if name == "snarkjs":
        return SnarkjsProver()
    if name == "arkworks":
        return ArkworksProver()
    raise ValueError(f"unknown prover {name!r}; choose one of {', '.join(PROVERS)}")


def proof_verifier(verification_key: Path) -> Callable[[dict, list], bool]:
    """A function (proof document, public signals) → valid? for this verification key.
    Malformed documents are invalid, never an exception."""
    try:
        import groth16py
    except ImportError:  # the optional native verifier; fall back to zksolv.groth16
        pass
    else:
        verifier = groth16py.Verifier(groth16py.VerifyingKey.from_snarkjs_file(str(verification_key)))

        def check(proof: dict, public: list) -> bool:
            try:
                return bool(verifier.verify_snarkjs(json.dumps(proof), json.dumps([str(x) for x in public])))
            except Exception:  # noqa: BLE001 - groth16py raises EncodingError etc. on malformed input
                return False

        return check

    from .groth16 import parse_verification_key, verify_proof
    from .io import parse_json

    vk = parse_verification_key(parse_json(Path(verification_key).read_bytes()))
    return lambda proof, public: verify_proof(vk, proof, public)
