/* kernels.c: every fast kernel (layers.c, loss.c, encoder.c) against its
 * naive double-precision reference (layers_ref.c) on random data, for
 * several shapes including odd sizes, with and without dropout. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/layers.h"
#include "layers_ref.h"
#include "train/loss.h"
#include "nn/model.h"
#include "base/rng.h"
#include "tap.h"

#define TOL 1e-5 /* float kernels vs double reference, normwise */

static uint64_t rng[4];

static double *randv(size_t n, double sd)
{
    double *x = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * ss__rng_normal(rng));
    return x;
}
static double *zerov(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static float *zerof(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static float *tof(const double *x, size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

/* normwise error max|f - r| / max|r|; reports and returns pass */
static int cmp(const char *what, const float *f, const double *r, size_t n, double tol)
{
    double m = 0, e = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs(r[i]));
        e = fmax(e, fabs((double)f[i] - r[i]));
        finite &= isfinite(f[i]);
    }
    double rel = m > 0 ? e / m : e;
    return tap_ok(finite && rel <= tol, "%s (err %.2e)", what, rel);
}

typedef struct {
    int B, T, C, NH, F, V;
    float p;
} shape;

static uint8_t *make_mask(int B, int T)
{
    uint8_t *m = malloc((size_t)B * T);
    for (int b = 0; b < B; b++) {
        /* lengths T, 1, and random in between */
        int len = b == 0 ? T : b == 1 ? 1 : 1 + (int)(ss__rng_next(rng) % (uint64_t)T);
        for (int t = 0; t < T; t++) m[(size_t)b * T + t] = t < len;
    }
    return m;
}

static void kernels(const shape *s)
{
    int B = s->B, T = s->T, C = s->C, NH = s->NH, F = s->F, V = s->V;
    double p = s->p;
    /* B sequences of lengths up to T, packed: N token rows */
    uint8_t *mask = make_mask(B, T);
    int *len = malloc(sizeof(int) * B), *start = malloc(sizeof(int) * (B + 1));
    size_t *attoff = malloc(sizeof(size_t) * (B + 1));
    for (int b = 0; b < B; b++) {
        len[b] = 0;
        for (int t = 0; t < T; t++) len[b] += mask[b * T + t];
    }
    size_t na = ss__seqs_layout(B, len, NH, start, attoff);
    ss__seqs sq = {B, start, attoff};
    size_t N = (size_t)start[B], NC = N * C, NF = N * F;
    char tag[96];
    snprintf(tag, sizeof tag, "B=%d T=%d C=%d NH=%d F=%d p=%.2f", B, T, C, NH, F, p);
    uint64_t key = ss__rng_next(rng);
    char what[160];

    /* embedding */
    int32_t *ids = malloc(sizeof(int32_t) * N), *pos = malloc(sizeof(int32_t) * N);
    for (size_t i = 0; i < N; i++) {
        ids[i] = (int32_t)(ss__rng_next(rng) % (uint64_t)V);
        pos[i] = (int32_t)(ss__rng_next(rng) % (uint64_t)T);
    }
    double *wte = randv((size_t)V * C, 1), *wpe = randv((size_t)T * C, 1), *d = randv(NC, 1);
    double *out = zerov(NC), *gte = zerov((size_t)V * C), *gpe = zerov((size_t)T * C);
    float *fwte = tof(wte, (size_t)V * C), *fwpe = tof(wpe, (size_t)T * C), *fd = tof(d, NC);
    float *fout = zerof(NC), *fgte = zerof((size_t)V * C), *fgpe = zerof((size_t)T * C);
    ss__ref_embedding_forward(out, ids, pos, wte, wpe, (int)N, C, p, key);
    ss__embedding_forward(fout, ids, pos, fwte, fwpe, (int)N, C, (float)p, key);
    snprintf(what, sizeof what, "embedding forward %s", tag);
    cmp(what, fout, out, NC, TOL);
    ss__ref_embedding_backward(gte, gpe, d, ids, pos, (int)N, C, p, key);
    ss__embedding_backward(fgte, fgpe, fd, ids, pos, (int)N, C, (float)p, key);
    snprintf(what, sizeof what, "embedding backward token_embd %s", tag);
    cmp(what, fgte, gte, (size_t)V * C, TOL);
    snprintf(what, sizeof what, "embedding backward pos_embd %s", tag);
    cmp(what, fgpe, gpe, (size_t)T * C, TOL);
    free(wte), free(wpe), free(gte), free(gpe), free(fwte), free(fwpe), free(fgte), free(fgpe);

    /* layernorm (input with a large offset: the variance must not cancel) */
    double *x = randv(NC, 1), *w = randv(C, 1), *bb = randv(C, 1);
    for (size_t i = 0; i < NC; i++) x[i] = (float)(x[i] + 3.0);
    double *mean = zerov(N), *rstd = zerov(N), *dx = zerov(NC), *dw = zerov(C), *db = zerov(C);
    float *fx = tof(x, NC), *fw = tof(w, C), *fb = tof(bb, C), *fmean = zerof(N), *frstd = zerof(N);
    float *fdx = zerof(NC), *fdw = zerof(C), *fdb = zerof(C);
    ss__ref_layernorm_forward(out, mean, rstd, x, w, bb, (int)N, C);
    ss__layernorm_forward(fout, fmean, frstd, fx, fw, fb, (int)N, C);
    snprintf(what, sizeof what, "layernorm forward %s", tag);
    cmp(what, fout, out, NC, TOL);
    ss__ref_layernorm_backward(dx, dw, db, d, x, w, mean, rstd, (int)N, C);
    ss__layernorm_backward(fdx, fdw, fdb, fd, fx, fw, fmean, frstd, (int)N, C);
    snprintf(what, sizeof what, "layernorm backward input %s", tag);
    cmp(what, fdx, dx, NC, TOL);
    snprintf(what, sizeof what, "layernorm backward weight %s", tag);
    cmp(what, fdw, dw, C, TOL);
    snprintf(what, sizeof what, "layernorm backward bias %s", tag);
    cmp(what, fdb, db, C, TOL);
    free(x), free(w), free(bb), free(mean), free(rstd), free(dx), free(dw), free(db);
    free(fx), free(fw), free(fb), free(fmean), free(frstd), free(fdx), free(fdw), free(fdb);

    /* linear C -> F */
    x = randv(NC, 1), w = randv((size_t)F * C, 0.2), bb = randv(F, 1);
    double *y = zerov(NF), *dy = randv(NF, 1);
    dx = zerov(NC), dw = randv((size_t)F * C, 1), db = randv(F, 1); /* += onto nonzero */
    fx = tof(x, NC), fw = tof(w, (size_t)F * C), fb = tof(bb, F);
    float *fy = zerof(NF), *fdy = tof(dy, NF);
    fdx = zerof(NC), fdw = tof(dw, (size_t)F * C), fdb = tof(db, F);
    ss__ref_matmul_forward(y, x, w, bb, (int)N, C, F);
    ss__matmul_forward(fy, fx, fw, fb, (int)N, C, F);
    snprintf(what, sizeof what, "linear forward %s", tag);
    cmp(what, fy, y, NF, TOL);
    ss__ref_matmul_forward(y, x, w, NULL, (int)N, C, F);
    ss__matmul_forward(fy, fx, fw, NULL, (int)N, C, F);
    snprintf(what, sizeof what, "linear forward without bias %s", tag);
    cmp(what, fy, y, NF, TOL);
    ss__ref_matmul_backward(dx, dw, db, dy, x, w, (int)N, C, F);
    ss__matmul_backward(fdx, fdw, fdb, fdy, fx, fw, (int)N, C, F);
    snprintf(what, sizeof what, "linear backward input %s", tag);
    cmp(what, fdx, dx, NC, TOL);
    snprintf(what, sizeof what, "linear backward weight %s", tag);
    cmp(what, fdw, dw, (size_t)F * C, TOL);
    snprintf(what, sizeof what, "linear backward bias %s", tag);
    cmp(what, fdb, db, F, TOL);

    /* gelu */
    double *g = zerov(NF);
    float *fg = zerof(NF);
    for (size_t i = 0; i < NF; i++) y[i] = fy[i] * 3; /* wide range */
    free(fy);
    fy = tof(y, NF);
    ss__ref_gelu_forward(g, y, NF);
    ss__gelu_forward(fg, fy, NF);
    snprintf(what, sizeof what, "gelu forward %s", tag);
    cmp(what, fg, g, NF, TOL);
    ss__ref_gelu_backward(g, y, dy, NF);
    ss__gelu_backward(fg, fy, fdy, NF);
    snprintf(what, sizeof what, "gelu backward %s", tag);
    cmp(what, fg, g, NF, TOL);
    ss__gelu_backward(fdy, fy, fdy, NF); /* in place */
    snprintf(what, sizeof what, "gelu backward in place %s", tag);
    cmp(what, fdy, g, NF, TOL);
    free(x), free(w), free(bb), free(y), free(dy), free(dx), free(dw), free(db), free(g);
    free(fx), free(fw), free(fb), free(fy), free(fdy), free(fdx), free(fdw), free(fdb), free(fg);

    /* attention */
    double *qkv = randv(3 * NC, 1), *att = zerov(na), *dqkv = zerov(3 * NC);
    float *fqkv = tof(qkv, 3 * NC), *fatt = zerof(na), *fattd = zerof(na), *fdatt = zerof(na);
    float *fdqkv = zerof(3 * NC);
    ss__ref_attention_forward(out, att, qkv, &sq, C, NH, p, key);
    ss__attention_forward(fout, fatt, fattd, fqkv, &sq, C, NH, (float)p, key);
    snprintf(what, sizeof what, "attention forward %s", tag);
    cmp(what, fout, out, NC, TOL);
    snprintf(what, sizeof what, "attention probabilities %s", tag);
    cmp(what, fatt, att, na, TOL);
    ss__ref_attention_backward(dqkv, d, qkv, att, &sq, C, NH, p, key);
    ss__attention_backward(fdqkv, fdatt, fattd, fd, fqkv, fatt, &sq, C, NH, (float)p, key);
    snprintf(what, sizeof what, "attention backward %s", tag);
    cmp(what, fdqkv, dqkv, 3 * NC, TOL);
    free(qkv), free(att), free(dqkv), free(fqkv), free(fatt), free(fattd), free(fdatt), free(fdqkv);

    /* residual */
    double *r = randv(NC, 1), *yy = randv(NC, 1);
    float *fr = tof(r, NC), *fyy = tof(yy, NC), *fdy2 = zerof(NC);
    double *dy2 = zerov(NC);
    ss__ref_residual_forward(out, r, yy, NC, p, key);
    ss__residual_forward(fout, fr, fyy, NC, (float)p, key);
    snprintf(what, sizeof what, "residual forward %s", tag);
    cmp(what, fout, out, NC, TOL);
    ss__ref_residual_backward(dy2, d, NC, p, key);
    ss__residual_backward(fdy2, fd, NC, (float)p, key);
    snprintf(what, sizeof what, "residual backward %s", tag);
    cmp(what, fdy2, dy2, NC, TOL);
    free(r), free(yy), free(fr), free(fyy), free(fdy2), free(dy2);

    /* pooling, l2 norm */
    size_t bc = (size_t)B * C;
    double *px = randv(NC, 1), *po = zerov(bc), *pd = randv(bc, 1), *pdx = zerov(NC);
    float *fpx = tof(px, NC), *fpo = zerof(bc), *fpd = tof(pd, bc), *fpdx = zerof(NC);
    int32_t *am = calloc(bc, sizeof(int32_t)), *fam = calloc(bc, sizeof(int32_t));
    static const char *names[3] = {"mean", "CLS", "max"};
    for (int mode = 0; mode < 3; mode++) {
        ss__ref_pool_forward(po, am, px, &sq, C, mode);
        ss__pool_forward(fpo, fam, fpx, &sq, C, mode);
        snprintf(what, sizeof what, "%s pooling forward %s", names[mode], tag);
        cmp(what, fpo, po, bc, TOL);
        ss__ref_pool_backward(pdx, pd, am, &sq, C, mode);
        ss__pool_backward(fpdx, fpd, fam, &sq, C, mode);
        snprintf(what, sizeof what, "%s pooling backward %s", names[mode], tag);
        cmp(what, fpdx, pdx, NC, TOL);
    }
    double *nrm = zerov(B);
    float *fnrm = zerof(B);
    ss__ref_l2norm_forward(po, nrm, px, B, C);
    ss__l2norm_forward(fpo, fnrm, fpx, B, C);
    snprintf(what, sizeof what, "l2norm forward %s", tag);
    cmp(what, fpo, po, bc, TOL);
    ss__ref_l2norm_backward(pdx, pd, po, nrm, B, C);
    ss__l2norm_backward(fpdx, fpd, fpo, fnrm, B, C);
    snprintf(what, sizeof what, "l2norm backward %s", tag);
    cmp(what, fpdx, pdx, bc, TOL);

    /* InfoNCE on the normalized rows and a second set */
    double *pb = randv(NC, 1), *nb = zerov(bc), *nrm2 = zerov(B), *da = zerov(bc), *dbb = zerov(bc);
    ss__ref_l2norm_forward(nb, nrm2, pb, B, C);
    float *fnb = tof(nb, bc), *fna = tof(po, bc), *fda = zerof(bc), *fdbb = zerof(bc);
    float *work = zerof(3 * (size_t)B * B);
    for (int sym = 0; sym < 2; sym++) {
        double L = ss__ref_infonce(po, nb, B, C, 0.07, sym, da, dbb);
        double Lf = ss__infonce_forward(work, fna, fnb, B, C, 0.07f, sym);
        ss__infonce_backward(fda, fdbb, work, fna, fnb, B, C, 0.07f, sym);
        snprintf(what, sizeof what, "InfoNCE sym=%d loss %s", sym, tag);
        tap_close(Lf, L, 1e-5, what);
        snprintf(what, sizeof what, "InfoNCE sym=%d grad a %s", sym, tag);
        cmp(what, fda, da, bc, TOL);
        snprintf(what, sizeof what, "InfoNCE sym=%d grad b %s", sym, tag);
        cmp(what, fdbb, dbb, bc, TOL);
    }
    free(pb), free(nb), free(nrm2), free(da), free(dbb), free(fnb), free(fna), free(fda);
    free(fdbb), free(work);
    free(px), free(po), free(pd), free(pdx), free(fpx), free(fpo), free(fpd), free(fpdx), free(am);
    free(fam), free(nrm), free(fnrm);

    free(ids), free(pos), free(mask), free(len), free(start), free(attoff);
    free(d), free(out), free(fd), free(fout);
}

/* the whole encoder against the reference model */
static void encoder_vs_ref(const shape *s, int NL, int pooling)
{
    ss_config c;
    ss_config_init(&c);
    c.vocab_size = s->V, c.max_len = s->T + 3, c.d_model = s->C, c.n_heads = s->NH;
    c.d_ff = s->F, c.n_layers = NL, c.pooling = pooling, c.dropout = s->p;
    int B = s->B, T = s->T;
    ss_batch b = {.B = B, .T = T};
    b.ids = malloc(sizeof(int32_t) * B * T);
    b.mask = make_mask(B, T);
    for (int i = 0; i < B * T; i++) b.ids[i] = (int32_t)(ss__rng_next(rng) % (uint64_t)s->V);
    size_t n = ss__model_param_count(&c), bc = (size_t)B * c.d_model;
    double *P = randv(n, 0.2), *G = zerov(n), *out = zerov(bc), *d = randv(bc, 1);
    float *fP = tof(P, n), *fG = zerof(n), *fd = tof(d, bc);
    uint64_t key = ss__rng_next(rng);
    ss__encoder *e;
    const float *fo;
    int rc = ss__encoder_new(&e);
    if (!rc) rc = ss__encoder_forward(e, &c, fP, &b, 1, s->p, key, &fo);
    if (!rc) rc = ss__encoder_backward(e, &c, fP, fd, fG);
    if (!rc) rc = ss__ref_model(&c, P, &b, s->p, key, out, d, G);
    char what[160];
    snprintf(what, sizeof what, "encoder B=%d T=%d C=%d NH=%d F=%d L=%d pool=%d p=%.2f", B, T,
             s->C, s->NH, s->F, NL, pooling, s->p);
    if (!tap_ok(rc == 0, "%s runs", what)) tap_diag("%s", ss_errmsg());
    if (!rc) {
        char w2[200];
        snprintf(w2, sizeof w2, "%s: embeddings", what);
        cmp(w2, fo, out, bc, TOL);
        snprintf(w2, sizeof w2, "%s: parameter gradients", what);
        cmp(w2, fG, G, n, TOL);
        /* an inference forward (one layer of activations reused) agrees too */
        if (s->p == 0) {
            rc = ss__encoder_forward(e, &c, fP, &b, 0, 0.0f, 0, &fo);
            snprintf(w2, sizeof w2, "%s: inference embeddings", what);
            if (!rc) cmp(w2, fo, out, bc, TOL);
            else tap_ok(0, "%s", w2);
        }
    }
    ss__encoder_free(e);
    free(P), free(G), free(out), free(d), free(fP), free(fG), free(fd);
    free(b.ids), free(b.mask);
}

int main(void)
{
    ss_set_threads(2);
    ss__rng_seed(rng, 7);
    static const shape shapes[] = {
        {1, 1, 4, 1, 3, 5, 0.0f},     {3, 7, 12, 3, 20, 11, 0.0f}, {3, 7, 12, 3, 20, 11, 0.25f},
        {2, 33, 40, 5, 72, 50, 0.0f}, {5, 17, 64, 4, 256, 97, 0.1f},
        {4, 40, 96, 4, 130, 300, 0.0f}, /* large enough for the parallel paths */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) kernels(&shapes[i]);
    static const shape enc[] = {
        {3, 7, 12, 3, 20, 11, 0.0f}, {4, 9, 16, 2, 24, 13, 0.2f}, {6, 21, 64, 4, 96, 40, 0.0f}};
    for (int pool = 0; pool < 3; pool++) encoder_vs_ref(&enc[0], 2, pool);
    encoder_vs_ref(&enc[1], 3, SS_POOL_MEAN);
    encoder_vs_ref(&enc[2], 2, SS_POOL_MEAN);
    encoder_vs_ref(&enc[2], 0, SS_POOL_MAX);
    return tap_done();
}
