/* mine.c: hard-negative mining by exact cosine similarity (see mine.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "base/common.h"
#include "train/mine.h"

void ss__mine_opts_init(ss__mine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->skip = 3;
    o->range = 20;
    o->seed = 42;
}

enum { CHUNK = 64 }; /* anchors per similarity block: CHUNK x n floats */

typedef struct {
    float s;
    uint32_t id;
} cand;

int ss__mine_negatives(ss_model *m, const ss__trainset *ts, const ss__mine_opts *o, uint32_t *neg)
{
    if (!m || !ts || !o || !neg) return ss__fail(SS_ERR_ARG, "ss__mine_negatives: NULL argument");
    if (o->skip < 0 || o->range < 1) return ss__fail(SS_ERR_ARG, "mining: skip must be >= 0 and range >= 1");
    size_t n = ts->n_texts, E = ts->n_examples;
    int C = ss_model_dim(m);
    int want = o->skip + o->range;
    float *emb = ss__malloc(n * (size_t)C * sizeof(float));
    float *anc = ss__malloc((size_t)CHUNK * C * sizeof(float));
    float *sim = ss__malloc((size_t)CHUNK * n * sizeof(float));
    const char **txt = ss__malloc(SS_MAX(n, 1) * sizeof *txt);
    size_t *len = ss__malloc(SS_MAX(n, 1) * sizeof *len);
    cand *top = ss__malloc(((size_t)want + 1) * sizeof *top);
    int rc = (!emb || !anc || !sim || !txt || !len || !top) ? ss__fail(SS_ERR_NOMEM, "out of memory (mining)") : 0;
    for (size_t i = 0; !rc && i < n; i++) txt[i] = ss__trainset_text(ts, (uint32_t)i), len[i] = ts->text_len[i];
    /* every text once, in slices so that progress can be shown */
    size_t slice = 4096;
    for (size_t i = 0; !rc && i < n; i += slice) {
        size_t k = SS_MIN(slice, n - i);
        rc = ss_embed(m, txt + i, len + i, k, o->batch, emb + i * C);
        if (!rc && o->on_progress) o->on_progress(o->ctx, "embedded", i + k, n);
    }
    uint64_t rng[4];
    ss__rng_seed(rng, ss__seed_mix(o->seed, 0x6d696e65ULL /* "mine" */));
    for (size_t e0 = 0; !rc && e0 < E; e0 += CHUNK) {
        int k = (int)SS_MIN((size_t)CHUNK, E - e0);
        for (int j = 0; j < k; j++)
            memcpy(anc + (size_t)j * C, emb + (size_t)ts->members[ts->ex_off[e0 + j]] * C, (size_t)C * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, (int)n, C, 1.0f, anc, C, emb, C, 0.0f, sim, (int)n);
        for (int j = 0; j < k; j++) {
            size_t e = e0 + j;
            const float *row = sim + (size_t)j * n;
            /* the `want` best texts that are no member of the example
             * (insertion into a short sorted list; ties by text id) */
            int got = 0;
            for (size_t t = 0; t < n; t++) {
                float s = row[t];
                if (!(s == s)) continue;
                if (got == want && s <= top[got - 1].s) continue;
                int member = 0;
                for (size_t q = ts->ex_off[e]; q < ts->ex_off[e + 1] && !member; q++) member = ts->members[q] == t;
                if (member) continue;
                int p = got < want ? got++ : want - 1;
                while (p > 0 && top[p - 1].s < s) {
                    top[p] = top[p - 1];
                    p--;
                }
                top[p] = (cand){s, (uint32_t)t};
            }
            if (got <= o->skip) {
                neg[e] = SS__NO_TEXT;
                continue;
            }
            int lo = o->skip, hi = got; /* draw from ranks [skip, got) */
            neg[e] = top[lo + (int)ss__rand_below(rng, (uint64_t)(hi - lo))].id;
        }
        if (o->on_progress) o->on_progress(o->ctx, "searched", e0 + k, E);
    }
    ss_free(emb);
    ss_free(anc);
    ss_free(sim);
    ss_free(txt);
    ss_free(len);
    ss_free(top);
    return rc;
}
