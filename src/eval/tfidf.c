/* tfidf.c: TF-IDF vectors over a small collection (one evaluation file),
 * kept sparse: a vocabulary hash table, then rows of (term, weight). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/common.h"
#include "eval/tfidf.h"

static int is_word_char(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

int ss__words(const char *text, size_t len, int (*fn)(void *ctx, const char *w, size_t n), void *ctx)
{
    char *s;
    size_t n;
    int rc = ss_normalize(text, len, SS_NORM_NFKC | SS_NORM_CASEFOLD, &s, &n);
    if (rc) return rc;
    size_t i = 0, start = 0;
    int in_word = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) k = 1, cp = 0xFFFD; /* cannot happen after ss_normalize, but never loop */
        int w = is_word_char(cp);
        if (w && !in_word) start = i;
        if (!w && in_word && (rc = fn(ctx, s + start, i - start))) break;
        in_word = w;
        i += (size_t)k;
    }
    if (!rc && in_word) rc = fn(ctx, s + start, n - start);
    ss_free(s);
    return rc;
}

/* ------------------------------------------------------------- vocabulary */

typedef struct {
    char *pool;
    size_t used, cap;
    size_t *off; /* (n) word offsets in pool, NUL-terminated */
    size_t n, off_cap;
    uint32_t *slot; /* open addressing: id + 1, 0 = empty */
    size_t nslot;
} vocab;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int vocab_rehash(vocab *v, size_t nslot)
{
    uint32_t *s = ss__calloc(nslot, sizeof *s);
    if (!s) return ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t id = 0; id < v->n; id++) {
        const char *w = v->pool + v->off[id];
        size_t j = hash(w, strlen(w)) & (nslot - 1);
        while (s[j]) j = (j + 1) & (nslot - 1);
        s[j] = (uint32_t)id + 1;
    }
    ss_free(v->slot);
    v->slot = s;
    v->nslot = nslot;
    return SS_OK;
}

/* The id of word w (added if new). Words hold no NUL (they are letters). */
static int vocab_id(vocab *v, const char *w, size_t n, uint32_t *id)
{
    int rc;
    if (v->n * 2 >= v->nslot && (rc = vocab_rehash(v, v->nslot ? v->nslot * 2 : 1024))) return rc;
    size_t j = hash(w, n) & (v->nslot - 1);
    while (v->slot[j]) {
        const char *c = v->pool + v->off[v->slot[j] - 1];
        if (strncmp(c, w, n) == 0 && c[n] == '\0') {
            *id = v->slot[j] - 1;
            return SS_OK;
        }
        j = (j + 1) & (v->nslot - 1);
    }
    if (v->n >= UINT32_MAX - 1) return ss__fail(SS_ERR_RANGE, "too many distinct words");
    if (v->used + n + 1 > v->cap) {
        size_t nc = v->cap ? v->cap : 4096;
        while (nc < v->used + n + 1) nc *= 2;
        char *p = ss__realloc(v->pool, nc);
        if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
        v->pool = p;
        v->cap = nc;
    }
    if (v->n == v->off_cap) {
        size_t nc = v->off_cap ? v->off_cap * 2 : 1024;
        size_t *p = ss__realloc(v->off, nc * sizeof *p);
        if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
        v->off = p;
        v->off_cap = nc;
    }
    memcpy(v->pool + v->used, w, n);
    v->pool[v->used + n] = '\0';
    v->off[v->n] = v->used;
    v->used += n + 1;
    v->slot[j] = (uint32_t)v->n + 1;
    *id = (uint32_t)v->n++;
    return SS_OK;
}

static void vocab_free(vocab *v)
{
    ss_free(v->pool);
    ss_free(v->off);
    ss_free(v->slot);
}

/* ----------------------------------------------------------------- build */

typedef struct {
    vocab *v;
    uint32_t *ids; /* term ids of the current text, in order */
    size_t n, cap;
} collect;

static int collect_word(void *ctx, const char *w, size_t n)
{
    collect *c = ctx;
    uint32_t id = 0;
    int rc = vocab_id(c->v, w, n, &id);
    if (rc) return rc;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        uint32_t *p = ss__realloc(c->ids, nc * sizeof *p);
        if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
        c->ids = p;
        c->cap = nc;
    }
    c->ids[c->n++] = id;
    return SS_OK;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void ss__tfidf_free(ss__tfidf *t)
{
    if (!t) return;
    ss_free(t->row_start);
    ss_free(t->term);
    ss_free(t->w);
    ss_free(t->col_start);
    ss_free(t->col_doc);
    ss_free(t->col_w);
    ss_free(t);
}

int ss__tfidf_build(const char *const *texts, const size_t *lens, size_t n, ss__tfidf **out)
{
    *out = NULL;
    vocab v = {0};
    collect c = {.v = &v};
    size_t *df = NULL, df_cap = 0, nnz = 0, cap = 0;
    ss__tfidf *t = ss__calloc(1, sizeof *t);
    int rc = SS_OK;
    if (!t || !(t->row_start = ss__malloc((n + 1) * sizeof *t->row_start))) {
        rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        goto done;
    }
    t->n_docs = n;
    t->row_start[0] = 0;
    for (size_t i = 0; i < n; i++) {
        c.n = 0;
        if ((rc = ss__words(texts[i], lens ? lens[i] : strlen(texts[i]), collect_word, &c))) goto done;
        if (v.n > df_cap) {
            size_t nc = df_cap ? df_cap : 1024;
            while (nc < v.n) nc *= 2;
            size_t *p = ss__realloc(df, nc * sizeof *p);
            if (!p) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                goto done;
            }
            memset(p + df_cap, 0, (nc - df_cap) * sizeof *p);
            df = p;
            df_cap = nc;
        }
        if (nnz + c.n > cap) {
            size_t nc = cap ? cap : 4096;
            while (nc < nnz + c.n) nc *= 2;
            uint32_t *pt = ss__realloc(t->term, nc * sizeof *pt);
            if (pt) t->term = pt;
            double *pw = pt ? ss__realloc(t->w, nc * sizeof *pw) : NULL;
            if (!pw) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                goto done;
            }
            t->w = pw;
            cap = nc;
        }
        /* counts of each distinct word: sort the ids, then count runs */
        if (c.n > 1) qsort(c.ids, c.n, sizeof *c.ids, u32_cmp); /* qsort(NULL, 0) is undefined */
        for (size_t j = 0; j < c.n;) {
            size_t k = j + 1;
            while (k < c.n && c.ids[k] == c.ids[j]) k++;
            t->term[nnz] = c.ids[j];
            t->w[nnz] = (double)(k - j);
            df[c.ids[j]]++;
            nnz++;
            j = k;
        }
        t->row_start[i + 1] = nnz;
    }
    t->n_terms = v.n;
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (size_t j = t->row_start[i]; j < t->row_start[i + 1]; j++) {
            double idf = log((1.0 + (double)n) / (1.0 + (double)df[t->term[j]])) + 1.0;
            t->w[j] *= idf;
            norm += t->w[j] * t->w[j];
        }
        norm = sqrt(norm);
        for (size_t j = t->row_start[i]; j < t->row_start[i + 1]; j++) t->w[j] /= norm;
    }
done:
    vocab_free(&v);
    ss_free(c.ids);
    ss_free(df);
    if (rc) ss__tfidf_free(t);
    else *out = t;
    return rc;
}

double ss__tfidf_cosine(const ss__tfidf *t, size_t i, size_t j)
{
    size_t a = t->row_start[i], ae = t->row_start[i + 1];
    size_t b = t->row_start[j], be = t->row_start[j + 1];
    double s = 0;
    while (a < ae && b < be) {
        if (t->term[a] < t->term[b]) a++;
        else if (t->term[a] > t->term[b]) b++;
        else s += t->w[a++] * t->w[b++];
    }
    return s;
}

/* The transpose of the rows: for each term, the documents holding it. */
static int build_index(ss__tfidf *t)
{
    size_t nnz = t->row_start[t->n_docs];
    t->col_start = ss__calloc(t->n_terms + 1, sizeof *t->col_start);
    t->col_doc = ss__malloc(nnz * sizeof *t->col_doc);
    t->col_w = ss__malloc(nnz * sizeof *t->col_w);
    if (!t->col_start || !t->col_doc || !t->col_w) {
        ss_free(t->col_start);
        ss_free(t->col_doc);
        ss_free(t->col_w);
        t->col_start = NULL;
        t->col_doc = NULL;
        t->col_w = NULL;
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < nnz; j++) t->col_start[t->term[j] + 1]++;
    for (size_t k = 0; k < t->n_terms; k++) t->col_start[k + 1] += t->col_start[k];
    /* fill in document order, using col_start as a cursor, then shift back */
    for (size_t d = 0; d < t->n_docs; d++)
        for (size_t j = t->row_start[d]; j < t->row_start[d + 1]; j++) {
            size_t p = t->col_start[t->term[j]]++;
            t->col_doc[p] = (uint32_t)d;
            t->col_w[p] = t->w[j];
        }
    for (size_t k = t->n_terms; k > 0; k--) t->col_start[k] = t->col_start[k - 1];
    t->col_start[0] = 0;
    return SS_OK;
}

int ss__tfidf_sims(ss__tfidf *t, size_t q, double *out)
{
    if (t->n_docs > UINT32_MAX) return ss__fail(SS_ERR_RANGE, "too many texts for the baseline");
    int rc;
    if (!t->col_start && (rc = build_index(t))) return rc;
    memset(out, 0, t->n_docs * sizeof *out);
    for (size_t j = t->row_start[q]; j < t->row_start[q + 1]; j++) {
        uint32_t k = t->term[j];
        double wq = t->w[j];
        for (size_t p = t->col_start[k]; p < t->col_start[k + 1]; p++) out[t->col_doc[p]] += wq * t->col_w[p];
    }
    return SS_OK;
}
