pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "./hashchain.circom";

// Shape(K, M, B, TIERS, S) = K + 2^16 M + 2^32 B + 2^64 sum_m (TIERS[m] - 1) 32^m
//                          + 2^240 S:
// the circuit's shape as one field element (PROTOCOL.md §5), bracket counts
// (each below 32, M <= 14 so they end below 2^134) and scenario count (below
// 2^12) included. A compile-time constant of each circuit; a flat circuit
// without scenarios has the shape K + 2^16 M + 2^32 B.
function Shape(K, M, B, TIERS, S) {
    var tiers = 0;
    for (var m = M - 1; m >= 0; m--) {
        tiers = 32 * tiers + TIERS[m] - 1;
    }
    var scenarios = S;
    for (var bit = 0; bit < 240; bit++) {
        scenarios = 2 * scenarios;
    }
    return K + 65536 * M + 4294967296 * B + 18446744073709551616 * tiers + scenarios;
}

// Accumulator(T, shape): a hiding commitment to the running totals, bound to
// the params and to the circuit's shape (PROTOCOL.md §5):
//
//   totals_commitment = HashChain8(shape, totals[0..T-1], blinding)
//   acc               = Poseidon(params_hash, totals_commitment)
//
// params_hash is inside every accumulator, so the chain that starts at the
// public acc_0 = Poseidon(published params hash, Z), Z = HashChain8(shape,
// 0…0, 0), can only continue through batches proved with the published prices
// and weights: a batch proved with other params would need acc_in to open to
// another params hash, i.e. a Poseidon collision. That is what lets
// params_hash stay out of the public signals.
//
// shape is a constant of the circuit, not an input: it stops presenting
// proofs of one shape as another. A venue that proves with SolvencyBatch(K, M,
// B) and publishes batch size 2B (so that a holder's path runs through an
// account no batch proved) fails at acc_0, which the verifier derives from the
// published shape: the proofs' chain starts from HashChain8(Shape(K, M, B, TIERS), …).
//
// The two-level form makes acc_0 a single Poseidon(2) of the registered params
// hash and a per-shape constant Z, and HashChain8 uses only 8-input Poseidon
// calls: the on-chain registry computes Z, acc_0 and the final opening itself.
//
// The blinding (secret, per batch) stops a verifier from confirming guessed
// totals by hashing them; collision resistance of Poseidon binds the prover
// to one totals vector per accumulator value, which is what chains the
// batches together.
// Cost: HashChain8(T + 2) + Poseidon(2).
template Accumulator(T, shape) {
    signal input params_hash;
    signal input totals[T];
    signal input blinding;
    signal output acc;

    component commitment = HashChain8(T + 2);
    commitment.in[0] <== shape;
    for (var i = 0; i < T; i++) {
        commitment.in[1 + i] <== totals[i];
    }
    commitment.in[T + 1] <== blinding;

    component h = Poseidon(2);
    h.inputs[0] <== params_hash;
    h.inputs[1] <== commitment.out;
    acc <== h.out;
}
