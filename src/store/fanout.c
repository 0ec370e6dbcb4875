/* fanout.c: one query over several stores (the shards of one collection):
 * each store answers its candidates, merged here into the ranking that one
 * store holding all their documents would give.
 *
 * The vector side is exact: a document of the k best of the union is among
 * the k best of its own store, so the merge of every store's top k is the
 * union's top k, with the same cosine scores. So is the BM25 side: each
 * store scores its documents with the statistics of all of them together
 * (bm25g.h), the scores one store holding every document gives, and the
 * union's BM25 top k is in the union of the stores' top ks as well. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "store/bm25g.h"
#include "store/hybrid.h"
#include "store/store.h"

typedef struct lexhit {
    int64_t key;
    double score;
} lexhit;

static int cmp_lex(const void *a, const void *b)
{
    const lexhit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* Merges the sides of ns stores for query j into out's query 0, each
 * document renamed key = doc * ns + store (so that equal scores rank by
 * document number, then store). */
static int merge(const ss__qsides *sd, size_t ns, size_t j, int hybrid, ss__qsides *out, ss__hit *vbuf,
                 lexhit *lbuf)
{
    int kv = out->kv, nv = 0, nl = 0;
    for (size_t i = 0; i < ns; i++) {
        const ss__hit *v = sd[i].vec + j * (size_t)kv;
        for (int c = 0; c < sd[i].nvec[j]; c++) {
            if (v[c].id > (INT64_MAX - (int64_t)i) / (int64_t)ns)
                return ss__fail(SS_ERR_RANGE, "document number %lld too large to merge %zu databases",
                                (long long)v[c].id, ns);
            vbuf[nv] = v[c];
            vbuf[nv++].id = v[c].id * (int64_t)ns + (int64_t)i;
        }
        for (int c = 0; hybrid && c < sd[i].nlex[j]; c++) {
            int64_t doc = sd[i].lex[j * (size_t)kv + (size_t)c];
            if (doc > (INT64_MAX - (int64_t)i) / (int64_t)ns)
                return ss__fail(SS_ERR_RANGE, "document number %lld too large to merge %zu databases",
                                (long long)doc, ns);
            lbuf[nl++] = (lexhit){doc * (int64_t)ns + (int64_t)i, sd[i].lexs[j * (size_t)kv + (size_t)c]};
        }
    }
    qsort(vbuf, (size_t)nv, sizeof *vbuf, ss__hit_cmp);
    out->nvec[0] = SS_MIN(nv, kv);
    memcpy(out->vec, vbuf, (size_t)out->nvec[0] * sizeof *vbuf);
    if (hybrid) {
        qsort(lbuf, (size_t)nl, sizeof *lbuf, cmp_lex);
        out->nlex[0] = SS_MIN(nl, kv);
        for (int c = 0; c < out->nlex[0]; c++) {
            out->lex[c] = lbuf[c].key;
            out->lexs[c] = lbuf[c].score;
        }
    }
    return SS_OK;
}

int ss_store_query_many(ss_store *const *stores, size_t ns, const float *q, size_t nq, const ss_store_query_opts *o,
                        ss_hit *hits, int *which, int *counts)
{
    int rc = ss__store_query_check(o, stores && ns > 0 && (!nq || (q && hits && which && counts)));
    if (rc) return rc;
    if (ns > 65536) return ss__fail(SS_ERR_RANGE, "ss_store_query_many: %zu databases", ns);
    for (size_t j = 0; j < nq; j++) counts[j] = 0;
    /* one model for all: a vector of one is meaningless against another's */
    const ss_store *first = NULL;
    for (size_t i = 0; i < ns; i++) {
        ss_store *s = stores[i];
        ss_store_model m;
        if (!s) return ss__fail(SS_ERR_ARG, "ss_store_query_many: store %zu is NULL", i);
        if ((rc = ss_store_get_model(s, &m))) return rc;
        if (o->hybrid && !s->has_fts)
            return ss__fail(SS_ERR_ARG, "%s: no full-text index for hybrid search", s->path);
        if (!m.fingerprint[0]) continue; /* nothing indexed yet: adds nothing */
        /* BM25's statistics are summed over the databases: their words must
         * be the same words */
        if (o->hybrid && first && first->fts_stem != s->fts_stem)
            return ss__fail(SS_ERR_ARG,
                            "%s stems English words in its full-text index and %s does not: hybrid search cannot "
                            "rank both as one (--vectors can)",
                            first->fts_stem ? first->path : s->path, first->fts_stem ? s->path : first->path);
        if (!first) first = s;
        else if (strcmp(first->model_fp, m.fingerprint) || first->dim != m.dim)
            return ss__fail(SS_ERR_MODEL, "%s was indexed with model '%s' (%s), %s with '%s' (%s): one query cannot "
                            "search both", first->path, first->model_name, first->model_fp, s->path, m.name,
                            m.fingerprint);
    }
    if (nq == 0) return SS_OK;
    ss__qsides *sd = ss__calloc(ns, sizeof *sd), one;
    memset(&one, 0, sizeof one);
    size_t kv = (size_t)ss__store_kv(o);
    ss__hit *vbuf = ss__malloc(ns * kv * sizeof *vbuf);
    lexhit *lbuf = o->hybrid ? ss__malloc(ns * kv * sizeof *lbuf) : NULL;
    if (!sd || !vbuf || (o->hybrid && !lbuf)) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__qsides_alloc(&one, 1, o, 1);
    for (size_t i = 0; i < ns && !rc; i++) rc = ss__store_query_sides(stores[i], q, nq, o, 1, o->hybrid, &sd[i]);
    /* BM25 with the statistics of all the stores together (bm25g.h) */
    for (size_t j = 0; j < nq && o->hybrid && !rc; j++) {
        ss__bm25_stats g;
        memset(&g, 0, sizeof g);
        for (size_t i = 0; i < ns && !rc; i++) rc = ss__bm25g_stats(stores[i], o->texts[j], &g);
        for (size_t i = 0; i < ns && !rc; i++)
            rc = ss__bm25g_top(stores[i], o->texts[j], o->source, &g, (int)kv, sd[i].lex + j * kv, sd[i].lexs + j * kv,
                               &sd[i].nlex[j]);
    }
    for (size_t j = 0; j < nq && !rc; j++) {
        ss_hit *h = hits + j * (size_t)o->k;
        rc = merge(sd, ns, j, o->hybrid, &one, vbuf, lbuf);
        if (!rc) rc = ss__qsides_finish(&one, 0, o, stores, ns, j, h, &counts[j]);
        for (int c = 0; !rc && c < counts[j]; c++) {
            which[j * (size_t)o->k + (size_t)c] = (int)(h[c].doc % (int64_t)ns);
            h[c].doc /= (int64_t)ns;
        }
    }
    for (size_t i = 0; sd && i < ns; i++) ss__qsides_free(&sd[i]);
    ss__qsides_free(&one);
    ss_free(sd);
    ss_free(vbuf);
    ss_free(lbuf);
    if (rc)
        for (size_t j = 0; j < nq; j++) counts[j] = 0;
    return rc;
}
