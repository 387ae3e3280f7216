pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

// Number of bits needed to write x >= 0 (bitLength(0) = 0). Compile-time only.
function bitLength(x) {
    var n = 0;
    while (x > 0) {
        n++;
        x = x \ 2;
    }
    return n;
}

// SignedAmount(): decodes one balance / position from its offset encoding
// (PROTOCOL.md §1).
//
// Proves u < 2^64 and outputs
//   value         = u - 2^63            (the signed amount x, as a field element)
//   nonneg        = bit 63 of u         (1 iff x >= 0)
//   positive_part = nonneg * value      (= max(x, 0))
//
// Cost: 64 (bit decomposition) + 1 (positive_part).
template SignedAmount() {
    signal input u;
    signal output value;
    signal output nonneg;
    signal output positive_part;

    // u < 2^64. Stops: an amount of 2^64 or more (which would make the
    // 3-per-element leaf packing ambiguous and the health bound of §3 false),
    // and a negative amount smuggled in as the field element r - x (or any
    // value >= 2^64): neither has a 64-bit decomposition, because 2^64 < r
    // makes the decomposition unique.
    component bits = Num2Bits(64);
    bits.in <== u;
    _ <== bits.out;    // the bits are constrained inside Num2Bits; only bit 63 is used

    // The sign is read off the verified decomposition, not supplied by the
    // prover: a prover cannot call a negative amount non-negative (which would
    // move it from debit to credit and apply the asset weight instead of the
    // liability weight).
    nonneg <== bits.out[63];
    value <== u - (1 << 63);

    // nonneg = 1: value = u - 2^63 = (low 63 bits) >= 0, so positive_part = x.
    // nonneg = 0: value < 0 and positive_part = 0.
    positive_part <== nonneg * value;
}

// InRange(lo, hi): proves lo <= x <= hi for compile-time constants
// 0 <= lo <= hi < 2^200, with two bit decompositions of L = bitLength(hi - lo)
// bits each.
//
// Soundness: a = x - lo in [0, 2^L) and c = hi - x in [0, 2^L) as field
// elements. Then a + c = hi - lo (mod r), and since a + c < 2^(L+1) < r and
// 0 <= hi - lo < r, a + c = hi - lo over the integers, so a <= hi - lo, i.e.
// x is the integer lo + a in [lo, hi]. Checking only one side would leave the
// wrapped range [r - 2^L + hi + 1, r) (e.g. x = r - 1 passes "hi - x < 2^L"
// alone).
//
// Cost: 2 * bitLength(hi - lo).
template InRange(lo, hi) {
    assert(0 <= lo);
    assert(lo <= hi);
    var L = bitLength(hi - lo);
    assert(L < 200);

    signal input in;

    if (L == 0) {
        // Single allowed value.
        in === lo;
    } else {
        // Stops x < lo (including "negative" field elements r - y).
        component above = Num2Bits(L);
        above.in <== in - lo;
        _ <== above.out;   // only the existence of the decomposition matters
        // Stops x > hi.
        component below = Num2Bits(L);
        below.in <== hi - in;
        _ <== below.out;
    }
}
