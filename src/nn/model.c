/* model.c: ss_model (config, parameters, tokenizer), its random
 * initialization, and ss_embed. Loading and saving are in model_file.c. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/layers.h"
#include "nn/lowp.h"
#include "nn/model.h"
#include "base/rng.h"

void ss_config_init(ss_config *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->vocab_size = 0; /* taken from the tokenizer */
    c->max_len = 128;
    c->d_model = 256;
    c->n_layers = 4;
    c->n_heads = 4;
    c->d_ff = 1024;
    c->pooling = SS_POOL_MEAN;
    c->dropout = 0.1f;
}

/* Limits keep every size product far from overflow. */
int ss__config_check(const ss_config *c)
{
    if (!c) return ss__fail(SS_ERR_ARG, "NULL config");
    if (c->vocab_size < 1 || c->vocab_size > (1 << 24))
        return ss__fail(SS_ERR_RANGE, "vocab_size %d not in [1, %d]", c->vocab_size, 1 << 24);
    if (c->max_len < 1 || c->max_len > 65536)
        return ss__fail(SS_ERR_RANGE, "max_len %d not in [1, 65536]", c->max_len);
    if (c->d_model < 1 || c->d_model > 65536)
        return ss__fail(SS_ERR_RANGE, "d_model %d not in [1, 65536]", c->d_model);
    if (c->n_layers < 0 || c->n_layers > 1024)
        return ss__fail(SS_ERR_RANGE, "n_layers %d not in [0, 1024]", c->n_layers);
    if (c->n_heads < 1 || c->n_heads > c->d_model || c->d_model % c->n_heads)
        return ss__fail(SS_ERR_RANGE, "n_heads %d must divide d_model %d", c->n_heads, c->d_model);
    if (c->d_ff < 1 || c->d_ff > (1 << 20))
        return ss__fail(SS_ERR_RANGE, "d_ff %d not in [1, %d]", c->d_ff, 1 << 20);
    if (!ss_pooling_name(c->pooling)) return ss__fail(SS_ERR_RANGE, "unknown pooling %d", c->pooling);
    if (c->no_out_norm != 0 && c->no_out_norm != 1)
        return ss__fail(SS_ERR_RANGE, "no_out_norm %d is not 0 or 1", c->no_out_norm);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return ss__fail(SS_ERR_RANGE, "dropout %g not in [0, 1)", (double)c->dropout);
    ss__layout L;
    ss__model_layout(c, &L);
    if (L.total > ((size_t)1 << 34))
        return ss__fail(SS_ERR_RANGE, "model of %zu parameters is too large", L.total);
    return SS_OK;
}

size_t ss__model_param_count(const ss_config *c)
{
    ss__layout L;
    ss__model_layout(c, &L);
    return L.total;
}

static void tensor(ss__tensor_info *t, const char *name, size_t off, int64_t d0, int64_t d1)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->offset = off;
    t->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
}

int ss__model_tensors(const ss_config *c, ss__tensor_info **out, int *n)
{
    if (!out || !n) return ss__fail(SS_ERR_ARG, "ss__model_tensors: NULL argument");
    *out = NULL;
    *n = 0;
    int rc = ss__config_check(c);
    if (rc) return rc;
    int count = 4 + 12 * c->n_layers;
    ss__tensor_info *t = ss__calloc((size_t)count, sizeof *t);
    if (!t) return ss__fail(SS_ERR_NOMEM, "out of memory");
    ss__layout L;
    ss__model_layout(c, &L);
    int64_t C = c->d_model, F = c->d_ff;
    int k = 0;
    tensor(&t[k++], "token_embd.weight", L.wte, c->vocab_size, C);
    tensor(&t[k++], "pos_embd.weight", L.wpe, c->max_len, C);
    for (int l = 0; l < c->n_layers; l++) {
        size_t b = L.blk0 + (size_t)l * L.blk_size;
        const struct {
            const char *name;
            size_t off;
            int64_t d0, d1;
        } blk[12] = {
            {"ln1.weight", L.blk.ln1w, C, 0},       {"ln1.bias", L.blk.ln1b, C, 0},
            {"attn_qkv.weight", L.blk.qkvw, 3 * C, C}, {"attn_qkv.bias", L.blk.qkvb, 3 * C, 0},
            {"attn_out.weight", L.blk.projw, C, C},    {"attn_out.bias", L.blk.projb, C, 0},
            {"ln2.weight", L.blk.ln2w, C, 0},       {"ln2.bias", L.blk.ln2b, C, 0},
            {"ffn_up.weight", L.blk.upw, F, C},     {"ffn_up.bias", L.blk.upb, F, 0},
            {"ffn_down.weight", L.blk.downw, C, F}, {"ffn_down.bias", L.blk.downb, C, 0},
        };
        for (int j = 0; j < 12; j++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%d.%s", l, blk[j].name);
            tensor(&t[k++], name, b + blk[j].off, blk[j].d0, blk[j].d1);
        }
    }
    if (!c->no_out_norm) {
        tensor(&t[k++], "out_norm.weight", L.lnfw, C, 0);
        tensor(&t[k++], "out_norm.bias", L.lnfb, C, 0);
    }
    *out = t;
    *n = k;
    return SS_OK;
}

int ss__model_alloc(const ss_config *c, ss_tokenizer *tok, ss_model **out)
{
    if (!out) {
        ss_tokenizer_free(tok);
        return ss__fail(SS_ERR_ARG, "ss__model_alloc: NULL out");
    }
    *out = NULL;
    int rc = ss__config_check(c);
    if (!rc && tok && ss_tokenizer_vocab_size(tok) != c->vocab_size)
        rc = ss__fail(SS_ERR_MODEL, "vocab_size %d but the tokenizer has %d pieces", c->vocab_size,
                      ss_tokenizer_vocab_size(tok));
    if (rc) {
        ss_tokenizer_free(tok);
        return rc;
    }
    ss_model *m = ss__calloc(1, sizeof *m);
    size_t n = ss__model_param_count(c);
    float *params = m ? ss__malloc(n * sizeof(float)) : NULL;
    if (!params) {
        ss_free(m);
        ss_tokenizer_free(tok);
        return ss__fail(SS_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    m->cfg = *c;
    m->tok = tok;
    m->params = params;
    m->n_params = n;
    *out = m;
    return SS_OK;
}

/* normal(0, 0.02) weights, residual projections scaled by 1/sqrt(2 n_layers)
 * (GPT-2), LayerNorm weight 1, biases 0. Drawn in buffer order. */
void ss__model_init_params(ss_model *m, uint64_t seed)
{
    ss__tensor_info *t;
    int n;
    if (ss__model_tensors(&m->cfg, &t, &n)) {
        memset(m->params, 0, m->n_params * sizeof(float)); /* cannot happen: checked config */
        return;
    }
    uint64_t s[4];
    ss__rng_seed(s, seed);
    double resid = 0.02 / sqrt(2.0 * (m->cfg.n_layers > 0 ? m->cfg.n_layers : 1));
    for (int i = 0; i < n; i++) {
        float *p = m->params + t[i].offset;
        const char *name = t[i].name;
        size_t len = strlen(name);
        int is_bias = len > 5 && !strcmp(name + len - 5, ".bias");
        int is_ln = strstr(name, "ln1.") || strstr(name, "ln2.") || !strncmp(name, "out_norm.", 9);
        if (is_bias) {
            memset(p, 0, t[i].numel * sizeof(float));
        } else if (is_ln) {
            for (size_t j = 0; j < t[i].numel; j++) p[j] = 1.0f;
        } else {
            double sd = strstr(name, "attn_out.") || strstr(name, "ffn_down.") ? resid : 0.02;
            for (size_t j = 0; j < t[i].numel; j++) p[j] = (float)(sd * ss__rng_normal(s));
        }
    }
    ss_free(t);
}

int ss_model_init(const ss_config *c, const ss_tokenizer *tok, uint64_t seed, ss_model **out)
{
    if (!c || !tok || !out) return ss__fail(SS_ERR_ARG, "ss_model_init: NULL argument");
    *out = NULL;
    ss_config cfg = *c;
    int v = ss_tokenizer_vocab_size(tok);
    if (cfg.vocab_size == 0) cfg.vocab_size = v;
    if (cfg.vocab_size != v)
        return ss__fail(SS_ERR_MODEL, "vocab_size %d but the tokenizer has %d pieces",
                        cfg.vocab_size, v);
    int rc = ss__config_check(&cfg);
    if (rc) return rc;
    /* a private copy of the tokenizer: the model file embeds its bytes */
    size_t len;
    const void *bytes = ss_tokenizer_bytes(tok, &len);
    ss_tokenizer *copy;
    rc = ss_tokenizer_load_bytes(bytes, len, &copy);
    if (rc) return rc;
    ss_tokenizer_set_norm(copy, ss_tokenizer_get_norm(tok));
    ss_model *m;
    rc = ss__model_alloc(&cfg, copy, &m);
    if (rc) return rc;
    ss__model_init_params(m, seed);
    ss__clear_error();
    *out = m;
    return SS_OK;
}

int ss__model_copy_embeddings(ss_model *dst, const ss_model *src)
{
    if (!dst || !src) return ss__fail(SS_ERR_ARG, "ss__model_copy_embeddings: NULL argument");
    const ss_config *d = &dst->cfg, *s = &src->cfg;
    if (d->vocab_size != s->vocab_size || d->d_model != s->d_model)
        return ss__fail(SS_ERR_MODEL, "the embeddings are %d x %d, the new model's %d x %d", s->vocab_size,
                        s->d_model, d->vocab_size, d->d_model);
    size_t la, lb;
    const void *ta = ss_tokenizer_bytes(dst->tok, &la), *tb = ss_tokenizer_bytes(src->tok, &lb);
    if (la != lb || memcmp(ta, tb, la) || ss_tokenizer_get_norm(dst->tok) != ss_tokenizer_get_norm(src->tok))
        return ss__fail(SS_ERR_MODEL, "the embeddings come from a model with another tokenizer");
    ss__model_materialize((ss_model *)src); /* a cache filled in: src unchanged */
    ss__layout L, M;
    ss__model_layout(d, &L);
    ss__model_layout(s, &M);
    size_t C = (size_t)d->d_model, pos = (size_t)SS_MIN(d->max_len, s->max_len);
    memcpy(dst->params + L.wte, src->params + M.wte, (size_t)d->vocab_size * C * sizeof(float));
    memcpy(dst->params + L.wpe, src->params + M.wpe, pos * C * sizeof(float));
    if (!d->no_out_norm && !s->no_out_norm) {
        memcpy(dst->params + L.lnfw, src->params + M.lnfw, C * sizeof(float));
        memcpy(dst->params + L.lnfb, src->params + M.lnfb, C * sizeof(float));
    }
    return SS_OK;
}

/* Zero every block's output projections (attention and feed-forward, weights
 * and biases): each residual branch then adds nothing, and the model computes
 * what its embeddings alone compute. A transformer stacked on a static first
 * stage so starts exactly where that stage ended (ReZero's idea), instead of
 * first losing it to random blocks. The projections get gradients at once. */
void ss__model_identity_blocks(ss_model *m)
{
    ss__layout L;
    ss__model_layout(&m->cfg, &L);
    size_t C = (size_t)m->cfg.d_model, F = (size_t)m->cfg.d_ff;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        float *b = m->params + L.blk0 + (size_t)l * L.blk_size;
        memset(b + L.blk.projw, 0, C * C * sizeof(float));
        memset(b + L.blk.projb, 0, C * sizeof(float));
        memset(b + L.blk.downw, 0, C * F * sizeof(float));
        memset(b + L.blk.downb, 0, C * sizeof(float));
    }
}

int ss_model_mix(ss_model *a, const ss_model *b, float w)
{
    if (!a || !b) return ss__fail(SS_ERR_ARG, "ss_model_mix: NULL model");
    if (!(w >= 0 && w <= 1)) return ss__fail(SS_ERR_RANGE, "mixing weight %g is not in [0, 1]", (double)w);
    if (ss__model_check_unshared(a, "ss_model_mix")) return SS_ERR_ARG;
    const ss_config *x = &a->cfg, *y = &b->cfg;
    if (x->vocab_size != y->vocab_size || x->d_model != y->d_model || x->n_layers != y->n_layers ||
        x->n_heads != y->n_heads || x->d_ff != y->d_ff || x->max_len != y->max_len ||
        x->pooling != y->pooling || x->no_out_norm != y->no_out_norm || a->n_params != b->n_params)
        return ss__fail(SS_ERR_MODEL, "the models differ in shape (%d x %d, %d layers, %d heads, ffn %d, %d "
                        "positions vs %d x %d, %d layers, %d heads, ffn %d, %d positions) or pooling",
                        x->vocab_size, x->d_model, x->n_layers, x->n_heads, x->d_ff, x->max_len, y->vocab_size,
                        y->d_model, y->n_layers, y->n_heads, y->d_ff, y->max_len);
    size_t la, lb;
    const void *ta = ss_tokenizer_bytes(a->tok, &la), *tb = ss_tokenizer_bytes(b->tok, &lb);
    if (la != lb || memcmp(ta, tb, la) || ss_tokenizer_get_norm(a->tok) != ss_tokenizer_get_norm(b->tok))
        return ss__fail(SS_ERR_MODEL, "the models have different tokenizers");
    /* int8 models: mix their f32 expansions (b's is a cache, so b stays
     * logically const); a's int8 copy no longer matches and is dropped */
    ss__model_drop_quant(a);
    ss__model_materialize((ss_model *)b);
    for (size_t i = 0; i < a->n_params; i++) a->params[i] = (1 - w) * a->params[i] + w * b->params[i];
    ss__clear_error();
    return SS_OK;
}

/* ------------------------------------------------------------ precision */

void ss__model_block_matrix(const ss_config *c, int l, int which, size_t *rows, size_t *cols, size_t *offset)
{
    ss__layout L;
    ss__model_layout(c, &L);
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, b = L.blk0 + (size_t)l * L.blk_size;
    switch (which) {
    case SS__Q8_QKV: *rows = 3 * C, *cols = C, *offset = b + L.blk.qkvw; break;
    case SS__Q8_PROJ: *rows = C, *cols = C, *offset = b + L.blk.projw; break;
    case SS__Q8_UP: *rows = F, *cols = C, *offset = b + L.blk.upw; break;
    default: *rows = C, *cols = F, *offset = b + L.blk.downw; break;
    }
}

void ss__model_materialize_blocks(ss_model *m)
{
    if (!m || !(m->lazy & SS__LAZY_BLOCKS)) return;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < SS__Q8_PER_BLOCK; k++) {
            size_t rows, cols, off;
            ss__model_block_matrix(&m->cfg, l, k, &rows, &cols, &off);
            const ss__q8 *q = &m->q8[ss__q8_index(l, k)];
            ss__q8_dequantize(m->params + off, q->q, q->scale, rows, cols);
        }
    m->lazy &= ~SS__LAZY_BLOCKS;
}

void ss__model_materialize(ss_model *m)
{
    if (!m || !m->lazy) return;
    ss__model_materialize_blocks(m);
    if (m->lazy & SS__LAZY_TOKENS) {
        ss__layout L;
        ss__model_layout(&m->cfg, &L);
        ss__q8_dequantize(m->params + L.wte, m->wte_q8.q, m->wte_q8.scale, m->wte_q8.rows, m->wte_q8.cols);
        ss__q8_clear(&m->wte_q8); /* the f32 table is the one now */
        m->lazy &= ~SS__LAZY_TOKENS;
    }
}

static void free_q8(ss_model *m)
{
    if (!m->q8) return;
    size_t n = (size_t)m->cfg.n_layers * SS__Q8_PER_BLOCK;
    for (size_t i = 0; i < n; i++) ss__q8_clear(&m->q8[i]);
    ss_free(m->q8);
    m->q8 = NULL;
}

void ss__model_drop_quant(ss_model *m)
{
    if (!m) return;
    ss__model_materialize(m); /* the token table too (a static int8 model has no q8) */
    free_q8(m);
}

int ss__model_quantize(ss_model *m)
{
    ss__model_drop_quant(m);
    size_t n = (size_t)m->cfg.n_layers * SS__Q8_PER_BLOCK;
    if (!n) return SS_OK;
    ss__q8 *q = ss__calloc(n, sizeof *q);
    if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int rc = SS_OK;
    for (int l = 0; l < m->cfg.n_layers && !rc; l++)
        for (int k = 0; k < SS__Q8_PER_BLOCK && !rc; k++) {
            size_t rows, cols, off;
            ss__model_block_matrix(&m->cfg, l, k, &rows, &cols, &off);
            rc = ss__q8_from_f32(&q[ss__q8_index(l, k)], m->params + off, rows, cols);
        }
    m->q8 = q;
    if (rc) ss__model_drop_quant(m);
    return rc;
}

static const char *const prec_names[] = {"f32", "bf16", "int8"}; /* by SS_PREC_* */

int ss_precision_kind(const char *name)
{
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, prec_names[i])) return i;
    return -1;
}

const char *ss_precision_name(int prec) { return prec >= 0 && prec < 3 ? prec_names[prec] : "?"; }

int ss_precision_supported(int prec) { return ss__lowp_supported(prec); }

int ss_model_set_precision(ss_model *m, int prec)
{
    if (!m) return ss__fail(SS_ERR_ARG, "ss_model_set_precision: NULL model");
    if (prec < SS_MATMUL_F32 || prec > SS_MATMUL_INT8) return ss__fail(SS_ERR_ARG, "precision %d is unknown", prec);
    if (prec != m->prec && ss__model_check_unshared(m, "ss_model_set_precision")) return SS_ERR_ARG;
    /* int8 weights now, so that running out of memory shows here */
    if (prec == SS_MATMUL_INT8 && !m->q8 && m->cfg.n_layers && ss__lowp_supported(prec)) {
        int rc = ss__model_quantize(m);
        if (rc) return rc;
    }
    m->prec = prec;
    return SS_OK;
}

int ss_model_precision(const ss_model *m) { return m ? m->prec : SS_MATMUL_F32; }

int ss_model_effective_precision(const ss_model *m)
{
    return m && ss__lowp_supported(m->prec) ? m->prec : SS_MATMUL_F32;
}

int ss__model_check_unshared(const ss_model *m, const char *what)
{
    if (m && m->shares && __atomic_load_n(m->shares, __ATOMIC_ACQUIRE) > 1)
        return ss__fail(SS_ERR_ARG, "%s: the model's weights are shared with other handles (ss_model_share)", what);
    return SS_OK;
}

int ss_model_share(ss_model *m, ss_model **out)
{
    if (!out) return ss__fail(SS_ERR_ARG, "ss_model_share: NULL out");
    *out = NULL;
    if (!m) return ss__fail(SS_ERR_ARG, "ss_model_share: NULL model");
    /* everything ss_embed would fill in on first use, filled in now, so
     * that no handle writes the shared weights later: the f32 table of an
     * int8 file, the blocks' f32 or int8 matrices for the precision set */
    ss__model_materialize(m);
    int prec = ss_model_effective_precision(m);
    if (prec == SS_MATMUL_INT8 && !m->q8 && m->cfg.n_layers) {
        int rc = ss__model_quantize(m);
        if (rc) return rc;
    }
    ss_model *h = ss__malloc(sizeof *h);
    if (!h) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!m->shares) {
        if (!(m->shares = ss__malloc(sizeof *m->shares))) {
            ss_free(h);
            return ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        *m->shares = 1;
    }
    __atomic_add_fetch(m->shares, 1, __ATOMIC_ACQ_REL);
    *h = *m;
    h->runtime = NULL; /* its own scratch */
    *out = h;
    return SS_OK;
}

void ss_model_free(ss_model *m)
{
    if (!m) return;
    if (m->shares && __atomic_sub_fetch(m->shares, 1, __ATOMIC_ACQ_REL) > 0) {
        ss__encoder_free(m->runtime); /* the weights stay with the other handles */
        ss_free(m);
        return;
    }
    ss_free(m->shares);
    free_q8(m);
    ss__q8_clear(&m->wte_q8);
    ss_tokenizer_free(m->tok);
    ss_free(m->params);
    ss__encoder_free(m->runtime);
    ss_free(m);
}

void ss_model_config(const ss_model *m, ss_config *c)
{
    if (m && c) *c = m->cfg;
}

const char *ss_pooling_name(int pooling)
{
    static const char *const names[] = {"mean", "cls", "max", "meanmax"}; /* by SS_POOL_* */
    return pooling >= 0 && pooling < (int)(sizeof names / sizeof *names) ? names[pooling] : NULL;
}

int ss_model_set_pooling(ss_model *m, int pooling)
{
    if (!m) return ss__fail(SS_ERR_ARG, "ss_model_set_pooling: NULL model");
    if (!ss_pooling_name(pooling)) return ss__fail(SS_ERR_RANGE, "unknown pooling %d", pooling);
    m->cfg.pooling = pooling; /* the encoder plans its buffers from the config at every call */
    return SS_OK;
}

int ss_model_dim(const ss_model *m) { return m ? ss__pool_dim(m->cfg.pooling, m->cfg.d_model) : 0; }
size_t ss_model_num_params(const ss_model *m) { return m ? m->n_params : 0; }
ss_tokenizer *ss_model_tokenizer(ss_model *m) { return m ? m->tok : NULL; }
const char *ss_model_fingerprint(const ss_model *m) { return m ? m->fingerprint : ""; }

/* ------------------------------------------------------ the shipped model */

/* The places a shipped file is looked for, in order: $SEMSEARCH_DATA, beside
 * the running program (its directory, the parent: an in-tree build run from
 * .libs/, and ../share/semsearch: an installed prefix), the installed data
 * directory. */
static int data_dirs(char dirs[5][4200])
{
    int n = 0;
    const char *env = getenv("SEMSEARCH_DATA");
    if (env && *env) snprintf(dirs[n++], 4200, "%s", env);
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(dirs[n++], 4200, "%s", exe);
        snprintf(dirs[n++], 4200, "%s/..", exe);
        snprintf(dirs[n++], 4200, "%s/../share/semsearch", exe);
    }
    snprintf(dirs[n++], 4200, "%s", SS_PKGDATADIR);
    return n;
}

int ss_default_model_path(char **path)
{
    if (!path) return ss__fail(SS_ERR_ARG, "ss_default_model_path: NULL path");
    *path = NULL;
    static const char rel[] = "models/en-base.gguf";
    char dirs[5][4200];
    int n = data_dirs(dirs);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(dirs[i]) + sizeof rel + 1;
        char *p = ss__malloc(len);
        if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
        snprintf(p, len, "%s/%s", dirs[i], rel);
        if (access(p, R_OK) == 0) {
            *path = p;
            ss__clear_error();
            return SS_OK;
        }
        ss_free(p);
    }
    const char *env = getenv("SEMSEARCH_DATA");
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
    } else {
        snprintf(exe, sizeof exe, "?");
    }
    return ss__fail(SS_ERR_IO,
                    "no shipped model: looked for %s under $SEMSEARCH_DATA (%s), beside the program (%s, its parent "
                    "and ../share/semsearch) and in %s",
                    rel, env && *env ? env : "not set", exe, SS_PKGDATADIR);
}

int ss_store_model_path(const char *recorded, char **path)
{
    if (!path) return ss__fail(SS_ERR_ARG, "ss_store_model_path: NULL path");
    *path = NULL;
    int e = 0;
    if (recorded && *recorded) {
        if (access(recorded, R_OK) == 0) {
            if (!(*path = ss__strdup(recorded))) return ss__fail(SS_ERR_NOMEM, "out of memory");
            return SS_OK;
        }
        e = errno;
    }
    int rc = ss_default_model_path(path);
    if (rc && recorded && *recorded) {
        char why[2048];
        snprintf(why, sizeof why, "%s", ss_errmsg());
        return ss__fail(rc, "the model the database records, %s, is not readable (%s), and %s", recorded,
                        strerror(e), why);
    }
    return rc;
}

/* ------------------------------------------------------------ ss_embed */

typedef struct {
    size_t len, idx;
} len_idx;

static int by_len(const void *a, const void *b)
{
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

#define EMBED_BATCH 64

/* ------------------------------------------------ text the vocabulary lacks
 * A script the vocabulary does not cover becomes one [UNK] piece per run of
 * unknown characters, so that any two such texts had the same tokens and a
 * cosine of 1 ("ありがとう" = "東京は日本の首都です"). For a text that is
 * mostly unknown (share >= SS__UNK_MOST of its characters, spaces aside) the
 * vector is blended with a hashed bag of its unknown characters and
 * character pairs (weight = the share): texts with the same characters stay
 * alike, others do not. Known text is never touched (its vector is the
 * model's, bit for bit). */
#define SS__UNK_MOST 0.5

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* adds the pseudo-random unit-scale vector of feature f to h */
static void add_feature(float *h, int C, uint64_t f)
{
    uint64_t r = mix64(f);
    for (int j = 0; j < C; j++) {
        r = mix64(r);
        h[j] += (float)((double)(r >> 11) * (2.0 / 9007199254740992.0) - 1.0);
    }
}

/* The next code point of UTF-8 s (valid: the normalizer made it so). */
static uint32_t next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = *s++;
    int k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (k) c &= 0x3Fu >> k;
    while (k-- && (*s & 0xC0) == 0x80) c = (c << 6) | (*s++ & 0x3F);
    *p = s;
    return c;
}

/* Share of text's characters inside [UNK] pieces; with h (C floats, may be
 * NULL) the hashed bag of those characters and pairs (not normalized). */
static int unknown_share(ss_tokenizer *tok, const char *text, size_t len, float *h, int C, double *share)
{
    char **pieces;
    size_t np;
    *share = 0;
    int rc = ss_tokenizer_encode_pieces(tok, text, len, &pieces, &np);
    if (rc) return rc;
    int unk = ss_tokenizer_unk_id(tok);
    size_t all = 0, unknown = 0;
    if (h) memset(h, 0, sizeof *h * (size_t)C);
    for (size_t i = 0; i < np; i++) {
        int is_unk = ss_tokenizer_piece_to_id(tok, pieces[i]) == unk;
        uint32_t prev = 0;
        for (const unsigned char *p = (const unsigned char *)pieces[i]; *p;) {
            uint32_t c = next_cp(&p);
            if (c == 0x2581 || c == ' ') { /* SentencePiece's space */
                prev = 0;
                continue;
            }
            all++;
            if (!is_unk) continue;
            unknown++;
            if (h) {
                add_feature(h, C, c);
                if (prev) add_feature(h, C, ((uint64_t)prev << 32 | c) ^ 0x5bd1e995ULL << 21);
            }
            prev = c;
        }
    }
    ss_free(pieces);
    *share = all ? (double)unknown / (double)all : 0;
    return SS_OK;
}

int ss_embed(ss_model *m, const char *const *texts, const size_t *lens, size_t n, int batch_size,
             float *out)
{
    return ss_embed_ex(m, texts, lens, n, batch_size, out, NULL);
}

int ss_embed_ex(ss_model *m, const char *const *texts, const size_t *lens, size_t n, int batch_size,
                float *out, float *unknown)
{
    if (!m || (n && (!texts || !out))) return ss__fail(SS_ERR_ARG, "ss_embed: NULL argument");
    if (batch_size < 0) return ss__fail(SS_ERR_ARG, "ss_embed: batch size %d", batch_size);
    if (!m->tok) return ss__fail(SS_ERR_MODEL, "ss_embed: the model has no tokenizer");
    if (n == 0) return SS_OK;
    if (!batch_size) batch_size = EMBED_BATCH;
    if (!m->runtime) {
        int rc = ss__encoder_new((ss__encoder **)&m->runtime);
        if (rc) return rc;
    }
    /* Sort by byte length (a cheap proxy of the token count) so that a
     * batch holds texts of similar lengths and little padding. */
    len_idx *order = ss__malloc(n * sizeof *order);
    const char **bt = ss__malloc((size_t)batch_size * sizeof *bt);
    size_t *bl = ss__malloc((size_t)batch_size * sizeof *bl);
    if (!order || !bt || !bl) {
        ss_free(order);
        ss_free(bt);
        ss_free(bl);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        order[i].idx = i;
        order[i].len = lens ? lens[i] : (texts[i] ? strlen(texts[i]) : 0);
    }
    qsort(order, n, sizeof *order, by_len);
    int rc = SS_OK, C = ss_model_dim(m);
    for (size_t s = 0; s < n && !rc; s += (size_t)batch_size) {
        int k = (int)SS_MIN((size_t)batch_size, n - s);
        for (int i = 0; i < k; i++) {
            bt[i] = texts[order[s + i].idx];
            bl[i] = order[s + i].len;
        }
        ss_batch b;
        rc = ss_tokenizer_encode_batch(m->tok, bt, bl, k, m->cfg.max_len, 1, &b);
        if (rc) break;
        /* A text with no token at all (possible only without [CLS]/[SEP])
         * is embedded as one padding token. */
        if (b.T == 0) {
            ss_batch_free(&b);
            b.B = k, b.T = 1;
            b.ids = ss__calloc((size_t)k, sizeof *b.ids);
            b.mask = ss__calloc((size_t)k, 1);
            b.lengths = ss__calloc((size_t)k, sizeof *b.lengths);
            if (!b.ids || !b.mask || !b.lengths) {
                ss_batch_free(&b);
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                break;
            }
            int pad = ss_tokenizer_pad_id(m->tok);
            for (int i = 0; i < k; i++) b.ids[i] = pad > 0 ? pad : 0;
        }
        for (int i = 0; i < k; i++)
            if (b.lengths[i] == 0) b.mask[(size_t)i * b.T] = 1;
        const float *e;
        int prec = ss_model_effective_precision(m);
        if (prec != SS_MATMUL_INT8) ss__model_materialize_blocks(m);
        if (prec == SS_MATMUL_INT8 && !m->q8 && m->cfg.n_layers) rc = ss__model_quantize(m);
        if (!rc) rc = ss__encoder_set_precision(m->runtime, prec, m->q8);
        ss__encoder_set_token_table(m->runtime, m->lazy & SS__LAZY_TOKENS ? &m->wte_q8 : NULL);
        if (!rc) rc = ss__encoder_forward(m->runtime, &m->cfg, m->params, &b, 0, 0.0f, 0, &e);
        if (rc) {
            ss_batch_free(&b);
            break;
        }
        int unk = ss_tokenizer_unk_id(m->tok);
        for (int i = 0; i < k && !rc; i++) {
            float *o = out + order[s + i].idx * (size_t)C;
            memcpy(o, e + (size_t)i * C, sizeof(float) * (size_t)C);
            if (unknown) unknown[order[s + i].idx] = 0;
            int has_unk = 0;
            for (int t = 0; t < b.lengths[i] && !has_unk; t++) has_unk = b.ids[(size_t)i * b.T + t] == unk;
            if (!has_unk) continue;
            float *h = ss__malloc(sizeof *h * (size_t)C);
            double share = 0;
            if (!h) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            else rc = unknown_share(m->tok, bt[i], bl[i], h, C, &share);
            if (!rc && unknown) unknown[order[s + i].idx] = (float)share;
            double hn = 0;
            for (int j = 0; !rc && j < C; j++) hn += (double)h[j] * h[j];
            if (!rc && share >= SS__UNK_MOST && hn > 0) {
                double on = 0, w = share, a = (1 - w), bw = w / sqrt(hn);
                for (int j = 0; j < C; j++) {
                    o[j] = (float)(a * o[j] + bw * h[j]);
                    on += (double)o[j] * o[j];
                }
                on = on > 0 ? 1 / sqrt(on) : 0;
                for (int j = 0; j < C; j++) o[j] = (float)(o[j] * on);
            }
            ss_free(h);
        }
        ss_batch_free(&b);
    }
    ss_free(order);
    ss_free(bt);
    ss_free(bl);
    if (!rc) ss__clear_error();
    return rc;
}
