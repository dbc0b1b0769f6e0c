/*
 * test_check.c - the test helpers themselves: a comparison that cannot fail would make every other
 * test meaningless.
 */
#include "check.h"

#include <math.h>

static void test_close_accepts_within_tolerance(void **state)
{
    (void)state;
    const double a[] = {1.0, -2.0, 0.0}, b[] = {1.0 + 1e-10, -2.0 - 1e-10, 1e-13};
    assert_true(check_close("within", a, b, 3, 1e-12, 1e-9));
}

static void test_close_rejects_outside_tolerance(void **state)
{
    (void)state;
    const double a[] = {1.0, 2.0}, b[] = {1.0, 2.0 + 1e-6};
    assert_false(check_close("outside (expected to fail)", a, b, 2, 1e-12, 1e-9));
}

static void test_close_rejects_nan(void **state)
{
    (void)state;
    const double a[] = {NAN}, b[] = {NAN}, c[] = {1.0};
    assert_false(check_close("nan vs nan (expected to fail)", a, b, 1, 1, 1));
    assert_false(check_close("nan vs 1 (expected to fail)", a, c, 1, 1, 1));
    assert_false(check_close1("1 vs nan (expected to fail)", 1.0, NAN, 1, 1));
}

static void test_close_rejects_inf_mismatch(void **state)
{
    (void)state;
    assert_false(check_close1("inf vs 1e308 (expected to fail)", INFINITY, 1e308, 0, 1e-9));
}

static void test_same_bytes(void **state)
{
    (void)state;
    const double a[] = {0.0, 1.0}, b[] = {-0.0, 1.0};
    assert_true(check_same_bytes("same", a, a, sizeof a));
    assert_false(check_same_bytes("+0 vs -0 (expected to fail)", a, b, sizeof a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_accepts_within_tolerance),
        cmocka_unit_test(test_close_rejects_outside_tolerance),
        cmocka_unit_test(test_close_rejects_nan),
        cmocka_unit_test(test_close_rejects_inf_mismatch),
        cmocka_unit_test(test_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
