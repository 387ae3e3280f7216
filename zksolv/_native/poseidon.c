/* Batch Poseidon (circomlib's permutation) over the BN254 scalar field.
 *
 * Optional accelerator for zksolv.poseidon: the module is built by setuptools
 * when a C compiler is available (`optional = true` in pyproject.toml) and the
 * package falls back to light-poseidon / pure Python when it is missing.
 *
 * Arithmetic, two paths computing the same function:
 *  - portable: Montgomery form on 4 x 64-bit limbs with unsigned __int128
 *    (GCC/Clang); dot products accumulate unreduced 512-bit products and
 *    reduce once;
 *  - x86-64 with AVX-512 IFMA (checked at run time): 8 hashes at once, one per
 *    64-bit lane, Montgomery form with R = 2^260 on 5 x 52-bit limbs
 *    (vpmadd52luq/vpmadd52huq). Values stay below 2p between operations (the
 *    2^260 > 64p slack keeps every Montgomery product below 2p without a final
 *    subtraction); only the digest is fully reduced. Rows that do not fill a
 *    block of 8 take the portable path. The permutation is the sparse-matrix form of circomlib's, exactly as
 * zksolv.poseidon.poseidon_optimized; its constants are derived in Python from
 * zksolv/data/poseidon_constants.json.gz and handed over by set_constants, so
 * there is a single source of truth.
 *
 * Python API (module zksolv._poseidon_c, API_VERSION 2):
 *   set_constants(t, n_partial, full, partial, m, pre, sparse_w, sparse_v)
 *       32-byte big-endian values: full 8*t (round constants of the full
 *       rounds), partial n_partial, m and pre t*t (row-major), sparse_w and
 *       sparse_v n_partial*(t-1).
 *   has_constants(t) -> bool
 *   poseidon_many(n_inputs, data, threads=1) -> bytes
 *       data: n * n_inputs canonical field elements, 32-byte big-endian each;
 *       returns n digests, 32-byte big-endian each. ValueError on a
 *       non-canonical input. The GIL is released while hashing.
 *   simd() -> bool, set_simd(flag) -> bool: whether the IFMA path is used
 *       (set_simd(True) only enables it when the CPU supports it).
 *   argsort_words(data) -> bytes: stable ascending order of 32-byte big-endian
 *       words (native uint64 indices); gather_words(data, order, width,
 *       into=None) -> bytes: data's width-byte words in that order (written
 *       into the writable buffer `into` if given, then returns None).
 *   leaf_inputs(tag, keys, amounts, n_amounts) -> bytes
 *       tag: 32 bytes (the leaf domain tag); keys: n * 32 bytes; amounts: n * n_amounts native
 *       int64 (array('q')); returns n rows of [tag, key, e_0 .. e_{ceil(n_amounts/3)-1}] as in
 *       PROTOCOL.md section 4 (u = amount + 2^63, e_j = u_3j + 2^64 u_3j+1 + 2^128 u_3j+2).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__SIZEOF_INT128__)
#error "zksolv._poseidon_c needs unsigned __int128 (GCC or Clang on a 64-bit target)"
#endif

typedef uint64_t u64;
typedef unsigned __int128 u128;

#define MIN_T 2
#define MAX_T 17
#define FULL_ROUNDS 8
#define MAX_THREADS 64
#define API_VERSION 2 /* zksolv.poseidon ignores a stale build with another version */

/* r = 21888242871839275222246405745257275088548364400416034343698204186575808495617 */
static const u64 P[4] = {0x43e1f593f0000001ULL, 0x2833e84879b97091ULL,
                         0xb85045b68181585dULL, 0x30644e72e131a029ULL};
static u64 PINV;  /* -r^-1 mod 2^64 */
static u64 R2[4]; /* 2^512 mod r */
static const u64 ONE[4] = {1, 0, 0, 0};

typedef struct {
    int ready;
    int t;
    int n_partial;
    u64 (*full)[4];     /* FULL_ROUNDS * t round constants (Montgomery form, as all below) */
    u64 (*partial)[4];  /* n_partial constants added to s[0] */
    u64 (*m)[4];        /* t * t MDS matrix */
    u64 (*pre)[4];      /* t * t matrix of the last full round before the partial rounds */
    u64 (*sw)[4];       /* n_partial * (t - 1): first row of each sparse matrix (without m00) */
    u64 (*sv)[4];       /* n_partial * (t - 1): first column of each sparse matrix (without m00) */
    /* The same constants for the IFMA path: Montgomery form with R = 2^260, 5 x 52-bit limbs. */
    u64 (*full52)[5], (*partial52)[5], (*m52)[5], (*pre52)[5];
    u64 (*sw52)[5]; /* n_partial * t: [m00, first row of the sparse matrix] */
    u64 (*sv52)[5]; /* n_partial * (t - 1) */
} params_t;

static params_t PARAMS[MAX_T + 1];

/* ---- field arithmetic ---------------------------------------------------- */

static inline int geq_p(const u64 a[4]) {
    for (int i = 3; i >= 0; i--) {
        if (a[i] != P[i]) return a[i] > P[i];
    }
    return 1;
}

/* a -= p; returns the borrow out of the top limb. */
static inline u64 sub_p(u64 a[4]) {
    u128 d;
    u64 borrow = 0;
    for (int i = 0; i < 4; i++) {
        d = (u128)a[i] - P[i] - borrow;
        a[i] = (u64)d;
        borrow = (u64)(d >> 64) & 1;
    }
    return borrow;
}

/* r = a + b mod p, a, b < p (p < 2^254, so no carry out of 256 bits). */
static inline void add_mod(u64 r[4], const u64 a[4], const u64 b[4]) {
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c = (u128)a[i] + b[i] + (u64)(c >> 64);
        r[i] = (u64)c;
    }
    if (geq_p(r)) sub_p(r);
}

/* CIOS Montgomery multiplication: r = a * b / 2^256 mod p, a, b < p. */
static inline void mont_mul(u64 r[4], const u64 a[4], const u64 b[4]) {
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
    for (int i = 0; i < 4; i++) {
        u64 bi = b[i];
        u128 c;
        c = (u128)a[0] * bi + t0;
        t0 = (u64)c;
        c = (u128)a[1] * bi + t1 + (u64)(c >> 64);
        t1 = (u64)c;
        c = (u128)a[2] * bi + t2 + (u64)(c >> 64);
        t2 = (u64)c;
        c = (u128)a[3] * bi + t3 + (u64)(c >> 64);
        t3 = (u64)c;
        u128 c4 = (u128)t4 + (u64)(c >> 64);
        u64 t5 = (u64)(c4 >> 64);
        t4 = (u64)c4;
        u64 m = t0 * PINV;
        c = (u128)m * P[0] + t0;
        c = (u128)m * P[1] + t1 + (u64)(c >> 64);
        t0 = (u64)c;
        c = (u128)m * P[2] + t2 + (u64)(c >> 64);
        t1 = (u64)c;
        c = (u128)m * P[3] + t3 + (u64)(c >> 64);
        t2 = (u64)c;
        c = (u128)t4 + (u64)(c >> 64);
        t3 = (u64)c;
        t4 = t5 + (u64)(c >> 64);
    }
    r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
    if (t4 || geq_p(r)) sub_p(r);
}

/* acc (9 limbs) += a * b (a, b < 2^256). */
static inline void mul_acc(u64 acc[9], const u64 a[4], const u64 b[4]) {
    u64 p[8];
    u128 c;
    for (int i = 0; i < 8; i++) p[i] = 0;
    for (int i = 0; i < 4; i++) {
        c = 0;
        for (int j = 0; j < 4; j++) {
            c = (u128)a[i] * b[j] + p[i + j] + (u64)(c >> 64);
            p[i + j] = (u64)c;
        }
        p[i + 4] = (u64)(c >> 64);
    }
    c = 0;
    for (int i = 0; i < 8; i++) {
        c = (u128)acc[i] + p[i] + (u64)(c >> 64);
        acc[i] = (u64)c;
    }
    acc[8] += (u64)(c >> 64);
}

/* r = T / 2^256 mod p for a 9-limb T (a sum of at most MAX_T products < p^2). */
static inline void redc9(u64 r[4], u64 T[9]) {
    for (int i = 0; i < 4; i++) {
        u64 m = T[i] * PINV;
        u128 c = 0;
        for (int j = 0; j < 4; j++) {
            c = (u128)m * P[j] + T[i + j] + (u64)(c >> 64);
            T[i + j] = (u64)c;
        }
        for (int k = i + 4; k < 9; k++) {
            c = (u128)T[k] + (u64)(c >> 64);
            T[k] = (u64)c;
        }
    }
    /* T >> 256 < T / 2^256 + p < (MAX_T / 4 + 1) p: subtract p until canonical. */
    u64 hi = T[8];
    r[0] = T[4]; r[1] = T[5]; r[2] = T[6]; r[3] = T[7];
    while (hi || geq_p(r)) hi -= sub_p(r);
}

static inline void pow5(u64 x[4]) {
    u64 x2[4], x4[4];
    mont_mul(x2, x, x);
    mont_mul(x4, x2, x2);
    mont_mul(x, x4, x);
}

/* Big-endian 32 bytes -> limbs; returns 0 when the value is not below p. */
static inline int load_be(u64 a[4], const unsigned char *s) {
    for (int i = 0; i < 4; i++) {
        const unsigned char *q = s + 8 * (3 - i);
        a[i] = ((u64)q[0] << 56) | ((u64)q[1] << 48) | ((u64)q[2] << 40) | ((u64)q[3] << 32) |
               ((u64)q[4] << 24) | ((u64)q[5] << 16) | ((u64)q[6] << 8) | (u64)q[7];
    }
    return !geq_p(a);
}

static inline void store_be(unsigned char *s, const u64 a[4]) {
    for (int i = 0; i < 4; i++) {
        unsigned char *q = s + 8 * (3 - i);
        u64 v = a[i];
        for (int k = 7; k >= 0; k--) {
            q[k] = (unsigned char)v;
            v >>= 8;
        }
    }
}

/* x = 2x mod p, for x < p (used to derive the Montgomery constants). */
static inline void double_mod(u64 x[4]) {
    u64 top = x[3] >> 63;
    x[3] = (x[3] << 1) | (x[2] >> 63);
    x[2] = (x[2] << 1) | (x[1] >> 63);
    x[1] = (x[1] << 1) | (x[0] >> 63);
    x[0] <<= 1;
    if (top || geq_p(x)) sub_p(x);
}

static void init_field(void) {
    /* PINV = -p^-1 mod 2^64 by Newton iteration (p odd). */
    u64 inv = 1;
    for (int i = 0; i < 7; i++) inv *= 2 - P[0] * inv;
    PINV = (u64)0 - inv;
    /* R2 = 2^512 mod p by doubling 1 512 times. */
    u64 x[4] = {1, 0, 0, 0};
    for (int i = 0; i < 512; i++) double_mod(x);
    memcpy(R2, x, sizeof R2);
}

/* ---- permutation ---------------------------------------------------------- */

/* s = mat . s, computing only the first `rows` rows. */
static inline void mix(const u64 (*mat)[4], int t, int rows, u64 s[][4]) {
    u64 next[MAX_T][4];
    for (int i = 0; i < rows; i++) {
        u64 acc[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (int j = 0; j < t; j++) mul_acc(acc, mat[(size_t)i * t + j], s[j]);
        redc9(next[i], acc);
    }
    memcpy(s, next, sizeof(u64) * 4 * (size_t)rows);
}

/* The permutation on a Montgomery-form state; the digest is state[0]. */
static void permute(const params_t *pp, u64 s[][4]) {
    const int t = pp->t, half = FULL_ROUNDS / 2, tm = t - 1;
    for (int r = 0; r < half; r++) {
        for (int i = 0; i < t; i++) {
            add_mod(s[i], s[i], pp->full[r * t + i]);
            pow5(s[i]);
        }
        mix(r == half - 1 ? (const u64 (*)[4])pp->pre : (const u64 (*)[4])pp->m, t, t, s);
    }
    for (int r = 0; r < pp->n_partial; r++) {
        u64 first[4], tmp[4];
        u64 acc[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
        const u64 (*w)[4] = (const u64 (*)[4])pp->sw + (size_t)r * tm;
        const u64 (*v)[4] = (const u64 (*)[4])pp->sv + (size_t)r * tm;
        add_mod(s[0], s[0], pp->partial[r]);
        pow5(s[0]);
        mul_acc(acc, pp->m[0], s[0]);
        for (int j = 1; j < t; j++) mul_acc(acc, w[j - 1], s[j]);
        redc9(first, acc);
        for (int j = 1; j < t; j++) {
            mont_mul(tmp, v[j - 1], s[0]);
            add_mod(s[j], s[j], tmp);
        }
        memcpy(s[0], first, sizeof first);
    }
    for (int r = 0; r < half; r++) {
        for (int i = 0; i < t; i++) {
            add_mod(s[i], s[i], pp->full[(half + r) * t + i]);
            pow5(s[i]);
        }
        mix((const u64 (*)[4])pp->m, t, r == half - 1 ? 1 : t, s);
    }
}


/* ---- AVX-512 IFMA path: 8 hashes at once -------------------------------- */

#define MASK52 0xfffffffffffffULL
static u64 P52[5];     /* p in 52-bit limbs */
static u64 PINV52;     /* -p^-1 mod 2^52 */
static u64 R2_52[5];   /* 2^520 mod p: Montgomery(2^260) conversion factor */
static u64 ONE52[5];   /* 2^260 mod p: Montgomery form of 1 */
static int USE_SIMD;   /* IFMA path enabled */
static int HAVE_SIMD;  /* CPU and compiler support it */

static void split52(u64 out[5], const u64 a[4]) {
    out[0] = a[0] & MASK52;
    out[1] = ((a[0] >> 52) | (a[1] << 12)) & MASK52;
    out[2] = ((a[1] >> 40) | (a[2] << 24)) & MASK52;
    out[3] = ((a[2] >> 28) | (a[3] << 36)) & MASK52;
    out[4] = a[3] >> 16;
}

static void join52(u64 out[4], const u64 l[5]) {
    out[0] = l[0] | (l[1] << 52);
    out[1] = (l[1] >> 12) | (l[2] << 40);
    out[2] = (l[2] >> 24) | (l[3] << 28);
    out[3] = (l[3] >> 36) | (l[4] << 16);
}

/* 256-bit Montgomery form (x * 2^256 mod p) -> 52-bit-limb Montgomery form (x * 2^260 mod p). */
static void to_mont52(u64 out[5], const u64 mont256[4]) {
    u64 x[4];
    memcpy(x, mont256, sizeof x);
    for (int i = 0; i < 4; i++) add_mod(x, x, x);
    split52(out, x);
}

static void init_field52(void) {
    split52(P52, P);
    PINV52 = PINV & MASK52;
    u64 x[4] = {1, 0, 0, 0};
    for (int i = 0; i < 520; i++) {
        if (i == 260) split52(ONE52, x);
        double_mod(x);
    }
    split52(R2_52, x);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SIMD_COMPILED 1
#include <immintrin.h>

#define IFMA_FN static inline __attribute__((target("avx512f,avx512ifma"), always_inline))

typedef struct {
    __m512i l[5];
} f8; /* 8 field elements, limb k of lane i in l[k][i] */

IFMA_FN __m512i bc(u64 x) { return _mm512_set1_epi64((long long)x); }

/* T = (T + m p) / 2^52 with m making the low limb vanish. */
IFMA_FN void redc_step8(__m512i T[6]) {
    const __m512i m = _mm512_madd52lo_epu64(_mm512_setzero_si512(), T[0], bc(PINV52));
    for (int j = 0; j < 5; j++) {
        T[j] = _mm512_madd52lo_epu64(T[j], m, bc(P52[j]));
        T[j + 1] = _mm512_madd52hi_epu64(T[j + 1], m, bc(P52[j]));
    }
    T[1] = _mm512_add_epi64(T[1], _mm512_srli_epi64(T[0], 52));
    for (int j = 0; j < 5; j++) T[j] = T[j + 1];
    T[5] = _mm512_setzero_si512();
}

IFMA_FN void normalize8(f8 *r, __m512i T[6]) {
    const __m512i mask = bc(MASK52);
    for (int k = 0; k < 4; k++) {
        T[k + 1] = _mm512_add_epi64(T[k + 1], _mm512_srli_epi64(T[k], 52));
        r->l[k] = _mm512_and_si512(T[k], mask);
    }
    r->l[4] = T[4];
}

/* r = a * b / 2^260 mod p (< 2p when a * b < 2^260 p); a, b with normalized limbs. */
IFMA_FN void mul8(f8 *r, const f8 *a, const f8 *b) {
    __m512i T[6];
    for (int j = 0; j < 6; j++) T[j] = _mm512_setzero_si512();
    for (int i = 0; i < 5; i++) {
        const __m512i bi = b->l[i];
        for (int j = 0; j < 5; j++) {
            T[j] = _mm512_madd52lo_epu64(T[j], a->l[j], bi);
            T[j + 1] = _mm512_madd52hi_epu64(T[j + 1], a->l[j], bi);
        }
        redc_step8(T);
    }
    normalize8(r, T);
}

/* r = sum_k c[k] * x[k] / 2^260 mod p (< 2p), c[k] constants below p, x[k] below 4p, n <= 16. */
IFMA_FN void dot8(f8 *r, int n, const u64 (*c)[5], const f8 *const *x) {
    __m512i T[6];
    for (int j = 0; j < 6; j++) T[j] = _mm512_setzero_si512();
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < n; k++) {
            const __m512i xi = x[k]->l[i];
            for (int j = 0; j < 5; j++) {
                const __m512i cj = bc(c[k][j]);
                T[j] = _mm512_madd52lo_epu64(T[j], cj, xi);
                T[j + 1] = _mm512_madd52hi_epu64(T[j + 1], cj, xi);
            }
        }
        redc_step8(T);
    }
    normalize8(r, T);
}

/* x = (x + c)^5 for x < 2p, c < p: the sum is below 3p, the result below 2p. */
IFMA_FN void add_pow5_8(f8 *x, const u64 c[5]) {
    __m512i T[6];
    for (int k = 0; k < 5; k++) T[k] = _mm512_add_epi64(x->l[k], bc(c[k]));
    T[5] = _mm512_setzero_si512();
    normalize8(x, T);
    f8 x2, x4;
    mul8(&x2, x, x);
    mul8(&x4, &x2, &x2);
    mul8(x, &x4, x);
}

IFMA_FN void mix8(const u64 (*mat)[5], int t, int rows, f8 *s) {
    f8 next[MAX_T];
    const f8 *xs[MAX_T];
    for (int j = 0; j < t; j++) xs[j] = &s[j];
    for (int i = 0; i < rows; i++) dot8(&next[i], t, mat + (size_t)i * t, xs);
    for (int i = 0; i < rows; i++) s[i] = next[i];
}

__attribute__((target("avx512f,avx512ifma"))) static void permute8(const params_t *pp, f8 *s) {
    const int t = pp->t, half = FULL_ROUNDS / 2, tm = t - 1;
    for (int r = 0; r < half; r++) {
        for (int i = 0; i < t; i++) add_pow5_8(&s[i], pp->full52[r * t + i]);
        mix8(r == half - 1 ? (const u64 (*)[5])pp->pre52 : (const u64 (*)[5])pp->m52, t, t, s);
    }
    const f8 *xs[MAX_T];
    for (int j = 0; j < t; j++) xs[j] = &s[j];
    for (int r = 0; r < pp->n_partial; r++) {
        f8 first;
        add_pow5_8(&s[0], pp->partial52[r]);
        dot8(&first, t, (const u64 (*)[5])pp->sw52 + (size_t)r * t, xs);
        for (int j = 1; j < t; j++) {
            /* s[j] + v * x as a Montgomery dot product with the Montgomery form of 1: stays below 2p. */
            u64 pair[2][5];
            memcpy(pair[0], pp->sv52[(size_t)r * tm + j - 1], sizeof pair[0]);
            memcpy(pair[1], ONE52, sizeof pair[1]);
            const f8 *ys[2] = {&s[0], &s[j]};
            dot8(&s[j], 2, (const u64 (*)[5])pair, ys);
        }
        s[0] = first;
    }
    for (int r = 0; r < half; r++) {
        for (int i = 0; i < t; i++) add_pow5_8(&s[i], pp->full52[(half + r) * t + i]);
        mix8((const u64 (*)[5])pp->m52, t, r == half - 1 ? 1 : t, s);
    }
}

/* Hash 8 rows; returns 0 (and sets *bad to the row) on a non-canonical input. */
__attribute__((target("avx512f,avx512ifma"))) static int hash8(const params_t *pp, const unsigned char *in,
                                                               unsigned char *out, size_t *bad) {
    const int t = pp->t, n = t - 1;
    f8 s[MAX_T];
    u64 lanes[5][8] __attribute__((aligned(64)));
    for (int k = 0; k < 5; k++) s[0].l[k] = _mm512_setzero_si512();
    for (int i = 0; i < n; i++) {
        for (int lane = 0; lane < 8; lane++) {
            u64 x[4], l[5];
            if (!load_be(x, in + ((size_t)lane * n + i) * 32)) {
                *bad = (size_t)lane;
                return 0;
            }
            split52(l, x);
            for (int k = 0; k < 5; k++) lanes[k][lane] = l[k];
        }
        f8 raw;
        for (int k = 0; k < 5; k++) raw.l[k] = _mm512_load_si512((const void *)lanes[k]);
        const f8 *xs[1] = {&raw};
        dot8(&s[i + 1], 1, (const u64 (*)[5])R2_52, xs); /* to Montgomery form */
    }
    permute8(pp, s);
    u64 one[1][5] = {{1, 0, 0, 0, 0}};
    const f8 *xs[1] = {&s[0]};
    f8 digest;
    dot8(&digest, 1, (const u64 (*)[5])one, xs); /* out of Montgomery form: <= p */
    for (int k = 0; k < 5; k++) _mm512_store_si512((void *)lanes[k], digest.l[k]);
    for (int lane = 0; lane < 8; lane++) {
        u64 l[5], d[4];
        for (int k = 0; k < 5; k++) l[k] = lanes[k][lane];
        join52(d, l);
        if (geq_p(d)) sub_p(d);
        store_be(out + (size_t)lane * 32, d);
    }
    return 1;
}

static int cpu_has_ifma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}
#else
static int cpu_has_ifma(void) { return 0; }
#endif

typedef struct {
    const params_t *pp;
    const unsigned char *in;
    unsigned char *out;
    size_t start, count;
    size_t bad; /* index + 1 of the first non-canonical input row, 0 if none */
} job_t;

static void run_job(job_t *job) {
    const params_t *pp = job->pp;
    const int t = pp->t, n = t - 1;
    u64 state[MAX_T][4], digest[4];
    size_t k = job->start;
    const size_t end = job->start + job->count;
    job->bad = 0;
#ifdef SIMD_COMPILED
    if (USE_SIMD) {
        for (; k + 8 <= end; k += 8) {
            size_t lane;
            if (!hash8(pp, job->in + k * (size_t)n * 32, job->out + k * 32, &lane)) {
                job->bad = k + lane + 1;
                return;
            }
        }
    }
#endif
    for (; k < end; k++) {
        const unsigned char *row = job->in + k * (size_t)n * 32;
        memset(state[0], 0, sizeof state[0]);
        for (int i = 0; i < n; i++) {
            u64 x[4];
            if (!load_be(x, row + 32 * i)) {
                job->bad = k + 1;
                return;
            }
            mont_mul(state[i + 1], x, R2);
        }
        permute(pp, state);
        mont_mul(digest, state[0], ONE);
        store_be(job->out + k * 32, digest);
    }
}

static void *thread_main(void *arg) {
    run_job((job_t *)arg);
    return NULL;
}

/* ---- Python bindings ------------------------------------------------------ */

/* Big-endian constants -> Montgomery form; NULL with a Python error on failure. */
static u64 (*load_constants(const Py_buffer *buf, size_t count, const char *what))[4] {
    if ((size_t)buf->len != count * 32) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zu constants", what, count);
        return NULL;
    }
    u64 (*out)[4] = malloc((count ? count : 1) * sizeof *out);
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        u64 x[4];
        if (!load_be(x, (const unsigned char *)buf->buf + 32 * i)) {
            free(out);
            PyErr_Format(PyExc_ValueError, "%s: constant is not a canonical field element", what);
            return NULL;
        }
        mont_mul(out[i], x, R2);
    }
    return out;
}

static void free_params(params_t *pp) {
    free(pp->full52);
    free(pp->partial52);
    free(pp->m52);
    free(pp->pre52);
    free(pp->sw52);
    free(pp->sv52);
    free(pp->full);
    free(pp->partial);
    free(pp->m);
    free(pp->pre);
    free(pp->sw);
    free(pp->sv);
    memset(pp, 0, sizeof *pp);
}

static PyObject *py_set_constants(PyObject *self, PyObject *args) {
    int t, n_partial;
    Py_buffer b[6];
    if (!PyArg_ParseTuple(args, "iiy*y*y*y*y*y*", &t, &n_partial, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]))
        return NULL;
    PyObject *result = NULL;
    params_t np;
    memset(&np, 0, sizeof np);
    if (t < MIN_T || t > MAX_T || n_partial < 1 || n_partial > 1000) {
        PyErr_SetString(PyExc_ValueError, "state width or partial rounds out of range");
        goto done;
    }
    const size_t tt = (size_t)t * t, sp = (size_t)n_partial * (size_t)(t - 1);
    np.t = t;
    np.n_partial = n_partial;
    if (!(np.full = load_constants(&b[0], (size_t)FULL_ROUNDS * t, "full")) ||
        !(np.partial = load_constants(&b[1], (size_t)n_partial, "partial")) ||
        !(np.m = load_constants(&b[2], tt, "m")) || !(np.pre = load_constants(&b[3], tt, "pre")) ||
        !(np.sw = load_constants(&b[4], sp, "sparse_w")) || !(np.sv = load_constants(&b[5], sp, "sparse_v"))) {
        free_params(&np);
        goto done;
    }
    const size_t nf = (size_t)FULL_ROUNDS * t, npart = (size_t)n_partial;
    np.full52 = malloc(nf * sizeof *np.full52);
    np.partial52 = malloc(npart * sizeof *np.partial52);
    np.m52 = malloc(tt * sizeof *np.m52);
    np.pre52 = malloc(tt * sizeof *np.pre52);
    np.sw52 = malloc(npart * (size_t)t * sizeof *np.sw52);
    np.sv52 = malloc(sp * sizeof *np.sv52);
    if (!np.full52 || !np.partial52 || !np.m52 || !np.pre52 || !np.sw52 || !np.sv52) {
        free_params(&np);
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < nf; i++) to_mont52(np.full52[i], np.full[i]);
    for (size_t i = 0; i < npart; i++) to_mont52(np.partial52[i], np.partial[i]);
    for (size_t i = 0; i < tt; i++) {
        to_mont52(np.m52[i], np.m[i]);
        to_mont52(np.pre52[i], np.pre[i]);
    }
    for (size_t r = 0; r < npart; r++) {
        to_mont52(np.sw52[r * t], np.m[0]);
        for (int j = 1; j < t; j++) to_mont52(np.sw52[r * t + j], np.sw[r * (t - 1) + j - 1]);
    }
    for (size_t i = 0; i < sp; i++) to_mont52(np.sv52[i], np.sv[i]);
    np.ready = 1;
    if (PARAMS[t].ready) {
        /* Already set (the constants are deterministic): never free arrays that a thread
           hashing without the GIL may be reading. */
        free_params(&np);
    } else {
        PARAMS[t] = np;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    for (int i = 0; i < 6; i++) PyBuffer_Release(&b[i]);
    return result;
}

static PyObject *py_has_constants(PyObject *self, PyObject *args) {
    int t;
    if (!PyArg_ParseTuple(args, "i", &t)) return NULL;
    return PyBool_FromLong(t >= MIN_T && t <= MAX_T && PARAMS[t].ready);
}

static PyObject *py_poseidon_many(PyObject *self, PyObject *args) {
    int n_inputs, threads = 1;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "iy*|i", &n_inputs, &buf, &threads)) return NULL;
    PyObject *out = NULL;
    const int t = n_inputs + 1;
    if (t < MIN_T || t > MAX_T) {
        PyErr_Format(PyExc_ValueError, "Poseidon takes 1 to %d inputs, got %d", MAX_T - 1, n_inputs);
        goto done;
    }
    const params_t *pp = &PARAMS[t];
    if (!pp->ready) {
        PyErr_Format(PyExc_RuntimeError, "constants for %d inputs were not set", n_inputs);
        goto done;
    }
    const size_t row = (size_t)n_inputs * 32;
    if ((size_t)buf.len % row) {
        PyErr_Format(PyExc_ValueError, "input length %zd is not a multiple of %zu bytes", buf.len, row);
        goto done;
    }
    const size_t n = (size_t)buf.len / row;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * 32));
    if (!out) goto done;
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if ((size_t)threads > n / 64 + 1) threads = (int)(n / 64 + 1); /* small batches: one thread */
    job_t jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS];
    const size_t per = n / (size_t)threads, extra = n % (size_t)threads;
    size_t start = 0;
    for (int i = 0; i < threads; i++) {
        size_t count = per + ((size_t)i < extra);
        jobs[i] = (job_t){pp, (const unsigned char *)buf.buf, (unsigned char *)PyBytes_AS_STRING(out), start,
                          count, 0};
        start += count;
        started[i] = 0;
    }
    Py_BEGIN_ALLOW_THREADS
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&tids[i], NULL, thread_main, &jobs[i]) == 0;
    run_job(&jobs[0]);
    for (int i = 1; i < threads; i++) {
        if (started[i]) pthread_join(tids[i], NULL);
        else run_job(&jobs[i]); /* could not start a thread: do its share here */
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < threads; i++) {
        if (jobs[i].bad) {
            PyErr_Format(PyExc_ValueError, "Poseidon input is not a canonical field element (row %zu)",
                         jobs[i].bad - 1);
            Py_CLEAR(out);
            break;
        }
    }
done:
    PyBuffer_Release(&buf);
    return out;
}

static PyObject *py_simd(PyObject *self, PyObject *args) {
    return PyBool_FromLong(USE_SIMD);
}

static PyObject *py_set_simd(PyObject *self, PyObject *args) {
    int flag;
    if (!PyArg_ParseTuple(args, "p", &flag)) return NULL;
    USE_SIMD = flag && HAVE_SIMD;
    return PyBool_FromLong(USE_SIMD);
}

static PyObject *py_leaf_inputs(PyObject *self, PyObject *args) {
    Py_buffer tag, keys, amounts;
    int k;
    if (!PyArg_ParseTuple(args, "y*y*y*i", &tag, &keys, &amounts, &k)) return NULL;
    PyObject *out = NULL;
    if (tag.len != 32) {
        PyErr_SetString(PyExc_ValueError, "tag must be 32 bytes");
        goto done;
    }
    if (k < 1 || k > 3 * (MAX_T - 3)) {
        PyErr_SetString(PyExc_ValueError, "number of amounts out of range");
        goto done;
    }
    const size_t n = (size_t)keys.len / 32;
    if ((size_t)keys.len % 32 || (size_t)amounts.len != n * (size_t)k * 8) {
        PyErr_SetString(PyExc_ValueError, "keys and amounts lengths do not match");
        goto done;
    }
    const int packed = (k + 2) / 3;
    const size_t row = 32 * (size_t)(2 + packed);
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * row));
    if (!out) goto done;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *src = (const unsigned char *)amounts.buf;
    for (size_t r = 0; r < n; r++) {
        unsigned char *o = dst + r * row;
        memcpy(o, tag.buf, 32);
        memcpy(o + 32, (const unsigned char *)keys.buf + 32 * r, 32);
        for (int j = 0; j < packed; j++) {
            u64 e[4] = {0, 0, 0, 0};
            for (int i = 0; i < 3 && 3 * j + i < k; i++) {
                int64_t a;
                memcpy(&a, src + 8 * (r * (size_t)k + 3 * (size_t)j + (size_t)i), 8);
                e[i] = (u64)a ^ 0x8000000000000000ULL; /* a + 2^63 */
            }
            store_be(o + 32 * (2 + j), e);
        }
    }
done:
    PyBuffer_Release(&tag);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&amounts);
    return out;
}

/* ---- sorting and permuting fixed-width words (the slot order of PROTOCOL.md section 4) ---- */

typedef struct {
    u64 k[4]; /* the 32-byte big-endian word as 4 native words, most significant first */
    u64 index;
} sort_item;

static int cmp_items(const void *pa, const void *pb) {
    const sort_item *a = pa, *b = pb;
    for (int i = 0; i < 4; i++) {
        if (a->k[i] != b->k[i]) return a->k[i] < b->k[i] ? -1 : 1;
    }
    return (a->index > b->index) - (a->index < b->index); /* ties keep input order: a stable sort */
}

static PyObject *py_argsort_words(PyObject *self, PyObject *args) {
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*", &buf)) return NULL;
    PyObject *out = NULL;
    sort_item *items = NULL;
    if (buf.len % 32) {
        PyErr_SetString(PyExc_ValueError, "argsort_words takes whole 32-byte words");
        goto done;
    }
    const size_t n = (size_t)buf.len / 32;
    items = malloc((n ? n : 1) * sizeof *items);
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
    if (!items || !out) {
        Py_CLEAR(out);
        PyErr_NoMemory();
        goto done;
    }
    u64 *order = (u64 *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        const unsigned char *w = (const unsigned char *)buf.buf + 32 * i;
        for (int j = 0; j < 4; j++) {
            u64 v = 0;
            for (int b = 0; b < 8; b++) v = (v << 8) | w[8 * j + b];
            items[i].k[j] = v;
        }
        items[i].index = i;
    }
    qsort(items, n, sizeof *items, cmp_items);
    for (size_t i = 0; i < n; i++) order[i] = items[i].index;
    Py_END_ALLOW_THREADS
done:
    free(items);
    PyBuffer_Release(&buf);
    return out;
}

static PyObject *py_gather_words(PyObject *self, PyObject *args) {
    Py_buffer data, order, dest = {0};
    Py_ssize_t width;
    PyObject *into = Py_None;
    if (!PyArg_ParseTuple(args, "y*y*n|O", &data, &order, &width, &into)) return NULL;
    PyObject *out = NULL;
    unsigned char *dst;
    if (width < 1 || data.len % width || order.len % 8) {
        PyErr_SetString(PyExc_ValueError, "gather_words: lengths are not whole words");
        goto done;
    }
    const size_t n = (size_t)data.len / (size_t)width, m = (size_t)order.len / 8;
    const unsigned char *src = data.buf;
    if (into == Py_None) {
        out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(m * (size_t)width));
        if (!out) goto done;
        dst = (unsigned char *)PyBytes_AS_STRING(out);
    } else {
        if (PyObject_GetBuffer(into, &dest, PyBUF_WRITABLE) < 0) goto done;
        if ((size_t)dest.len != m * (size_t)width) {
            PyErr_SetString(PyExc_ValueError, "gather_words: the output buffer has the wrong size");
            goto done;
        }
        dst = dest.buf;
        out = Py_None;
        Py_INCREF(out);
    }
    for (size_t i = 0; i < m; i++) {
        u64 j;
        memcpy(&j, (const unsigned char *)order.buf + 8 * i, 8);
        if (j >= n) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_IndexError, "gather_words: index out of range");
            goto done;
        }
        memcpy(dst + i * (size_t)width, src + j * (size_t)width, (size_t)width);
    }
done:
    if (dest.obj) PyBuffer_Release(&dest);
    PyBuffer_Release(&data);
    PyBuffer_Release(&order);
    return out;
}

static PyMethodDef METHODS[] = {
    {"set_constants", py_set_constants, METH_VARARGS,
     "set_constants(t, n_partial, full, partial, m, pre, sparse_w, sparse_v)"},
    {"has_constants", py_has_constants, METH_VARARGS, "has_constants(t) -> bool"},
    {"poseidon_many", py_poseidon_many, METH_VARARGS, "poseidon_many(n_inputs, data, threads=1) -> bytes"},
    {"simd", py_simd, METH_NOARGS, "simd() -> bool: the AVX-512 IFMA path is in use"},
    {"set_simd", py_set_simd, METH_VARARGS, "set_simd(flag) -> bool: enable (if supported) or disable it"},
    {"argsort_words", py_argsort_words, METH_VARARGS,
     "argsort_words(data) -> bytes: stable ascending order of 32-byte big-endian words, as native uint64"},
    {"gather_words", py_gather_words, METH_VARARGS,
     "gather_words(data, order, width, into=None) -> bytes (or None when writing into `into`):\n"
     "the width-byte words of data in the given order"},
    {"leaf_inputs", py_leaf_inputs, METH_VARARGS, "leaf_inputs(tag, keys, amounts, n_amounts) -> bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_poseidon_c",
                                    "Batch circomlib Poseidon over BN254 (optional accelerator).", -1, METHODS};

PyMODINIT_FUNC PyInit__poseidon_c(void) {
    init_field();
    init_field52();
    HAVE_SIMD = cpu_has_ifma();
    USE_SIMD = HAVE_SIMD;
    PyObject *module = PyModule_Create(&MODULE);
    if (module && PyModule_AddIntConstant(module, "API_VERSION", API_VERSION) < 0) Py_CLEAR(module);
    return module;
}
