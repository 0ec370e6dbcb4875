/* schedule.c: warmup + cosine/linear decay (as in BERT and SimCSE training). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "train/schedule.h"

double ss__schedule_lr(const ss__schedule *s, int64_t step)
{
    if (step < 0) step = 0;
    if (step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
    if (s->kind == SS__SCHED_CONSTANT) return s->lr;
    int64_t span = s->total - s->warmup;
    double p = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
    if (p > 1) p = 1;
    if (s->kind == SS__SCHED_LINEAR) return s->lr - (s->lr - s->min_lr) * p;
    return s->min_lr + (s->lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * p));
}

int ss__schedule_kind(const char *name)
{
    if (!strcmp(name, "cosine")) return SS__SCHED_COSINE;
    if (!strcmp(name, "linear")) return SS__SCHED_LINEAR;
    if (!strcmp(name, "constant")) return SS__SCHED_CONSTANT;
    return -1;
}
