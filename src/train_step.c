/* train_step.c: one optimization step on a batch of positive pairs. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "adamw.h"
#include "common.h"
#include "encoder.h"
#include "loss.h"
#include "model.h"
#include "rng.h"
#include "train_step.h"

typedef struct scratch {
    ss__encoder *ea, *eb;  /* activations of the two sides */
    float *work;           /* loss: (3,B,B) */
    size_t work_cap;
    float *da, *db;        /* (B,C) gradients of the embeddings */
    size_t d_cap;
    double *partials;      /* grad norm chunks */
    ss__adamw_group *groups; /* per tensor: its range and whether it decays */
    int n_groups;
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
    }
    s->n_groups = nt;
    ss_free(tab);
    ss__rng_seed(t->rng, seed);
    *out = t;
    return SS_OK;
}

static int check_pair(const ss__trainer *t, const ss_batch *a, const ss_batch *b, int negatives)
{
    if (!t || !a || !b) return ss__fail(SS_ERR_ARG, "training step: NULL argument");
    if (negatives ? b->B < a->B : a->B != b->B)
        return ss__fail(SS_ERR_ARG, "training step: %d texts on one side, %d on the other", a->B,
                        b->B);
    return SS_OK;
}

static int ensure(scratch *s, int B, int N, int C)
{
    size_t w = 3 * (size_t)B * N, d = (size_t)N * C;
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

int ss__trainer_step(ss__trainer *t, const ss_batch *a, const ss_batch *b, const ss__step_opts *o,
                     float *loss, float *grad_norm)
{
    int rc = check_pair(t, a, b, 1);
    if (rc) return rc;
    if (!o) return ss__fail(SS_ERR_ARG, "training step: NULL options");
    if (!(o->lr >= 0 && isfinite(o->lr)) || !(o->temperature > 0 && isfinite(o->temperature)) ||
        !(o->weight_decay >= 0 && isfinite(o->weight_decay)) || !(o->beta1 >= 0 && o->beta1 < 1) ||
        !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0) ||
        !(o->grad_clip >= 0 && isfinite(o->grad_clip)))
        return ss__fail(SS_ERR_RANGE, "training step: option out of range");
    ss_model *m = t->model;
    scratch *s = t->scratch;
    const ss_config *c = &m->cfg;
    int B = a->B, N = b->B, C = c->d_model;
    uint64_t ka = ss__rng_next(t->rng), kb = ss__rng_next(t->rng);
    const float *ya, *yb;
    rc = ss__encoder_forward(s->ea, c, m->params, a, 1, c->dropout, ka, &ya);
    if (!rc) rc = ss__encoder_forward(s->eb, c, m->params, b, 1, c->dropout, kb, &yb);
    if (!rc) rc = ensure(s, B, N, C);
    if (rc) return rc;
    double L = ss__infonce_neg_forward(s->work, ya, yb, B, N, C, o->temperature, o->symmetric);
    if (!isfinite(L)) return ss__fail(SS_ERR_NUMERIC, "training step: the loss is %g", L);
    ss__infonce_neg_backward(s->da, s->db, s->work, ya, yb, B, N, C, o->temperature, o->symmetric);
    size_t n = m->n_params;
    memset(t->grads, 0, n * sizeof(float));
    rc = ss__encoder_backward(s->ea, c, m->params, s->da, t->grads);
    if (!rc) rc = ss__encoder_backward(s->eb, c, m->params, s->db, t->grads);
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
    ss__adamw_update(m->params, t->grads, t->m, t->v, s->groups, s->n_groups, gscale, o->lr,
                     o->beta1, o->beta2, o->eps, o->weight_decay, t->step);
    if (loss) *loss = (float)L;
    if (grad_norm) *grad_norm = (float)gn;
    return SS_OK;
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
    if (!rc) rc = ensure(s, a->B, a->B, m->cfg.d_model);
    if (rc) return rc;
    double L = ss__infonce_forward(s->work, ya, yb, a->B, m->cfg.d_model, temperature, 1);
    if (!isfinite(L)) return ss__fail(SS_ERR_NUMERIC, "validation loss is %g", L);
    if (loss) *loss = (float)L;
    return SS_OK;
}
