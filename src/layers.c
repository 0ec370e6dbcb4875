/* layers.c: the fast kernels (sgemm + OpenMP). See layers.h for the
 * contracts and layers_ref.c for the naive versions they are tested against. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "common.h"
#include "fastmath.h"
#include "layers.h"
#include "rng.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 8192
/* Column block of the deterministic column reductions. */
#define COLBLK 64

/* acc[c] += sum over rows n (in order) of src[n*C + c]. Split by columns so
 * that every column is summed in the same order whatever the thread count. */
static void colsum_add(float *acc, const float *src, int N, int C)
{
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * COLBLK, c1 = SS_MIN(C, c0 + COLBLK);
        double s[COLBLK] = {0};
        for (int n = 0; n < N; n++) {
            const float *r = src + (size_t)n * C;
            for (int c = c0; c < c1; c++) s[c - c0] += r[c];
        }
        for (int c = c0; c < c1; c++) acc[c] += (float)s[c - c0];
    }
}

/* ---------------------------------------------------------------- embedding */

void ss__embedding_forward(float *out, const int32_t *ids, const float *wte, const float *wpe,
                           int B, int T, int C, float p, uint64_t key)
{
    int N = B * T;
    uint32_t thr = ss__dropout_threshold(p);
    float scale = thr ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * C;
        const float *te = wte + (size_t)ids[n] * C, *pe = wpe + (size_t)(n % T) * C;
        for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
        if (thr) {
            for (int c = 0; c < C; c++) {
                size_t i = (size_t)n * C + c;
                o[c] = ss__dropout_keep(key, i, thr) ? o[c] * scale : 0.0f;
            }
        }
    }
}

void ss__embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                            const uint8_t *mask, int B, int T, int C, float p, uint64_t key)
{
    int N = B * T;
    uint32_t thr = ss__dropout_threshold(p);
    float scale = thr ? 1.0f / (1.0f - p) : 1.0f;
    /* Rows can share a token id: split by columns so that no two threads
     * write the same element and each element sums its rows in order. */
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * COLBLK, c1 = SS_MIN(C, c0 + COLBLK);
        for (int n = 0; n < N; n++) {
            if (mask && !mask[n]) continue;
            const float *d = dout + (size_t)n * C;
            float *te = dwte + (size_t)ids[n] * C, *pe = dwpe + (size_t)(n % T) * C;
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
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float m = mean[n], r = rstd[n];
            for (int c = c0; c < c1; c++) {
                sw[c - c0] += d[c] * ((x[c] - m) * r);
                sb[c - c0] += d[c];
            }
        }
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

/* ---------------------------------------------------------------- attention */

/* Masked softmax of one row of scores in place; a masked key gets 0. */
SS_VEC static void softmax_row(float *restrict s, const uint8_t *restrict mask, int T)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < T; j++) {
        float v = mask[j] ? s[j] : -INFINITY;
        mx = v > mx ? v : mx;
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < T; j++) {
        /* computed for every key and multiplied by the mask: a branch
         * would stop vectorization (the clamped exp is finite) */
        float e = ss__expf(s[j] - mx) * (float)mask[j];
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

/* attd = dropout(att) for all (B,NH,T,T) elements */
static void attn_dropout(float *attd, const float *att, size_t n, uint32_t thr, float scale,
                         uint64_t key)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) attd[i] = ss__dropout_keep(key, i, thr) ? att[i] * scale : 0.0f;
}

void ss__attention_forward(float *out, float *att, float *attd, const float *qkv,
                           const uint8_t *mask, int B, int T, int C, int NH, float p,
                           uint64_t key)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t TT = (size_t)T * T;
    /* scores: one sgemm per (b,h), q and k read in place from qkv */
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * hs;
            const float *k = q + C;
            float *a = att + ((size_t)b * NH + h) * TT;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3,
                        0.0f, a, T);
        }
    }
    int rows = B * NH * T;
#pragma omp parallel for schedule(static) if ((size_t)rows * T >= PAR_MIN)
    for (int r = 0; r < rows; r++) {
        int b = r / (NH * T);
        softmax_row(att + (size_t)r * T, mask + (size_t)b * T, T);
    }
    const float *pv = att;
    uint32_t thr = ss__dropout_threshold(p);
    if (thr) {
        attn_dropout(attd, att, (size_t)B * NH * TT, thr, 1.0f / (1.0f - p), key);
        pv = attd;
    }
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *v = qkv + (size_t)b * T * C3 + 2 * C + h * hs;
            const float *a = pv + ((size_t)b * NH + h) * TT;
            float *o = out + (size_t)b * T * C + h * hs;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, v, C3,
                        0.0f, o, C);
        }
    }
}

void ss__attention_backward(float *dqkv, float *datt, float *attd, const float *dout,
                            const float *qkv, const float *att, const uint8_t *mask, int B,
                            int T, int C, int NH, float p, uint64_t key)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t TT = (size_t)T * T, n = (size_t)B * NH * TT;
    uint32_t thr = ss__dropout_threshold(p);
    float dscale = thr ? 1.0f / (1.0f - p) : 1.0f;
    const float *pv = att;
    if (thr) {
        attn_dropout(attd, att, n, thr, dscale, key);
        pv = attd;
    }
    /* datt = dout v^T (gradient of the dropped-out probabilities),
     * dv = pv^T dout */
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            size_t o = (size_t)b * T * C3 + 2 * C + h * hs;
            const float *d = dout + (size_t)b * T * C + h * hs;
            const float *a = pv + ((size_t)b * NH + h) * TT;
            float *da = datt + ((size_t)b * NH + h) * TT;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, d, C, qkv + o, C3,
                        0.0f, da, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, d, C, 0.0f,
                        dqkv + o, C3);
        }
    }
    /* through dropout and softmax: ds = P (dP - sum_j P dP) */
    int rows = B * NH * T;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *P = att + (size_t)r * T;
        float *dp = datt + (size_t)r * T;
        if (thr) {
            for (int j = 0; j < T; j++) {
                size_t i = (size_t)r * T + j;
                dp[j] = ss__dropout_keep(key, i, thr) ? dp[j] * dscale : 0.0f;
            }
        }
        softmax_back_row(dp, P, T);
    }
    (void)mask; /* masked keys have P = 0 and so get no gradient */
    /* dq = scale ds k, dk = scale ds^T q */
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            size_t o = (size_t)b * T * C3 + h * hs;
            const float *ds = datt + ((size_t)b * NH + h) * TT;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, ds, T,
                        qkv + o + C, C3, 0.0f, dqkv + o, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, ds, T, qkv + o,
                        C3, 0.0f, dqkv + o + C, C3);
        }
    }
}

/* ---------------------------------------------------------------- gelu */

#define VCHUNK 4096 /* elements per call of a vectorized range function */

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
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = res[i] + (ss__dropout_keep(key, i, thr) ? y[i] * scale : 0.0f);
}

void ss__residual_backward(float *dy, const float *dout, size_t n, float p, uint64_t key)
{
    uint32_t thr = ss__dropout_threshold(p);
    if (!thr) {
        if (dy != dout) memcpy(dy, dout, n * sizeof *dy);
        return;
    }
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dy[i] = ss__dropout_keep(key, i, thr) ? dout[i] * scale : 0.0f;
}

/* ---------------------------------------------------------------- pooling */

void ss__pool_forward(float *out, int32_t *argmax, const float *inp, const uint8_t *mask,
                      int B, int T, int C, int mode)
{
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        const float *x = inp + (size_t)b * T * C;
        const uint8_t *mk = mask + (size_t)b * T;
        if (mode == SS_POOL_CLS) {
            memcpy(o, x, sizeof(float) * (size_t)C);
        } else if (mode == SS_POOL_MAX) {
            int32_t *am = argmax + (size_t)b * C;
            for (int c = 0; c < C; c++) am[c] = -1;
            for (int t = 0; t < T; t++) {
                if (!mk[t]) continue;
                const float *xt = x + (size_t)t * C;
                for (int c = 0; c < C; c++)
                    if (am[c] < 0 || xt[c] > o[c]) {
                        o[c] = xt[c];
                        am[c] = t;
                    }
            }
        } else {
            int cnt = 0;
            for (int c = 0; c < C; c++) o[c] = 0;
            for (int t = 0; t < T; t++) {
                if (!mk[t]) continue;
                cnt++;
                const float *xt = x + (size_t)t * C;
                for (int c = 0; c < C; c++) o[c] += xt[c];
            }
            float inv = cnt ? 1.0f / cnt : 0.0f;
            for (int c = 0; c < C; c++) o[c] *= inv;
        }
    }
}

void ss__pool_backward(float *dinp, const float *dout, const int32_t *argmax,
                       const uint8_t *mask, int B, int T, int C, int mode)
{
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= PAR_MIN)
    for (int b = 0; b < B; b++) {
        float *dx = dinp + (size_t)b * T * C;
        const float *d = dout + (size_t)b * C;
        const uint8_t *mk = mask + (size_t)b * T;
        memset(dx, 0, sizeof(float) * (size_t)T * C);
        if (mode == SS_POOL_CLS) {
            memcpy(dx, d, sizeof(float) * (size_t)C);
        } else if (mode == SS_POOL_MAX) {
            const int32_t *am = argmax + (size_t)b * C;
            for (int c = 0; c < C; c++)
                if (am[c] >= 0) dx[(size_t)am[c] * C + c] = d[c];
        } else {
            int cnt = 0;
            for (int t = 0; t < T; t++) cnt += mk[t] != 0;
            float inv = cnt ? 1.0f / cnt : 0.0f;
            for (int t = 0; t < T; t++) {
                if (!mk[t]) continue;
                float *dt = dx + (size_t)t * C;
                for (int c = 0; c < C; c++) dt[c] = d[c] * inv;
            }
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
