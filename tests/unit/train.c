/* train.c: the training data order (batch constraints, epochs, weights,
 * curriculum), augmentation and the learning-rate schedule. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "train/augment.h"
#include "train/checkpoint.h"
#include "base/common.h"
#include "train/docpairs.h"
#include "train/loss.h"
#include "train/loss_extra.h"
#include "nn/model.h"
#include "train/schedule.h"
#include "tap.h"
#include "tiny.h"
#include "train/train.h"
#include "train/train_step.h"
#include "train/trainset.h"

static void test_rng(void)
{
    uint64_t a[4], b[4];
    ss__rng_seed(a, 7);
    ss__rng_seed(b, 7);
    int same = 1, inrange = 1;
    unsigned hist[13] = {0};
    for (int i = 0; i < 13000; i++) {
        uint64_t x = ss__rand_below(a, 13), y = ss__rand_below(b, 13);
        same &= x == y;
        inrange &= x < 13;
        if (x < 13) hist[x]++;
    }
    int flat = 1;
    for (int i = 0; i < 13; i++) flat &= hist[i] > 850 && hist[i] < 1150;
    tap_ok(same && inrange && flat, "rand_below: reproducible, in range, uniform");
    tap_ok(ss__seed_mix(1, 2) != ss__seed_mix(2, 1) && ss__seed_mix(1, 2) == ss__seed_mix(1, 2),
           "seed_mix depends on the order of its arguments");
}

static int add(ss__trainset *ts, int n, const char *t0, const char *t1, const char *t2)
{
    const char *t[3] = {t0, t1, t2};
    int added = 0;
    if (ss__trainset_add(ts, t, NULL, n, &added)) return -1;
    return added;
}

static void test_intern(void)
{
    ss__trainset *ts;
    if (!tap_ok(ss__trainset_new(&ts) == 0, "trainset: new")) return;
    tap_ok(ss__trainset_begin_source(ts, "g", SS__SRC_GROUPS, 0) != 0, "a zero weight is refused");
    ss__trainset_begin_source(ts, "g", SS__SRC_GROUPS, 1);
    tap_ok(add(ts, 3, "a cat", "a kitten", "a cat") == 1, "a group is added");
    tap_ok(ss__trainset_ex_size(ts, 0) == 2, "duplicates within a group are merged (2 distinct texts)");
    tap_ok(add(ts, 2, "same", "same", NULL) == 0, "a group of one distinct text is skipped");
    tap_ok(add(ts, 2, "x", "", NULL) == 0, "a group with an empty text is skipped");
    tap_ok(ts->src[0].skipped == 2 && ts->src[0].n == 1, "skipped groups are counted");
    ss__trainset_begin_source(ts, "t", SS__SRC_TEXT, 1);
    tap_ok(add(ts, 1, "a kitten", NULL, NULL) == 1, "a lone sentence is an example");
    const uint32_t *m = ts->members;
    tap_ok(m[ts->ex_off[1]] == m[ts->ex_off[0] + 1], "the same text in two files is one text id");
    tap_ok(!strcmp(ss__trainset_text(ts, m[0]), "a cat"), "texts are kept");
    ss__trainset_free(ts);
}

/* Random data: groups of 2-6 texts drawn from a vocabulary of sentences so
 * that groups share texts, pairs, and lone sentences (with duplicates). */
static ss__trainset *random_set(uint64_t seed, int ngroups, int npairs, int ntext, double wt)
{
    ss__trainset *ts;
    if (ss__trainset_new(&ts)) return NULL;
    uint64_t r[4];
    ss__rng_seed(r, seed);
    char buf[6][64];
    const char *t[6];
    int added;
    ss__trainset_begin_source(ts, "groups", SS__SRC_GROUPS, 1);
    for (int g = 0; g < ngroups; g++) {
        int k = 2 + (int)ss__rand_below(r, 5);
        for (int j = 0; j < k; j++) {
            int len = 1 + (int)ss__rand_below(r, 40);
            snprintf(buf[j], sizeof buf[j], "s%d %.*s", (int)ss__rand_below(r, 3000), len,
                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            t[j] = buf[j];
        }
        if (ss__trainset_add(ts, t, NULL, k, &added)) return NULL;
    }
    ss__trainset_begin_source(ts, "pairs", SS__SRC_PAIRS, 1);
    for (int p = 0; p < npairs; p++) {
        for (int j = 0; j < 2; j++) {
            snprintf(buf[j], sizeof buf[j], "p%d", (int)ss__rand_below(r, 1500));
            t[j] = buf[j];
        }
        if (ss__trainset_add(ts, t, NULL, 2, &added)) return NULL;
    }
    ss__trainset_begin_source(ts, "text", SS__SRC_TEXT, wt);
    for (int i = 0; i < ntext; i++) {
        snprintf(buf[0], sizeof buf[0], "line %d", (int)ss__rand_below(r, 400));
        t[0] = buf[0];
        if (ss__trainset_add(ts, t, NULL, 1, &added)) return NULL;
    }
    return ts;
}

/* Checks every constraint of a plan; counts uses of each example. */
static int check_plan(const ss__trainset *ts, const ss__plan *p, int B, unsigned *uses, const char *what)
{
    uint32_t *seen = calloc(ts->n_texts, sizeof *seen);
    int ok = seen != NULL;
    size_t bad_batch = 0, bad_pair = 0, bad_size = 0;
    for (size_t b = 0; b < p->n_batches && ok; b++) {
        size_t n = p->start[b + 1] - p->start[b];
        if (n < 2 || n > (size_t)B + 1) bad_size++;
        for (size_t i = p->start[b]; i < p->start[b + 1]; i++) {
            const ss__plan_item *it = &p->items[i];
            size_t k = ss__trainset_ex_size(ts, it->ex);
            const uint32_t *m = ts->members + ts->ex_off[it->ex];
            int ina = 0, inb = 0;
            for (size_t j = 0; j < k; j++) {
                ina |= m[j] == it->a;
                inb |= m[j] == it->b;
                if (seen[m[j]] == b + 1) bad_batch++;
                seen[m[j]] = (uint32_t)b + 1;
            }
            if (!ina || !inb || (k > 1 && it->a == it->b) || (k == 1 && it->a != it->b)) bad_pair++;
            uses[it->ex]++;
        }
    }
    free(seen);
    tap_ok(ok && bad_batch == 0, "%s: no text twice in a batch (counting whole groups; %zu violations)", what,
           bad_batch);
    tap_ok(bad_pair == 0, "%s: each pair is two different texts of its example (%zu bad)", what, bad_pair);
    tap_ok(bad_size == 0 && p->start[p->n_batches] == p->n_items, "%s: batch sizes in [2, B+1]", what);
    return ok && !bad_batch && !bad_pair && !bad_size;
}

static void test_plan(void)
{
    ss__trainset *ts = random_set(1, 700, 400, 500, 1.0);
    if (!tap_ok(ts != NULL, "random training set")) return;
    tap_diag("%u texts, %zu examples", ts->n_texts, ts->n_examples);
    unsigned *uses = calloc(ts->n_examples, sizeof *uses);
    ss__plan p, q;
    int B = 32;
    tap_ok(ss__trainset_plan(ts, 42, 0, B, SS__CURRIC_NONE, &p) == 0, "plan epoch 0");
    check_plan(ts, &p, B, uses, "epoch 0");
    size_t once = 0;
    for (size_t e = 0; e < ts->n_examples; e++) once += uses[e] == 1;
    tap_ok(once + p.dropped == ts->n_examples && p.dropped <= 1,
           "every example is used exactly once per epoch (%zu of %zu, %zu dropped)", once, ts->n_examples,
           p.dropped);
    tap_ok(ss__trainset_plan(ts, 42, 0, B, SS__CURRIC_NONE, &q) == 0 && q.n_items == p.n_items &&
               q.n_batches == p.n_batches && !memcmp(q.items, p.items, sizeof *p.items * p.n_items) &&
               !memcmp(q.start, p.start, sizeof *p.start * (p.n_batches + 1)),
           "the same seed and epoch give the same plan");
    ss__plan_free(&q);
    tap_ok(ss__trainset_plan(ts, 42, 1, B, SS__CURRIC_NONE, &q) == 0 &&
               memcmp(q.items, p.items, sizeof *p.items * SS_MIN(p.n_items, q.n_items)) != 0,
           "another epoch, another order");
    memset(uses, 0, sizeof *uses * ts->n_examples);
    check_plan(ts, &q, B, uses, "epoch 1");
    ss__plan_free(&q);
    tap_ok(ss__trainset_plan(ts, 43, 0, B, SS__CURRIC_NONE, &q) == 0 &&
               memcmp(q.items, p.items, sizeof *p.items * SS_MIN(p.n_items, q.n_items)) != 0,
           "another seed, another order");
    ss__plan_free(&q);

    /* Length bucketing: less padding than the same batches unsorted. */
    double pad_plan = 0, pad_rand = 0;
    for (size_t b = 0; b < p.n_batches; b++) {
        size_t mx = 0, sum = 0;
        for (size_t i = p.start[b]; i < p.start[b + 1]; i++) {
            size_t l = ts->text_len[p.items[i].a];
            mx = SS_MAX(mx, l);
            sum += l;
        }
        pad_plan += (double)(mx * (p.start[b + 1] - p.start[b]) - sum);
    }
    for (size_t b = 0; b + B <= p.n_items; b += B) { /* consecutive items of a shuffled list */
        size_t mx = 0, sum = 0;
        for (size_t i = 0; i < (size_t)B; i++) {
            size_t l = ts->text_len[p.items[(b * 7919 + i * 104729) % p.n_items].a];
            mx = SS_MAX(mx, l);
            sum += l;
        }
        pad_rand += (double)(mx * B - sum);
    }
    tap_ok(pad_plan < 0.5 * pad_rand, "length bucketing halves padding at least (%.0f vs %.0f bytes)",
           pad_plan, pad_rand);
    ss__plan_free(&p);

    /* RANDOM (cosent): the same constraints, every example once, but no length bucketing */
    tap_ok(ss__trainset_plan(ts, 42, 0, B, SS__CURRIC_RANDOM, &q) == 0, "plan with random batches");
    memset(uses, 0, sizeof *uses * ts->n_examples);
    check_plan(ts, &q, B, uses, "random batches");
    once = 0;
    for (size_t e = 0; e < ts->n_examples; e++) once += uses[e] == 1;
    double pad_q = 0;
    for (size_t b = 0; b < q.n_batches; b++) {
        size_t mx = 0, sum = 0;
        for (size_t i = q.start[b]; i < q.start[b + 1]; i++) {
            size_t l = ts->text_len[q.items[i].a];
            mx = SS_MAX(mx, l);
            sum += l;
        }
        pad_q += (double)(mx * (q.start[b + 1] - q.start[b]) - sum);
    }
    tap_ok(once + q.dropped == ts->n_examples && pad_q > 0.7 * pad_rand,
           "random batches: every example once, lengths mixed (padding %.0f vs %.0f random, %.0f bucketed)", pad_q,
           pad_rand, pad_plan);
    ss__plan_free(&q);

    /* Odd sizes and a tiny batch. */
    tap_ok(ss__trainset_plan(ts, 5, 3, 2, SS__CURRIC_NONE, &p) == 0, "plan with B=2");
    memset(uses, 0, sizeof *uses * ts->n_examples);
    check_plan(ts, &p, 2, uses, "B=2");
    ss__plan_free(&p);
    tap_ok(ss__trainset_plan(ts, 5, 3, 1, SS__CURRIC_NONE, &p) != 0, "B=1 is refused");
    free(uses);
    ss__trainset_free(ts);

    /* Weights: 2 uses every example twice (never twice in one batch), 0.5 half of them. */
    ts = random_set(2, 300, 0, 400, 2.0);
    uses = calloc(ts->n_examples, sizeof *uses);
    tap_ok(ss__trainset_plan(ts, 9, 0, 16, SS__CURRIC_NONE, &p) == 0, "plan with weight 2");
    check_plan(ts, &p, 16, uses, "weight 2");
    size_t g1 = 0, t2 = 0;
    for (size_t e = 0; e < ts->n_examples; e++) {
        if (e < ts->src[0].n) g1 += uses[e] == 1;
        else t2 += uses[e] == 2;
    }
    tap_ok(g1 == ts->src[0].n && t2 + p.dropped >= ts->src[2].n && p.dropped <= 1,
           "weight 1 source: once each (%zu/%zu); weight 2 source: twice each (%zu/%zu)", g1, ts->src[0].n, t2,
           ts->src[2].n);
    ss__plan_free(&p);
    ts->src[2].weight = 0.5;
    memset(uses, 0, sizeof *uses * ts->n_examples);
    tap_ok(ss__trainset_plan(ts, 9, 0, 16, SS__CURRIC_NONE, &p) == 0, "plan with weight 0.5");
    check_plan(ts, &p, 16, uses, "weight 0.5");
    size_t used = 0, twice = 0;
    for (size_t e = ts->src[2].first; e < ts->src[2].first + ts->src[2].n; e++) {
        used += uses[e] > 0;
        twice += uses[e] > 1;
    }
    tap_ok(used + p.dropped >= ts->src[2].n / 2 && used <= ts->src[2].n / 2 + 1 && twice == 0,
           "weight 0.5: half the examples, each at most once (%zu of %zu)", used, ts->src[2].n);
    ss__plan_free(&p);
    free(uses);
    ss__trainset_free(ts);
}

/* A data set where every example shares a text with every other: nothing
 * can be batched; must terminate and drop, not loop or crash. */
static void test_plan_conflicts(void)
{
    ss__trainset *ts;
    ss__trainset_new(&ts);
    ss__trainset_begin_source(ts, "g", SS__SRC_GROUPS, 1);
    char b[32];
    for (int i = 0; i < 50; i++) {
        snprintf(b, sizeof b, "other %d", i);
        add(ts, 2, "hub", b, NULL);
    }
    ss__plan p;
    int rc = ss__trainset_plan(ts, 1, 0, 8, SS__CURRIC_NONE, &p);
    tap_ok(rc == 0 && p.n_batches == 0 && p.dropped == 50,
           "examples that all share one text: no batch, all dropped (%zu)", p.dropped);
    ss__plan_free(&p);
    /* two hubs: pairs of examples can meet, nothing else */
    ss__trainset_begin_source(ts, "h", SS__SRC_GROUPS, 1);
    for (int i = 0; i < 50; i++) {
        snprintf(b, sizeof b, "more %d", i);
        add(ts, 2, "hub2", b, NULL);
    }
    rc = ss__trainset_plan(ts, 1, 0, 8, SS__CURRIC_NONE, &p);
    unsigned *uses = calloc(ts->n_examples, sizeof *uses);
    tap_ok(rc == 0 && p.n_batches == 50 && p.dropped == 0, "two hubs: 50 batches of 2 (%zu)", p.n_batches);
    check_plan(ts, &p, 8, uses, "two hubs");
    free(uses);
    ss__plan_free(&p);
    ss__trainset_free(ts);
}

static void test_curriculum(void)
{
    ss__trainset *ts = random_set(3, 600, 0, 0, 1.0);
    ss__plan p;
    tap_ok(ss__trainset_plan(ts, 1, 0, 16, SS__CURRIC_LENGTH, &p) == 0, "curriculum by length");
    unsigned *uses = calloc(ts->n_examples, sizeof *uses);
    check_plan(ts, &p, 16, uses, "curriculum");
    double first = 0, last = 0;
    size_t q = p.n_batches / 4, nf = 0, nl = 0;
    for (size_t i = 0; i < p.start[q]; i++, nf++)
        first += ts->text_len[p.items[i].a] + ts->text_len[p.items[i].b];
    for (size_t i = p.start[p.n_batches - q]; i < p.n_items; i++, nl++)
        last += ts->text_len[p.items[i].a] + ts->text_len[p.items[i].b];
    tap_ok(first / nf < 0.6 * (last / nl), "epoch 0 goes from short to long (%.1f vs %.1f bytes)", first / nf,
           last / nl);
    ss__plan_free(&p);
    /* epoch 1 is random again */
    ss__trainset_plan(ts, 1, 1, 16, SS__CURRIC_LENGTH, &p);
    first = last = 0;
    nf = nl = 0;
    for (size_t i = 0; i < p.start[q]; i++, nf++)
        first += ts->text_len[p.items[i].a] + ts->text_len[p.items[i].b];
    for (size_t i = p.start[p.n_batches - q]; i < p.n_items; i++, nl++)
        last += ts->text_len[p.items[i].a] + ts->text_len[p.items[i].b];
    tap_ok(fabs(first / nf - last / nl) < 0.25 * (last / nl), "epoch 1 is not ordered (%.1f vs %.1f)", first / nf,
           last / nl);
    ss__plan_free(&p);
    ss__trainset_free(ts);

    /* overlap: pairs sharing many words come first */
    ss__trainset_new(&ts);
    ss__trainset_begin_source(ts, "g", SS__SRC_PAIRS, 1);
    char a[64], b[64];
    for (int i = 0; i < 200; i++) {
        snprintf(a, sizeof a, "w%d a b c d e f", i);
        if (i % 2) snprintf(b, sizeof b, "w%d a b c d e g", i); /* 5 of 8 words shared: easy */
        else snprintf(b, sizeof b, "v%d p q r s t u", i);       /* nothing shared: hard */
        add(ts, 2, a, b, NULL);
    }
    tap_ok(ss__trainset_plan(ts, 1, 0, 10, SS__CURRIC_OVERLAP, &p) == 0, "curriculum by overlap");
    size_t easy_first = 0;
    for (size_t i = 0; i < p.start[p.n_batches / 2]; i++) easy_first += ss__trainset_text(ts, p.items[i].b)[0] == 'w' ||
                                                                         ss__trainset_text(ts, p.items[i].a)[0] == 'w';
    tap_ok(easy_first == p.start[p.n_batches / 2], "overlapping pairs come first (%zu of %zu)", easy_first,
           p.start[p.n_batches / 2]);
    ss__plan_free(&p);
    free(uses);
    ss__trainset_free(ts);
}

static int words_of(const char *s, char w[][32], int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ') s++;
        if (!*s) break;
        int k = 0;
        while (*s && *s != ' ' && k < 31) w[n][k++] = *s++;
        w[n][k] = 0;
        n++;
    }
    return n;
}

static void test_augment(void)
{
    const char *s = "  the quick brown   fox jumps over the lazy dog today ";
    char in[16][32], ow[16][32];
    int nin = words_of(s, in, 16);
    ss__aug_opts none = {0, 0, 0}, del = {0.3, 0, 0}, crop = {0, 0.5, 0}, swap = {0, 0, 0.5}, all = {0.1, 0.3, 0.2};
    uint64_t r[4], r2[4];
    char *o, *o2;
    size_t n, n2;
    tap_ok(!ss__aug_active(&none) && ss__aug_active(&all), "aug_active");
    ss__rng_seed(r, 1);
    ss__augment(&none, r, s, strlen(s), &o, &n);
    tap_ok(!strcmp(o, "the quick brown fox jumps over the lazy dog today") && n == strlen(o),
           "no augmentation: the words, single-spaced");
    ss_free(o);

    int det = 1, differ = 0, subset = 1, span = 1, perm = 1, nonempty = 1;
    for (int seed = 0; seed < 200; seed++) {
        const ss__aug_opts *os[4] = {&del, &crop, &swap, &all};
        for (int k = 0; k < 4; k++) {
            ss__rng_seed(r, (uint64_t)seed);
            ss__rng_seed(r2, (uint64_t)seed);
            if (ss__augment(os[k], r, s, strlen(s), &o, &n) || ss__augment(os[k], r2, s, strlen(s), &o2, &n2))
                return;
            det &= !strcmp(o, o2);
            differ |= strcmp(o, "the quick brown fox jumps over the lazy dog today") != 0;
            int no = words_of(o, ow, 16);
            nonempty &= no > 0;
            if (k == 0) { /* deletion keeps an ordered subsequence */
                int j = 0;
                for (int i = 0; i < nin && j < no; i++) j += !strcmp(in[i], ow[j]);
                subset &= j == no;
            }
            if (k == 1) { /* crop keeps a contiguous run */
                int found = 0;
                for (int st = 0; st + no <= nin && !found; st++) {
                    int m = 1;
                    for (int j = 0; j < no; j++) m &= !strcmp(in[st + j], ow[j]);
                    found |= m;
                }
                span &= found && no >= nin / 2;
            }
            if (k == 2) { /* swaps move words by at most one place */
                int m = no == nin;
                for (int i = 0; i < nin && m; i++)
                    m &= !strcmp(ow[i], in[i]) || (i > 0 && !strcmp(ow[i], in[i - 1])) ||
                         (i + 1 < nin && !strcmp(ow[i], in[i + 1]));
                perm &= m;
            }
            ss_free(o);
            ss_free(o2);
        }
    }
    tap_ok(det, "augmentation: the same seed gives the same view");
    tap_ok(differ, "augmentation changes the text");
    tap_ok(subset, "deletion keeps the other words in order");
    tap_ok(span, "crop keeps a contiguous span of at least half the words");
    tap_ok(perm, "swaps only move words to a neighbouring place");
    tap_ok(nonempty, "a view is never empty");
    ss__rng_seed(r, 1);
    ss__rng_seed(r2, 2);
    int diff_seed = 0;
    for (int i = 0; i < 20; i++) {
        ss__augment(&all, r, s, strlen(s), &o, &n);
        ss__augment(&all, r2, s, strlen(s), &o2, &n2);
        diff_seed |= strcmp(o, o2) != 0;
        ss_free(o);
        ss_free(o2);
    }
    tap_ok(diff_seed, "another seed gives other views");
    ss__aug_opts d1 = {1.0, 0, 0};
    ss__augment(&d1, r, "one two three", 13, &o, &n);
    tap_ok(n > 0 && strchr(o, ' ') == NULL, "deleting everything keeps one word ('%s')", o);
    ss_free(o);
    ss__augment(&all, r, "", 0, &o, &n);
    tap_ok(n == 0 && o && o[0] == 0, "an empty text stays empty");
    ss_free(o);
    ss__fail_alloc_after(1);
    tap_ok(ss__augment(&all, r, s, strlen(s), &o, &n) == SS_ERR_NOMEM && o == NULL,
           "an allocation failure is reported");
    ss__fail_alloc_after(0);
}

static void test_schedule(void)
{
    ss__schedule s = {SS__SCHED_COSINE, 1e-3, 1e-5, 10, 110};
    tap_close(ss__schedule_lr(&s, 0), 1e-4, 1e-12, "warmup: step 0 = lr/10");
    tap_close(ss__schedule_lr(&s, 4), 5e-4, 1e-12, "warmup: step 4 = lr/2");
    tap_close(ss__schedule_lr(&s, 9), 1e-3, 1e-12, "warmup ends at the peak");
    tap_close(ss__schedule_lr(&s, 10), 1e-3, 1e-12, "decay starts at the peak");
    tap_close(ss__schedule_lr(&s, 60), 1e-5 + (1e-3 - 1e-5) * 0.5, 1e-12, "cosine: half way = mean");
    tap_close(ss__schedule_lr(&s, 110), 1e-5, 1e-12, "cosine reaches min_lr at total");
    int mono = 1;
    for (int i = 10; i < 110; i++) mono &= ss__schedule_lr(&s, i + 1) <= ss__schedule_lr(&s, i);
    tap_ok(mono, "cosine decays monotonically");
    s.kind = SS__SCHED_LINEAR;
    tap_close(ss__schedule_lr(&s, 35), 1e-3 - (1e-3 - 1e-5) * 0.25, 1e-12, "linear: a quarter of the way");
    s.kind = SS__SCHED_CONSTANT;
    tap_close(ss__schedule_lr(&s, 100), 1e-3, 1e-12, "constant after warmup");
    s.warmup = 0;
    s.kind = SS__SCHED_COSINE;
    tap_close(ss__schedule_lr(&s, 0), 1e-3, 1e-12, "no warmup: the first step has the peak");
    tap_ok(ss__schedule_kind("linear") == SS__SCHED_LINEAR && ss__schedule_kind("cos") == -1,
           "schedule names are parsed");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_load(void)
{
    char dir[] = "/tmp/ss-train-test.XXXXXX", p[4][256];
    if (!tap_ok(mkdtemp(dir) != NULL, "scratch directory")) return;
    snprintf(p[0], sizeof p[0], "%s/a.groups.tsv", dir);
    snprintf(p[1], sizeof p[1], "%s/b.scored.tsv", dir);
    snprintf(p[2], sizeof p[2], "%s/c.labeled.tsv", dir);
    snprintf(p[3], sizeof p[3], "%s/d.txt", dir);
    write_file(p[0], "a cat\ta kitten\tkitty\n\nonly one text\nx\ty\n");
    write_file(p[1], "s1\ts2\t4.5\ns3\ts4\t1.0\ns5\ts6\tfive\n");
    write_file(p[2], "l1\tl2\t1\nl3\tl4\t0\n");
    write_file(p[3], "  one sentence \n\ntwo\tsentences with a tab\none sentence\n");
    ss__load_opts lo = {4.0, 1, 0, 0};
    ss__trainset *ts;
    ss__trainset_new(&ts);
    int rc = ss__trainset_load(ts, p[0], 1, &lo);
    char want[300];
    snprintf(want, sizeof want, "%s:3:", p[0]);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), want), "a malformed groups line names file:line (%s)",
           ss_errmsg());
    ss__trainset_free(ts);

    ss__trainset_new(&ts);
    lo.skip_bad = 1;
    rc = ss__trainset_load(ts, p[0], 1, &lo);
    tap_ok(rc == 0 && ts->src[0].n == 2 && ts->src[0].skipped_bad == 1 && ts->src[0].first_bad &&
               strstr(ts->src[0].first_bad, want),
           "--skip-bad: skips and counts it (%zu groups, %ld bad)", ts->src[0].n, ts->src[0].skipped_bad);
    rc = ss__trainset_load(ts, p[1], 1, &lo);
    tap_ok(rc == 0 && ts->src[1].n == 1 && ts->src[1].skipped == 1 && ts->src[1].skipped_bad == 1,
           "scored: pairs at or above --min-score only (%zu)", ts->src[1].n);
    rc = ss__trainset_load(ts, p[2], 1, &lo);
    tap_ok(rc == 0 && ts->src[2].n == 1 && ts->src[2].kind == SS__SRC_PAIRS, "labeled: label-1 pairs only");
    rc = ss__trainset_load(ts, p[3], 0.5, &lo);
    tap_ok(rc == 0 && ts->src[3].n == 2 && ts->src[3].kind == SS__SRC_TEXT,
           "plain text: one sentence a line, trimmed, a tab kept, duplicates one text (%zu)", ts->src[3].n);
    uint64_t fp = ts->fingerprint;
    ss__trainset_free(ts);

    ss__trainset_new(&ts);
    lo.has_min_score = 0;
    rc = ss__trainset_load(ts, p[1], 1, &lo);
    tap_ok(rc == SS_ERR_ARG && strstr(ss_errmsg(), "--min-score"), "a scored file needs --min-score");
    ss__trainset_free(ts);
    ss__trainset_new(&ts);
    lo.has_min_score = 1;
    lo.min_score = 10;
    rc = ss__trainset_load(ts, p[1], 1, &lo);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "no training examples"), "no positive pair: refused (%s)",
           ss_errmsg());
    ss__trainset_free(ts);
    ss__trainset_new(&ts);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.txt", dir);
    rc = ss__trainset_load(ts, missing, 1, &lo);
    tap_ok(rc == SS_ERR_IO && strstr(ss_errmsg(), "missing.txt"), "a missing file is named");
    ss__trainset_free(ts);

    /* graded (cosent): every pair with its score, labels as 0/1 scores; groups and text unscored */
    ss__load_opts glo = {0, 0, 0, 1};
    ss__trainset_new(&ts);
    rc = ss__trainset_load(ts, p[1], 1, &glo);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "b.scored.tsv:3: score 'five' is not a number"),
           "graded: a bad score is FILE:LINE (%s)", ss_errmsg());
    ss__trainset_free(ts);
    ss__trainset_new(&ts);
    glo.skip_bad = 1;
    rc = ss__trainset_load(ts, p[1], 1, &glo);
    tap_ok(rc == 0 && ts->src[0].n == 2 && ss__trainset_score(ts, 0) == 4.5 && ss__trainset_score(ts, 1) == 1.0,
           "graded: every pair of a scored file, with its score, no --min-score needed");
    rc = ss__trainset_load(ts, p[2], 1, &glo);
    tap_ok(rc == 0 && ts->src[1].n == 2 && ss__trainset_score(ts, 2) == 1 && ss__trainset_score(ts, 3) == 0 &&
               ss__trainset_source_of(ts, 3) == 1 && ss__trainset_source_of(ts, 0) == 0,
           "graded: a labeled file's labels are scores 0/1; each pair knows its source");
    uint64_t gfp = ts->fingerprint;
    rc = ss__trainset_load(ts, p[0], 1, &glo);
    tap_ok(rc == 0 && ts->src[2].n == 2 && isnan(ss__trainset_score(ts, 4)) && isnan(ss__trainset_score(ts, 5)) &&
               ss__trainset_score(ts, 3) == 0,
           "graded: a groups file gives pairs without a score");
    rc = ss__trainset_load(ts, p[3], 1, &glo);
    tap_ok(rc == 0 && ts->src[3].n == 2 && isnan(ss__trainset_score(ts, 7)), "graded: so does a text file");
    ss__trainset_free(ts);
    write_file(p[1], "s1\ts2\t4.5\ns3\ts4\t1.5\n");
    ss__trainset_new(&ts);
    ss__trainset_load(ts, p[1], 1, &glo);
    ss__trainset_load(ts, p[2], 1, &glo);
    tap_ok(ts->fingerprint != gfp, "graded: the fingerprint sees the scores");
    ss__trainset_free(ts);

    /* the fingerprint is a function of the data */
    write_file(p[1], "s1\ts2\t4.5\ns3\ts4\t1.0\ns5\ts6\tfive\n");
    lo.min_score = 4;
    uint64_t fp2[2];
    for (int k = 0; k < 2; k++) {
        ss__trainset_new(&ts);
        ss__trainset_load(ts, p[0], 1, &lo);
        ss__trainset_load(ts, p[1], 1, &lo);
        ss__trainset_load(ts, p[2], 1, &lo);
        ss__trainset_load(ts, p[3], k ? 1 : 0.5, &lo);
        fp2[k] = ts->fingerprint;
        ss__trainset_free(ts);
    }
    tap_ok(fp2[0] == fp && fp2[1] != fp, "the data fingerprint is reproducible and sees the weights");
    for (int i = 0; i < 4; i++) unlink(p[i]);
    rmdir(dir);
}

/* Central differences of a loss against its analytic gradient. */
static double ntx(const float *a, const float *b, int B, int C, float tau, float *work)
{
    float *da = malloc(sizeof(float) * B * C), *db = malloc(sizeof(float) * B * C);
    double l = ss__ntxent(a, b, B, C, tau, da, db, NULL, work);
    free(da);
    free(db);
    return l;
}

static double trip(const float *a, const float *b, int B, int C, float m, float *work)
{
    float *da = malloc(sizeof(float) * B * C), *db = malloc(sizeof(float) * B * C);
    double l = ss__triplet(a, b, B, C, m, da, db, work);
    free(da);
    free(db);
    return l;
}

static void test_losses(void)
{
    enum { B = 5, C = 6 };
    float a[B * C], b[B * C], da[B * C], db[B * C], dlogt;
    float *work = malloc(sizeof(float) * (4 * B * B + 4 * B * C));
    uint64_t r[4];
    ss__rng_seed(r, 3);
    for (int i = 0; i < B * C; i++) {
        a[i] = (float)(ss__rng_uniform(r) - 0.5);
        b[i] = (float)(ss__rng_uniform(r) - 0.5);
    }
    float tau = 0.5f;
    double L = ss__ntxent(a, b, B, C, tau, da, db, &dlogt, work);
    double maxerr = 0, h = 1e-3;
    for (int s = 0; s < 2; s++) {
        float *x = s ? b : a, *g = s ? db : da;
        for (int i = 0; i < B * C; i++) {
            float keep = x[i];
            x[i] = keep + (float)h;
            double lp = ntx(a, b, B, C, tau, work);
            x[i] = keep - (float)h;
            double lm = ntx(a, b, B, C, tau, work);
            x[i] = keep;
            maxerr = fmax(maxerr, fabs((lp - lm) / (2 * h) - g[i]));
        }
    }
    tap_ok(isfinite(L) && L > 0 && maxerr < 2e-3, "NT-Xent: gradient matches finite differences (max error %.2g)",
           maxerr);
    double lp = ntx(a, b, B, C, tau * expf(1e-3f), work), lm = ntx(a, b, B, C, tau * expf(-1e-3f), work);
    tap_close((lp - lm) / 2e-3, dlogt, 2e-3, "NT-Xent: gradient wrt log temperature");
    /* a perfect batch: every pair identical and orthogonal to the others */
    float e[2 * 4 * 4] = {0};
    for (int i = 0; i < 4; i++) e[i * 4 + i] = 1;
    for (int i = 0; i < 16; i++) e[16 + i] = e[i];
    double lgood = ss__ntxent(e, e + 16, 4, 4, 0.05f, da, db, NULL, work);
    tap_ok(lgood < 1e-6, "NT-Xent of a perfect batch is ~0 (%.3g)", lgood);

    float margin = 0.3f;
    L = ss__triplet(a, b, B, C, margin, da, db, work);
    maxerr = 0;
    for (int s = 0; s < 2; s++) {
        float *x = s ? b : a, *g = s ? db : da;
        for (int i = 0; i < B * C; i++) {
            float keep = x[i];
            x[i] = keep + (float)h;
            double p = trip(a, b, B, C, margin, work);
            x[i] = keep - (float)h;
            double m = trip(a, b, B, C, margin, work);
            x[i] = keep;
            maxerr = fmax(maxerr, fabs((p - m) / (2 * h) - g[i]));
        }
    }
    tap_ok(L > 0 && maxerr < 2e-3, "triplet: gradient matches finite differences (loss %.3f, max error %.2g)", L,
           maxerr);
    tap_ok(ss__triplet(e, e + 16, 4, 4, 0.5f, da, db, work) == 0, "triplet of a perfect batch is 0");
    free(work);
}

static double cos_l(const float *a, const float *b, const double *s, const int *g, int B, int C, float scale,
                    float *work)
{
    float *da = malloc(sizeof(float) * B * C), *db = malloc(sizeof(float) * B * C);
    double l = ss__cosent(a, b, s, g, B, C, scale, da, db, work);
    free(da);
    free(db);
    return l;
}

/* Pair i: a_i = (1, 0), b_i = (c_i, sqrt(1 - c_i^2)): unit vectors of cosine c_i. */
static void pairs_of_cos(const double *c, int B, float *a, float *b)
{
    for (int i = 0; i < B; i++) {
        a[2 * i] = 1, a[2 * i + 1] = 0;
        b[2 * i] = (float)c[i], b[2 * i + 1] = (float)sqrt(1 - c[i] * c[i]);
    }
}

static void test_cosent(void)
{
    enum { B = 8, C = 6 };
    float a[B * C], b[B * C], da[B * C], db[B * C];
    float *work = malloc(sizeof(float) * (4 * B * B + 4 * B * C));
    /* by hand: cosines 1 and 0, lambda 1 */
    double c2[2] = {1, 0}, up[2] = {1, 2}, down[2] = {2, 1};
    pairs_of_cos(c2, 2, a, b);
    double L = ss__cosent(a, b, up, NULL, 2, 2, 1.0f, da, db, work);
    tap_close(L, log(1 + exp(1.0)), 1e-12, "CoSENT by hand: the lower-scored pair has the higher cosine: log(1 + e)");
    double w = exp(1.0) / (1 + exp(1.0));
    tap_ok(fabs(da[0] - w) < 1e-6 && da[1] == 0 && fabs(da[2] + w * c2[1]) < 1e-6 && fabs(db[0] - w) < 1e-6 &&
               fabs(db[2] + w) < 1e-6 && db[1] == 0,
           "CoSENT by hand: dL/dc = (+w, -w), w = e/(1+e); da_i = g_i b_i, db_i = g_i a_i");
    double L2 = ss__cosent(a, b, down, NULL, 2, 2, 1.0f, da, db, work);
    tap_close(L2, log(1 + exp(-1.0)), 1e-12, "CoSENT by hand: cosines ordered as the scores: log(1 + 1/e)");
    tap_ok(L2 < L, "CoSENT: the batch ordered as the scores has the lower loss");
    /* three pairs, a tie: scores (3, 3, 1), cosines (0.9, 0.5, 0.1), lambda 20:
     * only (0 above 2) and (1 above 2) count */
    double c3[3] = {0.9, 0.5, 0.1}, s3[3] = {3, 3, 1};
    pairs_of_cos(c3, 3, a, b);
    L = ss__cosent(a, b, s3, NULL, 3, 2, 20.0f, da, db, work);
    tap_close(L, log1p(exp(20 * ((double)b[4] - b[0])) + exp(20 * ((double)b[4] - b[2]))), 1e-12,
              "CoSENT by hand: tied pairs are not compared (log(1 + e^-16 + e^-8))");
    /* far out of order with a large lambda: log-sum-exp stays finite, the
     * definition overflows */
    double c2b[2] = {1, -1};
    pairs_of_cos(c2b, 2, a, b);
    L = ss__cosent(a, b, up, NULL, 2, 2, 1000.0f, da, db, work);
    tap_ok(fabs(L - 2000) < 1e-9 && isinf(ss__cosent_naive(a, b, up, NULL, 2, 2, 1000.0)) &&
               fabs(da[0] - 1000) < 1e-3,
           "CoSENT with lambda 1000: loss 2000, gradient 1000 (the naive sum overflows) (%.17g)", L);

    /* random batches: against the definition, and central differences */
    uint64_t r[4];
    ss__rng_seed(r, 11);
    int ok_ref = 1, ok_fd = 1;
    double worst_ref = 0, worst_fd = 0;
    for (int trial = 0; trial < 6; trial++) {
        for (int i = 0; i < B * C; i++) {
            a[i] = (float)(ss__rng_uniform(r) - 0.5);
            b[i] = (float)(ss__rng_uniform(r) - 0.5);
        }
        for (int i = 0; i < B; i++) { /* the loss wants unit vectors */
            double na = 0, nb = 0;
            for (int k = 0; k < C; k++) na += a[i * C + k] * a[i * C + k], nb += b[i * C + k] * b[i * C + k];
            for (int k = 0; k < C; k++) a[i * C + k] /= (float)sqrt(na), b[i * C + k] /= (float)sqrt(nb);
        }
        double s[B];
        int g[B];
        for (int i = 0; i < B; i++) {
            s[i] = (double)ss__rand_below(r, 4) * 1.25; /* few values: ties */
            g[i] = (int)ss__rand_below(r, 2);
        }
        const int *grp = trial % 2 ? g : NULL;
        float scale = trial < 4 ? 20.0f : 3.0f;
        L = ss__cosent(a, b, s, grp, B, C, scale, da, db, work);
        double ref = ss__cosent_naive(a, b, s, grp, B, C, scale);
        worst_ref = fmax(worst_ref, fabs(L - ref) / fmax(1, fabs(ref)));
        ok_ref &= fabs(L - ref) <= 1e-12 * fmax(1, fabs(ref));
        double h = 1e-4, maxg = 0, maxerr = 0;
        for (int side = 0; side < 2; side++) {
            float *x = side ? b : a, *gr = side ? db : da;
            for (int i = 0; i < B * C; i++) {
                float keep = x[i];
                x[i] = keep + (float)h;
                double hp = (double)x[i] - keep; /* the step float could take */
                double lp = cos_l(a, b, s, grp, B, C, scale, work);
                x[i] = keep - (float)h;
                double hm = keep - (double)x[i];
                double lm = cos_l(a, b, s, grp, B, C, scale, work);
                x[i] = keep;
                double fd = (lp - lm) / (hp + hm);
                maxg = fmax(maxg, fabs(fd));
                maxerr = fmax(maxerr, fabs(fd - gr[i]));
            }
        }
        worst_fd = fmax(worst_fd, maxerr / maxg);
        ok_fd &= maxerr <= 1e-3 * maxg;
    }
    tap_ok(ok_ref, "CoSENT: log-sum-exp = the definition on random batches with ties and groups (worst %.2g)",
           worst_ref);
    tap_ok(ok_fd, "CoSENT: gradient matches central differences, ties and groups (normwise error %.2g)", worst_fd);

    /* mixed: unscored (NaN) pairs get InfoNCE among themselves, scored ones CoSENT */
    worst_fd = 0;
    ok_fd = 1;
    for (int trial = 0; trial < 3; trial++) {
        double s[B];
        for (int i = 0; i < B; i++) s[i] = i % 3 == 0 ? NAN : (double)ss__rand_below(r, 3);
        if (trial == 2)
            for (int i = 0; i < B; i++) s[i] = i == 3 ? 1.0 : NAN; /* one scored pair: InfoNCE only */
        L = ss__cosent_mixed(a, b, s, NULL, B, C, 20.0f, 0.5f, da, db, work);
        double h = 1e-4, maxg = 0, maxerr = 0;
        float *ta = malloc(sizeof(float) * B * C), *tb = malloc(sizeof(float) * B * C);
        for (int side = 0; side < 2; side++) {
            float *x = side ? b : a, *gr = side ? db : da;
            for (int i = 0; i < B * C; i++) {
                float keep = x[i];
                x[i] = keep + (float)h;
                double hp = (double)x[i] - keep;
                double lp = ss__cosent_mixed(a, b, s, NULL, B, C, 20.0f, 0.5f, ta, tb, work);
                x[i] = keep - (float)h;
                double hm = keep - (double)x[i];
                double lm = ss__cosent_mixed(a, b, s, NULL, B, C, 20.0f, 0.5f, ta, tb, work);
                x[i] = keep;
                double fd = (lp - lm) / (hp + hm);
                maxg = fmax(maxg, fabs(fd));
                maxerr = fmax(maxerr, fabs(fd - gr[i]));
            }
        }
        free(ta);
        free(tb);
        worst_fd = fmax(worst_fd, maxerr / maxg);
        ok_fd &= maxerr <= 1e-3 * maxg && isfinite(L);
    }
    tap_ok(ok_fd, "CoSENT + InfoNCE on unscored pairs: gradient matches central differences (normwise error %.2g)",
           worst_fd);
    {
        /* the two parts add up: scored pairs 1, 2, 4, 5 and unscored 0, 3, 6, 7 */
        double s[B] = {NAN, 1, 2, NAN, 0, 2.5, NAN, NAN};
        float xa[4 * C], xb[4 * C], *w2 = malloc(sizeof(float) * 3 * 16);
        int u[4] = {0, 3, 6, 7};
        for (int k = 0; k < 4; k++) {
            memcpy(xa + k * C, a + u[k] * C, sizeof(float) * C);
            memcpy(xb + k * C, b + u[k] * C, sizeof(float) * C);
        }
        double Li = ss__infonce_forward(w2, xa, xb, 4, C, 0.5f, 1);
        double Lc = ss__cosent_naive(a, b, s, NULL, B, C, 20.0);
        L = ss__cosent_mixed(a, b, s, NULL, B, C, 20.0f, 0.5f, da, db, work);
        tap_close(L, Lc + Li, 1e-5, "CoSENT + InfoNCE = CoSENT of the scored pairs + InfoNCE of the others");
        free(w2);
    }

    /* nothing ordered: every score tied, or every pair alone in its group */
    double same[B];
    int alone[B];
    for (int i = 0; i < B; i++) same[i] = 2.5, alone[i] = i;
    memset(da, 0xff, sizeof da);
    memset(db, 0xff, sizeof db);
    L = ss__cosent(a, b, same, NULL, B, C, 20.0f, da, db, work);
    int zero = 1;
    for (int i = 0; i < B * C; i++) zero &= da[i] == 0 && db[i] == 0;
    tap_ok(L == 0 && zero, "CoSENT: all scores tied: loss 0, gradient 0");
    double s8[B];
    for (int i = 0; i < B; i++) s8[i] = i;
    L = ss__cosent(a, b, s8, alone, B, C, 20.0f, da, db, work);
    zero = 1;
    for (int i = 0; i < B * C; i++) zero &= da[i] == 0 && db[i] == 0;
    tap_ok(L == 0 && zero, "CoSENT: every pair in a group of its own: loss 0, gradient 0");
    L = ss__cosent(a, b, s8, NULL, B, C, 20.0f, da, db, work);
    tap_ok(L > 0, "CoSENT: the same scores in one group: loss %.3f > 0", L);
    a[0] = NAN;
    tap_ok(isnan(ss__cosent(a, b, s8, NULL, B, C, 20.0f, da, db, work)), "CoSENT: a NaN input gives a NaN loss");
    free(work);
}

/* The public API (semsearch.h) trains as the library's own loop: the same
 * model bit for bit; and it mines negatives that are no text of their example. */
static void test_public_api(void)
{
    ss_tokenizer *tok;
    if (!tap_ok(ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok) == 0, "public API: the vocabulary"))
        return;
    ss_config c;
    tiny_config(&c, tok);
    ss_model *m1 = NULL, *m2 = NULL;
    int rc = ss_model_init(&c, tok, 3, &m1);
    if (!rc) rc = ss_model_init(&c, tok, 3, &m2);
    char dir[] = "/tmp/ss_train_api_XXXXXX", data[300], ck1[300], ck2[300], o1[300], o2[300];
    if (!tap_ok(rc == 0 && mkdtemp(dir), "public API: two equal tiny models")) goto done;
    snprintf(data, sizeof data, "%s/d.groups.tsv", dir);
    snprintf(ck1, sizeof ck1, "%s/a.ckpt.gguf", dir);
    snprintf(ck2, sizeof ck2, "%s/b.ckpt.gguf", dir);
    snprintf(o1, sizeof o1, "%s/a.gguf", dir);
    snprintf(o2, sizeof o2, "%s/b.gguf", dir);
    FILE *f = fopen(data, "w");
    for (int i = 0; f && i < 24; i++) fprintf(f, "a cat number %d\ta kitten number %d\tthe cat %d\n", i, i, i);
    if (f) fclose(f);
    ss_trainset *ts = NULL;
    ss_trainset_options lo;
    ss_trainset_options_init(&lo);
    rc = ss_trainset_new(&ts);
    if (!rc) rc = ss_trainset_add_file(ts, data, 1.0, &lo);
    ss_trainset_source src;
    tap_ok(rc == 0 && ss_trainset_n_sources(ts) == 1 && ss_trainset_get_source(ts, 0, &src) == 0 &&
               src.kind == SS_SOURCE_GROUPS && src.examples == 24 && ss_trainset_n_examples(ts) == 24 &&
               ss_trainset_n_texts(ts) == 72,
           "public API: a groups file, its source and counts (%s)", rc ? ss_errmsg() : "ok");
    ss_train_options po;
    ss_train_options_init(&po);
    po.batch_size = 4;
    po.steps = 3;
    po.seed = 7;
    po.checkpoint = ck1;
    po.output = o1;
    ss_train_result r1, r2;
    int rc1 = ss_train_run(m1, ts, &po, NULL, &r1);
    ss__train_opts io;
    ss__train_opts_init(&io);
    io.batch_size = 4;
    io.steps = 3;
    io.seed = 7;
    io.checkpoint = ck2;
    io.output = o2;
    int rc2 = ss__train_run(m2, ts, &io, NULL, &r2);
    tap_ok(rc1 == 0 && rc2 == 0 && r1.steps == 3 && r1.hist.n == 3 &&
               !memcmp(r1.hist.loss, r2.hist.loss, 3 * sizeof *r1.hist.loss) &&
               !memcmp(m1->params, m2->params, m1->n_params * sizeof(float)),
           "public API: ss_train_run is the library's loop, bit for bit");
    ss_train_result_free(&r1);
    ss_train_result_free(&r2);
    ss_train_result_free(NULL);
    tap_ok(ss_train_loss_kind("cosent") == SS_LOSS_COSENT && ss_train_loss_kind("x") < 0 &&
               !strcmp(ss_train_loss_name(SS_LOSS_NTXENT), "ntxent") &&
               ss_train_schedule_kind("linear") == SS_SCHED_LINEAR && ss_train_check_doc_pairs("title:1") == 0 &&
               ss_train_check_doc_pairs("nonsense:1") == SS_ERR_ARG,
           "public API: loss and schedule names, document-pair specs");
    ss_mine_options mo;
    ss_mine_options_init(&mo);
    ss_triplet *tr = NULL;
    size_t nt = 0;
    rc = ss_mine_negatives(m1, ts, &mo, &tr, &nt);
    int good = rc == 0 && nt > 0 && nt <= 24;
    for (size_t i = 0; good && i < nt; i++)
        good = strcmp(tr[i].negative, tr[i].anchor) && strcmp(tr[i].negative, tr[i].positive) &&
               strlen(tr[i].negative) == tr[i].negative_len;
    tap_ok(good, "public API: %zu mined triplets, each negative another example's text", nt);
    ss_free(tr);
    ss_trainset_free(ts);
    remove(data);
    remove(ck1);
    remove(ck2);
    remove(o1);
    remove(o2);
    rmdir(dir);
done:
    ss_model_free(m1);
    ss_model_free(m2);
    ss_tokenizer_free(tok);
}

/* A checkpoint holds the model, the moments and the state; a model file is
 * not a checkpoint. */
static void test_checkpoint(void)
{
    ss_tokenizer *tok;
    if (!tap_ok(ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok) == 0, "load the shipped vocabulary"))
        return;
    ss_config c;
    tiny_config(&c, tok);
    ss_model *m;
    if (!tap_ok(ss_model_init(&c, tok, 1, &m) == 0, "a tiny model")) return;
    size_t n = m->n_params;
    float *am = malloc(sizeof(float) * n), *av = malloc(sizeof(float) * n);
    float *bm = malloc(sizeof(float) * n), *bv = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        am[i] = (float)i * 1e-3f;
        av[i] = (float)i * 1e-6f + 1e-9f;
    }
    ss__ckpt_state st, ld;
    memset(&st, 0, sizeof st);
    st.step = 7;
    st.epoch = 1;
    st.batch = 2;
    st.total = 100;
    st.seed = 99;
    st.data_fp = 0x1234567890abcdefULL;
    st.batch_size = 8;
    st.loss = SS__LOSS_NTXENT;
    st.rng[0] = 1, st.rng[1] = 2, st.rng[2] = 3, st.rng[3] = UINT64_MAX;
    st.log_temp = -2.5f;
    st.log_temp_m = 0.1f;
    st.log_temp_v = 0.2f;
    st.best_score = 0.75;
    st.best_step = 5;
    float loss[7] = {1, 2, 3, 4, 5, 6, 7}, lr[7] = {0}, gn[7] = {0}, tp[7] = {0};
    double sec[7] = {0};
    int32_t ep[7] = {0};
    int64_t dstep[1] = {5};
    double dscore[1] = {0.75};
    st.hist.n = 7;
    st.hist.loss = loss, st.hist.lr = lr, st.hist.grad_norm = gn, st.hist.temp = tp, st.hist.seconds = sec,
    st.hist.epoch = ep;
    st.hist.n_dev = 1, st.hist.dev_step = dstep, st.hist.dev_score = dscore;
    char dir[] = "/tmp/ss-ckpt-test.XXXXXX", path[300], mpath[300];
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/c.ckpt.gguf", dir);
    snprintf(mpath, sizeof mpath, "%s/m.gguf", dir);
    tap_ok(ss__ckpt_save(path, m, am, av, &st) == 0, "checkpoint saved (%s)", ss_errmsg());
    int rc = ss__ckpt_load(path, n, bm, bv, &ld);
    tap_ok(rc == 0 && !memcmp(am, bm, n * sizeof *am) && !memcmp(av, bv, n * sizeof *av),
           "the moments come back bit for bit");
    tap_ok(rc == 0 && ld.step == 7 && ld.epoch == 1 && ld.batch == 2 && ld.total == 100 && ld.seed == 99 &&
               ld.data_fp == st.data_fp && ld.batch_size == 8 && ld.loss == SS__LOSS_NTXENT &&
               !memcmp(ld.rng, st.rng, sizeof st.rng) && ld.log_temp == -2.5f && ld.log_temp_v == 0.2f &&
               ld.best_score == 0.75 && ld.best_step == 5,
           "the state comes back");
    tap_ok(rc == 0 && ld.hist.n == 7 && ld.hist.loss[6] == 7 && ld.hist.n_dev == 1 && ld.hist.dev_step[0] == 5,
           "the history comes back");
    ss__train_history_free(&ld.hist);
    ss_model *m2;
    rc = ss_model_load(path, &m2);
    tap_ok(rc == 0 && m2->n_params == n && !memcmp(m2->params, m->params, n * sizeof(float)),
           "a checkpoint is also a model file (f32, exact)");
    ss_model_free(m2);
    tap_ok(ss_model_save(m, mpath, SS_DTYPE_F32) == 0, "a plain model file");
    rc = ss__ckpt_load(mpath, n, bm, bv, &ld);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), "--init"), "a model file is not a checkpoint (%s)",
           ss_errmsg());
    rc = ss__ckpt_load(path, n + 1, bm, bv, &ld);
    tap_ok(rc == SS_ERR_FORMAT, "moments of another size are refused (%s)", ss_errmsg());
    /* cosent wants a score for every pair */
    ss__trainset *ts = random_set(4, 40, 40, 0, 1.0);
    ss__train_opts to;
    ss__train_opts_init(&to);
    to.loss = SS__LOSS_COSENT;
    to.output = mpath;
    to.checkpoint = path;
    ss__train_result res;
    rc = ss__train_run(m, ts, &to, NULL, &res);
    tap_ok(rc == SS_ERR_ARG && strstr(ss_errmsg(), "needs graded pairs") && strstr(ss_errmsg(), "none of the 80"),
           "cosent without a single scored pair is refused (%s)", ss_errmsg());
    ss__train_history_free(&res.hist);
    ss__trainset_free(ts);
    /* a NaN in the model: no file */
    m->params[3] = NAN;
    unlink(path);
    tap_ok(ss__ckpt_save(path, m, am, av, &st) == SS_ERR_NUMERIC && access(path, F_OK) != 0,
           "a model with NaN is not saved (%s)", ss_errmsg());
    unlink(mpath);
    rmdir(dir);
    free(am);
    free(av);
    free(bm);
    free(bv);
    ss_model_free(m);
    ss_tokenizer_free(tok);
}

/* Every allocation of building a set and planning an epoch may fail: the
 * failure is reported, nothing leaks (ASan), nothing crashes. */
static void test_alloc_failures(void)
{
    int failed_ok = 1, n_runs = 0;
    for (long k = 1; k < 2000; k++) {
        ss__fail_alloc_after(k);
        ss__trainset *ts = NULL;
        int rc = ss__trainset_new(&ts);
        char buf[3][32];
        const char *t[3] = {buf[0], buf[1], buf[2]};
        for (int i = 0; !rc && i < 3; i++) {
            rc = ss__trainset_begin_source(ts, "s", i == 2 ? SS__SRC_TEXT : SS__SRC_GROUPS, 1.5);
            for (int j = 0; !rc && j < 150; j++) {
                for (int q = 0; q < 3; q++) snprintf(buf[q], sizeof buf[q], "t%d %d %d", i, j, q);
                int added;
                rc = ss__trainset_add(ts, t, NULL, i == 2 ? 1 : 3, &added);
            }
        }
        ss__plan p;
        memset(&p, 0, sizeof p);
        if (!rc) rc = ss__trainset_plan(ts, 1, 0, 8, SS__CURRIC_OVERLAP, &p);
        ss__fail_alloc_after(0);
        n_runs++;
        if (rc && rc != SS_ERR_NOMEM) failed_ok = 0;
        ss__plan_free(&p);
        ss__trainset_free(ts);
        if (!rc) break; /* k is past the last allocation */
    }
    tap_ok(failed_ok && n_runs > 10, "each of %d allocations may fail: SS_ERR_NOMEM, no crash or leak", n_runs - 1);
}

/* Documents: the three forms load, and their pairs come from the right places. */
static void test_documents(void)
{
    char dir[] = "/tmp/ss-docs-test.XXXXXX", p[4][300];
    if (!tap_ok(mkdtemp(dir) != NULL, "documents: scratch directory")) return;
    snprintf(p[0], sizeof p[0], "%s/w.paragraphs.tsv", dir);
    snprintf(p[1], sizeof p[1], "%s/n.docs.txt", dir);
    snprintf(p[2], sizeof p[2], "%s/folder", dir);
    snprintf(p[3], sizeof p[3], "%s/bad.paragraphs.tsv", dir);
    write_file(p[0], "d1\tCats\t\tCats are small animals. They purr when they are happy.\n"
                     "d1\tCats\tFood\tCats eat fish.\n"
                     "d2\tDogs\t\tDogs bark.\n"
                     "d3\t\t\tA paragraph with no title at all.\n");
    write_file(p[1], "# Rivers\nThe Nile is long. It flows north.\n## Delta\nThe delta is fertile.\n\n"
                     "A second document with one paragraph.\n");
    write_file(p[3], "d1\tT\tS\tok\nd2\tonly three\tfields\n");
    char sub[320], f1[340], f2[340];
    snprintf(sub, sizeof sub, "%s/sub", p[2]);
    if (mkdir(p[2], 0700) || mkdir(sub, 0700)) tap_ok(0, "documents: folders");
    snprintf(f1, sizeof f1, "%s/b.md", p[2]);
    snprintf(f2, sizeof f2, "%s/a.txt", sub);
    write_file(f1, "# Guide\n\nFirst paragraph\nwraps over two lines.\n\n## Install\nRun make install.\n");
    write_file(f2, "A file with no heading.\n\nIts second paragraph.\n");
    ss__load_opts lo = {0, 0, 0, 0};
    ss__trainset *ts;
    ss__trainset_new(&ts);
    int rc = ss__trainset_load(ts, p[0], 1, &lo);
    tap_ok(rc == 0 && ts->src[0].kind == SS__SRC_DOCS && ts->src[0].n == 3,
           "paragraphs.tsv: three documents (%zu)", ts->n_examples);
    tap_ok(ss__trainset_form(ts, 0) == SS__FORM_DOC_TITLED && ss__trainset_ex_size(ts, 0) == 3 &&
               !strcmp(ss__trainset_text(ts, ts->members[ts->ex_off[0]]), "Cats") &&
               ts->sect[ts->ex_off[0] + 1] == SS__NO_TEXT &&
               !strcmp(ss__trainset_text(ts, ts->sect[ts->ex_off[0] + 2]), "Food"),
           "paragraphs.tsv: title first, then paragraphs with their sections");
    tap_ok(ss__trainset_form(ts, 2) == SS__FORM_DOC && ss__trainset_ex_size(ts, 2) == 1,
           "paragraphs.tsv: a document without title");
    rc = ss__trainset_load(ts, p[1], 1, &lo);
    tap_ok(rc == 0 && ts->src[1].n == 2 && ss__trainset_form(ts, 3) == SS__FORM_DOC_TITLED &&
               ss__trainset_ex_size(ts, 3) == 3 && ss__trainset_form(ts, 4) == SS__FORM_DOC,
           "docs.txt: a blank line ends a document, '# ' is its title");
    rc = ss__trainset_load(ts, p[2], 1, &lo);
    size_t e = 5;
    tap_ok(rc == 0 && ts->src[2].n == 2 && ss__trainset_form(ts, e) == SS__FORM_DOC_TITLED &&
               !strcmp(ss__trainset_text(ts, ts->members[ts->ex_off[e] + 1]),
                       "First paragraph wraps over two lines.") &&
               !strcmp(ss__trainset_text(ts, ts->sect[ts->ex_off[e] + 2]), "Install"),
           "a folder: one document a file, lines of a paragraph joined, headings as sections");
    tap_ok(rc == 0 && ss__trainset_form(ts, e + 1) == SS__FORM_DOC && ss__trainset_ex_size(ts, e + 1) == 2,
           "a folder: files in subfolders too, sorted");

    /* an epoch plan: one paragraph per document use, never a title */
    ss__plan plan;
    rc = ss__trainset_plan(ts, 3, 0, 3, SS__CURRIC_NONE, &plan);
    int ok = rc == 0 && plan.n_items == ts->n_examples, bad = 0;
    for (size_t i = 0; ok && i < plan.n_items; i++) {
        const ss__plan_item *it = &plan.items[i];
        size_t j0 = ts->ex_off[it->ex] + (ss__trainset_form(ts, it->ex) == SS__FORM_DOC_TITLED), j = j0;
        while (j < ts->ex_off[it->ex + 1] && ts->members[j] != it->a) j++;
        bad += it->a != it->b || j == ts->ex_off[it->ex + 1];
    }
    tap_ok(ok && !bad, "plan: each document once, its pair drawn from one of its paragraphs (%d bad)", bad);
    ss__plan_free(&plan);
    ss__trainset_free(ts);

    ss__trainset_new(&ts);
    rc = ss__trainset_load(ts, p[3], 1, &lo);
    char want[360];
    snprintf(want, sizeof want, "%s:2: expected 4 tab-separated fields", p[3]);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), want), "paragraphs.tsv: a bad line is FILE:LINE (%s)",
           ss_errmsg());
    ss__trainset_free(ts);
    ss__trainset_new(&ts);
    lo.skip_bad = 1;
    rc = ss__trainset_load(ts, p[3], 1, &lo);
    tap_ok(rc == 0 && ts->src[0].n == 1 && ts->src[0].skipped_bad == 1, "paragraphs.tsv: --skip-bad skips it");
    ss__trainset_free(ts);

    /* the pairs */
    ss__docpair_opts o;
    ss__docpair_opts_init(&o);
    const char *para = "The Nile is the longest river. It flows north through Egypt. Dr. Smith wrote that "
                       "its delta is fertile and wide enough for many farms along both banks.";
    int seen[SS__DOCPAIR_KINDS] = {0}, wrong = 0;
    uint64_t rng[4];
    ss__rng_seed(rng, 9);
    for (int t = 0; t < 400; t++) {
        char *a, *b;
        size_t na, nb;
        int kind;
        rc = ss__docpair_make(&o, rng, "Nile", 4, "Delta", 5, para, strlen(para), &a, &na, &b, &nb, &kind);
        if (rc) {
            wrong++;
            break;
        }
        seen[kind]++;
        if (strlen(a) != na || strlen(b) != nb) wrong++;
        if (kind == SS__DOCPAIR_TITLE) wrong += strcmp(a, "Nile") || strcmp(b, para);
        if (kind == SS__DOCPAIR_SECTION) wrong += strcmp(a, "Nile: Delta") || strcmp(b, para);
        if (kind == SS__DOCPAIR_ICT) {
            /* a sentence of the paragraph; the context lacks it (or, rarely, keeps it) */
            int is_sent = !strcmp(a, "The Nile is the longest river.") || !strcmp(a, "It flows north through Egypt.") ||
                          !strncmp(a, "Dr. Smith wrote", 15);
            wrong += !is_sent || !strstr(para, a) || (strcmp(b, para) && strstr(b, a));
        }
        if (kind == SS__DOCPAIR_CROP) wrong += !strstr(para, a) || !strstr(para, b) || na == 0 || nb == 0;
        ss_free(a);
        ss_free(b);
    }
    tap_ok(!wrong && seen[0] && seen[1] && seen[2] && seen[3],
           "doc pairs: title %d, section %d, ict %d, crop %d, each from the right texts (%d wrong)", seen[0], seen[1],
           seen[2], seen[3], wrong);
    size_t st[8];
    int ns = 0;
    ss__sentences(para, strlen(para), st, 7, &ns);
    tap_ok(ns == 3, "sentences: 3, not split after 'Dr.' (%d)", ns);
    char *a, *b;
    size_t na, nb;
    int kind;
    rc = ss__docpair_make(&o, rng, NULL, 0, NULL, 0, "Short.", 6, &a, &na, &b, &nb, &kind);
    tap_ok(rc == 0 && kind == -1 && !strcmp(a, "Short.") && !strcmp(b, "Short."),
           "doc pairs: nothing applies to a short untitled paragraph: itself twice");
    ss_free(a);
    ss_free(b);
    tap_ok(ss__docpair_parse("title:2,ict", &o) == 0 && o.weight[0] == 2 && o.weight[1] == 0 && o.weight[2] == 1 &&
               o.weight[3] == 0,
           "--doc-pairs: weights parsed, kinds not named are off");
    tap_ok(ss__docpair_parse("title:x", &o) == SS_ERR_ARG && ss__docpair_parse("bogus", &o) == SS_ERR_ARG &&
               ss__docpair_parse("crop:0", &o) == SS_ERR_ARG,
           "--doc-pairs: a bad weight, an unknown kind or no positive weight is refused (%s)", ss_errmsg());

    /* triplets: anchor and positive are the pair, the negative rides along */
    char tp[300];
    snprintf(tp, sizeof tp, "%s/t.triplets.tsv", dir);
    write_file(tp, "a1\tp1\tn1\na2\tp2\tn2\na3\tp3\ta3\nonly\ttwo\n");
    ss__trainset_new(&ts);
    lo.skip_bad = 0;
    rc = ss__trainset_load(ts, tp, 1, &lo);
    snprintf(want, sizeof want, "%s:4: expected 3 tab-separated texts", tp);
    tap_ok(rc == SS_ERR_FORMAT && strstr(ss_errmsg(), want), "triplets: a line of two texts is FILE:LINE (%s)",
           ss_errmsg());
    ss__trainset_free(ts);
    ss__trainset_new(&ts);
    lo.skip_bad = 1;
    rc = ss__trainset_load(ts, tp, 1, &lo);
    tap_ok(rc == 0 && ts->src[0].kind == SS__SRC_TRIPLETS && ts->src[0].n == 2 && ts->src[0].skipped == 1 &&
               ss__trainset_form(ts, 0) == SS__FORM_TRIPLET && ss__trainset_form(ts, 1) == SS__FORM_TRIPLET,
           "triplets: loaded; one whose negative is its anchor is skipped (%zu)", ts->src[0].n);
    rc = ss__trainset_plan(ts, 1, 0, 2, SS__CURRIC_NONE, &plan);
    ok = rc == 0 && plan.n_items == 2;
    for (size_t i = 0; ok && i < plan.n_items; i++) {
        const ss__plan_item *it = &plan.items[i];
        ok = it->a == ts->members[ts->ex_off[it->ex]] && it->b == ts->members[ts->ex_off[it->ex] + 1];
    }
    tap_ok(ok, "triplets: the plan's pair is always (anchor, positive)");
    ss__plan_free(&plan);
    ss__trainset_free(ts);
}

/* Gradient caching: the chunked step computes the plain step's gradients. */
static void grad_cache_run(float dropout, int chunk, float *grads, float *loss)
{
    ss_config cfg;
    ss_config_init(&cfg);
    cfg.vocab_size = 50, cfg.d_model = 16, cfg.n_layers = 2, cfg.n_heads = 2, cfg.d_ff = 32, cfg.max_len = 8;
    cfg.dropout = dropout;
    ss_model *m = NULL;
    ss__trainer *t = NULL;
    if (ss__model_alloc(&cfg, NULL, &m)) return;
    ss__model_init_params(m, 5);
    if (ss__trainer_new(m, 11, &t)) {
        ss_model_free(m);
        return;
    }
    enum { BA = 7, BB = 10, T = 6 };
    int32_t ia[BA * T], ib[BB * T];
    uint8_t ma[BA * T], mb[BB * T];
    uint64_t r[4];
    ss__rng_seed(r, 77);
    for (int i = 0; i < BA * T; i++) ia[i] = 4 + (int32_t)ss__rand_below(r, 46), ma[i] = i % T < 2 + (i / T) % 4;
    for (int i = 0; i < BB * T; i++) ib[i] = 4 + (int32_t)ss__rand_below(r, 46), mb[i] = i % T < 1 + (i / T) % 5;
    ss_batch a = {BA, T, ia, ma, NULL}, b = {BB, T, ib, mb, NULL};
    ss__step_opts o;
    ss__step_opts_init(&o);
    o.chunk = chunk;
    float gn;
    *loss = NAN;
    if (ss__trainer_step(t, &a, &b, &o, loss, &gn) == 0) memcpy(grads, t->grads, m->n_params * sizeof(float));
    ss__trainer_free(t);
    ss_model_free(m);
}

static void test_grad_cache(void)
{
    size_t n = 50 * 16 + 8 * 16 + 2 * (16 * 6 + 3 * 16 * 16 + 16 * 16 + 32 * 16 * 2 + 32 + 16 * 2) + 32;
    float *g0 = calloc(n * 2, sizeof *g0), *g1 = calloc(n * 2, sizeof *g1), l0, l1;
    grad_cache_run(0, 0, g0, &l0);
    grad_cache_run(0, 3, g1, &l1);
    double err = 0, mx = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(g0[i] - g1[i])), mx = fmax(mx, fabs(g0[i]));
    tap_ok(isfinite(l0) && fabs(l0 - l1) < 1e-5 && mx > 1e-4 && err < 1e-5 * mx,
           "gradient caching (chunks of 3 texts, 7 pairs + 3 negatives): the plain step's loss (%.6f vs %.6f) and "
           "gradients (max difference %.2g of %.2g)", l0, l1, err, mx);
    grad_cache_run(0.2f, 0, g0, &l0);
    grad_cache_run(0.2f, 16, g1, &l1);
    tap_ok(isfinite(l0) && l0 == l1 && !memcmp(g0, g1, n * sizeof *g0),
           "gradient caching with dropout, one chunk: the plain step bit for bit");
    grad_cache_run(0.2f, 4, g1, &l1);
    tap_ok(isfinite(l1) && l1 > 0, "gradient caching with dropout in chunks: a finite loss (%.4f)", l1);
    free(g0);
    free(g1);
}

int main(void)
{
    test_rng();
    test_intern();
    test_plan();
    test_plan_conflicts();
    test_curriculum();
    test_augment();
    test_schedule();
    test_load();
    test_documents();
    test_grad_cache();
    test_losses();
    test_cosent();
    test_checkpoint();
    test_public_api();
    test_alloc_failures();
    return tap_done();
}
