/*
 * diag.c - saturation and the Jacobian view, read from the forward cache. Compiled once per
 * precision (core/real.h). Definitions: rnnlab/diag.h.
 *
 * Dimension legend: B batch, T steps, H hidden size, G gates, GH = G*H, S the state size of the
 * Jacobian (H, or 2H for the lstm's (h, c)).
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/internal.h"
#include "core/gemm.h"
#include "engine/bptt_ws.h"
#include "engine/engine_generic.h"
#include "engine/diag_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- saturation */

/* Over samples 0..nb-1; returns the values counted (the fractions' denominator). */
long R(rnnlab_diag_saturation_impl)(const rnnlab_bptt *ws, const rnnlab_model *m, int l0, int l1, int nb,
                                    rnnlab_saturation *out)
{
    const int B = ws->B, H = ws->H, GH = ws->GH;
    const rnnlab_cell_kind cell = m->cfg.cell;
    const rnnlab_activation act = m->cfg.activation;
    const int bounded = cell != RNNLAB_CELL_RNN || act == RNNLAB_ACT_TANH || act == RNNLAB_ACT_SIGMOID;
    const int relu = cell == RNNLAB_CELL_RNN && act == RNNLAB_ACT_RELU;
    /* the sigmoid gates' blocks: lstm i, f, o = blocks 0, 1, 3 (g = 2 is the candidate); gru r, z = 0, 1
       (n = 2 is the candidate) */
    const int gate_block[3] = {0, 1, cell == RNNLAB_CELL_LSTM ? 3 : -1};
    const int n_gates = cell == RNNLAB_CELL_LSTM ? 3 : cell == RNNLAB_CELL_GRU ? 2 : 0;
    const int cand_block = 2;
    /* integer counts (exact, and they vectorise); a sample's real steps t < len[b] only */
    long n_units = 0, n_sat = 0, n_dead = 0, n_cand = 0, n_gate[3] = {0, 0, 0};
    for (int l = l0; l <= l1; l++)
        for (int t = 0; t < ws->Teff; t++)
            for (int b = 0; b < nb; b++) {
                if (t >= ws->len[b]) continue;
                const real *h = (const real *)ws->Hs[l] + ((size_t)(t + 1) * B + b) * H;
                const real *g = (const real *)ws->gates[l] + ((size_t)t * B + b) * GH;
                n_units += H;
                for (int j = 0; j < H; j++) n_sat += h[j] > (real)0.99 || h[j] < (real)-0.99, n_dead += h[j] == 0;
                for (int k = 0; k < n_gates; k++) {
                    const real *gk = g + (size_t)gate_block[k] * H;
                    for (int j = 0; j < H; j++) n_gate[k] += gk[j] < (real)0.1 || gk[j] > (real)0.9;
                }
                if (n_gates)
                    for (int j = 0; j < H; j++) {
                        const real c = g[(size_t)cand_block * H + j];
                        n_cand += c > (real)0.99 || c < (real)-0.99;
                    }
            }
    const double nu = (double)n_units;
    out->h = bounded && n_units ? (double)n_sat / nu : NAN;
    out->dead = relu && n_units ? (double)n_dead / nu : NAN;
    for (int k = 0; k < 3; k++) out->gate[k] = k < n_gates && n_units ? (double)n_gate[k] / nu : NAN;
    out->candidate = n_gates && n_units ? (double)n_cand / nu : NAN;
    return n_units;
}

/* ---------------------------------------------------------------- Jacobian */

/* 64 bytes of the model's precision as one vector (gcc and clang's vector extension: one AVX-512
 * register, or two AVX2 ones): VL = 16 floats or 8 doubles */
typedef real rvec __attribute__((vector_size(64)));
enum { VL = 64 / sizeof(real) };
/* (a vector times a scalar broadcasts the scalar: both compilers support it) */

/* y[0 .. VL nv) = M^T x over those columns of M (S, S) row-major: y_i = sum_j M_ji x_j, the even
 * and the odd j added in two partial sums (in order of j each), then the two added. nv <= 4 is a
 * constant where it is inlined, so that the 2 nv accumulators stay in registers and run as
 * independent chains of additions. */
static RNNLAB_INLINE void matvec_t_cols(const real *M, int S, const real *x, real *y, const int nv)
{
    rvec a0[4], a1[4];
    for (int k = 0; k < nv; k++) a0[k] = a1[k] = (rvec){0};
    int j = 0;
    for (; j + 2 <= S; j += 2) {
        const real b0 = x[j], b1 = x[j + 1];
        for (int k = 0; k < nv; k++) {
            rvec m0, m1;
            memcpy(&m0, M + (size_t)j * S + VL * k, sizeof m0);
            memcpy(&m1, M + (size_t)(j + 1) * S + VL * k, sizeof m1);
            a0[k] += m0 * b0, a1[k] += m1 * b1;
        }
    }
    if (j < S) {
        const real b0 = x[j];
        for (int k = 0; k < nv; k++) {
            rvec m0;
            memcpy(&m0, M + (size_t)j * S + VL * k, sizeof m0);
            a0[k] += m0 * b0;
        }
    }
    for (int k = 0; k < nv; k++) a0[k] += a1[k];
    memcpy(y, a0, (size_t)nv * sizeof(rvec));
}

/* y = M^T x for M (S, S) row-major (the build fuses no multiply-add): blocks of up to 4 vectors of
 * outputs through matvec_t_cols, the last S mod VL outputs by a plain loop in order of j */
static void matvec_t(const real *M, int S, const real *x, real *y)
{
    int i0 = 0;
    for (; i0 + 4 * VL <= S; i0 += 4 * VL) matvec_t_cols(M + i0, S, x, y + i0, 4);
    const int nv = (S - i0) / VL;
    if (nv == 3) matvec_t_cols(M + i0, S, x, y + i0, 3);
    else if (nv == 2) matvec_t_cols(M + i0, S, x, y + i0, 2);
    else if (nv == 1) matvec_t_cols(M + i0, S, x, y + i0, 1);
    i0 += nv * VL;
    if (i0 < S) {
        for (int i = i0; i < S; i++) y[i] = 0;
        for (int j = 0; j < S; j++) {
            const real *m = M + (size_t)j * S, xj = x[j];
            for (int i = i0; i < S; i++) y[i] += m[i] * xj;
        }
    }
}

/* The lanes of acc added as a fixed tree (lanes l and l + VL/2, then l and l + VL/4, ...: halves of
 * the vector, then scalars), then tail */
static RNNLAB_INLINE real lane_tree(const rvec *accp, real tail)
{
    const rvec acc = *accp; /* by address: a 64-byte vector argument would change the ABI without AVX-512 */
    typedef real half32 __attribute__((vector_size(32)));
    typedef real half16 __attribute__((vector_size(16)));
    half32 lo, hi;
    memcpy(&lo, &acc, sizeof lo);
    memcpy(&hi, (char *)&acc + sizeof lo, sizeof hi);
    lo += hi;
    half16 c, d;
    memcpy(&c, &lo, sizeof c);
    memcpy(&d, (char *)&lo + sizeof c, sizeof d);
    c += d;
#if RNNLAB_REAL_BITS == 32
    return ((c[0] + c[2]) + (c[1] + c[3])) + tail;
#else
    return (c[0] + c[1]) + tail;
#endif
}

/* sum_i a_i^2 into *aa and sum_i (a_i - k b_i)^2 into *r, in one pass: VL lanes each, then lane_tree
 * (no chain of n dependent additions, and the same order on every machine) */
static void sumsq_and_residual(const real *a, real k, const real *b, int n, real *aa, real *r)
{
    rvec acc = {0}, acr = {0};
    int i = 0;
    for (; i + VL <= n; i += VL) {
        rvec x, y;
        memcpy(&x, a + i, sizeof x), memcpy(&y, b + i, sizeof y);
        acc += x * x;
        x -= y * k;
        acr += x * x;
    }
    real ta = 0, tr = 0;
    for (; i < n; i++) ta += a[i] * a[i], tr += (a[i] - k * b[i]) * (a[i] - k * b[i]);
    *aa = lane_tree(&acc, ta), *r = lane_tree(&acr, tr);
}

/* sum_i a_i b_i in the same lanes and order (dotr(a, a, n): the first sum of sumsq_and_residual) */
static real dotr(const real *a, const real *b, int n)
{
    rvec acc = {0};
    int i = 0;
    for (; i + VL <= n; i += VL) {
        rvec x, y;
        memcpy(&x, a + i, sizeof x), memcpy(&y, b + i, sizeof y);
        acc += x * y;
    }
    real tail = 0;
    for (; i < n; i++) tail += a[i] * b[i];
    return lane_tree(&acc, tail);
}

/* LAPACK (OpenBLAS): selected eigenvalues of a symmetric tridiagonal matrix by bisection, and their
 * eigenvectors by inverse iteration (the trailing size_t are gfortran's lengths of the character
 * arguments) */
void dstebz_(const char *range, const char *order, const int *n, const double *vl, const double *vu, const int *il,
             const int *iu, const double *abstol, const double *d, const double *e, int *m, int *nsplit, double *w,
             int *iblock, int *isplit, double *work, int *iwork, int *info, size_t range_len, size_t order_len);
void dstein_(const int *n, const double *d, const double *e, const int *m, const double *w, const int *iblock,
             const int *isplit, double *z, const int *ldz, double *work, int *iwork, int *ifail, int *info);

/* Scratch of the Lanczos iteration for S: Q (S, S) in the model's precision; alpha, beta, d, e, ev, z
 * (S each), work (5 S) in double; iblock, isplit, ifail (S each), iwork (3 S) */
typedef struct lanczos_ws {
    real *Q;
    double *alpha, *beta, *d, *e, *ev, *z, *work;
    int *iblock, *isplit, *ifail, *iwork;
} lanczos_ws;

/* The largest eigenvalue of the Lanczos matrix T_m (alpha on the diagonal, beta beside it) into the
 * return value and its unit eigenvector into L->z; *res = beta[m-1] |z[m-1]|, the residual of its
 * Ritz pair (the standard Lanczos error estimate: Golub & Van Loan, Chapter 10). -1 if LAPACK fails. */
static double ritz_top(const lanczos_ws *L, int m, double *res)
{
    for (int i = 0; i < m; i++) L->d[i] = L->alpha[i], L->e[i] = L->beta[i];
    const double zero = 0;
    const int one = 1;
    int found = 0, nsplit = 0, info = 0;
    dstebz_("I", "B", &m, &zero, &zero, &m, &m, &zero, L->d, L->e, &found, &nsplit, L->ev, L->iblock, L->isplit,
            L->work, L->iwork, &info, 1, 1);
    if (info || found != 1) return -1;
    dstein_(&m, L->d, L->e, &one, L->ev, L->iblock, L->isplit, L->z, &m, L->work, L->iwork, L->ifail, &info);
    if (info) return -1;
    *res = L->beta[m - 1] * fabs(L->z[m - 1]);
    return L->ev[0];
}

/* The largest eigenvalue of C = A^T A by Lanczos from the unit vector v (Lanczos 1950; Golub & Van
 * Loan, Matrix Computations, 4th ed., Chapter 10), with full reorthogonalisation (twice
 * against every earlier vector), so that it ends after at most S steps with T_S similar to C. The
 * top Ritz pair is checked every 8 steps and stops at residual <= tol theta; v gets its Ritz vector.
 * -1 if LAPACK fails. */
static double lanczos_top(const real *Ar, const real *At, int S, real *v, real *u, real *w, const lanczos_ws *L,
                          double tol)
{
    real *Q = L->Q;
    memcpy(Q, v, (size_t)S * sizeof(real));
    double theta = -1, res = 0;
    int m = 0;
    for (int k = 0; k < S; k++) {
        const real *q = Q + (size_t)k * S;
        matvec_t(At, S, q, u);
        matvec_t(Ar, S, u, w); /* w = C q_k */
        const real a = dotr(q, w, S), bp = k ? (real)L->beta[k - 1] : 0;
        for (int j = 0; j < S; j++) w[j] -= a * q[j] + (k ? bp * Q[(size_t)(k - 1) * S + j] : 0);
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i <= k; i++) {
                const real *qi = Q + (size_t)i * S, c = dotr(qi, w, S);
                for (int j = 0; j < S; j++) w[j] -= c * qi[j];
            }
        const real b = sqrt(dotr(w, w, S));
        L->alpha[k] = a, L->beta[k] = b, m = k + 1;
        const int last = k == S - 1 || !(b > 0) || !isfinite(b); /* the whole space, or an invariant one */
        if (last || m % 8 == 0) {
            theta = ritz_top(L, m, &res);
            if (theta < 0 || last || res <= tol * theta) break;
        }
        real *qn = Q + (size_t)(k + 1) * S;
        for (int j = 0; j < S; j++) qn[j] = w[j] / b;
    }
    if (theta < 0) return -1;
    for (int j = 0; j < S; j++) v[j] = 0;
    for (int i = 0; i < m; i++) {
        const real zi = (real)L->z[i], *qi = Q + (size_t)i * S;
        for (int j = 0; j < S; j++) v[j] += zi * qi[j];
    }
    const real vn = sqrt(dotr(v, v, S));
    if (vn > 0)
        for (int j = 0; j < S; j++) v[j] /= vn;
    return theta;
}

/* Largest singular value of A (S, S): the square root of the largest eigenvalue of C = A^T A, from
 * the unit vector v (S), which is updated (warm start for the next call), in the model's precision.
 * A is given twice, row-major as Ar and transposed as At, so that both products run over contiguous
 * rows (matvec_t: vectorised, no chain of dependent additions). Power iteration first: each
 * iteration forms u = A v, the Rayleigh quotient theta = |u|^2 = v^T C v and w = C v = A^T u, and
 * stops once the residual |w - theta v| <= tol theta: then an eigenvalue of C lies within tol theta
 * of theta (the residual bound for symmetric matrices: Parlett, The Symmetric Eigenvalue Problem,
 * 1998, Chapter 4), so sqrt(theta) is within tol / 2 relative of a singular value of A, which
 * power iteration makes the largest (or one of a cluster at the top within the bound). tol is 1e-8
 * in double and 1e-5 in float (ten times above the rounding of a float residual). Where the top
 * eigenvalues nearly tie (orthogonal init) power iteration crawls: after 50 iterations Lanczos
 * takes over from its vector (lanczos_top: at most S steps, then exact to rounding).
 * u and w (S each) and L are scratch. */
static double spectral_norm(const real *Ar, const real *At, int S, real *v, real *u, real *w, const lanczos_ws *L)
{
#if RNNLAB_REAL_BITS == 32
    const real tol = 1e-5f;
#else
    const real tol = 1e-8;
#endif
    real theta = 0;
    int restarted = 0;
    for (int it = 0; it < 50; it++) {
        matvec_t(At, S, v, u); /* u = A v */
        theta = dotr(u, u, S);
        matvec_t(Ar, S, u, w); /* w = A^T u = C v */
        real wn, r;
        sumsq_and_residual(w, theta, v, S, &wn, &r);
        wn = sqrt(wn);
        if (wn == 0 && !restarted) { /* v in A's null space (A != 0 here): restart from A's largest row r,
                                        for which (A r)_r = |r|^2 > 0 */
            int best = 0;
            real bn = -1;
            for (int i = 0; i < S; i++) {
                const real n = dotr(Ar + (size_t)i * S, Ar + (size_t)i * S, S);
                if (n > bn) bn = n, best = i;
            }
            const real inv = 1 / sqrt(bn);
            for (int j = 0; j < S; j++) v[j] = Ar[(size_t)best * S + j] * inv;
            restarted = 1;
            continue;
        }
        if (wn == 0 || !isfinite(wn)) { /* not expected (A is scaled to max |a| = 1): a fixed direction next time */
            for (int j = 0; j < S; j++) v[j] = (real)(1 / sqrt((double)S));
            return sqrt((double)theta);
        }
        const real inv = 1 / wn;
        for (int j = 0; j < S; j++) v[j] = w[j] * inv;
        if (sqrt(r) <= tol * theta) return sqrt((double)theta);
    }
    const double t = lanczos_top(Ar, At, S, v, u, w, L, tol);
    return sqrt(t >= 0 ? t : (double)theta);
}

/* The larger of mx and max_k |x_k| in double; NaN when any x_k, or mx, is not finite. The maximum runs
 * on the bits with the sign cleared: for such bits the integer order is the order of the magnitudes
 * (infinity and NaN above every finite value), and an integer maximum vectorises. */
static double R(max_abs)(const real *x, size_t n, double mx)
{
#if RNNLAB_REAL_BITS == 32
    typedef uint32_t ubits;
#else
    typedef uint64_t ubits;
#endif
    const ubits mask = ~((ubits)1 << (RNNLAB_REAL_BITS - 1));
    ubits m = 0;
    for (size_t k = 0; k < n; k++) {
        ubits b;
        memcpy(&b, x + k, sizeof b);
        b &= mask;
        m = b > m ? b : m;
    }
    real r;
    memcpy(&r, &m, sizeof r);
    return !isfinite(r) || !isfinite(mx) ? NAN : (double)r > mx ? (double)r : mx;
}

rnnlab_status R(rnnlab_diag_jacobian_impl)(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples,
                                           double *norm, double *log10_norm)
{
    const int B = ws->B, H = ws->H, GH = ws->GH, T = ws->T, lstm = ws->Cs != NULL;
    const int S = lstm ? 2 * H : H, nb = RNNLAB_MIN(n_samples, B);
    const rnnlab_cell_opts o = R(rnnlab_cell_opts_of)(m);
    const R(rnnlab_cell_ops) *ops = R(rnnlab_cell_ops_get)(m->cfg.cell, &o);
    const int G = ws->G, lnorm = o.layer_norm;
    R(rnnlab_layer) p;
    R(rnnlab_layer_view)(m, l, &p);
    /* buffers: the product's rows (dh, dc parts) and the next ones, the backward's outputs and scratch,
       the power iteration's A, A^T, Lanczos basis and three vectors; with layer norm the replicated
       cache and layer-norm cache after them (without, the rows read the sample's cache in place) */
    const size_t SH = (size_t)S * H, SG = (size_t)S * GH, SS = (size_t)S * S;
    const size_t n_real = 3 * SG + 5 * SH + 3 * SS + 3 * (size_t)S + (lnorm ? 2 * SG + 6 * SH + (size_t)S * G + S : 0);
    real *buf = rnnlab_malloc(n_real * sizeof(real));
    double *dbuf = rnnlab_malloc((size_t)(2 * T + 11 * S) * sizeof(double));
    if (!buf || !dbuf) {
        rnnlab_free(buf), rnnlab_free(dbuf);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for the Jacobian of layer %d (S = %d)", l, S);
    }
    real *Mh = buf, *Mc = Mh + SH, *Mh2 = Mc + SH, *Mc2 = Mh2 + SH, *dct = Mc2 + SH;
    real *dzx = dct + SH, *dzh = dzx + SG, *scr = dzh + SG;
    real *Ar = scr + SG, *At = Ar + SS, *Q = At + SS, *v = Q + SS, *u = v + S, *w = u + S;
    real *g_rep = NULL, *e_rep = NULL, *h_rep = NULL, *c_rep = NULL, *hp_rep = NULL, *cp_rep = NULL;
    real *lnh_rep = NULL, *lnr_rep = NULL, *lnc_rep = NULL, *lncr_rep = NULL;
    if (lnorm) {
        g_rep = w + S, e_rep = g_rep + SG, h_rep = e_rep + SH, c_rep = h_rep + SH, hp_rep = c_rep + SH;
        cp_rep = hp_rep + SH, lnh_rep = cp_rep + SH, lnr_rep = lnh_rep + SG, lnc_rep = lnr_rep + (size_t)S * G;
        lncr_rep = lnc_rep + SH;
    }
    R(rnnlab_ln_step) ln_rep = {lnh_rep, lnr_rep, lstm ? lnc_rep : NULL, lstm ? lncr_rep : NULL};
    double *sum = dbuf, *mx_log = sum + T, *ld = mx_log + T;
    for (int t = 0; t < T; t++) sum[t] = 0, mx_log[t] = -INFINITY;
    int *count = (int *)rnnlab_calloc((size_t)T + 6 * (size_t)S, sizeof(int)), *li = count + T;
    double *logs = rnnlab_malloc((size_t)nb * T * sizeof(double));
    if (!count || !logs) {
        rnnlab_free(buf), rnnlab_free(dbuf), rnnlab_free(count), rnnlab_free(logs);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for the Jacobian of layer %d", l);
    }
    const lanczos_ws L = {Q, ld, ld + S, ld + 2 * S, ld + 3 * S, ld + 4 * S, ld + 5 * S, ld + 6 * S,
                          li, li + S, li + 2 * S, li + 3 * S};
    const real *Hl = ws->Hs[l], *Cl = lstm ? ws->Cs[l] : NULL, *gl = ws->gates[l];
    const real *el = ws->extra ? ws->extra[l] : NULL;
    for (int b = 0; b < nb; b++) {
        const int Tb = ws->len[b];
        double *lg = logs + (size_t)b * T;
        for (int t = 0; t < T; t++) lg[t] = NAN;
        /* M = d s_{Tb-1} / d s_{Tb-1} = I: rows e_i, split into the h part and the c part */
        memset(Mh, 0, SH * sizeof(real));
        if (lstm) memset(Mc, 0, SH * sizeof(real));
        for (int i = 0; i < S; i++) {
            if (i < H) Mh[(size_t)i * H + i] = 1;
            else Mc[(size_t)i * H + (i - H)] = 1;
        }
        for (int j = 0; j < S; j++) v[j] = (real)(1 / sqrt((double)S));
        double logscale = 0;
        lg[Tb - 1] = 0;
        for (int t = Tb - 1; t >= 1; t--) {
            /* M <- M J_t, J_t = d s_t / d s_{t-1}: each row of M is a cotangent of s_t */
            const size_t bh = ((size_t)t * B + b) * H;
            const real *g_src = gl + ((size_t)t * B + b) * GH;
            /* the S rows all read this sample's cache: in place (one_row), or replicated row by row
               where layer norm's backward needs a cache row per row */
            R(rnnlab_step_cache) cache = {g_src, el ? el + bh : NULL, Hl + bh + (size_t)B * H,
                                          lstm ? Cl + bh + (size_t)B * H : NULL, Hl + bh, lstm ? Cl + bh : NULL, NULL,
                                          1, 0};
            if (lnorm) {
                const R(rnnlab_ln_step) src = R(rnnlab_ln_step_of)(ws, l, t);
                for (int i = 0; i < S; i++) {
                    memcpy(g_rep + (size_t)i * GH, g_src, (size_t)GH * sizeof(real));
                    if (el) memcpy(e_rep + (size_t)i * H, el + bh, (size_t)H * sizeof(real));
                    memcpy(h_rep + (size_t)i * H, Hl + bh + (size_t)B * H, (size_t)H * sizeof(real));
                    memcpy(hp_rep + (size_t)i * H, Hl + bh, (size_t)H * sizeof(real));
                    if (lstm) {
                        memcpy(c_rep + (size_t)i * H, Cl + bh + (size_t)B * H, (size_t)H * sizeof(real));
                        memcpy(cp_rep + (size_t)i * H, Cl + bh, (size_t)H * sizeof(real));
                    }
                    memcpy(lnh_rep + (size_t)i * GH, src.hat + (size_t)b * GH, (size_t)GH * sizeof(real));
                    memcpy(lnr_rep + (size_t)i * G, src.rstd + (size_t)b * G, (size_t)G * sizeof(real));
                    if (lstm) {
                        memcpy(lnc_rep + (size_t)i * H, src.c_hat + (size_t)b * H, (size_t)H * sizeof(real));
                        lncr_rep[i] = src.c_rstd[b];
                    }
                }
                cache = (R(rnnlab_step_cache)){g_rep, el ? e_rep : NULL, h_rep, lstm ? c_rep : NULL, hp_rep,
                                               lstm ? cp_rep : NULL, &ln_rep, 0, 0};
            }
            ops->backward(Mh2, lstm ? Mc2 : NULL, dzx, dzh, lstm ? dct : NULL, NULL, Mh, lstm ? Mc : NULL, &cache, &p,
                          &o, S, H, scr);
            real *tmp = Mh;
            Mh = Mh2, Mh2 = tmp;
            if (lstm) tmp = Mc, Mc = Mc2, Mc2 = tmp;
            /* rescale so that the product never leaves the precision's range */
            const double mx = lstm ? R(max_abs)(Mc, SH, R(max_abs)(Mh, SH, 0)) : R(max_abs)(Mh, SH, 0);
            if (!isfinite(mx)) break; /* non-finite cache: leave the remaining steps NAN */
            if (mx > 0) {
                const real inv = (real)(1 / mx);
                for (size_t k = 0; k < SH; k++) Mh[k] *= inv;
                if (lstm)
                    for (size_t k = 0; k < SH; k++) Mc[k] *= inv;
                logscale += log10(mx);
            }
            for (int i = 0; i < S; i++) { /* A = [Mh | Mc], then its transpose */
                memcpy(Ar + (size_t)i * S, Mh + (size_t)i * H, (size_t)H * sizeof(real));
                if (lstm) memcpy(Ar + (size_t)i * S + H, Mc + (size_t)i * H, (size_t)H * sizeof(real));
            }
            R(rnnlab_transpose)(Ar, S, S, At);
            const double sigma = mx > 0 ? spectral_norm(Ar, At, S, v, u, w, &L) : 0;
            lg[t - 1] = sigma > 0 ? log10(sigma) + logscale : -INFINITY;
        }
        for (int t = 0; t < Tb; t++)
            if (!isnan(lg[t]) && lg[t] > mx_log[t]) mx_log[t] = lg[t];
    }
    /* mean over samples of 10^lg, computed around the largest term so that nothing overflows */
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < ws->len[b]; t++) {
            const double x = logs[(size_t)b * T + t];
            if (isnan(x)) continue;
            count[t]++;
            if (isfinite(mx_log[t])) sum[t] += pow(10.0, x - mx_log[t]);
        }
    for (int t = 0; t < T; t++) {
        if (!count[t]) {
            log10_norm[t] = NAN, norm[t] = NAN;
            continue;
        }
        log10_norm[t] = isfinite(mx_log[t]) ? mx_log[t] + log10(sum[t] / count[t]) : mx_log[t];
        norm[t] = pow(10.0, log10_norm[t]);
    }
    rnnlab_free(buf), rnnlab_free(dbuf), rnnlab_free(count), rnnlab_free(logs);
    return RNNLAB_OK;
}
