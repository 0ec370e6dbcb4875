/* search.h: exact top-k search over vectors held in memory.
 *
 * Scores are dot products (cosine for the L2-normalized vectors the store
 * keeps). Results are ordered by score, best first; equal scores by doc id,
 * smallest first, so that the order is the same whatever the thread count,
 * the instruction set or the batch a query came in.
 *
 * Two scans:
 *  - f32: the exact score of every row (memory bound: 1 KB per 256-d row);
 *  - int8: an integer dot product over one byte per dimension (4x less
 *    memory), keeping `cand` candidates whose exact f32 scores then decide.
 * Both run over row chunks that fit in L2 and, for several queries, compute
 * every query against a chunk before moving on (one read of the vectors per
 * batch: a blocked matrix product). Threads (src/base/pool.h) claim contiguous
 * row ranges one at a time into their own heaps, merged at the end. */
#ifndef SS_SEARCH_H
#define SS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ss__hit {
    float score;
    int64_t id;  /* document id */
    size_t pos;  /* row in the vector set */
} ss__hit;

/* 1 when (s1,id1) ranks before (s2,id2). */
static inline int ss__hit_before(float s1, int64_t id1, float s2, int64_t id2)
{
    return s1 > s2 || (s1 == s2 && id1 < id2);
}

/* A bounded heap keeping the k best hits; the worst kept hit at the root. */
typedef struct ss__topk {
    int k, n;
    ss__hit *h;
} ss__topk;

int ss__topk_init(ss__topk *t, int k);
void ss__topk_free(ss__topk *t);
void ss__topk_push(ss__topk *t, float score, int64_t id, size_t pos);
/* Sorts the kept hits best first (the heap is spent: n stays, order changes). */
void ss__topk_sort(ss__topk *t);
/* qsort comparator of ss__hit: best first, as ss__hit_before. */
int ss__hit_cmp(const void *a, const void *b);

/* Rows searched. Row i is live when ids[i] != 0 and (allow == NULL or
 * allow[i]); other rows are never returned. */
typedef struct ss__vecset {
    size_t n;
    int dim;
    const int64_t *ids;    /* (n) */
    const float *f32;      /* (n,dim) or NULL */
    const uint8_t *codes;  /* (n,dim) int8 codes stored offset binary (code+128), or NULL */
    const float *scales;   /* (n) code scale: x ~ scale * code */
    const uint8_t *allow;  /* (n) or NULL */
} ss__vecset;

/* Fetches the f32 rows at positions pos[0..n) into out (n,dim), for the
 * rescoring of int8 candidates when the f32 rows are not in memory. */
typedef int (*ss__fetch_fn)(void *ctx, const size_t *pos, size_t n, float *out);

/* Exact f32 search: nq queries (nq,dim); out (nq,k) best first, counts (nq)
 * hits found per query (< k when fewer live rows). threads 0: ss_get_threads. */
int ss__search_f32(const ss__vecset *v, const float *q, size_t nq, int k, int threads,
                   ss__hit *out, int *counts);
/* int8 scan keeping cand (>= k) candidates per query, rescored exactly with
 * v->f32 (or fetch when v->f32 is NULL). */
int ss__search_i8(const ss__vecset *v, const float *q, size_t nq, int k, int cand, int threads,
                  ss__fetch_fn fetch, void *fetch_ctx, ss__hit *out, int *counts);

/* Streaming f32 search, for rows that arrive in pieces (read block by block
 * and never held in memory together): the same scan and ordering as
 * ss__search_f32, on one thread. q (nq,dim) must outlive the stream. */
typedef struct ss__stream ss__stream;
int ss__stream_new(const float *q, size_t nq, int dim, int k, ss__stream **out);
/* Scans rows (rows->f32, ids, allow); pos0: the row number of its first row. */
void ss__stream_feed(ss__stream *st, const ss__vecset *rows, size_t pos0);
/* The k best of each query so far, best first, into out (nq,k) and counts. */
void ss__stream_finish(ss__stream *st, int k, ss__hit *out, int *counts);
void ss__stream_free(ss__stream *st, size_t nq);

/* Quantizes one vector: scale = max|x| / 127, codes = round(x/scale)+128. */
void ss__quantize_i8(const float *x, int dim, uint8_t *codes, float *scale);

/* The dot product used by every f32 path (the same rounding wherever the row
 * sits): exposed for rescoring and tests. */
float ss__dot_f32(const float *a, const float *b, int dim);

/* Kernel selection, for tests and benchmarks: 0 scalar, 1 AVX2, 2 AVX-512;
 * returns the level in effect (the best available when asked for more). */
int ss__search_isa(int want);

#endif
