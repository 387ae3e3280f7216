pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "./range.circom";
include "./hashchain.circom";
include "./brackets.circom";

// PARAMS_TAG = int.from_bytes(b"zksolv.params.v1", "big") (PROTOCOL.md §5).
function PARAMS_TAG() {
    return 162723732554620675685292575094482040369;
}

// Params(K, M, TIERS, S): the risk parameters of one epoch.
//
// Proves, for the private parameters:
//   price[k] < 2^64, mark_price[m] < 2^64,
//   0 <= asset_weight[k] <= 10000 <= liability_weight[k] < 2^16,
//   0 <= mmr[m] <= 10000,
//   for the E = sum_m (TIERS[m] - 1) extra maintenance brackets (markets in
//   order, brackets 1..T_m - 1 of each; bracket 0 is floor 0 and rate mmr[m]):
//   bracket_floor[e] < 2^127, 0 <= bracket_rate[e] <= 10000,
//   with S > 0 scenarios (PROTOCOL.md §3.3): option_kind[m] in {0, 1} and
//   every scenario price scenario_price[s][i] < 2^64 (slot order of §1),
// and outputs
//   params_hash = HashChain(PARAMS_TAG, params_meta, epoch,
//                           asset_0..asset_{K-1}, market_0..market_{M-1},
//                           bracket_0..bracket_{E-1},
//                           scenario_0..scenario_{ceil(S n / 3) - 1})
//   asset_k    = price_k + 2^64 * aw_k + 2^80 * lw_k
//   market_m   = mark_m  + 2^64 * mmr_m (+ 2^78 * option_kind_m when S > 0)
//   bracket_e  = floor_e + 2^127 * rate_e
//   scenario_j = p_{3j} + 2^64 p_{3j+1} + 2^128 p_{3j+2}   (the scenario
//                prices flattened scenario by scenario, missing ones omitted)
// (PROTOCOL.md §5). The order of floors and rates is proved by
// BracketSchedule. The caller equates params_hash with the public input the
// verifier recomputes from params.json, so every parameter used elsewhere in
// the circuit is the published one.
//
// epoch and params_meta are hashed as whole field elements (no packing), so
// the hash alone pins them to the verifier's values; they need no range check.
//
// Cost: 64 (K + M) + 2*14 (K + M) + 2*16 K + (127 + 2*14) E + S (64 (K + M))
// + M bit constraints + the HashChain.
template Params(K, M, TIERS, S) {
    var E = extraBracketOffset(M, TIERS);
    var n = K + M;
    var SP = (S * n + 2) \ 3;    // packed scenario elements
    signal input price[K];
    signal input asset_weight[K];
    signal input liability_weight[K];
    signal input mark_price[M];
    signal input mmr[M];
    signal input bracket_floor[E];
    signal input bracket_rate[E];
    signal input option_kind[S > 0 ? M : 0];
    signal input scenario_price[S][n];
    signal input epoch;
    signal input params_meta;
    signal output params_hash;

    component priceBits[K];
    component awRange[K];
    component lwRange[K];
    component markBits[M];
    component mmrRange[M];
    component floorBits[E];
    component rateRange[E];

    component scenarioBits[S][n];
    component hash = HashChain(3 + K + M + E + SP);
    hash.in[0] <== PARAMS_TAG();
    hash.in[1] <== params_meta;
    hash.in[2] <== epoch;

    for (var k = 0; k < K; k++) {
        // price < 2^64. Stops a second opening of the packed asset_k: without
        // it, any (aw', lw') could be paired with price' = asset_k - 2^64 aw'
        // - 2^80 lw' (mod r), so the hash would no longer pin the weights; it
        // also bounds |b * P * lw| < 2^143 for the health range check.
        priceBits[k] = Num2Bits(64);
        priceBits[k].in <== price[k];
        _ <== priceBits[k].out;   // only the existence of the decomposition matters
        // 0 <= aw <= 10000. Stops an asset weight above 100 % (collateral
        // counted for more than its value) and, being < 2^16, a second
        // opening of asset_k in which aw' carries into the lw field or is a
        // "negative" field element r - y.
        awRange[k] = InRange(0, 10000);
        awRange[k].in <== asset_weight[k];
        // 10000 <= lw < 2^16. Stops a liability weight below 100 % (debt
        // counted for less than its value, e.g. lw = 9999); the upper bound
        // makes P + 2^64 aw + 2^80 lw < 2^96 < r, so (P, aw, lw) is the only
        // opening of asset_k, and bounds |b * P * lw| < 2^143.
        lwRange[k] = InRange(10000, 65535);
        lwRange[k].in <== liability_weight[k];

        hash.in[3 + k] <== price[k] + (1 << 64) * asset_weight[k] + (1 << 80) * liability_weight[k];
    }
    for (var m = 0; m < M; m++) {
        // mark < 2^64: same reasons as price (unique opening of market_m,
        // health bound).
        markBits[m] = Num2Bits(64);
        markBits[m].in <== mark_price[m];
        _ <== markBits[m].out;
        // 0 <= mmr <= 10000. Stops a "negative" maintenance margin r - y
        // (which would add margin instead of requiring it) and any second
        // opening of market_m: with Q < 2^64 and mmr < 2^14 the packing is
        // < 2^78 < r, hence injective.
        mmrRange[m] = InRange(0, 10000);
        mmrRange[m].in <== mmr[m];

        if (S > 0) {
            // option_kind in {0, 1}: with mmr < 2^14 the packing is < 2^79 <
            // r, so the kind (which markets only portfolio accounts may hold,
            // PortfolioOnly) is pinned by the hash like the rate.
            option_kind[m] * (option_kind[m] - 1) === 0;
            hash.in[3 + K + m] <== mark_price[m] + (1 << 64) * mmr[m] + (1 << 78) * option_kind[m];
        } else {
            hash.in[3 + K + m] <== mark_price[m] + (1 << 64) * mmr[m];
        }
    }
    for (var e = 0; e < E; e++) {
        // floor < 2^127: the bound BracketMargin's comparisons rely on (both
        // sides of each difference below 2^127), and with rate < 2^14 the
        // packing is < 2^141 < r, so (floor, rate) is its only opening.
        floorBits[e] = Num2Bits(NOTIONAL_BITS());
        floorBits[e].in <== bracket_floor[e];
        _ <== floorBits[e].out;
        // 0 <= rate <= 10000, as for mmr: no "negative" rate r - y, no
        // requirement above the position's notional.
        rateRange[e] = InRange(0, 10000);
        rateRange[e].in <== bracket_rate[e];

        hash.in[3 + K + M + e] <== bracket_floor[e] + (1 << NOTIONAL_BITS()) * bracket_rate[e];
    }
    var packed[SP];
    for (var j = 0; j < SP; j++) {
        packed[j] = 0;
    }
    for (var s = 0; s < S; s++) {
        for (var i = 0; i < n; i++) {
            // Every scenario price < 2^64: the bound the scenario health and
            // equity signs rely on (as for the published prices), and what
            // makes the 3-per-element packing injective (< 2^192 < r), so
            // the hash pins every scenario price the verifier recomputed.
            scenarioBits[s][i] = Num2Bits(64);
            scenarioBits[s][i].in <== scenario_price[s][i];
            _ <== scenarioBits[s][i].out;
            var flat = s * n + i;
            packed[flat \ 3] += scenario_price[s][i] * (1 << (64 * (flat % 3)));
        }
    }
    for (var j = 0; j < SP; j++) {
        hash.in[3 + K + M + E + j] <== packed[j];
    }
    params_hash <== hash.out;
}
