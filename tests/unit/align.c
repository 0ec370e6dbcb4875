/* Tests of the soft term alignment (ss_model_align) against a naive
 * reference written here from its definition, and of the rerank that
 * ss_store_query and ss_store_query_many make of it (ss_store_query_opts.align). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/encoder.h"
#include "nn/model.h"
#include "semsearch.h"
#include "tap.h"

/* The definition, in double, pieces by ss_tokenizer_encode (cut at the
 * window): the query's pieces' idf^2-weighted mean best cosine, at least 0. */
static double ref_align(ss_model *m, const float *wte, const char *q, const char *const *texts, size_t n, size_t which)
{
    int C = m->cfg.d_model, win = m->cfg.max_len - 2;
    int32_t *qi = NULL, **di = calloc(n, sizeof *di);
    size_t nq = 0, *nd = calloc(n, sizeof *nd);
    if (ss_tokenizer_encode(m->tok, q, strlen(q), &qi, &nq)) return NAN;
    if (nq > (size_t)win) nq = (size_t)win;
    for (size_t i = 0; i < n; i++) {
        if (ss_tokenizer_encode(m->tok, texts[i], strlen(texts[i]), &di[i], &nd[i])) return NAN;
        if (nd[i] > (size_t)win) nd[i] = (size_t)win;
    }
    /* idf over the n texts */
#define IDF(t)                                                                                                      \
    ({                                                                                                              \
        size_t df_ = 0;                                                                                             \
        for (size_t i_ = 0; i_ < n; i_++) {                                                                         \
            int has_ = 0;                                                                                           \
            for (size_t j_ = 0; j_ < nd[i_]; j_++) has_ |= di[i_][j_] == (t);                                       \
            df_ += (size_t)has_;                                                                                    \
        }                                                                                                           \
        log((double)(n + 1) / (double)(df_ + 1)) + 1.0;                                                             \
    })
    const int32_t *d = di[which];
    size_t k = nd[which];
    double out = 0;
    if (nq && k) {
        double *sim = calloc(nq * k, sizeof *sim);
        for (size_t a = 0; a < nq; a++)
            for (size_t b = 0; b < k; b++) {
                const float *x = wte + (size_t)qi[a] * (size_t)C, *y = wte + (size_t)d[b] * (size_t)C;
                double xy = 0, xx = 0, yy = 0;
                for (int c = 0; c < C; c++) xy += (double)x[c] * y[c], xx += (double)x[c] * x[c], yy += (double)y[c] * y[c];
                sim[a * k + b] = xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
            }
        double rn = 0, rd = 0;
        for (size_t a = 0; a < nq; a++) {
            double best = -INFINITY, w = IDF(qi[a]);
            for (size_t b = 0; b < k; b++) best = fmax(best, sim[a * k + b]);
            rn += w * w * best, rd += w * w;
        }
        out = fmax(rn / rd, 0);
        free(sim);
    }
#undef IDF
    ss_free(qi);
    for (size_t i = 0; i < n; i++) ss_free(di[i]);
    free(di);
    free(nd);
    return out;
}

static const char *const texts[] = {
    "How do I learn to play the guitar quickly?",
    "What is the fastest way to learn guitar?",
    "How can I improve my cooking skills?",
    "The guitar is a fretted musical instrument with six strings.",
    "",
    "guitar guitar guitar guitar",
    "What is the best way to learn a new language?",
    "How do I learn to play the piano?",
    "Why is the sky blue?",
    "Ελληνικά κείμενα που το λεξιλόγιο δεν ξέρει",
};
#define NT (sizeof texts / sizeof *texts)
static const char *const query = "best way to learn guitar fast";

static void test_reference(ss_model *m, const char *what)
{
    ss__layout L;
    ss__model_layout(&m->cfg, &L);
    /* the reference reads the f32 table: an int8 file's comes from its codes */
    float *wte = malloc((size_t)m->cfg.vocab_size * (size_t)m->cfg.d_model * sizeof *wte);
    if (m->lazy & SS__LAZY_TOKENS)
        ss__q8_dequantize(wte, m->wte_q8.q, m->wte_q8.scale, m->wte_q8.rows, m->wte_q8.cols);
    else memcpy(wte, m->params + L.wte, (size_t)m->cfg.vocab_size * (size_t)m->cfg.d_model * sizeof *wte);
    float got[NT];
    int rc = ss_model_align(m, query, strlen(query), texts, NULL, NT, got);
    tap_ok(rc == SS_OK, "%s: ss_model_align over %zu texts", what, NT);
    double worst = 0;
    for (size_t i = 0; i < NT && !rc; i++) worst = fmax(worst, fabs(got[i] - ref_align(m, wte, query, texts, NT, i)));
    tap_ok(!rc && worst < 1e-5, "%s: every score is the definition's (worst difference %.2g)", what, worst);
    tap_ok(!rc && got[4] == 0.0f, "%s: a text without pieces scores 0", what);
    tap_ok(!rc && got[1] > got[2] && got[1] > got[8], "%s: the paraphrase (%.3f) above unrelated texts (%.3f, %.3f)",
           what, got[1], got[2], got[8]);
    /* lengths given: the same as NUL-terminated */
    size_t lens[NT];
    for (size_t i = 0; i < NT; i++) lens[i] = strlen(texts[i]);
    float got2[NT];
    rc = ss_model_align(m, query, strlen(query), texts, lens, NT, got2);
    tap_ok(rc == SS_OK && !memcmp(got, got2, sizeof got), "%s: lens given or not, the same scores", what);
    /* the text compared with itself among others: R = P = 1 */
    const char *self[2] = {texts[0], texts[2]};
    rc = ss_model_align(m, texts[0], strlen(texts[0]), self, NULL, 2, got2);
    tap_ok(rc == SS_OK && fabs(got2[0] - 1.0) < 1e-5, "%s: a text against itself scores 1 (%.6f)", what, got2[0]);
    free(wte);
}

static void test_errors(ss_model *m, ss_model *deep)
{
    float s[2] = {7, 7};
    const char *t[2] = {"a", NULL};
    tap_ok(ss_model_align(NULL, "q", 1, t, NULL, 1, s) == SS_ERR_ARG, "NULL model: SS_ERR_ARG");
    tap_ok(ss_model_align(m, NULL, 0, t, NULL, 1, s) == SS_ERR_ARG, "NULL query: SS_ERR_ARG");
    tap_ok(ss_model_align(m, "q", 1, NULL, NULL, 1, s) == SS_ERR_ARG, "NULL texts: SS_ERR_ARG");
    tap_ok(ss_model_align(m, "q", 1, t, NULL, 2, s) == SS_ERR_ARG && strstr(ss_errmsg(), "text 1"),
           "a NULL text: SS_ERR_ARG naming it (%s)", ss_errmsg());
    tap_ok(ss_model_align(m, "q", 1, NULL, NULL, 0, NULL) == SS_OK, "no texts: SS_OK");
    float z = 5;
    tap_ok(ss_model_align(m, "", 0, t, NULL, 1, &z) == SS_OK && z == 0.0f, "an empty query scores 0");
    /* an untrained table: cosines of either sign, the score still in [0, 1] */
    float r[NT];
    int in = ss_model_align(deep, "c", 1, texts, NULL, NT, r) == SS_OK; /* one piece: P may be < 0 */
    for (size_t i = 0; i < NT && in; i++) in = r[i] >= 0.0f && r[i] <= 1.0f;
    tap_ok(in, "a random table: every alignment in [0, 1]");
    tap_ok(fabsf(ss_model_align_weight(m) - 0.25f) < 1e-6 && ss_model_align_weight(deep) == 0.0f &&
               ss_model_align_weight(NULL) == 0.0f,
           "default weight: 0.25 for a static model, 0 with transformer layers or none");
}

/* A store of the texts with the model's vectors; the rerank against the
 * cosine + w x ss_model_align over every text (fewer than 100: all are the
 * candidates), and the same over two shards. */
static void test_store(ss_model *m, const char *dir)
{
    char path[4200], p1[4200], p2[4200];
    snprintf(path, sizeof path, "%s/one.db", dir);
    snprintf(p1, sizeof p1, "%s/s1.db", dir);
    snprintf(p2, sizeof p2, "%s/s2.db", dir);
    int dim = ss_model_dim(m);
    size_t n = NT - 1; /* the empty text is not a document */
    const char *docs_t[NT];
    for (size_t i = 0, k = 0; i < NT; i++)
        if (texts[i][0]) docs_t[k++] = texts[i];
    float *v = malloc(n * (size_t)dim * sizeof *v), qv[4096];
    int rc = ss_embed(m, docs_t, NULL, n, 0, v);
    if (!rc) rc = ss_embed(m, &query, NULL, 1, 0, qv);
    ss_store_model sm = {"en-base.gguf", ss_model_fingerprint(m), "/x/en-base.gguf", dim};
    ss_store *s = NULL, *sh[2] = {NULL, NULL};
    const char *paths[3] = {path, p1, p2};
    for (int d = 0; d < 3 && !rc; d++) {
        ss_store *x;
        rc = ss_store_open(paths[d], SS_STORE_CREATE, &x);
        if (!rc) rc = ss_store_use_model(x, &sm);
        for (size_t i = 0; i < n && !rc; i++) {
            if (d > 0 && (int)(i % 2) != d - 1) continue;
            ss_doc doc = {docs_t[i], strlen(docs_t[i]), NULL, NULL, NULL};
            rc = ss_store_add(x, &doc, v + i * (size_t)dim, 1, NULL);
        }
        if (d == 0) s = x;
        else sh[d - 1] = x;
    }
    tap_ok(rc == SS_OK, "three databases of the texts (one whole, two shards)");
    /* expected: cosine + 0.3 align, over every document */
    float al[NT];
    double want[NT];
    if (!rc) rc = ss_model_align(m, query, strlen(query), docs_t, NULL, n, al);
    for (size_t i = 0; i < n && !rc; i++) {
        double c = 0, qq = 0, dd = 0;
        for (int j = 0; j < dim; j++)
            c += (double)qv[j] * v[i * (size_t)dim + (size_t)j], qq += (double)qv[j] * qv[j],
                dd += (double)v[i * (size_t)dim + (size_t)j] * v[i * (size_t)dim + (size_t)j];
        want[i] = c / sqrt(qq * dd) + 0.3 * al[i];
    }
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = 5;
    o.texts = &query;
    o.align = 0.3f;
    o.align_model = m;
    ss_hit h[5], hm[5];
    int cnt = 0, cm = 0, which[5];
    if (!rc) rc = ss_store_query(s, qv, 1, &o, h, &cnt);
    tap_ok(rc == SS_OK && cnt == 5, "ss_store_query with align: 5 hits");
    /* the best five of want, in order */
    int order[NT];
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (want[order[j]] > want[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    int same = cnt == 5;
    double worst = 0;
    for (int i = 0; i < cnt && same; i++) {
        same &= h[i].doc == order[i] + 1; /* documents numbered from 1 in insertion order */
        worst = fmax(worst, fabs(h[i].score - want[order[i]]));
    }
    tap_ok(same && worst < 1e-5, "the hits are the best cosine + 0.3 x alignment, in order, with those scores (%.2g)",
           worst);
    /* without align: plain cosines, and another order */
    ss_store_query_opts o0 = o;
    o0.align = 0;
    ss_hit h0[5];
    int c0 = 0;
    if (!rc) rc = ss_store_query(s, qv, 1, &o0, h0, &c0);
    tap_ok(rc == SS_OK && c0 == 5 && fabs(h0[0].score - (want[h0[0].doc - 1] - 0.3 * al[h0[0].doc - 1])) < 1e-5,
           "align 0: the cosine alone");
    /* two shards searched as one: the same hits and scores */
    if (!rc) rc = ss_store_query_many(sh, 2, qv, 1, &o, hm, which, &cm);
    same = rc == SS_OK && cm == cnt;
    for (int i = 0; i < cm && same; i++) {
        ss_store_doc a, b;
        same = ss_store_get(s, h[i].doc, &a) == SS_OK;
        if (same && !(same = ss_store_get(sh[which[i]], hm[i].doc, &b) == SS_OK)) ss_store_doc_clear(&a);
        if (!same) break;
        same = !strcmp(a.text, b.text) && fabsf(h[i].score - hm[i].score) < 1e-6f;
        ss_store_doc_clear(&a);
        ss_store_doc_clear(&b);
    }
    tap_ok(same, "ss_store_query_many over two shards: the same hits and scores as one database");
    /* hybrid: the fusion takes the rescored vector side */
    o.hybrid = 1;
    if (!rc) rc = ss_store_query(s, qv, 1, &o, h, &cnt);
    tap_ok(rc == SS_OK && cnt == 5 && h[0].score <= 1.0f + 1e-6f, "hybrid with align: 5 fused hits");
    o.hybrid = 0;
    /* bad options */
    ss_store_query_opts bad = o;
    bad.align_model = NULL;
    tap_ok(ss_store_query(s, qv, 1, &bad, h, &cnt) == SS_ERR_ARG, "align without its model: SS_ERR_ARG");
    bad = o;
    bad.texts = NULL;
    tap_ok(ss_store_query(s, qv, 1, &bad, h, &cnt) == SS_ERR_ARG, "align without the query texts: SS_ERR_ARG");
    bad = o;
    bad.align = NAN;
    tap_ok(ss_store_query(s, qv, 1, &bad, h, &cnt) == SS_ERR_RANGE, "align NaN: SS_ERR_RANGE");
    bad.align = -1;
    tap_ok(ss_store_query(s, qv, 1, &bad, h, &cnt) == SS_ERR_RANGE, "align below 0: SS_ERR_RANGE");
    ss_store_close(s);
    ss_store_close(sh[0]);
    ss_store_close(sh[1]);
    for (int d = 0; d < 3; d++) unlink(paths[d]);
    free(v);
}

int main(void)
{
    const char *path = tap_srcpath("models/en-base.gguf");
    ss_model *m = NULL, *q8 = NULL, *deep = NULL;
    if (ss_model_load(path, &m)) {
        tap_ok(1, "# SKIP no shipped model (%s)", ss_errmsg());
        return tap_done();
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ss-align-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    test_reference(m, "f16 file");
    /* an int8 file: the token table is read from its codes, row by row */
    char p8[4200];
    snprintf(p8, sizeof p8, "%s/m8.gguf", dir);
    int rc = ss_model_save(m, p8, SS_DTYPE_INT8);
    if (!rc) rc = ss_model_load(p8, &q8);
    tap_ok(rc == SS_OK && (q8->lazy & SS__LAZY_TOKENS), "the model as an int8 file (token table not materialized)");
    if (!rc) test_reference(q8, "int8 file");
    ss_config c;
    ss_model_config(m, &c);
    c.n_layers = 1, c.d_model = 16, c.n_heads = 2, c.d_ff = 16;
    rc = ss_model_init(&c, ss_model_tokenizer(m), 1, &deep);
    tap_ok(rc == SS_OK, "a model with a transformer layer");
    test_errors(m, deep);
    test_store(m, dir);
    ss_model_free(m);
    ss_model_free(q8);
    ss_model_free(deep);
    unlink(p8);
    rmdir(dir);
    return tap_done();
}
