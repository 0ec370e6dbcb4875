/* augment.h: text augmentations that make a positive view of a lone
 * sentence (unsupervised training). Words are runs of non-space bytes; the
 * view is the kept words joined by single spaces. With every rate 0 the view
 * is the text itself and dropout alone makes the two views differ (SimCSE). */
#ifndef SS_AUGMENT_H
#define SS_AUGMENT_H

#include <stddef.h>

#include "train/trainset.h"

typedef struct ss__aug_opts {
    double del;  /* each word is deleted with this probability (one is always kept) */
    double crop; /* a random share in [0, crop) of the words is cut, keeping one contiguous span */
    double swap; /* each pair of neighbouring words is swapped with this probability */
} ss__aug_opts;

/* 1 if any augmentation is on. */
int ss__aug_active(const ss__aug_opts *o);
/* A new view of s[0..n) (NUL-terminated, released with ss_free()); the
 * same rng state gives the same view. Applied in the order crop, delete,
 * swap. */
int ss__augment(const ss__aug_opts *o, uint64_t r[4], const char *s, size_t n, char **out,
                size_t *out_len);

#endif
