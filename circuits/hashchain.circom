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

// HashChain8(m): the fixed-width chain of PROTOCOL.md §5 used for the totals
// commitment.
//
//   pad in[0..m-1] with zeros to m' = 8 + 7k (the least such m' >= m);
//   h = Poseidon(x_1..x_8); then h = Poseidon(h, next 7) per chunk.
//
// Every Poseidon call has exactly 8 inputs, the widest one circomlibjs
// generates as EVM bytecode: the on-chain registry recomputes this hash to
// open the final accumulator itself. The padding length is a compile-time
// function of m, so the encoding is injective for each circuit shape.
// Cost: (1 + k) Poseidon(8).
template HashChain8(m) {
    assert(m >= 1);
    var k = 0;
    if (m > 8) {
        k = (m - 8 + 6) \ 7;
    }
    var padded = 8 + 7 * k;

    signal input in[m];
    signal output out;

    component h[1 + k];
    h[0] = Poseidon(8);
    for (var i = 0; i < 8; i++) {
        if (i < m) {
            h[0].inputs[i] <== in[i];
        } else {
            h[0].inputs[i] <== 0;
        }
    }
    for (var c = 0; c < k; c++) {
        h[c + 1] = Poseidon(8);
        // The running hash first, as in HashChain: chunk boundaries are fixed by m.
        h[c + 1].inputs[0] <== h[c].out;
        for (var i = 0; i < 7; i++) {
            var j = 8 + 7 * c + i;
            if (j < m) {
                h[c + 1].inputs[1 + i] <== in[j];
            } else {
                h[c + 1].inputs[1 + i] <== 0;
            }
        }
    }
    out <== h[k].out;
}
