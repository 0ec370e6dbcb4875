/* store.h: internals of ss_store shared by store.c (schema, documents,
 * writes), store_search.c (vectors in memory, queries) and the SQLite
 * extension; the vectors' memory is vecmem.h, below both. The schema is
 * documented in docs/schema.md. */
#ifndef SS_STORE_H
#define SS_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "semsearch.h"
#include "store/hybrid.h"
#include "store/search.h"
#include "store/vecmem.h"

/* 1: the first; 2: documents split into passages (the passages table,
 * made by the first addition that needs it: a database without long texts
 * stays version 1, readable by older versions) */
#define SS_SCHEMA_VERSION 2
#define SS_APPLICATION_ID 0x53536462 /* "SSdb" */
#define SS_BLOCK_SIZE 1024           /* vectors per block row */

struct ss_store {
    sqlite3 *db;
    char *path;
    int readonly;
    int has_fts;
    int fts_stem; /* documents_fts stems English words (porter) */
    int block_size;
    /* the model recorded in the database (or declared, pending == 1) */
    char *model_name, *model_fp, *model_path;
    int dim;
    int pending;           /* declared by use_model, to be recorded at the next add */
    int64_t generation;    /* bumped by every write through this handle */
    sqlite3_blob *fetch_blob; /* f32 rows for int8 rescoring without f32 in memory */
    int64_t fetch_block;
    int bm25g_ready;          /* bm25g.c's functions made on this connection */
    ss__vecmem mem;
};

/* Maps an SQLite failure to an SS_ERR_* code and message ("PATH: what"). */
int ss__store_sqlerr(ss_store *s, int rc, const char *what);
/* Prepares a statement (SQL text is always a constant; values are bound). */
int ss__store_prepare(ss_store *s, const char *sql, sqlite3_stmt **st);
/* Runs constant SQL without results. */
int ss__store_exec(ss_store *s, const char *sql);
/* Re-reads the meta table (model, dim, block size). */
int ss__store_read_meta(ss_store *s);
/* Whether the passages table exists (schema version 2). */
int ss__store_has_passages(ss_store *s, int *yes);
/* 64-bit content hash of a text (stored as documents.hash). */
int64_t ss__text_hash(const char *text, size_t len);

/* store_search.c */
/* Loads (or reloads when stale) the vectors needed for `precisions`. */
int ss__store_ensure_loaded(ss_store *s, int precisions);

/* A query in two halves, so that several stores can answer one (fanout.c):
 * first each store's candidates (the "sides"), then the ranking made of
 * them. For each query j: vec[j*kv ..] its best documents by cosine (id the
 * document, pos its best passage, 0 for one stored whole), best first; with
 * hybrid, lex[j*kv ..] its BM25 top documents and lexs their BM25 scores
 * (convex fusion only). kv = ss__hybrid_depth(k) with hybrid, else k. */
typedef struct ss__qsides {
    int kv;
    ss__hit *vec;
    int *nvec;
    int64_t *lex;
    double *lexs;
    int *nlex;
} ss__qsides;

/* The checks of ss_store_query that do not need a store; need_args is 0
 * when a required pointer was NULL. */
int ss__store_query_check(const ss_store_query_opts *o, int need_args);
/* Buffers for nq queries (counts 0); lex_scores: BM25 scores kept with
 * RRF fusion too (to merge the BM25 rankings of several stores). */
int ss__qsides_alloc(ss__qsides *sd, size_t nq, const ss_store_query_opts *o, int lex_scores);
void ss__qsides_free(ss__qsides *sd);
/* Fills *sd (allocated here; freed on failure) with s's candidates; with
 * no_lex the BM25 side is left empty (nlex 0) for the caller to fill. */
int ss__store_query_sides(ss_store *s, const float *q, size_t nq, const ss_store_query_opts *o, int lex_scores,
                          int no_lex, ss__qsides *sd);
/* Query j's hits h[0..*count): the vector side (with o->align first
 * rescored in place by ss__align_rerank, against o->texts[qj], a candidate's
 * id being its document number x ns + the index of its store in stores[0..ns))
 * cut at k and min_score, or both sides fused (hybrid.h). */
int ss__qsides_finish(const ss__qsides *sd, size_t j, const ss_store_query_opts *o, ss_store *const *stores,
                      size_t ns, size_t qj, ss_hit *h, int *count);
/* The vector hits each query takes before fusion or the alignment rerank. */
static inline int ss__store_kv(const ss_store_query_opts *o)
{
    return o->hybrid || o->align > 0 ? ss__hybrid_depth(o->k) : o->k;
}

#endif
