/* bm25g.h: FTS5's BM25 with the statistics of several stores, so that the
 * BM25 side of a hybrid search over shards (fanout.c) scores every document
 * as one database holding them all would.
 *
 * BM25 needs the collection's row count, average length in tokens and each
 * query phrase's document frequency. Two FTS5 auxiliary functions, made on
 * a store's connection at first use: ss_fts_stats(documents_fts) gives a
 * store's counts (phrase frequencies in a MATCH query, where it is called
 * once), and ss_bm25g(documents_fts, STATS) is bm25() (k1 1.2, b 0.75, the
 * same operations in the same order, so the same doubles) computed with the
 * summed STATS instead of the store's own. */
#ifndef SS_BM25G_H
#define SS_BM25G_H

#include <stdint.h>

#include "store/hybrid.h"
#include "store/store.h"

typedef struct ss__bm25_stats {
    int64_t rows, tokens;
    int nphrase;
    int64_t df[SS__FTS_MAX_WORDS];
} ss__bm25_stats;

/* Adds s's counts for the query text to *st (which starts zeroed; nphrase
 * is set by the first store with a matching row; every store parses a text
 * into the same phrases). */
int ss__bm25g_stats(ss_store *s, const char *text, ss__bm25_stats *st);
/* The top n documents of s for text by BM25 over the global statistics g:
 * docs[0..*got) and their scores (positive, higher is better), as
 * ss__fts_top; source NULL for all. */
int ss__bm25g_top(ss_store *s, const char *text, const char *source, const ss__bm25_stats *g, int n, int64_t *docs,
                  double *scores, int *got);

#endif
