pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// HashChain(m): out = HashChain(in[0..m-1]) exactly as PROTOCOL.md §5.
//
//   m <= 16:  out = Poseidon(in[0..m-1])
//   m  > 16:  h = Poseidon(in[0..15]); then for each following chunk c of at
//             most 15 elements, h = Poseidon(h, c...); out = h.
//
// Proves nothing about its inputs beyond the hash relation: callers that pack
// several small values into one input must range-check them first.
// Cost: the sum of the Poseidon widths used (no extra constraints; the
// chaining is signal-to-signal wiring).
template HashChain(m) {
    assert(m >= 1);   // compile-time: an empty chain is not defined by §5

    signal input in[m];
    signal output out;

    if (m <= 16) {
        component h = Poseidon(m);
        for (var i = 0; i < m; i++) {
            h.inputs[i] <== in[i];
        }
        out <== h.out;
    } else {
        var nChunks = (m - 16 + 14) \ 15;     // ceil((m - 16) / 15)
        component first = Poseidon(16);
        for (var i = 0; i < 16; i++) {
            first.inputs[i] <== in[i];
        }
        component next[nChunks];
        signal link[nChunks + 1];
        link[0] <== first.out;
        for (var c = 0; c < nChunks; c++) {
            var start = 16 + 15 * c;
            var size = m - start;
            if (size > 15) {
                size = 15;
            }
            next[c] = Poseidon(size + 1);
            // The running hash comes first: the chunk boundary is fixed by m
            // (a compile-time constant), so the chain is unambiguous.
            next[c].inputs[0] <== link[c];
            for (var i = 0; i < size; i++) {
                next[c].inputs[i + 1] <== in[start + i];
            }
            link[c + 1] <== next[c].out;
        }
        out <== link[nChunks];
    }
}
