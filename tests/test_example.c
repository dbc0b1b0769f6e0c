/*
 * test_example.c - the library example of README.md ("Using the library from C"): README shows
 * tests/example_decay.c whole and the command that builds it, the Makefile builds it that way (public
 * headers only), and the program prints what README says it prints. Run from the source tree (make
 * test does); the example binary sits beside this test's own binary.
 */
#include "check.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { T = 100, B = 16 };

/* README.md and the example's source, or a skip when not run from the source tree. */
static char *source_file(const char *path)
{
    char *text = check_slurp(path, NULL);
    if (!text) fprintf(stderr, "SKIP: %s not found: run from the source tree (make test does)\n", path);
    return text;
}

static void test_readme_shows_the_example(void **state)
{
    (void)state;
    char *readme = source_file("README.md"), *example = source_file("tests/example_decay.c");
    if (!readme || !example) {
        free(readme), free(example);
        skip();
        return; /* skip() does not return; gcc -O1 (make ubsan) does not know */
    }
    /* the whole file, as a C block, so the manual cannot drift from the program the tests run */
    char *block = malloc(strlen(example) + 16);
    assert_non_null(block);
    sprintf(block, "```c\n%s```\n", example);
    if (!strstr(readme, block)) fprintf(stderr, "README.md does not show tests/example_decay.c as it is\n");
    assert_non_null(strstr(readme, block));
    assert_non_null(strstr(readme, "cc -std=c11 -O2 -Iinclude tests/example_decay.c build/librnnlab.a $(make -s libs) -o decay"));
    free(block), free(readme), free(example);
}

/* Runs the example and checks its rows: the header, T steps per cell in order, positive finite
 * norms, one loss per cell, and at the last step the bound the loss sets: with the MSE at the last
 * step and O = 1, dL/dh_{T-1}[b] = (2/B)(y_b - target_b) w_head, so ||dL/dh_{T-1}||_2 =
 * 2 sqrt(loss / B) ||w_head||_2, and ||w_head||_2 <= 1 under PyTorch's init (H entries in
 * U(-1/sqrt(H), 1/sqrt(H))). */
static void test_example_prints_the_decay(void **state)
{
    (void)state;
    char self[PATH_MAX], cmd[PATH_MAX + 32];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    char *slash = strrchr(self, '/');
    assert_non_null(slash);
    *slash = 0;
    snprintf(cmd, sizeof cmd, "'%s/example_decay'", self);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256];
    assert_non_null(fgets(line, sizeof line, p));
    assert_string_equal(line, "cell,t,grad_h_norm,loss\n");
    const char *cells[2] = {"rnn", "lstm"};
    for (int c = 0; c < 2; c++) {
        double loss0 = NAN, last = NAN;
        for (int t = 0; t < T; t++) {
            char cell[16];
            int tt;
            double g, loss;
            assert_non_null(fgets(line, sizeof line, p));
            assert_int_equal(sscanf(line, "%15[^,],%d,%lf,%lf", cell, &tt, &g, &loss), 4);
            assert_string_equal(cell, cells[c]);
            assert_int_equal(tt, t);
            assert_true(isfinite(g) && g > 0);
            assert_true(isfinite(loss) && loss > 0);
            if (t == 0) loss0 = loss;
            assert_true(loss == loss0);
            last = g;
        }
        assert_true(last <= 2 * sqrt(loss0 / B) * (1 + 1e-12));
    }
    assert_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_shows_the_example),
        cmocka_unit_test(test_example_prints_the_decay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
