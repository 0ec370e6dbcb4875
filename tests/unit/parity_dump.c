/* parity_dump.c: writes what tests/torch-parity.sh compares with PyTorch.
 *
 *   parity_dump DIR POOLING   (POOLING: mean, cls, max or meanmax)
 *
 * A tiny model around the shipped vocabulary is saved to DIR/model.gguf
 * (ss_model_save, f32), two padded batches of real sentences go through the
 * encoder (no dropout) and the symmetric InfoNCE loss, and these files are
 * written:
 *   DIR/batch.txt        "B Ta Tb temperature", then per side B lines of ids
 *                        and B lines of mask
 *   DIR/emb_a.f32, emb_b.f32   (B,C) embeddings, little-endian float32
 *   DIR/loss.txt         the loss
 *   DIR/grads.f32        d loss / d params, in the tensor order of the file
 * Run without arguments (as a unit test) it checks that a saved and reloaded
 * model embeds exactly as the original, in a temporary directory. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "train/loss.h"
#include "nn/model.h"
#include "tap.h"

static const char *side_a[] = {
    "A man is playing a guitar on the stage.",
    "Two dogs run across a snowy field.",
    "A woman slices tomatoes.",
    "Children are playing football in the park after school while their parents watch.",
};
static const char *side_b[] = {
    "Someone plays the guitar.",
    "Dogs running in the snow, chasing each other around a small wooden fence.",
    "A cook cuts vegetables in a kitchen.",
    "Kids play soccer.",
};
#define NB 4
#define TEMP 0.1f

static int write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    int bad = fwrite(data, 1, n, f) != n;
    return fclose(f) || bad;
}

static void print_batch(FILE *f, const ss_batch *b)
{
    for (int i = 0; i < b->B; i++)
        for (int t = 0; t < b->T; t++)
            fprintf(f, "%d%c", (int)b->ids[i * b->T + t], t + 1 < b->T ? ' ' : '\n');
    for (int i = 0; i < b->B; i++)
        for (int t = 0; t < b->T; t++)
            fprintf(f, "%d%c", b->mask[i * b->T + t], t + 1 < b->T ? ' ' : '\n');
}

static ss_model *tiny_model(int pooling)
{
    ss_tokenizer *tok;
    if (ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok)) return NULL;
    ss_config c;
    ss_config_init(&c);
    c.d_model = 32, c.n_layers = 2, c.n_heads = 4, c.d_ff = 64, c.max_len = 24;
    c.pooling = pooling, c.dropout = 0.0f;
    ss_model *m = NULL;
    int rc = ss_model_init(&c, tok, 12345, &m);
    ss_tokenizer_free(tok);
    if (rc) return NULL;
    /* generic values instead of the init's exact 1s and 0s, so that every
     * parameter matters, and large enough that the sentences get clearly
     * different embeddings (with the init's small weights all [CLS]
     * embeddings are nearly the same vector, and the gradient through the
     * L2 normalization is then dominated by float32 cancellation) */
    uint64_t s = 99;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        float u = (float)((s >> 40) * 0x1.0p-24) - 0.5f;
        m->params[i] += 0.3f * u;
    }
    return m;
}

static int dump(const char *dir, int pooling)
{
    ss_model *m = tiny_model(pooling);
    if (!m) {
        fprintf(stderr, "parity_dump: %s\n", ss_errmsg());
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    int rc = ss_model_save(m, path, SS_DTYPE_F32);
    ss_batch a = {0}, b = {0};
    if (!rc) rc = ss_tokenizer_encode_batch(m->tok, side_a, NULL, NB, m->cfg.max_len, 1, &a);
    if (!rc) rc = ss_tokenizer_encode_batch(m->tok, side_b, NULL, NB, m->cfg.max_len, 1, &b);
    ss__encoder *ea = NULL, *eb = NULL;
    if (!rc) rc = ss__encoder_new(&ea);
    if (!rc) rc = ss__encoder_new(&eb);
    const float *ya, *yb;
    if (!rc) rc = ss__encoder_forward(ea, &m->cfg, m->params, &a, 1, 0.0f, 0, &ya);
    if (!rc) rc = ss__encoder_forward(eb, &m->cfg, m->params, &b, 1, 0.0f, 0, &yb);
    int C = ss_model_dim(m); /* the vectors' length (2 d_model for meanmax) */
    float *work = calloc(3 * NB * NB, sizeof(float)), *da = calloc((size_t)NB * C, sizeof(float));
    float *db = calloc((size_t)NB * C, sizeof(float)), *g = calloc(m->n_params, sizeof(float));
    double loss = 0;
    if (!rc) {
        loss = ss__infonce_forward(work, ya, yb, NB, C, TEMP, 1);
        ss__infonce_backward(da, db, work, ya, yb, NB, C, TEMP, 1);
        rc = ss__encoder_backward(ea, &m->cfg, m->params, da, g);
        if (!rc) rc = ss__encoder_backward(eb, &m->cfg, m->params, db, g);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/batch.txt", dir);
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "%d %d %d %.9g\n", NB, a.T, b.T, (double)TEMP);
            print_batch(f, &a);
            print_batch(f, &b);
            rc = fclose(f) ? SS_ERR_IO : 0;
        } else {
            rc = SS_ERR_IO;
        }
        char txt[64];
        int n = snprintf(txt, sizeof txt, "%.10g\n", loss);
        rc |= write_file(dir, "loss.txt", txt, (size_t)n);
        rc |= write_file(dir, "emb_a.f32", ya, sizeof(float) * NB * C);
        rc |= write_file(dir, "emb_b.f32", yb, sizeof(float) * NB * C);
        rc |= write_file(dir, "grads.f32", g, sizeof(float) * m->n_params);
        if (rc) fprintf(stderr, "parity_dump: cannot write into %s\n", dir);
    } else {
        fprintf(stderr, "parity_dump: %s\n", ss_errmsg());
    }
    free(work), free(da), free(db), free(g);
    ss__encoder_free(ea), ss__encoder_free(eb);
    ss_batch_free(&a), ss_batch_free(&b);
    ss_model_free(m);
    return rc ? 1 : 0;
}

/* unit test: save, load, embed the same */
static int self_test(void)
{
    char dir[] = "/tmp/semsearch-parity.XXXXXX";
    if (!mkdtemp(dir)) return tap_ok(0, "temporary directory"), tap_done();
    ss_model *m = tiny_model(SS_POOL_MEAN), *r = NULL;
    if (!tap_ok(m != NULL, "a tiny model around the shipped vocabulary (%s)", m ? "" : ss_errmsg()))
        return tap_done();
    char path[4096];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    int rc = ss_model_save(m, path, SS_DTYPE_F32);
    tap_ok(rc == SS_OK, "ss_model_save writes the model (%s)", rc ? ss_errmsg() : "ok");
    if (!rc) rc = ss_model_load(path, &r);
    tap_ok(rc == SS_OK, "ss_model_load reads it back (%s)", rc ? ss_errmsg() : "ok");
    if (!rc) {
        tap_ok(r->n_params == m->n_params &&
                   !memcmp(r->params, m->params, m->n_params * sizeof(float)),
               "the parameters round-trip exactly");
        float e1[NB * 32], e2[NB * 32];
        rc = ss_embed(m, side_a, NULL, NB, 0, e1) | ss_embed(r, side_a, NULL, NB, 0, e2);
        tap_ok(rc == 0 && !memcmp(e1, e2, sizeof e1), "the reloaded model embeds identically");
        tap_ok(strlen(ss_model_fingerprint(r)) == 64, "a loaded model has a SHA-256 fingerprint");
    }
    unlink(path);
    rmdir(dir);
    ss_model_free(m);
    ss_model_free(r);
    return tap_done();
}

int main(int argc, char **argv)
{
    ss_set_threads(2);
    if (argc < 2) return self_test();
    int pooling = argc > 2 && !strcmp(argv[2], "cls")       ? SS_POOL_CLS
                  : argc > 2 && !strcmp(argv[2], "max")     ? SS_POOL_MAX
                  : argc > 2 && !strcmp(argv[2], "meanmax") ? SS_POOL_MEANMAX
                                                            : SS_POOL_MEAN;
    return dump(argv[1], pooling);
}
