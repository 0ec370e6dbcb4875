/* schedule.h: the learning rate of each training step: linear warmup from
 * ~0 to the peak, then cosine or linear decay towards min_lr (or constant). */
#ifndef SS_SCHEDULE_H
#define SS_SCHEDULE_H

#include <stdint.h>

enum { SS__SCHED_COSINE = 0, SS__SCHED_LINEAR = 1, SS__SCHED_CONSTANT = 2 };

typedef struct ss__schedule {
    int kind;       /* SS__SCHED_* */
    double lr;      /* peak learning rate */
    double min_lr;  /* at the end of the decay */
    int64_t warmup; /* steps of linear warmup */
    int64_t total;  /* steps in the whole run */
} ss__schedule;

/* Learning rate for step `step` (0-based): warmup gives lr*(step+1)/warmup
 * so the first step is not 0; the first step after it has the peak, and the
 * decay would reach min_lr at step `total` (as in Hugging Face's schedules). */
double ss__schedule_lr(const ss__schedule *s, int64_t step);
/* Parses "cosine", "linear", "constant"; -1 if unknown. */
int ss__schedule_kind(const char *name);

#endif
