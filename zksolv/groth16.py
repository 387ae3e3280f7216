"""A pure-Python Groth16 verifier for BN254 (snarkjs's JSON formats), on py_ecc.

Why it exists: a bundle's proofs should be checkable by someone who has neither
Node nor snarkjs, and by an implementation that shares no code with the prover,
so that two independent verifiers can be required to agree. This module imports
nothing from the Node side and never starts a subprocess.

What it checks, for a key (α, β, γ, δ, IC) and a proof (A, B, C) with public
signals s_1…s_n:

* every coordinate is a canonical decimal string below the base-field modulus
  q, every public signal below the scalar-field modulus r, every finite point
  has z = 1 (snarkjs's affine form) and lies on its curve;
* B and the key's β, γ, δ lie in the prime-order subgroup of the twist (G1 has
  cofactor 1, so "on the curve" is enough there);
* e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1 with vk_x = IC_0 + Σ s_i·IC_i.

Speed: py_ecc's own Miller loop works on the twisted point in F_q12 and costs
≈ 0.12 s; the loop below keeps the G2 point in F_q2 (ints) and multiplies
sparse line values into one shared accumulator, so each extra pairing costs a
few milliseconds, and a whole set of equations needs a single final
exponentiation. `verify_many` checks a random linear combination of all
equations at once (see `verify_batch`), in parallel processes, and falls back to
one-by-one checks only when a combination fails.

snarkjs JSON, for reference: numbers are decimal strings; G1 = [x, y, "1"]
(infinity ["0", "1", "0"]); G2 = [[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]], with
(c0, c1) in py_ecc's FQ2([c0, c1]) order (the EVM precompile takes (c1, c0)).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from py_ecc.optimized_bn128 import (
    FQ,
    FQ2,
    FQ12,
    Z1,
    Z2,
    add,
    b,
    b2,
    curve_order,
    field_modulus,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    normalize,
)
from py_ecc.optimized_bn128.optimized_pairing import pseudo_binary_encoding

from .errors import InputError, Problem
from .field import EncodingError, parse_canonical_uint
from .io import parse_json, read_json

Q_MODULUS = field_modulus  # base field F_q
R_ORDER = curve_order  # scalar field F_r = order of G1, G2, G_T

G1Point = tuple[FQ, FQ, FQ]  # py_ecc optimized (projective) coordinates
G2Point = tuple[FQ2, FQ2, FQ2]

# verify_many gives each worker process at least this many proofs: below that, starting
# a process and its final exponentiation cost more than the proofs themselves.
MIN_CHUNK = 4


class MalformedError(ValueError):
    """A key, proof or public-signal document that is not a well-formed Groth16/BN254 object."""


@dataclass(frozen=True)
class VerificationKey:
    """A parsed, checked verification key.

    `alpha_beta_miller` is the Miller loop value of e(α, β), before the final
    exponentiation: it is the same for every proof, so it is computed once and
    multiplied into each product (raised to Σr_j in a batch).
    """

    alpha: G1Point
    beta: G2Point
    gamma: G2Point
    delta: G2Point
    ic: tuple[G1Point, ...]
    alpha_beta_miller: FQ12

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1


@dataclass(frozen=True)
class Proof:
    """A parsed proof: A, C on G1 and B in the prime-order subgroup of G2. Make it with
    parse_proof: the verify functions trust a Proof's points to have been checked."""

    a: G1Point
    b: G2Point
    c: G1Point


class RandomBits(Protocol):
    def randbits(self, k: int) -> int: ...


# ---------------------------------------------------------------------------
# Parsing. Strict on purpose: snarkjs also accepts hex strings, coordinates ≥ q,
# Jacobian z ≠ 1 and 2- or 4-element G1 arrays, but those are other encodings
# than the ones snarkjs writes, and a verifier that accepts several encodings of
# one proof invites confusion about what was published.


def canonical_integer(value: Any, bound: int, what: str) -> int:
    """A canonical decimal string (as snarkjs writes numbers) below `bound`: zksolv's one
    strict number parser (field.parse_canonical_uint), raising MalformedError."""
    try:
        return parse_canonical_uint(value, bound, what, "the modulus")
    except EncodingError as exc:
        raise MalformedError(str(exc)) from None


def _list_of(doc: Any, length: int, what: str) -> list:
    if not isinstance(doc, list) or len(doc) != length:
        raise MalformedError(f"{what}: expected a list of {length}")
    return doc


def parse_g1(doc: Any, what: str = "G1 point") -> G1Point:
    """[x, y, "1"] on y² = x³ + 3, or ["0", "1", "0"] for the point at infinity."""
    x, y, z = (canonical_integer(c, Q_MODULUS, what) for c in _list_of(doc, 3, what))
    if z == 0:
        if (x, y) != (0, 1):
            raise MalformedError(f"{what}: infinity must be written [0, 1, 0]")
        return Z1
    if z != 1:
        raise MalformedError(f"{what}: z must be 1 (affine)")
    point = (FQ(x), FQ(y), FQ(1))
    if not is_on_curve(point, b):
        raise MalformedError(f"{what}: not on the curve y² = x³ + 3")
    return point


def _fq2(doc: Any, what: str) -> tuple[int, int]:
    c0, c1 = (canonical_integer(c, Q_MODULUS, what) for c in _list_of(doc, 2, what))
    return c0, c1


def in_g2_subgroup(point: G2Point) -> bool:
    """[r]P = O. The twist has a large cofactor, so a point can be on the curve
    yet outside the group the pairing is defined on; such a B would let a prover
    step outside the soundness argument of Groth16."""
    return is_inf(multiply(point, R_ORDER))


def parse_g2(doc: Any, what: str = "G2 point", subgroup: bool = True) -> G2Point:
    """[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]] on the twist and (unless `subgroup` is False)
    in the order-r subgroup; [[0, 0], [1, 0], [0, 0]] for infinity."""
    x, y, z = (_fq2(c, what) for c in _list_of(doc, 3, what))
    if z == (0, 0):
        if (x, y) != ((0, 0), (1, 0)):
            raise MalformedError(f"{what}: infinity must be written [[0, 0], [1, 0], [0, 0]]")
        return Z2
    if z != (1, 0):
        raise MalformedError(f"{what}: z must be [1, 0] (affine)")
    point = (FQ2(list(x)), FQ2(list(y)), FQ2.one())
    if not is_on_curve(point, b2):
        raise MalformedError(f"{what}: not on the twist y² = x³ + 3/(9 + u)")
    if subgroup and not in_g2_subgroup(point):
        raise MalformedError(f"{what}: not in the prime-order subgroup")
    return point


def g1_to_json(point: G1Point) -> list[str]:
    """A G1 point in snarkjs's form (affine, z = "1"; infinity ["0", "1", "0"])."""
    if is_inf(point):
        return ["0", "1", "0"]
    x, y = normalize(point)
    return [str(int(x)), str(int(y)), "1"]


def g2_to_json(point: G2Point) -> list[list[str]]:
    """A G2 point in snarkjs's form ([[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]])."""
    if is_inf(point):
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    x, y = normalize(point)
    return [[str(int(c)) for c in x.coeffs], [str(int(c)) for c in y.coeffs], ["1", "0"]]


def _curve_name_ok(name: Any) -> bool:
    """snarkjs's getCurveFromName: case-insensitive, punctuation ignored."""
    return isinstance(name, str) and re.sub(r"[^A-Z0-9]", "", name.upper()) in {"BN128", "BN254", "ALTBN128"}


def parse_verification_key(doc: Any) -> VerificationKey:
    """snarkjs's verification_key.json → VerificationKey (raises MalformedError).

    The key's own `vk_alphabeta_12` is ignored (as snarkjs does): e(α, β) is
    recomputed from α and β, so a wrong value there cannot matter."""
    if not isinstance(doc, dict):
        raise MalformedError("verification key: expected a JSON object")
    if doc.get("protocol") != "groth16" or not _curve_name_ok(doc.get("curve")):
        raise MalformedError("verification key: not a Groth16 key on BN254")
    ic_doc = doc.get("IC")
    if not isinstance(ic_doc, list) or not ic_doc:
        raise MalformedError("verification key: IC must be a non-empty list")
    if doc.get("nPublic") != len(ic_doc) - 1 or isinstance(doc.get("nPublic"), bool):
        raise MalformedError("verification key: nPublic must equal len(IC) − 1")
    alpha = parse_g1(doc.get("vk_alpha_1"), "vk_alpha_1")
    beta, gamma, delta = (parse_g2(doc.get(name), name) for name in ("vk_beta_2", "vk_gamma_2", "vk_delta_2"))
    if is_inf(alpha) or any(is_inf(p) for p in (beta, gamma, delta)):
        raise MalformedError("verification key: α, β, γ, δ must not be the point at infinity")
    ic = tuple(parse_g1(p, f"IC[{i}]") for i, p in enumerate(ic_doc))
    return VerificationKey(alpha, beta, gamma, delta, ic, miller_loop([(alpha, beta)]))


def _proof_points(doc: Any, subgroup: bool) -> tuple[G1Point, G2Point, G1Point]:
    if not isinstance(doc, dict):
        raise MalformedError("proof: expected a JSON object")
    if "protocol" in doc and doc["protocol"] != "groth16":
        raise MalformedError("proof: not a Groth16 proof")
    if "curve" in doc and not _curve_name_ok(doc["curve"]):
        raise MalformedError("proof: not on BN254")
    return (
        parse_g1(doc.get("pi_a"), "pi_a"),
        parse_g2(doc.get("pi_b"), "pi_b", subgroup),
        parse_g1(doc.get("pi_c"), "pi_c"),
    )


def parse_proof(doc: Any) -> Proof:
    """snarkjs's proof.json → Proof (raises MalformedError). `protocol`/`curve`,
    when present, must name Groth16 on BN254."""
    return Proof(*_proof_points(doc, subgroup=True))


def parse_public(doc: Any) -> tuple[int, ...]:
    """snarkjs's public.json → the signals as ints, each a canonical decimal < r.

    A signal ≥ r would be reduced mod r by the multi-scalar multiplication and so
    verify as another statement; it is rejected (snarkjs and the Solidity
    verifier reject it too)."""
    if not isinstance(doc, list):
        raise MalformedError("public signals: expected a JSON list")
    return tuple(canonical_integer(v, R_ORDER, f"public signal {i}") for i, v in enumerate(doc))


# ---------------------------------------------------------------------------
# Bundle files. verify.py runs these on every batch before any backend sees the files:
# snarkjs alone would also take other spellings of a proof (see "Parsing" above), and the
# verdict must not depend on which backend, or whether Node, is there.


def load_proof_document(path: Path | str) -> dict:
    """A batch's proof.json, checked to be exactly in the encoding snarkjs writes: strict JSON
    (io.parse_json, no BOM), canonical decimal coordinates below q, affine z = 1 or the one
    infinity form, points on their curves. Returns the document; raises InputError naming
    the file and the field.

    The G2 subgroup check of B (≈ 40 ms a proof) is left to the backends: it is not a question
    of encoding, and all three make it (tests/malformed_proofs.py)."""
    doc = read_json(path, "proof", allow_bom=False)
    try:
        _proof_points(doc, subgroup=False)
    except MalformedError as exc:
        raise InputError([Problem(str(path), str(exc))]) from None
    return doc


def load_public_signals(path: Path | str) -> tuple[int, ...]:
    """A batch's public.json as ints, each a canonical decimal string below r (parse_public);
    raises InputError naming the file and the signal."""
    doc = read_json(path, "public signals", allow_bom=False)
    try:
        return parse_public(doc)
    except MalformedError as exc:
        raise InputError([Problem(str(path), str(exc))]) from None


def _as_key(vk: VerificationKey | dict) -> VerificationKey:
    return vk if isinstance(vk, VerificationKey) else parse_verification_key(vk)


def _as_proof(proof: Proof | dict) -> Proof:
    return proof if isinstance(proof, Proof) else parse_proof(proof)


def _as_public(public: Sequence, vk: VerificationKey) -> tuple[int, ...]:
    if isinstance(public, tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < R_ORDER for v in public
    ):
        values = public
    else:
        values = parse_public(public)
    if len(values) != vk.n_public:
        raise MalformedError(f"expected {vk.n_public} public signals, got {len(values)}")
    return values


# ---------------------------------------------------------------------------
# F_q2 on plain ints (u² = −1), for the Miller loop's G2 arithmetic.

_Q = Q_MODULUS
Fq2 = tuple[int, int]


def _f2_mul(x: Fq2, y: Fq2) -> Fq2:
    return (x[0] * y[0] - x[1] * y[1]) % _Q, (x[0] * y[1] + x[1] * y[0]) % _Q


def _f2_sqr(x: Fq2) -> Fq2:
    return (x[0] + x[1]) * (x[0] - x[1]) % _Q, 2 * x[0] * x[1] % _Q


def _f2_inv(x: Fq2) -> Fq2:
    t = pow(x[0] * x[0] + x[1] * x[1], -1, _Q)
    return x[0] * t % _Q, -x[1] * t % _Q


def _f2_pow(x: Fq2, e: int) -> Fq2:
    result = (1, 0)
    while e:
        if e & 1:
            result = _f2_mul(result, x)
        x = _f2_sqr(x)
        e >>= 1
    return result


# Frobenius on the twist: py_ecc's twist sends (x, y) to (x·w², y·w³) in F_q12,
# and w⁶ = ξ = 9 + u, so (x·w²)^q = x̄·w²·ξ^((q−1)/3) and (y·w³)^q = ȳ·w³·ξ^((q−1)/2).
_FROB_X = _f2_pow((9, 1), (_Q - 1) // 3)
_FROB_Y = _f2_pow((9, 1), (_Q - 1) // 2)


def _frobenius(point: tuple[Fq2, Fq2]) -> tuple[Fq2, Fq2]:
    (x0, x1), (y0, y1) = point
    return _f2_mul((x0, -x1 % _Q), _FROB_X), _f2_mul((y0, -y1 % _Q), _FROB_Y)


# ---------------------------------------------------------------------------
# Miller loop. A line through two points of the twisted curve, evaluated at
# P = (xp, yp) ∈ G1, is yp − λ·xp·w + (λ·x_R − y_R)·w³ with λ ∈ F_q2 the slope on
# the twist (the slope on the curve over F_q12 is λ·w). An F_q2 element c0 + c1·u
# sits in py_ecc's F_q12 = F_q[w]/(w¹² − 18w⁶ + 82) as (c0 − 9c1) + c1·w⁶, so a
# line has only five non-zero coefficients: 0, 1, 7, 3, 9.

SparseLine = tuple[tuple[int, int], ...]


class DegenerateMillerLoop(ArithmeticError):
    """A vertical line inside the loop: impossible for G2 points of prime order r."""


def _line_step(r: tuple[Fq2, Fq2], s: tuple[Fq2, Fq2], xp: int, yp: int) -> tuple[SparseLine, tuple[Fq2, Fq2]]:
    """The line through R and S (the tangent if R = S) at P, and R + S (affine)."""
    (xr, yr), (xs, ys) = r, s
    if xr == xs:
        if yr != ys or yr == (0, 0):
            raise DegenerateMillerLoop("vertical line")
        lam = _f2_mul(_f2_mul((3, 0), _f2_sqr(xr)), _f2_inv(((2 * yr[0]) % _Q, (2 * yr[1]) % _Q)))
    else:
        lam = _f2_mul(
            ((ys[0] - yr[0]) % _Q, (ys[1] - yr[1]) % _Q), _f2_inv(((xs[0] - xr[0]) % _Q, (xs[1] - xr[1]) % _Q))
        )
    lam2 = _f2_sqr(lam)
    x3 = ((lam2[0] - xr[0] - xs[0]) % _Q, (lam2[1] - xr[1] - xs[1]) % _Q)
    t = _f2_mul(lam, ((xr[0] - x3[0]) % _Q, (xr[1] - x3[1]) % _Q))
    y3 = ((t[0] - yr[0]) % _Q, (t[1] - yr[1]) % _Q)
    c1 = (-lam[0] * xp % _Q, -lam[1] * xp % _Q)
    lx = _f2_mul(lam, xr)
    c3 = ((lx[0] - yr[0]) % _Q, (lx[1] - yr[1]) % _Q)
    line = ((0, yp), (1, c1[0] - 9 * c1[1]), (7, c1[1]), (3, c3[0] - 9 * c3[1]), (9, c3[1]))
    return line, (x3, y3)


def _mul_by_line(f: FQ12, line: SparseLine) -> FQ12:
    """f · line in F_q12 (w¹² = 18w⁶ − 82), exploiting the line's five non-zero coefficients."""
    acc = [0] * 21
    # py_ecc types coefficients as int | FQ; an FQ12 built from ints (as every one here is) holds ints.
    for i, fi in enumerate(cast(tuple[int, ...], f.coeffs)):
        if fi:
            for j, lj in line:
                acc[i + j] += fi * lj
    for d in range(20, 11, -1):
        top = acc[d]
        if top:
            acc[d - 6] += 18 * top
            acc[d - 12] -= 82 * top
    return FQ12(acc[:12])


def _affine_g1(point: G1Point) -> tuple[int, int] | None:
    if is_inf(point):
        return None
    x, y = normalize(point)
    return int(x), int(y)


def _affine_g2(point: G2Point) -> tuple[Fq2, Fq2] | None:
    if is_inf(point):
        return None
    x, y = normalize(point)
    return (int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1]))


def miller_loop(pairs: Sequence[tuple[G1Point, G2Point]]) -> FQ12:
    """Π Miller-loop values of the optimal ate pairing e(P, Q) over `pairs`, sharing
    one accumulator (so one squaring per bit for all pairs) and with no final
    exponentiation. Same loop and lines as py_ecc's `pairing(Q, P,
    final_exponentiate=False)` (equal up to sign, which the final exponentiation
    removes). G2 points must be in the order-r subgroup; pairs with a point at
    infinity contribute 1."""
    points = []
    for p, q in pairs:
        pa, qa = _affine_g1(p), _affine_g2(q)
        if pa is not None and qa is not None:
            points.append((pa, qa, (qa[0], (-qa[1][0] % _Q, -qa[1][1] % _Q))))
    f = FQ12.one()
    if not points:
        return f
    rs = [qa for _, qa, _ in points]
    for digit in pseudo_binary_encoding[63::-1]:
        f = f * f
        for k, ((xp, yp), _, _) in enumerate(points):
            line, rs[k] = _line_step(rs[k], rs[k], xp, yp)
            f = _mul_by_line(f, line)
        if digit:
            for k, ((xp, yp), qa, nqa) in enumerate(points):
                line, rs[k] = _line_step(rs[k], qa if digit == 1 else nqa, xp, yp)
                f = _mul_by_line(f, line)
    for k, ((xp, yp), qa, _) in enumerate(points):
        q1 = _frobenius(qa)
        x2, y2 = _frobenius(q1)
        line, r = _line_step(rs[k], q1, xp, yp)
        f = _mul_by_line(f, line)
        line, _ = _line_step(r, (x2, (-y2[0] % _Q, -y2[1] % _Q)), xp, yp)
        f = _mul_by_line(f, line)
    return f


# (q¹² − 1)/r = (q⁶ − 1)·(q⁶ + 1)/r. f^(q⁶) is f with w → −w (w² lies in F_q6 and
# w does not), so the first factor costs one inversion and the exponentiation is
# by a 1270-bit number instead of py_ecc's 2790-bit one.
_HARD_EXPONENT, _remainder = divmod(Q_MODULUS**6 + 1, R_ORDER)
assert _remainder == 0


def final_exponentiation(f: FQ12) -> FQ12:
    """f^((q¹² − 1)/r): maps a Miller-loop value to the pairing value in G_T."""
    conjugate = FQ12([-c if i % 2 else c for i, c in enumerate(f.coeffs)])
    return (conjugate / f) ** _HARD_EXPONENT


def _is_one(f: FQ12) -> bool:
    return final_exponentiation(f) == FQ12.one()


# ---------------------------------------------------------------------------
# Verification.

_REJECT = (MalformedError, DegenerateMillerLoop, ValueError, TypeError, KeyError, IndexError, ZeroDivisionError)


def public_input_point(vk: VerificationKey, public: Sequence[int]) -> G1Point:
    """vk_x = IC_0 + Σ s_i·IC_i."""
    acc = vk.ic[0]
    for s, ic in zip(public, vk.ic[1:]):
        acc = add(acc, multiply(ic, s))
    return acc


def verify_proof(vk: VerificationKey | dict, proof: Proof | dict, public: Sequence) -> bool:
    """One proof: e(−A, B)·e(α, β)·e(vk_x, γ)·e(C, δ) = 1, with one final exponentiation.

    Accepts parsed objects or snarkjs JSON documents; anything malformed gives
    False, never an exception."""
    try:
        vk = _as_key(vk)
        proof = _as_proof(proof)
        values = _as_public(public, vk)
        f = miller_loop([(neg(proof.a), proof.b), (public_input_point(vk, values), vk.gamma), (proof.c, vk.delta)])
        return _is_one(f * vk.alpha_beta_miller)
    except _REJECT:
        return False


def _random_scalar(rng: RandomBits) -> int:
    while True:
        r = rng.randbits(128)
        if r:
            return r


def verify_batch(
    vk: VerificationKey | dict, items: Sequence[tuple[Proof | dict, Sequence]], rng: RandomBits = secrets
) -> bool:
    """All proofs at once: True iff (with probability ≥ 1 − 2⁻¹²⁸) every proof verifies.

    Each equation j says E_j = e(−A_j, B_j)·e(α, β)·e(X_j, γ)·e(C_j, δ) = 1 in G_T
    (X_j = vk_x of proof j). With fresh random 128-bit r_j, check Π_j E_j^{r_j} = 1:

        Π_j e(−r_j·A_j, B_j) · e(α, β)^{Σ r_j} · e(Σ_j r_j·X_j, γ) · e(Σ_j r_j·C_j, δ) = 1,

    where Σ_j r_j·X_j = (Σ r_j)·IC_0 + Σ_i (Σ_j r_j·s_{j,i})·IC_i (n + 1 scalar
    multiplications for the whole set), proofs sharing a B are merged into one
    pairing, e(α, β)^{Σ r_j} is the key's precomputed Miller value raised to
    Σ r_j, and the whole product gets one final exponentiation. If some E_j ≠ 1
    it has prime order r, so for fixed other r's at most one residue of r_j mod r
    makes the product 1: probability ≤ 2⁻¹²⁸ (B_j in the order-r subgroup and
    A_j, C_j on G1 are checked first, which the argument needs). Malformed
    items make the batch False."""
    try:
        vk = _as_key(vk)
        parsed = [(_as_proof(p), _as_public(s, vk)) for p, s in items]
        if not parsed:
            return True
        weights = [_random_scalar(rng) for _ in parsed]
        ic_scalars = [sum(weights) % R_ORDER] + [0] * vk.n_public
        c_sum = Z1
        by_b: dict[tuple[int, ...] | None, list] = {}  # None: b at infinity
        for weight, (proof, values) in zip(weights, parsed):
            for i, s in enumerate(values, start=1):
                ic_scalars[i] = (ic_scalars[i] + weight * s) % R_ORDER
            c_sum = add(c_sum, multiply(proof.c, weight))
            key = tuple(int(c) for coord in normalize(proof.b) for c in coord.coeffs) if not is_inf(proof.b) else None
            slot = by_b.setdefault(key, [proof.b, Z1])
            slot[1] = add(slot[1], multiply(proof.a, weight))
        x_sum = Z1
        for scalar, ic in zip(ic_scalars, vk.ic):
            x_sum = add(x_sum, multiply(ic, scalar))
        pairs = [(neg(a_sum), b_point) for b_point, a_sum in by_b.values()]
        f = miller_loop([*pairs, (x_sum, vk.gamma), (c_sum, vk.delta)])
        return _is_one(f * vk.alpha_beta_miller ** ic_scalars[0])
    except _REJECT:
        return False


def _parse_item(item: Any, vk: VerificationKey) -> tuple[Proof, tuple[int, ...]] | None:
    try:
        proof, public = item
        return _as_proof(proof), _as_public(public, vk)
    except _REJECT:
        return None


def _verify_chunk(vk: VerificationKey, items: Sequence) -> list[bool]:
    """Parse (the costly G2 subgroup checks happen here, in the worker), batch-verify
    the well-formed items, and only if the batch fails check them one by one."""
    parsed = [_parse_item(item, vk) for item in items]
    good = [p for p in parsed if p is not None]
    if good and verify_batch(vk, good):
        return [p is not None for p in parsed]
    return [p is not None and verify_proof(vk, *p) for p in parsed]


def verify_many(
    vk: VerificationKey | dict,
    items: Sequence[tuple[Any, Any]],
    workers: int | None = None,
    on_verdict: Callable[[int, bool], None] | None = None,
) -> list[bool]:
    """One verdict per (proof, public) item, in order. Items may be parsed objects or
    raw JSON documents (parsing then happens in the workers); a malformed item is
    False. The items are split into contiguous chunks, each batch-verified in a
    worker process (`workers` defaults to os.cpu_count(); 1 = this process).
    `on_verdict(index, ok)` hears each verdict as its chunk finishes (progress)."""

    def told(start: int, chunk: list[bool]) -> list[bool]:
        if on_verdict is not None:
            for offset, ok in enumerate(chunk):
                on_verdict(start + offset, ok)
        return chunk

    items = list(items)
    try:
        vk = _as_key(vk)
    except _REJECT:
        return told(0, [False] * len(items))
    if not items:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(items) // MIN_CHUNK))
    if workers == 1 or multiprocessing.current_process().daemon:  # a pool worker may not start processes
        return told(0, _verify_chunk(vk, items))
    # Each chunk costs one final exponentiation (≈ 0.1 s, as much as 2–3 proofs), so
    # small sets get one chunk per worker; large ones two, so that a worker slowed
    # by other load holds up less of the run.
    n_chunks = workers if len(items) < 32 * workers else 2 * workers
    bounds = [len(items) * k // n_chunks for k in range(n_chunks + 1)]
    chunks = [items[lo:hi] for lo, hi in zip(bounds, bounds[1:])]
    results: list[list[bool]] = []
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            # In order, each told as soon as it and the chunks before it are done.
            for lo, chunk in zip(bounds, pool.map(_verify_chunk, [vk] * len(chunks), chunks)):
                results.append(told(lo, chunk))
    except (OSError, NotImplementedError, ImportError, BrokenProcessPool):
        # No process support here (some sandboxes lack POSIX semaphores) or a worker died: the rest here.
        for lo, rest in list(zip(bounds, chunks))[len(results) :]:
            results.append(told(lo, _verify_chunk(vk, rest)))
    return [verdict for chunk in results for verdict in chunk]


def _read_json(path: Path) -> Any:
    try:
        return parse_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def python_backend(folder: Path, manifest: dict, on_batch: Callable[[int, bool], None] | None = None) -> list[bool]:
    """The pure-Python proof backend for verify.py: one verdict per batch index (each told to
    `on_batch` as its chunk of batches is verified).
    An unreadable or malformed key makes every batch False; an unreadable or
    malformed proof/public file makes that batch False."""
    folder = Path(folder)
    n = int(manifest["n_batches"])
    try:
        vk = parse_verification_key(_read_json(folder / "verification_key.json"))
    except _REJECT:
        if on_batch is not None:
            for i in range(n):
                on_batch(i, False)
        return [False] * n
    items = [
        (
            _read_json(folder / f"batches/{i:06d}" / "proof.json"),
            _read_json(folder / f"batches/{i:06d}" / "public.json"),
        )
        for i in range(n)
    ]
    return verify_many(vk, items, on_verdict=on_batch)


# ---------------------------------------------------------------------------
# The Solidity verifier, without Node: compare its constants with the key.

_CONSTANT = re.compile(r"\buint256\s+constant\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9]+)\s*;")
_PUBLIC_ARRAY = re.compile(r"uint\[(\d+)\]\s+calldata\s+_pubSignals")
_KEY_CONSTANT = re.compile(r"IC\d+[xy]|(?:alpha|beta|gamma|delta)\w*|[rq]")


def contract_constants(vkey: dict) -> dict[str, str]:
    """The constants snarkjs's verifier_groth16.sol.ejs writes for `vkey`
    (betax1 = vk_beta_2[0][1], betax2 = vk_beta_2[0][0]: the EVM's (c1, c0) order)."""
    constants = {
        "r": str(R_ORDER),
        "q": str(Q_MODULUS),
        "alphax": vkey["vk_alpha_1"][0],
        "alphay": vkey["vk_alpha_1"][1],
    }
    for name, key in (("beta", "vk_beta_2"), ("gamma", "vk_gamma_2"), ("delta", "vk_delta_2")):
        point = vkey[key]
        constants.update(
            {f"{name}x1": point[0][1], f"{name}x2": point[0][0], f"{name}y1": point[1][1], f"{name}y2": point[1][0]}
        )
    for i, point in enumerate(vkey["IC"]):
        constants[f"IC{i}x"], constants[f"IC{i}y"] = point[0], point[1]
    return {name: str(value) for name, value in constants.items()}


def verifier_contract_matches(sol_source: str, vkey: dict) -> bool:
    """True iff the Solidity source defines exactly snarkjs's constants for this key
    (each once, same values, no extra IC<i>) and takes len(IC) − 1 public signals.

    Only the constants are compared, not the contract's code: this is the check
    used when Node is not there to render snarkjs's template byte for byte."""
    try:
        expected = contract_constants(vkey)
        found: dict[str, str] = {}
        for name, value in _CONSTANT.findall(sol_source):
            if name in found:
                return False
            found[name] = value
        if {name for name in found if _KEY_CONSTANT.fullmatch(name)} != set(expected):
            return False
        if any(int(found[n]) != int(expected[n]) or found[n] != str(int(found[n])) for n in expected):
            return False
        sizes = _PUBLIC_ARRAY.findall(sol_source)
        return sizes == [str(len(vkey["IC"]) - 1)]
    except (KeyError, TypeError, IndexError, ValueError):
        return False
