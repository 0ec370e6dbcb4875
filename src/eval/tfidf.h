/* tfidf.h: the bag-of-words baseline of `semsearch eval --baseline`: how
 * much of a similarity task plain word overlap already solves.
 *
 * Words: the text is normalized with NFKC and case folding (ss_normalize),
 * then a word is a maximal run of letters, digits and combining marks
 * (Unicode categories L*, N*, M*); everything else (spaces, punctuation,
 * symbols) separates words. No stop words, no stemming.
 * Weights, over the N texts given (as scikit-learn's TfidfVectorizer with
 * its defaults): tf = count of the word in the text, idf = ln((1 + N) /
 * (1 + df)) + 1, vector = tf * idf, L2-normalized. The similarity of two
 * texts is the cosine of their vectors; 0 when either has no word. */
#ifndef SS_TFIDF_H
#define SS_TFIDF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ss__tfidf {
    size_t n_docs, n_terms;
    size_t *row_start; /* (n_docs + 1): doc i's terms are [row_start[i], row_start[i+1]) */
    uint32_t *term;    /* term ids, ascending within a row */
    double *w;         /* L2-normalized weights */
    /* inverted index (built on the first ss__tfidf_sims): doc ids by term */
    size_t *col_start;
    uint32_t *col_doc;
    double *col_w;
} ss__tfidf;

/* Calls fn(ctx, word, len) for each word of text (bytes of the normalized
 * text, not NUL-terminated); stops at and returns fn's first non-zero value. */
int ss__words(const char *text, size_t len, int (*fn)(void *ctx, const char *w, size_t n),
              void *ctx);

int ss__tfidf_build(const char *const *texts, const size_t *lens, size_t n, ss__tfidf **out);
double ss__tfidf_cosine(const ss__tfidf *t, size_t i, size_t j);
/* Similarities of document q to every document: out (n_docs). */
int ss__tfidf_sims(ss__tfidf *t, size_t q, double *out);
void ss__tfidf_free(ss__tfidf *t);

#endif
