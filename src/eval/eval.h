/* eval.h: internals of the evaluation metrics (the public ss_eval_* calls
 * are in semsearch.h): ranks, ROC points for plots, and a retrieval
 * accumulator that takes one similarity row at a time, so that a file of
 * 25k texts never needs its whole (queries x texts) matrix in memory. */
#ifndef SS_EVAL_H
#define SS_EVAL_H

#include <stddef.h>

#include "semsearch.h"

/* 1-based ranks of x (ascending), tied values getting their average rank. */
int ss__ranks(const double *x, size_t n, double *rank);

/* ROC curve: *np points (fpr, tpr) from (0,0) to (1,1), one after each
 * distinct score from the highest down. Released with ss_free. */
int ss__eval_roc(const double *score, const int *label, size_t n, double **fpr, double **tpr,
                 size_t *np);

#define SS__RETR_K 10 /* metrics look at the top 10 */

typedef struct ss__retrieval_acc {
    size_t nq, nd;
    double recall_sum[SS__RETR_K]; /* sum over queries of recall@k, k = 1..10 */
    double mrr_sum, ndcg_sum;
    unsigned char *is_rel; /* (nd) scratch: 1 for the current query's relevant documents */
} ss__retrieval_acc;

int ss__retrieval_acc_init(ss__retrieval_acc *a, size_t nd);
/* Adds one query from its ranked relevance list (see ss_eval_ranked). */
int ss__retrieval_acc_ranked(ss__retrieval_acc *a, const unsigned char *rel, size_t k,
                             size_t n_relevant);
/* Adds one query from its similarity row (nd): relevant documents rel[0..nrel),
 * skip a document index or SIZE_MAX. Ties rank non-relevant documents first. */
int ss__retrieval_acc_row(ss__retrieval_acc *a, const float *row, const size_t *rel, size_t nrel,
                          size_t skip);
/* Means so far; recall_curve (may be NULL) gets mean recall@k for k = 1..10. */
int ss__retrieval_acc_result(const ss__retrieval_acc *a, ss_eval_retrieval *out,
                             double *recall_curve);
void ss__retrieval_acc_free(ss__retrieval_acc *a);

#endif
