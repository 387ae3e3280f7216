pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// LEAF_TAG = int.from_bytes(b"zksolv.leaf.v2", "big") (PROTOCOL.md §4).
function LEAF_TAG() {
    return 2482967110513621148861527241946674;
}

// AccountLeaf(n): the Merkle leaf of one account (PROTOCOL.md §4).
//
//   e_j  = u_{3j} + 2^64 u_{3j+1} + 2^128 u_{3j+2}     (missing slots omitted)
//   leaf = Poseidon(LEAF_TAG, key, e_0, ..., e_{ceil(n/3)-1})
//
// Domain separation: the constant LEAF_TAG as first input makes a leaf
// preimage differ from every inner-node preimage Poseidon(left, right), whose
// first input is a hash output (a node equal to LEAF_TAG would be a Poseidon
// preimage of a chosen value). So no leaf can be read as an inner node or
// back, whatever the shape: this is what stops the depth-confusion attack
// (SECURITY.md, issue 9 §1) in which a holder is handed a path one level
// deeper, through a dummy account whose key is the holder's leaf. The
// verifier's depth check from the published capacity stays as a second line.
//
// Precondition, enforced by the caller (SignedAmount): every u_i < 2^64. Then
// e_j < 2^192 < r and the packing is injective, so the leaf opens to exactly
// one amount vector: without the range check a holder's inclusion proof could
// be matched by a different (u'_0, u'_1, u'_2) with the same e_j mod r.
//
// The packing is a linear combination, so it costs no constraint; the only
// cost is Poseidon(2 + ceil(n/3)).
template AccountLeaf(n) {
    assert(n >= 1);
    assert(n <= 42);      // Poseidon takes at most 16 inputs: 2 + 14
    var E = (n + 2) \ 3;

    signal input key;
    signal input u[n];
    signal output leaf;

    component h = Poseidon(2 + E);
    h.inputs[0] <== LEAF_TAG();
    h.inputs[1] <== key;
    for (var j = 0; j < E; j++) {
        var e = 0;
        for (var t = 0; t < 3; t++) {
            if (3 * j + t < n) {
                e += u[3 * j + t] * (1 << (64 * t));
            }
        }
        h.inputs[2 + j] <== e;
    }
    leaf <== h.out;
}
