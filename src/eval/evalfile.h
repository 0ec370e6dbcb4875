/* evalfile.h: scoring the pairs or groups of a data file with a model
 * (cosine of ss_embed vectors) or the TF-IDF baseline (model NULL). The
 * public ss_eval_*_file calls and `semsearch eval` are built on these. */
#ifndef SS_EVALFILE_H
#define SS_EVALFILE_H

#include "text/datafile.h"
#include "semsearch.h"

/* sim[i] = similarity of p->a[i] and p->b[i] (sim has p->n entries). */
int ss__pairs_sims(ss_model *m, const ss__pairs *p, double *sim);

/* Retrieval metrics of groups (first text of each group = query, the
 * others = its relevant documents among all texts but the query);
 * recall_curve (may be NULL) gets mean recall@k for k = 1..10. */
int ss__groups_retrieval(ss_model *m, const ss__groups *g, ss_eval_retrieval *out,
                         double *recall_curve);

/* Metrics of a file's pairs from their similarities, with messages that
 * name the file (path) when a metric is undefined on it. */
int ss__sts_metrics(const char *path, const ss__pairs *p, const double *sim, double *spearman,
                    double *pearson);
int ss__pairs_metrics(const char *path, const ss__pairs *p, const double *sim, ss_eval_pairs *out);

#endif
