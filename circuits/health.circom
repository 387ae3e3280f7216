pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

// ceil(log2(n)) for n >= 1. Compile-time only.
function ceilLog2(n) {
    var bits = 0;
    var p = 1;
    while (p < n) {
        p = p * 2;
        bits++;
    }
    return bits;
}

// HealthCoefficients(K, M): the per-batch constants of the health formula.
//
//   PL[k] = P_k * lw_k           PD[k] = P_k * (aw_k - lw_k)
//   QM[m] = Q_m * mmr_m          X[m]  = Q_m * (10000 + mmr_m) = 10000 Q_m + QM[m]
//
// so that, for one account (PROTOCOL.md §3),
//   asset term  b P (b >= 0 ? aw : lw) = b PL + max(b, 0) PD
//   market term s Q 10000 - |s| Q mmr  = s X - 2 max(s, 0) QM      (|s| = 2 max(s,0) - s)
//
// Proves only these products; the inputs must already be range-checked
// (Params). Computed once per batch instead of once per account.
// Cost: 2K + M.
template HealthCoefficients(K, M) {
    signal input price[K];
    signal input asset_weight[K];
    signal input liability_weight[K];
    signal input mark_price[M];
    signal input mmr[M];
    signal output PL[K];
    signal output PD[K];
    signal output X[M];
    signal output QM[M];

    signal PA[K];
    for (var k = 0; k < K; k++) {
        PA[k] <== price[k] * asset_weight[k];
        PL[k] <== price[k] * liability_weight[k];
        PD[k] <== PA[k] - PL[k];
    }
    for (var m = 0; m < M; m++) {
        QM[m] <== mark_price[m] * mmr[m];
        X[m] <== 10000 * mark_price[m] + QM[m];
    }
}

// MaintenanceHealth(K, M): one account is at or above maintenance margin.
//
// Computes (PROTOCOL.md §3)
//   health = sum_k b_k P_k (b_k >= 0 ? aw_k : lw_k)
//          + sum_m (s_m Q_m 10000 - |s_m| Q_m mmr_m)
// from value[i] (the signed amount, slot order of §1), positive_part[i]
// (= max(value[i], 0)) and the HealthCoefficients, and proves
//   health in [0, 2^(144 + ceil(log2(K+M)))).
//
// Preconditions, enforced by the caller: value/positive_part come from
// SignedAmount (|x| < 2^63, positive_part = max(x, 0)); prices < 2^64,
// aw <= 10000 <= lw < 2^16, mmr <= 10000 (Params).
//
// Why the range check is sound: each term is an integer with
//   |b P w| < 2^63 * 2^64 * 2^16 = 2^143,  |s Q 10000| + |s| Q mmr < 2^63 2^64 2^15 = 2^142,
// so the integer health satisfies |health| < n 2^143 < 2^(144 + ceil(log2 n)) <= 2^150
// (n <= 45), and the field computation never wraps (2^150 << r). An insolvent
// account (health = -d, d >= 1) is the field element r - d >= r - 2^150,
// which is >= 2^(144 + ceil(log2 n)): it has no decomposition into that many
// bits (2^L < r makes the decomposition unique), so it is rejected.
//
// Cost: 2(K+M) products + (144 + ceil(log2(K+M))) bits. health itself is a
// linear combination and costs nothing after --O2.
template MaintenanceHealth(K, M) {
    var n = K + M;
    assert(n >= 1);
    assert(n <= 45);
    var L = 144 + ceilLog2(n);

    signal input value[n];
    signal input positive_part[n];
    signal input PL[K];
    signal input PD[K];
    signal input X[M];
    signal input QM[M];

    signal linear[n];     // value * (PL or X)
    signal kink[n];       // positive_part * (PD or QM)
    var health = 0;
    for (var k = 0; k < K; k++) {
        linear[k] <== value[k] * PL[k];
        kink[k] <== positive_part[k] * PD[k];
        health += linear[k] + kink[k];
    }
    for (var m = 0; m < M; m++) {
        linear[K + m] <== value[K + m] * X[m];
        kink[K + m] <== positive_part[K + m] * QM[m];
        health += linear[K + m] - 2 * kink[K + m];
    }

    // health >= 0 (and < 2^L). Stops an insolvent account: its health is
    // r - d with d <= 2^150, which has no L-bit decomposition (see above).
    component nonNegative = Num2Bits(L);
    nonNegative.in <== health;
    _ <== nonNegative.out;   // only the existence of the decomposition matters
}
