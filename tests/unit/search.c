/* search.c: the top-k scan kernels against a naive reference.
 *
 * The vectors hold small multiples of 1/128 with one component of 127/128,
 * so every dot product is exact in float (whatever the summation order) and
 * the int8 codes are exact too: any difference from the reference, in the
 * hits or in how ties are ordered, is a bug, not rounding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "store/search.h"
#include "tap.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Values in {-8..8}/128, one component 127/128 (sign random). */
static void fill_exact(float *x, int d)
{
    for (int j = 0; j < d; j++) x[j] = (float)((int)(next() % 17) - 8) / 128.0f;
    x[next() % (uint64_t)d] = (next() & 1 ? 127.0f : -127.0f) / 128.0f;
}

typedef struct ref {
    double score;
    int64_t id;
} ref;

static int cmp_ref(const void *a, const void *b)
{
    const ref *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Naive: every live row scored in double, sorted. Returns hits found. */
static int naive(const ss__vecset *v, const float *q, int k, ref *out)
{
    ref *all = malloc((v->n + 1) * sizeof *all);
    size_t m = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (!v->ids[i] || (v->allow && !v->allow[i])) continue;
        double s = 0;
        for (int j = 0; j < v->dim; j++) s += (double)v->f32[i * (size_t)v->dim + j] * q[j];
        all[m++] = (ref){s, v->ids[i]};
    }
    qsort(all, m, sizeof *all, cmp_ref);
    int n = (int)(m < (size_t)k ? m : (size_t)k);
    memcpy(out, all, (size_t)n * sizeof *out);
    free(all);
    return n;
}

static const float *g_f32;
static int g_dim;
static long g_fetched;
static int fetch(void *ctx, const size_t *pos, size_t n, float *out)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + i * (size_t)g_dim, g_f32 + pos[i] * (size_t)g_dim, (size_t)g_dim * 4);
        if (i && pos[i] < pos[i - 1]) return ss__fail(SS_ERR, "fetch not in row order");
    }
    g_fetched += (long)n;
    return SS_OK;
}

/* One configuration: n rows of dim d with ties and dead rows, nq queries. */
static void check_case(int isa, size_t n, int d, size_t nq, int k, int threads, int with_allow)
{
    float *X = malloc(n * (size_t)d * sizeof *X);
    int64_t *ids = malloc(n * sizeof *ids);
    uint8_t *codes = malloc(n * (size_t)d);
    float *scales = malloc(n * sizeof *scales);
    uint8_t *allow = with_allow ? malloc(n) : NULL;
    float *Q = malloc(nq * (size_t)d * sizeof *Q);
    for (size_t i = 0; i < n; i++) {
        /* every 7th row repeats an earlier one: equal scores, ordered by id */
        if (i >= 10 && i % 7 == 0) memcpy(X + i * d, X + (next() % i) * d, (size_t)d * 4);
        else fill_exact(X + i * (size_t)d, d);
        /* ids shuffled against the row order; some rows dead */
        ids[i] = (next() % 13 == 0) ? 0 : (int64_t)((i * 7919) % (n * 3) + 1);
        if (allow) allow[i] = next() % 3 != 0;
        ss__quantize_i8(X + i * (size_t)d, d, codes + i * (size_t)d, &scales[i]);
    }
    for (size_t j = 0; j < nq; j++) fill_exact(Q + j * (size_t)d, d);
    ss__vecset v = {n, d, ids, X, codes, scales, allow};
    ss__hit *out = malloc(nq * (size_t)k * sizeof *out), *out8 = malloc(nq * (size_t)k * sizeof *out8),
            *outf = malloc(nq * (size_t)k * sizeof *outf);
    int *cnt = malloc(nq * sizeof *cnt), *cnt8 = malloc(nq * sizeof *cnt8), *cntf = malloc(nq * sizeof *cntf);
    ref *r = malloc((size_t)k * sizeof *r);
    int rc = ss__search_f32(&v, Q, nq, k, threads, out, cnt);
    int rc8 = ss__search_i8(&v, Q, nq, k, k + 8, threads, NULL, NULL, out8, cnt8);
    ss__vecset vnof = v;
    vnof.f32 = NULL;
    g_f32 = X;
    g_dim = d;
    g_fetched = 0;
    int rcf = ss__search_i8(&vnof, Q, nq, k, k + 8, threads, fetch, NULL, outf, cntf);
    /* streaming the same rows in pieces of 100 gives the same hits and positions */
    ss__hit *outs = malloc(nq * (size_t)k * sizeof *outs);
    int *cnts = malloc(nq * sizeof *cnts), bads = 0;
    ss__stream *st;
    int rcs = ss__stream_new(Q, nq, d, k, &st);
    for (size_t r0 = 0; r0 < n && !rcs; r0 += 100) {
        ss__vecset piece = {n - r0 < 100 ? n - r0 : 100, d, ids + r0, X + r0 * (size_t)d, NULL, NULL,
                            allow ? allow + r0 : NULL};
        ss__stream_feed(st, &piece, r0);
    }
    if (!rcs) ss__stream_finish(st, k, outs, cnts);
    ss__stream_free(st, nq);
    int bad = 0, bad8 = 0, badf = 0, ties = 0;
    for (size_t j = 0; j < nq; j++) {
        int m = naive(&v, Q + j * (size_t)d, k, r);
        for (int i = 1; i < m; i++) ties += r[i].score == r[i - 1].score;
        if (!rcs && cnts[j] != cnt[j]) bads++;
        for (int i = 0; !rcs && i < cnt[j] && i < cnts[j]; i++) {
            const ss__hit *a = out + j * (size_t)k + i, *b = outs + j * (size_t)k + i;
            bads += a->id != b->id || a->score != b->score || a->pos != b->pos;
        }
        if (cnt[j] != m || cnt8[j] != m || cntf[j] != m) {
            bad++;
            continue;
        }
        for (int i = 0; i < m; i++) {
            const ss__hit *h = out + j * (size_t)k + i, *h8 = out8 + j * (size_t)k + i, *hf = outf + j * (size_t)k + i;
            if (h->id != r[i].id || h->score != (float)r[i].score || ids[h->pos] != h->id) bad++;
            if (h8->id != r[i].id || h8->score != (float)r[i].score) bad8++;
            if (hf->id != r[i].id || hf->score != (float)r[i].score) badf++;
        }
    }
    tap_ok(!rc && !bad, "isa %d f32 n=%zu d=%d nq=%zu k=%d threads=%d allow=%d: same hits and order as naive (%d ties)",
           isa, n, d, nq, k, threads, with_allow, ties);
    tap_ok(!rc8 && !bad8, "isa %d int8 + rescoring, same case: same as naive", isa);
    tap_ok(!rcf && !badf && g_fetched > 0, "isa %d int8 rescoring from fetched rows: same as naive", isa);
    tap_ok(!rcs && !bads, "isa %d streaming in pieces of 100 rows: same hits, scores, rows", isa);
    free(outs);
    free(cnts);
    free(X);
    free(ids);
    free(codes);
    free(scales);
    free(allow);
    free(Q);
    free(out);
    free(out8);
    free(outf);
    free(cnt);
    free(cnt8);
    free(cntf);
    free(r);
}

static void check_heap(void)
{
    ss__topk t;
    int bad = 0;
    if (ss__topk_init(&t, 5)) {
        tap_ok(0, "heap init");
        return;
    }
    float sc[] = {0.5f, 0.9f, 0.1f, 0.9f, 0.7f, 0.9f, -1.0f, 0.8f, 0.7f};
    int64_t id[] = {10, 30, 5, 20, 7, 40, 1, 3, 6};
    for (int i = 0; i < 9; i++) ss__topk_push(&t, sc[i], id[i], (size_t)i);
    ss__topk_sort(&t);
    int64_t want[] = {20, 30, 40, 3, 6};
    for (int i = 0; i < 5; i++) bad += t.h[i].id != want[i];
    tap_ok(t.n == 5 && !bad, "heap keeps the 5 best, equal scores by smaller id");
    ss__topk_free(&t);
    ss__topk_free(NULL);
}

/* Random unit vectors: int8 + rescoring finds what exact search finds. */
static void check_recall(void)
{
    size_t n = 20000, nq = 50;
    int d = 64, k = 10;
    float *X = malloc(n * (size_t)d * 4), *Q = malloc(nq * (size_t)d * 4), *sc = malloc(n * 4);
    uint8_t *codes = malloc(n * (size_t)d);
    int64_t *ids = malloc(n * 8);
    for (size_t i = 0; i < n + nq; i++) {
        float *x = i < n ? X + i * d : Q + (i - n) * d;
        double ss = 0;
        for (int j = 0; j < d; j++) {
            /* Box-Muller */
            double u = ((double)(next() >> 11) + 0.5) / 9007199254740992.0, w = (double)(next() >> 11) / 9007199254740992.0;
            x[j] = (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * w));
            ss += (double)x[j] * x[j];
        }
        for (int j = 0; j < d; j++) x[j] = (float)(x[j] / sqrt(ss));
        if (i < n) {
            ss__quantize_i8(x, d, codes + i * d, &sc[i]);
            ids[i] = (int64_t)i + 1;
        }
    }
    ss__vecset v = {n, d, ids, X, codes, sc, NULL};
    ss__hit *a = malloc(nq * k * sizeof *a), *b = malloc(nq * k * sizeof *b);
    int *ca = malloc(nq * sizeof(int)), *cb = malloc(nq * sizeof(int));
    int rc = ss__search_f32(&v, Q, nq, k, 1, a, ca) || ss__search_i8(&v, Q, nq, k, 64, 1, NULL, NULL, b, cb);
    int found = 0;
    for (size_t j = 0; j < nq; j++)
        for (int i = 0; i < k; i++)
            for (int l = 0; l < k; l++) found += a[j * k + i].id == b[j * k + l].id;
    double recall = (double)found / (double)(nq * k);
    tap_ok(!rc && recall >= 0.99, "int8 + rescoring of 64 candidates: recall@10 %.4f >= 0.99 on random unit vectors",
           recall);
    free(X);
    free(Q);
    free(sc);
    free(codes);
    free(ids);
    free(a);
    free(b);
    free(ca);
    free(cb);
}

int main(void)
{
    check_heap();
    int best = ss__search_isa(99);
    for (int isa = 0; isa <= best; isa++) {
        ss__search_isa(isa);
        check_case(isa, 1000, 16, 1, 10, 1, 0);
        check_case(isa, 777, 7, 3, 5, 1, 1);
        check_case(isa, 1500, 33, 4, 20, 2, 0);
        check_case(isa, 300, 100, 2, 400, 1, 0); /* k beyond the live rows */
        check_case(isa, 40000, 24, 3, 10, 2, 1); /* two threads for real */
        check_case(isa, 2000, 256, 2, 10, 2, 0);
    }
    ss__search_isa(best);
    check_recall();
    /* bad arguments are errors, not crashes */
    ss__vecset v = {0, 0, NULL, NULL, NULL, NULL, NULL};
    ss__hit h;
    int c;
    float q = 1;
    tap_ok(ss__search_f32(&v, &q, 1, 1, 1, &h, &c) == SS_ERR_ARG, "dim 0 is SS_ERR_ARG");
    v.dim = 1;
    tap_ok(ss__search_f32(&v, &q, 1, 1, 1, &h, &c) == SS_OK && c == 0, "no rows: no hits");
    return tap_done();
}
