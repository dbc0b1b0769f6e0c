/*
 * check_report.h - building rnnlab_check_report entries (internal; shared by the finite-difference
 * check and the PyTorch reference check).
 */
#ifndef RNNLAB_CHECK_REPORT_H
#define RNNLAB_CHECK_REPORT_H

#include "rnnlab/gradcheck.h"

/* Appends an entry called name (pass = 1, counters zero) and points *out at it. Pointers to earlier
 * entries are invalidated. Errors: RNNLAB_ERR_NOMEM. */
rnnlab_status rnnlab_report_add(rnnlab_check_report *rep, const char *name, rnnlab_check_entry **out);

/* Records the comparison of element i: engine value a, reference r. It passes when
 * |a - r| <= atol + tol * s, with s = max(|a|, |r|) if symmetric, else |r|; the relative error is
 * |a - r| / s. NaN anywhere fails; an infinity passes only against the same infinity (by the
 * formula any finite a would pass against r = inf). Counts the elements that pass by atol alone (n_floor) and keeps
 * the largest |r| (max_ref). */
void rnnlab_report_compare(rnnlab_check_entry *e, size_t i, double a, double r, double atol, double tol,
                           int symmetric);

/* Sets rep->all_pass from the entries. */
void rnnlab_report_finish(rnnlab_check_report *rep);

#endif
