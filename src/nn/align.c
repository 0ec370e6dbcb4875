/* align.c: soft term alignment of a query with candidate texts by the
 * model's word-piece vectors (ss_model_align), the rerank signal that
 * retrieval adds to the cosine (ss_store_query_opts.align).
 *
 * For a query with pieces q_i and a candidate with pieces d_j (as the encoder
 * reads them: the model's tokenizer, no [CLS]/[SEP], the window's length),
 * s_ij is the cosine of the two pieces' rows of the token table, and
 *   align = max(0, sum_i w(q_i) max_j s_ij / sum_i w(q_i))   in [0, 1]
 * (0 when a side has no piece): how well the query's pieces are found in the
 * candidate (ColBERT's MaxSim, on the static table), with w = idf^2,
 * idf(t) = ln((n + 1) / (df(t) + 1)) + 1 and df(t) the number of the n
 * candidates holding t. The idf is the candidates' own: pieces every
 * candidate shares ("what", "the") weigh little, the ones that tell them
 * apart weigh most, with no statistics kept by the database. The query side
 * alone: the F1 with the candidate's side (BERTScore) scored lower on Quora
 * dev and would favour short candidates over long ones (models/README.md). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/model.h"

/* The row of token id t, normalized to unit length (zeros for a zero row). */
static void unit_row(const ss_model *m, const float *wte, int t, float *out)
{
    size_t C = (size_t)m->cfg.d_model;
    if (wte) {
        memcpy(out, wte + (size_t)t * C, C * sizeof *out);
    } else { /* an int8 file not materialized: that one row */
        const int8_t *q = m->wte_q8.q + (size_t)t * C;
        float s = m->wte_q8.scale[t];
        for (size_t c = 0; c < C; c++) out[c] = (float)q[c] * s;
    }
    double ss = 0;
    for (size_t c = 0; c < C; c++) ss += (double)out[c] * out[c];
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (size_t c = 0; c < C; c++) out[c] *= inv;
}

float ss_model_align_weight(const ss_model *m)
{
    /* measured for a static table (the shipped kind); a transformer's input
     * table is not trained to compare pieces on their own */
    return m && m->cfg.n_layers == 0 ? 0.25f : 0.0f;
}

int ss_model_align(ss_model *m, const char *query, size_t qlen, const char *const *texts, const size_t *lens,
                   size_t n, float *scores)
{
    if (!m || !query || (n && (!texts || !scores)))
        return ss__fail(SS_ERR_ARG, "ss_model_align: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return ss__fail(SS_ERR_ARG, "ss_model_align: text %zu is NULL", i);
    for (size_t i = 0; i < n; i++) scores[i] = 0.0f;
    if (n == 0) return SS_OK;
    if (n > INT32_MAX) return ss__fail(SS_ERR_RANGE, "ss_model_align: %zu texts", n);
    int V = m->cfg.vocab_size, C = m->cfg.d_model;
    int window = m->cfg.max_len > 2 ? m->cfg.max_len - 2 : 1; /* the encoder's, less [CLS]/[SEP] */
    const float *wte = NULL;
    if (!(m->lazy & SS__LAZY_TOKENS)) {
        ss__layout L;
        ss__model_layout(&m->cfg, &L);
        wte = m->params + L.wte;
    }
    ss_batch qb, db;
    memset(&qb, 0, sizeof qb);
    memset(&db, 0, sizeof db);
    size_t ql1 = qlen;
    int rc = ss_tokenizer_encode_batch(m->tok, &query, &ql1, 1, window, 0, &qb);
    if (!rc) rc = ss_tokenizer_encode_batch(m->tok, texts, lens, (int)n, window, 0, &db);
    if (rc) {
        ss_batch_free(&qb);
        return rc;
    }
    int nq = qb.B ? qb.lengths[0] : 0;
    int *df = ss__calloc((size_t)V, sizeof *df), *seen = ss__malloc((size_t)V * sizeof *seen);
    float *qrow = ss__malloc(((size_t)nq + 1) * (size_t)C * sizeof *qrow);
    float *drow = ss__malloc((size_t)C * sizeof *drow);
    float *qbest = ss__malloc(((size_t)nq + 1) * sizeof *qbest);
    double *qw = ss__malloc(((size_t)nq + 1) * sizeof *qw);
    if (!df || !seen || !qrow || !drow || !qbest || !qw) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    /* document frequencies over the candidates */
    for (int t = 0; !rc && t < V; t++) seen[t] = -1;
    for (int i = 0; !rc && i < db.B; i++)
        for (int j = 0; j < db.lengths[i]; j++) {
            int t = db.ids[(size_t)i * (size_t)db.T + (size_t)j];
            if (t >= 0 && t < V && seen[t] != i) seen[t] = i, df[t]++;
        }
    double lognp1 = log((double)n + 1.0);
    for (int i = 0; !rc && i < nq; i++) {
        int t = qb.ids[i];
        if (t < 0 || t >= V) t = 0;
        double idf = lognp1 - log((double)df[t] + 1.0) + 1.0;
        qw[i] = idf * idf;
        unit_row(m, wte, t, qrow + (size_t)i * (size_t)C);
    }
    double qwsum = 0;
    for (int i = 0; i < nq; i++) qwsum += qw[i];
    for (int d = 0; !rc && d < db.B && nq > 0; d++) {
        const int32_t *ids = db.ids + (size_t)d * (size_t)db.T;
        int nd = db.lengths[d];
        if (nd == 0) continue;
        for (int i = 0; i < nq; i++) qbest[i] = -INFINITY;
        for (int j = 0; j < nd; j++) {
            int t = ids[j];
            if (t < 0 || t >= V) t = 0;
            unit_row(m, wte, t, drow);
            for (int i = 0; i < nq; i++) {
                const float *a = qrow + (size_t)i * (size_t)C;
                float s = 0;
                for (int c = 0; c < C; c++) s += a[c] * drow[c];
                if (s > qbest[i]) qbest[i] = s;
            }
        }
        double rnum = 0;
        for (int i = 0; i < nq; i++) rnum += qw[i] * qbest[i];
        scores[d] = (float)fmax(rnum / qwsum, 0.0);
    }
    ss_batch_free(&qb);
    ss_batch_free(&db);
    ss_free(df);
    ss_free(seen);
    ss_free(qrow);
    ss_free(drow);
    ss_free(qbest);
    ss_free(qw);
    return rc;
}
