/* train_step.c: one optimization step on a batch of positive pairs. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "train/adamw.h"
#include "base/common.h"
#include "nn/encoder.h"
#include "nn/layers.h"
#include "train/loss.h"
#include "nn/model.h"
#include "base/rng.h"
#include "train/train_step.h"

typedef struct scratch {
    ss__encoder *ea, *eb;  /* activations of the two sides */
    float *work;           /* loss: (3,B,B) */
    size_t work_cap;
    float *da, *db;        /* (B,C) gradients of the embeddings */
    size_t d_cap;
    float *ya, *yb;        /* gradient caching: all the embeddings, (B,C) and (N,C) */
    size_t y_cap;
    double *partials;      /* grad norm chunks */
    ss__adamw_group *groups; /* per tensor: its range and whether it decays */
    int n_groups;
    int embed_group[2];      /* the groups of token_embd and pos_embd (-1: none) */
} scratch;

void ss__step_opts_init(ss__step_opts *o)
{
    if (!o) return;
    o->lr = 5e-4f;
    o->temperature = 0.05f;
    o->weight_decay = 0.01f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->grad_clip = 1.0f;
    o->symmetric = 1;
    o->chunk = 0;
    o->embedding_lr = 1.0f;
}

void ss__trainer_free(ss__trainer *t)
{
    if (!t) return;
    scratch *s = t->scratch;
    if (s) {
        ss__encoder_free(s->ea);
        ss__encoder_free(s->eb);
        ss_free(s->work);
        ss_free(s->da);
        ss_free(s->db);
        ss_free(s->ya);
        ss_free(s->yb);
        ss_free(s->partials);
        ss_free(s->groups);
        ss_free(s);
    }
    ss_free(t->grads);
    ss_free(t->m);
    ss_free(t->v);
    ss_free(t);
}

int ss__trainer_new(ss_model *m, uint64_t seed, ss__trainer **out)
{
    if (!m || !out) return ss__fail(SS_ERR_ARG, "ss__trainer_new: NULL argument");
    *out = NULL;
    ss__trainer *t = ss__calloc(1, sizeof *t);
    if (!t) return ss__fail(SS_ERR_NOMEM, "out of memory");
    t->model = m;
    size_t n = m->n_params;
    scratch *s = ss__calloc(1, sizeof *s);
    t->scratch = s;
    t->grads = ss__calloc(n, sizeof(float));
    t->m = ss__calloc(n, sizeof(float));
    t->v = ss__calloc(n, sizeof(float));
    int rc = (!s || !t->grads || !t->m || !t->v) ? ss__fail(SS_ERR_NOMEM, "out of memory") : 0;
    if (!rc) {
        s->partials = ss__malloc(ss__grad_norm_chunks(n) * sizeof(double));
        rc = s->partials ? 0 : ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (!rc) rc = ss__encoder_new(&s->ea);
    if (!rc) rc = ss__encoder_new(&s->eb);
    ss__tensor_info *tab = NULL;
    int nt = 0;
    if (!rc) rc = ss__model_tensors(&m->cfg, &tab, &nt);
    if (!rc) {
        s->groups = ss__malloc(sizeof *s->groups * (size_t)nt);
        rc = s->groups ? 0 : ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (rc) {
        ss_free(tab);
        ss__trainer_free(t);
        return rc;
    }
    /* no decay on biases and LayerNorm weights: the 1-d tensors */
    for (int i = 0; i < nt; i++) {
        s->groups[i].offset = tab[i].offset;
        s->groups[i].n = tab[i].numel;
        s->groups[i].decay = tab[i].ndim == 2;
        s->groups[i].lr_scale = 1.0f;
    }
    s->embed_group[0] = s->embed_group[1] = -1;
    for (int i = 0; i < nt; i++) {
        if (!strcmp(tab[i].name, "token_embd.weight")) s->embed_group[0] = i;
        if (!strcmp(tab[i].name, "pos_embd.weight")) s->embed_group[1] = i;
    }
    s->n_groups = nt;
    ss_free(tab);
    ss__rng_seed(t->rng, seed);
    *out = t;
    return SS_OK;
}

/* the length of the model's vectors (twice d_model for mean+max pooling) */
static int dim(const ss_config *c) { return ss__pool_dim(c->pooling, c->d_model); }

static int check_pair(const ss__trainer *t, const ss_batch *a, const ss_batch *b, int negatives)
{
    if (!t || !a || !b) return ss__fail(SS_ERR_ARG, "training step: NULL argument");
    if (negatives ? b->B < a->B : a->B != b->B)
        return ss__fail(SS_ERR_ARG, "training step: %d texts on one side, %d on the other", a->B,
                        b->B);
    return SS_OK;
}

/* work: w floats for the loss; da, db: d floats each */
static int ensure(scratch *s, size_t w, size_t d)
{
    if (w > s->work_cap) {
        float *p = ss__realloc(s->work, w * sizeof(float));
        if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
        s->work = p;
        s->work_cap = w;
    }
    if (d > s->d_cap) {
        float *x = ss__realloc(s->da, d * sizeof(float));
        if (!x) return ss__fail(SS_ERR_NOMEM, "out of memory");
        s->da = x;
        float *y = ss__realloc(s->db, d * sizeof(float));
        if (!y) return ss__fail(SS_ERR_NOMEM, "out of memory");
        s->db = y;
        s->d_cap = d;
    }
    return SS_OK;
}

/* Rows [r0, r1) of a batch, sharing its arrays. */
static ss_batch rows(const ss_batch *b, int r0, int r1)
{
    ss_batch s = *b;
    s.B = r1 - r0;
    s.ids = b->ids + (size_t)r0 * b->T;
    s.mask = b->mask + (size_t)r0 * b->T;
    s.lengths = b->lengths ? b->lengths + r0 : NULL;
    return s;
}

/* The key of chunk k of a side: chunk 0 keeps the step's key, so that one
 * chunk is the plain step exactly. */
static uint64_t chunk_key(uint64_t key, int k) { return k ? ss__mix64(key ^ (0x9e3779b97f4a7c15ULL * (uint64_t)k)) : key; }

/* Pass 1 of gradient caching: the embeddings of rows [rb, re) of side x
 * (rb a multiple of chunk), chunk by chunk. */
static int embed_chunks(ss__encoder *e, const ss_config *c, const float *params, const ss_batch *x, int rb, int re,
                        int chunk, uint64_t key, float *y)
{
    for (int r0 = rb, k = rb / chunk; r0 < re; r0 += chunk, k++) {
        int r1 = SS_MIN(re, r0 + chunk);
        ss_batch sb = rows(x, r0, r1);
        const float *out;
        int rc = ss__encoder_forward(e, c, params, &sb, 1, c->dropout, chunk_key(key, k), &out);
        if (rc) return rc;
        memcpy(y + (size_t)r0 * dim(c), out, (size_t)(r1 - r0) * dim(c) * sizeof(float));
    }
    return SS_OK;
}

/* Pass 3: each chunk again, then its backward with its rows of dy. */
static int backward_chunks(ss__encoder *e, const ss_config *c, const float *params, const ss_batch *x, int rb, int re,
                           int chunk, uint64_t key, const float *dy, float *grads)
{
    for (int r0 = rb, k = rb / chunk; r0 < re; r0 += chunk, k++) {
        int r1 = SS_MIN(re, r0 + chunk);
        ss_batch sb = rows(x, r0, r1);
        const float *out;
        int rc = ss__encoder_forward(e, c, params, &sb, 1, c->dropout, chunk_key(key, k), &out);
        if (!rc) rc = ss__encoder_backward(e, c, params, dy + (size_t)r0 * dim(c), grads);
        if (rc) return rc;
    }
    return SS_OK;
}

/* Rows [rb, re) of side x as one chunk (at most one: rb / chunk is its
 * number), its activations kept in e for the backward. */
static int embed_kept(ss__encoder *e, const ss_config *c, const float *params, const ss_batch *x, int rb, int re,
                      int chunk, uint64_t key, float *y)
{
    if (re <= rb) return SS_OK;
    if (re - rb > chunk) return ss__fail(SS_ERR_ARG, "training step: a slice of %d rows in chunks of %d", re - rb, chunk);
    ss_batch sb = rows(x, rb, re);
    const float *out;
    int rc = ss__encoder_forward(e, c, params, &sb, 1, c->dropout, chunk_key(key, rb / chunk), &out);
    if (!rc) memcpy(y + (size_t)rb * dim(c), out, (size_t)(re - rb) * dim(c) * sizeof(float));
    return rc;
}

int ss__trainer_step_loss(ss__trainer *t, const ss_batch *a, const ss_batch *b, const ss__step_loss *lf,
                          const ss__step_opts *o, float *loss, float *grad_norm)
{
    int rc = check_pair(t, a, b, lf ? lf->negatives : 0);
    if (rc) return rc;
    if (!o || !lf) return ss__fail(SS_ERR_ARG, "training step: NULL options");
    if (!(o->lr >= 0 && isfinite(o->lr)) || !(o->weight_decay >= 0 && isfinite(o->weight_decay)) ||
        !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0) ||
        !(o->grad_clip >= 0 && isfinite(o->grad_clip)))
        return ss__fail(SS_ERR_RANGE, "training step: option out of range");
    ss_model *m = t->model;
    scratch *s = t->scratch;
    const ss_config *c = &m->cfg;
    int B = a->B, N = b->B, C = dim(c);
    uint64_t ka = ss__rng_next(t->rng), kb = ss__rng_next(t->rng);
    const float *ya, *yb;
    int P = ss__dist_size(t->dist), me = ss__dist_rank(t->dist);
    int chunk = o->chunk > 0 ? o->chunk : P > 1 ? (N + P - 1) / P : 0;
    int cached = chunk > 0 && (B > chunk || N > chunk);
    /* the rows of each side this process embeds: [fa[me], fa[me + 1]) */
    int fa[P + 1], fb[P + 1];
    for (int p = 0; p <= P; p++) {
        int ka_n = cached ? (B + chunk - 1) / chunk : 1, kb_n = cached ? (N + chunk - 1) / chunk : 1;
        fa[p] = cached ? SS_MIN(B, (int)((int64_t)ka_n * p / P) * chunk) : p == P ? B : 0;
        fb[p] = cached ? SS_MIN(N, (int)((int64_t)kb_n * p / P) * chunk) : p == P ? N : 0;
    }
    /* one chunk of each side: its activations are kept for the backward */
    int keep = cached && P > 1 && !o->chunk;
    if (cached) {
        size_t need = (size_t)N * C; /* N >= B */
        if (need > s->y_cap) {
            float *p = ss__realloc(s->ya, need * sizeof(float)), *q = p ? ss__realloc(s->yb, need * sizeof(float)) : NULL;
            if (p) s->ya = p;
            if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
            s->yb = q;
            s->y_cap = need;
        }
        if (keep) {
            rc = embed_kept(s->ea, c, m->params, a, fa[me], fa[me + 1], chunk, ka, s->ya);
            if (!rc) rc = embed_kept(s->eb, c, m->params, b, fb[me], fb[me + 1], chunk, kb, s->yb);
        } else {
            rc = embed_chunks(s->ea, c, m->params, a, fa[me], fa[me + 1], chunk, ka, s->ya);
            if (!rc) rc = embed_chunks(s->eb, c, m->params, b, fb[me], fb[me + 1], chunk, kb, s->yb);
        }
        /* every process gets the whole batch's embeddings: the negatives */
        if (!rc) rc = ss__dist_allgather_rows(t->dist, s->ya, fa, C);
        if (!rc) rc = ss__dist_allgather_rows(t->dist, s->yb, fb, C);
        ya = s->ya;
        yb = s->yb;
    } else {
        rc = ss__encoder_forward(s->ea, c, m->params, a, 1, c->dropout, ka, &ya);
        if (!rc) rc = ss__encoder_forward(s->eb, c, m->params, b, 1, c->dropout, kb, &yb);
    }
    if (!rc) rc = ensure(s, lf->work_floats(lf->ctx, B, N, C), (size_t)N * C);
    if (rc) return rc;
    double L;
    if (lf->grad(lf->ctx, ya, yb, B, N, C, s->da, s->db, s->work, &L))
        return ss__fail(SS_ERR_NUMERIC, "training step: the loss is %g", L);
    size_t n = m->n_params;
    memset(t->grads, 0, n * sizeof(float));
    if (keep) {
        if (fa[me + 1] > fa[me]) rc = ss__encoder_backward(s->ea, c, m->params, s->da + (size_t)fa[me] * C, t->grads);
        if (!rc && fb[me + 1] > fb[me])
            rc = ss__encoder_backward(s->eb, c, m->params, s->db + (size_t)fb[me] * C, t->grads);
    } else if (cached) {
        rc = backward_chunks(s->ea, c, m->params, a, fa[me], fa[me + 1], chunk, ka, s->da, t->grads);
        if (!rc) rc = backward_chunks(s->eb, c, m->params, b, fb[me], fb[me + 1], chunk, kb, s->db, t->grads);
    } else if (me == 0) { /* a batch within one chunk: process 0 takes it whole */
        rc = ss__encoder_backward(s->ea, c, m->params, s->da, t->grads);
        if (!rc) rc = ss__encoder_backward(s->eb, c, m->params, s->db, t->grads);
    }
    /* the sum of every process's gradients: the whole batch's */
    if (!rc) rc = ss__dist_allreduce_sum(t->dist, t->grads, n);
    if (rc) return rc;
    double gn = ss__grad_norm(t->grads, n, s->partials);
    if (!isfinite(gn)) return ss__fail(SS_ERR_NUMERIC, "training step: the gradient norm is %g", gn);
    /* clipping as torch.nn.utils.clip_grad_norm_, applied inside the update */
    float gscale = 1.0f;
    if (o->grad_clip > 0) {
        double coef = o->grad_clip / (gn + 1e-6);
        if (coef < 1) gscale = (float)coef;
    }
    t->step++;
    for (int k = 0; k < 2; k++)
        if (s->embed_group[k] >= 0) s->groups[s->embed_group[k]].lr_scale = o->embedding_lr;
    ss__adamw_update(m->params, t->grads, t->m, t->v, s->groups, s->n_groups, gscale, o->lr,
                     o->beta1, o->beta2, o->eps, o->weight_decay, t->step);
    if (lf->after_update) lf->after_update(lf->ctx, o, t->step);
    if (loss) *loss = (float)L;
    if (grad_norm) *grad_norm = (float)gn;
    return SS_OK;
}

/* ------------------------------------------ the default loss: InfoNCE */

typedef struct infonce_ctx {
    float temperature;
    int symmetric;
} infonce_ctx;

static size_t infonce_work(const void *ctx, int B, int N, int C)
{
    (void)ctx, (void)C;
    return 3 * (size_t)B * N;
}

static int infonce_grad(void *ctx, const float *ya, const float *yb, int B, int N, int C, float *da, float *db,
                        float *work, double *L)
{
    const infonce_ctx *x = ctx;
    *L = ss__infonce_neg_forward(work, ya, yb, B, N, C, x->temperature, x->symmetric);
    if (!isfinite(*L)) return 1;
    ss__infonce_neg_backward(da, db, work, ya, yb, B, N, C, x->temperature, x->symmetric);
    return 0;
}

int ss__trainer_step(ss__trainer *t, const ss_batch *a, const ss_batch *b, const ss__step_opts *o,
                     float *loss, float *grad_norm)
{
    int rc = check_pair(t, a, b, 1);
    if (rc) return rc;
    if (!o) return ss__fail(SS_ERR_ARG, "training step: NULL options");
    if (!(o->temperature > 0 && isfinite(o->temperature)))
        return ss__fail(SS_ERR_RANGE, "training step: option out of range");
    infonce_ctx x = {o->temperature, o->symmetric};
    const ss__step_loss lf = {infonce_grad, infonce_work, NULL, &x, 1};
    return ss__trainer_step_loss(t, a, b, &lf, o, loss, grad_norm);
}

int ss__trainer_eval_loss(ss__trainer *t, const ss_batch *a, const ss_batch *b, float temperature,
                          float *loss)
{
    int rc = check_pair(t, a, b, 0);
    if (rc) return rc;
    if (!(temperature > 0 && isfinite(temperature)))
        return ss__fail(SS_ERR_RANGE, "temperature %g must be positive", (double)temperature);
    ss_model *m = t->model;
    scratch *s = t->scratch;
    const float *ya, *yb;
    rc = ss__encoder_forward(s->ea, &m->cfg, m->params, a, 0, 0.0f, 0, &ya);
    if (!rc) rc = ss__encoder_forward(s->eb, &m->cfg, m->params, b, 0, 0.0f, 0, &yb);
    if (!rc) rc = ensure(s, 3 * (size_t)a->B * a->B, (size_t)a->B * dim(&m->cfg));
    if (rc) return rc;
    double L = ss__infonce_forward(s->work, ya, yb, a->B, dim(&m->cfg), temperature, 1);
    if (!isfinite(L)) return ss__fail(SS_ERR_NUMERIC, "validation loss is %g", L);
    if (loss) *loss = (float)L;
    return SS_OK;
}
