/* quant.c: per-row symmetric int8 quantization (see quant.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "base/common.h"
#include "nn/quant.h"

/* x rounded to 17 significant bits: then q * s (|q| <= 127, 7 bits) is
 * exact in float, so the quantization of a dequantized row finds the same
 * maximum, the same scale and the same q (a model converted twice is
 * byte-identical). The cost, a relative error of 2^-18 in the scale, is
 * nothing beside int8's 1/254. */
static float scale17(double x)
{
    if (x == 0.0) return 0.0f;
    int e;
    double m = frexp(x, &e); /* x = m 2^e, m in [0.5, 1) */
    return (float)ldexp(nearbyint(m * 131072.0) / 131072.0, e);
}

void ss__q8_quantize(int8_t *q, float *scale, const float *w, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = w + r * cols;
        float mx = 0.0f;
        for (size_t c = 0; c < cols; c++) mx = fabsf(x[c]) > mx ? fabsf(x[c]) : mx;
        float s = scale17((double)mx / SS__Q8_MAX);
        scale[r] = s;
        int8_t *o = q + r * cols;
        if (s == 0.0f) {
            memset(o, 0, cols);
            continue;
        }
        double inv = 1.0 / (double)s;
        for (size_t c = 0; c < cols; c++) {
            long v = lrint((double)x[c] * inv);
            o[c] = (int8_t)(v > SS__Q8_MAX ? SS__Q8_MAX : v < -SS__Q8_MAX ? -SS__Q8_MAX : v);
        }
    }
}

void ss__q8_dequantize(float *w, const int8_t *q, const float *scale, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        float s = scale[r];
        const int8_t *x = q + r * cols;
        float *o = w + r * cols;
        for (size_t c = 0; c < cols; c++) o[c] = (float)x[c] * s;
    }
}

int ss__q8_from_f32(ss__q8 *q, const float *w, size_t rows, size_t cols)
{
    memset(q, 0, sizeof *q);
    q->q = ss__malloc(rows * cols + 1);
    q->scale = ss__malloc(rows * sizeof(float) + 1);
    if (!q->q || !q->scale) {
        ss__q8_clear(q);
        return ss__fail(SS_ERR_NOMEM, "out of memory for an int8 matrix of %zu x %zu", rows, cols);
    }
    q->rows = rows, q->cols = cols;
    ss__q8_quantize(q->q, q->scale, w, rows, cols);
    return SS_OK;
}

void ss__q8_clear(ss__q8 *q)
{
    if (!q) return;
    ss_free(q->q);
    ss_free(q->scale);
    memset(q, 0, sizeof *q);
}
