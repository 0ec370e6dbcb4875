/* train_step.h: one training step of the encoder on a batch of positive
 * pairs (in-batch InfoNCE, backward, clipping, AdamW). The trainer (loops,
 * data, schedules, checkpoints) is built on this. */
#ifndef SS_TRAIN_STEP_H
#define SS_TRAIN_STEP_H

#include <stdint.h>

#include "semsearch.h"
#include "train/dist.h"

typedef struct ss__step_opts {
    float lr;           /* learning rate for this step */
    float temperature;  /* InfoNCE temperature, e.g. 0.05 */
    float weight_decay; /* AdamW decoupled decay (not applied to LayerNorm weights and biases) */
    float beta1, beta2, eps;
    float grad_clip;    /* max global grad L2 norm, 0 = off */
    int symmetric;      /* 1: (a->b + b->a)/2, 0: a->b only */
    int chunk;          /* gradient caching: at most this many texts per forward
                           and backward (0 = the whole batch at once) */
    float embedding_lr; /* the token and position embeddings' learning rate as a
                           fraction of lr (1; 0 freezes them) */
} ss__step_opts;

/* lr 5e-4, temp 0.05, wd 0.01, 0.9, 0.999, 1e-8, clip 1.0, sym 1, embedding_lr 1 */
void ss__step_opts_init(ss__step_opts *o);

typedef struct ss__trainer {
    ss_model *model;      /* not owned */
    float *grads, *m, *v; /* same layout as model->params */
    int64_t step;         /* AdamW steps taken */
    uint64_t rng[4];      /* dropout RNG state (xoshiro256**) */
    void *scratch;        /* activations etc. */
    ss__dist *dist;       /* the processes sharing each step (NULL: one) */
} ss__trainer;

/* The loss a step minimizes, as a parameter of the step: given the
 * embeddings ya (B,C) and yb (N,C) of the two sides it sets *L and fills da
 * (B,C), db (N,C) with the gradient of L with respect to them; it returns
 * non-zero when the loss (or a gradient it computes, such as a learned
 * temperature's) is not finite. work holds work_floats(ctx, B, N, C) floats
 * (from ss__malloc: aligned for double). after_update (may be NULL) runs
 * after the model's AdamW update of step `step`: a loss with parameters of
 * its own updates them there. negatives: b may hold more texts than a (hard
 * negatives); otherwise both sides hold the same number. */
typedef struct ss__step_loss {
    int (*grad)(void *ctx, const float *ya, const float *yb, int B, int N, int C, float *da, float *db,
                float *work, double *L);
    size_t (*work_floats)(const void *ctx, int B, int N, int C);
    void (*after_update)(void *ctx, const struct ss__step_opts *o, int64_t step);
    void *ctx;
    int negatives;
} ss__step_loss;

int ss__trainer_new(ss_model *m, uint64_t seed, ss__trainer **out);
void ss__trainer_free(ss__trainer *t);
/* a holds B texts, b B or more: a[i] and b[i] are positives, every other
 * text a negative (b[B..] are hard negatives: only a -> b sees them). Runs the forward of both sides with dropout (the model's
 * cfg.dropout), symmetric in-batch InfoNCE, backward, clipping, AdamW.
 * *loss is the loss before the update, *grad_norm the global gradient norm
 * before clipping. A non-finite loss or gradient returns SS_ERR_NUMERIC and
 * leaves the parameters and moments untouched. */
int ss__trainer_step(ss__trainer *t, const ss_batch *a, const ss_batch *b, const ss__step_opts *o,
                     float *loss, float *grad_norm);
/* The one training step, for any loss: two dropout keys from the trainer's
 * RNG, the forward of both sides, the loss and its gradient, the backward,
 * clipping, AdamW (no decay on 1-d tensors), then loss->after_update.
 * ss__trainer_step is this with in-batch InfoNCE at o->temperature. */
int ss__trainer_step_loss(ss__trainer *t, const ss_batch *a, const ss_batch *b, const ss__step_loss *loss,
                          const ss__step_opts *o, float *L, float *grad_norm);
/* With o->chunk > 0 and a side longer than that, the step is the same
 * computation in bounded memory (GradCache, Gao et al. 2021): every chunk is
 * embedded without keeping more than its own activations, the loss gradient
 * is taken with respect to all the embeddings, then each chunk is embedded
 * again (the same dropout) and back-propagated with its slice of that
 * gradient. The gradients equal the plain step's up to summation order;
 * dropout masks are drawn per chunk. */

/* With t->dist of P > 1 processes, every process is given the whole batch
 * and embeds its slice of each side: rows in chunks of o->chunk (or, without
 * gradient caching, of ceil(N / P), N the longer side), the chunks of a side
 * split into P runs of consecutive chunks, each chunk with the key gradient
 * caching gives it. The embeddings are gathered (every process then has the
 * whole batch's, and computes the same loss and embedding gradients), each
 * process back-propagates its rows, and the parameter gradients are summed:
 * the step of one process with gradient caching at that chunk size, up to
 * the order of float sums. A process whose slice is one chunk keeps its
 * activations instead of embedding them twice. */

/* Forward (no dropout) + loss only, for a validation loss. */
int ss__trainer_eval_loss(ss__trainer *t, const ss_batch *a, const ss_batch *b, float temperature,
                          float *loss);

#endif
