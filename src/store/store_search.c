/* store_search.c: a store's vectors in memory and the queries over them.
 *
 * The vectors are read block by block with incremental BLOB reads straight
 * into one contiguous array (no per-row work), at the first query and again
 * when another connection changed the database (PRAGMA data_version) or this
 * handle wrote. A query runs inside one read transaction, so what it scans,
 * rescores and filters is one snapshot. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "store/hybrid.h"
#include "store/search.h"
#include "store/store.h"
#include "store/vecmem.h"

static int query_i64(ss_store *s, const char *sql, int64_t *v)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, sql, &st);
    if (rc) return rc;
    int r = sqlite3_step(st);
    *v = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? SS_OK : ss__store_sqlerr(s, r, "read");
}

/* Reads column col of every block (rowids m->block_ids) into dst, each
 * block's blob being exactly per_block bytes. */
static int read_blobs(ss_store *s, const ss__vecmem *m, const char *table, const char *col, size_t per_block,
                      unsigned char *dst)
{
    sqlite3_blob *b = NULL;
    int rc = SS_OK;
    for (size_t i = 0; i < m->nblocks && !rc; i++) {
        int r = b ? sqlite3_blob_reopen(b, m->block_ids[i])
                  : sqlite3_blob_open(s->db, "main", table, col, m->block_ids[i], 0, &b);
        if (r != SQLITE_OK) {
            rc = ss__store_sqlerr(s, r == SQLITE_ERROR ? SQLITE_CORRUPT : r, "read vector blocks");
            break;
        }
        if ((size_t)sqlite3_blob_bytes(b) != per_block) {
            rc = ss__fail(SS_ERR_FORMAT, "%s: block %lld of %s.%s has %d bytes, not %zu", s->path,
                          (long long)m->block_ids[i], table, col, sqlite3_blob_bytes(b), per_block);
            break;
        }
        r = sqlite3_blob_read(b, dst + i * per_block, (int)per_block, 0);
        if (r != SQLITE_OK) rc = ss__store_sqlerr(s, r, "read vector blocks");
    }
    if (b) sqlite3_blob_close(b);
    return rc;
}

/* Inside a read transaction: the database holds nb blocks of every table
 * with the BLOB sizes that the block size and dimension of the meta table
 * say, checked before allocating memory for them, so that a damaged meta
 * table cannot make a 10 KB file ask for gigabytes (fuzz finding). length()
 * of a BLOB reads only the record header, not the BLOB. */
static int check_block_sizes(ss_store *s, int64_t nb)
{
    if (nb <= 0) return SS_OK;
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s,
                               "SELECT (SELECT count(*) FROM blocks WHERE length(ids) = ?1), "
                               "(SELECT count(*) FROM vectors_f32 WHERE length(data) = ?2), "
                               "(SELECT count(*) FROM vectors_i8 WHERE length(scales) = ?3 AND length(codes) = ?4)",
                               &st);
    if (rc) return rc;
    int64_t bs = s->block_size, d = s->dim;
    sqlite3_bind_int64(st, 1, bs * 8);
    sqlite3_bind_int64(st, 2, bs * d * 4);
    sqlite3_bind_int64(st, 3, bs * 4);
    sqlite3_bind_int64(st, 4, bs * d);
    int r = sqlite3_step(st);
    int ok = r == SQLITE_ROW && sqlite3_column_int64(st, 0) >= nb && sqlite3_column_int64(st, 1) >= nb &&
             sqlite3_column_int64(st, 2) >= nb;
    sqlite3_finalize(st);
    if (r != SQLITE_ROW) return ss__store_sqlerr(s, r, "read vector blocks");
    if (!ok)
        return ss__fail(SS_ERR_FORMAT, "%s: vector blocks of the wrong size for block size %lld and dim %lld",
                        s->path, (long long)bs, (long long)d);
    return SS_OK;
}

/* Adds the representations in `precisions` to a current s->mem. */
static int load_more(ss_store *s, int precisions)
{
    ss__vecmem *m = &s->mem;
    size_t bs = (size_t)s->block_size, d = (size_t)s->dim, n = m->n ? m->n : 1;
    int rc = SS_OK;
    if ((precisions & (1 << SS_PREC_F32)) && !m->f32) {
        float *f = ss__big_alloc(n * d * sizeof *f);
        if (!f) return ss__fail(SS_ERR_NOMEM, "%s: out of memory for %zu vectors", s->path, m->n);
        rc = read_blobs(s, m, "vectors_f32", "data", bs * d * 4, (unsigned char *)f);
        if (rc) ss__big_free(f, n * d * sizeof *f);
        else m->f32 = f;
    }
    if (!rc && (precisions & (1 << SS_PREC_INT8)) && !m->codes) {
        uint8_t *c = ss__big_alloc(n * d);
        float *sc = ss__big_alloc(n * sizeof *sc);
        if (!c || !sc) rc = ss__fail(SS_ERR_NOMEM, "%s: out of memory for %zu vectors", s->path, m->n);
        if (!rc) rc = read_blobs(s, m, "vectors_i8", "scales", bs * 4, (unsigned char *)sc);
        if (!rc) rc = read_blobs(s, m, "vectors_i8", "codes", bs * d, c);
        if (rc) {
            ss__big_free(c, n * d);
            ss__big_free(sc, n * sizeof *sc);
        } else {
            m->codes = c;
            m->scales = sc;
        }
    }
    if (!rc) m->loaded = (m->f32 ? 1 << SS_PREC_F32 : 0) | (m->codes ? 1 << SS_PREC_INT8 : 0);
    return rc;
}

/* Called inside a read transaction. */
static int load(ss_store *s, int precisions, int64_t version)
{
    ss__vecmem m;
    memset(&m, 0, sizeof m);
    int64_t nb = 0;
    int rc = query_i64(s, "SELECT count(*) FROM blocks", &nb);
    if (rc) return rc;
    size_t bs = (size_t)s->block_size, d = (size_t)s->dim;
    if (nb > 0 && d == 0) return ss__fail(SS_ERR_FORMAT, "%s: vectors but no model recorded", s->path);
    if ((rc = check_block_sizes(s, nb))) return rc;
    m.nblocks = (size_t)nb;
    m.n = m.nblocks * bs;
    m.dim = s->dim;
    m.block_ids = ss__malloc((m.nblocks ? m.nblocks : 1) * sizeof *m.block_ids);
    m.ids = ss__big_alloc((m.n ? m.n : 1) * sizeof *m.ids);
    if ((precisions & (1 << SS_PREC_F32)) && !(m.f32 = ss__big_alloc((m.n ? m.n : 1) * d * sizeof *m.f32)))
        rc = SS_ERR_NOMEM;
    if ((precisions & (1 << SS_PREC_INT8)) &&
        (!(m.codes = ss__big_alloc((m.n ? m.n : 1) * d)) || !(m.scales = ss__big_alloc((m.n ? m.n : 1) * sizeof *m.scales))))
        rc = SS_ERR_NOMEM;
    if (rc || !m.block_ids || !m.ids) {
        ss__vecmem_free(&m);
        return ss__fail(SS_ERR_NOMEM, "%s: out of memory for %zu vectors", s->path, m.n);
    }
    sqlite3_stmt *st;
    rc = ss__store_prepare(s, "SELECT id FROM blocks ORDER BY id", &st);
    size_t i = 0;
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW && i < m.nblocks) m.block_ids[i++] = sqlite3_column_int64(st, 0);
    if (!rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = ss__store_sqlerr(s, r, "read blocks");
    if (!rc && i != m.nblocks) rc = ss__fail(SS_ERR_FORMAT, "%s: blocks changed while reading", s->path);
    sqlite3_finalize(st);
    if (!rc) rc = read_blobs(s, &m, "blocks", "ids", bs * 8, (unsigned char *)m.ids);
    if (!rc && m.f32) rc = read_blobs(s, &m, "vectors_f32", "data", bs * d * 4, (unsigned char *)m.f32);
    if (!rc && m.codes) rc = read_blobs(s, &m, "vectors_i8", "scales", bs * 4, (unsigned char *)m.scales);
    if (!rc && m.codes) rc = read_blobs(s, &m, "vectors_i8", "codes", bs * d, m.codes);
    if (rc) {
        ss__vecmem_free(&m);
        return rc;
    }
    for (i = 0; i < m.n; i++) m.live += m.ids[i] != 0;
    m.loaded = (m.f32 ? 1 << SS_PREC_F32 : 0) | (m.codes ? 1 << SS_PREC_INT8 : 0);
    m.data_version = version;
    m.generation = s->generation;
    s->mem = m;
    return SS_OK;
}

/* Re-reads the model the database records, keeping a model declared with
 * ss_store_use_model while the database still records none. */
static int refresh_meta(ss_store *s)
{
    if (!s->pending) return ss__store_read_meta(s);
    char *name = ss__strdup(s->model_name), *fp = ss__strdup(s->model_fp), *path = ss__strdup(s->model_path);
    int dim = s->dim, rc = SS_OK;
    if (!name || !fp || !path) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__store_read_meta(s);
    if (!rc && !s->model_fp[0]) {
        ss_store_model m = {name, fp, path, dim};
        rc = ss_store_use_model(s, &m);
    }
    ss_free(name);
    ss_free(fp);
    ss_free(path);
    return rc;
}

/* Inside a read transaction: is s->mem the current snapshot? */
static int is_fresh(ss_store *s, int *fresh, int64_t *version)
{
    int rc = query_i64(s, "PRAGMA data_version", version);
    ss__vecmem *m = &s->mem;
    *fresh = !rc && m->loaded && m->data_version == *version && m->generation == s->generation;
    return rc;
}

/* Inside a read transaction: makes s->mem current with at least `precisions`. */
static int ensure(ss_store *s, int precisions)
{
    int64_t version;
    int fresh;
    int rc = is_fresh(s, &fresh, &version);
    if (rc) return rc;
    ss__vecmem *m = &s->mem;
    if (fresh && (m->loaded & precisions) == precisions) return SS_OK;
    if (fresh) return load_more(s, precisions);
    rc = refresh_meta(s); /* another process may have re-embedded */
    if (rc) return rc;
    ss__vecmem_free(m); /* before reading the new snapshot: never two in memory */
    return load(s, precisions, version);
}

static int begin_read(ss_store *s)
{
    int rc = ss__store_exec(s, "BEGIN");
    if (rc) return rc;
    int64_t v;
    rc = query_i64(s, "SELECT count(*) FROM meta", &v); /* starts the read snapshot */
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void end_read(ss_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

int ss__store_ensure_loaded(ss_store *s, int precisions)
{
    int rc = begin_read(s);
    if (rc) return rc;
    rc = ensure(s, precisions);
    end_read(s);
    return rc;
}

int ss_store_load(ss_store *s, int precisions)
{
    if (!s) return ss__fail(SS_ERR_ARG, "ss_store_load: NULL store");
    precisions &= (1 << SS_PREC_F32) | (1 << SS_PREC_INT8);
    if (!precisions) precisions = 1 << SS_PREC_F32;
    return ss__store_ensure_loaded(s, precisions);
}

static int source_mask(ss_store *s, const char *source, uint8_t **out);

/* A database with documents split into passages has several rows (vectors)
 * per document: the search asks for `fetch` hits, enough that kv documents
 * remain once each document keeps only its best row (the first, hits being
 * best first); that row's passage number then replaces the row in pos.
 * raw is (nq, fetch); rawn[j] becomes at most kv. */
static int collapse(ss_store *s, const int64_t *block_ids, size_t nblocks, ss__hit *raw, int *rawn, size_t nq,
                    int fetch, int kv)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)fetch) cap *= 2;
    int64_t *seen = ss__malloc(cap * sizeof *seen);
    sqlite3_stmt *st = NULL;
    int rc = seen ? SS_OK : ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__store_prepare(s, "SELECT seq FROM passages WHERE block = ?1 AND slot = ?2", &st);
    size_t bs = (size_t)s->block_size;
    for (size_t j = 0; j < nq && !rc; j++) {
        ss__hit *r = raw + j * (size_t)fetch;
        memset(seen, 0, cap * sizeof *seen);
        int c = 0;
        for (int i = 0; i < rawn[j] && c < kv && !rc; i++) {
            uint64_t hsh = (uint64_t)r[i].id * 0x9e3779b97f4a7c15ULL;
            size_t at = (size_t)(hsh >> 17) & (cap - 1);
            while (seen[at] && seen[at] != r[i].id) at = (at + 1) & (cap - 1);
            if (seen[at]) continue; /* a worse passage of a document already kept */
            seen[at] = r[i].id;
            size_t b = r[i].pos / bs;
            int64_t seq = 0;
            if (b < nblocks) {
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, block_ids[b]);
                sqlite3_bind_int64(st, 2, (int64_t)(r[i].pos % bs));
                int q = sqlite3_step(st);
                if (q == SQLITE_ROW) seq = sqlite3_column_int64(st, 0);
                else if (q != SQLITE_DONE) rc = ss__store_sqlerr(s, q, "read passages");
            }
            r[c] = r[i];
            r[c].pos = (size_t)(seq >= 0 && seq < INT32_MAX ? seq : 0);
            c++;
        }
        rawn[j] = c;
    }
    sqlite3_finalize(st);
    ss_free(seen);
    return rc;
}

/* Exact f32 search reading the blocks one at a time into a small buffer
 * (inside the caller's read transaction): the first query of a process costs
 * one pass over the database's pages instead of a gigabyte of new memory. */
static int stream_search(ss_store *s, const float *q, size_t nq, int k, const char *source, ss__hit *out,
                         int *counts, int kv, int split)
{
    ss__vecmem *m = &s->mem; /* block list and mask only; s->mem holds no vectors here */
    size_t bs = (size_t)s->block_size, d = (size_t)s->dim;
    ss__vecmem_free(m);
    int64_t nb = 0;
    int rc = query_i64(s, "SELECT count(*) FROM blocks", &nb);
    if (!rc) rc = check_block_sizes(s, nb);
    if (rc) return rc;
    m->nblocks = (size_t)nb;
    m->n = m->nblocks * bs;
    m->dim = s->dim;
    m->block_ids = ss__malloc((m->nblocks ? m->nblocks : 1) * sizeof *m->block_ids);
    int64_t *ids = ss__malloc(bs * sizeof *ids);
    float *x = ss__malloc(bs * d * sizeof *x);
    uint8_t *allow = NULL;
    ss__stream *st = NULL;
    sqlite3_blob *bi = NULL, *bx = NULL;
    if (!m->block_ids || !ids || !x) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) {
        sqlite3_stmt *sel;
        rc = ss__store_prepare(s, "SELECT id FROM blocks ORDER BY id", &sel);
        size_t i = 0;
        int r = SQLITE_DONE;
        while (!rc && (r = sqlite3_step(sel)) == SQLITE_ROW && i < m->nblocks) m->block_ids[i++] = sqlite3_column_int64(sel, 0);
        if (!rc && r != SQLITE_DONE && r != SQLITE_ROW) rc = ss__store_sqlerr(s, r, "read blocks");
        if (!rc && i != m->nblocks) rc = ss__fail(SS_ERR_FORMAT, "%s: blocks changed while reading", s->path);
        sqlite3_finalize(sel);
    }
    if (!rc && source) rc = source_mask(s, source, &allow);
    if (!rc) rc = ss__stream_new(q, nq, s->dim, k, &st);
    for (size_t b = 0; b < m->nblocks && !rc; b++) {
        int64_t block = m->block_ids[b];
        int r = bi ? sqlite3_blob_reopen(bi, block) : sqlite3_blob_open(s->db, "main", "blocks", "ids", block, 0, &bi);
        if (r == SQLITE_OK) r = bx ? sqlite3_blob_reopen(bx, block)
                                   : sqlite3_blob_open(s->db, "main", "vectors_f32", "data", block, 0, &bx);
        if (r != SQLITE_OK) {
            rc = ss__store_sqlerr(s, r == SQLITE_ERROR ? SQLITE_CORRUPT : r, "read vector blocks");
            break;
        }
        if ((size_t)sqlite3_blob_bytes(bi) != bs * 8 || (size_t)sqlite3_blob_bytes(bx) != bs * d * 4) {
            rc = ss__fail(SS_ERR_FORMAT, "%s: block %lld has the wrong size", s->path, (long long)block);
            break;
        }
        r = sqlite3_blob_read(bi, ids, (int)(bs * 8), 0);
        if (r == SQLITE_OK) r = sqlite3_blob_read(bx, x, (int)(bs * d * 4), 0);
        if (r != SQLITE_OK) {
            rc = ss__store_sqlerr(s, r, "read vector blocks");
            break;
        }
        ss__vecset v = {bs, s->dim, ids, x, NULL, NULL, allow ? allow + b * bs : NULL};
        ss__stream_feed(st, &v, b * bs);
    }
    if (!rc) ss__stream_finish(st, k, out, counts);
    if (!rc && split) rc = collapse(s, m->block_ids, m->nblocks, out, counts, nq, k, kv);
    if (bi) sqlite3_blob_close(bi);
    if (bx) sqlite3_blob_close(bx);
    ss__stream_free(st, nq);
    ss_free(ids);
    ss_free(x);
    ss_free(allow);
    ss__vecmem_free(m);
    return rc;
}

void ss_store_query_opts_init(ss_store_query_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->min_score = -INFINITY;
    o->precision = SS_PREC_F32;
    o->rrf_k = SS__RRF_K;
    o->fusion = SS_FUSION_CONVEX;
    o->alpha = SS__FUSION_ALPHA;
}

/* f32 rows from the database, for rescoring int8 candidates. */
static int fetch_rows(void *ctx, const size_t *pos, size_t n, float *out)
{
    ss_store *s = ctx;
    size_t bs = (size_t)s->block_size, d = (size_t)s->dim;
    for (size_t i = 0; i < n; i++) {
        int64_t block = s->mem.block_ids[pos[i] / bs];
        int r = SQLITE_OK;
        if (!s->fetch_blob) r = sqlite3_blob_open(s->db, "main", "vectors_f32", "data", block, 0, &s->fetch_blob);
        else if (s->fetch_block != block) r = sqlite3_blob_reopen(s->fetch_blob, block);
        if (r == SQLITE_OK) {
            s->fetch_block = block;
            r = sqlite3_blob_read(s->fetch_blob, out + i * d, (int)(d * 4), (int)((pos[i] % bs) * d * 4));
        }
        if (r != SQLITE_OK) {
            if (s->fetch_blob) sqlite3_blob_close(s->fetch_blob);
            s->fetch_blob = NULL;
            return ss__store_sqlerr(s, r, "read vectors for rescoring");
        }
    }
    return SS_OK;
}

/* allow[row] = 1 for the documents of a source. */
static int source_mask(ss_store *s, const char *source, uint8_t **out)
{
    ss__vecmem *m = &s->mem;
    uint8_t *allow = ss__calloc(m->n ? m->n : 1, 1);
    if (!allow) return ss__fail(SS_ERR_NOMEM, "out of memory");
    sqlite3_stmt *st;
    int split = 0;
    int rc = ss__store_has_passages(s, &split);
    if (!rc)
        rc = ss__store_prepare(s,
                               split ? "SELECT block, slot FROM documents WHERE source = ?1 UNION ALL "
                                       "SELECT p.block, p.slot FROM passages p JOIN documents d ON d.id = p.doc "
                                       "WHERE d.source = ?1 AND p.seq > 0"
                                     : "SELECT block, slot FROM documents WHERE source = ?1",
                               &st);
    if (rc) {
        ss_free(allow);
        return rc;
    }
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t block = sqlite3_column_int64(st, 0), slot = sqlite3_column_int64(st, 1);
        size_t lo = 0, hi = m->nblocks;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (m->block_ids[mid] < block) lo = mid + 1;
            else hi = mid;
        }
        if (lo < m->nblocks && m->block_ids[lo] == block && slot >= 0 && slot < s->block_size)
            allow[lo * (size_t)s->block_size + (size_t)slot] = 1;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        ss_free(allow);
        return ss__store_sqlerr(s, r, "filter by source");
    }
    *out = allow;
    return SS_OK;
}

/* Top n documents by BM25 for a text: docs[0..*got), and their BM25 scores
 * when scores is not NULL (hybrid.h). */
static int bm25(ss_store *s, const char *text, const char *source, int n, int64_t *docs, double *scores, int *got)
{
    *got = 0;
    if (!text) return SS_OK;
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s,
                               source ? (scores ? "SELECT d.id, f.rank FROM documents_fts f JOIN documents d ON d.id = "
                                                  "f.rowid WHERE documents_fts MATCH ?1 AND d.source = ?3 ORDER BY "
                                                  "f.rank LIMIT ?2"
                                                : "SELECT d.id FROM documents_fts f JOIN documents d ON d.id = f.rowid "
                                                  "WHERE documents_fts MATCH ?1 AND d.source = ?3 ORDER BY f.rank LIMIT ?2")
                                      : (scores ? SS__FTS_TOP_SCORES_SQL : SS__FTS_TOP_SQL),
                               &st);
    if (rc) return rc;
    if (source) sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
    int r;
    rc = ss__fts_top(st, text, n, docs, scores, got, &r);
    sqlite3_finalize(st);
    if (rc == SS_ERR_SQL) return ss__store_sqlerr(s, r, "full-text search");
    return rc;
}

int ss__store_query_check(const ss_store_query_opts *o, int need_args)
{
    if (!o || !need_args) return ss__fail(SS_ERR_ARG, "ss_store_query: NULL argument");
    if (o->k <= 0 || o->k > 100000) return ss__fail(SS_ERR_RANGE, "ss_store_query: k = %d", o->k);
    if (o->precision != SS_PREC_F32 && o->precision != SS_PREC_INT8)
        return ss__fail(SS_ERR_ARG, "ss_store_query: unknown precision %d", o->precision);
    if (o->hybrid && !o->texts) return ss__fail(SS_ERR_ARG, "ss_store_query: hybrid search needs the texts");
    if (o->hybrid && o->fusion != SS_FUSION_CONVEX && o->fusion != SS_FUSION_RRF)
        return ss__fail(SS_ERR_ARG, "ss_store_query: unknown fusion %d", o->fusion);
    if (o->hybrid && o->fusion == SS_FUSION_CONVEX && !(o->alpha >= 0 && o->alpha <= 1))
        return ss__fail(SS_ERR_RANGE, "the fusion weight %g is not in [0, 1]", (double)o->alpha);
    if (isnan(o->min_score)) return ss__fail(SS_ERR_NUMERIC, "ss_store_query: min_score is NaN");
    if (!(o->align >= 0 && o->align <= 100))
        return ss__fail(SS_ERR_RANGE, "the alignment weight %g is not in [0, 100]", (double)o->align);
    if (o->align > 0 && (!o->align_model || !o->texts))
        return ss__fail(SS_ERR_ARG, "ss_store_query: the alignment rerank needs the model and the query texts");
    return SS_OK;
}

void ss__qsides_free(ss__qsides *sd)
{
    ss_free(sd->vec);
    ss_free(sd->nvec);
    ss_free(sd->lex);
    ss_free(sd->lexs);
    ss_free(sd->nlex);
    memset(sd, 0, sizeof *sd);
}

int ss__qsides_alloc(ss__qsides *sd, size_t nq, const ss_store_query_opts *o, int lex_scores)
{
    memset(sd, 0, sizeof *sd);
    sd->kv = ss__store_kv(o); /* vector hits before fusion */
    size_t n = nq ? nq : 1, kv = (size_t)sd->kv;
    sd->vec = ss__malloc(n * kv * sizeof *sd->vec);
    sd->nvec = ss__calloc(n, sizeof *sd->nvec);
    sd->nlex = ss__calloc(n, sizeof *sd->nlex);
    if (o->hybrid) sd->lex = ss__malloc(n * kv * sizeof *sd->lex);
    lex_scores = o->hybrid && (lex_scores || o->fusion == SS_FUSION_CONVEX);
    if (lex_scores) sd->lexs = ss__malloc(n * kv * sizeof *sd->lexs);
    if (!sd->vec || !sd->nvec || !sd->nlex || (o->hybrid && !sd->lex) || (lex_scores && !sd->lexs)) {
        ss__qsides_free(sd);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    return SS_OK;
}

int ss__store_query_sides(ss_store *s, const float *q, size_t nq, const ss_store_query_opts *o, int lex_scores,
                          int no_lex, ss__qsides *sd)
{
    if (o->hybrid && !s->has_fts) return ss__fail(SS_ERR_ARG, "%s: no full-text index for hybrid search", s->path);
    int rc = ss__qsides_alloc(sd, nq, o, lex_scores);
    if (rc || nq == 0) return rc;
    rc = begin_read(s);
    if (rc) {
        ss__qsides_free(sd);
        return rc;
    }
    int prec = o->precision, dim_before = s->dim;
    char fp_before[80];
    snprintf(fp_before, sizeof fp_before, "%s", s->model_fp ? s->model_fp : "");
    int fresh = 0, stream = 0;
    int64_t version;
    if (o->once && prec == SS_PREC_F32) {
        rc = is_fresh(s, &fresh, &version);
        stream = !rc && !(fresh && s->mem.f32);
        if (stream && !fresh) rc = refresh_meta(s);
    }
    if (!rc && !stream) rc = ensure(s, 1 << prec);
    /* the queries were embedded with the model the handle knew: if another
     * process re-embedded the database meanwhile, they no longer fit */
    if (!rc && fp_before[0] && s->model_fp && s->model_fp[0] && (strcmp(fp_before, s->model_fp) || s->dim != dim_before))
        rc = ss__fail(SS_ERR_MODEL, "%s: the database was re-embedded with model '%s' meanwhile", s->path,
                      s->model_name);
    if (rc || (!stream && s->mem.live == 0) || s->dim == 0) { /* an error, or nothing stored yet */
        end_read(s);
        if (rc) ss__qsides_free(sd);
        return rc;
    }
    size_t d = (size_t)s->dim;
    int kv = sd->kv;
    /* documents split into passages: more rows than documents, each
     * document's best row kept (collapse); enough rows fetched that kv
     * documents remain: kv plus every further passage, or kv times the most
     * passages of one document, whichever is less (and at most 65536 more) */
    int split = 0, fetch = kv;
    rc = ss__store_has_passages(s, &split);
    if (!rc && split) {
        int64_t extra = 0, most = 0;
        rc = query_i64(s, "SELECT count(*) FROM passages WHERE seq > 0", &extra);
        if (!rc) rc = query_i64(s, "SELECT coalesce(max(seq), 0) FROM passages", &most);
        int64_t f = SS_MIN((int64_t)kv + extra, (int64_t)kv * (most + 1));
        fetch = (int)SS_MIN(f, (int64_t)kv + 65536);
        if (fetch < kv) fetch = kv;
    }
    if (rc) {
        end_read(s);
        ss__qsides_free(sd);
        return rc;
    }
    float *qn = ss__malloc(nq * d * sizeof *qn);
    ss__hit *raw = ss__malloc(nq * (size_t)fetch * sizeof *raw);
    int *rawn = ss__malloc(nq * sizeof *rawn);
    uint8_t *allow = NULL;
    if (!qn || !raw || !rawn) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < nq && !rc; j++) { /* normalize: scores are cosines */
        double ss = 0;
        for (size_t i = 0; i < d; i++) {
            float v = q[j * d + i];
            if (!isfinite(v)) {
                rc = ss__fail(SS_ERR_NUMERIC, "query %zu: not a finite number", j + 1);
                break;
            }
            ss += (double)v * v;
        }
        if (!rc && !(ss > 0)) rc = ss__fail(SS_ERR_NUMERIC, "query %zu: zero vector", j + 1);
        if (rc) break;
        /* in double: for a vector of denormals 1/|q| overflows a float
         * (inf, then NaN scores in arbitrary order) */
        double inv = 1.0 / sqrt(ss);
        for (size_t i = 0; i < d; i++) qn[j * d + i] = (float)((double)q[j * d + i] * inv);
    }
    if (!rc && !stream && o->source) rc = source_mask(s, o->source, &allow);
    if (!rc && stream) {
        rc = stream_search(s, qn, nq, fetch, o->source, raw, rawn, kv, split);
    } else if (!rc) {
        ss__vecmem *m = &s->mem;
        ss__vecset v = {m->n, s->dim, m->ids, m->f32, m->codes, m->scales, allow};
        if (prec == SS_PREC_F32) {
            rc = ss__search_f32(&v, qn, nq, fetch, o->threads, raw, rawn);
        } else {
            int cand = o->rerank > 0 ? SS_MAX(o->rerank, fetch) : SS_MAX(4 * fetch, 64);
            rc = ss__search_i8(&v, qn, nq, fetch, cand, o->threads, fetch_rows, s, raw, rawn);
        }
        if (!rc && split) rc = collapse(s, m->block_ids, m->nblocks, raw, rawn, nq, fetch, kv);
    }
    for (size_t j = 0; j < nq && !rc; j++) {
        /* each query's kv best documents, pos its passage (0: stored whole) */
        ss__hit *r = raw + j * (size_t)fetch, *v = sd->vec + j * (size_t)kv;
        int n = SS_MIN(rawn[j], kv);
        for (int i = 0; i < n; i++) {
            v[i] = r[i];
            if (!split) v[i].pos = 0;
        }
        sd->nvec[j] = n;
        if (o->hybrid && !no_lex)
            rc = bm25(s, o->texts[j], o->source, kv, sd->lex + j * (size_t)kv,
                      sd->lexs ? sd->lexs + j * (size_t)kv : NULL, &sd->nlex[j]);
    }
    if (s->fetch_blob) { /* never keep a BLOB handle across transactions */
        sqlite3_blob_close(s->fetch_blob);
        s->fetch_blob = NULL;
    }
    end_read(s);
    ss_free(qn);
    ss_free(raw);
    ss_free(rawn);
    ss_free(allow);
    if (rc) ss__qsides_free(sd);
    return rc;
}

/* The text a candidate of the vector side stands for: its passage, or the
 * whole document (passage 0 of one stored whole); "" when another
 * connection deleted it meanwhile. */
static int candidate_text(ss_store *s, int64_t doc, size_t pos, char **out, size_t *len)
{
    ss_store_doc d;
    memset(&d, 0, sizeof d);
    *out = NULL;
    *len = 0;
    int rc = ss_store_get(s, doc, &d);
    size_t start = 0, n = 0;
    if (!rc) rc = ss_store_get_passage(s, doc, (int)pos, &start, &n);
    if (rc == SS_ERR_RANGE) {
        ss_store_doc_clear(&d);
        return SS_OK;
    }
    if (!rc && !(*out = ss__malloc(n + 1))) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) {
        memcpy(*out, d.text + start, n);
        (*out)[n] = 0;
        *len = n;
    }
    ss_store_doc_clear(&d);
    return rc;
}

/* ss__align_rerank on r[0..nv), candidate id = doc x ns + the store's index. */
static int rerank(ss_store *const *stores, size_t ns, const char *query, const ss_store_query_opts *o, ss__hit *r,
                  int nv)
{
    char **texts = ss__calloc((size_t)nv + 1, sizeof *texts);
    size_t *lens = ss__calloc((size_t)nv + 1, sizeof *lens);
    int rc = texts && lens ? SS_OK : ss__fail(SS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nv && !rc; i++) {
        rc = candidate_text(stores[r[i].id % (int64_t)ns], r[i].id / (int64_t)ns, r[i].pos, &texts[i], &lens[i]);
        if (!rc && !texts[i] && !(texts[i] = ss__calloc(1, 1))) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (!rc) rc = ss__align_rerank(o->align_model, o->align, query, strlen(query), r, nv, (const char *const *)texts, lens);
    for (int i = 0; texts && i < nv; i++) ss_free(texts[i]);
    ss_free(texts);
    ss_free(lens);
    return rc;
}

int ss__qsides_finish(const ss__qsides *sd, size_t j, const ss_store_query_opts *o, ss_store *const *stores,
                      size_t ns, size_t qj, ss_hit *h, int *count)
{
    ss__hit *r = sd->vec + j * (size_t)sd->kv;
    int nv = sd->nvec[j];
    *count = 0;
    if (o->align > 0) {
        int rc = rerank(stores, ns, o->texts[qj], o, r, nv);
        if (rc) return rc;
    }
    if (o->hybrid) {
        ss__fusion fo = {o->fusion, o->rrf_k, o->alpha};
        int rc = ss__hybrid_fuse(r, nv, sd->lex + j * (size_t)sd->kv, sd->lexs ? sd->lexs + j * (size_t)sd->kv : NULL,
                                 sd->nlex[j], &fo, o->k, o->min_score, h, count);
        for (int c = 0; !rc && c < *count; c++) { /* the passage of the vector side's hit */
            h[c].passage = 0;
            for (int i = 0; i < nv; i++)
                if (r[i].id == h[c].doc) {
                    h[c].passage = (int32_t)r[i].pos;
                    break;
                }
        }
        return rc;
    }
    int c = 0;
    for (int i = 0; i < nv && c < o->k; i++) {
        if (r[i].score < o->min_score) break;
        h[c].doc = r[i].id;
        h[c].score = r[i].score;
        h[c].passage = (int32_t)r[i].pos;
        c++;
    }
    *count = c;
    return SS_OK;
}

int ss_store_query(ss_store *s, const float *q, size_t nq, const ss_store_query_opts *o, ss_hit *hits, int *counts)
{
    int rc = ss__store_query_check(o, s && (!nq || (q && hits && counts)));
    if (rc) return rc;
    for (size_t j = 0; j < nq; j++) counts[j] = 0;
    if (nq == 0) return o->hybrid && !s->has_fts ? ss__fail(SS_ERR_ARG, "%s: no full-text index for hybrid search", s->path) : SS_OK;
    ss__qsides sd;
    rc = ss__store_query_sides(s, q, nq, o, 0, 0, &sd);
    for (size_t j = 0; j < nq && !rc; j++)
        rc = ss__qsides_finish(&sd, j, o, &s, 1, j, hits + j * (size_t)o->k, &counts[j]);
    ss__qsides_free(&sd);
    if (rc)
        for (size_t j = 0; j < nq; j++) counts[j] = 0;
    return rc;
}
