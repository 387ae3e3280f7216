pragma circom 2.1.0;

include "./range.circom";
include "./params.circom";
include "./health.circom";
include "./leaf.circom";
include "./merkle.circom";
include "./accumulator.circom";

// MarginAccount(K, M, TIERS): one account of the batch.
//
// Proves: every offset amount u_i < 2^64 (SignedAmount) and leaf =
// AccountLeaf(key, u); determines (MaintenanceHealth, AccountEquity) whether
// the account is at or above maintenance and whether its equity is negative.
// Outputs the account's contribution to the batch totals:
//   pos[i] = max(x_i, 0),  neg[i] = pos[i] - x_i = max(-x_i, 0)   (linear, free)
//   below     = 1 iff health < 0,  shortfall = max(-health, 0)
//   bankrupt  = 1 iff equity < 0,  bad_debt  = max(-equity, 0)
// Cost: 64 n + n + 2 n + (145 + ceil(log2 n)) + 1 + n + (128 + ceil(log2 n)) + 1
//       + Poseidon(2 + ceil(n/3)), plus BracketMargin(T_m) per tiered market.
template MarginAccount(K, M, TIERS) {
    var n = K + M;
    var E = extraBracketOffset(M, TIERS);

    signal input key;
    signal input u[n];
    signal input PL[K];
    signal input PD[K];
    signal input X[M];
    signal input QM[M];
    signal input price[K];
    signal input mark_price[M];
    signal input mmr[M];
    signal input bracket_floor[E];
    signal input bracket_rate[E];
    signal input bracket_ded[E];
    signal output leaf;
    signal output pos[n];
    signal output neg[n];
    signal output below;
    signal output shortfall;
    signal output bankrupt;
    signal output bad_debt;

    component amount[n];
    component health = MaintenanceHealth(K, M, TIERS);
    component equity = AccountEquity(K, M);
    component hash = AccountLeaf(n);
    hash.key <== key;
    for (var i = 0; i < n; i++) {
        amount[i] = SignedAmount();
        amount[i].u <== u[i];
        _ <== amount[i].nonneg;   // the sign enters through positive_part
        health.value[i] <== amount[i].value;
        health.positive_part[i] <== amount[i].positive_part;
        equity.value[i] <== amount[i].value;
        // The leaf hashes the same u that was range-checked and decoded.
        hash.u[i] <== u[i];
        pos[i] <== amount[i].positive_part;
        neg[i] <== amount[i].positive_part - amount[i].value;
    }
    for (var k = 0; k < K; k++) {
        health.PL[k] <== PL[k];
        health.PD[k] <== PD[k];
        equity.price[k] <== price[k];
    }
    for (var m = 0; m < M; m++) {
        health.X[m] <== X[m];
        health.QM[m] <== QM[m];
        health.mark_price[m] <== mark_price[m];
        health.mmr[m] <== mmr[m];
        equity.mark_price[m] <== mark_price[m];
    }
    for (var e = 0; e < E; e++) {
        health.bracket_floor[e] <== bracket_floor[e];
        health.bracket_rate[e] <== bracket_rate[e];
        health.bracket_ded[e] <== bracket_ded[e];
    }
    leaf <== hash.leaf;
    below <== 1 - health.nonneg;
    shortfall <== health.shortfall;
    bankrupt <== 1 - equity.nonneg;
    bad_debt <== equity.bad_debt;
}

// SolvencyBatch(K, M, B, TIERS): the batch statement of PROTOCOL.md §6.
//
// Public inputs (in this order): batch_root, acc_in, acc_out.
// Proves, for private inputs as listed in §6:
//   * ph = §5 params hash of (params_meta, epoch, price, weights, marks, mmr,
//     bracket floors and rates), with prices, marks < 2^64,
//     aw <= 10000 <= lw < 2^16, mmr <= 10000, and per market with
//     TIERS[m] > 1 brackets, floors strictly increasing from 0 and below
//     2^127, rates non-decreasing and <= 10000 (BracketSchedule);
//   * every amount[a][i] < 2^64; every account's health and equity under
//     those parameters, with their signs determined (not asserted);
//   * batch_root = SubtreeRoot over AccountLeaf(key[a], amount[a]);
//   * acc_in  = acc(ph, Shape(K, M, B, TIERS), totals_in, blinding_in);
//   * acc_out = acc(ph, Shape(K, M, B, TIERS), totals_in + batch totals, blinding_out),
//     with the batch totals credit/debit per asset and long/short per market
//     (§5 order), followed by the liquidation figures: the number of accounts
//     below maintenance, their total shortfall, the number of accounts with
//     negative equity and their total bad debt. The shape constant binds K, M,
//     B and the bracket counts into every proof.
//
// Every public input is tied by an equality constraint; there is no public
// signal the constraints ignore.
//
// Why the totals cannot wrap: each pos/neg <= 2^63, shortfall < 2^150,
// bad_debt < 2^131, below/bankrupt in {0, 1}, and the totals of a whole
// snapshot are sums of at most (number of accounts) < 2^40 such terms, far
// below r.
// totals_in needs no range check: it is bound by acc_in, which is acc_0 (all
// zeros) for batch 0 and the previous batch's acc_out otherwise, so by
// induction it is the honest running total. The same induction binds ph to
// the published params hash, which the verifier puts into acc_0.
template SolvencyBatch(K, M, B, TIERS) {
    var n = K + M;
    var T = 2 * n + 4;
    var E = extraBracketOffset(M, TIERS);

    signal input batch_root;
    signal input acc_in;
    signal input acc_out;

    signal input key[B];
    signal input amount[B][n];
    signal input price[K];
    signal input asset_weight[K];
    signal input liability_weight[K];
    signal input mark_price[M];
    signal input mmr[M];
    signal input bracket_floor[E];
    signal input bracket_rate[E];
    signal input epoch;
    signal input params_meta;
    signal input totals_in[T];
    signal input blinding_in;
    signal input blinding_out;

    // --- parameters -------------------------------------------------------
    component params = Params(K, M, TIERS);
    component coeff = HealthCoefficients(K, M);
    for (var k = 0; k < K; k++) {
        params.price[k] <== price[k];
        params.asset_weight[k] <== asset_weight[k];
        params.liability_weight[k] <== liability_weight[k];
        coeff.price[k] <== price[k];
        coeff.asset_weight[k] <== asset_weight[k];
        coeff.liability_weight[k] <== liability_weight[k];
    }
    for (var m = 0; m < M; m++) {
        params.mark_price[m] <== mark_price[m];
        params.mmr[m] <== mmr[m];
        coeff.mark_price[m] <== mark_price[m];
        coeff.mmr[m] <== mmr[m];
    }
    for (var e = 0; e < E; e++) {
        params.bracket_floor[e] <== bracket_floor[e];
        params.bracket_rate[e] <== bracket_rate[e];
    }
    // Each tiered market's table, checked once per batch; its deductions are
    // computed here, never supplied by the prover.
    component schedule[M];
    signal bracket_ded[E];
    for (var m = 0; m < M; m++) {
        if (TIERS[m] > 1) {
            var offset = extraBracketOffset(m, TIERS);
            schedule[m] = BracketSchedule(TIERS[m]);
            schedule[m].floor[0] <== 0;
            schedule[m].rate[0] <== mmr[m];
            for (var t = 1; t < TIERS[m]; t++) {
                schedule[m].floor[t] <== bracket_floor[offset + t - 1];
                schedule[m].rate[t] <== bracket_rate[offset + t - 1];
            }
            for (var t = 1; t < TIERS[m]; t++) {
                bracket_ded[offset + t - 1] <== schedule[m].ded[t];
            }
        }
    }
    params.epoch <== epoch;
    params.params_meta <== params_meta;
    // params.params_hash goes into both accumulators below: that is what stops
    // proving solvency under parameters other than the published ones (e.g. a
    // price swapped between two assets, or a lower liability weight).

    // --- accounts ---------------------------------------------------------
    component account[B];
    component tree = SubtreeRoot(B);
    var credit[n];            // credit_k / long_m of this batch (linear)
    var debit[n];             // debit_k / short_m of this batch (linear)
    for (var i = 0; i < n; i++) {
        credit[i] = 0;
        debit[i] = 0;
    }
    var below = 0;            // accounts below maintenance in this batch (linear)
    var shortfall = 0;
    var bankrupt = 0;         // accounts with negative equity
    var bad_debt = 0;
    for (var a = 0; a < B; a++) {
        account[a] = MarginAccount(K, M, TIERS);
        account[a].key <== key[a];
        for (var i = 0; i < n; i++) {
            account[a].u[i] <== amount[a][i];
        }
        for (var k = 0; k < K; k++) {
            account[a].PL[k] <== coeff.PL[k];
            account[a].PD[k] <== coeff.PD[k];
            account[a].price[k] <== price[k];
        }
        for (var m = 0; m < M; m++) {
            account[a].X[m] <== coeff.X[m];
            account[a].QM[m] <== coeff.QM[m];
            account[a].mark_price[m] <== mark_price[m];
            account[a].mmr[m] <== mmr[m];
        }
        for (var e = 0; e < E; e++) {
            account[a].bracket_floor[e] <== bracket_floor[e];
            account[a].bracket_rate[e] <== bracket_rate[e];
            account[a].bracket_ded[e] <== bracket_ded[e];
        }
        tree.leaves[a] <== account[a].leaf;
        for (var i = 0; i < n; i++) {
            credit[i] += account[a].pos[i];
            debit[i] += account[a].neg[i];
        }
        below += account[a].below;
        shortfall += account[a].shortfall;
        bankrupt += account[a].bankrupt;
        bad_debt += account[a].bad_debt;
    }
    // Stops proving health for accounts other than the committed ones: the
    // checked amounts are exactly the ones under batch_root.
    tree.root === batch_root;

    // --- accumulator ------------------------------------------------------
    component accIn = Accumulator(T, Shape(K, M, B, TIERS));
    component accOut = Accumulator(T, Shape(K, M, B, TIERS));
    for (var j = 0; j < T; j++) {
        accIn.totals[j] <== totals_in[j];
    }
    for (var i = 0; i < n; i++) {
        accOut.totals[2 * i] <== totals_in[2 * i] + credit[i];
        accOut.totals[2 * i + 1] <== totals_in[2 * i + 1] + debit[i];
    }
    // The liquidation figures accumulate like the totals: a per-batch count or
    // sum other than the one of its accounts breaks acc_out.
    accOut.totals[2 * n] <== totals_in[2 * n] + below;
    accOut.totals[2 * n + 1] <== totals_in[2 * n + 1] + shortfall;
    accOut.totals[2 * n + 2] <== totals_in[2 * n + 2] + bankrupt;
    accOut.totals[2 * n + 3] <== totals_in[2 * n + 3] + bad_debt;
    accIn.blinding <== blinding_in;
    accOut.blinding <== blinding_out;
    // Binds the params of this proof into both ends of its link of the chain
    // (see Accumulator): proving with a swapped price breaks the chain at acc_0.
    accIn.params_hash <== params.params_hash;
    accOut.params_hash <== params.params_hash;
    // Stops starting from totals other than the previous batch's output.
    accIn.acc === acc_in;
    // Stops publishing totals other than totals_in + this batch's sums.
    accOut.acc === acc_out;
}
