pragma circom 2.1.0;

include "./range.circom";
include "./params.circom";
include "./health.circom";
include "./leaf.circom";
include "./merkle.circom";
include "./accumulator.circom";
include "./scenarios.circom";

// MarginAccount(K, M, TIERS, S): one account of the batch.
//
// Proves: every offset amount u_i < 2^64 (SignedAmount) and leaf =
// AccountLeaf(key, u), with S > 0 also the margin mode portfolio in {0, 1}
// hashed as one more slot; determines whether the account is at or above
// maintenance and whether its equity is negative:
//   S = 0: MaintenanceHealth and AccountEquity at the published prices;
//   S > 0: ScenarioHealth at the published prices (scenario 0) and at each of
//          the S scenario price vectors, WorstShortfall over them (PROTOCOL.md
//          §3.3), and PortfolioOnly for the option markets.
// Outputs the account's contribution to the batch totals:
//   pos[i] = max(x_i, 0),  neg[i] = pos[i] - x_i = max(-x_i, 0)   (linear, free)
//   below     = 1 iff health < 0,  shortfall = max(-health, 0)
//   bankrupt  = 1 iff equity < 0,  bad_debt  = max(-equity, 0)
//   stress[4 s + 0..3] = scenario s + 1's below, shortfall, bankrupt, bad_debt
// Cost (S = 0): 64 n + n + 2 n + (145 + ceil(log2 n)) + 1 + n + (128 + ceil(log2 n)) + 1
//       + Poseidon(2 + ceil(n/3)), plus BracketMargin(T_m) per tiered market.
template MarginAccount(K, M, TIERS, S) {
    var n = K + M;
    var E = extraBracketOffset(M, TIERS);
    var L = 144 + ceilLog2(n);

    signal input key;
    signal input u[n];
    signal input portfolio;   // S > 0 only; 0 otherwise
    signal input PL[S + 1][K];
    signal input PD[S + 1][K];
    signal input X[M];
    signal input QM[S + 1][M];
    signal input price[S + 1][K];
    signal input mark_price[S + 1][M];
    signal input mmr[M];
    signal input option_kind[S > 0 ? M : 0];
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
    signal output stress[4 * S];

    component amount[n];
    component hash = AccountLeaf(S > 0 ? n + 1 : n);
    hash.key <== key;
    for (var i = 0; i < n; i++) {
        amount[i] = SignedAmount();
        amount[i].u <== u[i];
        _ <== amount[i].nonneg;   // the sign enters through positive_part
        // The leaf hashes the same u that was range-checked and decoded.
        hash.u[i] <== u[i];
        pos[i] <== amount[i].positive_part;
        neg[i] <== amount[i].positive_part - amount[i].value;
    }

    if (S == 0) {
        component health = MaintenanceHealth(K, M, TIERS);
        component equity = AccountEquity(K, M);
        portfolio === 0;
        for (var i = 0; i < n; i++) {
            health.value[i] <== amount[i].value;
            health.positive_part[i] <== amount[i].positive_part;
            equity.value[i] <== amount[i].value;
        }
        for (var k = 0; k < K; k++) {
            health.PL[k] <== PL[0][k];
            health.PD[k] <== PD[0][k];
            equity.price[k] <== price[0][k];
        }
        for (var m = 0; m < M; m++) {
            health.X[m] <== X[m];
            health.QM[m] <== QM[0][m];
            health.mark_price[m] <== mark_price[0][m];
            health.mmr[m] <== mmr[m];
            equity.mark_price[m] <== mark_price[0][m];
        }
        for (var e = 0; e < E; e++) {
            health.bracket_floor[e] <== bracket_floor[e];
            health.bracket_rate[e] <== bracket_rate[e];
            health.bracket_ded[e] <== bracket_ded[e];
        }
        below <== 1 - health.nonneg;
        shortfall <== health.shortfall;
        bankrupt <== 1 - equity.nonneg;
        bad_debt <== equity.bad_debt;
    } else {
        // The margin mode is part of the leaf (the holder sees it), offset like
        // an amount (u = 2^63 + mode, so the leaf packing treats every slot
        // alike), and a bit: any other value would scale the per-position
        // rates (flat below) or the counted scenarios (WorstShortfall).
        portfolio * (portfolio - 1) === 0;
        hash.u[n] <== portfolio + (1 << 63);
        // Scenario shapes have no tiered market (PROTOCOL.md §3.3; the
        // verifier refuses the combination), so mmr is each market's rate
        // and X, BracketMargin are not needed.
        component scenario[S + 1];
        component worst = WorstShortfall(S + 1, L);
        component optionsHeld = PortfolioOnly(M);
        worst.portfolio <== portfolio;
        optionsHeld.portfolio <== portfolio;
        for (var m = 0; m < M; m++) {
            optionsHeld.value[m] <== amount[K + m].value;
            optionsHeld.kind[m] <== option_kind[m];
        }
        for (var s = 0; s <= S; s++) {
            scenario[s] = ScenarioHealth(K, M);
            scenario[s].flat <== 1 - portfolio;
            for (var i = 0; i < n; i++) {
                scenario[s].value[i] <== amount[i].value;
                scenario[s].positive_part[i] <== amount[i].positive_part;
            }
            for (var k = 0; k < K; k++) {
                scenario[s].PL[k] <== PL[s][k];
                scenario[s].PD[k] <== PD[s][k];
                scenario[s].price[k] <== price[s][k];
            }
            for (var m = 0; m < M; m++) {
                scenario[s].QM[m] <== QM[s][m];
                scenario[s].mark_price[m] <== mark_price[s][m];
            }
            worst.shortfall[s] <== scenario[s].shortfall;
            _ <== scenario[s].below;   // below follows from the worst shortfall
            if (s > 0) {
                stress[4 * (s - 1)] <== scenario[s].below;
                stress[4 * (s - 1) + 1] <== scenario[s].shortfall;
                stress[4 * (s - 1) + 2] <== scenario[s].bankrupt;
                stress[4 * (s - 1) + 3] <== scenario[s].bad_debt;
            }
        }
        below <== worst.below;
        shortfall <== worst.worst;
        bankrupt <== scenario[0].bankrupt;
        bad_debt <== scenario[0].bad_debt;
    }
    leaf <== hash.leaf;
}

// SolvencyBatch(K, M, B, TIERS, S): the batch statement of PROTOCOL.md §6.
//
// Public inputs (in this order): batch_root, acc_in, acc_out.
// Proves, for private inputs as listed in §6:
//   * ph = §5 params hash of (params_meta, epoch, price, weights, marks, mmr,
//     bracket floors and rates, with S > 0 the option kinds and the S
//     scenario price vectors), with prices, marks, scenario prices < 2^64,
//     aw <= 10000 <= lw < 2^16, mmr <= 10000, and per market with
//     TIERS[m] > 1 brackets, floors strictly increasing from 0 and below
//     2^127, rates non-decreasing and <= 10000 (BracketSchedule);
//   * every amount[a][i] < 2^64; every account's health and equity under
//     those parameters (and, S > 0, under every scenario), with their signs
//     determined (not asserted);
//   * batch_root = SubtreeRoot over AccountLeaf(key[a], amount[a] (, portfolio[a]));
//   * acc_in  = acc(ph, Shape(K, M, B, TIERS, S), totals_in, blinding_in);
//   * acc_out = acc(ph, Shape(K, M, B, TIERS, S), totals_in + batch totals, blinding_out),
//     with the batch totals credit/debit per asset and long/short per market
//     (§5 order), followed by the liquidation figures: the number of accounts
//     below maintenance, their total shortfall, the number of accounts with
//     negative equity and their total bad debt, then the same four figures
//     for each scenario (the stress report, §3.3). The shape constant binds
//     K, M, B, the bracket counts and S into every proof.
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
template SolvencyBatch(K, M, B, TIERS, S) {
    var n = K + M;
    var T = 2 * n + 4 + 4 * S;
    var E = extraBracketOffset(M, TIERS);
    var O = S > 0 ? M : 0;

    signal input batch_root;
    signal input acc_in;
    signal input acc_out;

    signal input key[B];
    signal input amount[B][n];
    signal input portfolio[S > 0 ? B : 0];
    signal input price[K];
    signal input asset_weight[K];
    signal input liability_weight[K];
    signal input mark_price[M];
    signal input mmr[M];
    signal input bracket_floor[E];
    signal input bracket_rate[E];
    signal input option_kind[O];
    signal input scenario_price[S][n];
    signal input epoch;
    signal input params_meta;
    signal input totals_in[T];
    signal input blinding_in;
    signal input blinding_out;

    // --- parameters -------------------------------------------------------
    component params = Params(K, M, TIERS, S);
    // coeff[0]: the published prices; coeff[s], s >= 1: scenario s's.
    signal prices[S + 1][n];
    for (var k = 0; k < K; k++) {
        prices[0][k] <== price[k];
    }
    for (var m = 0; m < M; m++) {
        prices[0][K + m] <== mark_price[m];
    }
    for (var s = 1; s <= S; s++) {
        for (var i = 0; i < n; i++) {
            prices[s][i] <== scenario_price[s - 1][i];
        }
    }
    component coeff[S + 1];
    for (var s = 0; s <= S; s++) {
        coeff[s] = HealthCoefficients(K, M);
        for (var k = 0; k < K; k++) {
            coeff[s].price[k] <== prices[s][k];
            coeff[s].asset_weight[k] <== asset_weight[k];
            coeff[s].liability_weight[k] <== liability_weight[k];
        }
        for (var m = 0; m < M; m++) {
            coeff[s].mark_price[m] <== prices[s][K + m];
            coeff[s].mmr[m] <== mmr[m];
        }
    }
    for (var k = 0; k < K; k++) {
        params.price[k] <== price[k];
        params.asset_weight[k] <== asset_weight[k];
        params.liability_weight[k] <== liability_weight[k];
    }
    for (var m = 0; m < M; m++) {
        params.mark_price[m] <== mark_price[m];
        params.mmr[m] <== mmr[m];
    }
    for (var e = 0; e < E; e++) {
        params.bracket_floor[e] <== bracket_floor[e];
        params.bracket_rate[e] <== bracket_rate[e];
    }
    for (var m = 0; m < O; m++) {
        params.option_kind[m] <== option_kind[m];
    }
    for (var s = 0; s < S; s++) {
        for (var i = 0; i < n; i++) {
            params.scenario_price[s][i] <== scenario_price[s][i];
        }
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
    // price swapped between two assets, a lower liability weight, or a
    // scenario price other than the one the verifier derives from the shocks).

    // --- accounts ---------------------------------------------------------
    component account[B];
    component tree = SubtreeRoot(B);
    var credit[n];            // credit_k / long_m of this batch (linear)
    var debit[n];             // debit_k / short_m of this batch (linear)
    for (var i = 0; i < n; i++) {
        credit[i] = 0;
        debit[i] = 0;
    }
    var figures[4 + 4 * S];   // the liquidation figures, then each scenario's (linear)
    for (var j = 0; j < 4 + 4 * S; j++) {
        figures[j] = 0;
    }
    for (var a = 0; a < B; a++) {
        account[a] = MarginAccount(K, M, TIERS, S);
        account[a].key <== key[a];
        if (S > 0) {
            account[a].portfolio <== portfolio[a];
        } else {
            account[a].portfolio <== 0;
        }
        for (var i = 0; i < n; i++) {
            account[a].u[i] <== amount[a][i];
        }
        for (var s = 0; s <= S; s++) {
            for (var k = 0; k < K; k++) {
                account[a].PL[s][k] <== coeff[s].PL[k];
                account[a].PD[s][k] <== coeff[s].PD[k];
                account[a].price[s][k] <== prices[s][k];
            }
            for (var m = 0; m < M; m++) {
                account[a].QM[s][m] <== coeff[s].QM[m];
                account[a].mark_price[s][m] <== prices[s][K + m];
            }
        }
        for (var m = 0; m < M; m++) {
            account[a].X[m] <== coeff[0].X[m];
            account[a].mmr[m] <== mmr[m];
        }
        for (var m = 0; m < O; m++) {
            account[a].option_kind[m] <== option_kind[m];
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
        figures[0] += account[a].below;
        figures[1] += account[a].shortfall;
        figures[2] += account[a].bankrupt;
        figures[3] += account[a].bad_debt;
        for (var j = 0; j < 4 * S; j++) {
            figures[4 + j] += account[a].stress[j];
        }
    }
    // Stops proving health for accounts other than the committed ones: the
    // checked amounts are exactly the ones under batch_root.
    tree.root === batch_root;

    // --- accumulator ------------------------------------------------------
    component accIn = Accumulator(T, Shape(K, M, B, TIERS, S));
    component accOut = Accumulator(T, Shape(K, M, B, TIERS, S));
    for (var j = 0; j < T; j++) {
        accIn.totals[j] <== totals_in[j];
    }
    for (var i = 0; i < n; i++) {
        accOut.totals[2 * i] <== totals_in[2 * i] + credit[i];
        accOut.totals[2 * i + 1] <== totals_in[2 * i + 1] + debit[i];
    }
    // The liquidation and stress figures accumulate like the totals: a
    // per-batch count or sum other than the one of its accounts breaks acc_out.
    for (var j = 0; j < 4 + 4 * S; j++) {
        accOut.totals[2 * n + j] <== totals_in[2 * n + j] + figures[j];
    }
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
