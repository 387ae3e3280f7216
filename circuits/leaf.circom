pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// AccountLeaf(n): the Merkle leaf of one account (PROTOCOL.md §4).
//
//   e_j  = u_{3j} + 2^64 u_{3j+1} + 2^128 u_{3j+2}     (missing slots omitted)
//   leaf = Poseidon(key, e_0, ..., e_{ceil(n/3)-1})
//
// Precondition, enforced by the caller (SignedAmount): every u_i < 2^64. Then
// e_j < 2^192 < r and the packing is injective, so the leaf opens to exactly
// one amount vector: without the range check a holder's inclusion proof could
// be matched by a different (u'_0, u'_1, u'_2) with the same e_j mod r.
//
// The packing is a linear combination, so it costs no constraint; the only
// cost is Poseidon(1 + ceil(n/3)).
template AccountLeaf(n) {
    assert(n >= 1);
    assert(n <= 45);      // Poseidon takes at most 16 inputs: 1 + 15
    var E = (n + 2) \ 3;

    signal input key;
    signal input u[n];
    signal output leaf;

    component h = Poseidon(1 + E);
    h.inputs[0] <== key;
    for (var j = 0; j < E; j++) {
        var e = 0;
        for (var t = 0; t < 3; t++) {
            if (3 * j + t < n) {
                e += u[3 * j + t] * (1 << (64 * t));
            }
        }
        h.inputs[1 + j] <== e;
    }
    leaf <== h.out;
}
