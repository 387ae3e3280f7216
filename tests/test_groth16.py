"""zksolv.groth16: the pure-Python Groth16 verifier.

Node-free tests use a synthetic Groth16 instance made with a known trapdoor
(any statement can be "proved" when α, β, γ, δ and the IC scalars are known),
and check the arithmetic against py_ecc's own pairing. Tests on the real
bundle need Node to build it, and compare every malformed case with snarkjs.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from py_ecc.optimized_bn128 import (
    FQ12,
    G1,
    G2,
    add,
    b2,
    curve_order,
    field_modulus,
    final_exponentiate,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    pairing,
)

from zksolv import groth16
from zksolv.groth16 import (
    MalformedError,
    g1_to_json,
    g2_to_json,
    parse_g2,
    parse_proof,
    parse_verification_key,
    python_backend,
    verifier_contract_matches,
    verify_batch,
    verify_many,
    verify_proof,
)

from .helpers import NODE_MODULES
from .malformed_proofs import malformed_cases, noncanonical_encodings, twist_point_outside_subgroup

R = curve_order


# ---------------------------------------------------------------------------
# A synthetic instance: key and proofs from a known trapdoor (no Node).


def synthetic_instance(seed: int, n_proofs: int, n_public: int = 3) -> tuple[dict, list[tuple[dict, list[str]]]]:
    """e(A, B) = e(α, β)·e(vk_x, γ)·e(C, δ) in the exponent: a·b = αβ + xγ + cδ, solved for c."""
    rng = random.Random(seed)
    alpha, beta, gamma, delta = (rng.randrange(1, R) for _ in range(4))
    ic = [rng.randrange(1, R) for _ in range(n_public + 1)]
    vkey = {
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": n_public,
        "vk_alpha_1": g1_to_json(multiply(G1, alpha)),
        "vk_beta_2": g2_to_json(multiply(G2, beta)),
        "vk_gamma_2": g2_to_json(multiply(G2, gamma)),
        "vk_delta_2": g2_to_json(multiply(G2, delta)),
        "IC": [g1_to_json(multiply(G1, c)) for c in ic],
    }
    items = []
    for _ in range(n_proofs):
        signals = [rng.randrange(R) for _ in range(n_public)]
        x = (ic[0] + sum(s * c for s, c in zip(signals, ic[1:]))) % R
        a, b = rng.randrange(1, R), rng.randrange(1, R)
        c = (a * b - alpha * beta - x * gamma) * pow(delta, -1, R) % R
        proof = {
            "pi_a": g1_to_json(multiply(G1, a)),
            "pi_b": g2_to_json(multiply(G2, b)),
            "pi_c": g1_to_json(multiply(G1, c)),
            "protocol": "groth16",
            "curve": "bn128",
        }
        items.append((proof, [str(s) for s in signals]))
    return vkey, items


@pytest.fixture(scope="module")
def synthetic():
    vkey, items = synthetic_instance(7, 6)
    return {"vkey": vkey, "vk": parse_verification_key(vkey), "items": items}


def verify_cases(cases: list) -> list[bool]:
    """verify_proof on each (name, vkey, proof, public), parsing each distinct key once."""
    keys: dict[str, object] = {}

    def key(vkey: dict):
        text = json.dumps(vkey, sort_keys=True)
        if text not in keys:
            try:
                keys[text] = parse_verification_key(vkey)
            except MalformedError:
                keys[text] = vkey  # verify_proof rejects it again
        return keys[text]

    return [verify_proof(key(vkey), proof, public) for _, vkey, proof, public in cases]


def reference_verify(vkey: dict, proof: dict, public: list[str]) -> bool:
    """The same equation with py_ecc's own Miller loop and final exponentiation
    (slow: an independent check of zksolv.groth16's pairing code)."""
    vk, pf = parse_verification_key(vkey), parse_proof(proof)
    vk_x = vk.ic[0]
    for s, ic in zip(public, vk.ic[1:]):
        vk_x = add(vk_x, multiply(ic, int(s)))
    f = FQ12.one()
    for p, q in ((neg(pf.a), pf.b), (vk.alpha, vk.beta), (vk_x, vk.gamma), (pf.c, vk.delta)):
        f = f * pairing(q, p, final_exponentiate=False)
    return final_exponentiate(f) == FQ12.one()


# ---------------------------------------------------------------------------
# The arithmetic, against py_ecc.


def test_miller_loop_and_final_exponentiation_match_py_ecc():
    rng = random.Random(1)
    p, q = multiply(G1, rng.randrange(1, R)), multiply(G2, rng.randrange(1, R))
    ours = groth16.miller_loop([(p, q)])
    theirs = pairing(q, p, final_exponentiate=False)
    assert ours in (theirs, -theirs)  # same lines; py_ecc's have the opposite sign
    assert groth16.final_exponentiation(ours) == final_exponentiate(theirs)


def test_final_exponentiation_of_any_element_matches_py_ecc():
    rng = random.Random(2)
    f = FQ12([rng.randrange(field_modulus) for _ in range(12)])
    assert groth16.final_exponentiation(f) == final_exponentiate(f)


def test_shared_miller_loop_is_the_product_and_bilinear():
    rng = random.Random(3)
    k = rng.randrange(1, R)
    p, q = multiply(G1, rng.randrange(1, R)), multiply(G2, rng.randrange(1, R))
    p2, q2 = multiply(G1, rng.randrange(1, R)), multiply(G2, rng.randrange(1, R))
    assert groth16.miller_loop([(p, q), (p2, q2)]) == groth16.miller_loop([(p, q)]) * groth16.miller_loop([(p2, q2)])
    fe = groth16.final_exponentiation
    assert fe(groth16.miller_loop([(multiply(p, k), q)])) == fe(groth16.miller_loop([(p, multiply(q, k))]))
    assert fe(groth16.miller_loop([(neg(p), q), (p, q)])) == FQ12.one()
    assert groth16.miller_loop([(multiply(G1, 0), q)]) == FQ12.one()  # infinity contributes 1


def test_twist_point_outside_the_subgroup_is_rejected():
    x, y = twist_point_outside_subgroup()
    point = (x, y, x.one())
    assert is_on_curve(point, b2) and not is_inf(multiply(point, R))
    assert not groth16.in_g2_subgroup(point)
    assert groth16.in_g2_subgroup(multiply(G2, 12345))
    doc = [[str(int(c)) for c in x.coeffs], [str(int(c)) for c in y.coeffs], ["1", "0"]]
    with pytest.raises(MalformedError, match="subgroup"):
        parse_g2(doc)


# ---------------------------------------------------------------------------
# Verification on the synthetic instance (no Node).


def test_synthetic_proofs_verify_every_way(synthetic):
    vk, items = synthetic["vk"], synthetic["items"]
    assert all(verify_proof(vk, proof, public) for proof, public in items)
    assert verify_proof(synthetic["vkey"], *items[0])  # raw key document
    assert reference_verify(synthetic["vkey"], *items[0])
    assert verify_batch(vk, items)
    assert verify_many(vk, items, workers=1) == [True] * len(items)
    assert verify_many(vk, items * 2, workers=2) == [True] * (2 * len(items))


def test_synthetic_malformed_cases_are_rejected(synthetic):
    (proof, public), other = synthetic["items"][0], synthetic["items"][1]
    cases = malformed_cases(synthetic["vkey"], proof, public, other)
    assert len(cases) >= 12
    cases += noncanonical_encodings(synthetic["vkey"], proof, public)
    assert [name for (name, *_), ok in zip(cases, verify_cases(cases)) if ok] == []


def test_one_bad_proof_among_good_ones_is_pinpointed(synthetic):
    vk, items = synthetic["vk"], synthetic["items"]
    swapped = (items[1][0], items[0][1])  # a valid proof with another proof's signals
    mixed = [*items[:3], swapped, *items[3:], ({"pi_a": "garbage"}, items[0][1])]
    assert not verify_batch(vk, mixed)
    assert not verify_batch(vk, [items[0], swapped])
    expected = [True, True, True, False, True, True, True, False]
    assert verify_many(vk, mixed, workers=1) == expected
    assert verify_many(vk, mixed * 2, workers=2) == expected * 2


def test_batch_randomness_is_what_catches_cancelling_errors(synthetic):
    """Two wrong proofs whose errors cancel in a plain product: C_0 + δ-shift and C_1 − δ-shift."""
    vk, items = synthetic["vk"], synthetic["items"]
    (p0, s0), (p1, s1) = items[0], items[1]
    c0, c1 = parse_proof(p0).c, parse_proof(p1).c
    shifted0 = dict(p0, pi_c=g1_to_json(add(c0, G1)))
    shifted1 = dict(p1, pi_c=g1_to_json(add(c1, neg(G1))))
    pair = [(shifted0, s0), (shifted1, s1)]

    class AllOnes:
        @staticmethod
        def randbits(k):
            return 1

    assert verify_batch(vk, pair, rng=AllOnes)  # without random weights the errors cancel…
    assert not verify_batch(vk, pair)  # …with them they do not
    assert verify_many(vk, pair, workers=1) == [False, False]


def test_garbage_never_raises(synthetic):
    vk, (proof, public) = synthetic["vk"], synthetic["items"][0]
    for bad_proof in (
        None,
        {},
        [],
        "x",
        {"pi_a": None, "pi_b": 1, "pi_c": {}},
        dict(proof, pi_b=[[1, 2], [3, 4], [1, 0]]),
    ):
        assert verify_proof(vk, bad_proof, public) is False
    for bad_public in (None, "123", [1, 2, 3], [None] * 3, ["1", "2", "3", "4"], ["٣", "1", "2"], ["9" * 5000] * 3):
        assert verify_proof(vk, proof, bad_public) is False
    for bad_key in (
        None,
        {},
        dict(synthetic["vkey"], nPublic=4),
        dict(synthetic["vkey"], protocol="plonk"),
        dict(synthetic["vkey"], IC=[]),
        dict(synthetic["vkey"], vk_alpha_1=["0", "1", "0"]),
    ):
        assert verify_proof(bad_key, proof, public) is False
        assert verify_many(bad_key, [(proof, public)]) == [False]
    assert verify_batch(vk, [(proof, public), (None, None)]) is False
    assert verify_many(vk, [None, (proof,), (proof, public)], workers=1) == [False, False, True]


def test_python_backend_reads_a_bundle_folder(synthetic, tmp_path):
    vkey, items = synthetic["vkey"], synthetic["items"]
    (tmp_path / "verification_key.json").write_text(json.dumps(vkey))
    for i, (proof, public) in enumerate(items[:4]):
        folder = tmp_path / f"batches/{i:06d}"
        folder.mkdir(parents=True)
        (folder / "proof.json").write_text(json.dumps(proof))
        (folder / "public.json").write_text(json.dumps(public))
    manifest = {"n_batches": 4}
    assert python_backend(tmp_path, manifest) == [True] * 4
    (tmp_path / "batches/000001/proof.json").write_text("{not json")
    (tmp_path / "batches/000002/public.json").unlink()
    assert python_backend(tmp_path, manifest) == [True, False, False, True]
    assert python_backend(tmp_path, {"n_batches": 5}) == [True, False, False, True, False]
    (tmp_path / "verification_key.json").write_text("[]")
    assert python_backend(tmp_path, manifest) == [False] * 4


# ---------------------------------------------------------------------------
# The real bundle (needs Node to build it), and snarkjs as the second opinion.


def _bundle_docs(folder: Path) -> tuple[dict, list[tuple[dict, list[str]]]]:
    vkey = json.loads((folder / "verification_key.json").read_text())
    items = [
        (
            json.loads((folder / f"batches/{i:06d}/proof.json").read_text()),
            json.loads((folder / f"batches/{i:06d}/public.json").read_text()),
        )
        for i in range(2)
    ]
    return vkey, items


def snarkjs_verify(vkey: dict, proof: dict, public: list, folder: Path) -> bool:
    """`snarkjs groth16 verify` on temp files; any non-OK exit (it throws on some
    malformed inputs) counts as a rejection."""
    folder.mkdir(parents=True)
    for name, doc in (("vkey", vkey), ("proof", proof), ("public", public)):
        (folder / f"{name}.json").write_text(json.dumps(doc))
    proc = subprocess.run(
        [
            "node",
            str(NODE_MODULES / "snarkjs" / "build" / "cli.cjs"),
            "groth16",
            "verify",
            str(folder / "vkey.json"),
            str(folder / "public.json"),
            str(folder / "proof.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode == 0 and "OK" in proc.stdout


@pytest.mark.node
def test_bundle_verifies_with_every_entry_point(bundle):
    folder = bundle["bundle"]
    vkey, items = _bundle_docs(folder)
    vk = parse_verification_key(vkey)
    assert [verify_proof(vk, proof, public) for proof, public in items] == [True, True]
    assert reference_verify(vkey, *items[0])
    assert verify_batch(vk, items)
    assert verify_many(vk, items, workers=2) == [True, True]
    assert verify_many(vk, items * 4, workers=2) == [True] * 8
    manifest = json.loads((folder / "manifest.json").read_text())
    assert python_backend(folder, manifest) == [True, True]


@pytest.mark.node
def test_malformed_cases_rejected_by_python_and_snarkjs(bundle, tmp_path):
    vkey, ((proof, public), other) = _bundle_docs(bundle["bundle"])
    cases = malformed_cases(vkey, proof, public, other)
    assert len(cases) >= 12
    assert len({name for name, *_ in cases}) == len(cases)
    cases = [("valid (control)", vkey, proof, public), *cases]
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.map(lambda k: snarkjs_verify(*cases[k][1:], tmp_path / str(k)), range(len(cases)))
        python = verify_cases(cases)
        snarkjs = list(pending)
    verdicts = {name: (py, js) for (name, *_), py, js in zip(cases, python, snarkjs)}
    assert verdicts.pop("valid (control)") == (True, True)
    assert {name: v for name, v in verdicts.items() if v != (False, False)} == {}


@pytest.mark.node
def test_noncanonical_encodings_snarkjs_accepts_and_python_rejects(bundle, tmp_path):
    """A known, deliberate difference: other spellings of a valid proof."""
    vkey, ((proof, public), _) = _bundle_docs(bundle["bundle"])
    cases = noncanonical_encodings(vkey, proof, public)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.map(lambda k: snarkjs_verify(*cases[k][1:], tmp_path / str(k)), range(len(cases)))
        python = verify_cases(cases)
        snarkjs = list(pending)
    verdicts = {name: (py, js) for (name, *_), py, js in zip(cases, python, snarkjs)}
    assert {name: v for name, v in verdicts.items() if v != (False, True)} == {}


@pytest.mark.node
def test_bundle_batch_with_one_bad_proof(bundle):
    vkey, items = _bundle_docs(bundle["bundle"])
    vk = parse_verification_key(vkey)
    bad = (items[1][0], items[0][1])  # batch 1's proof, batch 0's public signals
    mixed = [items[0], items[1], bad, items[0], items[1]]
    assert verify_batch(vk, [items[0], items[1], items[0]])
    assert not verify_batch(vk, mixed)
    assert verify_many(vk, mixed, workers=1) == [True, True, False, True, True]
    assert verify_many(vk, mixed * 2, workers=2) == [True, True, False, True, True] * 2


@pytest.mark.node
def test_python_backend_needs_no_node(bundle, tmp_path):
    """With no `node` on PATH and subprocess disabled, the Python backend still verifies."""
    script = """
import json, shutil, subprocess, sys
from pathlib import Path

def forbidden(*args, **kwargs):
    raise RuntimeError("subprocess used")

subprocess.Popen = subprocess.run = forbidden
assert shutil.which("node") is None
from zksolv.groth16 import python_backend, verify_many
folder = Path(sys.argv[1])
manifest = json.loads((folder / "manifest.json").read_text())
verdicts = python_backend(folder, manifest)
vkey = json.loads((folder / "verification_key.json").read_text())
items = [(json.loads((folder / f"batches/{i:06d}/proof.json").read_text()),
          json.loads((folder / f"batches/{i:06d}/public.json").read_text())) for i in range(2)]
verdicts += verify_many(vkey, items * 4, workers=2)
assert not any(m in sys.modules for m in ("zksolv.snarkjs", "zksolv.circuit", "zksolv.verify"))
print(json.dumps(verdicts))
"""
    env = {"PATH": str(Path(sys.executable).parent), "ZKSOLV_NODE_MODULES": str(tmp_path / "no-node-modules")}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(bundle["bundle"])],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [True] * 10


@pytest.mark.node
def test_verifier_contract_constants(bundle):
    folder = bundle["bundle"]
    sol = (folder / "Verifier.sol").read_text()
    vkey = json.loads((folder / "verification_key.json").read_text())
    assert verifier_contract_matches(sol, vkey)
    deltax1 = vkey["vk_delta_2"][0][1]
    assert f"deltax1 = {deltax1};" in sol
    changed = str(int(deltax1) + 1)
    assert not verifier_contract_matches(sol.replace(f"deltax1 = {deltax1};", f"deltax1 = {changed};"), vkey)
    # The EVM's (c1, c0) order, not snarkjs JSON's (c0, c1).
    betax1, betax2 = vkey["vk_beta_2"][0][1], vkey["vk_beta_2"][0][0]
    swapped = sol.replace(f"betax1  = {betax1};", "betax1  = TMP;").replace(
        f"betax2  = {betax2};", f"betax2  = {betax1};"
    )
    assert not verifier_contract_matches(swapped.replace("betax1  = TMP;", f"betax1  = {betax2};"), vkey)
    ic3 = f"uint256 constant IC3x = {vkey['IC'][3][0]};"
    assert ic3 in sol
    assert not verifier_contract_matches(sol.replace(ic3, ""), vkey)
    assert not verifier_contract_matches(sol + f"\n{ic3}\n", vkey)  # defined twice
    other = dict(vkey, vk_delta_2=vkey["vk_gamma_2"])
    assert not verifier_contract_matches(sol, other)
    assert not verifier_contract_matches("", vkey)
