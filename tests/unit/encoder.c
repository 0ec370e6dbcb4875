/* encoder.c: properties of the model and the encoder: configuration and
 * tensor table, initialization, padding invariance, determinism, thread
 * independence, error handling, allocation failures, ss_embed, and that a
 * few dozen training steps decrease the loss. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/model.h"
#include "base/rng.h"
#include "tap.h"
#include "train/train_step.h"

static uint64_t rng[4];

static void tiny_config(ss_config *c, int V)
{
    ss_config_init(c);
    c->vocab_size = V, c->max_len = 24, c->d_model = 32, c->n_layers = 2;
    c->n_heads = 4, c->d_ff = 64;
}

static ss_model *tiny_model(const ss_config *c, uint64_t seed)
{
    ss_model *m;
    if (ss__model_alloc(c, NULL, &m)) return NULL;
    ss__model_init_params(m, seed);
    return m;
}

static void batch_alloc(ss_batch *b, int B, int T)
{
    b->B = B, b->T = T;
    b->ids = calloc((size_t)B * T, sizeof(int32_t));
    b->mask = calloc((size_t)B * T, 1);
    b->lengths = calloc((size_t)B, sizeof(int));
}
static void batch_free(ss_batch *b) { free(b->ids), free(b->mask), free(b->lengths); }
static void batch_row(ss_batch *b, int i, const int32_t *ids, int len)
{
    for (int t = 0; t < b->T; t++) {
        b->ids[(size_t)i * b->T + t] = t < len ? ids[t] : 0;
        b->mask[(size_t)i * b->T + t] = t < len;
    }
    b->lengths[i] = len;
}

static double maxdiff(const float *a, const float *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)a[i] - b[i]));
    return e;
}

/* ------------------------------------------------------------ config */

static void test_config(void)
{
    ss_config c;
    ss_config_init(&c);
    tap_ok(c.max_len == 128 && c.d_model == 256 && c.n_layers == 4 && c.n_heads == 4 &&
               c.d_ff == 1024 && c.pooling == SS_POOL_MEAN && fabsf(c.dropout - 0.1f) < 1e-7f,
           "ss_config_init gives the documented defaults");
    c.vocab_size = 16000;
    tap_ok(ss__config_check(&c) == SS_OK, "the default config is valid");
    ss_config bad = c;
    bad.n_heads = 3;
    tap_ok(ss__config_check(&bad) == SS_ERR_RANGE, "n_heads must divide d_model");
    bad = c, bad.dropout = 1.0f;
    tap_ok(ss__config_check(&bad) == SS_ERR_RANGE, "dropout 1 is rejected");
    bad = c, bad.pooling = 7;
    tap_ok(ss__config_check(&bad) == SS_ERR_RANGE, "unknown pooling is rejected");
    bad = c, bad.vocab_size = 0;
    tap_ok(ss__config_check(&bad) == SS_ERR_RANGE && strstr(ss_errmsg(), "vocab_size"),
           "vocab_size 0 is rejected with a message (%s)", ss_errmsg());

    ss__tensor_info *t;
    int n;
    int rc = ss__model_tensors(&c, &t, &n);
    tap_ok(rc == SS_OK && n == 4 + 12 * 4, "tensor table of the default config has %d tensors", n);
    if (rc) return;
    size_t off = 0;
    int contiguous = 1;
    for (int i = 0; i < n; i++) {
        contiguous &= t[i].offset == off;
        off += t[i].numel;
    }
    tap_ok(contiguous, "tensors are contiguous in table order");
    tap_ok(off == ss__model_param_count(&c), "the table covers the parameter buffer (%zu floats)",
           off);
    /* 16000*256 + 128*256 + 4*(2*256 + 768*256+768 + 256*256+256 + 2*256 + 1024*256+1024 +
     * 256*1024+256) + 2*256 */
    size_t expect = 16000 * 256 + 128 * 256 +
                    4 * (512 + 768 * 256 + 768 + 256 * 256 + 256 + 512 + 1024 * 256 + 1024 +
                         256 * 1024 + 256) +
                    512;
    tap_ok(off == expect, "parameter count %zu (expected %zu)", off, expect);
    tap_ok(!strcmp(t[0].name, "token_embd.weight") && t[0].shape[0] == 16000 &&
               t[0].shape[1] == 256 && t[0].ndim == 2,
           "token_embd.weight is (V,C)");
    tap_ok(!strcmp(t[4].name, "blk.0.attn_qkv.weight") && t[4].shape[0] == 768 &&
               t[4].shape[1] == 256,
           "blk.0.attn_qkv.weight is (3C,C)");
    tap_ok(!strcmp(t[12].name, "blk.0.ffn_down.weight") && t[12].shape[0] == 256 &&
               t[12].shape[1] == 1024,
           "blk.0.ffn_down.weight is (C,F)");
    tap_ok(!strcmp(t[n - 1].name, "out_norm.bias") && t[n - 1].ndim == 1,
           "the last tensor is out_norm.bias");
    ss_free(t);
}

/* ------------------------------------------------------------ init */

static void stats(const float *x, size_t n, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    *mean = s / n;
    *sd = sqrt(fmax(0, s2 / n - *mean * *mean));
}

static void test_init(void)
{
    ss_config c;
    ss_config_init(&c);
    c.vocab_size = 1000;
    ss_model *a = tiny_model(&c, 5), *b = tiny_model(&c, 5), *d = tiny_model(&c, 6);
    if (!tap_ok(a && b && d, "models allocate")) return;
    tap_ok(!memcmp(a->params, b->params, a->n_params * sizeof(float)),
           "the same seed gives the same parameters");
    tap_ok(memcmp(a->params, d->params, a->n_params * sizeof(float)) != 0,
           "another seed gives other parameters");
    ss__layout L;
    ss__model_layout(&c, &L);
    double m, sd;
    stats(a->params + L.wte, (size_t)1000 * 256, &m, &sd);
    tap_ok(fabs(m) < 1e-3 && fabs(sd - 0.02) < 1e-3, "token_embd ~ N(0, 0.02) (mean %.2g sd %.4f)",
           m, sd);
    const float *blk = a->params + L.blk0 + L.blk_size;
    stats(blk + L.blk.projw, 256 * 256, &m, &sd);
    tap_ok(fabs(sd - 0.02 / sqrt(8.0)) < 5e-4, "attn_out ~ N(0, 0.02/sqrt(2L)) (sd %.4f)", sd);
    stats(blk + L.blk.downw, 256 * 1024, &m, &sd);
    tap_ok(fabs(sd - 0.02 / sqrt(8.0)) < 5e-4, "ffn_down ~ N(0, 0.02/sqrt(2L)) (sd %.4f)", sd);
    stats(blk + L.blk.upw, 256 * 1024, &m, &sd);
    tap_ok(fabs(sd - 0.02) < 5e-4, "ffn_up ~ N(0, 0.02) (sd %.4f)", sd);
    int ln_ok = 1, bias_ok = 1;
    for (int i = 0; i < 256; i++) {
        ln_ok &= blk[L.blk.ln1w + i] == 1 && blk[L.blk.ln2w + i] == 1 && a->params[L.lnfw + i] == 1;
        bias_ok &= blk[L.blk.ln1b + i] == 0 && blk[L.blk.projb + i] == 0 &&
                   a->params[L.lnfb + i] == 0 && blk[L.blk.downb + i] == 0;
    }
    for (int i = 0; i < 768; i++) bias_ok &= blk[L.blk.qkvb + i] == 0;
    tap_ok(ln_ok, "LayerNorm weights start at 1");
    tap_ok(bias_ok, "biases start at 0");
    ss_model_free(a), ss_model_free(b), ss_model_free(d);
}

/* ------------------------------------------------------------ encoder */

static void test_padding_invariance(int pooling)
{
    ss_config c;
    tiny_config(&c, 50);
    c.pooling = pooling;
    ss_model *m = tiny_model(&c, 1);
    int32_t s1[5] = {2, 17, 5, 9, 3}, s2[20], s3[12];
    for (int i = 0; i < 20; i++) s2[i] = (int32_t)(4 + (i * 7) % 46);
    for (int i = 0; i < 12; i++) s3[i] = (int32_t)(4 + (i * 11) % 46);
    ss_batch alone, mixed;
    batch_alloc(&alone, 1, 5);
    batch_row(&alone, 0, s1, 5);
    batch_alloc(&mixed, 3, 20);
    batch_row(&mixed, 0, s2, 20);
    batch_row(&mixed, 1, s1, 5);
    batch_row(&mixed, 2, s3, 12);
    /* padding is dropped whatever its ids: make them invalid */
    for (int i = 0; i < 3 * 20; i++)
        if (!mixed.mask[i]) mixed.ids[i] = 1000000;
    ss__encoder *e1, *e2;
    const float *y1, *y2;
    int rc = ss__encoder_new(&e1) | ss__encoder_new(&e2);
    rc |= ss__encoder_forward(e1, &c, m->params, &alone, 0, 0, 0, &y1);
    rc |= ss__encoder_forward(e2, &c, m->params, &mixed, 0, 0, 0, &y2);
    double d = rc ? 1 : maxdiff(y1, y2 + c.d_model, (size_t)c.d_model);
    tap_ok(rc == 0 && d <= 1e-5, "pooling %d: a sentence embeds the same alone and among longer "
           "ones, whatever the padding ids (diff %.2e)", pooling, d);
    /* and with the training forward (no dropout) */
    rc = ss__encoder_forward(e2, &c, m->params, &mixed, 1, 0, 0, &y2);
    d = rc ? 1 : maxdiff(y1, y2 + c.d_model, (size_t)c.d_model);
    tap_ok(rc == 0 && d <= 1e-5, "pooling %d: same in the training forward (diff %.2e)", pooling, d);
    double nrm = 0;
    for (int i = 0; i < c.d_model; i++) nrm += (double)y1[i] * y1[i];
    tap_ok(fabs(nrm - 1) < 1e-5, "pooling %d: embeddings have unit norm (%.7f)", pooling, nrm);
    ss__encoder_free(e1), ss__encoder_free(e2);
    batch_free(&alone), batch_free(&mixed);
    ss_model_free(m);
}

/* toy paired data: b[i] is a[i] with some tokens dropped and a shift */
static void toy_pairs(ss_batch *a, ss_batch *b, int B, int T, int V, uint64_t seed)
{
    uint64_t r[4];
    ss__rng_seed(r, seed);
    batch_alloc(a, B, T);
    batch_alloc(b, B, T);
    for (int i = 0; i < B; i++) {
        int32_t x[64], y[64];
        int len = T / 2 + (int)(ss__rng_next(r) % (uint64_t)(T / 2 + 1)), k = 0;
        for (int t = 0; t < len; t++) x[t] = (int32_t)(4 + ss__rng_next(r) % (uint64_t)(V - 4));
        for (int t = 0; t < len; t++)
            if (ss__rng_next(r) % 4) y[k++] = x[(t + 1) % len];
        if (!k) y[k++] = x[0];
        batch_row(a, i, x, len);
        batch_row(b, i, y, k);
    }
}

static void test_determinism_and_threads(void)
{
    ss_config c;
    tiny_config(&c, 60);
    c.d_model = 64, c.d_ff = 128, c.max_len = 40;
    ss_batch a, b;
    toy_pairs(&a, &b, 16, 40, 60, 3);
    float res[2][2];
    float *grads[2] = {NULL, NULL};
    ss__step_opts o;
    ss__step_opts_init(&o);
    o.grad_clip = 0; /* compare raw gradients */
    size_t n = ss__model_param_count(&c);
    for (int th = 1; th <= 2; th++) {
        ss_set_threads(th);
        ss_model *m = tiny_model(&c, 9);
        ss__trainer *t = NULL;
        int rc = m ? ss__trainer_new(m, 77, &t) : SS_ERR_NOMEM;
        if (!rc) rc = ss__trainer_step(t, &a, &b, &o, &res[th - 1][0], &res[th - 1][1]);
        tap_ok(rc == 0, "%d thread(s): a training step runs", th);
        grads[th - 1] = malloc(n * sizeof(float));
        memcpy(grads[th - 1], t->grads, n * sizeof(float));
        /* same seed, same threads: bitwise the same, also after more steps */
        ss_model *m2 = tiny_model(&c, 9);
        ss__trainer *t2 = NULL;
        float l1 = 0, g1 = 0, l2 = 0, g2 = 0;
        rc |= ss__trainer_new(m2, 77, &t2);
        for (int s = 0; s < 3 && !rc; s++) {
            rc = ss__trainer_step(t, &a, &b, &o, &l1, &g1);
            if (!rc) rc = ss__trainer_step(t2, &a, &b, &o, &l2, &g2);
            if (!rc && s == 0) rc = ss__trainer_step(t2, &a, &b, &o, &l2, &g2); /* catch up */
        }
        tap_ok(rc == 0 && l1 == l2 && g1 == g2 && !memcmp(m2->params, m->params, n * sizeof(float)),
               "%d thread(s): same seed gives the same losses and parameters bit for bit", th);
        ss__trainer_free(t2);
        ss_model_free(m2);
        ss__trainer_free(t);
        ss_model_free(m);
    }
    tap_close(res[0][0], res[1][0], 1e-6, "1 vs 2 threads: same loss");
    tap_close(res[0][1], res[1][1], 1e-5, "1 vs 2 threads: same gradient norm");
    double d = maxdiff(grads[0], grads[1], n), mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(grads[0][i]));
    tap_ok(d <= 1e-5 * mx, "1 vs 2 threads: gradients agree to float rounding (%.2e of max %.2e)", d,
           mx);
    free(grads[0]), free(grads[1]);
    batch_free(&a), batch_free(&b);
    ss_set_threads(2);
}

static void test_training_decreases_loss(void)
{
    ss_config c;
    tiny_config(&c, 40);
    ss_model *m = tiny_model(&c, 2);
    ss_batch a, b;
    toy_pairs(&a, &b, 16, 12, 40, 5);
    ss__trainer *t;
    int rc = ss__trainer_new(m, 1, &t);
    ss__step_opts o;
    ss__step_opts_init(&o);
    o.lr = 2e-3f;
    float before = 0, after = 0, loss = 0, gn = 0, first = 0;
    rc |= ss__trainer_eval_loss(t, &a, &b, o.temperature, &before);
    for (int s = 0; s < 40 && !rc; s++) {
        rc = ss__trainer_step(t, &a, &b, &o, &loss, &gn);
        if (s == 0) first = loss;
    }
    rc |= ss__trainer_eval_loss(t, &a, &b, o.temperature, &after);
    tap_ok(rc == 0, "40 training steps run (%s)", rc ? ss_errmsg() : "ok");
    tap_ok(t->step == 40, "the trainer counts its steps (%lld)", (long long)t->step);
    tap_ok(after < 0.5f * before, "training decreases the validation loss (%.4f -> %.4f)", before,
           after);
    tap_ok(loss < first, "training loss decreases (%.4f -> %.4f)", first, loss);
    tap_ok(gn > 0 && isfinite(gn), "gradient norm is positive and finite (%g)", gn);
    /* a mismatched pair of batches is an error, not a crash */
    ss_batch small, s2;
    toy_pairs(&small, &s2, 3, 12, 40, 6);
    rc = ss__trainer_step(t, &a, &s2, &o, &loss, &gn);
    tap_ok(rc == SS_ERR_ARG, "batches of different sizes are rejected (%s)", ss_errmsg());
    batch_free(&small), batch_free(&s2);
    ss__trainer_free(t);
    ss_model_free(m);
    batch_free(&a), batch_free(&b);
}

/* --embedding-lr: 0 freezes the token and position tables while the blocks
 * learn; 0.5 moves them, less far than 1 does. */
static void test_embedding_lr(void)
{
    ss_config c;
    tiny_config(&c, 40);
    ss_batch a, b;
    toy_pairs(&a, &b, 16, 12, 40, 5);
    ss__layout L;
    ss__model_layout(&c, &L);
    size_t ne = L.blk0; /* token and position tables: [0, blk0) */
    double moved[3] = {0, 0, 0}, blocks[3] = {0, 0, 0};
    const float scales[3] = {0.0f, 0.5f, 1.0f};
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        ss_model *m = tiny_model(&c, 2);
        float *p0 = malloc(m->n_params * sizeof *p0);
        memcpy(p0, m->params, m->n_params * sizeof *p0);
        ss__trainer *t;
        rc = ss__trainer_new(m, 1, &t);
        ss__step_opts o;
        ss__step_opts_init(&o);
        o.lr = 1e-2f;
        o.embedding_lr = scales[k];
        float loss, gn;
        for (int s = 0; s < 5 && !rc; s++) rc = ss__trainer_step(t, &a, &b, &o, &loss, &gn);
        for (size_t i = 0; i < m->n_params; i++) {
            double d = fabs((double)m->params[i] - p0[i]);
            if (i < ne) moved[k] += d;
            else blocks[k] += d;
        }
        ss__trainer_free(t);
        ss_model_free(m);
        free(p0);
    }
    tap_ok(rc == 0, "training with --embedding-lr 0, 0.5 and 1 (%s)", rc ? ss_errmsg() : "ok");
    tap_ok(moved[0] == 0 && blocks[0] > 0, "embedding_lr 0: the tables stay bit for bit, the blocks learn (%g, %g)",
           moved[0], blocks[0]);
    tap_ok(moved[1] > 0 && moved[1] < moved[2], "embedding_lr 0.5 moves the tables less than 1 (%g < %g)", moved[1],
           moved[2]);
    batch_free(&a), batch_free(&b);
}

static void test_errors(void)
{
    ss_config c;
    tiny_config(&c, 30);
    ss_model *m = tiny_model(&c, 1);
    ss__encoder *e;
    const float *y;
    int rc = ss__encoder_new(&e);
    ss_batch b;
    batch_alloc(&b, 2, 4);
    int32_t ids[4] = {2, 5, 7, 3};
    batch_row(&b, 0, ids, 4);
    batch_row(&b, 1, ids, 2);
    rc = ss__encoder_backward(e, &c, m->params, m->params, m->params);
    tap_ok(rc == SS_ERR_ARG, "backward without a forward is an error");
    b.ids[1] = 30;
    rc = ss__encoder_forward(e, &c, m->params, &b, 0, 0, 0, &y);
    tap_ok(rc == SS_ERR_RANGE && strstr(ss_errmsg(), "30"), "a token id out of the vocabulary: %s",
           ss_errmsg());
    b.ids[1] = 5;
    memset(b.mask + 4, 0, 4);
    rc = ss__encoder_forward(e, &c, m->params, &b, 0, 0, 0, &y);
    tap_ok(rc == SS_ERR_ARG, "a row without tokens: %s", ss_errmsg());
    batch_row(&b, 1, ids, 2);
    c.max_len = 3;
    rc = ss__encoder_forward(e, &c, m->params, &b, 0, 0, 0, &y);
    tap_ok(rc == SS_ERR_RANGE, "a batch longer than max_len: %s", ss_errmsg());
    c.max_len = 24;
    rc = ss__encoder_forward(e, &c, m->params, &b, 1, 1.5f, 0, &y);
    tap_ok(rc == SS_ERR_RANGE, "dropout out of range: %s", ss_errmsg());
    rc = ss__encoder_forward(e, &c, m->params, &b, 0, 0, 0, &y);
    tap_ok(rc == SS_OK, "a valid batch after errors works");
    rc = ss__encoder_backward(e, &c, m->params, y, m->params);
    tap_ok(rc == SS_ERR_ARG, "backward after an inference forward is an error");
    ss__encoder_free(e);
    batch_free(&b);
    ss_model_free(m);
}

/* every allocation failing in turn: an error, never a crash or a leak */
static void test_alloc_failures(void)
{
    ss_config c;
    tiny_config(&c, 30);
    ss_batch a, b;
    toy_pairs(&a, &b, 4, 8, 30, 1);
    int all_ok = 1, succeeded = 0;
    for (long k = 1; k < 200 && !succeeded; k++) {
        ss__fail_alloc_after(k);
        ss_model *m = NULL;
        ss__trainer *t = NULL;
        float loss, gn;
        int rc = ss__model_alloc(&c, NULL, &m);
        if (!rc) ss__model_init_params(m, 1);
        if (!rc) rc = ss__trainer_new(m, 1, &t);
        if (!rc) rc = ss__trainer_step(t, &a, &b, &(ss__step_opts){1e-3f, 0.05f, 0.01f, 0.9f,
                                                                     0.999f, 1e-8f, 1.0f, 1, 0, 1.0f},
                                       &loss, &gn);
        if (!rc) rc = ss__trainer_eval_loss(t, &a, &b, 0.05f, &loss);
        ss__fail_alloc_after(0);
        if (rc && rc != SS_ERR_NOMEM) all_ok = 0;
        if (!rc) succeeded = 1;
        ss__trainer_free(t);
        ss_model_free(m);
    }
    tap_ok(all_ok && succeeded, "failing each allocation of init/trainer/step returns SS_ERR_NOMEM");
    batch_free(&a), batch_free(&b);
}

/* ------------------------------------------------------------ ss_embed */

static void test_embed(void)
{
    const char *vocab = tap_srcpath("vocab/en-16k.model");
    ss_tokenizer *tok;
    if (ss_tokenizer_load(vocab, &tok)) {
        tap_ok(1, "# SKIP no shipped vocabulary (%s)", ss_errmsg());
        return;
    }
    ss_config c;
    ss_config_init(&c);
    c.d_model = 32, c.n_layers = 1, c.n_heads = 2, c.d_ff = 48, c.max_len = 16;
    ss_model *m;
    int rc = ss_model_init(&c, tok, 3, &m);
    if (!tap_ok(rc == SS_OK, "ss_model_init around the shipped vocabulary")) {
        ss_tokenizer_free(tok);
        return;
    }
    ss_config got;
    ss_model_config(m, &got);
    tap_ok(got.vocab_size == ss_tokenizer_vocab_size(tok), "vocab_size comes from the tokenizer (%d)",
           got.vocab_size);
    tap_ok(ss_model_dim(m) == 32 && ss_model_num_params(m) == ss__model_param_count(&got),
           "dim and parameter count");
    tap_ok(!strcmp(ss_model_fingerprint(m), ""), "a new model has no fingerprint");
    tap_ok(ss_model_tokenizer(m) && ss_model_tokenizer(m) != tok, "the model owns a copy of the tokenizer");
    ss_tokenizer_free(tok); /* the model keeps working without the caller's */

    const char *texts[] = {"A man is playing a guitar.",
                           "",
                           "Two dogs run across a snowy field while the sun sets behind the "
                           "mountains far away in the west.",
                           "a man plays guitar",
                           "A man is playing a guitar."};
    size_t n = 5, C = 32;
    float *all = malloc(n * C * sizeof(float)), *one = malloc(C * sizeof(float));
    rc = ss_embed(m, texts, NULL, n, 0, all);
    tap_ok(rc == SS_OK, "ss_embed embeds 5 texts (one empty, one truncated)");
    int unit = 1;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < C; j++) s += (double)all[i * C + j] * all[i * C + j];
        unit &= fabs(s - 1) < 1e-5;
    }
    tap_ok(unit, "every embedding has unit norm");
    double same = maxdiff(all, all + 4 * C, C);
    tap_ok(same <= 1e-6, "identical texts get the same embedding (diff %.2e)", same);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        rc |= ss_embed(m, texts + i, NULL, 1, 1, one);
        worst = fmax(worst, maxdiff(one, all + i * C, C));
    }
    tap_ok(rc == 0 && worst <= 1e-5, "each text embeds the same alone, in input order (diff %.2e)",
           worst);
    float *b2 = malloc(n * C * sizeof(float));
    rc = ss_embed(m, texts, NULL, n, 2, b2);
    tap_ok(rc == 0 && maxdiff(b2, all, n * C) <= 1e-5, "batch size 2 gives the same rows");
    size_t lens[2] = {5, 26}; /* "A man" and the whole first text */
    const char *pre[2] = {texts[0], texts[0]};
    rc = ss_embed(m, pre, lens, 2, 0, b2);
    tap_ok(rc == 0 && maxdiff(b2 + C, all, C) <= 1e-5 && maxdiff(b2, all, C) > 1e-3,
           "explicit lengths are honoured");
    tap_ok(ss_embed(m, texts, NULL, 0, 0, NULL) == SS_OK, "embedding nothing is fine");
    tap_ok(ss_embed(NULL, texts, NULL, 1, 0, one) == SS_ERR_ARG, "NULL model is an error");
    tap_ok(ss_embed(m, texts, NULL, 1, -1, one) == SS_ERR_ARG, "negative batch size is an error");
    free(all), free(one), free(b2);
    ss_model_free(m);
    ss_model_free(NULL);
}

int main(void)
{
    ss_set_threads(2);
    ss__rng_seed(rng, 1);
    test_config();
    test_init();
    for (int p = 0; p < 3; p++) test_padding_invariance(p);
    test_determinism_and_threads();
    test_training_decreases_loss();
    test_embedding_lr();
    test_errors();
    test_alloc_failures();
    test_embed();
    return tap_done();
}
