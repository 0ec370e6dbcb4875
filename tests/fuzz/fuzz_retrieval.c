/* fuzz_retrieval.c: the queries/corpus/qrels loaders (the TSV triple and
 * BEIR's jsonl layout, with its small JSON reader) and the evaluation on
 * arbitrary bytes.
 *
 * Input: byte 0 picks the layout (bit 0: BEIR) and whether to evaluate
 * (bit 1: BM25; bit 2: also a tiny random model, so the model and the
 * hybrid); the rest is three files separated by a 0xFF byte: queries,
 * corpus, qrels (a missing part is an empty file).
 *
 * Invariants: loading returns data or a status with a message, never
 * crashes or leaks; loaded data has judgements that point into the corpus
 * and queries that are scored or counted as skipped; every ranking holds
 * distinct documents of the corpus (not the query's own), best first;
 * metrics are finite and in [0, 1]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "eval/eval_retrieval.h"
#include "fuzz.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_retrieval: %s: %s\n", what, ss_errmsg());
    abort();
}

static char dir[64];
static ss_model *model;
static int model_tried;
static const char *const tsv_names[3] = {"x.queries.tsv", "x.corpus.tsv", "x.qrels.tsv"};
static const char *const beir_names[3] = {"queries.jsonl", "corpus.jsonl", "qrels/test.tsv"};

static void cleanup(void)
{
    ss_model_free(model);
    model = NULL;
    if (!dir[0]) return;
    char p[128];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, tsv_names[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s", dir, beir_names[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/qrels", dir);
    rmdir(p);
    rmdir(dir);
}

static void init_once(void)
{
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "/tmp/ss-fuzz-retrieval-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("fuzz_retrieval: mkdtemp");
        abort();
    }
    char p[128];
    snprintf(p, sizeof p, "%s/qrels", dir);
    if (mkdir(p, 0700)) {
        perror("fuzz_retrieval: mkdir");
        abort();
    }
    atexit(cleanup);
    ss_set_threads(1);
}

static void put(const char *name, const uint8_t *data, size_t n)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) fail("cannot write a temporary file");
    fclose(f);
}

static void check_metrics(const ss__ir_metrics *m)
{
    const double v[5] = {m->ndcg_at_10, m->recall_at_10, m->recall_at_100, m->mrr_at_10, m->map_at_100};
    for (int i = 0; i < 5; i++)
        if (!isfinite(v[i]) || v[i] < 0 || v[i] > 1 + 1e-12) fail("a metric outside [0, 1]");
    if (m->recall_at_10 > m->recall_at_100 + 1e-12) fail("recall@10 above recall@100");
    for (int k = 1; k < SS__IR_DEPTH; k++)
        if (m->recall_curve[k] + 1e-12 < m->recall_curve[k - 1]) fail("recall@k decreasing");
}

/* Every ranking: at most 100 documents of the corpus, distinct, never the
 * query's own one, scores best first. */
static int check_run(void *ctx, int sys, size_t q, const size_t *docs, const double *scores, size_t n)
{
    const ss__ir_data *d = ctx;
    if (sys < 0 || sys >= SS__IR_NSYS || q >= d->nq || n > SS__IR_DEPTH) fail("a ranking out of range");
    for (size_t i = 0; i < n; i++) {
        if (docs[i] >= d->nd || docs[i] == d->self[q]) fail("a ranked document outside the corpus or the query's own");
        if (!isfinite(scores[i]) || (i && scores[i] > scores[i - 1])) fail("ranking scores not best first");
        for (size_t j = 0; j < i; j++)
            if (docs[j] == docs[i]) fail("a document ranked twice");
    }
    return SS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1) return 0;
    int beir = data[0] & 1, evaluate = (data[0] >> 1) & 1, with_model = (data[0] >> 2) & 1;
    const uint8_t *p = data + 1, *end = data + size;
    const char *const *names = beir ? beir_names : tsv_names;
    for (int i = 0; i < 3; i++) {
        const uint8_t *q = p;
        while (q < end && *q != 0xFF) q++;
        put(names[i], p, (size_t)(q - p));
        p = q < end ? q + 1 : end;
    }
    char path[128];
    if (beir) snprintf(path, sizeof path, "%s", dir);
    else snprintf(path, sizeof path, "%s/x", dir);
    ss__ir_data d;
    int rc = ss__ir_load(path, &d);
    if (rc) {
        if (!ss_errmsg()[0]) fail("an error without a message");
        return 0;
    }
    if (d.n_eval + d.n_unjudged + d.n_no_relevant != d.nq) fail("queries neither scored nor skipped");
    for (size_t q = 0; q < d.nq; q++) {
        if (d.jstart[q] > d.jstart[q + 1]) fail("judgements out of order");
        for (size_t j = d.jstart[q]; j < d.jstart[q + 1]; j++)
            if (d.jdoc[j] >= d.nd || d.jrel[j] < 0) fail("a judgement outside the corpus");
        if (d.self[q] != SIZE_MAX && strcmp(d.did[d.self[q]], d.qid[q])) fail("a wrong own document");
    }
    if (evaluate) {
        if (with_model && !model_tried) {
            model_tried = 1;
            if (fuzz_tiny_model(13, &model)) fail("cannot make a tiny model");
        }
        ss__ir_result r;
        rc = ss__ir_evaluate_runs(with_model ? model : NULL, with_model ? ss_model_align_weight(model) : 0, &d, NULL, NULL,
                                  check_run, &d, &r);
        if (rc && !ss_errmsg()[0]) fail("an error without a message");
        for (int s = 0; s < SS__IR_NSYS && !rc; s++) {
            if (!r.has[s]) continue;
            if (r.m[s].n_queries != d.n_eval) fail("not every scored query evaluated");
            check_metrics(&r.m[s]);
        }
    }
    ss__ir_free(&d);
    return 0;
}
