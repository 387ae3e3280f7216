pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "./range.circom";

// Notional-tiered maintenance brackets (PROTOCOL.md §3.1).
//
// A market with T brackets has floors 0 = f_0 < f_1 < ... < f_{T-1} (in
// 10^-S quote) and rates r_0 <= r_1 <= ... <= r_{T-1} <= 10000 (bps). A
// position of notional N = |s| * mark in bracket t (f_t <= N < f_{t+1}) needs
//   margin(N) = N r_t - d_t,   d_0 = 0,  d_t = d_{t-1} + f_t (r_t - r_{t-1}),
// in health units (10^-S quote x 1/10000): Binance's `cum`, Bybit's
// `mmDeduction`. The deductions make margin(N) continuous; with rates that
// never fall it equals max_t (N r_t - d_t).

// The bound every notional and floor lies below: N = |s| * mark <= 2^63 (2^64 - 1) < 2^127.
function NOTIONAL_BITS() {
    return 127;
}

// Offset of market m's first extra bracket in the flattened bracket arrays
// (markets in order, brackets 1..T_m - 1 of each). Compile-time only.
function extraBracketOffset(m, TIERS) {
    var offset = 0;
    for (var i = 0; i < m; i++) {
        offset += TIERS[i] - 1;
    }
    return offset;
}

// BracketSchedule(T): one market's bracket table, checked, and its deductions.
//
// Inputs floor[t], rate[t] with floor[0] = 0 (the caller wires the constant)
// and every floor < 2^127, every rate in [0, 10000] (Params). Proves
//   floor[t-1] < floor[t]  and  rate[t-1] <= rate[t]   for t >= 1
// and outputs the deductions ded[t] defined above.
//
// Why in the circuit and not only in the verifier: strictly increasing floors
// make the brackets [f_t, f_{t+1}) disjoint, so BracketMargin's selection is
// unique; non-decreasing rates make margin(N) the convex max of its lines and
// d_t >= 0, which bounds the margin for the health sign (MaintenanceHealth).
// A proof therefore means the bracket rule even to a verifier that only checks
// the params hash (the on-chain registry).
//
// Cost per batch: (T - 1) (127 + 2 * 14 + 1).
template BracketSchedule(T) {
    signal input floor[T];
    signal input rate[T];
    signal output ded[T];

    component increasing[T];
    component ratesRise[T];
    ded[0] <== 0;
    for (var t = 1; t < T; t++) {
        // floor[t] - floor[t-1] - 1 in [0, 2^127): with both floors < 2^127
        // this is the integer difference, so floor[t] > floor[t-1]. Stops two
        // brackets that overlap, in which the prover could pick the cheaper.
        increasing[t] = Num2Bits(NOTIONAL_BITS());
        increasing[t].in <== floor[t] - floor[t - 1] - 1;
        _ <== increasing[t].out;
        // 0 <= rate[t] - rate[t-1] <= 10000. Stops a falling rate, under which
        // a larger position would need less margin than a smaller one.
        ratesRise[t] = InRange(0, 10000);
        ratesRise[t].in <== rate[t] - rate[t - 1];
        ded[t] <== ded[t - 1] + floor[t] * (rate[t] - rate[t - 1]);
    }
}

// BracketMargin(T): the maintenance margin of one position by the bracket rule.
//
// Inputs: notional N < 2^127 (the caller computes it from a range-checked
// amount and mark), a BracketSchedule's floor/rate/ded. Output
//   margin = N * rate[t] - ded[t]  for the unique t with floor[t] <= N < floor[t+1]
// (floor[T] read as 2^127, above every notional).
//
// The bracket is a one-hot selector chosen by the prover, pinned by
// range-checked bounds on both sides: N - floor[t] and floor[t+1] - 1 - N
// are decomposed into 127 bits. All four values are integers below 2^127, so
// a decomposition exists only if both differences are non-negative integers,
// i.e. floor[t] <= N < floor[t+1]; the floors strictly increase, so exactly
// one t passes. A forged selector (a lower, cheaper bracket than N falls in;
// two brackets at once; a fraction) leaves a negative difference, r - x in
// the field, which has no 127-bit decomposition.
//
// Cost: T (booleans) + 4T - 3 (selected floor, next floor, rate, deduction)
//       + 2 * 127 + 1.
template BracketMargin(T) {
    signal input notional;
    signal input floor[T];
    signal input rate[T];
    signal input ded[T];
    signal output margin;

    signal selected[T];
    signal selectedFloor[T];
    signal selectedNext[T];
    signal selectedRate[T];
    signal selectedDed[T];
    var one = 0;
    var lower = 0;
    var upper = 0;
    var rateOf = 0;
    var dedOf = 0;
    for (var t = 0; t < T; t++) {
        if (t < T - 1) {
            selected[t] <-- (notional >= floor[t]) * (notional < floor[t + 1]);
        } else {
            selected[t] <-- notional >= floor[t];
        }
        // Each selector is 0 or 1: stops a fractional mix of two brackets.
        selected[t] * (selected[t] - 1) === 0;
        one += selected[t];
        selectedFloor[t] <== selected[t] * floor[t];
        lower += selectedFloor[t];
        if (t < T - 1) {
            selectedNext[t] <== selected[t] * floor[t + 1];
        } else {
            selectedNext[t] <== selected[t] * (1 << NOTIONAL_BITS());
        }
        upper += selectedNext[t];
        selectedRate[t] <== selected[t] * rate[t];
        rateOf += selectedRate[t];
        selectedDed[t] <== selected[t] * ded[t];
        dedOf += selectedDed[t];
    }
    // Exactly one bracket: stops selecting none (margin 0) or several.
    one === 1;

    // floor[t] <= N: stops charging a bracket above the position's.
    component atLeastFloor = Num2Bits(NOTIONAL_BITS());
    atLeastFloor.in <== notional - lower;
    _ <== atLeastFloor.out;
    // N < floor[t+1]: stops charging a lower, cheaper bracket than the
    // position's (the bug class of a selector trusted without bounds).
    component belowNext = Num2Bits(NOTIONAL_BITS());
    belowNext.in <== upper - 1 - notional;
    _ <== belowNext.out;

    margin <== notional * rateOf - dedOf;
}
