/* layers.h: the encoder's layers, each a *_forward / *_backward pair
 * (llm.c style). Shapes in comments: B sequences, N token rows, C channels
 * (d_model), NH heads, F feed-forward width, V vocabulary, L positions.
 *
 * Sequences are packed without padding: the N rows hold the real tokens of
 * sequence 0, then of sequence 1, ... (see ss__seqs). Padding therefore
 * costs nothing and needs no mask: a token attends exactly to the tokens of
 * its own sequence, and pooling runs over exactly those tokens.
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
 *    the same key; p = 0 disables it. Element i of a tensor (its index in
 *    the layout described) is kept or dropped by ss__dropout_keep(key, i).
 * The naive reference of every kernel (double precision, plain loops) is in
 * layers_ref.h; the tests compare the two. */
#ifndef SS_LAYERS_H
#define SS_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#define SS_LN_EPS 1e-5f     /* LayerNorm epsilon (as PyTorch's default) */
#define SS_L2_EPS 1e-12f    /* L2 normalization: x / max(|x|, eps) */

/* B packed sequences of len[b] >= 1 tokens each. */
typedef struct ss__seqs {
    int B;
    const int *start;  /* (B+1): sequence b is token rows start[b] .. start[b+1]-1 */
    const size_t *att; /* (B+1): its attention probabilities (NH,len,len) start at att[b] */
} ss__seqs;

/* Fills start and att (B+1 each) from the lengths; returns the number of
 * attention probabilities, att[B]. */
size_t ss__seqs_layout(int B, const int *len, int NH, int *start, size_t *att);

/* out (N,C) = dropout(wte[ids[n]] (V,C) + wpe[pos[n]] (L,C)) */
void ss__embedding_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                           const float *wpe, int N, int C, float p, uint64_t key);
/* The same from a token table stored as int8 with a scale per row
 * (quant.h): wte[id] = wq[id] * ws[id], computed as the dequantized table
 * would be, so the results are the same bits. */
void ss__embedding_forward_q8(float *out, const int32_t *ids, const int32_t *pos, const int8_t *wq,
                              const float *ws, const float *wpe, int N, int C, float p, uint64_t key);
/* dwte (V,C) +=, dwpe (L,C) += from dout (N,C) */
void ss__embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                            const int32_t *pos, int N, int C, float p, uint64_t key);

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

/* dbias (OC) += column sums of dout (N,OC), in a fixed order */
void ss__bias_backward(float *dbias, const float *dout, int N, int OC);

/* Multi-head self-attention within each sequence.
 * qkv (N,3C) holds q, k, v (head h at channels h*hs..) -> out (N,C).
 * att (att[B]) = softmax(q k^T / sqrt(hs)) of each sequence and head,
 * (NH,len,len) at att[b], kept for backward; attd (same size) is scratch
 * for the dropped-out probabilities (unused when p = 0, may be NULL then). */
void ss__attention_forward(float *out, float *att, float *attd, const float *qkv,
                           const ss__seqs *s, int C, int NH, float p, uint64_t key);
/* dqkv (N,3C) = ...; datt (att[B]) scratch; attd scratch as in forward */
void ss__attention_backward(float *dqkv, float *datt, float *attd, const float *dout,
                            const float *qkv, const float *att, const ss__seqs *s, int C, int NH,
                            float p, uint64_t key);

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

/* Pooling of each sequence's rows of inp (N,C) into out (B,D): SS_POOL_MEAN
 * over its tokens, SS_POOL_CLS its first token, SS_POOL_MAX per channel
 * (argmax (B,C) keeps the winning row for backward, the first maximum wins;
 * NULL at inference),
 * SS_POOL_MEANMAX both side by side, [mean | max] (D = 2C; the encoder then
 * normalizes each half on its own). D = ss__pool_dim(mode, C). */
static inline int ss__pool_dim(int mode, int C) { return mode == SS_POOL_MEANMAX ? 2 * C : C; }
void ss__pool_forward(float *out, int32_t *argmax, const float *inp, const ss__seqs *s, int C,
                      int mode);
/* dinp (N,C) from dout (B,D) (zero where nothing flows) */
void ss__pool_backward(float *dinp, const float *dout, const int32_t *argmax, const ss__seqs *s,
                       int C, int mode);

/* out (B,C) = inp / max(|inp|, eps) per row; norm (B) kept for backward */
void ss__l2norm_forward(float *out, float *norm, const float *inp, int B, int C);
/* dinp (B,C) = ... from out and norm */
void ss__l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                         int B, int C);

#endif
