/* rng.h: seeded random numbers for initialization and dropout.
 *
 * Two generators:
 *  - xoshiro256** (sequential state, seeded with splitmix64) for parameter
 *    initialization and for drawing one dropout key per training step;
 *  - a counter-based hash for dropout masks: element i of dropout site s
 *    keeps or drops depending only on (key, s, i). The backward pass recomputes
 *    the mask instead of storing it, and the mask never depends on how the
 *    work is split among threads. */
#ifndef SS_RNG_H
#define SS_RNG_H

#include <stdint.h>

void ss__rng_seed(uint64_t s[4], uint64_t seed);
uint64_t ss__rng_next(uint64_t s[4]);
/* Uniform in [0,1) with 53 random bits. */
double ss__rng_uniform(uint64_t s[4]);
/* Standard normal (Box-Muller, one draw per call: the state stays 4 words). */
double ss__rng_normal(uint64_t s[4]);

/* splitmix64 finalizer: a good 64-bit mixing function. */
static inline uint64_t ss__mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Key of dropout site `site` for a step key. */
static inline uint64_t ss__dropout_site(uint64_t key, uint64_t site)
{
    return ss__mix64(key + 0x9e3779b97f4a7c15ULL * (site + 1));
}

/* Drop threshold in units of 2^-24 (keep iff 24 hash bits >= threshold). */
static inline uint32_t ss__dropout_threshold(float p)
{
    if (!(p > 0)) return 0;
    double t = (double)p * 16777216.0 + 0.5;
    return t >= 16777216.0 ? 16777216u : (uint32_t)t;
}

/* 1 if element i is kept at this site. */
static inline int ss__dropout_keep(uint64_t site_key, uint64_t i, uint32_t threshold)
{
    return (uint32_t)(ss__mix64(site_key ^ (i * 0xd1b54a32d192ed03ULL)) >> 40) >= threshold;
}

#endif
