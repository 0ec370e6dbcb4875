/* fuzz_query.c: the query path of `semsearch query`: query texts through
 * normalization, tokenization and a tiny random model (made once around the
 * shipped vocabulary), then a search of a small store built once with that
 * model, with fuzz-chosen options: k, precision, rerank, min_score, source
 * filter, hybrid (BM25 fusion), rrf_k, streaming (once) on a fresh handle,
 * the alignment rerank (bit 6 of byte 1).
 *
 * Input: bytes 0-3 are options, the rest is the query text, split into up
 * to 8 queries at 0x1e bytes.
 *
 * Invariants: embedding text never fails and gives unit vectors; a query
 * with valid options succeeds; hits are at most k, best first, at least
 * min_score, of the asked source, and (f32) their scores are the exact
 * cosines with no better document left out; int8 scores are exact cosines.
 * With the alignment (fewer documents than its 100 candidates: all of a
 * source are) a score is the cosine + weight x ss_model_align over them,
 * the alignment in [0, 1]. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "fuzz.h"

#define NQMAX 8

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_query: %s: %s\n", what, ss_errmsg());
    abort();
}

static char dir[64], dbpath[128];
static ss_model *model;
static ss_store *store; /* kept open: its vectors stay in memory */
static int dim;
/* the stored documents, to check the answers */
#define NDOCS 40
static float doc_vec[NDOCS][64];
static int64_t doc_id[NDOCS];
static const char *doc_source[NDOCS];
static int ndocs;

static const ss_store_model smodel = {"tiny.gguf", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                      "/nonexistent/tiny.gguf", 16};

static const char *const corpus[] = {
    "A man is playing a guitar.", "A woman is slicing an onion.", "Two dogs run across a snowy field.",
    "A red double-decker bus drives down the street.", "A cat sleeps on a sofa.", "Children play football in the park.",
    "The stock market fell sharply on Monday.", "A plane is taking off.", "Someone is cooking pasta in a kitchen.",
    "A man rides a horse on the beach.", "Snow covers the mountains.", "A group of people dance at a wedding.",
    "The train arrives at the station.", "A bird sits on a branch.", "A boy is reading a book.",
    "Two men are playing chess.", "A girl is riding a bicycle.", "The sun sets over the ocean.",
    "A chef prepares sushi.", "A dog catches a frisbee.", "Rain falls on the city.",
    "An old man feeds pigeons.", "A woman plays the piano.", "A crowd watches fireworks.",
    "Ünïcödé café naïve résumé", "数字 和 汉字", "\"quoted\" OR words AND NEAR(x y)", "bus bus bus bus",
    "a", "The quick brown fox jumps over the lazy dog.", "A kitten plays with yarn.", "Boats in a harbour.",
    "A person surfs a large wave.", "A tennis player serves.", "Cars wait at a red light.",
    "A man is playing a flute.", "A woman is cutting an onion.", "Three dogs run in the snow.",
    "A giraffe eats leaves.", "Pizza with cheese and tomato."};

static void cleanup(void)
{
    ss_store_close(store);
    store = NULL;
    ss_model_free(model);
    model = NULL;
    if (dir[0]) {
        char p[200];
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s%s", dbpath, sfx[i]);
            unlink(p);
        }
        rmdir(dir);
    }
}

static void init_once(void)
{
    if (model) return;
    ss_set_threads(1);
    if (fuzz_tiny_model(5, &model) != SS_OK) fail("cannot make a tiny model");
    dim = ss_model_dim(model);
    if (dim != smodel.dim) fail("model dimension");

    snprintf(dir, sizeof dir, "/tmp/ss-fuzz-query-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("fuzz_query: mkdtemp");
        abort();
    }
    snprintf(dbpath, sizeof dbpath, "%s/q.db", dir);
    atexit(cleanup);
    ss_store *w;
    if (ss_store_open(dbpath, SS_STORE_CREATE, &w) != SS_OK) fail("creating the store");
    if (ss_store_use_model(w, &smodel) != SS_OK) fail("use_model");
    ndocs = (int)(sizeof corpus / sizeof *corpus);
    ss_doc docs[NDOCS];
    size_t lens[NDOCS];
    float *v = malloc((size_t)ndocs * (size_t)dim * sizeof *v);
    for (int i = 0; i < ndocs; i++) {
        lens[i] = strlen(corpus[i]);
        doc_source[i] = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : NULL;
        docs[i] = (ss_doc){corpus[i], lens[i], NULL, doc_source[i], NULL};
    }
    if (ss_embed(model, corpus, lens, (size_t)ndocs, 0, v) != SS_OK) fail("embedding the documents");
    size_t added;
    if (ss_store_add(w, docs, v, (size_t)ndocs, &added) != SS_OK || added != (size_t)ndocs) fail("adding documents");
    ss_store_close(w);
    /* document numbers: the store numbers them in order from 1 */
    for (int i = 0; i < ndocs; i++) {
        doc_id[i] = i + 1;
        memcpy(doc_vec[i], v + (size_t)i * (size_t)dim, (size_t)dim * sizeof *v);
    }
    free(v);
    if (ss_store_open(dbpath, SS_STORE_READONLY, &store) != SS_OK) fail("opening the store");
    for (int i = 0; i < ndocs; i++) {
        ss_store_doc d;
        if (ss_store_get(store, doc_id[i], &d) != SS_OK || strcmp(d.text, corpus[i])) fail("document numbers");
        ss_store_doc_clear(&d);
    }
}

static int doc_index(int64_t doc)
{
    return doc >= 1 && doc <= ndocs ? (int)(doc - 1) : -1;
}

static double cosine(const float *q, const float *x)
{
    double s = 0, nq = 0, nx = 0;
    for (int i = 0; i < dim; i++) {
        s += (double)q[i] * x[i];
        nq += (double)q[i] * q[i];
        nx += (double)x[i] * x[i];
    }
    return s / sqrt(nq * nx);
}

static int source_ok(int i, const char *source)
{
    return !source || (doc_source[i] && !strcmp(doc_source[i], source));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 4) return 0;
    int o0 = data[0], o1 = data[1], o2 = data[2], o3 = data[3];
    const char *text = (const char *)data + 4;
    size_t len = size - 4;

    /* the queries: pieces separated by 0x1e, NUL-terminated copies */
    char *texts[NQMAX];
    size_t lens[NQMAX];
    int nq = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && nq < NQMAX; i++) {
        if (i == len || text[i] == 0x1e) {
            lens[nq] = i - start;
            texts[nq] = malloc(lens[nq] + 1);
            memcpy(texts[nq], text + start, lens[nq]);
            texts[nq][lens[nq]] = '\0';
            nq++;
            start = i + 1;
        }
    }

    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    static const int ks[8] = {1, 2, 3, 5, 10, 39, 40, 100};
    o.k = (o0 & 0x80) ? 1 + o1 : ks[o0 & 7];
    o.precision = (o0 >> 3) & 1;
    o.hybrid = (o0 >> 4) & 1;
    o.once = (o0 >> 5) & 1;
    int fresh_handle = (o0 >> 6) & 1;
    static const char *const sources[4] = {NULL, "a", "b", "nope"};
    o.source = sources[o2 & 3];
    o.rerank = (o2 >> 2) & 1 ? 1 + ((o2 >> 3) & 31) * 3 : 0;
    static const float mins[8] = {-INFINITY, -1.0f, 0.0f, 0.2f, 0.5f, 0.9f, 1.0f, 2.0f};
    o.min_score = (o3 & 8) ? mins[o3 & 7] : -INFINITY;
    o.rrf_k = (o3 >> 4) * 7; /* 0: default */
    o.threads = 1;
    o.texts = (const char *const *)texts;
    if ((o1 >> 6) & 1) {
        o.align = (o1 >> 7) & 1 ? 2.5f : 0.3f;
        o.align_model = model;
    }

    float *q = malloc((size_t)nq * (size_t)dim * sizeof *q);
    int rc = ss_embed(model, (const char *const *)texts, lens, (size_t)nq, (o3 & 0x4) ? 0 : 1 + (o1 & 3), q);
    if (rc != SS_OK) fail("ss_embed on text");
    for (int j = 0; j < nq; j++) {
        double s = 0;
        for (int i = 0; i < dim; i++) {
            if (!isfinite(q[(size_t)j * dim + i])) fail("a query vector that is not finite");
            s += (double)q[(size_t)j * dim + i] * q[(size_t)j * dim + i];
        }
        if (fabs(s - 1) > 1e-4) fail("a query vector that is not unit length");
    }

    ss_store *s = store;
    if (fresh_handle && ss_store_open(dbpath, SS_STORE_READONLY, &s) != SS_OK) fail("reopening the store");
    ss_hit *hits = malloc((size_t)nq * (size_t)o.k * sizeof *hits);
    int counts[NQMAX];
    rc = ss_store_query(s, q, (size_t)nq, &o, hits, counts);
    if (rc != SS_OK) fail("ss_store_query with valid options");

    for (int j = 0; j < nq; j++) {
        const ss_hit *h = hits + (size_t)j * (size_t)o.k;
        const float *qv = q + (size_t)j * dim;
        int allowed = 0;
        for (int i = 0; i < ndocs; i++) allowed += source_ok(i, o.source);
        /* what each document should score: its cosine, + align x alignment */
        double want[NDOCS];
        const char *cand[NDOCS];
        int ci[NDOCS], nc = 0;
        for (int i = 0; i < ndocs; i++) {
            want[i] = cosine(qv, doc_vec[i]);
            if (source_ok(i, o.source)) ci[nc] = i, cand[nc++] = corpus[i];
        }
        if (o.align > 0) {
            float al[NDOCS];
            if (ss_model_align(model, texts[j], strlen(texts[j]), cand, NULL, (size_t)nc, al) != SS_OK)
                fail("ss_model_align");
            for (int c = 0; c < nc; c++) {
                if (!(al[c] >= 0.0f && al[c] <= 1.0001f)) {
                    fprintf(stderr, "al %g query [%s] doc [%s]\n", al[c], texts[j], cand[c]);
                    fail("an alignment out of [0, 1]");
                }
                want[ci[c]] = (double)(float)((float)want[ci[c]] + o.align * al[c]);
            }
        }
        if (counts[j] < 0 || counts[j] > o.k) fail("a hit count out of [0, k]");
        if (!o.hybrid && counts[j] > allowed) fail("more hits than documents of the source");
        for (int i = 0; i < counts[j]; i++) {
            int d = doc_index(h[i].doc);
            if (d < 0) fail("a hit that is no document");
            if (!source_ok(d, o.source)) fail("a hit of another source");
            if (!isfinite(h[i].score)) fail("a score that is not finite");
            if (h[i].score < o.min_score) fail("a hit below min_score");
            for (int k = 0; k < i; k++)
                if (h[k].doc == h[i].doc) fail("a document twice in one answer");
            if (i > 0 && (h[i].score > h[i - 1].score || (h[i].score == h[i - 1].score && h[i].doc < h[i - 1].doc)))
                fail("hits not best first");
            if (!o.hybrid && fabs(want[d] - h[i].score) > 1e-4) fail("a score that is not the cosine (+ alignment)");
        }
        if (!o.hybrid && o.precision == SS_PREC_F32) {
            /* nothing better left out: every allowed document scoring above
             * the last hit (or above min_score when fewer than k) is a hit */
            for (int i = 0; i < ndocs; i++) {
                if (!source_ok(i, o.source)) continue;
                double c = want[i];
                int in = 0;
                for (int t = 0; t < counts[j]; t++) in |= doc_index(h[t].doc) == i;
                if (in || c < (double)o.min_score + 1e-4) continue;
                double bar = counts[j] == o.k ? h[counts[j] - 1].score : -INFINITY;
                if (c > bar + 1e-4) fail("a better document left out");
            }
        }
        if (o.hybrid && o.min_score <= 0 && counts[j] == 0 && allowed > 0 && o.k > 0)
            fail("hybrid search found nothing");
    }
    if (s != store) ss_store_close(s);
    free(hits);
    free(q);
    for (int j = 0; j < nq; j++) free(texts[j]);
    return 0;
}
