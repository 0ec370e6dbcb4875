/* eval.c: the evaluation metrics against values worked out by hand (the
 * comparison with scipy/scikit-learn on random data is tests/eval_ref.sh),
 * the data-file reader, the TF-IDF baseline and the SVG plots. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "text/datafile.h"
#include "eval/eval.h"
#include "eval/svg.h"
#include "tap.h"
#include "eval/tfidf.h"

static char tmpdir[] = "/tmp/ss-unit-eval.XXXXXX";

static const char *write_tmp(const char *name, const char *content)
{
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    fputs(content, f);
    fclose(f);
    return p;
}

static int has(const char *msg, const char *part) { return strstr(msg, part) != NULL; }

static void test_correlations(void)
{
    double x[] = {1, 2, 3}, y[] = {1, 3, 2}, r = 0;
    /* means 2, 2; deviations (-1,0,1), (-1,1,0): sxy 1, sxx 2, syy 2 */
    tap_ok(ss_eval_pearson(x, y, 3, &r) == SS_OK, "pearson ok");
    tap_close(r, 0.5, 1e-12, "pearson by hand");
    double a[] = {1, 2, 3, 4, 5}, b[] = {2, 4, 6, 8, 10}, c[] = {5, 4, 3, 2, 1};
    tap_ok(ss_eval_pearson(a, b, 5, &r) == SS_OK, "pearson of a line");
    tap_close(r, 1, 1e-15, "pearson of a line is 1");
    tap_ok(ss_eval_spearman(a, c, 5, &r) == SS_OK, "spearman reversed");
    tap_close(r, -1, 1e-15, "spearman reversed is -1");

    /* ties: ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): 4.5 / sqrt(4.5 * 5) */
    double tx[] = {1, 2, 2, 3}, ty[] = {10, 20, 30, 40}, rk[4];
    tap_ok(ss__ranks((double[]){3, 1, 2, 2}, 4, rk) == SS_OK && rk[0] == 4 && rk[1] == 1 && rk[2] == 2.5 &&
               rk[3] == 2.5,
           "average ranks of ties");
    tap_ok(ss_eval_spearman(tx, ty, 4, &r) == SS_OK, "spearman with ties ok");
    tap_close(r, 4.5 / sqrt(22.5), 1e-12, "spearman with ties by hand");
    /* spearman is pearson of average ranks: monotone transforms do not change it */
    double ex[4];
    for (int i = 0; i < 4; i++) ex[i] = exp(tx[i]);
    double r2 = 0;
    tap_ok(ss_eval_spearman(ex, ty, 4, &r2) == SS_OK && r2 == r, "spearman is rank-invariant");

    /* undefined cases are errors, never NaN */
    double k3[] = {0.1, 0.1, 0.1}, z[] = {1, 2, 3};
    r = 42;
    int rc = ss_eval_pearson(k3, z, 3, &r);
    tap_ok(rc == SS_ERR_RANGE && has(ss_errmsg(), "all equal") && r == 42, "pearson: constant side is SS_ERR_RANGE (%s)",
           ss_errmsg());
    rc = ss_eval_spearman(z, k3, 3, &r);
    tap_ok(rc == SS_ERR_RANGE && has(ss_errmsg(), "second"), "spearman: constant side is SS_ERR_RANGE (%s)", ss_errmsg());
    tap_ok(ss_eval_pearson(z, z, 1, &r) == SS_ERR_RANGE, "pearson: one pair is SS_ERR_RANGE");
    tap_ok(ss_eval_spearman(z, z, 0, &r) == SS_ERR_RANGE, "spearman: no pairs is SS_ERR_RANGE");
    double bad[] = {1, NAN, 3};
    tap_ok(ss_eval_pearson(bad, z, 3, &r) == SS_ERR_NUMERIC, "pearson: NaN is SS_ERR_NUMERIC");
    tap_ok(ss_eval_spearman(z, (double[]){1, INFINITY, 2}, 3, &r) == SS_ERR_NUMERIC, "spearman: Inf is SS_ERR_NUMERIC");
}

static void test_pairs(void)
{
    /* scores 0.9 0.8 0.7 0.6 with labels 1 0 1 0 */
    double s[] = {0.7, 0.9, 0.6, 0.8};
    int l[] = {1, 1, 0, 0};
    double auc = 0, ap = 0, acc = 0, thr = 0, f1 = 0, p = 0, rec = 0;
    /* positive-negative pairs won: (.9,.8) (.9,.6) (.7,.6), lost (.7,.8): 3/4 */
    int rc = ss_eval_auc(s, l, 4, &auc);
    tap_ok(rc == SS_OK && auc == 0.75, "AUC by hand (%g)", auc);
    /* at .9: P 1, R 1/2; at .7: P 2/3, R 1 => 1/2 * 1 + 1/2 * 2/3 */
    tap_ok(ss_eval_average_precision(s, l, 4, &ap) == SS_OK, "AP ok");
    tap_close(ap, 0.5 + 1.0 / 3.0, 1e-12, "AP by hand");
    /* accuracy: all 0 2/4, >=.9 3/4, >=.8 2/4, >=.7 3/4, all 1 2/4: best 3/4, highest threshold .85 */
    rc = ss_eval_best_accuracy(s, l, 4, &acc, &thr);
    tap_ok(rc == SS_OK && acc == 0.75, "best accuracy by hand (%g)", acc);
    tap_close(thr, 0.85, 1e-12, "best-accuracy threshold is midway, the highest of equals");
    /* F1: >=.9 2/3, >=.8 1/2, >=.7 4/5, all 2/3: best 4/5 at .65 with P 2/3, R 1 */
    tap_ok(ss_eval_best_f1(s, l, 4, &f1, &p, &rec, &thr) == SS_OK, "best F1 ok");
    tap_close(f1, 0.8, 1e-12, "best F1 by hand");
    tap_close(p, 2.0 / 3.0, 1e-12, "precision at the best F1");
    tap_close(rec, 1.0, 1e-12, "recall at the best F1");
    tap_close(thr, 0.65, 1e-12, "best-F1 threshold");

    ss_eval_pairs all;
    tap_ok(ss_eval_pair_classification(s, l, 4, &all) == SS_OK && all.n == 4 && all.n_positive == 2 &&
               all.auc == auc && all.average_precision == ap && all.accuracy == acc && all.f1 == f1,
           "ss_eval_pair_classification agrees with the single metrics");

    /* ties: a tied positive and negative are half a win */
    double ts[] = {0.5, 0.5};
    int tl[] = {1, 0};
    tap_ok(ss_eval_auc(ts, tl, 2, &auc) == SS_OK && auc == 0.5, "AUC: a tie counts 1/2");
    /* tied run taken together: at .9 P 0; at .5 P 1/3, R 1 */
    tap_ok(ss_eval_average_precision((double[]){0.9, 0.5, 0.5}, (int[]){0, 1, 0}, 3, &ap) == SS_OK, "AP with ties ok");
    tap_close(ap, 1.0 / 3.0, 1e-12, "AP takes tied scores together");
    /* best accuracy is "all 0": the threshold lies above every score */
    rc = ss_eval_best_accuracy((double[]){0.9, 0.1}, (int[]){0, 1}, 2, &acc, &thr);
    tap_ok(rc == SS_OK && acc == 0.5 &&
               thr > 0.9 && thr < 0.9000001,
           "best accuracy may predict all 0 (threshold %.17g)", thr);
    /* all equal scores: the only split is all 1 at the score itself */
    rc = ss_eval_best_f1((double[]){0.3, 0.3, 0.3}, (int[]){1, 0, 1}, 3, &f1, &p, &rec, &thr);
    tap_ok(rc == SS_OK && thr == 0.3 && fabs(f1 - 0.8) < 1e-12,
           "best F1 with one score: all 1 (thr %g, F1 %g)", thr, f1);
    /* adjacent doubles: the threshold still separates them */
    double lo = 0.5, hi = nextafter(0.5, 1);
    tap_ok(ss_eval_best_accuracy((double[]){hi, lo}, (int[]){1, 0}, 2, &acc, &thr) == SS_OK && acc == 1 &&
               hi >= thr && lo < thr,
           "threshold between adjacent doubles separates them");

    /* undefined cases */
    int ones[] = {1, 1, 1};
    auc = 42;
    tap_ok(ss_eval_auc(s, ones, 3, &auc) == SS_ERR_RANGE && has(ss_errmsg(), "labels are 1") && auc == 42,
           "AUC with one class is SS_ERR_RANGE (%s)", ss_errmsg());
    int zeros[] = {0, 0, 0};
    tap_ok(ss_eval_auc(s, zeros, 3, &auc) == SS_ERR_RANGE, "AUC with only negatives is SS_ERR_RANGE");
    tap_ok(ss_eval_average_precision(s, zeros, 3, &ap) == SS_ERR_RANGE, "AP without positives is SS_ERR_RANGE");
    tap_ok(ss_eval_average_precision(s, ones, 3, &ap) == SS_OK && ap == 1.0, "AP with only positives is 1");
    tap_ok(ss_eval_best_f1(s, zeros, 3, &f1, NULL, NULL, NULL) == SS_ERR_RANGE, "F1 without positives is SS_ERR_RANGE");
    tap_ok(ss_eval_best_accuracy(s, ones, 3, &acc, NULL) == SS_OK && acc == 1, "accuracy with one class is defined");
    tap_ok(ss_eval_pair_classification(s, ones, 3, &all) == SS_ERR_RANGE, "pair classification with one class fails");
    tap_ok(ss_eval_auc(s, (int[]){1, 2, 0, 0}, 4, &auc) == SS_ERR_ARG, "a label of 2 is SS_ERR_ARG");
    tap_ok(ss_eval_auc((double[]){NAN, 1}, tl, 2, &auc) == SS_ERR_NUMERIC, "a NaN score is SS_ERR_NUMERIC");
    tap_ok(ss_eval_auc(s, l, 0, &auc) == SS_ERR_RANGE, "no pairs is SS_ERR_RANGE");

    double *fx, *fy;
    size_t np;
    tap_ok(ss__eval_roc(s, l, 4, &fx, &fy, &np) == SS_OK && np == 5, "ROC has a point per distinct score + origin");
    double ex[] = {0, 0, .5, .5, 1}, ey[] = {0, .5, .5, 1, 1};
    int same = 1;
    for (size_t i = 0; i < np && i < 5; i++) same &= fx[i] == ex[i] && fy[i] == ey[i];
    tap_ok(same, "ROC points by hand");
    ss_free(fx);
    ss_free(fy);
}

static void test_retrieval(void)
{
    /* relevant at ranks 2 and 5 of 3 relevant documents */
    unsigned char rel[10] = {0, 1, 0, 0, 1, 0, 0, 0, 0, 0};
    size_t nr = 3;
    ss_eval_retrieval r;
    tap_ok(ss_eval_ranked(rel, 1, 10, &nr, &r) == SS_OK && r.n_queries == 1, "ranked list ok");
    tap_close(r.recall_at_1, 0, 1e-12, "recall@1");
    tap_close(r.recall_at_5, 2.0 / 3, 1e-12, "recall@5");
    tap_close(r.recall_at_10, 2.0 / 3, 1e-12, "recall@10");
    tap_close(r.mrr_at_10, 0.5, 1e-12, "MRR@10 = 1/2");
    double dcg = 1 / log2(3.0) + 1 / log2(6.0), idcg = 1 + 1 / log2(3.0) + 1 / log2(4.0);
    tap_close(r.ndcg_at_10, dcg / idcg, 1e-12, "nDCG@10 by formula");
    tap_close(r.ndcg_at_10, 0.4776237, 1e-6, "nDCG@10 by hand (0.4776237)");

    /* two queries: the means */
    unsigned char rel2[20] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t nr2[2] = {1, 1};
    tap_ok(ss_eval_ranked(rel2, 2, 10, nr2, &r) == SS_OK && r.recall_at_1 == 0.5 && r.mrr_at_10 == 0.5 &&
               r.ndcg_at_10 == 0.5,
           "means over queries");
    /* a relevant document beyond rank 10 counts for nothing */
    unsigned char rel3[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    nr = 1;
    tap_ok(ss_eval_ranked(rel3, 1, 12, &nr, &r) == SS_OK && r.recall_at_10 == 0 && r.mrr_at_10 == 0 &&
               r.ndcg_at_10 == 0,
           "rank 12 is outside every @10 metric");
    nr = 0;
    tap_ok(ss_eval_ranked(rel, 1, 10, &nr, &r) == SS_ERR_RANGE, "a query without relevant documents fails");
    nr = 1;
    tap_ok(ss_eval_ranked(rel, 1, 10, &nr, &r) == SS_ERR_ARG, "more relevant ranked than exist fails");

    /* matrix: query 0 is document 0 (skipped); doc 1 (not relevant) ties with doc 2 (relevant) */
    float sim[2 * 4] = {1.0f, 0.5f, 0.5f, 0.2f, /* */ 0.1f, 0.9f, 0.3f, 0.8f};
    size_t start[3] = {0, 1, 3}, relv[3] = {2, 3, 1}, skip[2] = {0, SIZE_MAX};
    tap_ok(ss_eval_retrieval_matrix(sim, 2, 4, start, relv, skip, &r) == SS_OK && r.n_queries == 2 && r.n_docs == 4,
           "matrix ok");
    /* q0: order 1, 2(rel), 3: rank 2 -> rr 1/2, recall@1 0; q1: order 1(rel), 3(rel), 2, 0: perfect */
    tap_close(r.mrr_at_10, (0.5 + 1) / 2, 1e-12, "ties rank the non-relevant first (MRR)");
    tap_close(r.recall_at_1, (0 + 0.5) / 2, 1e-12, "recall@1 over two queries");
    tap_close(r.recall_at_5, 1, 1e-12, "recall@5 over two queries");
    tap_close(r.ndcg_at_10, (1 / log2(3.0) + 1) / 2, 1e-12, "nDCG@10 over two queries");
    float nan_sim[4] = {0, NAN, 0, 0};
    size_t s1[2] = {0, 1}, rv1[1] = {2};
    tap_ok(ss_eval_retrieval_matrix(nan_sim, 1, 4, s1, rv1, NULL, &r) == SS_ERR_NUMERIC, "a NaN similarity fails");
    size_t rv2[1] = {7};
    tap_ok(ss_eval_retrieval_matrix(sim, 1, 4, s1, rv2, NULL, &r) == SS_ERR_ARG, "a relevant index out of range fails");
}

static void test_datafile(void)
{
    ss__data_kind k = ss__data_kind_from_name("a/b.scored.tsv");
    tap_ok(k == SS__DATA_SCORED && ss__data_kind_from_name("x.labeled.tsv.gz") == SS__DATA_LABELED &&
               ss__data_kind_from_name("x.groups.tsv") == SS__DATA_GROUPS &&
               ss__data_kind_from_name("x.txt.gz") == SS__DATA_TEXT &&
               ss__data_kind_from_name("-") == SS__DATA_UNKNOWN &&
               ss__data_kind_from_name("x.tsv") == SS__DATA_UNKNOWN,
           "kind from the file name");

    const char *f = write_tmp("ok.scored.tsv", "A man runs.\tA man is running.\t4.5\r\n\nA cat.\tA dog.\t 1e-1 \n"
                                               "x\ty\t-2");
    ss__pairs p;
    int rc = ss__pairs_load(f, SS__DATA_SCORED, &p);
    tap_ok(rc == SS_OK && p.n == 3, "scored: 3 pairs (CRLF, blank line, no final newline)");
    if (rc == SS_OK) {
        tap_ok(!strcmp(p.a[0], "A man runs.") && !strcmp(p.b[0], "A man is running.") && p.alen[0] == 11 &&
                   p.value[0] == 4.5 && p.value[1] == 0.1 && p.value[2] == -2 && !strcmp(p.b[2], "y"),
               "scored: fields and scores");
        ss__pairs_free(&p);
    }
    struct {
        const char *name, *content, *msg;
    } bad[] = {
        {"a.scored.tsv", "s1\ts2\t3\ns1\ts2\n", "a.scored.tsv:2: expected 3 tab-separated fields, got 2"},
        {"b.scored.tsv", "s1\ts2\tabc\n", "b.scored.tsv:1: score 'abc' is not a number"},
        {"c.scored.tsv", "s1\ts2\tnan\n", "c.scored.tsv:1: score 'nan' is not a finite number"},
        {"d.labeled.tsv", "s1\ts2\t1\ns1\ts2\t2\n", "d.labeled.tsv:2: label '2' is not 0 or 1"},
        {"e.labeled.tsv", "s1\ts2\t0.5\n", "e.labeled.tsv:1: label '0.5' is not 0 or 1"},
        {"f.labeled.tsv", "", "f.labeled.tsv: no pairs"},
        {"g.scored.tsv", "\n\n", "g.scored.tsv: no pairs"},
        {"h.scored.tsv", "s1\t \t3\n", "h.scored.tsv:1: text 2 is empty"},
        {"i.scored.tsv", "s1\ts2\t3\tx\n", "i.scored.tsv:1: expected 3 tab-separated fields, got 4"},
        {"j.scored.tsv", "s1\ts2\t\n", "j.scored.tsv:1: score '' is not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *path = write_tmp(bad[i].name, bad[i].content);
        rc = ss__pairs_load(path, ss__data_kind_from_name(path), &p);
        tap_ok(rc == SS_ERR_FORMAT && has(ss_errmsg(), bad[i].msg) && p.n == 0 && !p.pool, "error: %s (got: %s)",
               bad[i].msg, ss_errmsg());
    }
    tap_ok(ss__pairs_load("/nonexistent/x.scored.tsv", SS__DATA_SCORED, &p) == SS_ERR_IO &&
               has(ss_errmsg(), "/nonexistent/x.scored.tsv"),
           "a missing file is SS_ERR_IO naming it");

    f = write_tmp("g.groups.tsv", "q1\td1\td2\n\nq2\td3\nq3\td4\td5\td6\td7\n");
    ss__groups g;
    rc = ss__groups_load(f, &g);
    tap_ok(rc == SS_OK && g.n_groups == 3 && g.n_texts == 10 && g.start[1] == 3 && g.start[2] == 5 &&
               g.start[3] == 10 && !strcmp(g.text[5], "q3") && g.lineno[1] == 3,
           "groups: offsets, texts, line numbers");
    if (!rc) ss__groups_free(&g);
    f = write_tmp("h.groups.tsv", "q1\td1\nlonely\n");
    rc = ss__groups_load(f, &g);
    tap_ok(rc == SS_ERR_FORMAT && has(ss_errmsg(), "h.groups.tsv:2: expected 2 or more tab-separated texts, got 1"),
           "groups: a single text is an error (%s)", ss_errmsg());
    f = write_tmp("i.groups.tsv", "q1\td1\t\n");
    tap_ok(ss__groups_load(f, &g) == SS_ERR_FORMAT && has(ss_errmsg(), "i.groups.tsv:1: text 3 is empty"),
           "groups: a trailing tab is an empty text");

    /* the iterator on plain text: tabs kept, blank lines skipped */
    f = write_tmp("t.txt", "one\ttab\n   \ntwo\n");
    ss__data_reader *r;
    ss__data_row row;
    rc = ss__data_open(f, SS__DATA_TEXT, &r);
    int n1 = rc == SS_OK ? ss__data_next(r, &row) : SS_ERR;
    int ok1 = n1 == SS__LINE && row.n == 1 && row.len[0] == 7 && row.lineno == 1;
    int n2 = rc == SS_OK ? ss__data_next(r, &row) : SS_ERR;
    int ok2 = n2 == SS__LINE && !strcmp(row.text[0], "two") && row.lineno == 3;
    int n3 = rc == SS_OK ? ss__data_next(r, &row) : SS_ERR;
    tap_ok(ok1 && ok2 && n3 == 0, "text iterator: whole lines, blank lines skipped, line numbers");
    ss__data_close(r);
}

typedef struct {
    char words[16][32];
    int n;
} wordlist;

static int add_word(void *ctx, const char *w, size_t n)
{
    wordlist *l = ctx;
    if (l->n < 16 && n < 32) {
        memcpy(l->words[l->n], w, n);
        l->words[l->n][n] = '\0';
    }
    l->n++;
    return 0;
}

static void test_tfidf(void)
{
    wordlist l = {0};
    const char *t = "Hello, WORLD! H\xc3\xa9llo 42x don't \xef\xbc\xa1";
    int rc = ss__words(t, strlen(t), add_word, &l);
    tap_ok(rc == SS_OK && l.n == 7 && !strcmp(l.words[0], "hello") &&
               !strcmp(l.words[1], "world") && !strcmp(l.words[2], "h\xc3\xa9llo") && !strcmp(l.words[3], "42x") &&
               !strcmp(l.words[4], "don") && !strcmp(l.words[5], "t") && !strcmp(l.words[6], "a"),
           "words: casefolded, NFKC (fullwidth A), split at punctuation (%d words)", l.n);

    /* a b / a c: idf(a) = ln(3/3)+1 = 1, idf(b) = idf(c) = ln(3/2)+1 */
    const char *docs[] = {"a b", "A c.", "a b", "!!!", "b b c"};
    ss__tfidf *tf;
    tap_ok(ss__tfidf_build(docs, NULL, 2, &tf) == SS_OK && tf->n_terms == 3, "tfidf of 2 texts");
    double w = log(1.5) + 1;
    tap_close(ss__tfidf_cosine(tf, 0, 1), 1 / (1 + w * w), 1e-12, "tfidf cosine by hand");
    ss__tfidf_free(tf);
    tap_ok(ss__tfidf_build(docs, NULL, 5, &tf) == SS_OK, "tfidf of 5 texts");
    tap_close(ss__tfidf_cosine(tf, 0, 2), 1, 1e-12, "identical texts: cosine 1");
    tap_ok(ss__tfidf_cosine(tf, 0, 3) == 0 && ss__tfidf_cosine(tf, 3, 3) == 0, "a text without words: cosine 0");
    /* df: a 3, b 3, c 2 over N = 5: doc 4 = (0, 2 idf(b), idf(c)) */
    double ia = log(6.0 / 4) + 1, ib = ia, ic = log(6.0 / 3) + 1;
    double d0[3] = {ia, ib, 0}, d4[3] = {0, 2 * ib, ic};
    double dot = d0[1] * d4[1], n0 = sqrt(d0[0] * d0[0] + d0[1] * d0[1]), n4 = sqrt(d4[1] * d4[1] + d4[2] * d4[2]);
    tap_close(ss__tfidf_cosine(tf, 0, 4), dot / (n0 * n4), 1e-12, "tf counts repeated words");
    double row[5];
    int same = ss__tfidf_sims(tf, 4, row) == SS_OK;
    for (int j = 0; j < 5; j++) same &= fabs(row[j] - ss__tfidf_cosine(tf, 4, (size_t)j)) < 1e-12;
    tap_ok(same, "inverted-index similarities equal the pairwise cosines");
    ss__tfidf_free(tf);
}

static void test_svg(void)
{
    double first, step;
    int count;
    ss__nice_ticks(0, 1, 5, &first, &step, &count);
    tap_ok(first == 0 && fabs(step - 0.2) < 1e-15 && count == 6, "ticks of [0,1]: 0, 0.2, ... 1");
    ss__nice_ticks(0, 37, 5, &first, &step, &count);
    tap_ok(first == 0 && step == 10 && count == 4, "ticks of [0,37]: 0, 10, 20, 30");
    ss__nice_ticks(-0.33, 0.71, 5, &first, &step, &count);
    tap_ok(fabs(first + 0.2) < 1e-12 && fabs(step - 0.2) < 1e-15 && count == 5, "ticks of [-0.33,0.71]");

    ss__plot *p;
    tap_ok(ss__plot_new("ROC <a & b>", "false positive rate", "true positive rate", &p) == SS_OK, "plot_new");
    double x[] = {0, 0.5, 1}, y[] = {0, 0.8, 1};
    tap_ok(ss__plot_add(p, "model", x, y, 3, SS__PLOT_LINE) == SS_OK &&
               ss__plot_add(p, "chance", x, x, 3, SS__PLOT_LINE | SS__PLOT_DASHED | SS__PLOT_GRAY) == SS_OK,
           "two series");
    double bad[] = {0, NAN, 1};
    tap_ok(ss__plot_add(p, "bad", x, bad, 3, SS__PLOT_LINE) == SS_ERR_NUMERIC, "a NaN point is refused");
    char *svg;
    size_t n;
    tap_ok(ss__plot_svg(p, &svg, &n) == SS_OK && n == strlen(svg), "render");
    tap_ok(has(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") && has(svg, "ROC &lt;a &amp; b&gt;") &&
               has(svg, ">false positive rate</text>") && has(svg, ">model</text>") &&
               has(svg, "stroke-dasharray") && has(svg, ">0.2</text>") && !has(svg, "nan"),
           "SVG has the title (escaped), axis label, legend, ticks");
    ss_free(svg);
    char path[600];
    snprintf(path, sizeof path, "%s/p.svg", tmpdir);
    tap_ok(ss__plot_write(p, path) == SS_OK && access(path, R_OK) == 0, "plot written");
    ss__plot_free(p);
}

/* Every allocation failure is reported, never a crash or a leak. */
static void test_alloc_failures(void)
{
    const char *f = write_tmp("alloc.scored.tsv", "a man runs\ta man is running\t4\nthe cat\ta dog\t1\nx y\ty z\t2\n");
    int bad = 0, ok_seen = 0;
    for (long k = 1; k < 200 && !ok_seen; k++) {
        ss__fail_alloc_after(k);
        ss__pairs p;
        int rc = ss__pairs_load(f, SS__DATA_SCORED, &p);
        if (rc == SS_OK) {
            ss__tfidf *t;
            const char *texts[3] = {p.a[0], p.a[1], p.b[2]};
            rc = ss__tfidf_build(texts, NULL, 3, &t);
            if (rc == SS_OK) {
                double row[3], rho;
                rc = ss__tfidf_sims(t, 0, row);
                if (rc == SS_OK) rc = ss_eval_spearman(p.value, row, 3, &rho);
                ok_seen = rc == SS_OK || rc == SS_ERR_RANGE;
                ss__tfidf_free(t);
            }
            ss__pairs_free(&p);
        }
        if (rc != SS_OK && rc != SS_ERR_NOMEM && rc != SS_ERR_RANGE) bad++;
    }
    ss__fail_alloc_after(0);
    tap_ok(bad == 0 && ok_seen, "allocation failures give SS_ERR_NOMEM, then success");
}

/* The whole-file calls the trainer uses, with the baseline and a model. */
static void test_files(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", tap_srcpath("tests/data/eval-small.scored.tsv"));
    double sp = 0, pe = 0;
    size_t n = 0;
    int rc = ss_eval_sts_file(NULL, path, &sp, &pe, &n);
    /* the golden report (tests/golden/eval-baseline.txt) says 46.24 and 44.52 */
    tap_ok(rc == SS_OK && n == 16 && fabs(sp - 0.4624) < 5e-5 && fabs(pe - 0.4452) < 5e-5,
           "ss_eval_sts_file(NULL): the TF-IDF baseline (%.4f %.4f, n %zu)", sp, pe, n);
    ss_eval_pairs pc;
    rc = ss_eval_pairs_file(NULL, tap_srcpath("tests/data/eval-small.labeled.tsv"), &pc);
    tap_ok(rc == SS_OK && pc.n == 14 && pc.n_positive == 8 && fabs(pc.auc - 0.75) < 1e-12,
           "ss_eval_pairs_file(NULL) (AUC %g)", pc.auc);
    ss_eval_retrieval rt;
    rc = ss_eval_retrieval_file(NULL, tap_srcpath("tests/data/eval-small.groups.tsv"), &rt);
    tap_ok(rc == SS_OK && rt.n_queries == 8 && rt.n_docs == 24 && fabs(rt.recall_at_1 - 0.375) < 1e-12,
           "ss_eval_retrieval_file(NULL) (recall@1 %g)", rt.recall_at_1);

    const char *bad = write_tmp("bad.tsv", "a\tb\t1\nc\td\tx\n");
    rc = ss_eval_sts_file(NULL, bad, &sp, &pe, &n);
    tap_ok(rc == SS_ERR_FORMAT && has(ss_errmsg(), "bad.tsv:2: score 'x' is not a number"),
           "ss_eval_sts_file: file:line error whatever the name (%s)", ss_errmsg());
    const char *ones = write_tmp("ones.tsv", "a b\ta c\t1\nd\te\t1\n");
    rc = ss_eval_pairs_file(NULL, ones, &pc);
    tap_ok(rc == SS_ERR_RANGE && has(ss_errmsg(), "ones.tsv: pair classification needs labels 0 and 1"),
           "ss_eval_pairs_file: reads labels, one class is SS_ERR_RANGE (%s)", ss_errmsg());
    const char *flat = write_tmp("flat.tsv", "a b\tc d\t1\ne\tf\t2\n");
    rc = ss_eval_sts_file(NULL, flat, &sp, &pe, &n);
    tap_ok(rc == SS_ERR_RANGE && has(ss_errmsg(), "every similarity is 0"),
           "ss_eval_sts_file: constant similarities are SS_ERR_RANGE (%s)", ss_errmsg());
    const char *empty = write_tmp("empty.tsv", "");
    rc = ss_eval_retrieval_file(NULL, empty, &rt);
    tap_ok(rc == SS_ERR_FORMAT && has(ss_errmsg(), "empty.tsv: no groups"), "ss_eval_retrieval_file: empty file");

    /* a small random model: the file call equals ss_embed + ss_eval_spearman */
    ss_tokenizer *tok;
    if (ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok) != SS_OK) {
        tap_ok(1, "# SKIP model checks: no vocab/en-16k.model");
        return;
    }
    ss_config c;
    ss_config_init(&c);
    c.d_model = 32;
    c.n_layers = 1;
    c.n_heads = 2;
    c.d_ff = 64;
    ss_model *m = NULL;
    rc = ss_model_init(&c, tok, 7, &m);
    tap_ok(rc == SS_OK, "a small random model");
    if (rc == SS_OK) {
        rc = ss_eval_sts_file(m, path, &sp, &pe, &n);
        tap_ok(rc == SS_OK && n == 16, "ss_eval_sts_file with a model");
        ss__pairs p;
        double *sim = NULL, rho = 0, r = 0;
        float *ea = NULL, *eb = NULL;
        if (ss__pairs_load(path, SS__DATA_SCORED, &p) == SS_OK) {
            sim = malloc(p.n * sizeof *sim);
            ea = malloc(p.n * 32 * sizeof *ea);
            eb = malloc(p.n * 32 * sizeof *eb);
            if (sim && ea && eb && ss_embed(m, p.a, p.alen, p.n, 0, ea) == SS_OK &&
                ss_embed(m, p.b, p.blen, p.n, 0, eb) == SS_OK) {
                for (size_t i = 0; i < p.n; i++) {
                    double d = 0;
                    for (int j = 0; j < 32; j++) d += (double)ea[i * 32 + j] * eb[i * 32 + j];
                    sim[i] = (float)d;
                }
                if (ss_eval_spearman(sim, p.value, p.n, &rho) || ss_eval_pearson(sim, p.value, p.n, &r)) rho = r = 9;
            }
            ss__pairs_free(&p);
        }
        tap_ok(rho == sp && r == pe, "= cosines of ss_embed vectors, scored by ss_eval_spearman (%g %g)", rho, r);
        free(sim);
        free(ea);
        free(eb);
        rc = ss_eval_retrieval_file(m, tap_srcpath("tests/data/eval-small.groups.tsv"), &rt);
        tap_ok(rc == SS_OK && rt.n_queries == 8 && rt.recall_at_10 >= 0 && rt.recall_at_10 <= 1,
               "ss_eval_retrieval_file with a model");
        rc = ss_eval_pairs_file(m, tap_srcpath("tests/data/eval-small.labeled.tsv"), &pc);
        tap_ok(rc == SS_OK && pc.auc >= 0 && pc.auc <= 1, "ss_eval_pairs_file with a model");
    }
    ss_model_free(m);
    ss_tokenizer_free(tok);
}

/* ------------------------------------------------------------ check mode */

/* `eval --check TASK < data` prints our metrics for data that
 * tests/eval_ref.py generated, to compare with scipy/scikit-learn. */
static void print_val(const char *name, int rc, double v)
{
    if (rc) printf("%s error:%d\n", name, rc);
    else printf("%s %.17g\n", name, v);
}

static int check_mode(const char *task)
{
    size_t n = 0, cap = 1024;
    double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
    if (!x || !y) return 1;
    if (!strcmp(task, "corr") || !strcmp(task, "pairs")) {
        while (scanf("%lf %lf", &x[n], &y[n]) == 2) {
            if (++n == cap) {
                cap *= 2;
                x = realloc(x, cap * sizeof *x);
                y = realloc(y, cap * sizeof *y);
                if (!x || !y) return 1;
            }
        }
        if (!strcmp(task, "corr")) {
            double r;
            int rc = ss_eval_pearson(x, y, n, &r);
            print_val("pearson", rc, r);
            rc = ss_eval_spearman(x, y, n, &r);
            print_val("spearman", rc, r);
        } else {
            int *l = malloc((n ? n : 1) * sizeof *l);
            if (!l) return 1;
            for (size_t i = 0; i < n; i++) l[i] = (int)y[i];
            double v, t, p, r;
            int rc = ss_eval_auc(x, l, n, &v);
            print_val("auc", rc, v);
            rc = ss_eval_average_precision(x, l, n, &v);
            print_val("average_precision", rc, v);
            rc = ss_eval_best_accuracy(x, l, n, &v, &t);
            print_val("accuracy", rc, v);
            print_val("accuracy_threshold", rc, t);
            rc = ss_eval_best_f1(x, l, n, &v, &p, &r, &t);
            print_val("f1", rc, v);
            print_val("precision", rc, p);
            print_val("recall", rc, r);
            print_val("f1_threshold", rc, t);
            free(l);
        }
    } else if (!strcmp(task, "retrieval")) {
        /* nq nd, the (nq, nd) similarities, then per query: skip (-1: none) nrel rel... */
        size_t nq, nd;
        if (scanf("%zu %zu", &nq, &nd) != 2) return 1;
        float *sim = malloc(nq * nd * sizeof *sim);
        size_t *start = malloc((nq + 1) * sizeof *start), *skip = malloc(nq * sizeof *skip);
        size_t *rel = malloc(nq * nd * sizeof *rel);
        if (!sim || !start || !skip || !rel) return 1;
        for (size_t i = 0; i < nq * nd; i++)
            if (scanf("%f", &sim[i]) != 1) return 1;
        start[0] = 0;
        for (size_t q = 0; q < nq; q++) {
            long sk;
            size_t nr;
            if (scanf("%ld %zu", &sk, &nr) != 2) return 1;
            skip[q] = sk < 0 ? SIZE_MAX : (size_t)sk;
            for (size_t j = 0; j < nr; j++)
                if (scanf("%zu", &rel[start[q] + j]) != 1) return 1;
            start[q + 1] = start[q] + nr;
        }
        ss_eval_retrieval r;
        int rc = ss_eval_retrieval_matrix(sim, nq, nd, start, rel, skip, &r);
        print_val("recall_at_1", rc, r.recall_at_1);
        print_val("recall_at_5", rc, r.recall_at_5);
        print_val("recall_at_10", rc, r.recall_at_10);
        print_val("mrr_at_10", rc, r.mrr_at_10);
        print_val("ndcg_at_10", rc, r.ndcg_at_10);
        free(sim);
        free(start);
        free(skip);
        free(rel);
    } else if (!strcmp(task, "tfidf")) {
        /* one text a line; prints the (n, n) cosine matrix */
        char **texts = malloc(4096 * sizeof *texts), line[4096];
        size_t nt = 0;
        while (nt < 4096 && fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\n")] = '\0';
            texts[nt++] = strdup(line);
        }
        ss__tfidf *t;
        int rc = ss__tfidf_build((const char *const *)texts, NULL, nt, &t);
        if (rc) printf("error:%d\n", rc);
        for (size_t i = 0; i < nt && !rc; i++)
            for (size_t j = 0; j < nt; j++) printf("%.17g%c", ss__tfidf_cosine(t, i, j), j + 1 < nt ? ' ' : '\n');
        if (!rc) ss__tfidf_free(t);
        for (size_t i = 0; i < nt; i++) free(texts[i]);
        free(texts);
    } else {
        fprintf(stderr, "unknown check task %s\n", task);
        return 2;
    }
    free(x);
    free(y);
    return 0;
}

/* ss_eval_file, what `semsearch eval` does with a file: the task from the
 * name, the baseline equal to the single-metric file calls, plot curves. */
static void test_eval_file(void)
{
    ss_eval_task t = SS_EVAL_TASK_NONE;
    int rc = ss_eval_task_of("x.scored.tsv.gz", SS_EVAL_TASK_NONE, &t);
    tap_ok(rc == SS_OK && t == SS_EVAL_TASK_STS, "ss_eval_task_of: *.scored.tsv.gz is STS");
    rc = ss_eval_task_of("x.labeled.tsv", SS_EVAL_TASK_NONE, &t);
    tap_ok(rc == SS_OK && t == SS_EVAL_TASK_PAIRS, "ss_eval_task_of: *.labeled.tsv is pairs");
    rc = ss_eval_task_of("x.groups.tsv", SS_EVAL_TASK_NONE, &t);
    tap_ok(rc == SS_OK && t == SS_EVAL_TASK_GROUPS, "ss_eval_task_of: *.groups.tsv is groups");
    rc = ss_eval_task_of("no-such-file.tsv", SS_EVAL_TASK_NONE, &t);
    tap_ok(rc == SS_OK && t == SS_EVAL_TASK_NONE, "ss_eval_task_of: a plain name tells nothing");
    rc = ss_eval_task_of("no-such-file.tsv", SS_EVAL_TASK_PAIRS, &t);
    tap_ok(rc == SS_OK && t == SS_EVAL_TASK_PAIRS, "ss_eval_task_of: a forced task");
    rc = ss_eval_task_of(tap_srcpath("tests/data/ir-small.queries.tsv"), SS_EVAL_TASK_NONE, &t);
    tap_ok(rc == SS_OK && t == SS_EVAL_TASK_IR, "ss_eval_task_of: NAME.queries.tsv is queries/corpus/qrels");

    ss_eval_file_options o;
    ss_eval_file_options_init(&o);
    o.baseline = 1;
    o.curves = 1;
    ss_eval_file_result r;
    rc = ss_eval_file(NULL, tap_srcpath("tests/data/eval-small.scored.tsv"), &o, &r);
    double sp = 0, pe = 0;
    size_t n = 0;
    int rc2 = ss_eval_sts_file(NULL, tap_srcpath("tests/data/eval-small.scored.tsv"), &sp, &pe, &n);
    tap_ok(rc == SS_OK && rc2 == SS_OK && r.task == SS_EVAL_TASK_STS && r.n == 16 && !r.has[SS_EVAL_SYS_MODEL] &&
               r.has[SS_EVAL_SYS_TFIDF] && r.spearman[SS_EVAL_SYS_TFIDF] == sp &&
               r.pearson[SS_EVAL_SYS_TFIDF] == pe && r.curve[SS_EVAL_SYS_TFIDF].n == 16,
           "ss_eval_file(NULL, STS, baseline) equals ss_eval_sts_file, with its scatter");
    ss_eval_file_result_free(&r);
    tap_ok(r.curve[SS_EVAL_SYS_TFIDF].x == NULL && r.n == 0, "ss_eval_file_result_free zeroes the result");
    ss_eval_file_result_free(NULL);

    rc = ss_eval_file(NULL, tap_srcpath("tests/data/eval-small.labeled.tsv"), &o, &r);
    tap_ok(rc == SS_OK && r.task == SS_EVAL_TASK_PAIRS && r.n == 14 && r.n_positive == 8 &&
               fabs(r.pairs[SS_EVAL_SYS_TFIDF].auc - 0.75) < 1e-12 && r.curve[SS_EVAL_SYS_TFIDF].n >= 2 &&
               r.curve[SS_EVAL_SYS_TFIDF].x[0] == 0 && r.curve[SS_EVAL_SYS_TFIDF].y[0] == 0,
           "ss_eval_file(NULL, pairs, baseline): AUC and the ROC curve from (0,0)");
    ss_eval_file_result_free(&r);
    rc = ss_eval_file(NULL, tap_srcpath("tests/data/eval-small.groups.tsv"), &o, &r);
    tap_ok(rc == SS_OK && r.task == SS_EVAL_TASK_GROUPS && r.n == 8 && r.n_texts == 24 &&
               fabs(r.retrieval[SS_EVAL_SYS_TFIDF].recall_at_1 - 0.375) < 1e-12 &&
               r.curve[SS_EVAL_SYS_TFIDF].n == 10 && r.curve[SS_EVAL_SYS_TFIDF].y[0] == 0.375,
           "ss_eval_file(NULL, groups, baseline): recall@1 and the recall@k curve");
    ss_eval_file_result_free(&r);

    const char *bad = write_tmp("badfile.scored.tsv", "a\tb\t1\nc\td\tx\n");
    rc = ss_eval_file(NULL, bad, &o, &r);
    tap_ok(rc == SS_ERR_FORMAT && has(ss_errmsg(), "badfile.scored.tsv:2: score 'x' is not a number"),
           "ss_eval_file: file:line errors (%s)", ss_errmsg());
    ss_eval_file_result_free(&r);
    rc = ss_eval_file(NULL, "no-such-file.tsv", NULL, &r);
    tap_ok(rc == SS_ERR_ARG, "ss_eval_file: a file whose task nothing tells is SS_ERR_ARG");
    ss_eval_file_result_free(&r);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--check")) return check_mode(argv[2]);
    if (!mkdtemp(tmpdir)) return 1;
    test_correlations();
    test_pairs();
    test_retrieval();
    test_datafile();
    test_tfidf();
    test_svg();
    test_files();
    test_eval_file();
    test_alloc_failures();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) tap_diag("could not remove %s", tmpdir);
    return tap_done();
}
