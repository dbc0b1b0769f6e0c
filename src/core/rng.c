/*
 * rng.c - xoshiro256** seeded by splitmix64; uniform, normal and bounded integers.
 *
 * Sources: Blackman & Vigna 2018 (xoshiro256**), Steele, Lea & Flood 2014 (splitmix64),
 * Box & Muller 1958 (normal deviates), Lemire 2019 (bounded integers).
 */
#include "rnnlab/rng.h"

#include <math.h>

__extension__ typedef unsigned __int128 u128;

uint64_t rnnlab_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rnnlab_rng_seed(rnnlab_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        rng->s[i] = rnnlab_splitmix64(x);
        x += 0x9e3779b97f4a7c15ULL;
    }
    /* splitmix64 never maps four consecutive inputs to zero, so the state is non-zero */
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rnnlab_rng_next(rnnlab_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rnnlab_rng_uniform(rnnlab_rng *rng)
{
    return (double)(rnnlab_rng_next(rng) >> 11) * 0x1.0p-53;
}

double rnnlab_rng_normal(rnnlab_rng *rng)
{
    /* u1 in (0, 1] so that log(u1) is finite */
    double u1 = 1.0 - rnnlab_rng_uniform(rng);
    double u2 = rnnlab_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

uint64_t rnnlab_rng_below(rnnlab_rng *rng, uint64_t n)
{
    /* Lemire 2019: multiply-shift with rejection of the biased low range. */
    u128 m = (u128)rnnlab_rng_next(rng) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = (0 - n) % n;
        while (lo < thresh) {
            m = (u128)rnnlab_rng_next(rng) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t rnnlab_seed_derive(uint64_t base, uint64_t index)
{
    return rnnlab_splitmix64(rnnlab_splitmix64(base) ^ rnnlab_splitmix64(index + 0x632be59bd9b4e019ULL));
}
