/* mine.h: hard negatives for contrastive training. For each example of a
 * training set (its first text the anchor), a text of the set that the model
 * ranks close to the anchor but that is no text of the example: a
 * near-miss, not a paraphrase. The very top ranks are skipped because they
 * are often unlabeled paraphrases (false negatives). */
#ifndef SS_MINE_H
#define SS_MINE_H

#include <stdint.h>

#include "semsearch.h"
#include "train/trainset.h"

typedef struct ss__mine_opts {
    int skip;      /* ranks skipped after the example's own texts (default 3) */
    int range;     /* the negative is drawn from the next `range` ranks (default 20) */
    uint64_t seed; /* which of them (default 42) */
    int batch;     /* texts per embedding batch, 0 = the library's choice */
    /* progress: texts embedded, or anchors searched, of a total */
    void (*on_progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *ctx;
} ss__mine_opts;

void ss__mine_opts_init(ss__mine_opts *o);

/* neg[e] (n_examples entries) = the negative's text id, or SS__NO_TEXT when
 * the set has too few other texts. Exact cosine over every text of ts, in
 * memory proportional to texts x dim. */
int ss__mine_negatives(ss_model *m, const ss__trainset *ts, const ss__mine_opts *o, uint32_t *neg);

#endif
