/* quant.h: int8 weights with one symmetric scale per row (per output
 * channel of a weight matrix (OC,IC), per token of an embedding table):
 *
 *   w[r][c] ~= q[r][c] * scale[r],  scale[r] = max_c |w[r][c]| / 127,
 *   q[r][c] = round(w[r][c] / scale[r]) in [-127, 127]  (0 for a zero row)
 *
 * -128 is never produced (symmetric range) and a file holding it is
 * refused. In a GGUF file such a tensor has the type SS_GGML_Q8_ROW (gguf.h):
 * its data are the rows' scales (rows f32, little-endian), then the rows x
 * cols int8 values row-major, where cols is the last (fastest) dimension and
 * rows the product of the others. Per row rather than ggml's Q8_0 (a scale
 * per 32 values): a matrix product then applies the scale once per output,
 * after an int8 x int8 -> int32 product over the whole row (VNNI). */
#ifndef SS_QUANT_H
#define SS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define SS__Q8_MAX 127

/* An int8 matrix (rows, cols) and its row scales. */
typedef struct ss__q8 {
    int8_t *q;
    float *scale;
    size_t rows, cols;
} ss__q8;

/* q (rows*cols), scale (rows) from w (rows, cols); deterministic: the
 * quantization of a dequantized matrix gives back the same q and scale. */
void ss__q8_quantize(int8_t *q, float *scale, const float *w, size_t rows, size_t cols);
/* w (rows, cols) = q * scale per row */
void ss__q8_dequantize(float *w, const int8_t *q, const float *scale, size_t rows, size_t cols);
/* Allocates q->q and q->scale for (rows, cols) and quantizes w into them. */
int ss__q8_from_f32(ss__q8 *q, const float *w, size_t rows, size_t cols);
void ss__q8_clear(ss__q8 *q);

/* The int8 matrices of a block, in this order. */
enum { SS__Q8_QKV, SS__Q8_PROJ, SS__Q8_UP, SS__Q8_DOWN, SS__Q8_PER_BLOCK };
static inline size_t ss__q8_index(int layer, int which) { return (size_t)layer * SS__Q8_PER_BLOCK + which; }

#endif
