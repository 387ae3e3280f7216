pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// SubtreeRoot(B): root of the binary Poseidon tree over B leaves, B a power of
// two (PROTOCOL.md §4: node = Poseidon(left, right), leaf i left of leaf i+1).
//
// Nodes are laid out breadth-first in node[0 .. 2B-2]: node[0..B-1] are the
// leaves, node[B+i] = Poseidon(node[2i], node[2i+1]), and the root is
// node[2B-2]. For B = 1 the root is the leaf itself.
//
// The tree shape is fixed at compile time: every leaf sits at depth log2(B)
// of the batch subtree, and the prover cannot choose a different shape.
// Cost: (B - 1) Poseidon(2).
template SubtreeRoot(B) {
    assert(B >= 1);
    var p = 1;
    while (p < B) {
        p = p * 2;
    }
    assert(p == B);        // power of two

    signal input leaves[B];
    signal output root;

    signal node[2 * B - 1];
    component h[B - 1];
    for (var i = 0; i < B; i++) {
        node[i] <== leaves[i];
    }
    for (var i = 0; i < B - 1; i++) {
        h[i] = Poseidon(2);
        h[i].inputs[0] <== node[2 * i];
        h[i].inputs[1] <== node[2 * i + 1];
        node[B + i] <== h[i].out;
    }
    root <== node[2 * B - 2];
}
