/* train.h: the training loop of `semsearch train`, as a library call that
 * never prints: progress and log lines go to callbacks, a signal handler
 * stops it through a flag.
 *
 * A run is resumable exactly: the data order of an epoch is a function of
 * (data, seed, epoch, batch size) (trainset.h), augmentation is seeded per
 * batch, dropout's RNG state, the AdamW moments and the step are in the
 * checkpoint, so a resumed run takes bit-for-bit the steps the uninterrupted
 * run would have taken (with the same number of threads). */
#ifndef SS_TRAIN_H
#define SS_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "train/augment.h"
#include "train/dist.h"
#include "train/docpairs.h"
#include "train/history.h"
#include "train/loss.h"
#include "train/schedule.h"
#include "semsearch.h"
#include "train/trainset.h"

typedef ss_train_progress ss__train_progress; /* semsearch.h */

typedef struct ss__train_opts {
    int batch_size;        /* pairs per step (default 64) */
    int64_t steps;         /* steps of the run; 0: epochs x batches of epoch 0 */
    double epochs;         /* when steps is 0 (default 1) */
    int max_len;           /* tokens per text, 0 = the model's max_len */
    ss__schedule sched;    /* kind, lr, min_lr; warmup and total are filled in */
    double warmup_frac;    /* warmup = warmup_frac x total when warmup_steps < 0 */
    int64_t warmup_steps;
    float temperature;     /* InfoNCE / NT-Xent temperature (initial, if learned) */
    int learn_temperature; /* 1: the temperature is a trained parameter */
    float margin;          /* triplet margin (cosine) */
    float cosent_scale;    /* CoSENT lambda (default 20) */
    int loss;              /* SS__LOSS_* */
    float weight_decay, beta1, beta2, eps, grad_clip;
    float embedding_lr;    /* embeddings' learning rate as a fraction of lr (1; 0 freezes) */
    int curriculum;        /* SS__CURRIC_* */
    ss__aug_opts aug;      /* views of lone sentences */
    ss__docpair_opts docs; /* pairs made from documents */
    int grad_cache;        /* texts per forward/backward chunk (GradCache), 0 = off */
    uint64_t seed;

    const char *checkpoint; /* checkpoint path (required) */
    int64_t save_every;     /* 0: only at the end or when stopped */
    int64_t stop_at;        /* stop with a checkpoint after this step (0 = never) */
    const char *output;     /* final model (required) */
    const char *best;       /* best model by dev score (with eval_path) */
    int dtype;              /* SS_DTYPE_* of output and best */
    const char *eval_path;  /* *.scored.tsv dev set: Spearman every eval_every steps */
    int64_t eval_every;     /* 0: only at the end */

    volatile sig_atomic_t *stop; /* becomes non-zero: checkpoint and return SS_ERR_INTERRUPTED */
    void (*on_progress)(void *ctx, const ss__train_progress *p);
    void (*on_log)(void *ctx, const char *msg);
    void *ctx;
    ss__dist *dist; /* dist.h: the processes of the run, NULL: one */
} ss__train_opts;

void ss__train_opts_init(ss__train_opts *o);

/* What a run did: the public ss_train_result (semsearch.h). */
typedef ss_train_result ss__train_result;

/* Trains model (fine-tuning whatever it holds) on ts. With resume (a
 * checkpoint path, or NULL) the optimizer state, step and data position come
 * from it, and model must be the one loaded from it (ss_model_load reads a
 * checkpoint as a model). Returns SS_OK when the run is complete and the
 * output written; SS_ERR_INTERRUPTED when stopped by *stop or stop_at (a
 * checkpoint saved); SS_ERR_NUMERIC when the loss became NaN/Inf (nothing
 * written after the last good checkpoint). */
int ss__train_run(ss_model *model, const ss__trainset *ts, const ss__train_opts *o, const char *resume,
                  ss__train_result *res);

#endif
