/*
 * test_math.c - the vectorisable exp, expm1, tanh and sigmoid of src/core/fastmath.h against libm
 * (computed in long double as the reference), in float and double, over their whole range: the error
 * stays within a few units in the last place, special values come out right, and subnormal results
 * are exact enough to keep a decay curve's tail.
 */
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#define RNNLAB_REAL_BITS 64
#include "core/real.h"
#include "core/fastmath.h"
#undef RNNLAB_REAL_H
#undef RNNLAB_FASTMATH_H
#undef R
#undef REAL_DTYPE
#undef REAL_MIN_NORMAL
#undef RNNLAB_REAL_BITS
#undef FM_MANT
#undef FM_BIAS
#undef FM_XMAX
#undef FM_XMIN
#undef FM_SHIFT
#undef FM_TANH_CLAMP
#define real real32
#define RNNLAB_REAL_BITS 32
#define R(name) name##_f32
typedef float real32;
#define RNNLAB_REAL_H
#include "core/fastmath.h"
#undef real

/* ulp distance between a and the reference r (in the precision's grid; subnormal spacing below) */
static double ulps64(double a, long double r)
{
    if (isnan(a) && isnan((double)r)) return 0;
    const double rd = (double)r;
    if (a == rd) return 0;
    const double spacing = fmax(nextafter(fabs(rd), INFINITY) - fabs(rd), DBL_TRUE_MIN);
    return (double)(fabsl((long double)a - r) / spacing);
}

static double ulps32(float a, long double r)
{
    if (isnan(a) && isnan((double)r)) return 0;
    const float rf = (float)r;
    if (a == rf) return 0;
    const float spacing = fmaxf(nextafterf(fabsf(rf), INFINITY) - fabsf(rf), FLT_TRUE_MIN);
    return (double)(fabsl((long double)a - r) / spacing);
}

static void test_double_accuracy(void **state)
{
    (void)state;
    double worst[4] = {0, 0, 0, 0};
    for (int i = 0; i <= 2000000; i++) {
        const double x = -746 + 1456.0 * i / 2000000; /* exp's whole range */
        const double y = -40 + 80.0 * i / 2000000;    /* where tanh, sigmoid and expm1 vary */
        worst[0] = fmax(worst[0], ulps64(rnnlab_exp_f64(x), expl(x)));
        worst[1] = fmax(worst[1], ulps64(rnnlab_expm1_f64(y), expm1l(y)));
        worst[2] = fmax(worst[2], ulps64(rnnlab_tanh_f64(y), tanhl(y)));
        worst[3] = fmax(worst[3], ulps64(rnnlab_sigmoid_f64(y), 1 / (1 + expl(-(long double)y))));
    }
    fprintf(stderr, "double: max ulp error exp %.2f, expm1 %.2f, tanh %.2f, sigmoid %.2f\n", worst[0], worst[1],
            worst[2], worst[3]);
    for (int k = 0; k < 4; k++) assert_true(worst[k] <= 3);
    /* near zero: tanh and expm1 keep their relative accuracy */
    for (double x = 1e-300; x < 1; x *= 1.37) {
        assert_true(ulps64(rnnlab_tanh_f64(x), tanhl(x)) <= 3);
        assert_true(ulps64(rnnlab_tanh_f64(-x), tanhl(-x)) <= 3);
        assert_true(ulps64(rnnlab_expm1_f64(x), expm1l(x)) <= 3);
    }
}

static void test_float_accuracy(void **state)
{
    (void)state;
    double worst[4] = {0, 0, 0, 0};
    for (int i = 0; i <= 2000000; i++) {
        const float x = -104.0f + 193.0f * (float)i / 2000000;
        const float y = -20.0f + 40.0f * (float)i / 2000000;
        worst[0] = fmax(worst[0], ulps32(rnnlab_exp_f32(x), expl(x)));
        worst[1] = fmax(worst[1], ulps32(rnnlab_expm1_f32(y), expm1l(y)));
        worst[2] = fmax(worst[2], ulps32(rnnlab_tanh_f32(y), tanhl(y)));
        worst[3] = fmax(worst[3], ulps32(rnnlab_sigmoid_f32(y), 1 / (1 + expl(-(long double)y))));
    }
    fprintf(stderr, "float: max ulp error exp %.2f, expm1 %.2f, tanh %.2f, sigmoid %.2f\n", worst[0], worst[1],
            worst[2], worst[3]);
    for (int k = 0; k < 4; k++) assert_true(worst[k] <= 3);
}

static void test_special_values(void **state)
{
    (void)state;
    assert_true(rnnlab_exp_f64(0) == 1 && rnnlab_exp_f32(0) == 1);
    assert_true(isinf(rnnlab_exp_f64(710)) && isinf(rnnlab_exp_f32(89)));
    assert_true(rnnlab_exp_f64(-746) == 0 && rnnlab_exp_f32(-105) == 0);
    assert_true(rnnlab_exp_f64(-740) > 0);                    /* a subnormal, not flushed */
    assert_true(isnan(rnnlab_exp_f64(NAN)) && isnan(rnnlab_tanh_f64(NAN)) && isnan(rnnlab_sigmoid_f64(NAN)));
    assert_true(isnan(rnnlab_tanh_f32(NAN)) && isnan(rnnlab_expm1_f32(NAN)));
    assert_true(rnnlab_tanh_f64(INFINITY) == 1 && rnnlab_tanh_f64(-INFINITY) == -1);
    assert_true(rnnlab_sigmoid_f64(-INFINITY) == 0 && rnnlab_sigmoid_f64(INFINITY) == 1);
    assert_true(rnnlab_tanh_f64(0) == 0 && signbit(rnnlab_tanh_f64(-0.0)));
    assert_true(rnnlab_exp_f64(INFINITY) == INFINITY && rnnlab_exp_f64(-INFINITY) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_accuracy),
        cmocka_unit_test(test_float_accuracy),
        cmocka_unit_test(test_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
