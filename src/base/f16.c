/* f16.c: binary16 conversion by bit manipulation (portable; no F16C needed:
 * conversion happens once per load or save, not in the encoder). */
#include "config.h"

#include <string.h>

#include "base/f16.h"

uint16_t ss__f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) { /* inf or NaN */
        if (ax == 0x7f800000u) return sign | 0x7c00u;
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* quiet NaN */
    }
    /* 65520 lies halfway between 65504 (odd mantissa) and 2^16: ties to
     * even round it, and everything above it, to inf */
    if (ax >= 0x477ff000u) return sign | 0x7c00u;
    if (ax < 0x38800000u) { /* below 2^-14: an f16 subnormal or zero */
        if (ax < 0x33000000u) return sign; /* below 2^-25: rounds to 0 */
        uint32_t e = ax >> 23;                 /* 102..112 */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;              /* value = m >> shift units of 2^-24 */
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++; /* may carry into 2^-14: still right */
        return (uint16_t)(sign | h);
    }
    uint32_t h = (ax - 0x38000000u) >> 13; /* rebias the exponent from 127 to 15 */
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* a carry bumps the exponent */
    return (uint16_t)(sign | h);
}

float ss__f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0x1f) x = sign | 0x7f800000u | (m << 13);
    else if (e) x = sign | ((e + 112) << 23) | (m << 13);
    else if (!m) x = sign;
    else { /* subnormal: normalize the mantissa */
        uint32_t s = 0;
        while (!(m & 0x400u)) {
            m <<= 1;
            s++;
        }
        x = sign | ((113 - s) << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void ss__f32_to_f16_n(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = ss__f32_to_f16(src[i]);
}
