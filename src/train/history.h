/* history.h: what a training run records per step and per dev evaluation;
 * the training loop (train.h) appends to it, checkpoints (checkpoint.h) keep
 * it so that a resumed run still has the whole curve. */
#ifndef SS_HISTORY_H
#define SS_HISTORY_H

#include <stdint.h>

#include "semsearch.h"

/* Everything recorded per step: the public ss_train_history (semsearch.h). */
typedef ss_train_history ss__train_history;

/* Append one step (row n + 1) or one dev score; SS_ERR_NOMEM keeps h as it was. */
int ss__train_history_push(ss__train_history *h, float loss, float lr, float gn, float temp, double sec,
                           int32_t ep);
int ss__train_history_push_dev(ss__train_history *h, int64_t step, double score);
void ss__train_history_free(ss__train_history *h);

#endif
