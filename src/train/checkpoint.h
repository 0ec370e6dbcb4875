/* checkpoint.h: training checkpoints. A checkpoint is a model file (so
 * ss_model_load and every command read it as a model, f32) plus the state a
 * run needs to continue exactly:
 *   tensors train.adam_m, train.adam_v (n_params): the AdamW moments
 *   keys    train.format (u32 1), train.step, train.epoch, train.batch (i64:
 *           steps done, and the next batch as epoch and index in it),
 *           train.total_steps, train.seed, train.data_fingerprint (u64),
 *           train.batch_size (u32), train.loss (string),
 *           train.rng (u64 x4: the dropout RNG), train.log_temp and its two
 *           moments (f32), train.best_score (f64), train.best_step (i64),
 *           train.hist.* (the curve so far, see history.h). */
#ifndef SS_CHECKPOINT_H
#define SS_CHECKPOINT_H

#include <stdint.h>

#include "semsearch.h"
#include "train/history.h"
#include "train/loss.h"

typedef struct ss__ckpt_state {
    int64_t step, epoch, batch, total;
    uint64_t seed, data_fp;
    int batch_size;
    int loss; /* SS__LOSS_* */
    uint64_t rng[4];
    float log_temp, log_temp_m, log_temp_v;
    double best_score;
    int64_t best_step;
    ss__train_history hist; /* borrowed when saving, owned after loading */
} ss__ckpt_state;

/* Writes model + moments + state to path (temporary file, then rename). */
int ss__ckpt_save(const char *path, const ss_model *m, const float *adam_m, const float *adam_v,
                  const ss__ckpt_state *st);
/* Reads the moments (n_params floats each) and the state of a checkpoint;
 * the model itself is read with ss_model_load. A model file without the
 * training state is refused with a message that suggests --init. */
int ss__ckpt_load(const char *path, size_t n_params, float *adam_m, float *adam_v, ss__ckpt_state *st);

#endif
