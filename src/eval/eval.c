/* eval.c: evaluation metrics on plain arrays. Definitions follow SentEval,
 * MTEB and scikit-learn, except where those return NaN or depend on input
 * order (ties): here ties are handled explicitly and undefined metrics are
 * errors. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "eval/eval.h"

static int check_finite(const double *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ss__fail(SS_ERR_NUMERIC, "%s[%zu] is not a finite number", what, i);
    return SS_OK;
}

static int constant(const double *x, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0]) return 0;
    return 1;
}

/* ------------------------------------------------------------ correlations */

/* What both correlations require of their arguments. */
static int check_correlation_args(const char *fn, const double *x, const double *y, size_t n, const double *out)
{
    if (!x || !y || !out) return ss__fail(SS_ERR_ARG, "%s: NULL argument", fn);
    if (n < 2) return ss__fail(SS_ERR_RANGE, "correlation needs 2 or more pairs, got %zu", n);
    int rc;
    if ((rc = check_finite(x, n, "x")) || (rc = check_finite(y, n, "y"))) return rc;
    /* compared exactly: a mean of equal values need not equal them */
    if (constant(x, n) || constant(y, n))
        return ss__fail(SS_ERR_RANGE, "correlation undefined: the %s values are all equal (%g)",
                        constant(x, n) ? "first" : "second", constant(x, n) ? x[0] : y[0]);
    return SS_OK;
}

int ss_eval_pearson(const double *x, const double *y, size_t n, double *r)
{
    int rc = check_correlation_args("ss_eval_pearson", x, y, n, r);
    if (rc) return rc;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (!(sxx > 0) || !(syy > 0))
        return ss__fail(SS_ERR_RANGE, "correlation undefined: no variance");
    /* sqrt of the product is exact more often (a line gives exactly 1) */
    double den = sxx * syy;
    den = isfinite(den) && den > 0 ? sqrt(den) : sqrt(sxx) * sqrt(syy);
    double v = sxy / den;
    if (!isfinite(v)) return ss__fail(SS_ERR_NUMERIC, "correlation overflowed");
    *r = v > 1 ? 1 : v < -1 ? -1 : v;
    ss__clear_error();
    return SS_OK;
}

typedef struct {
    double v;
    size_t i;
} keyed;

static int keyed_asc(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return p->i < q->i ? -1 : p->i > q->i; /* stable: qsort is not */
}

int ss__ranks(const double *x, size_t n, double *rank)
{
    keyed *k = ss__malloc(n * sizeof *k);
    if (!k) return ss__fail(SS_ERR_NOMEM, "out of memory ranking %zu values", n);
    for (size_t i = 0; i < n; i++) k[i].v = x[i], k[i].i = i;
    qsort(k, n, sizeof *k, keyed_asc);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && k[j].v == k[i].v) j++;
        /* positions i..j-1 (0-based) share rank ((i+1) + j) / 2 */
        double avg = ((double)(i + 1) + (double)j) / 2.0;
        for (size_t t = i; t < j; t++) rank[k[t].i] = avg;
        i = j;
    }
    ss_free(k);
    return SS_OK;
}

int ss_eval_spearman(const double *x, const double *y, size_t n, double *rho)
{
    int rc = check_correlation_args("ss_eval_spearman", x, y, n, rho);
    if (rc) return rc;
    double *rx = ss__malloc(n * sizeof *rx), *ry = ss__malloc(n * sizeof *ry);
    if (!rx || !ry) {
        ss_free(rx);
        ss_free(ry);
        return ss__fail(SS_ERR_NOMEM, "out of memory ranking %zu values", n);
    }
    rc = ss__ranks(x, n, rx);
    if (!rc) rc = ss__ranks(y, n, ry);
    if (!rc) rc = ss_eval_pearson(rx, ry, n, rho);
    ss_free(rx);
    ss_free(ry);
    return rc;
}

/* ------------------------------------------------------ pair classification */

/* Scores sorted from high to low, cut into runs of equal scores: run g has
 * pos[g] positives and neg[g] negatives, score val[g]. */
typedef struct {
    size_t n_runs, P, N;
    double *val;
    size_t *pos, *neg;
} runs;

static void runs_free(runs *r)
{
    ss_free(r->val);
    ss_free(r->pos);
    ss_free(r->neg);
}

static int keyed_desc(const void *a, const void *b) { return keyed_asc(b, a); }

static int make_runs(const double *score, const int *label, size_t n, runs *r)
{
    memset(r, 0, sizeof *r);
    if (!score || !label) return ss__fail(SS_ERR_ARG, "NULL scores or labels");
    if (n == 0) return ss__fail(SS_ERR_RANGE, "no pairs");
    int rc = check_finite(score, n, "score");
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1)
            return ss__fail(SS_ERR_ARG, "label[%zu] is %d, not 0 or 1", i, label[i]);
        r->P += label[i] == 1;
    }
    r->N = n - r->P;
    keyed *k = ss__malloc(n * sizeof *k);
    r->val = ss__malloc(n * sizeof *r->val);
    r->pos = ss__calloc(n, sizeof *r->pos);
    r->neg = ss__calloc(n, sizeof *r->neg);
    if (!k || !r->val || !r->pos || !r->neg) {
        ss_free(k);
        runs_free(r);
        return ss__fail(SS_ERR_NOMEM, "out of memory sorting %zu scores", n);
    }
    for (size_t i = 0; i < n; i++) k[i].v = score[i], k[i].i = i;
    qsort(k, n, sizeof *k, keyed_desc);
    size_t g = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && k[i].v != k[i - 1].v) g++;
        r->val[g] = k[i].v;
        if (label[k[i].i]) r->pos[g]++;
        else r->neg[g]++;
    }
    r->n_runs = g + 1;
    ss_free(k);
    return SS_OK;
}

/* A threshold t with lo < t <= hi: scores >= t are the runs down to hi. */
static double between(double hi, double lo)
{
    double mid = lo + (hi - lo) / 2;
    return mid > lo && mid <= hi ? mid : hi;
}

/* Threshold that predicts 1 for runs 0..g (g = -1: none). */
static double cut_threshold(const runs *r, long g)
{
    if (g < 0) return nextafter(r->val[0], INFINITY);
    if ((size_t)g + 1 == r->n_runs) return r->val[g];
    return between(r->val[g], r->val[g + 1]);
}

int ss_eval_auc(const double *score, const int *label, size_t n, double *auc)
{
    if (!auc) return ss__fail(SS_ERR_ARG, "ss_eval_auc: NULL argument");
    runs r;
    int rc = make_runs(score, label, n, &r);
    if (rc) return rc;
    if (r.P == 0 || r.N == 0) {
        rc = ss__fail(SS_ERR_RANGE, "AUC undefined: all %zu labels are %d (both classes needed)", n,
                      r.P ? 1 : 0);
        runs_free(&r);
        return rc;
    }
    /* each negative beats no positive above it and ties with its run's positives */
    double s = 0;
    size_t tp = 0;
    for (size_t g = 0; g < r.n_runs; g++) {
        s += (double)r.neg[g] * ((double)tp + (double)r.pos[g] / 2.0);
        tp += r.pos[g];
    }
    *auc = s / ((double)r.P * (double)r.N);
    runs_free(&r);
    ss__clear_error();
    return SS_OK;
}

int ss_eval_average_precision(const double *score, const int *label, size_t n, double *ap)
{
    if (!ap) return ss__fail(SS_ERR_ARG, "ss_eval_average_precision: NULL argument");
    runs r;
    int rc = make_runs(score, label, n, &r);
    if (rc) return rc;
    if (r.P == 0) {
        runs_free(&r);
        return ss__fail(SS_ERR_RANGE, "average precision undefined: no positive label among %zu", n);
    }
    double s = 0;
    size_t tp = 0, fp = 0;
    for (size_t g = 0; g < r.n_runs; g++) {
        tp += r.pos[g];
        fp += r.neg[g];
        s += (double)r.pos[g] / (double)r.P * ((double)tp / (double)(tp + fp));
    }
    *ap = s;
    runs_free(&r);
    ss__clear_error();
    return SS_OK;
}

int ss_eval_best_accuracy(const double *score, const int *label, size_t n, double *accuracy,
                          double *threshold)
{
    if (!accuracy) return ss__fail(SS_ERR_ARG, "ss_eval_best_accuracy: NULL argument");
    runs r;
    int rc = make_runs(score, label, n, &r);
    if (rc) return rc;
    /* from "all 0" down to "all 1": correct = true positives + true negatives */
    size_t tp = 0, fp = 0, best = r.N;
    long best_g = -1;
    for (size_t g = 0; g < r.n_runs; g++) {
        tp += r.pos[g];
        fp += r.neg[g];
        size_t correct = tp + (r.N - fp);
        if (correct > best) best = correct, best_g = (long)g;
    }
    *accuracy = (double)best / (double)n;
    if (threshold) *threshold = cut_threshold(&r, best_g);
    runs_free(&r);
    ss__clear_error();
    return SS_OK;
}

int ss_eval_best_f1(const double *score, const int *label, size_t n, double *f1, double *precision,
                    double *recall, double *threshold)
{
    if (!f1) return ss__fail(SS_ERR_ARG, "ss_eval_best_f1: NULL argument");
    runs r;
    int rc = make_runs(score, label, n, &r);
    if (rc) return rc;
    if (r.P == 0) {
        runs_free(&r);
        return ss__fail(SS_ERR_RANGE, "F1 undefined: no positive label among %zu", n);
    }
    /* F1 = 2tp / (2tp + fp + fn); "all 0" gives 0, so start there */
    size_t tp = 0, fp = 0, btp = 0, bfp = 0;
    double best = 0;
    long best_g = -1;
    for (size_t g = 0; g < r.n_runs; g++) {
        tp += r.pos[g];
        fp += r.neg[g];
        double v = 2.0 * (double)tp / (double)(2 * tp + fp + (r.P - tp));
        if (v > best) best = v, best_g = (long)g, btp = tp, bfp = fp;
    }
    *f1 = best;
    if (precision) *precision = btp + bfp ? (double)btp / (double)(btp + bfp) : 0;
    if (recall) *recall = (double)btp / (double)r.P;
    if (threshold) *threshold = cut_threshold(&r, best_g);
    runs_free(&r);
    ss__clear_error();
    return SS_OK;
}

int ss_eval_pair_classification(const double *score, const int *label, size_t n,
                                ss_eval_pairs *out)
{
    if (!out) return ss__fail(SS_ERR_ARG, "ss_eval_pair_classification: NULL argument");
    memset(out, 0, sizeof *out);
    ss_eval_pairs o = {0};
    int rc;
    if ((rc = ss_eval_auc(score, label, n, &o.auc)) ||
        (rc = ss_eval_average_precision(score, label, n, &o.average_precision)) ||
        (rc = ss_eval_best_accuracy(score, label, n, &o.accuracy, &o.accuracy_threshold)) ||
        (rc = ss_eval_best_f1(score, label, n, &o.f1, &o.precision, &o.recall, &o.f1_threshold)))
        return rc;
    o.n = n;
    for (size_t i = 0; i < n; i++) o.n_positive += label[i] == 1;
    *out = o;
    return SS_OK;
}

int ss__eval_roc(const double *score, const int *label, size_t n, double **fpr, double **tpr,
                 size_t *np)
{
    *fpr = *tpr = NULL;
    *np = 0;
    runs r;
    int rc = make_runs(score, label, n, &r);
    if (rc) return rc;
    if (r.P == 0 || r.N == 0) {
        runs_free(&r);
        return ss__fail(SS_ERR_RANGE, "ROC curve undefined: only one class");
    }
    double *x = ss__malloc((r.n_runs + 1) * sizeof *x), *y = ss__malloc((r.n_runs + 1) * sizeof *y);
    if (!x || !y) {
        ss_free(x);
        ss_free(y);
        runs_free(&r);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    size_t tp = 0, fp = 0;
    x[0] = y[0] = 0;
    for (size_t g = 0; g < r.n_runs; g++) {
        tp += r.pos[g];
        fp += r.neg[g];
        x[g + 1] = (double)fp / (double)r.N;
        y[g + 1] = (double)tp / (double)r.P;
    }
    *fpr = x;
    *tpr = y;
    *np = r.n_runs + 1;
    runs_free(&r);
    return SS_OK;
}

/* ------------------------------------------------------------------ retrieval */

int ss__retrieval_acc_init(ss__retrieval_acc *a, size_t nd)
{
    memset(a, 0, sizeof *a);
    a->nd = nd;
    if (nd) {
        a->is_rel = ss__calloc(nd, 1);
        if (!a->is_rel) return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    return SS_OK;
}

void ss__retrieval_acc_free(ss__retrieval_acc *a)
{
    if (!a) return;
    ss_free(a->is_rel);
    a->is_rel = NULL;
}

int ss__retrieval_acc_ranked(ss__retrieval_acc *a, const unsigned char *rel, size_t k,
                             size_t n_relevant)
{
    if (n_relevant == 0) return ss__fail(SS_ERR_RANGE, "query %zu has no relevant document", a->nq);
    size_t hits = 0, top = SS_MIN(k, (size_t)SS__RETR_K);
    double dcg = 0, idcg = 0, rr = 0;
    for (size_t r = 0; r < k; r++) {
        if (rel[r] > 1) return ss__fail(SS_ERR_ARG, "relevance %d is not 0 or 1", rel[r]);
        if (!rel[r]) continue;
        if (++hits > n_relevant)
            return ss__fail(SS_ERR_ARG, "query %zu: more relevant documents ranked than the %zu it has",
                            a->nq, n_relevant);
        if (r < top) {
            dcg += 1.0 / log2((double)r + 2.0);
            if (rr == 0) rr = 1.0 / (double)(r + 1);
        }
    }
    for (size_t r = 0; r < SS_MIN(n_relevant, (size_t)SS__RETR_K); r++) idcg += 1.0 / log2((double)r + 2.0);
    hits = 0;
    for (size_t j = 0; j < SS__RETR_K; j++) {
        if (j < k && rel[j]) hits++;
        a->recall_sum[j] += (double)hits / (double)n_relevant;
    }
    a->mrr_sum += rr;
    a->ndcg_sum += dcg / idcg;
    a->nq++;
    return SS_OK;
}

typedef struct {
    float s;
    unsigned char rel;
    size_t d;
} ranked_doc;

/* a ranks before b: higher score; on a tie the non-relevant one, then the lower index */
static int before(float s, unsigned char rel, size_t d, const ranked_doc *b)
{
    if (s != b->s) return s > b->s;
    if (rel != b->rel) return rel < b->rel;
    return d < b->d;
}

int ss__retrieval_acc_row(ss__retrieval_acc *a, const float *row, const size_t *rel, size_t nrel,
                          size_t skip)
{
    size_t nd = a->nd;
    int rc = SS_OK;
    for (size_t i = 0; i < nrel; i++) {
        if (rel[i] >= nd || rel[i] == skip) {
            rc = ss__fail(SS_ERR_ARG, "query %zu: relevant document %zu is out of range or skipped",
                          a->nq, rel[i]);
            break;
        }
        a->is_rel[rel[i]] = 1;
    }
    /* count distinct relevant documents (a list may repeat one) */
    size_t n_relevant = 0;
    for (size_t i = 0; i < nrel && !rc; i++)
        if (a->is_rel[rel[i]] == 1) a->is_rel[rel[i]] = 2, n_relevant++;
    for (size_t i = 0; i < nrel && !rc; i++) a->is_rel[rel[i]] = 1;

    ranked_doc top[SS__RETR_K];
    size_t nt = 0;
    for (size_t d = 0; d < nd && !rc; d++) {
        if (d == skip) continue;
        float s = row[d];
        if (!isfinite(s)) {
            rc = ss__fail(SS_ERR_NUMERIC, "query %zu: similarity to document %zu is not finite", a->nq, d);
            break;
        }
        unsigned char r = a->is_rel[d];
        if (nt == SS__RETR_K && !before(s, r, d, &top[nt - 1])) continue;
        size_t p = nt < SS__RETR_K ? nt++ : nt - 1; /* the last one drops out */
        while (p > 0 && before(s, r, d, &top[p - 1])) {
            top[p] = top[p - 1];
            p--;
        }
        top[p] = (ranked_doc){s, r, d};
    }
    if (!rc) {
        unsigned char flags[SS__RETR_K] = {0};
        for (size_t i = 0; i < nt; i++) flags[i] = top[i].rel;
        rc = ss__retrieval_acc_ranked(a, flags, nt, n_relevant);
    }
    for (size_t i = 0; i < nrel; i++)
        if (rel[i] < nd) a->is_rel[rel[i]] = 0;
    return rc;
}

int ss__retrieval_acc_result(const ss__retrieval_acc *a, ss_eval_retrieval *out,
                             double *recall_curve)
{
    memset(out, 0, sizeof *out);
    if (a->nq == 0) return ss__fail(SS_ERR_RANGE, "retrieval metrics undefined: no queries");
    double q = (double)a->nq;
    out->n_queries = a->nq;
    out->n_docs = a->nd;
    out->recall_at_1 = a->recall_sum[0] / q;
    out->recall_at_5 = a->recall_sum[4] / q;
    out->recall_at_10 = a->recall_sum[9] / q;
    out->mrr_at_10 = a->mrr_sum / q;
    out->ndcg_at_10 = a->ndcg_sum / q;
    if (recall_curve)
        for (int k = 0; k < SS__RETR_K; k++) recall_curve[k] = a->recall_sum[k] / q;
    return SS_OK;
}

int ss_eval_ranked(const unsigned char *rel, size_t nq, size_t k, const size_t *n_relevant,
                   ss_eval_retrieval *out)
{
    if (!out || (nq && (!rel || !n_relevant))) return ss__fail(SS_ERR_ARG, "ss_eval_ranked: NULL argument");
    memset(out, 0, sizeof *out);
    ss__retrieval_acc a;
    int rc = ss__retrieval_acc_init(&a, 0);
    for (size_t q = 0; q < nq && !rc; q++) rc = ss__retrieval_acc_ranked(&a, rel + q * k, k, n_relevant[q]);
    if (!rc) rc = ss__retrieval_acc_result(&a, out, NULL);
    out->n_docs = 0; /* unknown from ranked lists */
    ss__retrieval_acc_free(&a);
    if (!rc) ss__clear_error();
    return rc;
}

int ss_eval_retrieval_matrix(const float *sim, size_t nq, size_t nd, const size_t *rel_start,
                             const size_t *relevant, const size_t *skip, ss_eval_retrieval *out)
{
    if (!out || (nq && (!sim || !rel_start || !relevant)))
        return ss__fail(SS_ERR_ARG, "ss_eval_retrieval_matrix: NULL argument");
    memset(out, 0, sizeof *out);
    ss__retrieval_acc a;
    int rc = ss__retrieval_acc_init(&a, nd);
    for (size_t q = 0; q < nq && !rc; q++) {
        if (rel_start[q + 1] < rel_start[q]) {
            rc = ss__fail(SS_ERR_ARG, "rel_start is not ascending at query %zu", q);
            break;
        }
        rc = ss__retrieval_acc_row(&a, sim + q * nd, relevant + rel_start[q],
                                   rel_start[q + 1] - rel_start[q], skip ? skip[q] : SIZE_MAX);
    }
    if (!rc) rc = ss__retrieval_acc_result(&a, out, NULL);
    ss__retrieval_acc_free(&a);
    if (!rc) ss__clear_error();
    return rc;
}
