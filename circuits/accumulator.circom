pragma circom 2.1.0;

include "./hashchain.circom";

// Accumulator(T): acc(totals, blinding) = HashChain(totals[0..T-1], blinding)
// (PROTOCOL.md §5).
//
// A hiding commitment to the running totals. The blinding (secret, per batch)
// stops a verifier from confirming guessed totals by hashing them; collision
// resistance of Poseidon binds the prover to one totals vector per
// accumulator value, which is what chains the batches together.
// Cost: HashChain(T + 1).
template Accumulator(T) {
    signal input totals[T];
    signal input blinding;
    signal output acc;

    component h = HashChain(T + 1);
    for (var i = 0; i < T; i++) {
        h.in[i] <== totals[i];
    }
    h.in[T] <== blinding;
    acc <== h.out;
}
