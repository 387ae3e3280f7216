"""Poseidon must equal circomlib's: checked against circomlibjs run in Node."""

import random

import pytest

from zksolv.field import FIELD_MODULUS
from zksolv.poseidon import hash_chain, poseidon, poseidon_reference

from .helpers import run_node_json


def _vectors() -> list[list[int]]:
    rng = random.Random(20261124)
    vectors = []
    for n in range(1, 17):
        vectors.append([rng.randrange(FIELD_MODULUS) for _ in range(n)])  # random field elements
        vectors.append([FIELD_MODULUS - 1 - rng.randrange(4) for _ in range(n)])  # near r
        vectors.append([rng.randrange(1 << 64) for _ in range(n)])  # small (amount-like)
    vectors.append([0])
    vectors.append([0] * 16)
    return vectors


@pytest.mark.node
def test_matches_circomlibjs_on_vectors():
    vectors = _vectors()
    assert len(vectors) >= 40
    expected = [int(x) for x in run_node_json("poseidon.js", [[str(v) for v in vec] for vec in vectors])]
    for vec, want in zip(vectors, expected):
        assert poseidon(vec) == want, f"fast path differs for {len(vec)} inputs"
        assert poseidon_reference(vec) == want, f"reference differs for {len(vec)} inputs"


def test_rejects_out_of_field_and_bad_arity():
    with pytest.raises(ValueError):
        poseidon([FIELD_MODULUS])
    with pytest.raises(ValueError):
        poseidon([])
    with pytest.raises(ValueError):
        poseidon([1] * 17)


def test_hash_chain_structure():
    values = list(range(1, 35))
    expected = poseidon(values[:16])
    expected = poseidon([expected, *values[16:31]])
    expected = poseidon([expected, *values[31:]])
    assert hash_chain(values) == expected
    assert hash_chain([5, 6]) == poseidon([5, 6])
