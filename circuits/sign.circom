pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

// SignSplit(L): the sign of an integer x with |x| < 2^L, determined, not
// asserted (PROTOCOL.md §3).
//
// Proves x + 2^L in [0, 2^(L+1)) and outputs
//   nonneg        = bit L of x + 2^L      (1 iff x >= 0)
//   negative_part = (nonneg - 1) * x      (= max(-x, 0))
//
// Precondition, enforced by the caller: x is an integer combination whose
// honest value satisfies |x| < 2^L, and L + 1 < 253, so the field computation
// of x never wraps. Then x + 2^L is an integer in [0, 2^(L+1)), its (L+1)-bit
// decomposition exists and is unique (2^(L+1) < r), and bit L is 1 exactly
// when x + 2^L >= 2^L, i.e. x >= 0. The prover has no choice: it cannot call
// a negative x non-negative (hiding a shortfall or a bad debt) nor a
// non-negative x negative (inflating the count of accounts in liquidation),
// because the only decomposition that satisfies the constraints is the one of
// the true value.
//
// Cost: L + 1 (bit decomposition) + 1 (negative_part).
template SignSplit(L) {
    assert(L + 1 < 253);

    signal input in;
    signal output nonneg;
    signal output negative_part;

    // x + 2^L < 2^(L+1). Stops every value outside [-2^L, 2^L), in
    // particular a field element chosen so that the sign bit reads as the
    // prover wishes: such a value has no (L+1)-bit decomposition.
    component bits = Num2Bits(L + 1);
    bits.in <== in + (1 << L);

    nonneg <== bits.out[L];
    // nonneg = 1: negative_part = 0. nonneg = 0: x < 0 and negative_part = -x.
    negative_part <== (nonneg - 1) * in;
}
