/* lowp.h: low-precision matrix products (bf16, int8) through oneDNN, with
 * the same contract as ss__matmul_forward/backward in layers.h.
 *
 * oneDNN (libdnnl, optional at configure time: HAVE_DNNL) picks its kernels
 * for the CPU it runs on (AVX-512 BF16, VNNI, AMX), whatever BLAS does.
 * Which precisions run is decided at run time: ss__lowp_supported() is 0
 * without oneDNN, on a CPU without the instructions, or when SEMSEARCH_ISA
 * asks for the f32 fallback (f32, scalar, avx2); callers then use the f32
 * kernels of layers.c.
 *
 *  - bf16: inputs and weights rounded to bf16 (nearest even), products
 *    accumulated and returned in f32; the weights stay f32 (master copy)
 *    and are rounded at each call.
 *  - int8: weights int8 with a scale per output channel (quant.h); each
 *    activation row quantized on the fly to int8 with its own scale
 *    (max |x| / 127); int32 accumulation; out = acc * xscale[n] * wscale[o]
 *    + bias[o] in f32.
 *
 * A context holds oneDNN's engine, stream, a small cache of primitives (one
 * per shape, as a fixed-shape primitive is faster than a run-time-shape
 * one) and scratch buffers: one per encoder, used by one thread at a time. */
#ifndef SS_LOWP_H
#define SS_LOWP_H

#include <stddef.h>
#include <stdint.h>

#include "nn/quant.h"

/* 1 if precision SS_PREC_* runs here (SS_MATMUL_F32 always). */
int ss__lowp_supported(int prec);
/* The ISA oneDNN uses, for messages and benchmarks ("none" without it). */
const char *ss__lowp_isa(void);

typedef struct ss__lowp ss__lowp;

int ss__lowp_new(ss__lowp **out);
void ss__lowp_free(ss__lowp *lp);

/* out (N,OC) = inp (N,IC) w^T + bias in bf16 x bf16 -> f32; w (OC,IC) f32 */
int ss__lowp_matmul_bf16(ss__lowp *lp, float *out, const float *inp, const float *w, const float *bias,
                         int N, int IC, int OC);
/* The backward of it: dinp (N,IC) = dout w (skipped if NULL), dw (OC,IC) +=
 * dout^T inp, dbias (OC) += column sums of dout (f32, skipped if NULL). */
int ss__lowp_matmul_bf16_backward(ss__lowp *lp, float *dinp, float *dw, float *dbias, const float *dout,
                                  const float *inp, const float *w, int N, int IC, int OC);
/* out (N,OC) = quant(inp) (N,IC) q^T * scales + bias; q (OC,IC) */
int ss__lowp_matmul_q8(ss__lowp *lp, float *out, const float *inp, const ss__q8 *q, const float *bias, int N,
                       int IC, int OC);

/* f32 -> bf16, round to nearest even (NaN stays NaN) */
void ss__f32_to_bf16_n(const float *src, uint16_t *dst, size_t n);
/* per row: scale[n] = max |x| / 127, q = round(x / scale) */
void ss__quant_rows_dynamic(int8_t *q, float *scale, const float *x, int N, int C);

#endif
