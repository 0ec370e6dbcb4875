/* tests/unit/eval_retrieval.c: queries/corpus/qrels retrieval evaluation:
 * loading (TSV triple, BEIR directory, path forms), the metrics against
 * values computed by hand for a 3-query example, and allocation failure.
 *
 * Two modes also serve tests/eval_retrieval_ref.py (the independent
 * reference):
 *   --check run NAME RUN    metrics of a run file (qid TAB docid TAB score
 *                           lines; ranked by score, ties in corpus order)
 *   --check bm25 NAME       the top 100 BM25 scores of every query of NAME,
 *                           from the in-memory FTS5 index eval builds */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "eval/eval_retrieval.h"
#include "store/hybrid.h"
#include "tap.h"

static char datadir[2048];

static const char *data(const char *name)
{
    static char buf[8][4096];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", datadir, name);
    return buf[i];
}

static size_t doc(const ss__ir_data *d, const char *id)
{
    for (size_t i = 0; i < d->nd; i++)
        if (!strcmp(d->did[i], id)) return i;
    return SIZE_MAX;
}

static size_t query(const ss__ir_data *d, const char *id)
{
    for (size_t i = 0; i < d->nq; i++)
        if (!strcmp(d->qid[i], id)) return i;
    return SIZE_MAX;
}

/* ---------------------------------------------------------- --check modes */

typedef struct {
    size_t d;
    double s;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->d < y->d ? -1 : x->d > y->d; /* ties: corpus order */
}

static int check_run(const char *name, const char *run)
{
    ss__ir_data d;
    if (ss__ir_load(name, &d)) {
        printf("error %s\n", ss_errmsg());
        return 1;
    }
    FILE *f = fopen(run, "r");
    if (!f) return 1;
    scored *sc = calloc(d.nq * d.nd, sizeof *sc);
    size_t *cnt = calloc(d.nq, sizeof *cnt), *ranked = calloc(d.nd, sizeof *ranked);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *q = strtok(line, "\t\n"), *dd = strtok(NULL, "\t\n"), *s = strtok(NULL, "\t\n");
        if (!q || !dd || !s) continue;
        size_t qi = query(&d, q), di = doc(&d, dd);
        if (qi == SIZE_MAX || di == SIZE_MAX) continue;
        sc[qi * d.nd + cnt[qi]++] = (scored){di, strtod(s, NULL)};
    }
    fclose(f);
    ss__ir_acc a;
    int rc = ss__ir_acc_init(&a, &d);
    for (size_t e = 0; e < d.n_eval && !rc; e++) {
        size_t q = d.eval[e];
        qsort(sc + q * d.nd, cnt[q], sizeof *sc, cmp_scored);
        for (size_t i = 0; i < cnt[q]; i++) ranked[i] = sc[q * d.nd + i].d;
        ss__ir_acc a1;
        ss__ir_metrics m1;
        rc = ss__ir_acc_init(&a1, &d);
        if (!rc) rc = ss__ir_acc_add(&a1, q, ranked, cnt[q]);
        if (!rc) rc = ss__ir_acc_result(&a1, &m1);
        if (!rc)
            printf("query %s %.17g %.17g %.17g %.17g %.17g\n", d.qid[q], m1.ndcg_at_10, m1.recall_at_10,
                   m1.recall_at_100, m1.mrr_at_10, m1.map_at_100);
        ss__ir_acc_free(&a1);
        if (!rc) rc = ss__ir_acc_add(&a, q, ranked, cnt[q]);
    }
    ss__ir_metrics m;
    if (!rc) rc = ss__ir_acc_result(&a, &m);
    if (!rc) {
        printf("mean %.17g %.17g %.17g %.17g %.17g\n", m.ndcg_at_10, m.recall_at_10, m.recall_at_100, m.mrr_at_10,
               m.map_at_100);
        printf("curve");
        for (int k = 0; k < SS__IR_DEPTH; k++) printf(" %.17g", m.recall_curve[k]);
        printf("\nskipped %zu %zu\n", d.n_unjudged, d.n_no_relevant);
    } else printf("error %s\n", ss_errmsg());
    ss__ir_acc_free(&a);
    free(sc);
    free(cnt);
    free(ranked);
    ss__ir_free(&d);
    return rc ? 1 : 0;
}

static int check_bm25(const char *name)
{
    ss__ir_data d;
    if (ss__ir_load(name, &d)) {
        printf("error %s\n", ss_errmsg());
        return 1;
    }
    sqlite3 *db;
    sqlite3_stmt *top;
    /* unstemmed: the reference (eval_retrieval_ref.py) splits words as
     * unicode61 does and does not stem */
    int rc = ss__ir_fts_build(d.dtext, d.dlen, d.nd, 1, 0, &db, &top);
    int64_t docs[100];
    double s[100];
    for (size_t q = 0; q < d.nq && !rc; q++) {
        int got, r;
        rc = ss__fts_top(top, d.qtext[q], 100, docs, s, &got, &r);
        for (int i = 0; i < got && !rc; i++) printf("%s\t%s\t%.17g\n", d.qid[q], d.did[docs[i] - 1], s[i]);
    }
    if (rc) printf("error %s\n", ss_errmsg());
    ss__ir_fts_close(db, top);
    ss__ir_free(&d);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ tests */

static void test_hand(void)
{
    ss__ir_data d;
    int rc = ss__ir_load(data("ir-hand"), &d);
    if (!tap_ok(!rc, "load ir-hand: %s", rc ? ss_errmsg() : "ok")) return;
    tap_ok(d.nq == 5 && d.nd == 6 && d.n_judgements == 8 && d.n_eval == 3 && d.n_unjudged == 1 &&
               d.n_no_relevant == 1,
           "5 queries, 6 documents, 8 judgements; 3 scored, q4 unjudged, q5 without a relevant one");
    tap_ok(d.self[query(&d, "h4")] == doc(&d, "h4") && d.self[query(&d, "q1")] == SIZE_MAX,
           "query h4 has its own document, q1 none");
    /* q1: h1 3, h2 1, h5 0; ranked h5 h1 h3 h2
     * q2 (id h4): h3 1; ranked h4 (itself: ignored) h6 h3
     * q3: h2 2, h6 2, h1 1; ranked h6 h2 */
    size_t r1[] = {doc(&d, "h5"), doc(&d, "h1"), doc(&d, "h3"), doc(&d, "h2")};
    size_t r2[] = {doc(&d, "h4"), doc(&d, "h6"), doc(&d, "h3")};
    size_t r3[] = {doc(&d, "h6"), doc(&d, "h2")};
    double l2 = log2(3), l4 = log2(5);
    double ndcg[3] = {(3 / l2 + 1 / l4) / (3 + 1 / l2), (1 / l2) / 1, (2 + 2 / l2) / (2 + 2 / l2 + 1 / 2.0)};
    double rec[3] = {1, 1, 2.0 / 3}, mrr[3] = {0.5, 0.5, 1};
    double map[3] = {(1 / 2.0 + 2 / 4.0) / 2, (1 / 2.0) / 1, (1 + 1) / 3.0};
    ss__ir_acc a;
    ss__ir_metrics m;
    rc = ss__ir_acc_init(&a, &d);
    if (!rc) rc = ss__ir_acc_add(&a, query(&d, "q1"), r1, 4);
    if (!rc) rc = ss__ir_acc_add(&a, query(&d, "h4"), r2, 3);
    if (!rc) rc = ss__ir_acc_add(&a, query(&d, "q3"), r3, 2);
    if (!rc) rc = ss__ir_acc_result(&a, &m);
    tap_ok(!rc && m.n_queries == 3, "3 queries added: %s", rc ? ss_errmsg() : "ok");
    tap_close(m.ndcg_at_10, (ndcg[0] + ndcg[1] + ndcg[2]) / 3, 1e-12, "nDCG@10 by hand (graded gains)");
    tap_close(m.recall_at_10, (rec[0] + rec[1] + rec[2]) / 3, 1e-12, "recall@10 by hand");
    tap_close(m.recall_at_100, (rec[0] + rec[1] + rec[2]) / 3, 1e-12, "recall@100 by hand");
    tap_close(m.mrr_at_10, (mrr[0] + mrr[1] + mrr[2]) / 3, 1e-12, "MRR@10 by hand");
    tap_close(m.map_at_100, (map[0] + map[1] + map[2]) / 3, 1e-12, "MAP@100 by hand");
    tap_close(m.recall_curve[0], (0 + 0 + 1 / 3.0) / 3, 1e-12, "recall@1 by hand");
    tap_close(m.recall_curve[1], (0.5 + 1 + 2 / 3.0) / 3, 1e-12, "recall@2 by hand");
    tap_close(m.recall_curve[3], (1 + 1 + 2 / 3.0) / 3, 1e-12, "recall@4 by hand");
    /* one query at a time: nDCG of q1 alone */
    ss__ir_acc b;
    rc = ss__ir_acc_init(&b, &d);
    size_t r1rep[] = {doc(&d, "h5"), doc(&d, "h5"), doc(&d, "h1"), doc(&d, "h1"), doc(&d, "h3"), doc(&d, "h2")};
    if (!rc) rc = ss__ir_acc_add(&b, query(&d, "q1"), r1rep, 6);
    if (!rc) rc = ss__ir_acc_result(&b, &m);
    tap_ok(!rc && fabs(m.ndcg_at_10 - ndcg[0]) < 1e-12 && fabs(m.map_at_100 - map[0]) < 1e-12,
           "a repeated document takes no rank");
    ss__ir_acc_free(&b);
    rc = ss__ir_acc_add(&a, query(&d, "q4"), r1, 4);
    tap_ok(rc == SS_ERR_ARG, "adding a query without relevant judgements is an error: %s", ss_errmsg());
    /* hits at ranks 5 and 6 */
    ss__ir_acc c;
    rc = ss__ir_acc_init(&c, &d);
    size_t r11[] = {doc(&d, "h5"), doc(&d, "h4"), doc(&d, "h3"), doc(&d, "h6"), doc(&d, "h2"), doc(&d, "h1")};
    if (!rc) rc = ss__ir_acc_add(&c, query(&d, "q1"), r11, 6);
    if (!rc) rc = ss__ir_acc_result(&c, &m);
    tap_ok(!rc && fabs(m.recall_curve[3] - 0) < 1e-12 && fabs(m.recall_curve[4] - 0.5) < 1e-12 &&
               fabs(m.recall_curve[5] - 1) < 1e-12 && fabs(m.map_at_100 - (1 / 5.0 + 2 / 6.0) / 2) < 1e-12,
           "recall@k and MAP follow the ranks of the hits");
    ss__ir_acc_free(&c);
    ss__ir_acc_free(&a);
    ss__ir_free(&d);
}

static void test_layouts(void)
{
    ss__ir_data t, b;
    int rc1 = ss__ir_load(data("ir-small.qrels.tsv"), &t);
    int rc2 = ss__ir_load(data("beir-small"), &b);
    tap_ok(!rc1 && !rc2, "load the TSV triple by its qrels file and the BEIR directory: %s", rc1 || rc2 ? ss_errmsg() : "ok");
    if (rc1 || rc2) {
        ss__ir_free(&t);
        ss__ir_free(&b);
        return;
    }
    int same = t.nd == b.nd && t.n_judgements == b.n_judgements && t.n_eval == b.n_eval;
    for (size_t i = 0; same && i < t.nd; i++) same = !strcmp(t.did[i], b.did[i]) && !strcmp(t.dtext[i], b.dtext[i]);
    tap_ok(same, "BEIR title + \" \" + text, stripped, unicode escapes: the texts of the TSV corpus");
    tap_ok(b.nq == 7 && b.n_unjudged == 2 && t.n_unjudged == 1, "the extra BEIR query of another split is skipped and counted");
    tap_ok(!strcmp(b.paths.qrels + strlen(b.paths.qrels) - 14, "qrels/test.tsv"), "qrels/test.tsv chosen");
    ss__ir_free(&t);
    ss__ir_free(&b);
    ss__ir_paths p;
    tap_ok(ss__ir_resolve(data("ir-small"), &p) == 1 && !p.beir && strstr(p.corpus, "ir-small.corpus.tsv"),
           "NAME alone resolves to the triple");
    ss__ir_paths_free(&p);
    tap_ok(ss__ir_resolve(data("ir-small.corpus.tsv"), &p) == 1 && strstr(p.qrels, "ir-small.qrels.tsv"),
           "so does NAME.corpus.tsv");
    ss__ir_paths_free(&p);
    tap_ok(ss__ir_resolve(data("beir-small/qrels/test.tsv"), &p) == 1 && p.beir && strstr(p.corpus, "beir-small/corpus.jsonl"),
           "a BEIR qrels file names its directory");
    ss__ir_paths_free(&p);
    tap_ok(ss__ir_resolve(data("eval-small.groups.tsv"), &p) == 0 && ss__ir_resolve(data("nosuch"), &p) == 0 &&
               ss__ir_resolve("-", &p) == 0,
           "other files, missing names and stdin are not retrieval data sets");
}

static void test_alloc_failures(void)
{
    int clean = 1, n_ok = 0;
    for (long k = 1; k < 400; k++) {
        ss__fail_alloc_after(k);
        ss__ir_data d;
        int rc = ss__ir_load(data("beir-small"), &d);
        ss__ir_result r;
        if (!rc) rc = ss__ir_evaluate(NULL, &d, NULL, NULL, &r);
        ss__fail_alloc_after(0);
        if (rc && rc != SS_ERR_NOMEM) clean = 0;
        if (!rc) n_ok++;
        ss__ir_free(&d);
        if (!rc && n_ok > 3) break;
    }
    tap_ok(clean && n_ok > 0, "allocation failures while loading and evaluating: SS_ERR_NOMEM, no leak, no crash");
}

/* ss_eval_file on queries/corpus/qrels without a model: BM25 alone, equal
 * to ss__ir_evaluate, the data set's counts, and the callbacks. */
typedef struct {
    int loaded, rankings, stop;
    size_t hits;
} eval_file_ctx;

static int on_loaded(void *ctx, const ss_eval_file_result *r)
{
    eval_file_ctx *c = ctx;
    c->loaded += r->name != NULL && r->n_scored == 3;
    return SS_OK;
}

static int on_run(void *ctx, int sys, const char *qid, const char *const *docids, const double *scores, size_t n)
{
    eval_file_ctx *c = ctx;
    (void)scores;
    if (sys != SS_EVAL_IR_BM25 || !qid || (n && !docids[0])) return SS_ERR_ARG;
    c->rankings++;
    c->hits += n;
    return c->stop ? SS_ERR_IO : SS_OK;
}

static void test_eval_file(void)
{
    ss__ir_data d;
    ss__ir_result want;
    int rc = ss__ir_load(data("ir-hand"), &d);
    if (!rc) rc = ss__ir_evaluate(NULL, &d, NULL, NULL, &want);
    if (!tap_ok(!rc, "ir-hand with BM25: %s", rc ? ss_errmsg() : "ok")) return;
    eval_file_ctx c = {0, 0, 0, 0};
    ss_eval_file_options o;
    ss_eval_file_options_init(&o);
    o.loaded = on_loaded;
    o.run = on_run;
    o.run_ctx = &c;
    ss_eval_file_result r;
    rc = ss_eval_file(NULL, data("ir-hand"), &o, &r);
    const ss_eval_ir_metrics *e = &r.ir[SS_EVAL_IR_BM25];
    const ss__ir_metrics *w = &want.m[SS__IR_BM25];
    tap_ok(rc == SS_OK && r.task == SS_EVAL_TASK_IR && r.n == 5 && r.n_documents == 6 && r.n_judgements == 8 &&
               r.n_scored == 3 && r.n_unjudged == 1 && r.n_no_relevant == 1 && !r.ir_has[SS_EVAL_IR_MODEL] &&
               r.ir_has[SS_EVAL_IR_BM25] && !r.ir_has[SS_EVAL_IR_HYBRID] && r.hybrid_depth > 0,
           "ss_eval_file(NULL) on ir-hand: the counts, BM25 alone (%s)", rc ? ss_errmsg() : "ok");
    tap_ok(!rc && e->n_queries == w->n_queries && e->ndcg_at_10 == w->ndcg_at_10 &&
               e->recall_at_100 == w->recall_at_100 && e->map_at_100 == w->map_at_100 &&
               !memcmp(e->recall_curve, w->recall_curve, sizeof e->recall_curve),
           "ss_eval_file(NULL): BM25 metrics equal ss__ir_evaluate");
    tap_ok(c.loaded == 1 && c.rankings == 3, "loaded once, one ranking per scored query (%d, %d)", c.loaded,
           c.rankings);
    ss_eval_file_result_free(&r);
    c.stop = 1;
    rc = ss_eval_file(NULL, data("ir-hand"), &o, &r);
    tap_ok(rc == SS_ERR_IO && c.rankings == 4, "a run callback's error stops the evaluation with its code");
    ss_eval_file_result_free(&r);
    ss__ir_free(&d);
}

int main(int argc, char **argv)
{
    const char *top = getenv("top_srcdir");
    snprintf(datadir, sizeof datadir, "%s/tests/data", top ? top : ".");
    if (argc == 5 && !strcmp(argv[1], "--check") && !strcmp(argv[2], "run")) return check_run(argv[3], argv[4]);
    if (argc == 4 && !strcmp(argv[1], "--check") && !strcmp(argv[2], "bm25")) return check_bm25(argv[3]);
    test_hand();
    test_layouts();
    test_eval_file();
    test_alloc_failures();
    return tap_done();
}
