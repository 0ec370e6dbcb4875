/* layers_ref.c: naive double-precision reference of every layer and of the
 * whole encoder (test oracle; plain loops, no BLAS, no OpenMP). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "common.h"
#include "encoder.h"
#include "layers.h"
#include "layers_ref.h"
#include "rng.h"

/* dropout of element i: kept value (x / (1-p)) or 0 */
static double drop(double x, double p, uint64_t key, size_t i)
{
    uint32_t thr = ss__dropout_threshold((float)p);
    if (!thr) return x;
    return ss__dropout_keep(key, i, thr) ? x / (1.0 - p) : 0.0;
}

void ss__ref_embedding_forward(double *out, const int32_t *ids, const double *wte,
                               const double *wpe, int B, int T, int C, double p, uint64_t key)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t n = (size_t)b * T + t;
            for (int c = 0; c < C; c++)
                out[n * C + c] = drop(wte[(size_t)ids[n] * C + c] + wpe[(size_t)t * C + c], p, key,
                                      n * C + c);
        }
}

void ss__ref_embedding_backward(double *dwte, double *dwpe, const double *dout,
                                const int32_t *ids, const uint8_t *mask, int B, int T, int C,
                                double p, uint64_t key)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t n = (size_t)b * T + t;
            if (mask && !mask[n]) continue;
            for (int c = 0; c < C; c++) {
                double g = drop(dout[n * C + c], p, key, n * C + c);
                dwte[(size_t)ids[n] * C + c] += g;
                dwpe[(size_t)t * C + c] += g;
            }
        }
}

void ss__ref_layernorm_forward(double *out, double *mean, double *rstd, const double *inp,
                               const double *w, const double *b, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const double *x = inp + (size_t)n * C;
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        double r = 1.0 / sqrt(v + SS_LN_EPS);
        for (int c = 0; c < C; c++) out[(size_t)n * C + c] = (x[c] - m) * r * w[c] + b[c];
        mean[n] = m;
        rstd[n] = r;
    }
}

void ss__ref_layernorm_backward(double *dinp, double *dw, double *db, const double *dout,
                                const double *inp, const double *w, const double *mean,
                                const double *rstd, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const double *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        double m = mean[n], r = rstd[n], a = 0, bs = 0;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - m) * r;
            a += d[c] * w[c];
            bs += d[c] * w[c] * xh;
            dw[c] += d[c] * xh;
            db[c] += d[c];
        }
        a /= C;
        bs /= C;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - m) * r;
            dinp[(size_t)n * C + c] += (d[c] * w[c] - a - xh * bs) * r;
        }
    }
}

void ss__ref_matmul_forward(double *out, const double *inp, const double *w, const double *bias,
                            int N, int IC, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < IC; i++) s += inp[(size_t)n * IC + i] * w[(size_t)o * IC + i];
            out[(size_t)n * OC + o] = s;
        }
}

void ss__ref_matmul_backward(double *dinp, double *dw, double *dbias, const double *dout,
                             const double *inp, const double *w, int N, int IC, int OC)
{
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < IC && dinp; i++) {
            double s = 0;
            for (int o = 0; o < OC; o++) s += dout[(size_t)n * OC + o] * w[(size_t)o * IC + i];
            dinp[(size_t)n * IC + i] = s;
        }
        for (int o = 0; o < OC; o++) {
            double d = dout[(size_t)n * OC + o];
            for (int i = 0; i < IC; i++) dw[(size_t)o * IC + i] += d * inp[(size_t)n * IC + i];
            if (dbias) dbias[o] += d;
        }
    }
}

void ss__ref_attention_forward(double *out, double *att, const double *qkv, const uint8_t *mask,
                               int B, int T, int C, int NH, double p, uint64_t key)
{
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const double *q = qkv + ((size_t)b * T + i) * 3 * C + h * hs;
                double *a = att + (((size_t)b * NH + h) * T + i) * T;
                double mx = -INFINITY;
                for (int j = 0; j < T; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double s = 0;
                    for (int e = 0; e < hs; e++) s += q[e] * k[e];
                    a[j] = s * scale;
                    if (mask[(size_t)b * T + j] && a[j] > mx) mx = a[j];
                }
                double sum = 0;
                for (int j = 0; j < T; j++) {
                    a[j] = mask[(size_t)b * T + j] ? exp(a[j] - mx) : 0.0;
                    sum += a[j];
                }
                for (int j = 0; j < T; j++) a[j] /= sum;
                double *o = out + ((size_t)b * T + i) * C + h * hs;
                for (int e = 0; e < hs; e++) o[e] = 0;
                for (int j = 0; j < T; j++) {
                    size_t idx = (size_t)(a - att) + j;
                    double pj = drop(a[j], p, key, idx);
                    const double *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    for (int e = 0; e < hs; e++) o[e] += pj * v[e];
                }
            }
}

void ss__ref_attention_backward(double *dqkv, const double *dout, const double *qkv,
                                const double *att, const uint8_t *mask, int B, int T, int C,
                                int NH, double p, uint64_t key)
{
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    memset(dqkv, 0, sizeof(double) * (size_t)B * T * 3 * C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const double *a = att + (((size_t)b * NH + h) * T + i) * T;
                const double *d = dout + ((size_t)b * T + i) * C + h * hs;
                double dp[T > 0 ? T : 1];
                /* o = sum_j drop(a_j) v_j */
                for (int j = 0; j < T; j++) {
                    size_t idx = (size_t)(a - att) + j;
                    const double *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    double *dv = dqkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    double pj = drop(a[j], p, key, idx), s = 0;
                    for (int e = 0; e < hs; e++) {
                        dv[e] += pj * d[e];
                        s += d[e] * v[e];
                    }
                    dp[j] = drop(s, p, key, idx);
                }
                double dot = 0;
                for (int j = 0; j < T; j++) dot += a[j] * dp[j];
                const double *q = qkv + ((size_t)b * T + i) * 3 * C + h * hs;
                double *dq = dqkv + ((size_t)b * T + i) * 3 * C + h * hs;
                for (int j = 0; j < T; j++) {
                    if (!mask[(size_t)b * T + j]) continue;
                    double ds = a[j] * (dp[j] - dot) * scale;
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double *dk = dqkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    for (int e = 0; e < hs; e++) {
                        dq[e] += ds * k[e];
                        dk[e] += ds * q[e];
                    }
                }
            }
}

static double gelu(double x)
{
    const double k = sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}

void ss__ref_gelu_forward(double *out, const double *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = gelu(inp[i]);
}

void ss__ref_gelu_backward(double *dinp, const double *inp, const double *dout, size_t n)
{
    const double k = sqrt(2.0 / M_PI);
    for (size_t i = 0; i < n; i++) {
        double x = inp[i], u = k * (x + 0.044715 * x * x * x);
        double t = tanh(u), du = k * (1.0 + 3.0 * 0.044715 * x * x);
        dinp[i] = (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du) * dout[i];
    }
}

void ss__ref_residual_forward(double *out, const double *res, const double *y, size_t n,
                              double p, uint64_t key)
{
    for (size_t i = 0; i < n; i++) out[i] = res[i] + drop(y[i], p, key, i);
}

void ss__ref_residual_backward(double *dy, const double *dout, size_t n, double p, uint64_t key)
{
    for (size_t i = 0; i < n; i++) dy[i] = drop(dout[i], p, key, i);
}

void ss__ref_pool_forward(double *out, int32_t *argmax, const double *inp, const uint8_t *mask,
                          int B, int T, int C, int mode)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double s = 0, best = 0;
            int cnt = 0, arg = -1;
            for (int t = 0; t < T; t++) {
                double x = inp[((size_t)b * T + t) * C + c];
                if (mode == SS_POOL_CLS) {
                    if (t == 0) s = x;
                    continue;
                }
                if (!mask[(size_t)b * T + t]) continue;
                cnt++;
                s += x;
                if (arg < 0 || x > best) {
                    best = x;
                    arg = t;
                }
            }
            if (mode == SS_POOL_MEAN) out[(size_t)b * C + c] = cnt ? s / cnt : 0.0;
            else if (mode == SS_POOL_CLS) out[(size_t)b * C + c] = s;
            else {
                out[(size_t)b * C + c] = best;
                argmax[(size_t)b * C + c] = arg;
            }
        }
}

void ss__ref_pool_backward(double *dinp, const double *dout, const int32_t *argmax,
                           const uint8_t *mask, int B, int T, int C, int mode)
{
    memset(dinp, 0, sizeof(double) * (size_t)B * T * C);
    for (int b = 0; b < B; b++) {
        int cnt = 0;
        for (int t = 0; t < T; t++) cnt += mask[(size_t)b * T + t] != 0;
        for (int c = 0; c < C; c++) {
            double d = dout[(size_t)b * C + c];
            if (mode == SS_POOL_CLS) dinp[(size_t)b * T * C + c] = d;
            else if (mode == SS_POOL_MAX) {
                int a = argmax[(size_t)b * C + c];
                if (a >= 0) dinp[((size_t)b * T + a) * C + c] = d;
            } else {
                for (int t = 0; t < T; t++)
                    if (mask[(size_t)b * T + t]) dinp[((size_t)b * T + t) * C + c] = d / cnt;
            }
        }
    }
}

void ss__ref_l2norm_forward(double *out, double *norm, const double *inp, int B, int C)
{
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int c = 0; c < C; c++) s += inp[(size_t)b * C + c] * inp[(size_t)b * C + c];
        norm[b] = sqrt(s);
        double den = norm[b] > SS_L2_EPS ? norm[b] : SS_L2_EPS;
        for (int c = 0; c < C; c++) out[(size_t)b * C + c] = inp[(size_t)b * C + c] / den;
    }
}

void ss__ref_l2norm_backward(double *dinp, const double *dout, const double *out,
                             const double *norm, int B, int C)
{
    for (int b = 0; b < B; b++) {
        const double *y = out + (size_t)b * C, *d = dout + (size_t)b * C;
        if (norm[b] > SS_L2_EPS) {
            double s = 0;
            for (int c = 0; c < C; c++) s += y[c] * d[c];
            for (int c = 0; c < C; c++) dinp[(size_t)b * C + c] = (d[c] - y[c] * s) / norm[b];
        } else {
            for (int c = 0; c < C; c++) dinp[(size_t)b * C + c] = d[c] / SS_L2_EPS;
        }
    }
}

double ss__ref_infonce(const double *a, const double *b, int B, int C, double temp, int symmetric,
                       double *da, double *db)
{
    double loss = 0, w = symmetric ? 0.5 : 1.0;
    if (da) memset(da, 0, sizeof(double) * (size_t)B * C);
    if (db) memset(db, 0, sizeof(double) * (size_t)B * C);
    /* dir 0: row i of logits a_i.b_j; dir 1: column j, a_i.b_j over i */
    for (int dir = 0; dir < (symmetric ? 2 : 1); dir++) {
        const double *x = dir ? b : a, *y = dir ? a : b;
        double *dx = dir ? db : da, *dy = dir ? da : db;
        for (int i = 0; i < B; i++) {
            double lg[B > 0 ? B : 1], mx = -INFINITY, sum = 0;
            for (int j = 0; j < B; j++) {
                double s = 0;
                for (int c = 0; c < C; c++) s += x[(size_t)i * C + c] * y[(size_t)j * C + c];
                lg[j] = s / temp;
                if (lg[j] > mx) mx = lg[j];
            }
            for (int j = 0; j < B; j++) sum += exp(lg[j] - mx);
            loss += w * (mx + log(sum) - lg[i]) / B;
            if (!da || !db) continue;
            for (int j = 0; j < B; j++) {
                double g = w * (exp(lg[j] - mx) / sum - (i == j)) / B / temp;
                for (int c = 0; c < C; c++) {
                    dx[(size_t)i * C + c] += g * y[(size_t)j * C + c];
                    dy[(size_t)j * C + c] += g * x[(size_t)i * C + c];
                }
            }
        }
    }
    return loss;
}

/* ------------------------------------------------------------ whole model */

int ss__ref_model(const ss_config *cfg, const double *P, const ss_batch *bt, double p,
                  uint64_t key, double *out, const double *dout, double *G)
{
    int B = bt->B, T = bt->T, C = cfg->d_model, NH = cfg->n_heads, F = cfg->d_ff;
    int NL = cfg->n_layers;
    size_t N = (size_t)B * T, NC = N * C, att_n = (size_t)B * NH * T * T;
    ss__layout L;
    ss__model_layout(cfg, &L);
    /* activations: per layer x_in, ln1, mean1, rstd1, qkv, att, ao, proj,
     * xmid, ln2, mean2, rstd2, h, g, f; then x_out, lnf, meanf, rstdf, pooled,
     * norm */
    size_t per = NC * 9 + N * 4 + NC * 3 + att_n + N * F * 2 + NC; /* generous */
    size_t total = per * (size_t)NL + NC * 4 + N * 2 + (size_t)B * C * 2 + B + NC;
    double *mem = ss__calloc(total, sizeof(double));
    int32_t *argmax = ss__calloc((size_t)B * C, sizeof(int32_t));
    if (!mem || !argmax) {
        ss_free(mem);
        ss_free(argmax);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    double *cur = mem;
#define TAKE(n) (cur += (n), cur - (n))
    double *x0 = TAKE(NC);
    struct lay {
        double *xin, *ln1, *m1, *r1, *qkv, *att, *ao, *proj, *xmid, *ln2, *m2, *r2, *h, *g, *f,
            *xout;
    } lay[NL > 0 ? NL : 1];
    for (int l = 0; l < NL; l++) {
        struct lay *y = &lay[l];
        y->xin = l ? lay[l - 1].xout : x0;
        y->ln1 = TAKE(NC), y->m1 = TAKE(N), y->r1 = TAKE(N), y->qkv = TAKE(3 * NC);
        y->att = TAKE(att_n), y->ao = TAKE(NC), y->proj = TAKE(NC), y->xmid = TAKE(NC);
        y->ln2 = TAKE(NC), y->m2 = TAKE(N), y->r2 = TAKE(N), y->h = TAKE(N * F);
        y->g = TAKE(N * F), y->f = TAKE(NC), y->xout = TAKE(NC);
    }
    double *xL = NL ? lay[NL - 1].xout : x0;
    double *lnf = TAKE(NC), *mf = TAKE(N), *rf = TAKE(N), *pooled = TAKE((size_t)B * C);
    double *norm = TAKE(B);

    ss__ref_embedding_forward(x0, bt->ids, P + L.wte, P + L.wpe, B, T, C, p,
                              ss__dropout_site(key, ss__site_embed()));
    for (int l = 0; l < NL; l++) {
        struct lay *y = &lay[l];
        const double *W = P + L.blk0 + (size_t)l * L.blk_size;
        ss__ref_layernorm_forward(y->ln1, y->m1, y->r1, y->xin, W + L.blk.ln1w, W + L.blk.ln1b,
                                  (int)N, C);
        ss__ref_matmul_forward(y->qkv, y->ln1, W + L.blk.qkvw, W + L.blk.qkvb, (int)N, C, 3 * C);
        ss__ref_attention_forward(y->ao, y->att, y->qkv, bt->mask, B, T, C, NH, p,
                                  ss__dropout_site(key, ss__site_attn(l)));
        ss__ref_matmul_forward(y->proj, y->ao, W + L.blk.projw, W + L.blk.projb, (int)N, C, C);
        ss__ref_residual_forward(y->xmid, y->xin, y->proj, NC, p,
                                 ss__dropout_site(key, ss__site_proj(l)));
        ss__ref_layernorm_forward(y->ln2, y->m2, y->r2, y->xmid, W + L.blk.ln2w, W + L.blk.ln2b,
                                  (int)N, C);
        ss__ref_matmul_forward(y->h, y->ln2, W + L.blk.upw, W + L.blk.upb, (int)N, C, F);
        ss__ref_gelu_forward(y->g, y->h, N * F);
        ss__ref_matmul_forward(y->f, y->g, W + L.blk.downw, W + L.blk.downb, (int)N, F, C);
        ss__ref_residual_forward(y->xout, y->xmid, y->f, NC, p,
                                 ss__dropout_site(key, ss__site_ffn(l)));
    }
    ss__ref_layernorm_forward(lnf, mf, rf, xL, P + L.lnfw, P + L.lnfb, (int)N, C);
    ss__ref_pool_forward(pooled, argmax, lnf, bt->mask, B, T, C, cfg->pooling);
    ss__ref_l2norm_forward(out, norm, pooled, B, C);

    if (dout) {
        /* backward: dres is the gradient of the residual stream */
        double *dres = ss__calloc(NC * 7 + N * F + (size_t)B * C, sizeof(double));
        if (!dres) {
            ss_free(mem);
            ss_free(argmax);
            return ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        double *dtmp = dres + NC, *dln = dtmp + NC, *dy = dln + NC, *dqkv3 = dy + NC;
        double *dg = dqkv3 + 3 * NC, *dpool = dg + N * F;
        ss__ref_l2norm_backward(dpool, dout, out, norm, B, C);
        ss__ref_pool_backward(dtmp, dpool, argmax, bt->mask, B, T, C, cfg->pooling);
        memset(dres, 0, NC * sizeof(double));
        ss__ref_layernorm_backward(dres, G + L.lnfw, G + L.lnfb, dtmp, xL, P + L.lnfw, mf, rf,
                                   (int)N, C);
        for (int l = NL - 1; l >= 0; l--) {
            struct lay *y = &lay[l];
            const double *W = P + L.blk0 + (size_t)l * L.blk_size;
            double *GW = G + L.blk0 + (size_t)l * L.blk_size;
            /* ffn branch */
            ss__ref_residual_backward(dy, dres, NC, p, ss__dropout_site(key, ss__site_ffn(l)));
            ss__ref_matmul_backward(dg, GW + L.blk.downw, GW + L.blk.downb, dy, y->g,
                                    W + L.blk.downw, (int)N, F, C);
            ss__ref_gelu_backward(dg, y->h, dg, N * F);
            ss__ref_matmul_backward(dln, GW + L.blk.upw, GW + L.blk.upb, dg, y->ln2, W + L.blk.upw,
                                    (int)N, C, F);
            ss__ref_layernorm_backward(dres, GW + L.blk.ln2w, GW + L.blk.ln2b, dln, y->xmid,
                                       W + L.blk.ln2w, y->m2, y->r2, (int)N, C);
            /* attention branch */
            ss__ref_residual_backward(dy, dres, NC, p, ss__dropout_site(key, ss__site_proj(l)));
            ss__ref_matmul_backward(dtmp, GW + L.blk.projw, GW + L.blk.projb, dy, y->ao,
                                    W + L.blk.projw, (int)N, C, C);
            ss__ref_attention_backward(dqkv3, dtmp, y->qkv, y->att, bt->mask, B, T, C, NH, p,
                                       ss__dropout_site(key, ss__site_attn(l)));
            ss__ref_matmul_backward(dln, GW + L.blk.qkvw, GW + L.blk.qkvb, dqkv3, y->ln1,
                                    W + L.blk.qkvw, (int)N, C, 3 * C);
            ss__ref_layernorm_backward(dres, GW + L.blk.ln1w, GW + L.blk.ln1b, dln, y->xin,
                                       W + L.blk.ln1w, y->m1, y->r1, (int)N, C);
        }
        ss__ref_embedding_backward(G + L.wte, G + L.wpe, dres, bt->ids, bt->mask, B, T, C, p,
                                   ss__dropout_site(key, ss__site_embed()));
        ss_free(dres);
    }
#undef TAKE
    ss_free(mem);
    ss_free(argmax);
    return SS_OK;
}
