/* hybrid.c: BM25 through FTS5 and reciprocal rank fusion (see hybrid.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "store/hybrid.h"

static int is_word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* The text's words, each quoted, joined by OR (so that quotes and FTS5
 * syntax in the text are only words). */
int ss__fts_expr(const char *text, char **out)
{
    *out = NULL;
    /* a word of w >= 1 bytes takes at most w + 6 (" OR " and quotes) <= 7w */
    size_t n = strlen(text), cap = n * 7 + 16, len = 0;
    char *e = ss__malloc(cap);
    if (!e) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int words = 0;
    for (size_t i = 0; i < n && words < SS__FTS_MAX_WORDS;) {
        if (!is_word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && is_word_byte((unsigned char)text[j])) j++;
        int w = snprintf(e + len, cap - len, "%s\"%.*s\"", words ? " OR " : "", (int)(j - i), text + i);
        if (w < 0 || (size_t)w >= cap - len) break; /* cannot happen: cap is enough */
        len += (size_t)w;
        words++;
        i = j;
    }
    e[len] = '\0';
    if (!words) {
        ss_free(e);
        return SS_OK;
    }
    *out = e;
    return SS_OK;
}

int ss__fts_top(sqlite3_stmt *st, const char *text, int n, int64_t *docs, double *scores, int *got,
                int *sqlite_rc)
{
    *got = 0;
    *sqlite_rc = SQLITE_OK;
    if (!text || n <= 0) return SS_OK;
    char *expr;
    int rc = ss__fts_expr(text, &expr);
    if (rc || !expr) return rc; /* no words: no lexical ranking */
    sqlite3_reset(st);
    int r = sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    if (r == SQLITE_OK) r = sqlite3_bind_int(st, 2, n);
    if (r == SQLITE_OK) {
        while ((r = sqlite3_step(st)) == SQLITE_ROW && *got < n) {
            docs[*got] = sqlite3_column_int64(st, 0);
            if (scores) scores[*got] = -sqlite3_column_double(st, 1);
            (*got)++;
        }
        if (r == SQLITE_DONE || r == SQLITE_ROW) r = SQLITE_OK;
    }
    sqlite3_reset(st);
    sqlite3_bind_null(st, 1); /* expr is about to go */
    ss_free(expr);
    if (r != SQLITE_OK) {
        *got = 0;
        *sqlite_rc = r;
        return ss__fail(SS_ERR_SQL, "full-text search: %s", sqlite3_errstr(r));
    }
    return SS_OK;
}

typedef struct fused {
    int64_t doc;
    double score;
} fused;

static int cmp_fused(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

int ss__hybrid_fuse(const ss__hit *vec, int nv, const int64_t *lex, const double *lex_score, int nl,
                    const ss__fusion *fo, int k, float min_score, ss_hit *out, int *count)
{
    *count = 0;
    int convex = fo->kind == SS_FUSION_CONVEX;
    if (convex && nl > 0 && !lex_score) return ss__fail(SS_ERR_ARG, "convex fusion needs the BM25 scores");
    if (convex && !(fo->alpha >= 0 && fo->alpha <= 1))
        return ss__fail(SS_ERR_RANGE, "the fusion weight %g is not in [0, 1]", (double)fo->alpha);
    int rrf_k = fo->rrf_k > 0 ? fo->rrf_k : SS__RRF_K;
    /* convex: each side min-max scaled over its candidates */
    double vlo = 0, vhi = 0, llo = 0, lhi = 0;
    for (int i = 0; convex && i < nv; i++) {
        double s = vec[i].score;
        if (i == 0 || s < vlo) vlo = s;
        if (i == 0 || s > vhi) vhi = s;
    }
    for (int i = 0; convex && i < nl; i++) {
        double s = lex_score[i];
        if (i == 0 || s < llo) llo = s;
        if (i == 0 || s > lhi) lhi = s;
    }
    double a = fo->alpha;
    fused *f = ss__malloc((size_t)(nv + nl + 1) * sizeof *f);
    if (!f) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < nv; i++) {
        double v = vhi > vlo ? (vec[i].score - vlo) / (vhi - vlo) : 1.0;
        f[n++] = (fused){vec[i].id, convex ? a * v : 1.0 / (rrf_k + i + 1)};
    }
    for (int i = 0; i < nl; i++) {
        double l = convex ? (lhi > llo ? (lex_score[i] - llo) / (lhi - llo) : 1.0) : 0;
        double add = convex ? (1 - a) * l : 1.0 / (rrf_k + i + 1);
        int j = 0;
        while (j < nv && f[j].doc != lex[i]) j++;
        if (j < nv) f[j].score += add;
        else f[n++] = (fused){lex[i], add};
    }
    /* ranked by the scores the caller gets (float): equal sums such as
     * 1/8 + 1/40 and 1/10 + 1/20 then tie, smaller doc first, instead of
     * being ordered by double rounding noise */
    for (int i = 0; i < n; i++) f[i].score = (float)f[i].score;
    qsort(f, (size_t)n, sizeof *f, cmp_fused);
    int c = 0;
    for (int i = 0; i < n && c < k; i++) {
        if ((float)f[i].score < min_score) break;
        out[c].doc = f[i].doc;
        out[c].score = (float)f[i].score;
        c++;
    }
    *count = c;
    ss_free(f);
    return SS_OK;
}

int ss__align_rerank(ss_model *m, float w, const char *query, size_t qlen, ss__hit *vec, int nv,
                     const char *const *texts, const size_t *lens)
{
    if (nv <= 0 || !(w > 0)) return SS_OK;
    float *al = ss__malloc((size_t)nv * sizeof *al);
    if (!al) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int rc = ss_model_align(m, query, qlen, texts, lens, (size_t)nv, al);
    for (int i = 0; !rc && i < nv; i++) vec[i].score += w * al[i];
    if (!rc) qsort(vec, (size_t)nv, sizeof *vec, ss__hit_cmp);
    ss_free(al);
    return rc;
}
