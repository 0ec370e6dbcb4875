/* layers_ref.h: naive reference versions of the layers in layers.h, in
 * double precision with plain loops (no BLAS, no OpenMP). They are the test
 * oracle of the fast kernels, and their forward passes are what the
 * finite-difference gradient checks differentiate. Same shapes, same
 * "=" / "+=" conventions, same dropout masks (rng.h) as layers.h. */
#ifndef SS_LAYERS_REF_H
#define SS_LAYERS_REF_H

#include <stddef.h>
#include <stdint.h>

#include "nn/layers.h"
#include "semsearch.h"

void ss__ref_embedding_forward(double *out, const int32_t *ids, const int32_t *pos,
                               const double *wte, const double *wpe, int N, int C, double p,
                               uint64_t key);
void ss__ref_embedding_backward(double *dwte, double *dwpe, const double *dout,
                                const int32_t *ids, const int32_t *pos, int N, int C, double p,
                                uint64_t key);
void ss__ref_layernorm_forward(double *out, double *mean, double *rstd, const double *inp,
                               const double *w, const double *b, int N, int C);
void ss__ref_layernorm_backward(double *dinp, double *dw, double *db, const double *dout,
                                const double *inp, const double *w, const double *mean,
                                const double *rstd, int N, int C);
void ss__ref_matmul_forward(double *out, const double *inp, const double *w, const double *bias,
                            int N, int IC, int OC);
void ss__ref_matmul_backward(double *dinp, double *dw, double *dbias, const double *dout,
                             const double *inp, const double *w, int N, int IC, int OC);
/* att (s->att[B]) keeps the probabilities before dropout (no scratch needed) */
void ss__ref_attention_forward(double *out, double *att, const double *qkv, const ss__seqs *s,
                               int C, int NH, double p, uint64_t key);
void ss__ref_attention_backward(double *dqkv, const double *dout, const double *qkv,
                                const double *att, const ss__seqs *s, int C, int NH, double p,
                                uint64_t key);
void ss__ref_gelu_forward(double *out, const double *inp, size_t n);
void ss__ref_gelu_backward(double *dinp, const double *inp, const double *dout, size_t n);
void ss__ref_residual_forward(double *out, const double *res, const double *y, size_t n,
                              double p, uint64_t key);
void ss__ref_residual_backward(double *dy, const double *dout, size_t n, double p, uint64_t key);
void ss__ref_pool_forward(double *out, int32_t *argmax, const double *inp, const ss__seqs *s,
                          int C, int mode);
void ss__ref_pool_backward(double *dinp, const double *dout, const int32_t *argmax,
                           const ss__seqs *s, int C, int mode);
void ss__ref_l2norm_forward(double *out, double *norm, const double *inp, int B, int C);
void ss__ref_l2norm_backward(double *dinp, const double *dout, const double *out,
                             const double *norm, int B, int C);
/* In-batch InfoNCE over a, b (B,C): returns the loss; da, db (B,C) = its
 * gradient when non-NULL. */
double ss__ref_infonce(const double *a, const double *b, int B, int C, double temp, int symmetric,
                       double *da, double *db);

/* The whole encoder on a batch, params in the layout of ss__model_tensors().
 * out (B,C) = the L2-normalized embeddings; when dout is non-NULL, grads
 * (same layout as params) += d(sum dout*out)/d params. Dropout p with the
 * step key as in encoder.c. Returns SS_OK or SS_ERR_NOMEM. */
int ss__ref_model(const ss_config *c, const double *params, const ss_batch *b, double p,
                  uint64_t key, double *out, const double *dout, double *grads);

#endif
