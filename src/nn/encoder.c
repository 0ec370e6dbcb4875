/* encoder.c: the whole encoder, forward and backward, over one activation
 * arena (see encoder.h for the architecture). */
#include "config.h"

#include <string.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/layers.h"
#include "nn/lowp.h"
#include "nn/model.h"
#include "base/rng.h"

void ss__model_layout(const ss_config *c, ss__layout *L)
{
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, o = 0;
    L->wte = o, o += (size_t)c->vocab_size * C;
    L->wpe = o, o += (size_t)c->max_len * C;
    L->blk0 = o;
    size_t b = 0;
    ss__block_layout *k = &L->blk;
    k->ln1w = b, b += C;
    k->ln1b = b, b += C;
    k->qkvw = b, b += 3 * C * C;
    k->qkvb = b, b += 3 * C;
    k->projw = b, b += C * C;
    k->projb = b, b += C;
    k->ln2w = b, b += C;
    k->ln2b = b, b += C;
    k->upw = b, b += F * C;
    k->upb = b, b += F;
    k->downw = b, b += C * F;
    k->downb = b, b += C;
    L->blk_size = b;
    o += b * (size_t)c->n_layers;
    if (c->no_out_norm) {
        L->lnfw = L->lnfb = (size_t)-1; /* no such tensors */
    } else {
        L->lnfw = o, o += C;
        L->lnfb = o, o += C;
    }
    L->total = o;
}

int ss__batch_check(const ss_config *c, const ss_batch *b)
{
    if (!b || !b->ids || !b->mask) return ss__fail(SS_ERR_ARG, "empty batch");
    if (b->B < 1 || b->T < 1) return ss__fail(SS_ERR_ARG, "batch of %d x %d tokens", b->B, b->T);
    if (b->T > c->max_len)
        return ss__fail(SS_ERR_RANGE, "batch of %d positions, the model has %d", b->T, c->max_len);
    /* the attention matrices (B,NH,T,T) are indexed with int rows */
    if ((double)b->B * c->n_heads * b->T * b->T > 2147483647.0)
        return ss__fail(SS_ERR_RANGE, "batch of %d x %d tokens is too large", b->B, b->T);
    for (int i = 0; i < b->B; i++) {
        int real = 0;
        for (int t = 0; t < b->T; t++) {
            size_t n = (size_t)i * b->T + t;
            if (!b->mask[n]) continue; /* padding is dropped, whatever its id */
            if (b->ids[n] < 0 || b->ids[n] >= c->vocab_size)
                return ss__fail(SS_ERR_RANGE, "token id %d out of the vocabulary (%d)",
                                (int)b->ids[n], c->vocab_size);
            real++;
        }
        if (!real) return ss__fail(SS_ERR_ARG, "batch row %d has no token", i);
        if (c->pooling == SS_POOL_CLS && !b->mask[(size_t)i * b->T])
            return ss__fail(SS_ERR_ARG, "batch row %d starts with padding (CLS pooling)", i);
    }
    return SS_OK;
}

int ss__batch_pack(const ss_batch *b, int32_t *ids, int32_t *pos, int *len)
{
    int n = 0;
    for (int i = 0; i < b->B; i++) {
        len[i] = 0;
        for (int t = 0; t < b->T; t++) {
            size_t k = (size_t)i * b->T + t;
            if (!b->mask[k]) continue;
            ids[n] = b->ids[k];
            pos[n] = t;
            n++;
            len[i]++;
        }
    }
    return n;
}

/* ------------------------------------------------------------ the arena */

typedef struct enc_layer {
    float *ln1, *m1, *r1, *qkv, *att, *ao, *xmid, *ln2, *m2, *r2, *h, *g, *xout;
} enc_layer;

struct ss__encoder {
    void *raw;          /* the arena allocation */
    size_t cap;         /* its size in floats (after alignment) */
    enc_layer *lay;     /* n_lay entries */
    int n_lay;
    /* state of the last forward */
    int B, N, train, ready; /* ready: backward may run */
    float p;
    uint64_t key;
    ss_config cfg;
    int32_t *ids, *pos, *argmax;
    int *len, *start;
    size_t *attoff;
    ss__seqs seqs;
    float *x0, *lnf, *mf, *rf, *pooled, *norm, *emb, *tmp, *attd, *unit;
    /* backward buffers */
    float *dres, *dtmp, *dln, *dqkv, *dh, *datt, *dpool;
    /* precision of the matrix products (lowp.h) */
    int prec;
    const ss__q8 *q8;
    ss__lowp *lp;
    const ss__q8 *wte; /* int8 token table, or NULL */
};

void ss__encoder_set_token_table(ss__encoder *e, const ss__q8 *wte) { e->wte = wte; }

static _Thread_local int default_prec = SS_MATMUL_F32;

void ss__encoder_default_precision(int prec) { default_prec = prec; }

int ss__encoder_set_precision(ss__encoder *e, int prec, const ss__q8 *q8)
{
    if (!ss__lowp_supported(prec)) prec = SS_MATMUL_F32;
    if (prec != SS_MATMUL_F32 && !e->lp) {
        int rc = ss__lowp_new(&e->lp);
        if (rc) return rc;
    }
    e->prec = prec;
    e->q8 = q8;
    return SS_OK;
}

/* out (N,OC) = inp w^T + bias in the encoder's precision; which: the block
 * matrix (SS__Q8_*) of layer l, for int8 */
static int mm_forward(ss__encoder *e, int l, int which, float *out, const float *inp, const float *w,
                      const float *bias, int N, int IC, int OC)
{
    if (e->prec == SS_MATMUL_INT8 && e->q8)
        return ss__lowp_matmul_q8(e->lp, out, inp, &e->q8[ss__q8_index(l, which)], bias, N, IC, OC);
    if (e->prec == SS_MATMUL_BF16) return ss__lowp_matmul_bf16(e->lp, out, inp, w, bias, N, IC, OC);
    ss__matmul_forward(out, inp, w, bias, N, IC, OC);
    return SS_OK;
}

/* training runs in f32 or bf16 (never int8) */
static int mm_backward(ss__encoder *e, float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, int N, int IC, int OC)
{
    if (e->prec == SS_MATMUL_BF16)
        return ss__lowp_matmul_bf16_backward(e->lp, dinp, dw, dbias, dout, inp, w, N, IC, OC);
    ss__matmul_backward(dinp, dw, dbias, dout, inp, w, N, IC, OC);
    return SS_OK;
}

#define ALIGN_F 16 /* floats: 64-byte alignment of every buffer */

/* Lays out the arena for B rows of N tokens in all and att_n attention
 * probabilities per layer; counts only when base is NULL. */
/* mean+max pooling's scale: two unit halves make a vector of length 1 */
static const float SQRT1_2 = 0.70710678118654752440f;

static size_t plan(ss__encoder *e, const ss_config *c, int B, size_t N, size_t att_n, int train,
                   int dropout, float *base)
{
    size_t C = (size_t)c->d_model, NC = N * C, F = (size_t)c->d_ff, o = 0;
#define TAKE(n) (o = (o + ALIGN_F - 1) / ALIGN_F * ALIGN_F, o += (n), base ? base + o - (n) : NULL)
    float *ids = TAKE(N), *pos = TAKE(N), *argmax = TAKE((size_t)B * C), *len = TAKE((size_t)B);
    float *start = TAKE((size_t)B + 1), *attoff = TAKE(((size_t)B + 1) * 2); /* size_t */
    if (base) {
        e->ids = (int32_t *)ids, e->pos = (int32_t *)pos, e->argmax = (int32_t *)argmax;
        e->len = (int *)len, e->start = (int *)start, e->attoff = (size_t *)attoff;
    }
    float *x0 = TAKE(NC);
    int nl = train ? c->n_layers : (c->n_layers ? 1 : 0);
    for (int l = 0; l < nl; l++) {
        enc_layer y;
        y.ln1 = TAKE(NC), y.m1 = TAKE(N), y.r1 = TAKE(N), y.qkv = TAKE(3 * NC);
        y.att = TAKE(att_n), y.ao = TAKE(NC), y.xmid = TAKE(NC), y.ln2 = TAKE(NC);
        y.m2 = TAKE(N), y.r2 = TAKE(N), y.h = TAKE(N * F), y.g = TAKE(N * F);
        /* inference keeps one layer whose output overwrites its input */
        y.xout = train ? TAKE(NC) : x0;
        if (base) e->lay[l] = y;
    }
    size_t BD = (size_t)B * ss__pool_dim(c->pooling, (int)C); /* the vectors: (B, D) */
    float *lnf = TAKE(NC), *mf = TAKE(N), *rf = TAKE(N), *pooled = TAKE(BD);
    float *norm = TAKE(2 * (size_t)B), *emb = TAKE(BD), *tmp = TAKE(NC);
    /* mean+max: the halves each of unit length, before the 1/sqrt(2) */
    float *unit = c->pooling == SS_POOL_MEANMAX ? TAKE(BD) : NULL;
    float *attd = dropout ? TAKE(att_n) : NULL;
    if (base) {
        e->x0 = x0, e->lnf = lnf, e->mf = mf, e->rf = rf, e->pooled = pooled;
        e->norm = norm, e->emb = emb, e->tmp = tmp, e->attd = attd, e->unit = unit;
    }
    float *dres = NULL, *dtmp = NULL, *dln = NULL, *dqkv = NULL, *dh = NULL, *datt = NULL,
          *dpool = NULL;
    if (train) {
        dres = TAKE(NC), dtmp = TAKE(NC), dln = TAKE(NC), dqkv = TAKE(3 * NC);
        dh = TAKE(N * F), datt = TAKE(att_n), dpool = TAKE(BD);
    }
    if (base) {
        e->dres = dres, e->dtmp = dtmp, e->dln = dln, e->dqkv = dqkv, e->dh = dh;
        e->datt = datt, e->dpool = dpool;
    }
#undef TAKE
    return o;
}

int ss__encoder_new(ss__encoder **out)
{
    *out = ss__calloc(1, sizeof **out);
    if (!*out) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int rc = ss__encoder_set_precision(*out, default_prec == SS_MATMUL_BF16 ? SS_MATMUL_BF16 : SS_MATMUL_F32, NULL);
    if (rc) {
        ss_free(*out);
        *out = NULL;
    }
    return rc;
}

void ss__encoder_free(ss__encoder *e)
{
    if (!e) return;
    ss__lowp_free(e->lp);
    ss_free(e->raw);
    ss_free(e->lay);
    ss_free(e);
}


static int arena_prepare(ss__encoder *e, const ss_config *c, int B, size_t N, size_t att_n,
                         int train, int dropout)
{
    int nl = train ? c->n_layers : (c->n_layers ? 1 : 0);
    if (nl > e->n_lay) {
        enc_layer *lay = ss__realloc(e->lay, sizeof *lay * (size_t)nl);
        if (!lay) return ss__fail(SS_ERR_NOMEM, "out of memory");
        e->lay = lay;
        e->n_lay = nl;
    }
    size_t need = plan(e, c, B, N, att_n, train, dropout, NULL);
    if (need > e->cap) {
        /* grow with headroom so that slowly growing batches do not realloc
         * every time; no copy: the old contents are dead */
        size_t cap = need + need / 4;
        void *raw = ss__malloc((cap + ALIGN_F) * sizeof(float));
        if (!raw) return ss__fail(SS_ERR_NOMEM, "out of memory for the activations of %zu tokens", N);
        ss_free(e->raw);
        e->raw = raw;
        e->cap = cap;
    }
    uintptr_t a = ((uintptr_t)e->raw + ALIGN_F * sizeof(float) - 1) &
                  ~(uintptr_t)(ALIGN_F * sizeof(float) - 1);
    plan(e, c, B, N, att_n, train, dropout, (float *)a);
    return SS_OK;
}

/* ------------------------------------------------------------ forward */

int ss__encoder_forward(ss__encoder *e, const ss_config *c, const float *params,
                        const ss_batch *bt, int train, float p, uint64_t key, const float **out)
{
    if (!e || !c || !params) return ss__fail(SS_ERR_ARG, "ss__encoder_forward: NULL argument");
    int rc = ss__batch_check(c, bt);
    if (rc) return rc;
    if (!(p >= 0 && p < 1)) return ss__fail(SS_ERR_RANGE, "dropout %g not in [0,1)", (double)p);
    ss__threads_init();
    int B = bt->B, C = c->d_model, NH = c->n_heads, F = c->d_ff, NL = c->n_layers;
    int dropout = ss__dropout_threshold(p) != 0;
    /* sizes of the packed batch */
    size_t N = 0, att_n = 0;
    for (int i = 0; i < B; i++) {
        size_t len = 0;
        for (int t = 0; t < bt->T; t++) len += bt->mask[(size_t)i * bt->T + t] != 0;
        N += len;
        att_n += (size_t)NH * len * len;
    }
    e->ready = 0;
    rc = arena_prepare(e, c, B, N, att_n, train, dropout);
    if (rc) return rc;
    e->B = B, e->N = (int)N, e->train = train, e->p = dropout ? p : 0.0f, e->key = key;
    e->cfg = *c;
    p = e->p;
    ss__batch_pack(bt, e->ids, e->pos, e->len);
    ss__seqs_layout(B, e->len, NH, e->start, e->attoff);
    e->seqs = (ss__seqs){B, e->start, e->attoff};
    const ss__seqs *sq = &e->seqs;
    size_t NC = N * C;

    ss__layout L;
    ss__model_layout(c, &L);
    if (e->wte && e->wte->rows == (size_t)c->vocab_size && e->wte->cols == (size_t)C)
        ss__embedding_forward_q8(e->x0, e->ids, e->pos, e->wte->q, e->wte->scale, params + L.wpe, (int)N, C, p,
                                 ss__dropout_site(key, ss__site_embed()));
    else
        ss__embedding_forward(e->x0, e->ids, e->pos, params + L.wte, params + L.wpe, (int)N, C, p,
                              ss__dropout_site(key, ss__site_embed()));
    float *x = e->x0;
    for (int l = 0; l < NL; l++) {
        enc_layer *y = &e->lay[train ? l : 0];
        const float *W = params + L.blk0 + (size_t)l * L.blk_size;
        ss__layernorm_forward(y->ln1, y->m1, y->r1, x, W + L.blk.ln1w, W + L.blk.ln1b, (int)N, C);
        if ((rc = mm_forward(e, l, SS__Q8_QKV, y->qkv, y->ln1, W + L.blk.qkvw, W + L.blk.qkvb, (int)N, C,
                             3 * C)))
            return rc;
        ss__attention_forward(y->ao, y->att, e->attd, y->qkv, sq, C, NH, p,
                              ss__dropout_site(key, ss__site_attn(l)));
        if ((rc = mm_forward(e, l, SS__Q8_PROJ, e->tmp, y->ao, W + L.blk.projw, W + L.blk.projb, (int)N, C,
                             C)))
            return rc;
        ss__residual_forward(y->xmid, x, e->tmp, NC, p, ss__dropout_site(key, ss__site_proj(l)));
        ss__layernorm_forward(y->ln2, y->m2, y->r2, y->xmid, W + L.blk.ln2w, W + L.blk.ln2b,
                              (int)N, C);
        if ((rc = mm_forward(e, l, SS__Q8_UP, y->h, y->ln2, W + L.blk.upw, W + L.blk.upb, (int)N, C, F)))
            return rc;
        ss__gelu_forward(y->g, y->h, N * (size_t)F);
        if ((rc = mm_forward(e, l, SS__Q8_DOWN, e->tmp, y->g, W + L.blk.downw, W + L.blk.downb, (int)N, F,
                             C)))
            return rc;
        ss__residual_forward(y->xout, y->xmid, e->tmp, NC, p,
                             ss__dropout_site(key, ss__site_ffn(l)));
        x = y->xout;
    }
    const float *xf = x;
    if (!c->no_out_norm) {
        ss__layernorm_forward(e->lnf, e->mf, e->rf, x, params + L.lnfw, params + L.lnfb, (int)N, C);
        xf = e->lnf;
    }
    ss__pool_forward(e->pooled, train ? e->argmax : NULL, xf, sq, C, c->pooling);
    if (c->pooling == SS_POOL_MEANMAX) { /* each half to unit length, the whole too */
        ss__l2norm_forward(e->unit, e->norm, e->pooled, 2 * B, C);
        for (size_t i = 0; i < 2 * (size_t)B * C; i++) e->emb[i] = e->unit[i] * SQRT1_2;
    } else {
        ss__l2norm_forward(e->emb, e->norm, e->pooled, B, C);
    }
    e->ready = train;
    if (out) *out = e->emb;
    return SS_OK;
}

/* ------------------------------------------------------------ backward */

int ss__encoder_backward(ss__encoder *e, const ss_config *c, const float *params,
                         const float *dout, float *G)
{
    if (!e || !c || !params || !dout || !G)
        return ss__fail(SS_ERR_ARG, "ss__encoder_backward: NULL argument");
    if (!e->ready) return ss__fail(SS_ERR_ARG, "ss__encoder_backward without a training forward");
    if (memcmp(c, &e->cfg, sizeof *c))
        return ss__fail(SS_ERR_ARG, "ss__encoder_backward: config differs from the forward's");
    int B = e->B, N = e->N, C = c->d_model, NH = c->n_heads, F = c->d_ff, NL = c->n_layers;
    float p = e->p;
    uint64_t key = e->key;
    const ss__seqs *sq = &e->seqs;
    size_t NC = (size_t)N * C;
    ss__layout L;
    ss__model_layout(c, &L);

    if (c->pooling == SS_POOL_MEANMAX) {
        /* d unit = d emb / sqrt(2), through dpool as scratch, then each half's norm */
        size_t BD = 2 * (size_t)B * C;
        for (size_t i = 0; i < BD; i++) e->dpool[i] = dout[i] * SQRT1_2;
        ss__l2norm_backward(e->dpool, e->dpool, e->unit, e->norm, 2 * B, C);
    } else {
        ss__l2norm_backward(e->dpool, dout, e->emb, e->norm, B, C);
    }
    ss__pool_backward(e->dtmp, e->dpool, e->argmax, sq, C, c->pooling);
    memset(e->dres, 0, NC * sizeof(float));
    const float *xL = NL ? e->lay[NL - 1].xout : e->x0;
    if (c->no_out_norm) memcpy(e->dres, e->dtmp, NC * sizeof(float));
    else
        ss__layernorm_backward(e->dres, G + L.lnfw, G + L.lnfb, e->dtmp, xL, params + L.lnfw, e->mf,
                               e->rf, N, C);
    for (int l = NL - 1; l >= 0; l--) {
        enc_layer *y = &e->lay[l];
        const float *W = params + L.blk0 + (size_t)l * L.blk_size;
        float *GW = G + L.blk0 + (size_t)l * L.blk_size;
        const float *xin = l ? e->lay[l - 1].xout : e->x0;
        /* feed-forward branch: the residual gradient flows on unchanged */
        const float *dy = e->dres;
        if (p > 0) {
            ss__residual_backward(e->dtmp, e->dres, NC, p, ss__dropout_site(key, ss__site_ffn(l)));
            dy = e->dtmp;
        }
        int rc = mm_backward(e, e->dh, GW + L.blk.downw, GW + L.blk.downb, dy, y->g, W + L.blk.downw, N, F, C);
        if (rc) return rc;
        ss__gelu_backward(e->dh, y->h, e->dh, (size_t)N * F);
        if ((rc = mm_backward(e, e->dln, GW + L.blk.upw, GW + L.blk.upb, e->dh, y->ln2, W + L.blk.upw, N, C, F)))
            return rc;
        ss__layernorm_backward(e->dres, GW + L.blk.ln2w, GW + L.blk.ln2b, e->dln, y->xmid,
                               W + L.blk.ln2w, y->m2, y->r2, N, C);
        /* attention branch */
        dy = e->dres;
        if (p > 0) {
            ss__residual_backward(e->dtmp, e->dres, NC, p, ss__dropout_site(key, ss__site_proj(l)));
            dy = e->dtmp;
        }
        if ((rc = mm_backward(e, e->dln, GW + L.blk.projw, GW + L.blk.projb, dy, y->ao, W + L.blk.projw, N, C,
                              C)))
            return rc;
        ss__attention_backward(e->dqkv, e->datt, e->attd, e->dln, y->qkv, y->att, sq, C, NH, p,
                               ss__dropout_site(key, ss__site_attn(l)));
        if ((rc = mm_backward(e, e->dln, GW + L.blk.qkvw, GW + L.blk.qkvb, e->dqkv, y->ln1, W + L.blk.qkvw, N,
                              C, 3 * C)))
            return rc;
        ss__layernorm_backward(e->dres, GW + L.blk.ln1w, GW + L.blk.ln1b, e->dln, xin,
                               W + L.blk.ln1w, y->m1, y->r1, N, C);
    }
    ss__embedding_backward(G + L.wte, G + L.wpe, e->dres, e->ids, e->pos, N, C, p,
                           ss__dropout_site(key, ss__site_embed()));
    return SS_OK;
}
