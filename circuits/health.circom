pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "./sign.circom";
include "./brackets.circom";

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

// MaintenanceHealth(K, M, TIERS): one account's maintenance health and its sign.
//
// Computes (PROTOCOL.md §3)
//   health = sum_k b_k P_k (b_k >= 0 ? aw_k : lw_k)
//          + sum_m (s_m Q_m 10000 - margin_m(|s_m| Q_m))
// where margin_m(N) = N mmr_m for a flat market (TIERS[m] = 1) and the
// bracket rule of BracketMargin(TIERS[m]) otherwise, from value[i] (the signed
// amount, slot order of §1), positive_part[i] (= max(value[i], 0)), the
// HealthCoefficients and, for tiered markets, their BracketSchedule (extra
// brackets flattened in market order: bracket_floor/rate/ded[e], brackets 1..
// T_m - 1; bracket 0 is floor 0, rate mmr[m], deduction 0). Outputs
//   nonneg    = 1 iff health >= 0 (the account is at or above maintenance)
//   shortfall = max(-health, 0)   (what it lacks to get back to maintenance)
// both determined by SignSplit(L), L = 144 + ceil(log2(K+M)).
//
// Preconditions, enforced by the caller: value/positive_part come from
// SignedAmount (|x| <= 2^63, positive_part = max(x, 0)); prices < 2^64,
// aw <= 10000 <= lw < 2^16, mmr <= 10000 (Params); bracket tables checked by
// BracketSchedule.
//
// Why the sign is sound: each term is an integer with
//   |b P w| < 2^63 * 2^64 * 2^16 = 2^143,  |s Q 10000| + |s| Q mmr < 2^63 2^64 2^15 = 2^142,
// and for a tiered market 0 <= margin(N) <= N * rate < 2^127 * 2^14 (the
// deductions are >= 0 and the selected floor is <= N), so again < 2^142;
// the integer health satisfies |health| < n 2^143 <= 2^(143 + ceil(log2 n)) < 2^L <= 2^150
// (n <= 45), and the field computation never wraps (2^151 << r). SignSplit's
// precondition |x| < 2^L holds, so nonneg and shortfall are the true ones: a
// venue cannot declare an account in liquidation solvent (hiding its
// shortfall) nor a solvent one in liquidation.
//
// Cost: 2(K+M) products + (145 + ceil(log2(K+M))) bits + 1, plus
// BracketMargin(T_m) per tiered market. health itself is a linear
// combination and costs nothing after --O2.
template MaintenanceHealth(K, M, TIERS) {
    var n = K + M;
    assert(n >= 1);
    assert(n <= 45);
    var L = 144 + ceilLog2(n);
    var E = extraBracketOffset(M, TIERS);

    signal input value[n];
    signal input positive_part[n];
    signal input PL[K];
    signal input PD[K];
    signal input X[M];
    signal input QM[M];
    signal input mark_price[M];
    signal input mmr[M];
    signal input bracket_floor[E];
    signal input bracket_rate[E];
    signal input bracket_ded[E];
    signal output nonneg;
    signal output shortfall;

    signal linear[n];     // value * (PL, X or Q)
    signal kink[n];       // positive_part * (PD, QM or Q)
    component margin[M];
    var health = 0;
    for (var k = 0; k < K; k++) {
        linear[k] <== value[k] * PL[k];
        kink[k] <== positive_part[k] * PD[k];
        health += linear[k] + kink[k];
    }
    for (var m = 0; m < M; m++) {
        if (TIERS[m] == 1) {
            linear[K + m] <== value[K + m] * X[m];
            kink[K + m] <== positive_part[K + m] * QM[m];
            health += linear[K + m] - 2 * kink[K + m];
        } else {
            // s Q and max(s, 0) Q; the notional |s| Q = 2 max(s, 0) Q - s Q
            // is below 2^127 because |s| <= 2^63 and Q < 2^64.
            linear[K + m] <== value[K + m] * mark_price[m];
            kink[K + m] <== positive_part[K + m] * mark_price[m];
            var T = TIERS[m];
            var offset = extraBracketOffset(m, TIERS);
            margin[m] = BracketMargin(T);
            margin[m].notional <== 2 * kink[K + m] - linear[K + m];
            margin[m].floor[0] <== 0;
            margin[m].rate[0] <== mmr[m];
            margin[m].ded[0] <== 0;
            for (var t = 1; t < T; t++) {
                margin[m].floor[t] <== bracket_floor[offset + t - 1];
                margin[m].rate[t] <== bracket_rate[offset + t - 1];
                margin[m].ded[t] <== bracket_ded[offset + t - 1];
            }
            health += 10000 * linear[K + m] - margin[m].margin;
        }
    }

    // The sign of health, from its unique decomposition (see above).
    component sign = SignSplit(L);
    sign.in <== health;
    nonneg <== sign.nonneg;
    shortfall <== sign.negative_part;
}

// AccountEquity(K, M): one account's unweighted equity and its sign.
//
//   equity = sum_i value_i * price_i     (price_i = P_k for assets, Q_m for markets)
//
// in 10^-S quote (PROTOCOL.md §3; perp PnL is settled in the quote balance,
// so a position is worth s * mark). Outputs
//   nonneg   = 1 iff equity >= 0
//   bad_debt = max(-equity, 0)   (what the account owes beyond all it holds)
// by SignSplit(127 + ceil(log2(K+M))).
//
// Preconditions, enforced by the caller: |value_i| <= 2^63 (SignedAmount),
// price_i < 2^64 (Params). Then |value_i * price_i| < 2^127 and
// |equity| < n 2^127 <= 2^(127 + ceil(log2 n)), so SignSplit's precondition
// holds and the sign is the true one: a bankrupt account cannot be hidden
// (its bad debt dropped from the published sum) and no bad debt can be
// invented.
//
// Cost: K + M products + (128 + ceil(log2(K+M))) bits + 1.
template AccountEquity(K, M) {
    var n = K + M;
    assert(n >= 1);
    assert(n <= 45);

    signal input value[n];
    signal input price[K];
    signal input mark_price[M];
    signal output nonneg;
    signal output bad_debt;

    signal worth[n];
    var equity = 0;
    for (var k = 0; k < K; k++) {
        worth[k] <== value[k] * price[k];
        equity += worth[k];
    }
    for (var m = 0; m < M; m++) {
        worth[K + m] <== value[K + m] * mark_price[m];
        equity += worth[K + m];
    }

    component sign = SignSplit(127 + ceilLog2(n));
    sign.in <== equity;
    nonneg <== sign.nonneg;
    bad_debt <== sign.negative_part;
}
