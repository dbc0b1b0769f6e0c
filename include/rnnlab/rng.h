/*
 * rnnlab/rng.h - the seeded random generator, passed explicitly as an argument.
 *
 * There is no hidden global state and no rand(): every random draw in rnnlab comes from an
 * rnnlab_rng that the caller seeds and passes in, so a model initialised with seed s is the same
 * whatever the thread count, the platform's libc, or what else ran before.
 *
 * Generator: xoshiro256** (Blackman & Vigna 2018, "Scrambled linear pseudorandom number
 * generators"), state filled from the seed by splitmix64 (Steele, Lea & Flood 2014).
 */
#ifndef RNNLAB_RNG_H
#define RNNLAB_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A zeroed struct is not a valid generator: call rnnlab_rng_seed first. Plain data: copying the
 * struct forks the stream. */
typedef struct rnnlab_rng {
    uint64_t s[4]; /* xoshiro256** state */
} rnnlab_rng;

/* Seeds the generator from a 64-bit seed (any value, 0 included). */
void rnnlab_rng_seed(rnnlab_rng *rng, uint64_t seed);

/* Next 64 random bits. */
uint64_t rnnlab_rng_next(rnnlab_rng *rng);

/* Uniform double in [0, 1), 53 random bits. */
double rnnlab_rng_uniform(rnnlab_rng *rng);

/* Standard normal N(0, 1) by the Box-Muller transform (Box & Muller 1958); uses two uniforms per
 * call and keeps no spare, so the stream position depends only on the number of calls. */
double rnnlab_rng_normal(rnnlab_rng *rng);

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire 2019, rejection on the low word). */
uint64_t rnnlab_rng_below(rnnlab_rng *rng, uint64_t n);

/* One step of splitmix64 (Steele, Lea & Flood 2014) on x: a 64-bit mixing function,
 * z = x + 0x9e3779b97f4a7c15; z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 * z = (z ^ (z >> 27)) * 0x94d049bb133111eb; return z ^ (z >> 31) (all mod 2^64). */
uint64_t rnnlab_splitmix64(uint64_t x);

/* The seed of grid point `index` of a sweep whose base seed is `base`: a pure function of the
 * pair, so a run gets the same seed alone, inside a sweep, first or last, on any thread count:
 * splitmix64(splitmix64(base) ^ splitmix64(index + 0x632be59bd9b4e019)) (mod 2^64), for anyone
 * who re-derives a seed outside rnnlab (datasets/README.md's data order uses it). */
uint64_t rnnlab_seed_derive(uint64_t base, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
