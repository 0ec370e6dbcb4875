/* layers.c: the fast kernels (sgemm + OpenMP). See layers.h for the
 * contracts and layers_ref.c for the naive versions they are tested against. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "base/common.h"
#include "base/fastmath.h"
#include "nn/layers.h"
#include "base/rng.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 8192
/* Column block of the deterministic column reductions. */
#define COLBLK 64

/* s[c - c0] += sum over rows n (in order) of src[n*C + c], c in [c0, c1) */
SS_VEC static void colsum_block(double *restrict s, const float *restrict src, int N, int C,
                                int c0, int c1)
{
    for (int n = 0; n < N; n++) {
        const float *r = src + (size_t)n * C + c0;
#pragma omp simd
        for (int c = 0; c < c1 - c0; c++) s[c] += r[c];
    }
}

/* acc[c] += sum over rows n (in order) of src[n*C + c]. Split by columns so
 * that every column is summed in the same order whatever the thread count. */
static void colsum_add(float *acc, const float *src, int N, int C)
{
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * COLBLK, c1 = SS_MIN(C, c0 + COLBLK);
        double s[COLBLK] = {0};
        colsum_block(s, src, N, C, c0, c1);
        for (int c = c0; c < c1; c++) acc[c] += (float)s[c - c0];
    }
}

#define VCHUNK 4096 /* elements per call of a vectorized range function */

/* out[i] = (res ? res[i] : 0) + dropout(in[i]) for the n elements starting at
 * element index i0 of the tensor (out may alias in) */
SS_VEC static void dropout_range(float *out, const float *in, const float *res, size_t i0,
                                 size_t n, uint64_t key, uint32_t thr, float scale)
{
    if (res) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            out[i] = res[i] + in[i] * (scale * (float)ss__dropout_keep(key, i0 + i, thr));
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] * (scale * (float)ss__dropout_keep(key, i0 + i, thr));
    }
}

static void dropout_apply(float *out, const float *in, const float *res, size_t n, uint64_t key,
                          uint32_t thr, float scale)
{
    long nc = (long)((n + VCHUNK - 1) / VCHUNK);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (long k = 0; k < nc; k++) {
        size_t i = (size_t)k * VCHUNK;
        dropout_range(out + i, in + i, res ? res + i : NULL, i, SS_MIN(n - i, (size_t)VCHUNK), key,
                      thr, scale);
    }
}

/* ---------------------------------------------------------------- sequences */

size_t ss__seqs_layout(int B, const int *len, int NH, int *start, size_t *att)
{
    start[0] = 0;
    att[0] = 0;
    for (int b = 0; b < B; b++) {
        start[b + 1] = start[b] + len[b];
        att[b + 1] = att[b] + (size_t)NH * len[b] * len[b];
    }
    return att[B];
}

/* ---------------------------------------------------------------- embedding */

void ss__embedding_forward(float *out, const int32_t *ids, const int32_t *pos, const float *wte,
                           const float *wpe, int N, int C, float p, uint64_t key)
{
    uint32_t thr = ss__dropout_threshold(p);
    float scale = thr ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * C;
        const float *te = wte + (size_t)ids[n] * C, *pe = wpe + (size_t)pos[n] * C;
        for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
        if (thr) dropout_range(o, o, NULL, (size_t)n * C, (size_t)C, key, thr, scale);
    }
}

void ss__embedding_forward_q8(float *out, const int32_t *ids, const int32_t *pos, const int8_t *wq,
                              const float *ws, const float *wpe, int N, int C, float p, uint64_t key)
{
    uint32_t thr = ss__dropout_threshold(p);
    float scale = thr ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * C, s = ws[ids[n]];
        const int8_t *te = wq + (size_t)ids[n] * C;
        const float *pe = wpe + (size_t)pos[n] * C;
        for (int c = 0; c < C; c++) o[c] = (float)te[c] * s + pe[c];
        if (thr) dropout_range(o, o, NULL, (size_t)n * C, (size_t)C, key, thr, scale);
    }
}

void ss__embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                            const int32_t *pos, int N, int C, float p, uint64_t key)
{
    uint32_t thr = ss__dropout_threshold(p);
    float scale = thr ? 1.0f / (1.0f - p) : 1.0f;
    /* Rows can share a token id: split by columns so that no two threads
     * write the same element and each element sums its rows in order. */
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * COLBLK, c1 = SS_MIN(C, c0 + COLBLK);
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * C;
            float *te = dwte + (size_t)ids[n] * C, *pe = dwpe + (size_t)pos[n] * C;
            for (int c = c0; c < c1; c++) {
                float g = d[c];
                if (thr) g = ss__dropout_keep(key, (size_t)n * C + c, thr) ? g * scale : 0.0f;
                te[c] += g;
                pe[c] += g;
            }
        }
    }
}

/* ---------------------------------------------------------------- layernorm */

SS_VEC static void layernorm_row(float *restrict o, float *mean, float *rstd,
                                 const float *restrict x, const float *restrict w,
                                 const float *restrict b, int C)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < C; c++) s += x[c];
    float m = s / C;
    float v = 0;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) {
        float d = x[c] - m;
        v += d * d;
    }
    float r = 1.0f / sqrtf(v / C + SS_LN_EPS);
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = (x[c] - m) * r * w[c] + b[c];
    *mean = m;
    *rstd = r;
}

void ss__layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, int N, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++)
        layernorm_row(out + (size_t)n * C, mean + n, rstd + n, inp + (size_t)n * C, w, b, C);
}

SS_VEC static void layernorm_back_row(float *restrict di, const float *restrict d,
                                      const float *restrict x, const float *restrict w, float m,
                                      float r, int C)
{
    float a = 0, bsum = 0; /* mean of dnorm and of dnorm * xhat */
#pragma omp simd reduction(+ : a, bsum)
    for (int c = 0; c < C; c++) {
        float dn = d[c] * w[c];
        a += dn;
        bsum += dn * (x[c] - m) * r;
    }
    a /= C;
    bsum /= C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float xh = (x[c] - m) * r;
        di[c] += (d[c] * w[c] - a - xh * bsum) * r;
    }
}

/* LayerNorm weight and bias gradients of columns [c0, c1), rows in order */
SS_VEC static void layernorm_wb_block(double *restrict sw, double *restrict sb,
                                      const float *restrict dout, const float *restrict inp,
                                      const float *restrict mean, const float *restrict rstd,
                                      int N, int C, int c0, int c1)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C + c0, *d = dout + (size_t)n * C + c0;
        float m = mean[n], r = rstd[n];
#pragma omp simd
        for (int c = 0; c < c1 - c0; c++) {
            sw[c] += d[c] * ((x[c] - m) * r);
            sb[c] += d[c];
        }
    }
}

void ss__layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++)
        layernorm_back_row(dinp + (size_t)n * C, dout + (size_t)n * C, inp + (size_t)n * C, w,
                           mean[n], rstd[n], C);
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * COLBLK, c1 = SS_MIN(C, c0 + COLBLK);
        double sw[COLBLK] = {0}, sb[COLBLK] = {0};
        layernorm_wb_block(sw, sb, dout, inp, mean, rstd, N, C, c0, c1);
        for (int c = c0; c < c1; c++) {
            dw[c] += (float)sw[c - c0];
            db[c] += (float)sb[c - c0];
        }
    }
}

/* ---------------------------------------------------------------- matmul */

void ss__matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                        int N, int IC, int OC)
{
    float beta = 0.0f;
    if (bias) {
        /* start from the bias and let sgemm accumulate onto it */
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= PAR_MIN)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, sizeof(float) * (size_t)OC);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, beta,
                out, OC);
}

void ss__matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                         const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC,
                    0.0f, dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f,
                dw, IC);
    if (dbias) colsum_add(dbias, dout, N, OC);
}

void ss__bias_backward(float *dbias, const float *dout, int N, int OC) { colsum_add(dbias, dout, N, OC); }

/* ---------------------------------------------------------------- attention */

/* softmax of one row of scores in place */
SS_VEC static void softmax_row(float *restrict s, int T)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < T; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < T; j++) {
        float e = ss__expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < T; j++) s[j] *= inv;
}

/* softmax backward of one row: dp = P (dp - sum_j P dp) */
SS_VEC static void softmax_back_row(float *restrict dp, const float *restrict P, int T)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < T; j++) s += P[j] * dp[j];
#pragma omp simd
    for (int j = 0; j < T; j++) dp[j] = P[j] * (dp[j] - s);
}

/* The per-sequence loops below call sgemm one (sequence, head) at a time,
 * outside any parallel region; the elementwise passes in between run over
 * all sequences in parallel. Sequences differ in length, hence the dynamic
 * schedule (each row's result does not depend on which thread computes it). */

void ss__attention_forward(float *out, float *att, float *attd, const float *qkv,
                           const ss__seqs *s, int C, int NH, float p, uint64_t key)
{
    int hs = C / NH, C3 = 3 * C, B = s->B;
    float scale = 1.0f / sqrtf((float)hs);
    /* scores: q k^T per (sequence, head), q and k read in place from qkv */
    for (int b = 0; b < B; b++) {
        int L = s->start[b + 1] - s->start[b];
        const float *base = qkv + (size_t)s->start[b] * C3;
        for (int h = 0; h < NH; h++) {
            float *a = att + s->att[b] + (size_t)h * L * L;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hs, scale, base + h * hs,
                        C3, base + C + h * hs, C3, 0.0f, a, L);
        }
    }
    size_t n = s->att[B];
#pragma omp parallel for schedule(dynamic, 4) if (n >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        int L = s->start[b + 1] - s->start[b];
        for (int r = 0; r < NH * L; r++) softmax_row(att + s->att[b] + (size_t)r * L, L);
    }
    const float *pv = att;
    uint32_t thr = ss__dropout_threshold(p);
    if (thr) {
        dropout_apply(attd, att, NULL, n, key, thr, 1.0f / (1.0f - p));
        pv = attd;
    }
    for (int b = 0; b < B; b++) {
        int L = s->start[b + 1] - s->start[b];
        const float *v = qkv + (size_t)s->start[b] * C3 + 2 * C;
        for (int h = 0; h < NH; h++) {
            const float *a = pv + s->att[b] + (size_t)h * L * L;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hs, L, 1.0f, a, L,
                        v + h * hs, C3, 0.0f, out + (size_t)s->start[b] * C + h * hs, C);
        }
    }
}

void ss__attention_backward(float *dqkv, float *datt, float *attd, const float *dout,
                            const float *qkv, const float *att, const ss__seqs *s, int C, int NH,
                            float p, uint64_t key)
{
    int hs = C / NH, C3 = 3 * C, B = s->B;
    float scale = 1.0f / sqrtf((float)hs);
    size_t n = s->att[B];
    uint32_t thr = ss__dropout_threshold(p);
    float dscale = thr ? 1.0f / (1.0f - p) : 1.0f;
    const float *pv = att;
    if (thr) {
        dropout_apply(attd, att, NULL, n, key, thr, dscale);
        pv = attd;
    }
    /* datt = dout v^T (gradient of the dropped-out probabilities),
     * dv = pv^T dout */
    for (int b = 0; b < B; b++) {
        int L = s->start[b + 1] - s->start[b];
        size_t row = (size_t)s->start[b];
        for (int h = 0; h < NH; h++) {
            const float *d = dout + row * C + h * hs, *v = qkv + row * C3 + 2 * C + h * hs;
            size_t o = s->att[b] + (size_t)h * L * L;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hs, 1.0f, d, C, v, C3,
                        0.0f, datt + o, L);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hs, L, 1.0f, pv + o, L, d, C,
                        0.0f, dqkv + row * C3 + 2 * C + h * hs, C3);
        }
    }
    /* through dropout and softmax: ds = P (dP - sum_j P dP) */
#pragma omp parallel for schedule(dynamic, 4) if (n >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        int L = s->start[b + 1] - s->start[b];
        for (int r = 0; r < NH * L; r++) {
            size_t o = s->att[b] + (size_t)r * L;
            if (thr) dropout_range(datt + o, datt + o, NULL, o, (size_t)L, key, thr, dscale);
            softmax_back_row(datt + o, att + o, L);
        }
    }
    /* dq = scale ds k, dk = scale ds^T q */
    for (int b = 0; b < B; b++) {
        int L = s->start[b + 1] - s->start[b];
        size_t row = (size_t)s->start[b];
        for (int h = 0; h < NH; h++) {
            const float *ds = datt + s->att[b] + (size_t)h * L * L;
            const float *q = qkv + row * C3 + h * hs;
            float *dq = dqkv + row * C3 + h * hs;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hs, L, scale, ds, L, q + C,
                        C3, 0.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hs, L, scale, ds, L, q, C3,
                        0.0f, dq + C, C3);
        }
    }
}

/* ---------------------------------------------------------------- gelu */

SS_VEC static void gelu_range(float *restrict out, const float *restrict inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = ss__gelu(inp[i]);
}

/* dinp may alias dout: each element is read before it is written */
SS_VEC static void gelu_back_range(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) dinp[i] = ss__gelu_grad(inp[i]) * dout[i];
}

void ss__gelu_forward(float *out, const float *inp, size_t n)
{
    long nc = (long)((n + VCHUNK - 1) / VCHUNK);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (long k = 0; k < nc; k++) {
        size_t i = (size_t)k * VCHUNK;
        gelu_range(out + i, inp + i, SS_MIN(n - i, (size_t)VCHUNK));
    }
}

void ss__gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    long nc = (long)((n + VCHUNK - 1) / VCHUNK);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (long k = 0; k < nc; k++) {
        size_t i = (size_t)k * VCHUNK;
        gelu_back_range(dinp + i, inp + i, dout + i, SS_MIN(n - i, (size_t)VCHUNK));
    }
}

/* ---------------------------------------------------------------- residual */

void ss__residual_forward(float *out, const float *res, const float *y, size_t n, float p,
                          uint64_t key)
{
    uint32_t thr = ss__dropout_threshold(p);
    if (!thr) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) out[i] = res[i] + y[i];
        return;
    }
    dropout_apply(out, y, res, n, key, thr, 1.0f / (1.0f - p));
}

void ss__residual_backward(float *dy, const float *dout, size_t n, float p, uint64_t key)
{
    uint32_t thr = ss__dropout_threshold(p);
    if (!thr) {
        if (dy != dout) memcpy(dy, dout, n * sizeof *dy);
        return;
    }
    dropout_apply(dy, dout, NULL, n, key, thr, 1.0f / (1.0f - p));
}

/* ---------------------------------------------------------------- pooling */

static void pool_mean(float *o, const float *inp, int r0, int r1, int C)
{
    for (int c = 0; c < C; c++) o[c] = 0;
    for (int r = r0; r < r1; r++) {
        const float *xt = inp + (size_t)r * C;
        for (int c = 0; c < C; c++) o[c] += xt[c];
    }
    float inv = 1.0f / (r1 - r0);
    for (int c = 0; c < C; c++) o[c] *= inv;
}

static void pool_max(float *o, int32_t *am, const float *inp, int r0, int r1, int C)
{
    memcpy(o, inp + (size_t)r0 * C, sizeof(float) * (size_t)C);
    if (!am) { /* inference: no winners to keep, a loop the compiler vectorizes */
        for (int r = r0 + 1; r < r1; r++) {
            const float *xt = inp + (size_t)r * C;
            for (int c = 0; c < C; c++) o[c] = xt[c] > o[c] ? xt[c] : o[c];
        }
        return;
    }
    for (int c = 0; c < C; c++) am[c] = r0;
    for (int r = r0 + 1; r < r1; r++) {
        const float *xt = inp + (size_t)r * C;
        for (int c = 0; c < C; c++)
            if (xt[c] > o[c]) {
                o[c] = xt[c];
                am[c] = r;
            }
    }
}

void ss__pool_forward(float *out, int32_t *argmax, const float *inp, const ss__seqs *s, int C,
                      int mode)
{
    int B = s->B;
    size_t D = (size_t)ss__pool_dim(mode, C);
#pragma omp parallel for schedule(static) if ((size_t)s->start[B] * C >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * D;
        int r0 = s->start[b], r1 = s->start[b + 1];
        if (mode == SS_POOL_CLS) {
            memcpy(o, inp + (size_t)r0 * C, sizeof(float) * (size_t)C);
        } else if (mode == SS_POOL_MAX) {
            pool_max(o, argmax ? argmax + (size_t)b * C : NULL, inp, r0, r1, C);
        } else if (mode == SS_POOL_MEANMAX) {
            pool_mean(o, inp, r0, r1, C);
            pool_max(o + C, argmax ? argmax + (size_t)b * C : NULL, inp, r0, r1, C);
        } else {
            pool_mean(o, inp, r0, r1, C);
        }
    }
}

void ss__pool_backward(float *dinp, const float *dout, const int32_t *argmax, const ss__seqs *s,
                       int C, int mode)
{
    int B = s->B;
    size_t D = (size_t)ss__pool_dim(mode, C);
#pragma omp parallel for schedule(static) if ((size_t)s->start[B] * C >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        int r0 = s->start[b], r1 = s->start[b + 1];
        float *dx = dinp + (size_t)r0 * C;
        const float *d = dout + (size_t)b * D;
        if (mode == SS_POOL_MEAN || mode == SS_POOL_MEANMAX) {
            float inv = 1.0f / (r1 - r0);
            for (int r = r0; r < r1; r++) {
                float *dt = dinp + (size_t)r * C;
                for (int c = 0; c < C; c++) dt[c] = d[c] * inv;
            }
            if (mode == SS_POOL_MEAN) continue;
            /* and the max half's gradient onto each channel's winning row */
            const int32_t *am = argmax + (size_t)b * C;
            for (int c = 0; c < C; c++) dinp[(size_t)am[c] * C + c] += d[C + c];
            continue;
        }
        memset(dx, 0, sizeof(float) * (size_t)(r1 - r0) * C);
        if (mode == SS_POOL_CLS) {
            memcpy(dx, d, sizeof(float) * (size_t)C);
        } else {
            const int32_t *am = argmax + (size_t)b * C;
            for (int c = 0; c < C; c++) dinp[(size_t)am[c] * C + c] = d[c];
        }
    }
}

/* ---------------------------------------------------------------- l2 norm */

void ss__l2norm_forward(float *out, float *norm, const float *inp, int B, int C)
{
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
        float nr = (float)sqrt(s);
        float inv = 1.0f / (nr > SS_L2_EPS ? nr : SS_L2_EPS);
        for (int c = 0; c < C; c++) out[(size_t)b * C + c] = x[c] * inv;
        norm[b] = nr;
    }
}

void ss__l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm,
                         int B, int C)
{
    for (int b = 0; b < B; b++) {
        const float *y = out + (size_t)b * C, *d = dout + (size_t)b * C;
        float *dx = dinp + (size_t)b * C;
        if (norm[b] > SS_L2_EPS) {
            double s = 0;
            for (int c = 0; c < C; c++) s += (double)y[c] * d[c];
            float inv = 1.0f / norm[b];
            for (int c = 0; c < C; c++) dx[c] = (d[c] - y[c] * (float)s) * inv;
        } else {
            for (int c = 0; c < C; c++) dx[c] = d[c] / SS_L2_EPS;
        }
    }
}
