pragma circom 2.1.0;

include "./hashchain.circom";

// Accumulator(T): acc = HashChain(params_hash, totals[0..T-1], blinding)
// (PROTOCOL.md §5).
//
// params_hash is inside every accumulator, so the chain that starts at the
// public acc_0 = acc(published params hash, 0…0, 0) can only continue through
// batches proved with the published prices and weights: a batch proved with
// other params would need acc_in to open to another params hash, i.e. a
// Poseidon collision. That is what lets params_hash stay out of the public
// signals (3 instead of 4: ≈ 6.6k gas less per on-chain verification).
//
// A hiding commitment to the running totals. The blinding (secret, per batch)
// stops a verifier from confirming guessed totals by hashing them; collision
// resistance of Poseidon binds the prover to one totals vector per
// accumulator value, which is what chains the batches together.
// Cost: HashChain(T + 2).
template Accumulator(T) {
    signal input params_hash;
    signal input totals[T];
    signal input blinding;
    signal output acc;

    component h = HashChain(T + 2);
    h.in[0] <== params_hash;
    for (var i = 0; i < T; i++) {
        h.in[1 + i] <== totals[i];
    }
    h.in[T + 1] <== blinding;
    acc <== h.out;
}
