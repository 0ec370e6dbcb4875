/* eval_retrieval.h: retrieval evaluation the way BEIR and MTEB measure it:
 * queries, a corpus and graded relevance judgements (qrels), with the model
 * (exact cosine over the corpus), BM25 and their hybrid fusion exactly as
 * `query --hybrid` computes them (hybrid.h).
 *
 * Data, found from one path (ss__ir_resolve):
 *   NAME.queries.tsv  qid TAB text
 *   NAME.corpus.tsv   docid TAB text
 *   NAME.qrels.tsv    qid TAB docid TAB relevance (an integer >= 0)
 * named by any of the three files or by NAME (each may be gzip-compressed,
 * then named NAME.PART.tsv.gz); or BEIR's own layout, a
 * directory with corpus.jsonl ("_id", "title", "text"; the text embedded
 * and indexed is title + " " + text, stripped, as BEIR joins them),
 * queries.jsonl ("_id", "text") and qrels/test.tsv or qrels/dev.tsv (with
 * its header line), or one of those qrels files named directly.
 *
 * Metrics follow trec_eval / pytrec_eval as BEIR reports them, for graded
 * relevance: a document is relevant when its relevance is >= 1;
 *   nDCG@10    sum over the top 10 of rel / log2(rank + 1), divided by the
 *              same sum for the judgements sorted by relevance (linear gain)
 *   recall@k   relevant documents in the top k / relevant documents
 *   MRR@10     1 / rank of the first relevant document in the top 10 (or 0)
 *   MAP@100    sum of precision@rank at each relevant document in the top
 *              100, divided by the number of relevant documents
 * averaged over the queries that have a relevant judgement; queries with no
 * judgement, or only judgements of relevance 0, are skipped and counted. A
 * hit whose id equals the query's id is ignored (BEIR's convention; a Quora
 * query is itself in the corpus): each system ranks the corpus without it.
 *
 * Memory is the corpus's texts and vectors (corpus x dim floats) and
 * (queries x depth) hits, never a queries x corpus matrix. */
#ifndef SS_EVAL_RETRIEVAL_H
#define SS_EVAL_RETRIEVAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "semsearch.h"

#define SS__IR_DEPTH 100 /* ranks scored: recall@100, MAP@100 */

/* ------------------------------------------------------------------ data */

/* Where the three parts of a retrieval data set are. */
typedef struct ss__ir_paths {
    int beir;                              /* 1: BEIR jsonl layout */
    char *name;                            /* NAME or the directory, for titles */
    char *queries, *corpus, *qrels;        /* the files */
} ss__ir_paths;

/* 1 and *out filled when path names a retrieval data set (by name, or a
 * directory or file that exists), 0 when it does not look like one, or an
 * SS_ERR_* code (a BEIR directory without qrels: "DIR: ..."). */
int ss__ir_resolve(const char *path, ss__ir_paths *out);
void ss__ir_paths_free(ss__ir_paths *p);

typedef struct ss__ir_data {
    ss__ir_paths paths;
    size_t nq, nd;                 /* queries (every line of the queries file), documents */
    const char **qid, **qtext;     /* (nq) */
    size_t *qlen;                  /* (nq) */
    const char **did, **dtext;     /* (nd) */
    size_t *dlen;                  /* (nd) */
    /* judgements of query q: jdoc/jrel[jstart[q] .. jstart[q+1]) */
    size_t *jstart;                /* (nq + 1) */
    size_t *jdoc;
    int *jrel;
    size_t n_judgements;
    size_t *self;                  /* (nq) the document with the query's id, or SIZE_MAX */
    /* evaluated queries: eval[0 .. n_eval), in file order */
    size_t *eval, n_eval;
    size_t n_unjudged;             /* skipped: no judgement */
    size_t n_no_relevant;          /* skipped: judged, but no relevance >= 1 */
    char *pool;                    /* owns every text */
    size_t pool_len;
    int fts_plain;                 /* BM25 over unstemmed words (set after loading) */
} ss__ir_data;

/* Loads a data set; errors are "FILE:LINE: what" (unknown query or
 * document, a duplicate id or judgement, a missing column, a relevance that
 * is not an integer >= 0) or "FILE: ..." (no documents, no queries, no
 * judgements, no query with a relevant document). */
int ss__ir_load(const char *path, ss__ir_data *out);
void ss__ir_free(ss__ir_data *d);

/* --------------------------------------------------------------- metrics */

typedef struct ss__ir_metrics {
    size_t n_queries;
    double ndcg_at_10, recall_at_10, recall_at_100, mrr_at_10, map_at_100;
    double recall_curve[SS__IR_DEPTH]; /* mean recall@k, k = 1..100 */
} ss__ir_metrics;

typedef struct ss__ir_acc {
    const ss__ir_data *d;
    int *rel;                     /* (nd) 1 + relevance of the current query's judged documents */
    unsigned char *seen;          /* (nd) documents of the current ranking so far */
    size_t seen_list[SS__IR_DEPTH];
    size_t nq;
    double ndcg, r10, r100, mrr, map;
    double curve[SS__IR_DEPTH];
} ss__ir_acc;

int ss__ir_acc_init(ss__ir_acc *a, const ss__ir_data *d);
/* Adds evaluated query q (an index into d->qid) from its ranking: document
 * indices best first, at most SS__IR_DEPTH of them counted; the query's own
 * document and repeats are passed over without taking a rank. */
int ss__ir_acc_add(ss__ir_acc *a, size_t q, const size_t *ranked, size_t n);
int ss__ir_acc_result(const ss__ir_acc *a, ss__ir_metrics *out);
void ss__ir_acc_free(ss__ir_acc *a);

/* --------------------------------------------------------------- systems */

enum { SS__IR_MODEL = 0, SS__IR_BM25, SS__IR_HYBRID, SS__IR_NSYS };

typedef struct ss__ir_result {
    int has[SS__IR_NSYS];
    ss__ir_metrics m[SS__IR_NSYS];
    double seconds[SS__IR_NSYS];  /* wall time of each system (hybrid: the fusion alone) */
} ss__ir_result;

/* Progress of a long step ("embedding", "searching", "bm25"): done of total. */
typedef void (*ss__ir_progress_fn)(void *ctx, const char *step, size_t done, size_t total);

/* Evaluates BM25, and with a model the model and the hybrid. */
int ss__ir_evaluate(ss_model *m, const ss__ir_data *d, ss__ir_progress_fn progress, void *ctx,
                    ss__ir_result *out);

/* One system's ranking of evaluated query q (an index into d->qid): the
 * documents docs[0..n) best first (at most SS__IR_DEPTH, the query's own
 * document left out) and their scores (cosine; BM25, positive; the fused
 * RRF score). A nonzero return stops the evaluation with that code. */
typedef int (*ss__ir_run_fn)(void *ctx, int sys, size_t q, const size_t *docs, const double *scores,
                             size_t n);
/* ss__ir_evaluate, handing every ranking to run (in query order, on the
 * calling thread; BM25 then costs a tenth more, for its scores), the model's
 * side reranked by the soft term alignment at weight align (0: none;
 * ss_store_query_opts.align), before the hybrid fuses it. */
int ss__ir_evaluate_runs(ss_model *m, float align, const ss__ir_data *d, ss__ir_progress_fn progress, void *ctx,
                         ss__ir_run_fn run, void *run_ctx, ss__ir_result *out);

/* An in-memory FTS5 index of n texts (rowid i + 1 for text i), made as the
 * store makes documents_fts (stem: with English stemming), and its top-n statement for ss__fts_top
 * (SS__FTS_TOP_SQL, or SS__FTS_TOP_SCORES_SQL when scores). Close with
 * ss__ir_fts_close. */
int ss__ir_fts_build(const char *const *texts, const size_t *lens, size_t n, int scores, int stem, sqlite3 **db,
                     sqlite3_stmt **top);
void ss__ir_fts_close(sqlite3 *db, sqlite3_stmt *top);

#endif
