/* store_bench.c: insert rate, load time and search speed of the store, on
 * random unit vectors (bench/store.sh runs it beside FAISS and sqlite-vec).
 *
 *   store_bench build DB N DIM [MODEL]   add N random unit vectors (seed 1) in
 *                                        batches of 4096; write DB.f32 (N,DIM)
 *                                        and DB.queries.f32 (1000,DIM) for the
 *                                        peers; MODEL: record this model file's
 *                                        fingerprint so `semsearch query` works
 *   store_bench first DB                 a fresh process's first query, vectors
 *                                        read block by block and not kept
 *   store_bench query DB [NQ]            fresh-process first query, then single
 *                                        and batched queries, f32 and int8, and
 *                                        int8 recall@10 against exact f32
 * Output: "key<TAB>value" lines. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "semsearch.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static double unif(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static void random_unit(float *x, int d)
{
    double ss = 0;
    for (int j = 0; j < d; j += 2) {
        double u = unif(), v = unif(), r = sqrt(-2 * log(u));
        x[j] = (float)(r * cos(2 * M_PI * v));
        if (j + 1 < d) x[j + 1] = (float)(r * sin(2 * M_PI * v));
    }
    for (int j = 0; j < d; j++) ss += (double)x[j] * x[j];
    for (int j = 0; j < d; j++) x[j] = (float)(x[j] / sqrt(ss));
}

static int die(const char *what)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, ss_errmsg());
    return 1;
}

static int write_queries(const char *db, int dim, int nq)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.queries.f32", db);
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    float *q = malloc((size_t)dim * sizeof *q);
    rng_state = 0x5eed5eed5eedULL;
    for (int i = 0; i < nq; i++) {
        random_unit(q, dim);
        fwrite(q, sizeof *q, (size_t)dim, f);
    }
    free(q);
    return fclose(f) != 0;
}

static int build(const char *db, long n, int dim, const char *model_path)
{
    ss_store *s;
    if (ss_store_open(db, SS_STORE_CREATE, &s)) return die(db);
    ss_store_model m = {"random", "random-unit-vectors", "", dim};
    ss_model *model = NULL;
    if (model_path) {
        if (ss_model_load(model_path, &model)) return die(model_path);
        if (ss_model_dim(model) != dim) {
            fprintf(stderr, "store_bench: the model's dim is %d, not %d\n", ss_model_dim(model), dim);
            return 1;
        }
        const char *slash = strrchr(model_path, '/');
        m.name = slash ? slash + 1 : model_path;
        m.fingerprint = ss_model_fingerprint(model);
        m.path = model_path;
    }
    if (ss_store_use_model(s, &m)) return die("model");
    char path[4096];
    snprintf(path, sizeof path, "%s.f32", db);
    FILE *raw = fopen(path, "wb");
    if (!raw) return die(path);
    size_t batch = 4096;
    float *v = malloc(batch * (size_t)dim * sizeof *v);
    ss_doc *docs = calloc(batch, sizeof *docs);
    char (*texts)[32] = calloc(batch, 32);
    rng_state = 0x123456789ULL;
    double t0 = now(), t_add = 0;
    for (long i0 = 0; i0 < n; i0 += (long)batch) {
        size_t nb = (size_t)(n - i0 < (long)batch ? n - i0 : (long)batch);
        for (size_t i = 0; i < nb; i++) {
            random_unit(v + i * dim, dim);
            int len = snprintf(texts[i], 32, "vector %ld", i0 + (long)i);
            docs[i] = (ss_doc){texts[i], (size_t)len, NULL, NULL, NULL};
        }
        fwrite(v, sizeof *v, nb * (size_t)dim, raw);
        size_t added;
        double a = now();
        if (ss_store_add(s, docs, v, nb, &added) || added != nb) return die("add");
        t_add += now() - a;
    }
    double t = t_add;
    (void)t0;
    fclose(raw);
    printf("vectors\t%ld\ndim\t%d\ninsert_s\t%.2f\ninsert_per_s\t%.0f\n", n, dim, t, n / t);
    ss_store_close(s);
    ss_model_free(model);
    free(v);
    free(docs);
    free(texts);
    return write_queries(db, dim, 1000);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static int query(const char *db, int nq)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.queries.f32", db);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    double t0 = now();
    ss_store *s;
    if (ss_store_open(db, SS_STORE_READONLY, &s)) return die(db);
    ss_store_model m;
    if (ss_store_get_model(s, &m)) return die("model");
    int dim = m.dim, k = 10;
    float *q = malloc((size_t)nq * dim * sizeof *q);
    if (fread(q, sizeof *q, (size_t)nq * dim, f) != (size_t)nq * dim) {
        fprintf(stderr, "store_bench: short %s\n", path);
        return 1;
    }
    fclose(f);
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = k;
    ss_hit *h = malloc((size_t)nq * k * sizeof *h), *h8 = malloc((size_t)nq * k * sizeof *h8);
    int *c = malloc((size_t)nq * sizeof *c), *c8 = malloc((size_t)nq * sizeof *c8);
    /* the first query of a fresh process: open + read every vector + search */
    if (ss_store_query(s, q, 1, &o, h, c)) return die("query");
    printf("threads\t%d\nfirst_query_f32_ms\t%.1f\n", ss_get_threads(), (now() - t0) * 1e3);
    double *t = malloc((size_t)nq * sizeof *t);
    for (int i = 0; i < nq; i++) {
        double a = now();
        if (ss_store_query(s, q + (size_t)i * dim, 1, &o, h + (size_t)i * k, c + i)) return die("query");
        t[i] = (now() - a) * 1e3;
    }
    double f32_ms = median(t, nq);
    printf("f32_single_ms_median\t%.2f\n", f32_ms);
    double a = now();
    if (ss_store_query(s, q, (size_t)nq, &o, h, c)) return die("batch query");
    double f32_batch = (now() - a) * 1e3 / nq;
    printf("f32_batch%d_ms_per_query\t%.3f\n", nq, f32_batch);
    o.precision = SS_PREC_INT8;
    a = now();
    if (ss_store_load(s, 1 << SS_PREC_INT8)) return die("load int8");
    printf("load_int8_ms\t%.1f\n", (now() - a) * 1e3);
    for (int i = 0; i < nq; i++) {
        double b = now();
        if (ss_store_query(s, q + (size_t)i * dim, 1, &o, h8 + (size_t)i * k, c8 + i)) return die("query int8");
        t[i] = (now() - b) * 1e3;
    }
    double i8_ms = median(t, nq);
    printf("int8_single_ms_median\t%.2f\n", i8_ms);
    a = now();
    if (ss_store_query(s, q, (size_t)nq, &o, h8, c8)) return die("batch query int8");
    printf("int8_batch%d_ms_per_query\t%.3f\n", nq, (now() - a) * 1e3 / nq);
    long found = 0;
    for (int i = 0; i < nq; i++)
        for (int x = 0; x < c[i]; x++)
            for (int y = 0; y < c8[i]; y++) found += h[(size_t)i * k + x].doc == h8[(size_t)i * k + y].doc;
    printf("int8_recall_at_10\t%.4f\nint8_speedup_single\t%.2f\n", (double)found / ((double)nq * k), f32_ms / i8_ms);
    /* ids of the f32 top 10, for checking the peers' answers */
    snprintf(path, sizeof path, "%s.top10.txt", db);
    FILE *o10 = fopen(path, "w");
    for (int i = 0; o10 && i < nq; i++) {
        for (int x = 0; x < c[i]; x++) fprintf(o10, "%s%lld", x ? " " : "", (long long)h[(size_t)i * k + x].doc - 1);
        fputc('\n', o10);
    }
    if (o10) fclose(o10);
    ss_store_close(s);
    free(q);
    free(h);
    free(h8);
    free(c);
    free(c8);
    free(t);
    return 0;
}

/* A fresh process's first query read block by block (ss_store_query_opts.once),
 * as `semsearch query TEXT` does. */
static int first(const char *db)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.queries.f32", db);
    double t0 = now();
    ss_store *s;
    if (ss_store_open(db, SS_STORE_READONLY, &s)) return die(db);
    ss_store_model m;
    if (ss_store_get_model(s, &m)) return die("model");
    float *q = malloc((size_t)m.dim * sizeof *q);
    FILE *f = fopen(path, "rb");
    if (!f || fread(q, sizeof *q, (size_t)m.dim, f) != (size_t)m.dim) return die(path);
    fclose(f);
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.once = 1;
    ss_hit h[10];
    int c;
    if (ss_store_query(s, q, 1, &o, h, &c)) return die("query");
    printf("first_query_once_ms\t%.1f\n", (now() - t0) * 1e3);
    ss_store_close(s);
    free(q);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "first")) return first(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "build")) return build(argv[2], atol(argv[3]), atoi(argv[4]), argc > 5 ? argv[5] : NULL);
    if (argc >= 3 && !strcmp(argv[1], "query")) return query(argv[2], argc > 3 ? atoi(argv[3]) : 100);
    fprintf(stderr, "usage: store_bench build DB N DIM [MODEL] | store_bench first DB | store_bench query DB [NQ]\n");
    return 2;
}
