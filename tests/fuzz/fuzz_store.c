/* fuzz_store.c: a store opening a damaged database. At the first call, two
 * small valid databases are built with the library: one as `semsearch index`
 * makes it (64 KiB pages, blocks of 1024 vectors), one compact (1 KiB pages,
 * blocks of 4 vectors, so that most bytes are b-tree structure). Each input
 * damages a copy of one of them, or is the whole file when it starts with the
 * SQLite header; the damaged file is then opened, and info, queries (f32,
 * int8, streamed, by source, hybrid), reading documents back, adding,
 * deleting and re-embedding are run on it.
 *
 * Input: byte 0 picks the base database and the operations; then records of
 * 5 bytes: a 24-bit offset (modulo the file size), an operation (xor, set,
 * add, truncate) and a value.
 *
 * Invariants: every call returns SS_OK or a status with a message, never
 * crashes, never leaks; hit counts stay within k. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "fuzz.h"

#define DIM 8
#define NDOCS 12

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_store: %s: %s\n", what, ss_errmsg());
    abort();
}

static char dir[64];
static unsigned char *base[2];
static size_t base_len[2];

static const ss_store_model model = {"fuzz.gguf", "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0",
                                     "/nonexistent/fuzz.gguf", DIM};

static char *path_in(const char *name)
{
    static char buf[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void remove_db(const char *name)
{
    char p[160];
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s%s", dir, name, sfx[i]);
        unlink(p);
    }
}

static void cleanup(void)
{
    remove_db("work.db");
    remove_db("base.db");
    free(base[0]);
    free(base[1]);
    if (dir[0]) rmdir(dir);
}

/* A deterministic, never-zero vector of dimension d for document i. */
static void vec_dim(unsigned i, float *x, int d)
{
    uint64_t r = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
    for (int j = 0; j < d; j++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        x[j] = (float)((int)(r % 2001) - 1000) / 1000.0f;
    }
    x[0] += 0.01f;
}

static void vec_of(unsigned i, float *x) { vec_dim(i, x, DIM); }

/* The dimension the store expects of query and added vectors: the one it
 * records (a damaged file may record another than the model's, and then
 * ss_store_use_model fails; a correct caller sizes its vectors by it). */
static int store_dim(ss_store *s)
{
    ss_store_model m;
    if (ss_store_get_model(s, &m) != SS_OK) fail("ss_store_get_model");
    return m.dim > 0 ? m.dim : DIM;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz_store: %s: %s\n", sql, sqlite3_errmsg(db));
        abort();
    }
    sqlite3_close(db);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail("reading the base database");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) fail("reading the base database");
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Builds base database `which` with the library and keeps its bytes. */
static void build(int which)
{
    const char *p = path_in("base.db");
    remove_db("base.db");
    ss_store *s;
    if (ss_store_open(p, SS_STORE_CREATE, &s) != SS_OK) fail("creating the base database");
    if (which == 1) { /* compact: blocks of 4 vectors (read from meta at use_model) */
        raw_exec(p, "UPDATE meta SET value = 4 WHERE key = 'block_size'");
    }
    if (ss_store_use_model(s, &model) != SS_OK) fail("use_model on the base database");
    ss_doc docs[NDOCS];
    char texts[NDOCS][48], ids[NDOCS][16], metas[NDOCS][32];
    float v[NDOCS * DIM];
    static const char *const words[] = {"a dog runs", "a red bus", "two cats sleep", "a man plays guitar"};
    for (unsigned i = 0; i < NDOCS; i++) {
        snprintf(texts[i], sizeof texts[i], "%s number %u", words[i % 4], i);
        snprintf(ids[i], sizeof ids[i], "doc-%u", i);
        snprintf(metas[i], sizeof metas[i], "{\"n\":%u}", i);
        docs[i] = (ss_doc){texts[i], strlen(texts[i]), i % 3 ? ids[i] : NULL, i % 2 ? "odd" : "even",
                           i % 4 == 1 ? metas[i] : NULL};
        vec_of(i, v + i * DIM);
    }
    size_t added = 0;
    if (ss_store_add(s, docs, v, NDOCS / 2, &added) != SS_OK || added != NDOCS / 2) fail("adding documents");
    if (ss_store_add(s, docs + NDOCS / 2, v + NDOCS / 2 * DIM, NDOCS - NDOCS / 2, &added) != SS_OK)
        fail("adding documents");
    size_t del;
    if (ss_store_delete(s, "doc-4", &del) != SS_OK || del != 1) fail("deleting a document"); /* a free slot */
    ss_store_close(s);
    if (which == 1)
        raw_exec(p, "PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM; PRAGMA journal_mode=WAL;");
    base[which] = slurp(p, &base_len[which]);
    remove_db("base.db");
}

static void init_once(void)
{
    if (dir[0]) return;
    /* a memory file system when there is one: SQLite syncs at every checkpoint */
    snprintf(dir, sizeof dir, "%s/ss-fuzz-store-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz_store: mkdtemp");
        abort();
    }
    atexit(cleanup);
    ss_set_threads(1);
    build(0);
    build(1);
    if (getenv("SS_FUZZ_STORE_DUMP")) { /* for seeding the corpus by hand */
        for (int i = 0; i < 2; i++) {
            char p[256];
            snprintf(p, sizeof p, "%s.%d", getenv("SS_FUZZ_STORE_DUMP"), i);
            FILE *f = fopen(p, "wb");
            if (f) {
                fwrite(base[i], 1, base_len[i], f);
                fclose(f);
            }
        }
    }
}

/* A status: SS_OK, or a code with a message. */
static void check(int rc, const char *what)
{
    if (rc == SS_OK) return;
    if (rc < 0 || rc > SS_ERR_INTERRUPTED) fail(what);
    if (!*ss_errmsg()) {
        fprintf(stderr, "fuzz_store: %s failed (%d) without a message\n", what, rc);
        abort();
    }
}

static int embed_fn(void *ctx, const char *const *texts, const size_t *lens, size_t n, float *out)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        unsigned h = 7;
        for (size_t j = 0; j < lens[i]; j++) h = h * 31 + (unsigned char)texts[i][j];
        vec_of(h, out + i * DIM);
    }
    return SS_OK;
}

/* Queries and reads back each hit. */
static void query(ss_store *s, int prec, int k, const char *source, int once, int hybrid, int rerank)
{
    enum { NQ = 2 };
    int d = store_dim(s);
    float *q = malloc(NQ * (size_t)d * sizeof *q);
    vec_dim(3, q, d);
    vec_dim(100, q + d, d);
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = k;
    o.precision = prec;
    o.source = source;
    o.once = once;
    o.rerank = rerank;
    o.threads = 1;
    const char *texts[NQ] = {"a dog runs", "bus \"number\" OR 3*"};
    if (hybrid) {
        o.hybrid = 1;
        o.texts = texts;
    }
    ss_hit *hits = malloc(NQ * (size_t)k * sizeof *hits);
    int counts[NQ] = {-1, -1};
    int rc = ss_store_query(s, q, NQ, &o, hits, counts);
    check(rc, "ss_store_query");
    for (int j = 0; j < NQ; j++) {
        if (counts[j] < 0 || counts[j] > k) fail("a hit count out of [0, k]");
        for (int i = 0; i < counts[j]; i++) {
            ss_store_doc doc;
            int r = ss_store_get(s, hits[j * k + i].doc, &doc);
            check(r, "ss_store_get");
            if (r == SS_OK) {
                if (!doc.text) fail("a document without text");
                volatile size_t n = strlen(doc.text) + (doc.id ? strlen(doc.id) : 0) +
                                    (doc.source ? strlen(doc.source) : 0) + (doc.meta ? strlen(doc.meta) : 0);
                (void)n;
                ss_store_doc_clear(&doc);
            }
        }
    }
    free(hits);
    free(q);
}

static void exercise(const char *p, int opt)
{
    ss_store *s;
    int ro = (opt & 0x02) != 0;
    int rc = ss_store_open(p, ro ? SS_STORE_READONLY : 0, &s);
    check(rc, "ss_store_open");
    if (rc) return;
    ss_store_model m;
    check(ss_store_get_model(s, &m), "ss_store_get_model");
    if (!m.name || !m.fingerprint || !m.path) fail("model strings are NULL");
    ss_store_stats st;
    check(ss_store_stats_get(s, &st), "ss_store_stats_get");
    check(ss_store_use_model(s, &model), "ss_store_use_model");
    int k = 1 + (opt >> 4) % 8;
    /* the first query of a handle can stream (once) */
    query(s, SS_PREC_F32, k, (opt & 0x04) ? "odd" : NULL, (opt & 0x08) != 0, 0, 0);
    query(s, SS_PREC_INT8, k, NULL, 0, 0, (opt & 0x08) ? 3 : 0);
    query(s, SS_PREC_F32, k, "even", 0, 0, 0);
    if (st.has_fts) query(s, (opt >> 3) & 1, k, (opt & 0x04) ? "odd" : NULL, 0, 1, 0);
    check(ss_store_load(s, 3), "ss_store_load");
    if (!ro) {
        ss_doc docs[3] = {{"a new document", 14, "new-1", "fuzz", "{\"x\":[1,2]}"},
                          {"a dog runs number 0", 19, NULL, "even", NULL},
                          {"another one", 11, "doc-1", NULL, NULL}};
        int d = store_dim(s);
        float *v = malloc(3 * (size_t)d * sizeof *v);
        for (int i = 0; i < 3; i++) vec_dim(50u + (unsigned)i, v + i * d, d);
        unsigned char is_new[3];
        check(ss_store_filter_new(s, docs, 3, is_new), "ss_store_filter_new");
        size_t added = 0, del = 0;
        check(ss_store_add(s, docs, v, 3, &added), "ss_store_add");
        free(v);
        if (added > 3) fail("added more than given");
        check(ss_store_delete(s, "doc-2", &del), "ss_store_delete");
        check(ss_store_delete(s, "6", &del), "ss_store_delete");
        check(ss_store_delete_doc(s, 6, &del), "ss_store_delete_doc");
        if (opt & 0x80) check(ss_store_delete_source(s, "odd", &del), "ss_store_delete_source");
        if (opt & 0x40) {
            ss_store_model m2 = {"other.gguf", "0123456789abcdef", "", DIM};
            check(ss_store_reembed(s, &m2, embed_fn, NULL, 5), "ss_store_reembed");
        }
        /* after writes: vectors re-read */
        query(s, SS_PREC_F32, k, NULL, 0, 0, 0);
        query(s, SS_PREC_INT8, k, "odd", 0, 0, 0);
        check(ss_store_stats_get(s, &st), "ss_store_stats_get");
    }
    ss_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    static const char magic[16] = "SQLite format 3";
    const char *p = path_in("work.db");
    remove_db("work.db");
    int opt;
    FILE *f = fopen(p, "wb");
    if (!f) fail("cannot write the damaged copy");
    if (size >= 16 && !memcmp(data, magic, 16)) {
        opt = (int)(size & 0xff); /* the whole file is the input */
        fwrite(data, 1, size, f);
    } else {
        if (size < 1) {
            fclose(f);
            return 0;
        }
        opt = data[0];
        int which = opt & 1;
        size_t len = base_len[which];
        unsigned char *b = malloc(len);
        memcpy(b, base[which], len);
        for (size_t i = 1; i + 5 <= size && len > 0; i += 5) {
            size_t off = ((size_t)data[i] << 16 | (size_t)data[i + 1] << 8 | data[i + 2]) % len;
            unsigned char op = data[i + 3], v = data[i + 4];
            switch (op & 3) {
            case 0: b[off] ^= v ? v : 0xff; break;
            case 1: b[off] = v; break;
            case 2: b[off] = (unsigned char)(b[off] + v); break;
            case 3:
                if (op & 4) len = off; /* truncated */
                else b[off] ^= (unsigned char)(1u << (v & 7));
                break;
            }
        }
        fwrite(b, 1, len, f);
        free(b);
    }
    if (fclose(f) != 0) fail("cannot write the damaged copy");
    exercise(p, opt);
    remove_db("work.db");
    return 0;
}
