/* history.c: the curve of a training run, grown step by step. */
#include "config.h"

#include <string.h>

#include "base/common.h"
#include "train/history.h"

void ss__train_history_free(ss__train_history *h)
{
    if (!h) return;
    ss_free(h->loss);
    ss_free(h->lr);
    ss_free(h->grad_norm);
    ss_free(h->temp);
    ss_free(h->seconds);
    ss_free(h->epoch);
    ss_free(h->dev_step);
    ss_free(h->dev_score);
    memset(h, 0, sizeof *h);
}

static int hist_grow(void **p, int64_t cap, size_t elem)
{
    void *q = ss__realloc(*p, (size_t)cap * elem);
    if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory (training history)");
    *p = q;
    return SS_OK;
}

int ss__train_history_push(ss__train_history *h, float loss, float lr, float gn, float temp, double sec, int32_t ep)
{
    if (h->n == h->cap) {
        int64_t nc = h->cap ? h->cap * 2 : 1024;
        int rc;
        if ((rc = hist_grow((void **)&h->loss, nc, sizeof *h->loss)) ||
            (rc = hist_grow((void **)&h->lr, nc, sizeof *h->lr)) ||
            (rc = hist_grow((void **)&h->grad_norm, nc, sizeof *h->grad_norm)) ||
            (rc = hist_grow((void **)&h->temp, nc, sizeof *h->temp)) ||
            (rc = hist_grow((void **)&h->seconds, nc, sizeof *h->seconds)) ||
            (rc = hist_grow((void **)&h->epoch, nc, sizeof *h->epoch)))
            return rc;
        h->cap = nc;
    }
    h->loss[h->n] = loss;
    h->lr[h->n] = lr;
    h->grad_norm[h->n] = gn;
    h->temp[h->n] = temp;
    h->seconds[h->n] = sec;
    h->epoch[h->n] = ep;
    h->n++;
    return SS_OK;
}

int ss__train_history_push_dev(ss__train_history *h, int64_t step, double score)
{
    if (h->n_dev == h->cap_dev) {
        int64_t nc = h->cap_dev ? h->cap_dev * 2 : 64;
        int rc;
        if ((rc = hist_grow((void **)&h->dev_step, nc, sizeof *h->dev_step)) ||
            (rc = hist_grow((void **)&h->dev_score, nc, sizeof *h->dev_score)))
            return rc;
        h->cap_dev = nc;
    }
    h->dev_step[h->n_dev] = step;
    h->dev_score[h->n_dev] = score;
    h->n_dev++;
    return SS_OK;
}
