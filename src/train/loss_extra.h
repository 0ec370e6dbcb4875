/* loss_extra.h: training steps with the losses other than the default
 * (symmetric InfoNCE at a fixed temperature, ss__trainer_step):
 *  - NT-Xent (SimCLR): the 2B texts of a batch are all anchors; each has its
 *    pair as positive and the other 2B-2 texts as negatives;
 *  - triplet: max(0, margin - cos(a_i, b_i) + cos(a_i, b_j*)) with b_j* the
 *    hardest in-batch negative of a_i (the most similar other positive);
 *  - CoSENT (Su 2022, sentence-transformers' CoSENTLoss), a ranking loss on
 *    graded pairs: with c_i = cos(a_i, b_i) and gold scores s_i,
 *    log(1 + sum over (i,j) with s_i > s_j of exp(lambda (c_j - c_i))):
 *    every pair scored higher than another should have the higher cosine;
 *  - InfoNCE or NT-Xent with a learned temperature: tau = exp(theta), theta
 *    trained by Adam (no decay) with the model's learning rate, clamped to
 *    [0.01, 1] (as CLIP clamps its logit scale).
 * Each is a loss passed to the one training step (ss__trainer_step_loss,
 * train_step.h): the trainer's gradients, moments, step, dropout RNG and
 * scratch, so checkpoints and exact resumption work the same for every loss. */
#ifndef SS_LOSS_EXTRA_H
#define SS_LOSS_EXTRA_H

#include "train/loss.h"
#include "train/train_step.h"

typedef struct ss__loss_extra_opts {
    int loss;          /* SS__LOSS_* (loss.h) */
    float temperature; /* fixed, or the initial value when learned */
    int learn_temperature;
    float margin;      /* triplet */
    float cosent_scale; /* CoSENT lambda */
} ss__loss_extra_opts;

typedef struct ss__loss_extra ss__loss_extra;

int ss__loss_extra_new(ss__trainer *t, const ss__loss_extra_opts *o, ss__loss_extra **out);
void ss__loss_extra_free(ss__loss_extra *x);
/* One step, as ss__trainer_step (o->temperature is ignored: the loss's own
 * temperature is used). score and group (B entries each) are the gold scores
 * of the pairs and the group of each (pairs are ranked against the pairs of
 * their group only; group may be NULL: one group): needed by CoSENT, NULL
 * for the other losses. SS_ERR_NUMERIC leaves everything untouched. */
int ss__loss_extra_step(ss__loss_extra *x, const ss_batch *a, const ss_batch *b, const double *score,
                        const int *group, const ss__step_opts *o, float *loss, float *grad_norm);
float ss__loss_extra_temperature(const ss__loss_extra *x);
/* The learned temperature's state (log tau and its Adam moments), for checkpoints. */
void ss__loss_extra_get_temp(const ss__loss_extra *x, float *log_t, float *m, float *v);
void ss__loss_extra_set_temp(ss__loss_extra *x, float log_t, float m, float v);

/* The losses on embeddings, exposed for tests: a, b (B,C) L2-normalized.
 * Return the loss; da, db (B,C) = its gradient; *dlogt (may be NULL) = the
 * gradient wrt log tau. work holds (2B)^2 floats. */
double ss__ntxent(const float *a, const float *b, int B, int C, float tau, float *da, float *db, float *dlogt,
                  float *work);
double ss__triplet(const float *a, const float *b, int B, int C, float margin, float *da, float *db,
                   float *work);
/* CoSENT: score (B), group (B, or NULL: all pairs comparable), lambda =
 * scale. A batch with no ordered pair (all scores tied) has loss 0 and
 * gradient 0. work (from ss__malloc: aligned for double) holds 4B floats. */
double ss__cosent(const float *a, const float *b, const double *score, const int *group, int B, int C,
                  float scale, float *da, float *db, float *work);
/* CoSENT over the scored pairs plus symmetric in-batch InfoNCE (temperature
 * tau) over the pairs whose score is NaN (paraphrase pairs: the texts of the
 * other unscored pairs are their negatives), summed. work holds 4B^2 + 4BC
 * floats. */
double ss__cosent_mixed(const float *a, const float *b, const double *score, const int *group, int B, int C,
                        float scale, float tau, float *da, float *db, float *work);
/* The same loss from its definition, in double, without log-sum-exp (it
 * overflows for large lambda |c_j - c_i|): a reference for tests. */
double ss__cosent_naive(const float *a, const float *b, const double *score, const int *group, int B, int C,
                        double scale);

#endif
