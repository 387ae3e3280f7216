"""Malformed Groth16 inputs in snarkjs's JSON formats, shared by every verifier backend's tests.

`malformed_cases(vkey, proof, public)` turns one valid (key, proof, public) triple
into named triples that every verifier must reject: the Python verifier
(zksolv.groth16), `snarkjs groth16 verify` and the Solidity verifier on an EVM.
Cases whose key differs from the input key have "key" in their name.

`noncanonical_encodings(...)` are other spellings of the *valid* proof that
snarkjs 0.7.6 accepts (it reads hex, reduces coordinates ≥ q, takes Jacobian
z ≠ 1 and 2- or 4-element G1 arrays) but that zksolv.groth16 rejects, because
snarkjs never writes them. They are kept apart: the backends disagree on them
by design.

Only py_ecc is used (no Node), so the module imports anywhere.
"""

from __future__ import annotations

import copy

from py_ecc.optimized_bn128 import FQ, FQ2, G1, G2, add, b2, curve_order, field_modulus, is_inf, multiply, normalize

Q = field_modulus
R = curve_order

Case = tuple[str, dict, dict, list]


def _sqrt_fq(v: int) -> int | None:
    """Square root in F_q (q ≡ 3 mod 4), or None."""
    root = pow(v, (Q + 1) // 4, Q)
    return root if root * root % Q == v % Q else None


def _sqrt_fq2(a: FQ2) -> FQ2 | None:
    """Square root in F_q2 = F_q[u]/(u² + 1), or None: with n = √(a0² + a1²),
    x0² = (a0 ± n)/2 and x1 = a1/(2·x0)."""
    a0, a1 = (int(c) for c in a.coeffs)
    n = _sqrt_fq((a0 * a0 + a1 * a1) % Q)
    if n is None:
        return None
    half = pow(2, -1, Q)
    for delta in ((a0 + n) * half % Q, (a0 - n) * half % Q):
        x0 = _sqrt_fq(delta)
        if x0:  # None: not a square; 0: only when a1 = 0, which x³ + b2 never is here
            root = FQ2([x0, a1 * pow(2 * x0, -1, Q) % Q])
            if root * root == a:
                return root
    return None


def twist_point_outside_subgroup() -> tuple[FQ2, FQ2]:
    """The first point (x, y), x = 1, 2, …, on the twist y² = x³ + 3/(9 + u) whose
    order is not r: on the curve, so only a subgroup check tells it apart."""
    for x0 in range(1, 1000):
        x = FQ2([x0, 0])
        y = _sqrt_fq2(x**3 + b2)
        if y is not None:
            point = (x, y, FQ2.one())
            if not is_inf(multiply(point, R)):
                return x, y
    raise AssertionError("no point found")


def g1_json(point) -> list[str]:
    if is_inf(point):
        return ["0", "1", "0"]
    x, y = normalize(point)
    return [str(int(x)), str(int(y)), "1"]


def g2_json(point) -> list[list[str]]:
    if is_inf(point):
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    x, y = normalize(point)
    return [[str(int(c)) for c in x.coeffs], [str(int(c)) for c in y.coeffs], ["1", "0"]]


def _swap_c0_c1(g2: list) -> list:
    return [[g2[0][1], g2[0][0]], [g2[1][1], g2[1][0]], g2[2]]


def malformed_cases(
    vkey: dict, proof: dict, public: list[str], other: tuple[dict, list[str]] | None = None
) -> list[Case]:
    """Named (vkey, proof, public) triples that must all be rejected.

    `other` = (proof, public) of another batch under the same key adds the
    "proof of one batch with the public signals of another" cases."""
    cases: list[Case] = []

    def add_case(name: str, vk: dict | None = None, pf: dict | None = None, pub: list | None = None) -> None:
        chosen = (vk if vk is not None else vkey, pf if pf is not None else proof, pub if pub is not None else public)
        cases.append((name, *copy.deepcopy(chosen)))

    def with_proof(**fields) -> dict:
        pf = copy.deepcopy(proof)
        pf.update(fields)
        return pf

    ax, ay = int(proof["pi_a"][0]), int(proof["pi_a"][1])

    # Points that are on their curves but the wrong ones.
    add_case("A negated (−A)", pf=with_proof(pi_a=[str(ax), str(Q - ay), "1"]))
    add_case("A and C swapped", pf=with_proof(pi_a=proof["pi_c"], pi_c=proof["pi_a"]))
    add_case("B coordinates in EVM order (c0 ↔ c1 swapped)", pf=with_proof(pi_b=_swap_c0_c1(proof["pi_b"])))
    add_case("A is the point at infinity", pf=with_proof(pi_a=["0", "1", "0"]))
    add_case("C is the generator of G1", pf=with_proof(pi_c=g1_json(G1)))
    bx, by = twist_point_outside_subgroup()
    add_case(
        "B on the twist but outside the order-r subgroup",
        pf=with_proof(pi_b=[[str(int(c)) for c in bx.coeffs], [str(int(c)) for c in by.coeffs], ["1", "0"]]),
    )

    # Points off their curves, non-affine, unparsable, missing.
    add_case("A off the curve (y + 1)", pf=with_proof(pi_a=[str(ax), str((ay + 1) % Q), "1"]))
    c = proof["pi_c"]
    add_case("C off the curve (x + 1)", pf=with_proof(pi_c=[str((int(c[0]) + 1) % Q), c[1], "1"]))
    bad_b = copy.deepcopy(proof["pi_b"])
    bad_b[1][0] = str((int(bad_b[1][0]) + 1) % Q)
    add_case("B off the twist (y.c0 + 1)", pf=with_proof(pi_b=bad_b))
    add_case("A with z = 2 (homogeneous scaling)", pf=with_proof(pi_a=[str(2 * ax % Q), str(2 * ay % Q), "2"]))
    add_case("A.x not a number", pf=with_proof(pi_a=["abc", proof["pi_a"][1], "1"]))
    add_case("A.x negative", pf=with_proof(pi_a=["-" + proof["pi_a"][0], proof["pi_a"][1], "1"]))
    pf = copy.deepcopy(proof)
    del pf["pi_c"]
    add_case("pi_c missing", pf=pf)
    truncated_b = copy.deepcopy(proof["pi_b"])
    truncated_b[1] = truncated_b[1][:1]
    add_case("B.y truncated to one coefficient", pf=with_proof(pi_b=truncated_b))

    # Public signals.
    s0 = int(public[0])
    add_case("public signal 0 + r (non-canonical, same value mod r)", pub=[str(s0 + R), *public[1:]])
    add_case("public signal 0 + 1", pub=[str((s0 + 1) % R), *public[1:]])
    add_case("public signals 1 and 2 swapped", pub=[public[0], public[2], public[1], *public[3:]])
    add_case("public signals truncated (last one missing)", pub=public[:-1])
    add_case("public signals empty", pub=[])
    add_case("an extra public signal", pub=[*public, "0"])

    # Other keys (well-formed ones, so a Solidity verifier can be rendered for them).
    vk = copy.deepcopy(vkey)
    vk["vk_gamma_2"], vk["vk_delta_2"] = vkey["vk_delta_2"], vkey["vk_gamma_2"]
    add_case("wrong key: γ and δ swapped", vk=vk)
    vk = copy.deepcopy(vkey)
    ic1 = vkey["IC"][1]
    vk["IC"][1] = g1_json(add((FQ(int(ic1[0])), FQ(int(ic1[1])), FQ(1)), G1))
    add_case("wrong key: IC[1] + G1", vk=vk)
    vk = copy.deepcopy(vkey)
    vk["vk_delta_2"] = g2_json(G2)
    add_case("key without phase-2 contribution: δ = G2 generator", vk=vk)

    if other is not None:
        other_proof, other_public = other
        add_case("proof of another batch with this batch's public signals", pf=other_proof)
        add_case("this proof with another batch's public signals", pub=other_public)
    return cases


def noncanonical_encodings(vkey: dict, proof: dict, public: list[str]) -> list[Case]:
    """Other spellings of the valid proof: snarkjs 0.7.6 accepts them, zksolv.groth16 rejects them."""
    ax, ay = int(proof["pi_a"][0]), int(proof["pi_a"][1])
    cases: list[Case] = []

    def add_case(name: str, pf: dict | None = None, pub: list | None = None) -> None:
        cases.append((name, copy.deepcopy(vkey), copy.deepcopy(pf or proof), copy.deepcopy(pub or public)))

    def with_a(a: list) -> dict:
        pf = copy.deepcopy(proof)
        pf["pi_a"] = a
        return pf

    add_case("A in Jacobian coordinates, z = 2", with_a([str(4 * ax % Q), str(8 * ay % Q), "2"]))
    add_case("A.x + q", with_a([str(ax + Q), str(ay), "1"]))
    pf = copy.deepcopy(proof)
    pf["pi_b"][0][0] = str(int(pf["pi_b"][0][0]) + Q)
    add_case("B.x.c0 + q", pf)
    add_case("A without z ([x, y])", with_a([str(ax), str(ay)]))
    add_case("A with a fourth coordinate", with_a([str(ax), str(ay), "1", "1"]))
    add_case("A.x in hex", with_a([hex(ax), str(ay), "1"]))
    add_case("A.x with a leading zero", with_a(["0" + str(ax), str(ay), "1"]))
    pf = copy.deepcopy(proof)
    pf["pi_b"] = pf["pi_b"][:2]
    add_case("B without z", pf)
    add_case("public signal 0 in hex", pub=[hex(int(public[0])), *public[1:]])
    return cases
