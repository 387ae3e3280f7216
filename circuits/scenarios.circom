pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "./sign.circom";
include "./health.circom";

// Scenario margin (PROTOCOL.md §3.3): the same account valued at S + 1 price
// vectors, the published prices (scenario 0) and the S published scenarios,
// whose prices the verifier recomputes from the shocks and the option inputs
// and which reach the circuit through the params hash.

// ScenarioHealth(K, M): one account's health and equity at one price vector.
//
//   equity = sum_k b_k P_k + sum_m s_m Q_m                          (10^-S quote)
//   health = sum_k b_k P_k (b_k >= 0 ? aw_k : lw_k)
//          + sum_m s_m Q_m 10000 - flat * sum_m |s_m| Q_m mmr_m       (health units)
//
// with P, Q the scenario's prices (an option's Q is its risk-array value) and
// flat = 1 for a cross-margined account, 0 for a portfolio-margined one: a
// portfolio account's positions carry no per-position rate, its requirement
// is the worst loss over the scenarios (WorstShortfall). Collateral keeps its
// haircut in both modes. Outputs both signs, determined by SignSplit:
//   below     = 1 iff health < 0,  shortfall = max(-health, 0)
//   bankrupt  = 1 iff equity < 0,  bad_debt  = max(-equity, 0)
//
// Preconditions, enforced by the caller: value/positive_part from
// SignedAmount (|x| <= 2^63), prices < 2^64 (Params, ScenarioPrices), the
// coefficients from HealthCoefficients of the same prices, flat in {0, 1}.
// The bounds of MaintenanceHealth and AccountEquity then hold unchanged
// (|health| < n 2^143, |equity| < n 2^127; flat only removes a term), so both
// signs are the true ones: no account can be declared above maintenance in a
// scenario, or solvent after it, when it is not (nor the reverse).
//
// Cost: 3(K + M) + 1 products + (145 + ceil(log2 n)) + (128 + ceil(log2 n)) bits + 2.
template ScenarioHealth(K, M) {
    var n = K + M;
    assert(n >= 1);
    assert(n <= 45);

    signal input value[n];
    signal input positive_part[n];
    signal input flat;
    signal input PL[K];
    signal input PD[K];
    signal input QM[M];
    signal input price[K];
    signal input mark_price[M];
    signal output below;
    signal output shortfall;
    signal output bankrupt;
    signal output bad_debt;

    signal linear[K];     // b * P * lw
    signal kink[K];       // max(b, 0) * P * (aw - lw)
    signal worth[n];      // b * P, s * Q
    signal rate_linear[M];    // s * Q * mmr
    signal rate_kink[M];      // max(s, 0) * Q * mmr
    var health = 0;
    var equity = 0;
    var margin = 0;           // sum_m |s| Q mmr = 2 max(s, 0) Q mmr - s Q mmr
    for (var k = 0; k < K; k++) {
        linear[k] <== value[k] * PL[k];
        kink[k] <== positive_part[k] * PD[k];
        worth[k] <== value[k] * price[k];
        health += linear[k] + kink[k];
        equity += worth[k];
    }
    for (var m = 0; m < M; m++) {
        worth[K + m] <== value[K + m] * mark_price[m];
        rate_linear[m] <== value[K + m] * QM[m];
        rate_kink[m] <== positive_part[K + m] * QM[m];
        health += 10000 * worth[K + m];
        equity += worth[K + m];
        margin += 2 * rate_kink[m] - rate_linear[m];
    }
    // Only a cross-margined account pays the per-position rates.
    signal flat_margin <== flat * margin;
    health -= flat_margin;

    component healthSign = SignSplit(144 + ceilLog2(n));
    healthSign.in <== health;
    below <== 1 - healthSign.nonneg;
    shortfall <== healthSign.negative_part;

    component equitySign = SignSplit(127 + ceilLog2(n));
    equitySign.in <== equity;
    bankrupt <== 1 - equitySign.nonneg;
    bad_debt <== equitySign.negative_part;
}

// WorstShortfall(N, L): the maintenance shortfall of one account in a
// scenario shape, and whether it is below maintenance.
//
//   counted_0 = shortfall_0                     (the published prices)
//   counted_s = portfolio * shortfall_s         (s = 1 .. N - 1)
//   worst     = max_s counted_s
//   below     = 1 iff worst > 0
//
// so a cross-margined account (portfolio = 0) is judged at the published
// prices only, and a portfolio-margined one by its worst scenario: its
// requirement is the largest loss over the scenarios, and it is below
// maintenance iff its health is negative at the published prices or in any
// scenario (SPAN's scanning risk, floored at zero by scenario 0).
//
// The maximum is selected by a one-hot hint and then pinned: worst equals one
// counted_s (booleanity, sum = 1, worst = sum sel_s counted_s) and is at least
// every counted_s (worst - counted_s in [0, 2^L) by Num2Bits(L)). Both are
// needed: without the first a prover could publish any upper bound (inflating
// the shortfall), without the second the shortfall of a scenario that is not
// the worst (hiding most of it). The comparison is sound because every
// counted_s is a SignSplit negative part, in [0, 2^L): a difference that is
// negative as an integer is r - d with d < 2^L in the field, far above 2^L.
// below = 1 - IsZero(worst): a shortfall is positive exactly when the health
// is negative.
//
// Precondition: every shortfall[s] < 2^L (SignSplit(L) outputs), portfolio in
// {0, 1}.
// Cost: (N - 1) products + N booleanity + N products + N (L) bits + 1 + 2.
template WorstShortfall(N, L) {
    signal input shortfall[N];
    signal input portfolio;
    signal output worst;
    signal output below;

    signal counted[N];
    counted[0] <== shortfall[0];
    for (var s = 1; s < N; s++) {
        counted[s] <== portfolio * shortfall[s];
    }

    // The index of the largest counted shortfall, as a hint.
    var best = 0;
    for (var s = 1; s < N; s++) {
        if (counted[s] > counted[best]) {
            best = s;
        }
    }
    signal sel[N];
    signal picked[N];
    var one = 0;
    var chosen = 0;
    for (var s = 0; s < N; s++) {
        sel[s] <-- s == best ? 1 : 0;
        // sel is a 0/1 vector ...
        sel[s] * (sel[s] - 1) === 0;
        one += sel[s];
        picked[s] <== sel[s] * counted[s];
        chosen += picked[s];
    }
    // ... with exactly one 1: worst is one of the counted shortfalls.
    one === 1;
    worst <== chosen;

    // worst >= every counted shortfall.
    component atLeast[N];
    for (var s = 0; s < N; s++) {
        atLeast[s] = Num2Bits(L);
        atLeast[s].in <== worst - counted[s];
        _ <== atLeast[s].out;
    }

    component none = IsZero();
    none.in <== worst;
    below <== 1 - none.out;
}

// PortfolioOnly(M): option markets are held only by portfolio-margined accounts.
//
// For every market, kind[m] = 1 marks an option series (Params hashes it
// with the market): its value moves non-linearly with the underlying, so a
// flat maintenance rate on its premium says nothing about its risk. Proves
// (1 - portfolio) * kind[m] * value[m] = 0: a cross-margined account with an
// option position has no satisfying witness, so its options cannot escape
// the scenario requirement.
// Cost: 2M.
template PortfolioOnly(M) {
    signal input value[M];
    signal input kind[M];
    signal input portfolio;

    signal option_position[M];
    for (var m = 0; m < M; m++) {
        option_position[m] <== kind[m] * value[m];
        (1 - portfolio) * option_position[m] === 0;
    }
}
