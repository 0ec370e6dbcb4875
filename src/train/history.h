/* history.h: what a training run records per step and per dev evaluation;
 * the training loop (train.h) appends to it, checkpoints (checkpoint.h) keep
 * it so that a resumed run still has the whole curve. */
#ifndef SS_HISTORY_H
#define SS_HISTORY_H

#include <stdint.h>

/* Everything recorded per step (kept in checkpoints, so that a resumed run
 * still has the whole curve for the metrics file and the plot). */
typedef struct ss__train_history {
    int64_t n, cap;                       /* steps recorded: row i is step i + 1 */
    float *loss, *lr, *grad_norm, *temp;  /* (n) */
    double *seconds;                      /* (n) wall time since the start of the run */
    int32_t *epoch;                       /* (n) */
    int64_t n_dev, cap_dev;
    int64_t *dev_step;                    /* (n_dev) step after which the dev set was scored */
    double *dev_score;                    /* (n_dev) */
} ss__train_history;

/* Append one step (row n + 1) or one dev score; SS_ERR_NOMEM keeps h as it was. */
int ss__train_history_push(ss__train_history *h, float loss, float lr, float gn, float temp, double sec,
                           int32_t ep);
int ss__train_history_push_dev(ss__train_history *h, int64_t step, double score);
void ss__train_history_free(ss__train_history *h);

#endif
