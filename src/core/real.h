/*
 * real.h - the one switch between float32 and float64 (internal).
 *
 * Files that do arithmetic on model data are compiled twice, with -DRNNLAB_REAL_BITS=32 and =64 (the
 * BLAS s/d pattern): `real` is float or double, R(name) appends _f32 or _f64 to a function name,
 * and <tgmath.h> makes exp, tanh, log1p, ... pick the float or double version from their argument.
 * There are never two hand-kept copies of any cell or engine code. Reductions of values that can be
 * tiny (norms, sums of squares, losses) are accumulated in double whatever real is.
 */
#ifndef RNNLAB_REAL_H
#define RNNLAB_REAL_H

#include <float.h>
#include <tgmath.h>
#undef I /* <complex.h>, pulled in by <tgmath.h>, defines I; here I is the input size */

#if !defined(RNNLAB_REAL_BITS)
#error "compile with -DRNNLAB_REAL_BITS=32 or 64"
#elif RNNLAB_REAL_BITS == 32
typedef float real;
#define R(name) name##_f32
#define REAL_DTYPE RNNLAB_FLOAT32
#define REAL_MIN_NORMAL FLT_MIN
#elif RNNLAB_REAL_BITS == 64
typedef double real;
#define R(name) name##_f64
#define REAL_DTYPE RNNLAB_FLOAT64
#define REAL_MIN_NORMAL DBL_MIN
#else
#error "RNNLAB_REAL_BITS must be 32 or 64"
#endif

/* Small hot functions that must be inlined so their callers' loops vectorise (and so constant flag
 * arguments specialise them). */
#if defined(__GNUC__)
#define RNNLAB_INLINE inline __attribute__((always_inline))
#else
#define RNNLAB_INLINE inline
#endif

#endif
