/* layers.h: the encoder's layers, each a *_forward / *_backward pair
 * (llm.c style). Shapes in comments: B batch rows, T positions, C channels
 * (d_model), NH heads, F feed-forward width, V vocabulary, N = B*T rows.
 *
 * Conventions:
 *  - matrix products go through cblas_sgemm; elementwise work is OpenMP
 *    parallel; BLAS is never called inside an OpenMP region;
 *  - reductions over rows (bias and LayerNorm weight gradients) are split by
 *    columns, each column summed in a fixed order, so results do not depend
 *    on the number of threads;
 *  - "+=" in a comment means the function accumulates into that output,
 *    "=" that it overwrites it;
 *  - dropout (probability p, key from rng.h) is recomputed in backward from
 *    the same key; p = 0 disables it.
 * The naive reference of every kernel (double precision, plain loops) is in
 * layers_ref.h; the tests compare the two. */
#ifndef SS_LAYERS_H
#define SS_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#define SS_LN_EPS 1e-5f     /* LayerNorm epsilon (as PyTorch's default) */
#define SS_L2_EPS 1e-12f    /* L2 normalization: x / max(|x|, eps) */

/* out (B,T,C) = dropout(wte[ids] (V,C) + wpe[t] (L,C)) */
void ss__embedding_forward(float *out, const int32_t *ids, const float *wte, const float *wpe,
                           int B, int T, int C, float p, uint64_t key);
/* dwte (V,C) +=, dwpe (L,C) += from dout (B,T,C); rows where mask (B,T) is 0
 * are skipped (mask NULL: none). */
void ss__embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                            const uint8_t *mask, int B, int T, int C, float p, uint64_t key);

/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) kept for backward */
void ss__layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, int N, int C);
/* dinp (N,C) +=, dw (C) +=, db (C) += */
void ss__layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C);

/* out (N,OC) = inp (N,IC) w^T + bias, w (OC,IC) row-major, bias may be NULL */
void ss__matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                        int N, int IC, int OC);
/* dinp (N,IC) = dout w (skipped if NULL), dw (OC,IC) += dout^T inp,
 * dbias (OC) += column sums of dout (skipped if NULL) */
void ss__matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const float *inp, const float *w, int N, int IC, int OC);

/* Multi-head self-attention with a key padding mask.
 * qkv (B,T,3C) holds q, k, v (head h at channels h*hs..) -> out (B,T,C).
 * att (B,NH,T,T) = softmax(q k^T / sqrt(hs)) over keys whose mask is 1 (kept
 * for backward; masked keys get exactly 0); attd (B,NH,T,T) is scratch for
 * the dropped-out probabilities (unused when p = 0, may be NULL then).
 * mask (B,T) holds 0 or 1; every row must have at least one real key. */
void ss__attention_forward(float *out, float *att, float *attd, const float *qkv,
                           const uint8_t *mask, int B, int T, int C, int NH, float p,
                           uint64_t key);
/* dqkv (B,T,3C) = ...; datt (B,NH,T,T) scratch; attd scratch as in forward */
void ss__attention_backward(float *dqkv, float *datt, float *attd, const float *dout,
                            const float *qkv, const float *att, const uint8_t *mask, int B,
                            int T, int C, int NH, float p, uint64_t key);

/* GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void ss__gelu_forward(float *out, const float *inp, size_t n);
/* dinp = gelu'(inp) * dout (dinp may alias dout) */
void ss__gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* out = res + dropout(y) (n elements) */
void ss__residual_forward(float *out, const float *res, const float *y, size_t n, float p,
                          uint64_t key);
/* The residual path passes dout through unchanged; dy = dropout'(dout)
 * (dy may alias dout). */
void ss__residual_backward(float *dy, const float *dout, size_t n, float p, uint64_t key);

/* Pooling of (B,T,C) into (B,C): SS_POOL_MEAN over rows whose mask is 1,
 * SS_POOL_CLS the first position, SS_POOL_MAX per channel over real rows
 * (argmax (B,C) kept for backward, the first maximum wins). */
void ss__pool_forward(float *out, int32_t *argmax, const float *inp, const uint8_t *mask,
                      int B, int T, int C, int mode);
/* dinp (B,T,C) = ... (zero where nothing flows) */
void ss__pool_backward(float *dinp, const float *dout, const int32_t *argmax,
                       const uint8_t *mask, int B, int T, int C, int mode);

/* out (B,C) = inp / max(|inp|, eps) per row; norm (B) kept for backward */
void ss__l2norm_forward(float *out, float *norm, const float *inp, int B, int C);
/* dinp (B,C) = ... from out and norm */
void ss__l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                         int B, int C);

#endif
