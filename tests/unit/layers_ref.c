/* layers_ref.c: naive double-precision reference of every layer and of the
 * whole encoder (test oracle; plain loops, no BLAS, no OpenMP). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/layers.h"
#include "layers_ref.h"
#include "base/rng.h"

/* dropout of element i: kept value (x / (1-p)) or 0 */
static double drop(double x, double p, uint64_t key, size_t i)
{
    uint32_t thr = ss__dropout_threshold((float)p);
    if (!thr) return x;
    return ss__dropout_keep(key, i, thr) ? x / (1.0 - p) : 0.0;
}

void ss__ref_embedding_forward(double *out, const int32_t *ids, const int32_t *pos,
                               const double *wte, const double *wpe, int N, int C, double p,
                               uint64_t key)
{
    for (size_t n = 0; n < (size_t)N; n++)
        for (int c = 0; c < C; c++)
            out[n * C + c] = drop(wte[(size_t)ids[n] * C + c] + wpe[(size_t)pos[n] * C + c], p,
                                  key, n * C + c);
}

void ss__ref_embedding_backward(double *dwte, double *dwpe, const double *dout,
                                const int32_t *ids, const int32_t *pos, int N, int C, double p,
                                uint64_t key)
{
    for (size_t n = 0; n < (size_t)N; n++)
        for (int c = 0; c < C; c++) {
            double g = drop(dout[n * C + c], p, key, n * C + c);
            dwte[(size_t)ids[n] * C + c] += g;
            dwpe[(size_t)pos[n] * C + c] += g;
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

void ss__ref_attention_forward(double *out, double *att, const double *qkv, const ss__seqs *s,
                               int C, int NH, double p, uint64_t key)
{
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < s->B; b++) {
        int L = s->start[b + 1] - s->start[b];
        const double *x = qkv + (size_t)s->start[b] * 3 * C; /* row t at x + t*3C */
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < L; i++) {
                size_t ai = s->att[b] + ((size_t)h * L + i) * L;
                double *a = att + ai, mx = -INFINITY, sum = 0;
                for (int j = 0; j < L; j++) {
                    double d = 0;
                    for (int e = 0; e < hs; e++)
                        d += x[(size_t)i * 3 * C + h * hs + e] * x[(size_t)j * 3 * C + C + h * hs + e];
                    a[j] = d * scale;
                    if (a[j] > mx) mx = a[j];
                }
                for (int j = 0; j < L; j++) sum += a[j] = exp(a[j] - mx);
                for (int j = 0; j < L; j++) a[j] /= sum;
                double *o = out + ((size_t)s->start[b] + i) * C + h * hs;
                for (int e = 0; e < hs; e++) {
                    double v = 0;
                    for (int j = 0; j < L; j++)
                        v += drop(a[j], p, key, ai + j) * x[(size_t)j * 3 * C + 2 * C + h * hs + e];
                    o[e] = v;
                }
            }
    }
}

void ss__ref_attention_backward(double *dqkv, const double *dout, const double *qkv,
                                const double *att, const ss__seqs *s, int C, int NH, double p,
                                uint64_t key)
{
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    memset(dqkv, 0, sizeof(double) * (size_t)s->start[s->B] * 3 * C);
    for (int b = 0; b < s->B; b++) {
        int L = s->start[b + 1] - s->start[b];
        const double *x = qkv + (size_t)s->start[b] * 3 * C;
        double *dx = dqkv + (size_t)s->start[b] * 3 * C;
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < L; i++) {
                size_t ai = s->att[b] + ((size_t)h * L + i) * L;
                const double *a = att + ai;
                const double *d = dout + ((size_t)s->start[b] + i) * C + h * hs;
                double dp[L], dot = 0;
                /* o_i = sum_j drop(a_ij) v_j */
                for (int j = 0; j < L; j++) {
                    double pj = drop(a[j], p, key, ai + j), g = 0;
                    for (int e = 0; e < hs; e++) {
                        dx[(size_t)j * 3 * C + 2 * C + h * hs + e] += pj * d[e];
                        g += d[e] * x[(size_t)j * 3 * C + 2 * C + h * hs + e];
                    }
                    dp[j] = drop(g, p, key, ai + j);
                    dot += a[j] * dp[j];
                }
                for (int j = 0; j < L; j++) {
                    double ds = a[j] * (dp[j] - dot) * scale;
                    for (int e = 0; e < hs; e++) {
                        dx[(size_t)i * 3 * C + h * hs + e] += ds * x[(size_t)j * 3 * C + C + h * hs + e];
                        dx[(size_t)j * 3 * C + C + h * hs + e] += ds * x[(size_t)i * 3 * C + h * hs + e];
                    }
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

void ss__ref_pool_forward(double *out, int32_t *argmax, const double *inp, const ss__seqs *s,
                          int C, int mode)
{
    int D = mode == SS_POOL_MEANMAX ? 2 * C : C;
    for (int b = 0; b < s->B; b++)
        for (int c = 0; c < C; c++) {
            int r0 = s->start[b], r1 = s->start[b + 1], arg = r0;
            double sum = 0, best = inp[(size_t)r0 * C + c];
            for (int r = r0; r < r1; r++) {
                double x = inp[(size_t)r * C + c];
                sum += x;
                if (x > best) best = x, arg = r;
            }
            double *o = out + (size_t)b * D + c;
            if (mode == SS_POOL_MEAN) *o = sum / (r1 - r0);
            else if (mode == SS_POOL_CLS) *o = inp[(size_t)r0 * C + c];
            else if (mode == SS_POOL_MAX) *o = best, argmax[(size_t)b * C + c] = arg;
            else o[0] = sum / (r1 - r0), o[C] = best, argmax[(size_t)b * C + c] = arg;
        }
}

void ss__ref_pool_backward(double *dinp, const double *dout, const int32_t *argmax,
                           const ss__seqs *s, int C, int mode)
{
    memset(dinp, 0, sizeof(double) * (size_t)s->start[s->B] * C);
    int D = mode == SS_POOL_MEANMAX ? 2 * C : C;
    for (int b = 0; b < s->B; b++) {
        int r0 = s->start[b], r1 = s->start[b + 1];
        for (int c = 0; c < C; c++) {
            double d = dout[(size_t)b * D + c];
            if (mode == SS_POOL_CLS) dinp[(size_t)r0 * C + c] = d;
            else if (mode == SS_POOL_MAX) dinp[(size_t)argmax[(size_t)b * C + c] * C + c] = d;
            else
                for (int r = r0; r < r1; r++) dinp[(size_t)r * C + c] = d / (r1 - r0);
            if (mode == SS_POOL_MEANMAX) dinp[(size_t)argmax[(size_t)b * C + c] * C + c] += dout[(size_t)b * D + C + c];
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
    int B = bt->B, C = cfg->d_model, NH = cfg->n_heads, F = cfg->d_ff, NL = cfg->n_layers;
    ss__layout L;
    ss__model_layout(cfg, &L);
    /* pack the real tokens as the encoder does */
    size_t BT = (size_t)B * bt->T;
    int32_t *ids = ss__malloc(sizeof(int32_t) * (BT ? BT : 1));
    int32_t *pos = ss__malloc(sizeof(int32_t) * (BT ? BT : 1));
    int *len = ss__malloc(sizeof(int) * (size_t)B), *start = ss__malloc(sizeof(int) * (B + 1));
    size_t *attoff = ss__malloc(sizeof(size_t) * (B + 1));
    int32_t *argmax = ss__calloc((size_t)B * C, sizeof(int32_t));
    struct lay {
        double *xin, *ln1, *m1, *r1, *qkv, *att, *ao, *proj, *xmid, *ln2, *m2, *r2, *h, *g, *f,
            *xout;
    } *lay = ss__malloc(sizeof *lay * (size_t)(NL > 0 ? NL : 1));
    double *mem = NULL;
    if (!ids || !pos || !len || !start || !attoff || !argmax || !lay) goto nomem;
    size_t N = (size_t)ss__batch_pack(bt, ids, pos, len);
    size_t att_n = ss__seqs_layout(B, len, NH, start, attoff);
    ss__seqs sq = {B, start, attoff};
    size_t NC = N * C;
    /* activations: x0; per layer ln1, m1, r1, qkv, att, ao, proj, xmid, ln2,
     * m2, r2, h, g, f, xout; then lnf, mf, rf, pooled, norm; backward
     * buffers dres, dtmp, dln, dy, dqkv, dg, dpool */
    size_t per = NC * 10 + N * 4 + att_n + N * F * 2;
    size_t BD = (size_t)B * (cfg->pooling == SS_POOL_MEANMAX ? 2 * C : C);
    size_t total = NC + per * (size_t)NL + NC + 2 * N + 2 * BD + 2 * (size_t)B;
    if (dout) total += NC * 7 + N * F + 2 * BD;
    mem = ss__calloc(total, sizeof(double));
    if (!mem) goto nomem;
    double *cur = mem;
#define TAKE(n) (cur += (n), cur - (n))
    double *x0 = TAKE(NC);
    for (int l = 0; l < NL; l++) {
        struct lay *y = &lay[l];
        y->xin = l ? lay[l - 1].xout : x0;
        y->ln1 = TAKE(NC), y->m1 = TAKE(N), y->r1 = TAKE(N), y->qkv = TAKE(3 * NC);
        y->att = TAKE(att_n), y->ao = TAKE(NC), y->proj = TAKE(NC), y->xmid = TAKE(NC);
        y->ln2 = TAKE(NC), y->m2 = TAKE(N), y->r2 = TAKE(N), y->h = TAKE(N * F);
        y->g = TAKE(N * F), y->f = TAKE(NC), y->xout = TAKE(NC);
    }
    double *xL = NL ? lay[NL - 1].xout : x0;
    double *lnf = TAKE(NC), *mf = TAKE(N), *rf = TAKE(N), *pooled = TAKE(BD);
    double *norm = TAKE(2 * (size_t)B), *unit = TAKE(BD);

    ss__ref_embedding_forward(x0, ids, pos, P + L.wte, P + L.wpe, (int)N, C, p,
                              ss__dropout_site(key, ss__site_embed()));
    for (int l = 0; l < NL; l++) {
        struct lay *y = &lay[l];
        const double *W = P + L.blk0 + (size_t)l * L.blk_size;
        ss__ref_layernorm_forward(y->ln1, y->m1, y->r1, y->xin, W + L.blk.ln1w, W + L.blk.ln1b,
                                  (int)N, C);
        ss__ref_matmul_forward(y->qkv, y->ln1, W + L.blk.qkvw, W + L.blk.qkvb, (int)N, C, 3 * C);
        ss__ref_attention_forward(y->ao, y->att, y->qkv, &sq, C, NH, p,
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
    const double *xf = xL;
    if (!cfg->no_out_norm) {
        ss__ref_layernorm_forward(lnf, mf, rf, xL, P + L.lnfw, P + L.lnfb, (int)N, C);
        xf = lnf;
    }
    ss__ref_pool_forward(pooled, argmax, xf, &sq, C, cfg->pooling);
    if (cfg->pooling == SS_POOL_MEANMAX) { /* each half normalized, then the whole / sqrt 2 */
        ss__ref_l2norm_forward(unit, norm, pooled, 2 * B, C);
        for (size_t i = 0; i < BD; i++) out[i] = unit[i] / sqrt(2.0);
    } else {
        ss__ref_l2norm_forward(out, norm, pooled, B, C);
    }

    if (dout) {
        /* backward: dres is the gradient of the residual stream */
        double *dres = TAKE(NC), *dtmp = TAKE(NC), *dln = TAKE(NC), *dy = TAKE(NC);
        double *dqkv = TAKE(3 * NC), *dg = TAKE(N * F), *dpool = TAKE(BD), *dunit = TAKE(BD);
        if (cfg->pooling == SS_POOL_MEANMAX) {
            for (size_t i = 0; i < BD; i++) dunit[i] = dout[i] / sqrt(2.0);
            ss__ref_l2norm_backward(dpool, dunit, unit, norm, 2 * B, C);
        } else {
            ss__ref_l2norm_backward(dpool, dout, out, norm, B, C);
        }
        ss__ref_pool_backward(dtmp, dpool, argmax, &sq, C, cfg->pooling);
        if (cfg->no_out_norm)
            for (size_t i = 0; i < NC; i++) dres[i] = dtmp[i];
        else
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
            ss__ref_attention_backward(dqkv, dtmp, y->qkv, y->att, &sq, C, NH, p,
                                       ss__dropout_site(key, ss__site_attn(l)));
            ss__ref_matmul_backward(dln, GW + L.blk.qkvw, GW + L.blk.qkvb, dqkv, y->ln1,
                                    W + L.blk.qkvw, (int)N, C, 3 * C);
            ss__ref_layernorm_backward(dres, GW + L.blk.ln1w, GW + L.blk.ln1b, dln, y->xin,
                                       W + L.blk.ln1w, y->m1, y->r1, (int)N, C);
        }
        ss__ref_embedding_backward(G + L.wte, G + L.wpe, dres, ids, pos, (int)N, C, p,
                                   ss__dropout_site(key, ss__site_embed()));
    }
#undef TAKE
    ss_free(mem), ss_free(ids), ss_free(pos), ss_free(len), ss_free(start), ss_free(attoff);
    ss_free(argmax), ss_free(lay);
    return SS_OK;
nomem:
    ss_free(mem), ss_free(ids), ss_free(pos), ss_free(len), ss_free(start), ss_free(attoff);
    ss_free(argmax), ss_free(lay);
    return ss__fail(SS_ERR_NOMEM, "out of memory");
}
