/* hybrid.h: the lexical (BM25) side of hybrid search and its fusion with
 * the vector ranking, shared by `query --hybrid` (store_search.c) and the
 * retrieval evaluation (eval_retrieval.c), so that `eval` measures exactly
 * what `query --hybrid` returns. Retuning the fusion (depth, weights) is a
 * change here, and both follow.
 *
 * BM25 is SQLite FTS5's bm25() (k1 = 1.2, b = 0.75, IDF = log((N - n + 0.5)
 * / (n + 0.5)), at least 1e-6) over an FTS5 table named documents_fts made
 * with SS__FTS_ARGS_STEM (FTS5's porter tokenizer over unicode61: words
 * case-folded, diacritics removed, split at anything but letters and digits,
 * then reduced to their English stem, so "runs" finds "running"), or, for a
 * database created with SS_STORE_NO_STEM or made before stemming existed,
 * SS__FTS_ARGS_PLAIN (unicode61 alone). The query is the text's words, each
 * quoted, joined by OR (at most SS__FTS_MAX_WORDS); FTS5 stems them as it
 * stemmed the documents. */
#ifndef SS_HYBRID_H
#define SS_HYBRID_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/search.h"
#include "semsearch.h"

/* The FTS5 options after the column list. Stemming is the default: the
 * shipped model is English, and on Quora dev it lifts BM25 nDCG@10 from
 * 74.3 to 77.1 and hybrid from 77.3 to 78.5. */
#define SS__FTS_ARGS_STEM ", tokenize='porter unicode61'"
#define SS__FTS_ARGS_PLAIN ""
#define SS__FTS_MAX_WORDS 64
/* Candidates taken from each side before fusion, and the default RRF k. */
#define SS__HYBRID_DEPTH 100
#define SS__RRF_K 60

/* The candidates each side contributes when k results are asked for. */
static inline int ss__hybrid_depth(int k) { return k > SS__HYBRID_DEPTH ? k : SS__HYBRID_DEPTH; }

/* The FTS5 MATCH expression for a text (malloc'd), or *out = NULL when the
 * text has no words. SS_ERR_NOMEM when out of memory. */
int ss__fts_expr(const char *text, char **out);

/* The top-n BM25 query over documents_fts, for ss__fts_top: ?1 is the
 * expression, ?2 the limit; the column is the rowid. The _SCORES variant
 * adds FTS5's rank (bm25(), negated: lower is better), for tests: it costs
 * a tenth more time. */
#define SS__FTS_TOP_SQL \
    "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?1 ORDER BY rank LIMIT ?2"
#define SS__FTS_TOP_SCORES_SQL \
    "SELECT rowid, rank FROM documents_fts WHERE documents_fts MATCH ?1 ORDER BY rank LIMIT ?2"

/* Runs a prepared top-n statement (SS__FTS_TOP_SQL, or one with the same
 * ?1, ?2 and first column; other parameters bound by the caller) for text:
 * docs[0..*got) best first, and, when scores is not NULL (the statement
 * being SS__FTS_TOP_SCORES_SQL), their BM25 scores (positive, higher is
 * better). A text without words finds nothing. On
 * an SQLite failure returns SS_ERR_SQL with the SQLite code in *sqlite_rc,
 * for the caller's message. The statement is reset, not finalized. */
int ss__fts_top(sqlite3_stmt *st, const char *text, int n, int64_t *docs, double *scores, int *got,
                int *sqlite_rc);

/* The fusion of hybrid search, as ss_store_query_opts gives it. The
 * defaults were chosen on Quora duplicate questions (models/README.md):
 * convex 0.5 beat RRF by one point of nDCG@10 there. */
#define SS__FUSION_ALPHA 0.5f
typedef struct ss__fusion {
    int kind;    /* SS_FUSION_CONVEX or SS_FUSION_RRF */
    int rrf_k;   /* RRF: <= 0 means SS__RRF_K */
    float alpha; /* convex: weight of the vector side */
} ss__fusion;

/* Fuses a vector ranking vec[0..nv) (best first, cosine scores) and a BM25
 * ranking lex[0..nl) (best first; lex_score their BM25 scores, needed by
 * the convex fusion, may be NULL for RRF):
 *   RRF     score = sum over the lists of 1 / (rrf_k + rank), rank from 1;
 *   CONVEX  score = alpha v + (1 - alpha) l, v and l a document's cosine and
 *           BM25 score min-max scaled to [0, 1] over their list (a list of
 *           one score, or of equal ones: 1); 0 for a list it is not in.
 * out[0..*count) the best k with score >= min_score; equal (float) scores
 * rank the smaller doc id first. */
int ss__hybrid_fuse(const ss__hit *vec, int nv, const int64_t *lex, const double *lex_score, int nl,
                    const ss__fusion *f, int k, float min_score, ss_hit *out, int *count);

/* The vector side's rerank by soft term alignment (ss_store_query_opts.align,
 * ss_model_align): vec[i].score += w x alignment(query, texts[i]), then vec
 * re-sorted best first (equal scores: smaller id first). texts[i] is
 * vec[i]'s text (lens may be NULL), query's length qlen bytes. Candidates are taken as for hybrid
 * (ss__hybrid_depth), so that the candidates' own idf means the same in
 * `query` and in `eval`. */
int ss__align_rerank(ss_model *m, float w, const char *query, size_t qlen, ss__hit *vec, int nv,
                     const char *const *texts, const size_t *lens);

#endif
