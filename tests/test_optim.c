/*
 * test_optim.c - the optimizers' first steps on a quadratic, the schedules' closed forms and the
 * three clipping modes on given vectors, with every expected value derived by hand below (from the
 * formulas of torch.optim as written in include/rnnlab/optim.h).
 *
 * The quadratic: f(theta) = 1/2 a theta^2 with a = 2, so the gradient is g = 2 theta; every
 * parameter of a small model starts at theta_0 = 1 and gets this gradient, so every element must
 * follow the hand-computed trajectory (which also checks that the update covers all n elements).
 */
#include "check.h"
#include "rnnlab/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* A vanilla RNN, I = 1, H = 2, L = 1, O = 1: tensors weight_ih_l0 (2,1), weight_hh_l0 (2,2),
 * bias_ih_l0 (2), bias_hh_l0 (2), head_weight (1,2), head_bias (1): 13 parameters. */
static rnnlab_model *small_model(rnnlab_dtype dt)
{
    rnnlab_model_config c;
    rnnlab_model_config_init(&c);
    c.input_size = 1, c.hidden_size = 2, c.output_size = 1, c.dtype = dt;
    rnnlab_model *m = NULL;
    assert_int_equal(rnnlab_model_create(&m, &c), RNNLAB_OK);
    return m;
}

static void set_grad(rnnlab_model *m, size_t j, double v)
{
    if (m->cfg.dtype == RNNLAB_FLOAT32) ((float *)m->grads)[j] = (float)v;
    else ((double *)m->grads)[j] = v;
}

static double grad_at(const rnnlab_model *m, size_t j) { return rnnlab_model_grad_at(m, j); }

/* Runs `steps` updates of the quadratic from theta = 1 and checks every element after each step
 * against want[k] (k = 0 .. steps-1), relative tolerance rtol. */
static void run_quadratic(const rnnlab_optim_config *oc, rnnlab_dtype dt, int steps, const double *want, double rtol)
{
    rnnlab_model *m = small_model(dt);
    for (size_t j = 0; j < m->n_params; j++) rnnlab_model_param_set_at(m, j, 1.0);
    rnnlab_optim *o = NULL;
    assert_int_equal(rnnlab_optim_create(&o, m, oc), RNNLAB_OK);
    for (int k = 0; k < steps; k++) {
        for (size_t j = 0; j < m->n_params; j++) set_grad(m, j, 2 * rnnlab_model_param_at(m, j));
        assert_int_equal(rnnlab_optim_step(o, m, oc->lr), RNNLAB_OK);
        assert_int_equal(o->step, k + 1);
        for (size_t j = 0; j < m->n_params; j++) {
            char name[64];
            snprintf(name, sizeof name, "%s step %d element %zu", rnnlab_optim_name(oc->kind), k + 1, j);
            assert_close1(name, rnnlab_model_param_at(m, j), want[k], 1e-300, rtol);
        }
    }
    rnnlab_optim_free(o);
    rnnlab_model_free(m);
}

static void both_precisions(const rnnlab_optim_config *oc, int steps, const double *want)
{
    run_quadratic(oc, RNNLAB_FLOAT64, steps, want, 1e-14);
    run_quadratic(oc, RNNLAB_FLOAT32, steps, want, 2e-6);
}

/* ---------------------------------------------------------------- SGD */

/* lr 0.1:  theta_1 = 1 - 0.1*2 = 0.8;  theta_2 = 0.8 - 0.1*1.6 = 0.64;  theta_3 = 0.64 - 0.1*1.28 = 0.512 */
static void test_sgd_plain(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_SGD);
    assert_true(oc.lr == 1e-3 && oc.momentum == 0 && oc.weight_decay == 0); /* torch's defaults */
    oc.lr = 0.1;
    const double want[] = {0.8, 0.64, 0.512};
    both_precisions(&oc, 3, want);
}

/* lr 0.1, momentum 0.9 (torch: b_1 = g_1, then b = 0.9 b + g):
 *   step 1: g = 2,    b = 2,                      theta = 1 - 0.2 = 0.8
 *   step 2: g = 1.6,  b = 1.8 + 1.6 = 3.4,        theta = 0.8 - 0.34 = 0.46
 *   step 3: g = 0.92, b = 3.06 + 0.92 = 3.98,     theta = 0.46 - 0.398 = 0.062 */
static void test_sgd_momentum(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_SGD);
    oc.lr = 0.1, oc.momentum = 0.9;
    const double want[] = {0.8, 0.46, 0.062};
    both_precisions(&oc, 3, want);
}

/* Nesterov (torch: g' = g + mu b after b's update):
 *   step 1: g = 2,      b = 2,                        g' = 2 + 1.8 = 3.8,          theta = 1 - 0.38 = 0.62
 *   step 2: g = 1.24,   b = 1.8 + 1.24 = 3.04,        g' = 1.24 + 2.736 = 3.976,   theta = 0.62 - 0.3976 = 0.2224
 *   step 3: g = 0.4448, b = 2.736 + 0.4448 = 3.1808,  g' = 0.4448 + 2.86272 = 3.30752,
 *           theta = 0.2224 - 0.330752 = -0.108352 */
static void test_sgd_nesterov(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_SGD);
    oc.lr = 0.1, oc.momentum = 0.9, oc.nesterov = 1;
    const double want[] = {0.62, 0.2224, -0.108352};
    both_precisions(&oc, 3, want);
}

/* momentum 0.9, dampening 0.5, weight decay 0.1 (g = 2 theta + 0.1 theta = 2.1 theta; dampening is not
 * applied at the first step, as torch):
 *   step 1: g = 2.1,    b = 2.1,                              theta = 1 - 0.21 = 0.79
 *   step 2: g = 1.659,  b = 0.9*2.1 + 0.5*1.659 = 2.7195,      theta = 0.79 - 0.27195 = 0.51805 */
static void test_sgd_dampening_weight_decay(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_SGD);
    oc.lr = 0.1, oc.momentum = 0.9, oc.dampening = 0.5, oc.weight_decay = 0.1;
    const double want[] = {0.79, 0.51805};
    both_precisions(&oc, 2, want);
}

/* ---------------------------------------------------------------- RMSprop */

/* lr 0.01, alpha 0.99, eps 1e-8:
 *   step 1: g = 2, v = 0.01*4 = 0.04, theta_1 = 1 - 0.01*2/(sqrt(0.04) + 1e-8) = 1 - 0.02/0.20000001
 *   step 2: g = 2 theta_1, v = 0.99*0.04 + 0.01 g^2, theta_2 = theta_1 - 0.01 g/(sqrt(v) + 1e-8) */
static void test_rmsprop(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_RMSPROP);
    assert_true(oc.lr == 1e-2 && oc.alpha == 0.99 && oc.eps == 1e-8); /* torch's defaults */
    const double t1 = 1 - 0.02 / 0.20000001, g2 = 2 * t1, v2 = 0.99 * 0.04 + 0.01 * g2 * g2;
    const double want[] = {t1, t1 - 0.01 * g2 / (sqrt(v2) + 1e-8)};
    both_precisions(&oc, 2, want);
    assert_close1("rmsprop theta_1 is about 0.9", want[0], 0.9, 1e-7, 0);
}

/* centered, momentum 0.9, lr 0.01:
 *   step 1: g = 2, v = 0.04, a = 0.01*2 = 0.02, d = sqrt(0.04 - 0.0004) + 1e-8 = sqrt(0.0396) + 1e-8,
 *           b = g/d = 10.0503..., theta_1 = 1 - 0.01 b = 0.899497...
 *   step 2: g = 2 theta_1, v = 0.99*0.04 + 0.01 g^2, a = 0.02 + 0.01 (g - 0.02),
 *           b = 0.9 b_1 + g/(sqrt(v - a^2) + 1e-8), theta_2 = theta_1 - 0.01 b */
static void test_rmsprop_centered_momentum(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_RMSPROP);
    oc.centered = 1, oc.momentum = 0.9;
    const double b1 = 2 / (sqrt(0.0396) + 1e-8), t1 = 1 - 0.01 * b1;
    const double g = 2 * t1, v = 0.99 * 0.04 + 0.01 * g * g, a = 0.02 + 0.01 * (g - 0.02);
    const double b2 = 0.9 * b1 + g / (sqrt(v - a * a) + 1e-8);
    const double want[] = {t1, t1 - 0.01 * b2};
    both_precisions(&oc, 2, want);
    assert_close1("centered rmsprop theta_1", t1, 0.899497, 1e-6, 0);
}

/* ---------------------------------------------------------------- Adam, AdamW */

/* lr 0.1, betas (0.9, 0.999), eps 1e-8:
 *   step 1: g = 2, m = 0.2, v = 0.004; m^ = m/0.1 = 2, v^ = v/0.001 = 4;
 *           theta_1 = 1 - 0.1 * 2/(2 + 1e-8) = 0.9 (Adam's first step is lr * sign(g))
 *   step 2: g = 2 theta_1 = 1.8, m = 0.2 + 0.1 (1.8 - 0.2) = 0.36, v = 0.999*0.004 + 0.001*3.24 = 0.007236;
 *           bias corrections 1 - 0.9^2 = 0.19 and 1 - 0.999^2 = 0.001999;
 *           theta_2 = theta_1 - (0.1/0.19) * 0.36/(sqrt(0.007236)/sqrt(0.001999) + 1e-8) = 0.800413... */
static void test_adam(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_ADAM);
    assert_true(oc.lr == 1e-3 && oc.beta1 == 0.9 && oc.beta2 == 0.999 && oc.eps == 1e-8 && oc.weight_decay == 0);
    oc.lr = 0.1;
    const double t1 = 1 - 0.1 * 2 / (2 + 1e-8), g = 2 * t1, m2 = 0.2 + 0.1 * (g - 0.2), v2 = 0.999 * 0.004 + 0.001 * g * g;
    const double t2 = t1 - (0.1 / 0.19) * m2 / (sqrt(v2) / sqrt(1 - 0.999 * 0.999) + 1e-8);
    const double want[] = {t1, t2};
    both_precisions(&oc, 2, want);
    assert_close1("adam theta_2", t2, 0.800413, 1e-6, 0);
}

/* Weight decay 0.1, lr 0.1. Adam (L2 in the gradient): g = 2.1, and the first step is still lr * sign(g):
 * theta_1 = 1 - 0.1 * 2.1/(2.1 + 1e-8). AdamW (decoupled): theta <- theta (1 - 0.1*0.1) = 0.99 first, the
 * moments see g = 2: theta_1 = 0.99 - 0.1 * 2/(2 + 1e-8) = 0.89. */
static void test_adam_weight_decay_vs_adamw(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_ADAM);
    oc.lr = 0.1, oc.weight_decay = 0.1;
    const double want_adam[] = {1 - 0.1 * 2.1 / (2.1 + 1e-8)};
    both_precisions(&oc, 1, want_adam);
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_ADAMW);
    assert_true(oc.weight_decay == 1e-2); /* torch's AdamW default */
    oc.lr = 0.1, oc.weight_decay = 0.1;
    const double want_adamw[] = {0.99 - 0.1 * 2 / (2 + 1e-8)};
    both_precisions(&oc, 1, want_adamw);
}

static void test_optim_checks(void **state)
{
    (void)state;
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_SGD);
    oc.nesterov = 1;
    assert_int_equal(rnnlab_optim_config_check(&oc), RNNLAB_ERR_CONFIG); /* nesterov without momentum */
    assert_non_null(strstr(rnnlab_last_error(), "nesterov"));
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_ADAM);
    oc.beta1 = 1;
    assert_int_equal(rnnlab_optim_config_check(&oc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "beta1"));
    oc.beta1 = 0.9, oc.lr = -1;
    assert_int_equal(rnnlab_optim_config_check(&oc), RNNLAB_ERR_CONFIG);
    rnnlab_optim_kind k;
    assert_int_equal(rnnlab_optim_parse("adamw", &k), RNNLAB_OK);
    assert_int_equal(k, RNNLAB_OPTIM_ADAMW);
    assert_int_equal(rnnlab_optim_parse("adagrad", &k), RNNLAB_ERR_CONFIG);
    assert_string_equal(rnnlab_optim_state_name(RNNLAB_OPTIM_ADAM, 1), "exp_avg_sq");
    assert_null(rnnlab_optim_state_name(RNNLAB_OPTIM_SGD, 1));
    /* a model of another size or precision, and a bad learning rate, change nothing */
    rnnlab_model *a = small_model(RNNLAB_FLOAT64), *b = small_model(RNNLAB_FLOAT32);
    rnnlab_optim *o = NULL;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_SGD);
    assert_int_equal(rnnlab_optim_create(&o, a, &oc), RNNLAB_OK);
    assert_int_equal(rnnlab_optim_step(o, b, 0.1), RNNLAB_ERR_SHAPE);
    assert_int_equal(rnnlab_optim_step(o, a, NAN), RNNLAB_ERR_CONFIG);
    assert_int_equal(o->step, 0);
    rnnlab_optim_free(o);
    rnnlab_optim_free(NULL);
    rnnlab_model_free(a), rnnlab_model_free(b);
}

/* ---------------------------------------------------------------- schedules */

/* step: base 0.1, step_size 3, gamma 0.5: 0.1 for updates after 0, 1, 2 done; 0.05 after 3..5; 0.025 after 6.
 * cosine: base 0.1, eta_min 0.01, t_max 10: 0.1 at 0; 0.01 + 0.09 (1 + cos(pi/2))/2 = 0.055 at 5;
 * 0.01 + 0.09 (1 + cos(pi/4))/2 at 2.5 (not an integer step, so at 5 of t_max 20); 0.01 at 10. */
static void test_schedules(void **state)
{
    (void)state;
    rnnlab_schedule s;
    rnnlab_schedule_init(&s);
    assert_int_equal(s.kind, RNNLAB_SCHEDULE_CONSTANT);
    assert_true(rnnlab_schedule_lr(&s, 0.1, 12345) == 0.1);
    s.kind = RNNLAB_SCHEDULE_STEP, s.step_size = 3, s.gamma = 0.5;
    const double step_want[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025};
    for (int k = 0; k < 7; k++) assert_close1("step lr", rnnlab_schedule_lr(&s, 0.1, k), step_want[k], 0, 1e-15);
    s.kind = RNNLAB_SCHEDULE_COSINE, s.t_max = 10, s.eta_min = 0.01;
    assert_close1("cosine lr at 0", rnnlab_schedule_lr(&s, 0.1, 0), 0.1, 0, 1e-15);
    assert_close1("cosine lr at t_max/2", rnnlab_schedule_lr(&s, 0.1, 5), 0.055, 0, 1e-15);
    assert_close1("cosine lr at t_max", rnnlab_schedule_lr(&s, 0.1, 10), 0.01, 0, 1e-15);
    s.t_max = 20;
    assert_close1("cosine lr at t_max/4", rnnlab_schedule_lr(&s, 0.1, 5), 0.01 + 0.09 * (1 + sqrt(0.5)) / 2, 0, 1e-15);
    s.t_max = 0;
    assert_int_equal(rnnlab_schedule_check(&s), RNNLAB_ERR_CONFIG);
    rnnlab_schedule_kind k;
    assert_int_equal(rnnlab_schedule_parse("cosine", &k), RNNLAB_OK);
    assert_int_equal(rnnlab_schedule_parse("linear", &k), RNNLAB_ERR_CONFIG);
}

/* ---------------------------------------------------------------- clipping */

/* Gradients: weight_ih_l0 = (3, 4) (norm 5), weight_hh_l0 = (0, 0, 0, 12) (norm 12), the rest 0; the
 * global norm is sqrt(25 + 144) = 13. */
static rnnlab_model *clip_model(rnnlab_dtype dt)
{
    rnnlab_model *m = small_model(dt);
    rnnlab_model_zero_grad(m);
    const size_t w = m->tensors[rnnlab_model_find(m, "weight_ih_l0")].offset;
    const size_t u = m->tensors[rnnlab_model_find(m, "weight_hh_l0")].offset;
    set_grad(m, w, 3), set_grad(m, w + 1, 4), set_grad(m, u + 3, 12);
    return m;
}

static void test_clip_modes(void **state)
{
    (void)state;
    for (int p = 0; p < 2; p++) {
        const rnnlab_dtype dt = p ? RNNLAB_FLOAT32 : RNNLAB_FLOAT64;
        const double rt = p ? 1e-6 : 1e-15;
        double norms[16];
        rnnlab_clip_result cr;
        /* none: measures only */
        rnnlab_model *m = clip_model(dt);
        const int iw = rnnlab_model_find(m, "weight_ih_l0"), iu = rnnlab_model_find(m, "weight_hh_l0");
        const size_t w = m->tensors[iw].offset, u = m->tensors[iu].offset;
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_NONE, 0, norms, &cr), RNNLAB_OK);
        assert_close1("global norm", cr.global_norm, 13, 0, rt);
        assert_close1("norm of weight_ih", norms[iw], 5, 0, rt);
        assert_close1("norm of weight_hh", norms[iu], 12, 0, rt);
        assert_int_equal(cr.fired, 0);
        assert_true(grad_at(m, w) == 3);
        rnnlab_model_free(m);

        /* global norm 6.5: every gradient times c = 6.5/(13 + 1e-6), about 1/2 */
        const double c = 6.5 / (13 + 1e-6);
        m = clip_model(dt);
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_GLOBAL_NORM, 6.5, norms, &cr), RNNLAB_OK);
        assert_int_equal(cr.fired, 1);
        assert_close1("global: weight_ih[0]", grad_at(m, w), 3 * c, 0, rt);
        assert_close1("global: weight_ih[1]", grad_at(m, w + 1), 4 * c, 0, rt);
        assert_close1("global: weight_hh[3]", grad_at(m, u + 3), 12 * c, 0, rt);
        assert_close1("global: pre-clip norm", norms[iu], 12, 0, rt);
        rnnlab_model_free(m);

        /* per tensor 6.5: weight_ih (norm 5) is left alone, weight_hh (norm 12) becomes 12 * 6.5/(12 + 1e-6) */
        m = clip_model(dt);
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_TENSOR_NORM, 6.5, NULL, &cr), RNNLAB_OK);
        assert_int_equal(cr.fired, 1);
        assert_int_equal(cr.tensors_clipped, 1);
        assert_true(grad_at(m, w) == 3 && grad_at(m, w + 1) == 4); /* differs from global clipping */
        assert_close1("tensor: weight_hh[3]", grad_at(m, u + 3), 12 * 6.5 / (12 + 1e-6), 0, rt);
        rnnlab_model_free(m);

        /* by value 2.5: (3, 4) -> (2.5, 2.5), 12 -> 2.5 */
        m = clip_model(dt);
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_VALUE, 2.5, NULL, &cr), RNNLAB_OK);
        assert_int_equal(cr.tensors_clipped, 2);
        assert_true(grad_at(m, w) == 2.5 && grad_at(m, w + 1) == 2.5 && grad_at(m, u + 3) == 2.5);
        rnnlab_model_free(m);

        /* a threshold above the norm does nothing */
        m = clip_model(dt);
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_GLOBAL_NORM, 20, NULL, &cr), RNNLAB_OK);
        assert_int_equal(cr.fired, 0);
        assert_true(grad_at(m, u + 3) == 12);
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_GLOBAL_NORM, 0, NULL, &cr), RNNLAB_ERR_CONFIG);

        /* a non-finite gradient: named, nothing changed */
        set_grad(m, u, NAN);
        assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_GLOBAL_NORM, 1, NULL, &cr), RNNLAB_ERR_NUMERIC);
        assert_non_null(strstr(rnnlab_last_error(), "weight_hh_l0"));
        assert_true(grad_at(m, w) == 3);
        rnnlab_model_free(m);
    }
}

/* Norms of tiny and huge gradients neither underflow nor overflow (scaled accumulation in double). */
static void test_clip_norm_range(void **state)
{
    (void)state;
    rnnlab_model *m = small_model(RNNLAB_FLOAT64);
    rnnlab_model_zero_grad(m);
    set_grad(m, 0, 3e-200), set_grad(m, 1, 4e-200);
    rnnlab_clip_result cr;
    assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_NONE, 0, NULL, &cr), RNNLAB_OK);
    assert_close1("tiny norm", cr.global_norm, 5e-200, 0, 1e-14);
    set_grad(m, 0, 3e200), set_grad(m, 1, 4e200);
    assert_int_equal(rnnlab_clip_grads(m, RNNLAB_CLIP_GLOBAL_NORM, 1, NULL, &cr), RNNLAB_OK);
    assert_close1("huge norm", cr.global_norm, 5e200, 0, 1e-14);
    assert_close1("clipped to norm 1", grad_at(m, 0), 0.6, 0, 1e-12);
    for (size_t j = 0; j < m->n_params; j++) rnnlab_model_param_set_at(m, j, j == 0 ? -2 : 0);
    assert_close1("param norm", rnnlab_param_norm(m, 0), 2, 0, 1e-15);
    rnnlab_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_nesterov),
        cmocka_unit_test(test_sgd_dampening_weight_decay),
        cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_rmsprop_centered_momentum),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adam_weight_decay_vs_adamw),
        cmocka_unit_test(test_optim_checks),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_clip_modes),
        cmocka_unit_test(test_clip_norm_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
