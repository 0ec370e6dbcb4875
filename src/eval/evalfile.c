/* evalfile.c: whole-file evaluation. Embeddings are L2-normalized, so a
 * cosine is a dot product; retrieval computes similarities one block of
 * queries at a time (cblas_sgemm), never the whole queries x texts matrix. */
#include "config.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "eval/eval.h"
#include "eval/evalfile.h"
#include "eval/tfidf.h"

/* Embeds n texts into a new (n, dim) array. */
static int embed_all(ss_model *m, const char *const *texts, const size_t *lens, size_t n,
                     float **out, size_t *dim_out)
{
    *out = NULL;
    int dim = ss_model_dim(m);
    if (dim <= 0) return ss__fail(SS_ERR_MODEL, "model has no dimension");
    if (n > SIZE_MAX / sizeof(float) / (size_t)dim) return ss__fail(SS_ERR_NOMEM, "too many texts");
    float *e = ss__malloc(n * (size_t)dim * sizeof *e);
    if (!e) return ss__fail(SS_ERR_NOMEM, "out of memory for %zu embeddings", n);
    int rc = ss_embed(m, texts, lens, n, 0, e);
    if (rc) {
        ss_free(e);
        return rc;
    }
    *out = e;
    *dim_out = (size_t)dim;
    return SS_OK;
}

/* Similarities are kept at single precision, as the model's vectors are:
 * two pairs of identical texts then both score exactly 1, instead of
 * 1 - 2e-16 and 1 + 2e-16, which would rank one above the other by
 * rounding noise alone. */
int ss__pairs_sims(ss_model *m, const ss__pairs *p, double *sim)
{
    size_t n = p->n;
    int rc;
    if (m) {
        float *ea = NULL, *eb = NULL;
        size_t dim = 0;
        if ((rc = embed_all(m, p->a, p->alen, n, &ea, &dim)) ||
            (rc = embed_all(m, p->b, p->blen, n, &eb, &dim))) {
            ss_free(ea);
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < dim; j++) s += (double)ea[i * dim + j] * eb[i * dim + j];
            sim[i] = (float)s;
        }
        ss_free(ea);
        ss_free(eb);
        return SS_OK;
    }
    /* baseline: the 2n sentences are the documents of the idf */
    const char **texts = ss__malloc(2 * n * sizeof *texts);
    size_t *lens = ss__malloc(2 * n * sizeof *lens);
    if (!texts || !lens) {
        ss_free(texts);
        ss_free(lens);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    memcpy(texts, p->a, n * sizeof *texts);
    memcpy(texts + n, p->b, n * sizeof *texts);
    memcpy(lens, p->alen, n * sizeof *lens);
    memcpy(lens + n, p->blen, n * sizeof *lens);
    ss__tfidf *t;
    rc = ss__tfidf_build(texts, lens, 2 * n, &t);
    if (!rc)
        for (size_t i = 0; i < n; i++) sim[i] = (float)ss__tfidf_cosine(t, i, n + i);
    ss__tfidf_free(t);
    ss_free(texts);
    ss_free(lens);
    return rc;
}

#define QUERY_BLOCK 64

int ss__groups_retrieval(ss_model *m, const ss__groups *g, ss_eval_retrieval *out,
                         double *recall_curve)
{
    size_t nd = g->n_texts, ng = g->n_groups;
    ss__retrieval_acc acc;
    int rc = ss__retrieval_acc_init(&acc, nd);
    if (rc) return rc;
    size_t *rel = NULL;
    float *emb = NULL, *q = NULL, *rows = NULL;
    double *drow = NULL;
    ss__tfidf *t = NULL;
    size_t dim = 0, max_rel = 0;
    for (size_t k = 0; k < ng; k++) max_rel = SS_MAX(max_rel, g->start[k + 1] - g->start[k]);
    rel = ss__malloc(max_rel * sizeof *rel);
    if (!rel) {
        rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (m) {
        if (nd > INT_MAX) { /* cblas takes int sizes */
            rc = ss__fail(SS_ERR_RANGE, "%zu texts: too many for one retrieval evaluation", nd);
            goto done;
        }
        if ((rc = embed_all(m, g->text, g->len, nd, &emb, &dim))) goto done;
        if (nd > SIZE_MAX / sizeof(float) / QUERY_BLOCK) {
            rc = ss__fail(SS_ERR_NOMEM, "too many texts");
            goto done;
        }
        q = ss__malloc(QUERY_BLOCK * dim * sizeof *q);
        rows = ss__malloc(QUERY_BLOCK * nd * sizeof *rows);
        if (!q || !rows) {
            rc = ss__fail(SS_ERR_NOMEM, "out of memory for %d x %zu similarities", QUERY_BLOCK, nd);
            goto done;
        }
    } else {
        if ((rc = ss__tfidf_build(g->text, g->len, nd, &t))) goto done;
        drow = ss__malloc(nd * sizeof *drow);
        rows = ss__malloc(nd * sizeof *rows);
        if (!drow || !rows) {
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    for (size_t b0 = 0; b0 < ng && !rc; b0 += QUERY_BLOCK) {
        size_t bn = SS_MIN((size_t)QUERY_BLOCK, ng - b0);
        if (m) {
            for (size_t k = 0; k < bn; k++)
                memcpy(q + k * dim, emb + g->start[b0 + k] * dim, dim * sizeof *q);
            /* rows (bn, nd) = q (bn, dim) . emb (nd, dim)^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bn, (int)nd, (int)dim, 1.0f, q,
                        (int)dim, emb, (int)dim, 0.0f, rows, (int)nd);
        }
        for (size_t k = 0; k < bn && !rc; k++) {
            size_t grp = b0 + k, qi = g->start[grp], nrel = 0;
            for (size_t d = qi + 1; d < g->start[grp + 1]; d++) rel[nrel++] = d;
            float *row = rows + (m ? k * nd : 0);
            if (!m) {
                if ((rc = ss__tfidf_sims(t, qi, drow))) break;
                for (size_t d = 0; d < nd; d++) row[d] = (float)drow[d];
            }
            rc = ss__retrieval_acc_row(&acc, row, rel, nrel, qi);
        }
    }
    if (!rc) rc = ss__retrieval_acc_result(&acc, out, recall_curve);
done:
    ss__retrieval_acc_free(&acc);
    ss_free(rel);
    ss_free(emb);
    ss_free(q);
    ss_free(rows);
    ss_free(drow);
    ss__tfidf_free(t);
    return rc;
}

/* Fails with "path: <msg>". */
static int fail_in(const char *path, int rc) { return ss__fail_prefix(rc, "%s", path); }

static int all_equal(const double *x, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0]) return 0;
    return 1;
}

int ss__sts_metrics(const char *path, const ss__pairs *p, const double *sim, double *spearman,
                    double *pearson)
{
    if (p->n < 2) return ss__fail(SS_ERR_RANGE, "%s: correlation needs 2 or more pairs, got %zu", path, p->n);
    if (all_equal(p->value, p->n))
        return ss__fail(SS_ERR_RANGE, "%s: correlation undefined: every gold score is %g", path,
                        p->value[0]);
    if (all_equal(sim, p->n))
        return ss__fail(SS_ERR_RANGE, "%s: correlation undefined: every similarity is %g", path, sim[0]);
    int rc;
    if ((rc = ss_eval_spearman(sim, p->value, p->n, spearman)) ||
        (rc = ss_eval_pearson(sim, p->value, p->n, pearson)))
        return fail_in(path, rc);
    return SS_OK;
}

int ss__pairs_metrics(const char *path, const ss__pairs *p, const double *sim, ss_eval_pairs *out)
{
    int *label = ss__malloc(p->n * sizeof *label);
    if (!label) return ss__fail(SS_ERR_NOMEM, "out of memory");
    size_t pos = 0;
    for (size_t i = 0; i < p->n; i++) pos += (label[i] = p->value[i] != 0) != 0;
    int rc;
    if (pos == 0 || pos == p->n)
        rc = ss__fail(SS_ERR_RANGE, "%s: pair classification needs labels 0 and 1; all %zu pairs are %d",
                      path, p->n, pos ? 1 : 0);
    else if ((rc = ss_eval_pair_classification(sim, label, p->n, out)))
        rc = fail_in(path, rc);
    ss_free(label);
    return rc;
}

/* ----------------------------------------------------------------- public */

int ss_eval_sts_file(ss_model *m, const char *path, double *spearman, double *pearson, size_t *n)
{
    if (!path || !spearman || !pearson) return ss__fail(SS_ERR_ARG, "ss_eval_sts_file: NULL argument");
    ss__pairs p;
    int rc = ss__pairs_load(path, SS__DATA_SCORED, &p);
    if (rc) return rc;
    double *sim = ss__malloc(p.n * sizeof *sim);
    if (!sim) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__pairs_sims(m, &p, sim);
    if (!rc) rc = ss__sts_metrics(path, &p, sim, spearman, pearson);
    if (!rc && n) *n = p.n;
    ss_free(sim);
    ss__pairs_free(&p);
    if (!rc) ss__clear_error();
    return rc;
}

int ss_eval_pairs_file(ss_model *m, const char *path, ss_eval_pairs *out)
{
    if (!path || !out) return ss__fail(SS_ERR_ARG, "ss_eval_pairs_file: NULL argument");
    ss__pairs p;
    int rc = ss__pairs_load(path, SS__DATA_LABELED, &p);
    if (rc) return rc;
    double *sim = ss__malloc(p.n * sizeof *sim);
    if (!sim) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__pairs_sims(m, &p, sim);
    if (!rc) rc = ss__pairs_metrics(path, &p, sim, out);
    ss_free(sim);
    ss__pairs_free(&p);
    if (!rc) ss__clear_error();
    return rc;
}

int ss_eval_retrieval_file(ss_model *m, const char *path, ss_eval_retrieval *out)
{
    if (!path || !out) return ss__fail(SS_ERR_ARG, "ss_eval_retrieval_file: NULL argument");
    ss__groups g;
    int rc = ss__groups_load(path, &g);
    if (rc) return rc;
    rc = ss__groups_retrieval(m, &g, out, NULL);
    if (rc) rc = fail_in(path, rc);
    ss__groups_free(&g);
    if (!rc) ss__clear_error();
    return rc;
}
