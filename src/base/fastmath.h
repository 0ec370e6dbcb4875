/* fastmath.h: exp and GELU written so that loops using them vectorize
 * (libm's expf/tanhf are calls the compiler cannot vectorize, and they
 * dominate the elementwise cost of softmax and GELU otherwise). */
#ifndef SS_FASTMATH_H
#define SS_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* Hot elementwise loops get an AVX2+FMA clone chosen at load time (the
 * build targets baseline x86-64, whose SSE2 is half as wide). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(SS_NO_CLONES)
#define SS_VEC __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SS_VEC
#endif

static inline float ss__bits_to_float(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline int32_t ss__float_to_bits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* min/max as bit selects: a conditional here would be threaded by the
 * compiler into branches, and branches stop vectorization. */
static inline float ss__minf(float a, float b)
{
    int32_t m = -(int32_t)(a < b);
    return ss__bits_to_float((ss__float_to_bits(a) & m) | (ss__float_to_bits(b) & ~m));
}

static inline float ss__maxf(float a, float b)
{
    int32_t m = -(int32_t)(a > b);
    return ss__bits_to_float((ss__float_to_bits(a) & m) | (ss__float_to_bits(b) & ~m));
}

/* exp(x) with about 1 ulp error for x in [-87, 88] (clamped outside),
 * Cephes' range reduction and polynomial. */
static inline float ss__expf(float x)
{
    /* clamp so that 2^n below stays a finite normal float: n in [-126, 127] */
    x = ss__minf(x, 88.0f);
    x = ss__maxf(x, -87.0f);
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (no libm call) */
    float fn = x * 1.44269504088896341f + 12582912.0f;
    fn -= 12582912.0f;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    return y * ss__bits_to_float(((int32_t)fn + 127) << 23);
}

#define SS_GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define SS_GELU_A 0.044715f

/* GELU (tanh approximation) written as x * sigmoid(2u), u = k (x + a x^3):
 * the same function as 0.5 x (1 + tanh u), without the cancellation of
 * 1 + tanh u for negative x. */
static inline float ss__gelu(float x)
{
    float u = SS_GELU_K * (x + SS_GELU_A * x * x * x);
    return x / (1.0f + ss__expf(-2.0f * u));
}

/* d gelu / dx = s + 2 x s (1 - s) u', s = sigmoid(2u) */
static inline float ss__gelu_grad(float x)
{
    float x2 = x * x;
    float u = SS_GELU_K * (x + SS_GELU_A * x2 * x);
    float du = SS_GELU_K * (1.0f + 3.0f * SS_GELU_A * x2);
    float s = 1.0f / (1.0f + ss__expf(-2.0f * u));
    return s + 2.0f * x * s * (1.0f - s) * du;
}

#endif
