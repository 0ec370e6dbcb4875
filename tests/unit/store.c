/* store.c: the SQLite store on raw vectors: adding, dedup, queries against a
 * naive reference, persistence, deleting, sources, hybrid search, a model
 * mismatch, re-embedding, a newer schema, a full disk, kill -9 in the middle
 * of indexing, failing allocations; the index pipeline (ss_indexer). */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "store/hybrid.h"
#include "store/store.h"
#include "tap.h"
#include "tiny.h"

#define DIM 8

static char dir[256];
static char *path_of(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* A deterministic vector for document i. */
static void vec_of(long i, float *x, int d)
{
    uint64_t r = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
    for (int j = 0; j < d; j++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        x[j] = (float)((int)(r % 2001) - 1000) / 1000.0f;
    }
    x[0] += 0.01f; /* never zero */
}

static const ss_store_model model_a = {"a.gguf", "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111", "/x/a.gguf", DIM};
static const ss_store_model model_b = {"b.gguf", "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222", "/x/b.gguf", DIM};

/* Adds documents lo..hi-1 ("document number i") in batches. */
static int add_range(ss_store *s, long lo, long hi, size_t batch, size_t *added_total)
{
    ss_doc *docs = calloc(batch, sizeof *docs);
    char (*texts)[64] = calloc(batch, 64);
    char (*ids)[32] = calloc(batch, 32);
    float *v = malloc(batch * DIM * sizeof *v);
    int rc = SS_OK;
    size_t total = 0;
    for (long i0 = lo; i0 < hi && !rc; i0 += (long)batch) {
        size_t n = 0;
        for (long i = i0; i < hi && n < batch; i++, n++) {
            snprintf(texts[n], 64, "document number %ld", i);
            snprintf(ids[n], 32, "doc-%ld", i);
            docs[n] = (ss_doc){texts[n], strlen(texts[n]), ids[n], i % 2 ? "odd" : "even", NULL};
            vec_of(i, v + n * DIM, DIM);
        }
        size_t added = 0;
        rc = ss_store_add(s, docs, v, n, &added);
        total += added;
    }
    if (added_total) *added_total = total;
    free(docs);
    free(texts);
    free(ids);
    free(v);
    return rc;
}

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static int sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* Every document's (block, slot) holds its id and every used slot has a
 * document; PRAGMA integrity_check is ok. Returns 1 when consistent. */
static int consistent(const char *path, long *ndocs)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return 0;
    int ok = 1;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok")) ok = 0;
    sqlite3_finalize(st);
    long docs = 0, slots = 0;
    sqlite3_prepare_v2(db,
                       "SELECT d.id, d.slot, b.ids FROM documents d JOIN blocks b ON b.id = d.block", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), v;
        int slot = sqlite3_column_int(st, 1);
        const unsigned char *p = sqlite3_column_blob(st, 2);
        memcpy(&v, p + slot * 8, 8);
        if (v != id) ok = 0;
        docs++;
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT ids FROM blocks", -1, &st, NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0) / 8;
        for (int i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, p + i * 8, 8);
            slots += v != 0;
        }
    }
    sqlite3_finalize(st);
    int64_t all = 0;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM documents", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) all = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (docs != slots || docs != all) ok = 0;
    if (ndocs) *ndocs = docs;
    return ok;
}

/* Naive top-1 over documents lo..hi-1 for query vector q (cosine). */
static long naive_top1(long lo, long hi, const float *q, const char *parity)
{
    long best = -1;
    double bs = -2;
    for (long i = lo; i < hi; i++) {
        if (parity && strcmp(parity, i % 2 ? "odd" : "even")) continue;
        float x[DIM];
        vec_of(i, x, DIM);
        double dot = 0, nx = 0, nq = 0;
        for (int j = 0; j < DIM; j++) {
            dot += (double)x[j] * q[j];
            nx += (double)x[j] * x[j];
            nq += (double)q[j] * q[j];
        }
        double c = dot / sqrt(nx * nq);
        if (c > bs) {
            bs = c;
            best = i;
        }
    }
    return best;
}

/* Number i of the document a hit points to (from its text), or -1. */
static long hit_number(ss_store *s, int64_t doc)
{
    ss_store_doc d;
    if (ss_store_get(s, doc, &d)) return -1;
    long v = -1;
    sscanf(d.text, "document number %ld", &v);
    ss_store_doc_clear(&d);
    return v;
}

static void test_basic(void)
{
    const char *db = path_of("basic.db");
    ss_store *s = NULL;
    int rc = ss_store_open(db, SS_STORE_READONLY, &s);
    tap_ok(rc == SS_ERR_IO && strstr(ss_errmsg(), "no such database"), "missing database: %s", ss_errmsg());
    rc = ss_store_open(db, SS_STORE_CREATE, &s);
    tap_ok(rc == SS_OK, "create: %s", ss_errmsg());
    if (rc) return;
    float v[DIM];
    vec_of(1, v, DIM);
    ss_doc d = {"x", 1, NULL, NULL, NULL};
    rc = ss_store_add(s, &d, v, 1, NULL);
    tap_ok(rc == SS_ERR_ARG, "adding before declaring a model fails: %s", ss_errmsg());
    tap_ok(ss_store_use_model(s, &model_a) == SS_OK, "declare model a");
    size_t added = 0;
    rc = add_range(s, 0, 3000, 500, &added);
    tap_ok(rc == SS_OK && added == 3000, "3000 documents added (%zu): %s", added, ss_errmsg());
    rc = add_range(s, 2500, 3500, 300, &added);
    tap_ok(rc == SS_OK && added == 500, "overlapping re-add stores only the 500 new texts (%zu)", added);
    /* duplicates inside one call */
    ss_doc dd[3] = {{"same text", 9, NULL, NULL, NULL}, {"same text", 9, NULL, NULL, NULL}, {"other", 5, NULL, NULL, NULL}};
    float vv[3 * DIM];
    for (int i = 0; i < 3; i++) vec_of(100 + i, vv + i * DIM, DIM);
    unsigned char isnew[3];
    rc = ss_store_filter_new(s, dd, 3, isnew);
    tap_ok(!rc && isnew[0] == 1 && isnew[1] == 0 && isnew[2] == 1, "filter_new marks the first of equal texts");
    rc = ss_store_add(s, dd, vv, 3, &added);
    tap_ok(!rc && added == 2, "equal texts in one call stored once");
    rc = ss_store_filter_new(s, dd, 3, isnew);
    tap_ok(!rc && !isnew[0] && !isnew[1] && !isnew[2], "filter_new: stored texts are not new");
    /* bad vectors and metadata roll the whole call back */
    float bad[2 * DIM];
    vec_of(7, bad, DIM);
    memset(bad + DIM, 0, sizeof(float) * DIM);
    ss_doc bd[2] = {{"fresh one", 9, NULL, NULL, NULL}, {"fresh two", 9, NULL, NULL, NULL}};
    rc = ss_store_add(s, bd, bad, 2, &added);
    tap_ok(rc == SS_ERR_NUMERIC, "zero vector is SS_ERR_NUMERIC: %s", ss_errmsg());
    bad[DIM] = NAN;
    rc = ss_store_add(s, bd, bad, 2, &added);
    tap_ok(rc == SS_ERR_NUMERIC, "NaN is SS_ERR_NUMERIC: %s", ss_errmsg());
    vec_of(8, bad + DIM, DIM);
    bd[1].meta = "{not json";
    rc = ss_store_add(s, bd, bad, 2, &added);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "document 2"), "invalid metadata JSON: %s", ss_errmsg());
    ss_store_doc got;
    unsigned char nn[1];
    tap_ok(ss_store_filter_new(s, bd, 1, nn) == SS_OK && nn[0] == 1, "a failed call stored nothing");
    bd[1].meta = "{\"lang\": \"en\"}";
    rc = ss_store_add(s, bd, bad, 2, &added);
    tap_ok(rc == SS_OK && added == 2, "valid metadata JSON accepted");

    /* queries: exact top-1 against the naive reference, 20 queries */
    int bad_top = 0;
    for (long i = 0; i < 20; i++) {
        float q[DIM];
        vec_of(1000000 + i, q, DIM);
        ss_store_query_opts o;
        ss_store_query_opts_init(&o);
        o.k = 3;
        ss_hit h[3];
        int c = 0;
        rc = ss_store_query(s, q, 1, &o, h, &c);
        long want = naive_top1(0, 3500, q, NULL);
        if (rc || c != 3 || hit_number(s, h[0].doc) != want || !(h[0].score >= h[1].score)) bad_top++;
    }
    tap_ok(!bad_top, "20 queries: top hit = naive reference");
    /* a stored vector finds itself with cosine 1 */
    float q[DIM];
    vec_of(1234, q, DIM);
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    ss_hit h[10];
    int c = 0;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 10 && hit_number(s, h[0].doc) == 1234 && fabsf(h[0].score - 1.0f) < 1e-5f,
           "a stored vector finds itself first, score %f", c ? h[0].score : 0);
    rc = ss_store_get(s, h[0].doc, &got);
    tap_ok(!rc && got.id && !strcmp(got.id, "doc-1234") && got.source && !strcmp(got.source, "even"),
           "get returns external id and source");
    ss_store_doc_clear(&got);
    o.precision = SS_PREC_INT8;
    ss_hit h8[10];
    int c8 = 0;
    rc = ss_store_query(s, q, 1, &o, h8, &c8);
    int same = !rc && c8 == c;
    for (int i = 0; i < c && same; i++) same = h8[i].doc == h[i].doc && h8[i].score == h[i].score;
    tap_ok(same, "int8 + rescoring gives the same 10 hits and scores");
    /* source filter */
    o.precision = SS_PREC_F32;
    o.source = "odd";
    rc = ss_store_query(s, q, 1, &o, h, &c);
    int allodd = !rc && c == 10;
    for (int i = 0; i < c; i++) allodd &= hit_number(s, h[i].doc) % 2 == 1;
    tap_ok(allodd && hit_number(s, h[0].doc) == naive_top1(0, 3500, q, "odd"), "--source: only odd documents, best first");
    o.source = "no such source";
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 0, "unknown source: no hits");
    o.source = NULL;
    o.min_score = 2.0f;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 0, "min_score above every score: no hits");
    o.min_score = -INFINITY;
    /* batch = single */
    float qs[5 * DIM];
    for (int j = 0; j < 5; j++) vec_of(5000000 + j, qs + j * DIM, DIM);
    ss_hit hb[50], h1[10];
    int cb[5], c1;
    rc = ss_store_query(s, qs, 5, &o, hb, cb);
    int eq = !rc;
    for (int j = 0; j < 5 && eq; j++) {
        eq = ss_store_query(s, qs + j * DIM, 1, &o, h1, &c1) == SS_OK && c1 == cb[j];
        for (int i = 0; i < c1 && eq; i++) eq = h1[i].doc == hb[j * 10 + i].doc && h1[i].score == hb[j * 10 + i].score;
    }
    tap_ok(eq, "a batch of 5 queries = 5 single queries");
    /* once: read block by block, nothing kept; same answers, with a source too */
    ss_store_query_opts oo = o;
    oo.once = 1;
    ss_store *s2;
    int same_once = ss_store_open(db, SS_STORE_READONLY, &s2) == SS_OK;
    for (int pass = 0; pass < 2 && same_once; pass++) {
        oo.source = o.source = pass ? "odd" : NULL;
        ss_hit ho[50];
        int co[5];
        same_once = ss_store_query(s2, qs, 5, &oo, ho, co) == SS_OK && s2->mem.loaded == 0 &&
                    ss_store_query(s, qs, 5, &o, hb, cb) == SS_OK;
        for (int j = 0; j < 5 && same_once; j++) {
            same_once = co[j] == cb[j];
            for (int i = 0; i < co[j] && same_once; i++)
                same_once = ho[j * 10 + i].doc == hb[j * 10 + i].doc && ho[j * 10 + i].score == hb[j * 10 + i].score;
        }
    }
    o.source = NULL;
    ss_store_close(s2);
    tap_ok(same_once, "once (streamed, nothing kept) = loaded, with and without a source");
    /* hybrid, with FTS5 syntax and quotes in the text */
    const char *texts[1] = {"number 1234 \"AND OR NOT * ( ) NEAR: ' ; DROP TABLE documents; --"};
    o.hybrid = 1;
    o.texts = texts;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 10 && hit_number(s, h[0].doc) == 1234, "hybrid with quotes and FTS syntax: %s", ss_errmsg());
    char many[400];
    for (int i = 0; i < 199; i++) many[i] = i % 2 ? ' ' : (char)('a' + i % 26);
    many[199] = '\0';
    const char *texts3[1] = {many};
    o.texts = texts3;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 10, "hybrid with 100 one-letter words: %s", rc ? ss_errmsg() : "ok");
    const char *texts2[1] = {"!!! ??? ***"};
    o.texts = texts2;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 10 && hit_number(s, h[0].doc) == 1234, "hybrid with no words: vector ranking alone");
    o.hybrid = 0;
    o.texts = NULL;

    /* a model mismatch */
    rc = ss_store_use_model(s, &model_b);
    tap_ok(rc == SS_ERR_MODEL && strstr(ss_errmsg(), "a.gguf") && strstr(ss_errmsg(), "b.gguf"),
           "another model: SS_ERR_MODEL naming both: %s", ss_errmsg());
    ss_store_model m4 = model_a;
    m4.dim = 4;
    rc = ss_store_use_model(s, &m4);
    tap_ok(rc == SS_ERR_MODEL, "same fingerprint, other dim: SS_ERR_MODEL");
    tap_ok(ss_store_use_model(s, &model_a) == SS_OK, "the same model again is fine");

    /* delete */
    size_t del = 0;
    rc = ss_store_delete(s, "doc-1234", &del);
    tap_ok(!rc && del == 1, "delete by external id");
    o.precision = SS_PREC_F32;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 10 && hit_number(s, h[0].doc) != 1234, "a deleted document is not found");
    int64_t other_doc = 0;
    {
        ss_doc od = {"other", 5, NULL, NULL, NULL};
        unsigned char f;
        (void)od;
        (void)f;
        other_doc = sql_int(db, "SELECT id FROM documents WHERE text = 'other'");
    }
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)other_doc);
    rc = ss_store_delete(s, num, &del);
    tap_ok(!rc && del == 0, "ss_store_delete takes external ids only: a number string deletes nothing");
    rc = ss_store_delete_doc(s, other_doc, &del);
    tap_ok(!rc && del == 1, "ss_store_delete_doc: by number (a document without external id)");
    rc = ss_store_delete(s, "doc-999999", &del);
    tap_ok(!rc && del == 0, "delete of an unknown id deletes nothing");
    const char *ids4[] = {"doc-10", "doc-12", "doc-999999", "doc-10"};
    rc = ss_store_delete_ids(s, ids4, 4, &del);
    tap_ok(!rc && del == 2, "ss_store_delete_ids: two ids, an unknown one, a repeat: 2 deleted (%zu)", del);
    const char *with_null[] = {"doc-14", NULL};
    rc = ss_store_delete_ids(s, with_null, 2, &del);
    tap_ok(rc == SS_ERR_ARG && del == 0 && sql_int(db, "SELECT count(*) FROM documents WHERE ext_id = 'doc-14'") == 1,
           "ss_store_delete_ids: a NULL id is SS_ERR_ARG and deletes nothing");
    rc = ss_store_delete_ids(s, ids4, 0, &del);
    tap_ok(!rc && del == 0, "ss_store_delete_ids: no ids, nothing deleted");
    rc = ss_store_delete_source(s, "odd", &del);
    tap_ok(!rc && del == 1750, "delete a whole source (%zu)", del);
    ss_store_stats st;
    rc = ss_store_stats_get(s, &st);
    tap_ok(!rc && st.documents == 3504 - 4 - 1750 && st.dim == DIM && st.schema_version == 1 && st.has_fts,
           "stats: %lld documents", (long long)st.documents);
    /* the freed slot at the end is reused, holes elsewhere are not */
    rc = add_range(s, 0, 3500, 700, &added);
    tap_ok(!rc && added == 1753, "re-adding puts the deleted ones back (%zu)", added);
    ss_store_close(s);
    long n = 0;
    int cons = consistent(db, &n);
    tap_ok(cons && n == 3503, "consistent after deletes and re-adds (%ld documents)", n);

    /* reopen read-only: same answers, writes refused */
    rc = ss_store_open(db, SS_STORE_READONLY, &s);
    tap_ok(!rc, "reopen read-only");
    if (rc) return;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && hit_number(s, h[0].doc) == 1234, "persisted: the re-added document is found again");
    rc = add_range(s, 5000, 5001, 1, NULL);
    tap_ok(rc != SS_OK, "adding to a read-only handle fails: %s", ss_errmsg());
    /* another connection writes: the reader sees it at its next query */
    ss_store *w;
    rc = ss_store_open(db, 0, &w);
    tap_ok(!rc && ss_store_use_model(w, &model_a) == SS_OK && add_range(w, 9000, 9001, 1, NULL) == SS_OK,
           "a second handle writes while the first is open");
    vec_of(9000, q, DIM);
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && hit_number(s, h[0].doc) == 9000, "the reader sees the new document (data_version)");
    ss_store_close(w);
    ss_store_close(s);
}

static int fake_embed(void *ctx, const char *const *texts, const size_t *lens, size_t n, float *out)
{
    int *calls = ctx;
    (*calls)++;
    for (size_t i = 0; i < n; i++) {
        long v = -1;
        sscanf(texts[i], "document number %ld", &v);
        (void)lens;
        vec_of(v + 77, out + i * 4, 4); /* a different "model": dim 4 */
    }
    return SS_OK;
}

static void test_reembed(void)
{
    const char *db = path_of("reembed.db");
    ss_store *s;
    int rc = ss_store_open(db, SS_STORE_CREATE, &s);
    if (rc || ss_store_use_model(s, &model_a) || add_range(s, 0, 2100, 400, NULL)) {
        tap_ok(0, "reembed setup: %s", ss_errmsg());
        ss_store_close(s);
        return;
    }
    if (ss_store_delete(s, "doc-5", NULL)) tap_diag("delete failed");
    ss_store_model m = {"c.gguf", "cccc", "/x/c.gguf", 4};
    int calls = 0;
    rc = ss_store_reembed(s, &m, fake_embed, &calls, 256);
    tap_ok(!rc && calls == 9, "reembed 2099 documents in 9 batches: %s", ss_errmsg());
    ss_store_model got;
    rc = ss_store_get_model(s, &got);
    tap_ok(!rc && !strcmp(got.name, "c.gguf") && got.dim == 4, "the new model is recorded");
    float q[4];
    vec_of(1500 + 77, q, 4);
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    ss_hit h[10];
    int c;
    rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c == 10 && hit_number(s, h[0].doc) == 1500, "queries use the new vectors");
    rc = ss_store_use_model(s, &model_a);
    tap_ok(rc == SS_ERR_MODEL, "the old model is now a mismatch");
    ss_store_close(s);
    long n = 0;
    int cons = consistent(db, &n);
    tap_ok(cons && n == 2099 && sql_int(db, "SELECT count(*) FROM blocks") == 3,
           "consistent and compacted into 3 blocks (%ld documents)", n);
}

static void test_schema_errors(void)
{
    ss_store *s;
    const char *db = path_of("newer.db");
    if (ss_store_open(db, SS_STORE_CREATE, &s) == SS_OK) ss_store_close(s);
    sql_exec(db, "PRAGMA user_version = 7");
    int rc = ss_store_open(db, 0, &s);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "newer"), "newer schema: %s", ss_errmsg());
    const char *other = path_of("other.db");
    sql_exec(other, "CREATE TABLE t(x)");
    rc = ss_store_open(other, SS_STORE_CREATE, &s);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "not a semsearch database"), "foreign SQLite file: %s", ss_errmsg());
    const char *junk = path_of("junk.db");
    FILE *f = fopen(junk, "w");
    fputs("this is not a database at all, just text that is long enough to be read as a header\n", f);
    fclose(f);
    rc = ss_store_open(junk, 0, &s);
    tap_ok(rc == SS_ERR_FORMAT, "a text file: %s", ss_errmsg());
    rc = ss_store_open(dir, SS_STORE_CREATE, &s);
    tap_ok(rc == SS_ERR_IO, "a directory: %s", ss_errmsg());
    const char *empty = path_of("empty.db");
    f = fopen(empty, "w");
    fclose(f);
    rc = ss_store_open(empty, SS_STORE_READONLY, &s);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "empty"), "an empty file read-only: %s", ss_errmsg());
    rc = ss_store_open(empty, 0, &s);
    tap_ok(rc == SS_OK, "an empty file opened for writing becomes a store");
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    float q[DIM] = {1};
    ss_hit h[10];
    int c = 5;
    tap_ok(!rc && ss_store_query(s, q, 1, &o, h, &c) == SS_OK && c == 0, "querying an empty store: no hits");
    ss_store_close(s);
    /* a model declared, a query, then the first add: the declaration holds */
    const char *fresh = path_of("fresh.db");
    rc = ss_store_open(fresh, SS_STORE_CREATE, &s);
    if (!rc) rc = ss_store_use_model(s, &model_a);
    c = 5;
    if (!rc) rc = ss_store_query(s, q, 1, &o, h, &c);
    int c0 = c;
    if (!rc) rc = add_range(s, 0, 3, 3, NULL);
    if (!rc) rc = ss_store_query(s, q, 1, &o, h, &c);
    tap_ok(!rc && c0 == 0 && c == 3, "declare, query (no hits), add, query (3 hits): %s", rc ? ss_errmsg() : "ok");
    ss_store_close(s);
}

static void test_full_disk(void)
{
    const char *db = path_of("full.db");
    ss_store *s;
    int rc = ss_store_open(db, SS_STORE_CREATE, &s);
    if (rc || ss_store_use_model(s, &model_a) || add_range(s, 0, 100, 100, NULL)) {
        tap_ok(0, "full disk setup");
        ss_store_close(s);
        return;
    }
    int64_t pages = 0;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(s->db, "PRAGMA page_count", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages + 3);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    long i = 100;
    for (; i < 20000 && rc == SS_OK; i += 50) rc = add_range(s, i, i + 50, 50, NULL);
    tap_ok(rc == SS_ERR_IO && strstr(ss_errmsg(), "full"), "a full database is SS_ERR_IO: %s", ss_errmsg());
    ss_store_close(s);
    long n = 0;
    int cons = consistent(db, &n);
    tap_ok(cons && n == i - 50, "after SQLITE_FULL: consistent, the %ld committed documents intact", n);
}

/* A child indexes in batches and is killed with SIGKILL at a random point;
 * re-running stores everything exactly once. */
static void test_kill9(void)
{
    const char *db = path_of("kill.db");
    long total = 30000;
    int kills = 0, ok_all = 1;
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            ss_store *s;
            if (ss_store_open(db, SS_STORE_CREATE, &s) || ss_store_use_model(s, &model_a)) _exit(3);
            add_range(s, 0, total, 100, NULL);
            ss_store_close(s);
            _exit(0);
        }
        /* wait until this round has committed something, then kill at once,
         * most likely in the middle of the next transaction */
        long target = 1000 + 5000L * round;
        struct timespec ts = {0, 1000000L};
        for (int t = 0; t < 20000 && sql_int(db, "SELECT count(*) FROM documents") < target; t++)
            nanosleep(&ts, NULL);
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == 0) {
            if (kill(pid, SIGKILL) == 0) kills++;
            waitpid(pid, &status, 0);
        }
        ok_all &= WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
        long n = 0;
        int c = consistent(db, &n);
        ok_all &= c;
        tap_diag("round %d: %ld documents committed when killed, consistent %d", round, n, c);
    }
    tap_ok(ok_all, "after each kill -9: integrity ok, every document has its vector");
    ss_store *s;
    int rc = ss_store_open(db, 0, &s);
    size_t added = 0;
    long before = sql_int(db, "SELECT count(*) FROM documents");
    if (!rc) rc = ss_store_use_model(s, &model_a);
    if (!rc) rc = add_range(s, 0, total, 1000, &added);
    ss_store_close(s);
    long n = 0;
    tap_ok(!rc && kills >= 1 && (long)added == total - before, "re-run after kill -9 adds exactly the %zu missing", added);
    int cons = consistent(db, &n);
    tap_ok(cons && n == total &&
               sql_int(db, "SELECT count(DISTINCT text) FROM documents") == total,
           "no duplicate, no loss: %ld documents", n);
}

/* Every allocation failing in turn: an error or success, never a crash. */
static void test_alloc_failures(void)
{
    const char *db = path_of("alloc.db");
    int crashes = 0, failures = 0, n;
    for (n = 1; n < 200; n++) {
        unlink(db);
        ss__fail_alloc_after(n);
        ss_store *s = NULL;
        int rc = ss_store_open(db, SS_STORE_CREATE, &s);
        if (!rc) rc = ss_store_use_model(s, &model_a);
        if (!rc) rc = add_range(s, 0, 50, 20, NULL);
        float q[DIM];
        vec_of(3, q, DIM);
        ss_store_query_opts o;
        ss_store_query_opts_init(&o);
        ss_hit h[10];
        int c;
        if (!rc) rc = ss_store_query(s, q, 1, &o, h, &c);
        o.precision = SS_PREC_INT8;
        if (!rc) rc = ss_store_query(s, q, 1, &o, h, &c);
        ss_store_close(s);
        ss__fail_alloc_after(0);
        if (rc) failures++;
        if (rc && rc != SS_ERR_NOMEM && rc != SS_ERR_IO && rc != SS_ERR_SQL) crashes++;
        if (!rc) break; /* past the last allocation */
    }
    tap_ok(!crashes && failures > 10, "%d allocation failures each reported as an error", failures);
}

/* External id "2" and document number 2 are apart; numbers are never reused. */
static void test_ids(void)
{
    const char *db = path_of("ids.db");
    ss_store *s;
    float v[3 * DIM];
    for (int i = 0; i < 3; i++) vec_of(i, v + i * DIM, DIM);
    ss_doc docs[3] = {{"first", 5, NULL, NULL, NULL}, {"second", 6, NULL, NULL, NULL}, {"third", 5, "2", NULL, NULL}};
    size_t added = 0, del = 0;
    int rc = ss_store_open(db, SS_STORE_CREATE, &s);
    if (!rc) rc = ss_store_use_model(s, &model_a);
    if (!rc) rc = ss_store_add(s, docs, v, 3, &added);
    tap_ok(!rc && added == 3, "ids: three documents, the third with external id \"2\": %s", ss_errmsg());
    if (rc) {
        ss_store_close(s);
        return;
    }
    rc = ss_store_delete(s, "2", &del);
    tap_ok(!rc && del == 1, "delete external id \"2\": one document (was two: it matched number 2 too)");
    ss_store_doc d;
    rc = ss_store_get(s, 2, &d);
    tap_ok(!rc && !strcmp(d.text, "second"), "document number 2 is still there");
    if (!rc) ss_store_doc_clear(&d);
    rc = ss_store_delete_doc(s, 3, &del);
    tap_ok(!rc && del == 0, "number 3 (deleted as \"2\") deletes nothing now");
    /* delete the last one, add: the new document gets a new number */
    rc = ss_store_delete_doc(s, 2, &del);
    ss_doc nd = {"fourth", 6, NULL, NULL, NULL};
    if (!rc) rc = ss_store_add(s, &nd, v, 1, &added);
    int64_t newest = sql_int(db, "SELECT max(id) FROM documents");
    tap_ok(!rc && newest == 4, "after deleting numbers 2 and 3 the next document is 4, not 2 (%lld)", (long long)newest);
    ss_store_close(s);
    /* a database that lost its highest number before the mark existed gets
     * the mark at its next delete */
    sql_exec(db, "DELETE FROM meta WHERE key = 'next_doc'");
    rc = ss_store_open(db, 0, &s);
    if (!rc) rc = ss_store_use_model(s, &model_a);
    if (!rc) rc = ss_store_delete_doc(s, 4, &del);
    ss_doc nd2 = {"fifth", 5, NULL, NULL, NULL};
    if (!rc) rc = ss_store_add(s, &nd2, v, 1, &added);
    newest = sql_int(db, "SELECT max(id) FROM documents");
    tap_ok(!rc && newest == 5, "deleting the highest number then adding: 5, not 4 (%lld)", (long long)newest);
    ss_store_close(s);
}

/* Documents split into passages: a document found by its best passage,
 * once; the passage's bytes; argument checks; delete, re-embed and the
 * counts (ss_store_add_passages, ss_store_get_passage, ss_hit.passage). */
static int embed_rows(void *ctx, const char *const *texts, const size_t *lens, size_t n, float *out)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) { /* a vector from the text: its passage's letters */
        unsigned long key = 0;
        for (size_t j = 0; j < lens[i]; j++) key = key * 31 + (unsigned char)texts[i][j];
        vec_of((long)(key % 100000), out + i * DIM, DIM);
    }
    return SS_OK;
}

static void test_passages(void)
{
    const char *db = path_of("passages.db");
    ss_store *s;
    static const char long_text[] = "alpha beta gamma delta epsilon";
    ss_doc docs[2] = {{long_text, sizeof long_text - 1, "L", "src", NULL}, {"short one", 9, NULL, "src", NULL}};
    /* document 1: three passages (bytes 0-10, 6-16, 17-30); document 2: one */
    ss_passage ps[4] = {{0, 0, 10}, {0, 6, 10}, {0, 17, 13}, {1, 0, 9}};
    float v[4 * DIM];
    const char *pt[4] = {long_text, long_text + 6, long_text + 17, "short one"};
    size_t pl[4] = {10, 10, 13, 9}, added = 0;
    embed_rows(NULL, pt, pl, 4, v);
    int rc = ss_store_open(db, SS_STORE_CREATE, &s);
    if (!rc) rc = ss_store_use_model(s, &model_a);
    if (rc) {
        tap_ok(0, "passages: open: %s", ss_errmsg());
        return;
    }
    ss_passage bad[3] = {{0, 0, 10}, {1, 0, 9}, {0, 6, 10}};
    tap_ok(ss_store_add_passages(s, docs, 2, bad, v, 3, &added) == SS_ERR_ARG, "passages out of document order: SS_ERR_ARG");
    ss_passage outside[2] = {{0, 25, 10}, {1, 0, 9}};
    tap_ok(ss_store_add_passages(s, docs, 2, outside, v, 2, &added) == SS_ERR_ARG, "a passage beyond its text: SS_ERR_ARG");
    tap_ok(ss_store_add_passages(s, docs, 2, ps, v, 3, &added) == SS_ERR_ARG, "a document without a passage: SS_ERR_ARG");
    tap_ok(sql_int(db, "PRAGMA user_version") == 1, "nothing added: still schema version 1");
    rc = ss_store_add_passages(s, docs, 2, ps, v, 4, &added);
    tap_ok(!rc && added == 2 && sql_int(db, "PRAGMA user_version") == 2 &&
               sql_int(db, "SELECT count(*) FROM passages") == 3,
           "two documents, four vectors: schema version 2, three passage rows (%s)", rc ? ss_errmsg() : "ok");
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = 5;
    ss_hit h[5];
    int n = 0;
    for (int p = 0; p < 3; p++) { /* each passage's own vector finds it */
        rc = ss_store_query(s, v + p * DIM, 1, &o, h, &n);
        size_t st = 99, ln = 99;
        int r2 = rc ? rc : ss_store_get_passage(s, h[0].doc, h[0].passage, &st, &ln);
        tap_ok(!rc && !r2 && n == 2 && h[0].doc == 1 && h[0].passage == p && h[1].doc == 2 && st == ps[p].start &&
                   ln == ps[p].len && fabsf(h[0].score - 1) < 1e-5,
               "the vector of passage %d: document 1 first, once, by that passage (bytes %zu+%zu)", p, st, ln);
    }
    o.precision = SS_PREC_INT8;
    rc = ss_store_query(s, v + 2 * DIM, 1, &o, h, &n);
    tap_ok(!rc && n == 2 && h[0].doc == 1 && h[0].passage == 2, "int8: the same");
    o.precision = SS_PREC_F32;
    o.source = "src";
    o.once = 1;
    rc = ss_store_query(s, v + 1 * DIM, 1, &o, h, &n);
    tap_ok(!rc && n == 2 && h[0].doc == 1 && h[0].passage == 1, "streamed, with a source: the same");
    o.source = NULL;
    size_t st = 0, ln = 0;
    tap_ok(ss_store_get_passage(s, 2, 0, &st, &ln) == SS_OK && st == 0 && ln == 9, "a document stored whole: passage 0 is its text");
    tap_ok(ss_store_get_passage(s, 2, 1, &st, &ln) == SS_ERR_RANGE, "... and it has no passage 1");
    tap_ok(ss_store_get_passage(s, 1, 3, &st, &ln) == SS_ERR_RANGE,
           "document 1 has no passage 3");
    ss_store_stats sts;
    rc = ss_store_stats_get(s, &sts);
    tap_ok(!rc && sts.documents == 2 && sts.passages == 2 && sts.free_slots == sts.block_size - 4 &&
               sts.schema_version == 2,
           "stats: 2 documents, 2 further passages, block_size - 4 free slots");
    rc = ss_store_reembed(s, &model_b, embed_rows, NULL, 2);
    rc = rc ? rc : ss_store_query(s, v + 2 * DIM, 1, &o, h, &n);
    tap_ok(!rc && n == 2 && h[0].doc == 1 && h[0].passage == 2 && fabsf(h[0].score - 1) < 1e-5,
           "re-embedded: every passage again, from its bytes (%s)", rc ? ss_errmsg() : "ok");
    size_t del = 0;
    rc = ss_store_delete(s, "L", &del);
    tap_ok(!rc && del == 1 && sql_int(db, "SELECT count(*) FROM passages") == 0, "delete: the document and its passages");
    rc = ss_store_stats_get(s, &sts);
    tap_ok(!rc && sts.documents == 1 && sts.passages == 0 && sts.free_slots == sts.block_size - 1,
           "... their slots freed (block_size - 1 free)");
    rc = ss_store_query(s, v, 1, &o, h, &n);
    tap_ok(!rc && n == 1 && h[0].doc == 2, "... and never a hit");
    ss_store_close(s);
}

/* The fusions of hybrid search on lists worked out by hand. */
static void test_fusion(void)
{
    /* vectors: docs 1, 2, 3 with cosines 0.9, 0.7, 0.5; BM25: docs 3, 4 with 8 and 2 */
    ss__hit vec[3] = {{0.9f, 1, 0}, {0.7f, 2, 1}, {0.5f, 3, 2}};
    int64_t lex[2] = {3, 4};
    double lexs[2] = {8, 2};
    ss_hit out[5];
    int n = 0;
    ss__fusion cv = {SS_FUSION_CONVEX, 0, 0.5f};
    int rc = ss__hybrid_fuse(vec, 3, lex, lexs, 2, &cv, 5, -INFINITY, out, &n);
    /* scaled: v = 1, 0.5, 0 and l = 1, 0; fused: d1 0.5, d2 0.25, d3 0 + 0.5, d4 0 */
    tap_ok(rc == 0 && n == 4 && out[0].doc == 1 && out[1].doc == 3 && out[2].doc == 2 && out[3].doc == 4 &&
               fabsf(out[0].score - 0.5f) < 1e-6 && fabsf(out[1].score - 0.5f) < 1e-6 &&
               fabsf(out[2].score - 0.25f) < 1e-6 && out[3].score == 0,
           "convex fusion: min-max scaled sides, alpha 0.5, ties by document number");
    cv.alpha = 0.8f;
    rc = ss__hybrid_fuse(vec, 3, lex, lexs, 2, &cv, 2, -INFINITY, out, &n);
    tap_ok(rc == 0 && n == 2 && out[0].doc == 1 && fabsf(out[0].score - 0.8f) < 1e-6 && out[1].doc == 2 &&
               fabsf(out[1].score - 0.4f) < 1e-6,
           "convex fusion: alpha 0.8 weighs the vectors, k = 2 cuts");
    rc = ss__hybrid_fuse(vec, 3, lex, lexs, 2, &cv, 5, 0.3f, out, &n);
    tap_ok(rc == 0 && n == 2, "convex fusion: --min-score applies to the fused score (%d)", n);
    rc = ss__hybrid_fuse(vec, 1, lex, lexs, 0, &cv, 5, -INFINITY, out, &n);
    tap_ok(rc == 0 && n == 1 && fabsf(out[0].score - 0.8f) < 1e-6, "convex fusion: one candidate scales to 1");
    tap_ok(ss__hybrid_fuse(vec, 3, lex, NULL, 2, &cv, 5, -INFINITY, out, &n) == SS_ERR_ARG,
           "convex fusion needs the BM25 scores");
    cv.alpha = 1.5f;
    tap_ok(ss__hybrid_fuse(vec, 3, lex, lexs, 2, &cv, 5, -INFINITY, out, &n) == SS_ERR_RANGE,
           "convex fusion: alpha outside [0, 1] is refused");
    ss__fusion rrf = {SS_FUSION_RRF, 60, 0};
    rc = ss__hybrid_fuse(vec, 3, lex, NULL, 2, &rrf, 5, -INFINITY, out, &n);
    tap_ok(rc == 0 && n == 4 && out[0].doc == 3 && fabsf(out[0].score - (float)(1.0 / 63 + 1.0 / 61)) < 1e-7 &&
               out[1].doc == 1,
           "RRF: 1/(60 + rank) summed over both lists");
}

/* ss_indexer, the index pipeline, with a tiny model: options, dedup and
 * blanks, passages and cut texts, files of TSV and JSONL, errors by line. */
static long long idx_batches, idx_cuts;
static void idx_on_batch(void *ctx, const ss_index_stats *st)
{
    (void)ctx;
    (void)st;
    idx_batches++;
}
static void idx_on_cut(void *ctx, const char *file, long long line, long tokens, int window)
{
    (void)ctx;
    (void)file;
    (void)line;
    if (tokens > window) idx_cuts++;
}

static void test_indexer(void)
{
    ss_tokenizer *tok = NULL;
    ss_model *m = NULL;
    ss_config c;
    int rc = ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok);
    if (!rc) {
        tiny_config(&c, tok);
        rc = ss_model_init(&c, tok, 1, &m);
    }
    ss_tokenizer_free(tok);
    /* saved and loaded: a loaded model has its fingerprint */
    if (!rc) rc = ss_model_save(m, path_of("tiny.gguf"), SS_DTYPE_F32);
    ss_model_free(m);
    m = NULL;
    if (!rc) rc = ss_model_load(path_of("tiny.gguf"), &m);
    if (!tap_ok(!rc, "indexer: a tiny model (%s)", rc ? ss_errmsg() : "ok")) {
        ss_model_free(m);
        return;
    }
    int window = ss_model_window(m);
    tap_ok(window == 14, "indexer: the model's window is its positions less [CLS] and [SEP] (%d)", window);
    const char *db = path_of("indexer.db");
    ss_store *s = NULL;
    ss_store_model sm = {"tiny", ss_model_fingerprint(m), "/x/tiny.gguf", ss_model_dim(m)};
    rc = ss_store_open(db, SS_STORE_CREATE, &s);
    if (!rc) rc = ss_store_use_model(s, &sm);
    if (!tap_ok(!rc, "indexer: a database (%s)", rc ? ss_errmsg() : "ok")) {
        ss_model_free(m);
        return;
    }
    ss_index_options o;
    ss_index_options_init(&o);
    tap_ok(o.batch == 256 && o.split == 1 && o.passage_tokens == 0 && o.passage_overlap == -1 &&
               o.format == SS_INDEX_LINES,
           "indexer: defaults (batch 256, passages of the window, overlap -1)");
    ss_indexer *x = (ss_indexer *)1;
    o.passage_tokens = window + 1;
    tap_ok(ss_indexer_open(s, m, &o, &x) == SS_ERR_ARG && x == NULL, "indexer: passages beyond the window: SS_ERR_ARG");
    o.passage_tokens = 4;
    o.passage_overlap = 4;
    tap_ok(ss_indexer_open(s, m, &o, &x) == SS_ERR_ARG, "indexer: an overlap not below the passage: SS_ERR_ARG");
    tap_ok(ss_indexer_open(NULL, m, NULL, &x) == SS_ERR_ARG, "indexer: NULL store: SS_ERR_ARG");
    ss_indexer_free(NULL);

    ss_index_options_init(&o);
    o.batch = 2;
    o.passage_tokens = 6;
    o.passage_overlap = 2;
    o.on_batch = idx_on_batch;
    rc = ss_indexer_open(s, m, &o, &x);
    static const char long_text[] =
        "the quick brown fox jumps over the lazy dog while seven small birds sing in the old oak tree";
    const char *texts[6] = {"a dog", "a cat", "a dog", "  \t ", long_text, "the sea"};
    for (int i = 0; !rc && i < 6; i++) rc = ss_indexer_add(x, texts[i], strlen(texts[i]), NULL, 0, NULL, "mem");
    if (!rc) rc = ss_indexer_add(x, "nul\0byte", 8, "id\0", 3, "{\"k\":1}", "mem");
    if (!rc) rc = ss_indexer_flush(x);
    ss_index_stats st;
    ss_indexer_stats(x, &st);
    tap_ok(!rc && st.lines == 7 && st.added == 5 && st.dups == 1 && st.empty == 1 && st.split_docs == 1 &&
               st.passages >= 3 && st.passage_tokens == 6 && st.window == window && idx_batches >= 3,
           "indexer: 7 texts: 5 added, 1 repeated, 1 blank; the long one split into %lld passages (%s)", st.passages,
           rc ? ss_errmsg() : "ok");
    tap_ok(sql_int(db, "SELECT count(*) FROM documents WHERE text = 'nulbyte' AND ext_id = 'id'") == 1,
           "indexer: NUL bytes dropped from the text and the id");
    tap_ok(sql_int(db, "SELECT count(*) FROM passages") == st.passages, "indexer: the passages stored, one row each");
    ss_indexer_free(x);
    x = NULL;

    /* cut instead of split */
    ss_index_options_init(&o);
    o.split = 0;
    o.on_cut = idx_on_cut;
    rc = ss_indexer_open(s, m, &o, &x);
    if (!rc) rc = ss_indexer_add(x, long_text, strlen(long_text) - 4, NULL, 0, NULL, NULL);
    if (!rc) rc = ss_indexer_flush(x);
    ss_indexer_stats(x, &st);
    tap_ok(!rc && st.cut == 1 && idx_cuts == 1 && st.split_docs == 0, "indexer: split 0: the long text cut, on_cut told");
    ss_indexer_free(x);
    x = NULL;

    /* files: TSV with ids, JSONL with an error on line 2 */
    const char *tsv = path_of("in.tsv"), *jsonl = path_of("in.jsonl");
    FILE *f = fopen(tsv, "w");
    if (f) {
        fputs("t1\tfirst tsv text\nt2\tsecond tsv text\n\nt3\tfirst tsv text\n", f);
        fclose(f);
    }
    ss_index_options_init(&o);
    o.format = SS_INDEX_TSV;
    o.text_column = 2;
    o.id_column = 1;
    rc = ss_indexer_open(s, m, &o, &x);
    if (!rc) rc = ss_indexer_add_file(x, tsv, "in.tsv");
    ss_indexer_stats(x, &st);
    tap_ok(!rc && st.lines == 4 && st.added == 2 && st.dups == 1 && st.empty == 1 && st.bytes_total > 0 &&
               st.bytes_done == st.bytes_total &&
               sql_int(db, "SELECT count(*) FROM documents WHERE ext_id IN ('t1', 't2')") == 2,
           "indexer: a TSV file: 2 added with their ids, 1 repeated, 1 blank (%s)", rc ? ss_errmsg() : "ok");
    ss_indexer_free(x);
    x = NULL;
    f = fopen(jsonl, "w");
    if (f) {
        fputs("{\"text\": \"json one\", \"id\": \"j1\", \"lang\": \"en\"}\n{\"text\": 5\n", f);
        fclose(f);
    }
    ss_index_options_init(&o);
    o.format = SS_INDEX_JSONL;
    o.text_field = "text";
    o.id_field = "id";
    rc = ss_indexer_open(s, m, &o, &x);
    int frc = rc ? rc : ss_indexer_add_file(x, jsonl, NULL);
    ss_indexer_stats(x, &st);
    tap_ok(frc == SS_ERR_FORMAT && strstr(ss_errmsg(), "in.jsonl:2:") && st.added == 0,
           "indexer: a bad JSONL line: SS_ERR_FORMAT naming FILE:2, its batch not committed (%s)", ss_errmsg());
    ss_indexer_free(x);
    x = NULL;
    o.text_field = "te\"xt";
    tap_ok(ss_indexer_open(s, m, &o, &x) == SS_ERR_ARG && !x, "indexer: a field name with a quote: SS_ERR_ARG");
    ss_store_close(s);
    ss_model_free(m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/ss-store-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    ss_set_threads(2);
    test_fusion();
    test_basic();
    test_ids();
    test_passages();
    test_indexer();
    test_reembed();
    test_schema_errors();
    test_full_disk();
    test_kill9();
    test_alloc_failures();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) tap_diag("could not remove %s", dir);
    return tap_done();
}
