/* gradcheck.c: finite-difference gradient checks.
 *
 * For every layer, a scalar loss sum(R * y) (R random) is differentiated by
 * central differences of the double-precision reference forward
 * (layers_ref.c). That numeric gradient is compared with
 *  - the reference backward (double): must agree to ~1e-7;
 *  - the fast backward (float, layers.c): must agree to float accuracy.
 * The same is done for the whole model end to end through the InfoNCE loss.
 * Errors are normwise: max |g - fd| / max |fd|. */
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

#define TOL_REF 1e-7  /* double backward vs finite differences */
#define TOL_FAST 1e-5 /* float backward vs finite differences */
#define FD_H 1e-5

static uint64_t rng[4];

/* random values exactly representable in float, so that the float and the
 * double paths see the same inputs */
static double *randv(size_t n, double sd)
{
    double *x = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * ss__rng_normal(rng));
    return x;
}
static double *zerov(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static float *tof(const double *x, size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

static double maxabs(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* normwise error of g against reference r */
static double err_d(const double *g, const double *r, size_t n)
{
    double m = maxabs(r, n), e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(g[i] - r[i]));
    return m > 0 ? e / m : e;
}
static double err_f(const float *g, const double *r, size_t n)
{
    double m = maxabs(r, n), e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)g[i] - r[i]));
    return m > 0 ? e / m : e;
}

/* the loss as a function of the current inputs */
typedef double (*lossfn)(void *ctx);

/* fd[i] = d loss / d x[i] by central differences (x is restored) */
static void numgrad(lossfn f, void *ctx, double *x, size_t n, double *fd)
{
    for (size_t i = 0; i < n; i++) {
        double old = x[i];
        x[i] = old + FD_H;
        double lp = f(ctx);
        x[i] = old - FD_H;
        double lm = f(ctx);
        x[i] = old;
        fd[i] = (lp - lm) / (2 * FD_H);
    }
}

/* checks one gradient: numeric vs ref (double) and fast (float) */
static void check(const char *what, lossfn f, void *ctx, double *x, size_t n, const double *gref,
                  const float *gfast)
{
    double *fd = zerov(n);
    numgrad(f, ctx, x, n, fd);
    double scale = maxabs(fd, n);
    tap_ok(scale > 1e-8, "%s: the gradient is not trivially zero (max %.3g)", what, scale);
    double er = err_d(gref, fd, n);
    tap_ok(er < TOL_REF, "%s: reference backward vs finite differences (err %.2e)", what, er);
    if (gfast) {
        double ef = err_f(gfast, fd, n);
        tap_ok(ef < TOL_FAST, "%s: fast backward vs finite differences (err %.2e)", what, ef);
    }
    free(fd);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------- embedding */

typedef struct {
    int N, C, V, L;
    double p;
    uint64_t key;
    int32_t *ids, *pos;
    double *wte, *wpe, *R, *out;
} emb_ctx;

static double emb_loss(void *v)
{
    emb_ctx *c = v;
    ss__ref_embedding_forward(c->out, c->ids, c->pos, c->wte, c->wpe, c->N, c->C, c->p, c->key);
    return dot(c->out, c->R, (size_t)c->N * c->C);
}

static void test_embedding(double p)
{
    emb_ctx c = {.N = 8, .C = 6, .V = 5, .L = 4, .p = p, .key = 99};
    size_t NC = (size_t)c.N * c.C;
    /* repeated ids and positions accumulate */
    int32_t ids[8] = {1, 3, 3, 0, 4, 1, 2, 1}, pos[8] = {0, 1, 2, 3, 0, 1, 0, 0};
    c.ids = ids, c.pos = pos;
    c.wte = randv((size_t)c.V * c.C, 1), c.wpe = randv((size_t)c.L * c.C, 1);
    c.R = randv(NC, 1), c.out = zerov(NC);
    double *gte = zerov((size_t)c.V * c.C), *gpe = zerov((size_t)c.L * c.C);
    ss__ref_embedding_backward(gte, gpe, c.R, ids, pos, c.N, c.C, p, c.key);
    float *fte = calloc((size_t)c.V * c.C, 4), *fpe = calloc((size_t)c.L * c.C, 4);
    float *fR = tof(c.R, NC);
    ss__embedding_backward(fte, fpe, fR, ids, pos, c.N, c.C, (float)p, c.key);
    char name[64];
    snprintf(name, sizeof name, "embedding p=%.1f token_embd", p);
    check(name, emb_loss, &c, c.wte, (size_t)c.V * c.C, gte, fte);
    snprintf(name, sizeof name, "embedding p=%.1f pos_embd", p);
    check(name, emb_loss, &c, c.wpe, (size_t)c.L * c.C, gpe, fpe);
    free(c.wte), free(c.wpe), free(c.R), free(c.out), free(gte), free(gpe), free(fte), free(fpe);
    free(fR);
}

/* ------------------------------------------------------------- layernorm */

typedef struct {
    int N, C;
    double *x, *w, *b, *R, *out, *mean, *rstd;
} ln_ctx;

static double ln_loss(void *v)
{
    ln_ctx *c = v;
    ss__ref_layernorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->C);
    return dot(c->out, c->R, (size_t)c->N * c->C);
}

static void test_layernorm(void)
{
    ln_ctx c = {.N = 5, .C = 7};
    size_t NC = (size_t)c.N * c.C;
    c.x = randv(NC, 2), c.w = randv(c.C, 1), c.b = randv(c.C, 1), c.R = randv(NC, 1);
    c.out = zerov(NC), c.mean = zerov(c.N), c.rstd = zerov(c.N);
    ln_loss(&c);
    double *dx = zerov(NC), *dw = zerov(c.C), *db = zerov(c.C);
    ss__ref_layernorm_backward(dx, dw, db, c.R, c.x, c.w, c.mean, c.rstd, c.N, c.C);
    float *fx = tof(c.x, NC), *fw = tof(c.w, c.C), *fb = tof(c.b, c.C), *fR = tof(c.R, NC);
    float *fo = calloc(NC, 4), *fm = calloc(c.N, 4), *fr = calloc(c.N, 4);
    float *gx = calloc(NC, 4), *gw = calloc(c.C, 4), *gb = calloc(c.C, 4);
    ss__layernorm_forward(fo, fm, fr, fx, fw, fb, c.N, c.C);
    ss__layernorm_backward(gx, gw, gb, fR, fx, fw, fm, fr, c.N, c.C);
    check("layernorm input", ln_loss, &c, c.x, NC, dx, gx);
    check("layernorm weight", ln_loss, &c, c.w, c.C, dw, gw);
    check("layernorm bias", ln_loss, &c, c.b, c.C, db, gb);
    free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(c.mean), free(c.rstd);
    free(dx), free(dw), free(db), free(fx), free(fw), free(fb), free(fR), free(fo), free(fm);
    free(fr), free(gx), free(gw), free(gb);
}

/* ------------------------------------------------------------- linear */

typedef struct {
    int N, IC, OC;
    double *x, *w, *b, *R, *out;
} mm_ctx;

static double mm_loss(void *v)
{
    mm_ctx *c = v;
    ss__ref_matmul_forward(c->out, c->x, c->w, c->b, c->N, c->IC, c->OC);
    return dot(c->out, c->R, (size_t)c->N * c->OC);
}

static void test_linear(void)
{
    mm_ctx c = {.N = 6, .IC = 5, .OC = 7};
    size_t NI = (size_t)c.N * c.IC, NO = (size_t)c.N * c.OC, W = (size_t)c.OC * c.IC;
    c.x = randv(NI, 1), c.w = randv(W, 1), c.b = randv(c.OC, 1), c.R = randv(NO, 1);
    c.out = zerov(NO);
    double *dx = zerov(NI), *dw = zerov(W), *db = zerov(c.OC);
    ss__ref_matmul_backward(dx, dw, db, c.R, c.x, c.w, c.N, c.IC, c.OC);
    float *fx = tof(c.x, NI), *fw = tof(c.w, W), *fR = tof(c.R, NO);
    float *gx = calloc(NI, 4), *gw = calloc(W, 4), *gb = calloc(c.OC, 4);
    ss__matmul_backward(gx, gw, gb, fR, fx, fw, c.N, c.IC, c.OC);
    check("linear input", mm_loss, &c, c.x, NI, dx, gx);
    check("linear weight", mm_loss, &c, c.w, W, dw, gw);
    check("linear bias", mm_loss, &c, c.b, c.OC, db, gb);
    free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(dx), free(dw), free(db);
    free(fx), free(fw), free(fR), free(gx), free(gw), free(gb);
}

/* ------------------------------------------------------------- attention */

typedef struct {
    int C, NH;
    double p;
    uint64_t key;
    const ss__seqs *s;
    double *qkv, *R, *out, *att;
    size_t nout; /* loss over the first nout outputs only */
} at_ctx;

static double at_loss(void *v)
{
    at_ctx *c = v;
    ss__ref_attention_forward(c->out, c->att, c->qkv, c->s, c->C, c->NH, c->p, c->key);
    return dot(c->out, c->R, c->nout);
}

/* Sequences of 5, 3 and 1 tokens: the padded batch (3,5) of rows of those
 * lengths, its padding removed; the last row is padding but for one token. */
static void test_attention(double p)
{
    static const int len[3] = {5, 3, 1};
    int start[4];
    size_t att[4];
    at_ctx c = {.C = 8, .NH = 2, .p = p, .key = 1234};
    size_t na = ss__seqs_layout(3, len, c.NH, start, att);
    ss__seqs sq = {3, start, att};
    c.s = &sq;
    size_t N = (size_t)start[3], n3 = N * 3 * c.C, NC = N * c.C;
    c.qkv = randv(n3, 1), c.R = randv(NC, 1), c.out = zerov(NC), c.att = zerov(na);
    c.nout = NC;
    at_loss(&c);
    double *dq = zerov(n3);
    ss__ref_attention_backward(dq, c.R, c.qkv, c.att, &sq, c.C, c.NH, p, c.key);
    float *fq = tof(c.qkv, n3), *fR = tof(c.R, NC), *fo = calloc(NC, 4), *fa = calloc(na, 4);
    float *fd = calloc(na, 4), *fda = calloc(na, 4), *gq = calloc(n3, 4);
    ss__attention_forward(fo, fa, fd, fq, &sq, c.C, c.NH, (float)p, c.key);
    ss__attention_backward(gq, fda, fd, fR, fq, fa, &sq, c.C, c.NH, (float)p, c.key);
    char name[80];
    snprintf(name, sizeof name, "attention over sequences of 5, 3, 1 tokens, p=%.1f", p);
    check(name, at_loss, &c, c.qkv, n3, dq, gq);
    /* a sequence's outputs depend on no other sequence: with the loss on the
     * first sequence only, the others' q, k, v get exactly zero gradient */
    memset(fR + (size_t)start[1] * c.C, 0, sizeof(float) * (NC - (size_t)start[1] * c.C));
    ss__attention_backward(gq, fda, fd, fR, fq, fa, &sq, c.C, c.NH, (float)p, c.key);
    int zero = 1;
    for (size_t i = (size_t)start[1] * 3 * c.C; i < n3; i++) zero &= gq[i] == 0;
    c.nout = (size_t)start[1] * c.C;
    double *fdg = zerov(n3);
    numgrad(at_loss, &c, c.qkv, n3, fdg);
    for (size_t i = (size_t)start[1] * 3 * c.C; i < n3; i++) zero &= fdg[i] == 0;
    tap_ok(zero, "attention p=%.1f: no gradient flows between sequences", p);
    free(fdg);
    free(c.qkv), free(c.R), free(c.out), free(c.att), free(dq), free(fq), free(fR), free(fo);
    free(fa), free(fd), free(fda), free(gq);
}

/* ------------------------------------------------------------- gelu */

typedef struct {
    size_t n;
    double *x, *R, *out;
} ge_ctx;

static double ge_loss(void *v)
{
    ge_ctx *c = v;
    ss__ref_gelu_forward(c->out, c->x, c->n);
    return dot(c->out, c->R, c->n);
}

static void test_gelu(void)
{
    ge_ctx c = {.n = 41};
    c.x = randv(c.n, 3), c.R = randv(c.n, 1), c.out = zerov(c.n);
    c.x[0] = -12, c.x[1] = 12, c.x[2] = 0; /* saturated and central */
    double *dx = zerov(c.n);
    ss__ref_gelu_backward(dx, c.x, c.R, c.n);
    float *fx = tof(c.x, c.n), *fR = tof(c.R, c.n), *gx = calloc(c.n, 4), *fo = calloc(c.n, 4);
    ss__gelu_backward(gx, fx, fR, c.n);
    check("gelu", ge_loss, &c, c.x, c.n, dx, gx);
    /* the fast forward (own exp) against the reference */
    ss__gelu_forward(fo, fx, c.n);
    ge_loss(&c);
    double e = err_f(fo, c.out, c.n);
    tap_ok(e < 1e-6, "gelu fast forward vs reference (err %.2e)", e);
    free(c.x), free(c.R), free(c.out), free(dx), free(fx), free(fR), free(gx), free(fo);
}

/* ------------------------------------------------------------- residual */

typedef struct {
    size_t n;
    double p;
    uint64_t key;
    double *res, *y, *R, *out;
} rs_ctx;

static double rs_loss(void *v)
{
    rs_ctx *c = v;
    ss__ref_residual_forward(c->out, c->res, c->y, c->n, c->p, c->key);
    return dot(c->out, c->R, c->n);
}

static void test_residual(double p)
{
    rs_ctx c = {.n = 37, .p = p, .key = 5};
    c.res = randv(c.n, 1), c.y = randv(c.n, 1), c.R = randv(c.n, 1), c.out = zerov(c.n);
    double *dy = zerov(c.n);
    ss__ref_residual_backward(dy, c.R, c.n, p, c.key);
    float *fR = tof(c.R, c.n), *gy = calloc(c.n, 4);
    ss__residual_backward(gy, fR, c.n, (float)p, c.key);
    char name[64];
    snprintf(name, sizeof name, "residual branch p=%.1f", p);
    check(name, rs_loss, &c, c.y, c.n, dy, gy);
    snprintf(name, sizeof name, "residual path p=%.1f", p);
    check(name, rs_loss, &c, c.res, c.n, c.R, fR); /* identity: dres = dout */
    free(c.res), free(c.y), free(c.R), free(c.out), free(dy), free(fR), free(gy);
}

/* ------------------------------------------------------------- pooling */

typedef struct {
    int C, mode;
    const ss__seqs *s;
    int32_t *am;
    double *x, *R, *out;
} pl_ctx;

static double pl_loss(void *v)
{
    pl_ctx *c = v;
    ss__ref_pool_forward(c->out, c->am, c->x, c->s, c->C, c->mode);
    return dot(c->out, c->R, (size_t)c->s->B * ss__pool_dim(c->mode, c->C));
}

static void test_pool(int mode, const char *mname)
{
    static const int len[3] = {4, 2, 1};
    int start[4];
    size_t att[4];
    ss__seqs_layout(3, len, 1, start, att);
    ss__seqs sq = {3, start, att};
    pl_ctx c = {.C = 5, .mode = mode, .s = &sq};
    size_t n = (size_t)start[3] * c.C, bc = (size_t)3 * ss__pool_dim(mode, c.C); /* out (B, D) */
    c.x = randv(n, 1), c.R = randv(bc, 1), c.out = zerov(bc);
    c.am = calloc(bc, sizeof(int32_t));
    pl_loss(&c);
    double *dx = zerov(n);
    ss__ref_pool_backward(dx, c.R, c.am, &sq, c.C, mode);
    float *fx = tof(c.x, n), *fR = tof(c.R, bc), *fo = calloc(bc, 4), *gx = calloc(n, 4);
    int32_t *fam = calloc(bc, sizeof(int32_t));
    ss__pool_forward(fo, fam, fx, &sq, c.C, mode);
    ss__pool_backward(gx, fR, fam, &sq, c.C, mode);
    char name[64];
    snprintf(name, sizeof name, "%s pooling", mname);
    check(name, pl_loss, &c, c.x, n, dx, gx);
    free(c.x), free(c.R), free(c.out), free(c.am), free(dx), free(fx), free(fR), free(fo);
    free(gx), free(fam);
}

/* ------------------------------------------------------------- l2 norm */

typedef struct {
    int B, C;
    double *x, *R, *out, *norm;
} l2_ctx;

static double l2_loss(void *v)
{
    l2_ctx *c = v;
    ss__ref_l2norm_forward(c->out, c->norm, c->x, c->B, c->C);
    return dot(c->out, c->R, (size_t)c->B * c->C);
}

static void test_l2norm(void)
{
    l2_ctx c = {.B = 4, .C = 6};
    size_t n = (size_t)c.B * c.C;
    c.x = randv(n, 1), c.R = randv(n, 1), c.out = zerov(n), c.norm = zerov(c.B);
    l2_loss(&c);
    double *dx = zerov(n);
    ss__ref_l2norm_backward(dx, c.R, c.out, c.norm, c.B, c.C);
    float *fx = tof(c.x, n), *fR = tof(c.R, n), *fo = calloc(n, 4), *fn = calloc(c.B, 4);
    float *gx = calloc(n, 4);
    ss__l2norm_forward(fo, fn, fx, c.B, c.C);
    ss__l2norm_backward(gx, fR, fo, fn, c.B, c.C);
    check("l2 normalization", l2_loss, &c, c.x, n, dx, gx);
    free(c.x), free(c.R), free(c.out), free(c.norm), free(dx), free(fx), free(fR), free(fo);
    free(fn), free(gx);
}

/* ------------------------------------------------------------- infonce */

typedef struct {
    int B, C, sym;
    double temp;
    double *a, *b;
} nce_ctx;

static double nce_loss(void *v)
{
    nce_ctx *c = v;
    return ss__ref_infonce(c->a, c->b, c->B, c->C, c->temp, c->sym, NULL, NULL);
}

static void normalize_rows(double *x, int B, int C)
{
    for (int i = 0; i < B; i++) {
        double s = sqrt(dot(x + (size_t)i * C, x + (size_t)i * C, C));
        for (int j = 0; j < C; j++) x[(size_t)i * C + j] = (float)(x[(size_t)i * C + j] / s);
    }
}

static void test_infonce(int sym)
{
    nce_ctx c = {.B = 5, .C = 6, .sym = sym, .temp = 0.1};
    size_t n = (size_t)c.B * c.C;
    c.a = randv(n, 1), c.b = randv(n, 1);
    normalize_rows(c.a, c.B, c.C);
    normalize_rows(c.b, c.B, c.C);
    double *da = zerov(n), *db = zerov(n);
    double L = ss__ref_infonce(c.a, c.b, c.B, c.C, c.temp, sym, da, db);
    float *fa = tof(c.a, n), *fb = tof(c.b, n), *ga = calloc(n, 4), *gb = calloc(n, 4);
    float *work = calloc(3 * (size_t)c.B * c.B, 4);
    double Lf = ss__infonce_forward(work, fa, fb, c.B, c.C, (float)c.temp, sym);
    ss__infonce_backward(ga, gb, work, fa, fb, c.B, c.C, (float)c.temp, sym);
    char name[64];
    snprintf(name, sizeof name, "InfoNCE (%s) loss, fast vs reference", sym ? "symmetric" : "a->b");
    tap_close(Lf, L, 1e-5, name);
    snprintf(name, sizeof name, "InfoNCE (%s) side a", sym ? "symmetric" : "a->b");
    check(name, nce_loss, &c, c.a, n, da, ga);
    snprintf(name, sizeof name, "InfoNCE (%s) side b", sym ? "symmetric" : "a->b");
    check(name, nce_loss, &c, c.b, n, db, gb);
    free(c.a), free(c.b), free(da), free(db), free(fa), free(fb), free(ga), free(gb), free(work);
}

/* InfoNCE with hard negatives, from its definition (no gradient: the check
 * below takes finite differences of this): rows a_i over all N columns of b,
 * and (symmetric) columns b_j, j < B, over the rows of a. */
typedef struct {
    int B, N, C, sym;
    double temp;
    double *a, *b;
} nneg_ctx;

static double ce(const double *lg, int n, int target)
{
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) mx = lg[j] > mx ? lg[j] : mx;
    for (int j = 0; j < n; j++) sum += exp(lg[j] - mx);
    return mx + log(sum) - lg[target];
}

static double nneg_loss(void *v)
{
    nneg_ctx *c = v;
    double rows = 0, cols = 0, lg[64];
    for (int i = 0; i < c->B; i++) {
        for (int j = 0; j < c->N; j++) lg[j] = dot(c->a + (size_t)i * c->C, c->b + (size_t)j * c->C, c->C) / c->temp;
        rows += ce(lg, c->N, i) / c->B;
    }
    if (!c->sym) return rows;
    for (int j = 0; j < c->B; j++) {
        for (int i = 0; i < c->B; i++) lg[i] = dot(c->a + (size_t)i * c->C, c->b + (size_t)j * c->C, c->C) / c->temp;
        cols += ce(lg, c->B, j) / c->B;
    }
    return 0.5 * (rows + cols);
}

static void test_infonce_negatives(int sym)
{
    nneg_ctx c = {.B = 4, .N = 7, .C = 5, .sym = sym, .temp = 0.1};
    size_t na = (size_t)c.B * c.C, nb = (size_t)c.N * c.C;
    c.a = randv(na, 3), c.b = randv(nb, 4);
    normalize_rows(c.a, c.B, c.C);
    normalize_rows(c.b, c.N, c.C);
    float *fa = tof(c.a, na), *fb = tof(c.b, nb), *ga = calloc(na, 4), *gb = calloc(nb, 4);
    float *work = calloc(3 * (size_t)c.B * c.N, 4);
    double Lf = ss__infonce_neg_forward(work, fa, fb, c.B, c.N, c.C, (float)c.temp, sym);
    ss__infonce_neg_backward(ga, gb, work, fa, fb, c.B, c.N, c.C, (float)c.temp, sym);
    double *fda = zerov(na), *fdb = zerov(nb);
    numgrad(nneg_loss, &c, c.a, na, fda);
    numgrad(nneg_loss, &c, c.b, nb, fdb);
    char name[80];
    snprintf(name, sizeof name, "InfoNCE + hard negatives (%s) loss, fast vs definition", sym ? "symmetric" : "a->b");
    tap_close(Lf, nneg_loss(&c), 1e-5, name);
    tap_ok(maxabs(fdb + (size_t)c.B * c.C, nb - (size_t)c.B * c.C) > 1e-3,
           "InfoNCE + hard negatives (%s): the negatives get a gradient", sym ? "symmetric" : "a->b");
    tap_ok(err_f(ga, fda, na) < TOL_FAST, "InfoNCE + hard negatives (%s) side a: fast backward vs finite "
           "differences (err %.2e)", sym ? "symmetric" : "a->b", err_f(ga, fda, na));
    tap_ok(err_f(gb, fdb, nb) < TOL_FAST, "InfoNCE + hard negatives (%s) side b and negatives: fast backward vs "
           "finite differences (err %.2e)", sym ? "symmetric" : "a->b", err_f(gb, fdb, nb));
    /* with N = B it is plain InfoNCE, bit for bit */
    float *w2 = calloc(3 * (size_t)c.B * c.B, 4);
    double L1 = ss__infonce_neg_forward(work, fa, fb, c.B, c.B, c.C, (float)c.temp, sym);
    double L2 = ss__infonce_forward(w2, fa, fb, c.B, c.C, (float)c.temp, sym);
    tap_ok(L1 == L2, "InfoNCE + hard negatives with no negatives: the plain loss exactly");
    free(c.a), free(c.b), free(fa), free(fb), free(ga), free(gb), free(work), free(fda), free(fdb), free(w2);
}

/* ------------------------------------------------------------- whole model */

typedef struct {
    ss_config cfg;
    ss_batch *a, *b;
    double p, temp;
    double *params, *ea, *eb;
} md_ctx;

static double md_loss(void *v)
{
    md_ctx *c = v;
    if (ss__ref_model(&c->cfg, c->params, c->a, c->p, 11, c->ea, NULL, NULL) ||
        ss__ref_model(&c->cfg, c->params, c->b, c->p, 22, c->eb, NULL, NULL))
        return NAN;
    return ss__ref_infonce(c->ea, c->eb, c->a->B, ss__pool_dim(c->cfg.pooling, c->cfg.d_model), c->temp, 1, NULL, NULL);
}

/* a hand-made batch (no tokenizer needed) */
static void make_batch(ss_batch *b, int B, int T, const int *lens, int V)
{
    b->B = B, b->T = T;
    b->ids = malloc(sizeof(int32_t) * B * T);
    b->mask = malloc((size_t)B * T);
    b->lengths = malloc(sizeof(int) * B);
    for (int i = 0; i < B; i++) {
        b->lengths[i] = lens[i];
        for (int t = 0; t < T; t++) {
            b->ids[i * T + t] = t < lens[i] ? (int32_t)(ss__rng_next(rng) % (uint64_t)V) : 0;
            b->mask[i * T + t] = t < lens[i];
        }
    }
}
static void free_batch(ss_batch *b)
{
    free(b->ids), free(b->mask), free(b->lengths);
}

static void test_model_shape(int pooling, const char *pname, double p, int layers, int no_out_norm)
{
    md_ctx c;
    ss_config_init(&c.cfg);
    c.cfg.vocab_size = 9, c.cfg.max_len = 6, c.cfg.d_model = 8, c.cfg.n_layers = layers;
    c.cfg.no_out_norm = no_out_norm;
    c.cfg.n_heads = 2, c.cfg.d_ff = 12, c.cfg.pooling = pooling, c.cfg.dropout = (float)p;
    c.p = p, c.temp = 0.2;
    int B = 3;
    ss_batch a, b;
    static const int la[3] = {6, 3, 1}, lb[3] = {2, 5, 4};
    make_batch(&a, B, 6, la, c.cfg.vocab_size);
    make_batch(&b, B, 5, lb, c.cfg.vocab_size);
    c.a = &a, c.b = &b;
    size_t n = ss__model_param_count(&c.cfg);
    /* generic parameter values: LayerNorm weights near 1, biases nonzero */
    c.params = randv(n, 0.3);
    ss__layout L;
    ss__model_layout(&c.cfg, &L);
    int D = ss__pool_dim(pooling, c.cfg.d_model); /* the vectors' length */
    c.ea = zerov((size_t)B * D), c.eb = zerov((size_t)B * D);
    double loss = md_loss(&c);
    /* reference gradient */
    size_t bc = (size_t)B * D;
    double *dea = zerov(bc), *deb = zerov(bc), *g = zerov(n);
    ss__ref_infonce(c.ea, c.eb, B, D, c.temp, 1, dea, deb);
    int rc = ss__ref_model(&c.cfg, c.params, &a, p, 11, c.ea, dea, g);
    rc |= ss__ref_model(&c.cfg, c.params, &b, p, 22, c.eb, deb, g);
    /* fast gradient: the encoder + the fast loss, in float */
    float *fp = tof(c.params, n), *fg = calloc(n, 4);
    ss__encoder *e1, *e2;
    rc |= ss__encoder_new(&e1) | ss__encoder_new(&e2);
    const float *ya, *yb;
    rc |= ss__encoder_forward(e1, &c.cfg, fp, &a, 1, (float)p, 11, &ya);
    rc |= ss__encoder_forward(e2, &c.cfg, fp, &b, 1, (float)p, 22, &yb);
    float *work = calloc(3 * (size_t)B * B, 4), *ga = calloc(bc, 4), *gb = calloc(bc, 4);
    double lf = ss__infonce_forward(work, ya, yb, B, D, (float)c.temp, 1);
    ss__infonce_backward(ga, gb, work, ya, yb, B, D, (float)c.temp, 1);
    rc |= ss__encoder_backward(e1, &c.cfg, fp, ga, fg);
    rc |= ss__encoder_backward(e2, &c.cfg, fp, gb, fg);
    tap_ok(rc == 0, "model (%s pooling, p=%.1f): forward and backward run", pname, p);
    char name[96];
    snprintf(name, sizeof name, "model (%s pooling, p=%.1f): loss fast vs reference", pname, p);
    tap_close(lf, loss, 1e-5, name);
    snprintf(name, sizeof name, "model (%s pooling, p=%.1f): every parameter", pname, p);
    check(name, md_loss, &c, c.params, n, g, fg);
    /* and per tensor, so that a wrong small tensor is not hidden by a big one */
    ss__tensor_info *t;
    int nt, bad = 0;
    if (ss__model_tensors(&c.cfg, &t, &nt) == 0) {
        double *fd = zerov(n);
        numgrad(md_loss, &c, c.params, n, fd);
        for (int i = 0; i < nt; i++) {
            size_t o = t[i].offset, k = t[i].numel;
            double er = err_d(g + o, fd + o, k), ef = err_f(fg + o, fd + o, k);
            /* pos_embd rows beyond the longest batch get no gradient */
            if (maxabs(fd + o, k) == 0 && maxabs(g + o, k) == 0) continue;
            if (er > TOL_REF || ef > TOL_FAST) {
                bad++;
                tap_diag("%s: ref err %.2e, fast err %.2e", t[i].name, er, ef);
            }
        }
        free(fd);
        ss_free(t);
    }
    tap_ok(bad == 0, "model (%s pooling, p=%.1f): every tensor separately", pname, p);
    ss__encoder_free(e1), ss__encoder_free(e2);
    free(work), free(ga), free(gb), free(fp), free(fg), free(g), free(dea), free(deb);
    free(c.params), free(c.ea), free(c.eb);
    free_batch(&a), free_batch(&b);
}

static void test_model(int pooling, const char *pname, double p) { test_model_shape(pooling, pname, p, 2, 0); }

int main(void)
{
    ss_set_threads(2);
    ss__rng_seed(rng, 42);
    test_embedding(0.0);
    test_embedding(0.3);
    test_layernorm();
    test_linear();
    test_attention(0.0);
    test_attention(0.3);
    test_gelu();
    test_residual(0.0);
    test_residual(0.3);
    test_pool(SS_POOL_MEAN, "mean");
    test_pool(SS_POOL_CLS, "CLS");
    test_pool(SS_POOL_MAX, "max");
    test_pool(SS_POOL_MEANMAX, "mean+max");
    test_l2norm();
    test_infonce(1);
    test_infonce(0);
    test_infonce_negatives(1);
    test_infonce_negatives(0);
    test_model(SS_POOL_MEAN, "mean", 0.0);
    test_model(SS_POOL_CLS, "CLS", 0.0);
    test_model(SS_POOL_MAX, "max", 0.0);
    test_model(SS_POOL_MEANMAX, "mean+max", 0.0);
    test_model_shape(SS_POOL_MEANMAX, "mean+max, static, no output norm", 0.0, 0, 1);
    test_model(SS_POOL_MEAN, "mean", 0.2);
    test_model_shape(SS_POOL_MEAN, "mean, static, no output norm", 0.0, 0, 1);
    test_model_shape(SS_POOL_MEAN, "mean, 1 layer, no output norm", 0.1, 1, 1);
    test_model_shape(SS_POOL_MEAN, "mean, static", 0.0, 0, 0);
    return tap_done();
}
