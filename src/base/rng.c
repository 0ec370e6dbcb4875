/* rng.c: xoshiro256** seeded by splitmix64 (Blackman and Vigna). */
#include "config.h"

#include <math.h>

#include "base/rng.h"

void ss__rng_seed(uint64_t s[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        s[i] = ss__mix64(x);
    }
    if (!(s[0] | s[1] | s[2] | s[3])) s[0] = 1; /* the all-zero state is a fixed point */
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ss__rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

double ss__rng_uniform(uint64_t s[4]) { return (double)(ss__rng_next(s) >> 11) * 0x1.0p-53; }

double ss__rng_normal(uint64_t s[4])
{
    double u1 = ss__rng_uniform(s), u2 = ss__rng_uniform(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
