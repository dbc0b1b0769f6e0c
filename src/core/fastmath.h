/*
 * fastmath.h - exp, expm1, tanh and the logistic sigmoid for one precision, written so that the
 * compiler vectorises the cells' loops around them (no calls, no branches), and accurate to a few
 * units in the last place of float or double (tests/test_math.c measures the error against libm over
 * the whole range). Internal; include core/real.h first.
 *
 * exp: n = round(x / ln 2), r = x - n ln2 in two parts (Cody & Waite 1980), |r| <= ln2/2, exp(r) by its
 * Taylor series (degree 13 for double: the next term is below 4e-18 relatively; degree 7 for float:
 * below 6e-9), times 2^n built from the exponent bits in two halves so that results down to the
 * smallest subnormal are right. expm1: the same series without its leading 1 for |x| < ln2/2 (so
 * there is no cancellation), exp(x) - 1 beyond. tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|), which
 * keeps full relative accuracy near 0. sigmoid(x) = 1 / (1 + exp(-x)).
 * Everything is deterministic: the same input gives the same bits on any machine that rounds IEEE
 * arithmetic the same way, with or without vector instructions (the build passes -ffp-contract=off:
 * no fused multiply-add is implied). Selections are written as one conditional assignment each,
 * and the build passes -fno-trapping-math (we never read the floating-point exception flags), so
 * that gcc if-converts them and vectorises the loops that call these.
 */
#ifndef RNNLAB_FASTMATH_H
#define RNNLAB_FASTMATH_H

#ifndef RNNLAB_REAL_H
#error "include core/real.h first"
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

#if RNNLAB_REAL_BITS == 32
typedef int32_t R(ibits);
#define FM_MANT 23
#define FM_BIAS 127
#define FM_XMAX 88.72283905f   /* exp(x) overflows above */
#define FM_XMIN -103.972084f   /* exp(x) is 0 below (2^-150) */
#define FM_SHIFT 12582912.0f   /* 1.5 * 2^23: (y + shift) - shift rounds y to an integer */
#define FM_TANH_CLAMP 10.0f    /* tanh rounds to 1 above */
#else
typedef int64_t R(ibits);
#define FM_MANT 52
#define FM_BIAS 1023
#define FM_XMAX 709.782712893384
#define FM_XMIN -745.1332191019412
#define FM_SHIFT 6755399441055744.0 /* 1.5 * 2^52 */
#define FM_TANH_CLAMP 20.0
#endif

/* a*b + c with one rounding where the target has fused multiply-add (-march=x86-64-v3 builds): the
 * same bits vectorised or not, since fma rounds once either way; two roundings elsewhere */
#if defined(__FMA__)
#define FM_MADD(a, b, c) R(fm_fma)((a), (b), (c))
#if RNNLAB_REAL_BITS == 32
#define fm_fma_f32 fmaf
#else
#define fm_fma_f64 fma
#endif
#else
#define FM_MADD(a, b, c) ((a) * (b) + (c))
#endif

/* 2^n = s1 * s2 for an integral n in [-2 BIAS - 2, BIAS + 1]: two normal halves, so that scaling by
 * them in turn gets results down to the smallest subnormal and up to the largest finite right. The
 * conversion goes through int32 (|n| < 1100), which x86 converts in vector registers for double too. */
static RNNLAB_INLINE void R(fm_pow2)(real n, real *s1, real *s2)
{
    const int32_t n1 = (int32_t)(n * (real)0.5), n2 = (int32_t)n - n1;
    const R(ibits) b1 = ((R(ibits))n1 + FM_BIAS) << FM_MANT, b2 = ((R(ibits))n2 + FM_BIAS) << FM_MANT;
    memcpy(s1, &b1, sizeof *s1);
    memcpy(s2, &b2, sizeof *s2);
}

/* exp(r) - 1 for |r| <= ln2/2 + a little: Taylor series, Horner's scheme */
static RNNLAB_INLINE real R(fm_expm1_small)(real r)
{
#if RNNLAB_REAL_BITS == 32
    real p = (real)(1.0 / 5040);
    p = FM_MADD(p, r, (real)(1.0 / 720));
    p = FM_MADD(p, r, (real)(1.0 / 120));
    p = FM_MADD(p, r, (real)(1.0 / 24));
    p = FM_MADD(p, r, (real)(1.0 / 6));
    p = FM_MADD(p, r, (real)0.5);
#else
    real p = 1.0 / 6227020800.0; /* 1/13! */
    p = FM_MADD(p, r, 1.0 / 479001600.0);
    p = FM_MADD(p, r, 1.0 / 39916800.0);
    p = FM_MADD(p, r, 1.0 / 3628800.0);
    p = FM_MADD(p, r, 1.0 / 362880.0);
    p = FM_MADD(p, r, 1.0 / 40320.0);
    p = FM_MADD(p, r, 1.0 / 5040.0);
    p = FM_MADD(p, r, 1.0 / 720.0);
    p = FM_MADD(p, r, 1.0 / 120.0);
    p = FM_MADD(p, r, 1.0 / 24.0);
    p = FM_MADD(p, r, 1.0 / 6.0);
    p = FM_MADD(p, r, 0.5);
#endif
    return FM_MADD(r * r, p, r);
}

static RNNLAB_INLINE real R(rnnlab_exp)(real x)
{
    /* clamped, and NaN replaced by 0 so no conversion below sees a value out of range */
    const real xc = x < FM_XMIN ? FM_XMIN : x > FM_XMAX ? FM_XMAX : x == x ? x : 0;
    const real n = (xc * (real)1.44269504088896340736 + FM_SHIFT) - FM_SHIFT; /* round(x / ln2) */
    const real r = (xc - n * (real)0.693145751953125) - n * (real)1.42860682030941723212e-6;
    real s1, s2;
    R(fm_pow2)(n, &s1, &s2);
    real e = ((1 + R(fm_expm1_small)(r)) * s1) * s2;
    e = x > FM_XMAX ? (real)INFINITY : e;
    e = x < FM_XMIN ? 0 : e;
    e = x == x ? e : x;
    return e;
}

static RNNLAB_INLINE real R(rnnlab_expm1)(real x)
{
    /* |x| < ln2/2: the series itself; beyond, 2^n expm1(r) + (2^n - 1), whose two terms are exact
       but for one rounding each (exp(x) - 1 would lose the leading bits of exp's rounding error) */
    const real xc = x < (real)-40 ? (real)-40 : x > (real)40 ? (real)40 : x == x ? x : 0;
    const real n = (xc * (real)1.44269504088896340736 + FM_SHIFT) - FM_SHIFT;
    const real r = (xc - n * (real)0.693145751953125) - n * (real)1.42860682030941723212e-6;
    real s1, s2;
    R(fm_pow2)(n, &s1, &s2);
    const real s = s1 * s2; /* |n| <= 58: no overflow */
    const real mid = FM_MADD(s, R(fm_expm1_small)(r), s - 1);
    const real a = x < 0 ? -x : x;
    real y = R(rnnlab_exp)(x) - 1; /* |x| > 40: exp's rounding is far below the result's */
    y = a <= (real)40 ? mid : y;
    y = a < (real)0.34657359027997264 ? R(fm_expm1_small)(x) : y;
    y = x == 0 ? x : y; /* -0 stays -0 */
    y = x == x ? y : x; /* NaN stays NaN */
    return y;
}

/* expm1 on [0, 2 FM_TANH_CLAMP] only (tanh's argument): 2^n expm1(r) + 2^n - 1, one series. Below ln2/2
 * that is the series of y itself, bit for bit: n rounds to 0 (y / ln2 < 1/2, a tie goes to the even 0),
 * so r = y, s = 1 and s * p + 0 = p exactly; no second series and select is needed, as expm1 has. */
static RNNLAB_INLINE real R(fm_expm1_pos)(real y)
{
    const real n = (y * (real)1.44269504088896340736 + FM_SHIFT) - FM_SHIFT;
    const real r = (y - n * (real)0.693145751953125) - n * (real)1.42860682030941723212e-6;
    real s1, s2;
    R(fm_pow2)(n, &s1, &s2);
    const real s = s1 * s2;
    return FM_MADD(s, R(fm_expm1_small)(r), s - 1);
}

static RNNLAB_INLINE real R(rnnlab_tanh)(real x)
{
    real a = x < 0 ? -x : x;
    a = a > FM_TANH_CLAMP ? FM_TANH_CLAMP : a;
    a = a == a ? a : 0; /* NaN: computed on 0, given back below */
    const real e = R(fm_expm1_pos)(2 * a);
    real t = e / (e + 2);
    t = x < 0 ? -t : t;
    t = x == 0 ? x : t; /* +-0 and NaN come back as they are */
    t = x == x ? t : x;
    return t;
}

static RNNLAB_INLINE real R(rnnlab_sigmoid)(real x) { return 1 / (1 + R(rnnlab_exp)(-x)); }

#endif
