/* search.c: top-k heaps and the f32 / int8 scan kernels (see search.h).
 *
 * Kernels exist for AVX-512 (with VNNI for int8), AVX2 and plain C, chosen at
 * run time. Within one level, every row's f32 dot product is computed by the
 * same sequence of operations (one row at a time, in one sequential stream),
 * so a score never depends on where its row sits or which batch it is in.
 * int8 dot products are integers, exact in any order. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SS_X86 1
#endif
#include "base/common.h"
#include "base/pool.h"
#include "store/search.h"

/* ------------------------------------------------------------------ heaps */

int ss__topk_init(ss__topk *t, int k)
{
    t->k = k;
    t->n = 0;
    t->h = ss__malloc((size_t)(k > 0 ? k : 1) * sizeof *t->h);
    return t->h ? SS_OK : ss__fail(SS_ERR_NOMEM, "out of memory");
}

void ss__topk_free(ss__topk *t)
{
    if (!t) return;
    ss_free(t->h);
    t->h = NULL;
    t->n = t->k = 0;
}

/* Root = the kept hit ranking last. */
static inline int worse(const ss__hit *a, const ss__hit *b)
{
    return ss__hit_before(b->score, b->id, a->score, a->id);
}

static void sift_down(ss__hit *h, int n, int i)
{
    ss__hit x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && worse(&h[c + 1], &h[c])) c++;
        if (!worse(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

void ss__topk_push(ss__topk *t, float score, int64_t id, size_t pos)
{
    if (t->k <= 0) return;
    ss__hit x = {score, id, pos};
    if (t->n < t->k) {
        int i = t->n++;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!worse(&x, &t->h[p])) break;
            t->h[i] = t->h[p];
            i = p;
        }
        t->h[i] = x;
    } else if (worse(&t->h[0], &x)) {
        t->h[0] = x;
        sift_down(t->h, t->n, 0);
    }
}

int ss__hit_cmp(const void *a, const void *b)
{
    const ss__hit *x = a, *y = b;
    if (ss__hit_before(x->score, x->id, y->score, y->id)) return -1;
    if (ss__hit_before(y->score, y->id, x->score, x->id)) return 1;
    return 0;
}

void ss__topk_sort(ss__topk *t) { qsort(t->h, (size_t)t->n, sizeof *t->h, ss__hit_cmp); }

/* ----------------------------------------------------------- kernel choice */

enum { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
static int isa_best = -1, isa_now = -1;

static int detect(void)
{
#ifdef SS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_SCALAR;
}

static int isa(void)
{
    if (isa_now < 0) {
        isa_best = detect();
        const char *e = getenv("SEMSEARCH_ISA"); /* for benchmarks: scalar, avx2, avx512 */
        int want = ISA_AVX512;
        if (e && !strcmp(e, "scalar")) want = ISA_SCALAR;
        else if (e && !strcmp(e, "avx2")) want = ISA_AVX2;
        isa_now = SS_MIN(want, isa_best);
    }
    return isa_now;
}

int ss__search_isa(int want)
{
    isa();
    isa_now = SS_MAX(0, SS_MIN(want, isa_best));
    return isa_now;
}

/* ------------------------------------------------------------ f32 kernels */

static float dot1_scalar(const float *x, const float *q, int d)
{
    float s = 0.0f;
    for (int j = 0; j < d; j++) s += x[j] * q[j];
    return s;
}

static void dots_scalar(const float *X, size_t n, int d, const float *q, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = dot1_scalar(X + i * (size_t)d, q, d);
}

#ifdef SS_X86
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 a)
{
    __m128 lo = _mm256_castps256_ps128(a), hi = _mm256_extractf128_ps(a, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static const int32_t mask8_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

__attribute__((target("avx2,fma"))) static inline __m256 tail256(const float *p, int r)
{
    __m256i m = _mm256_loadu_si256((const __m256i *)(mask8_tab + 8 - r));
    return _mm256_maskload_ps(p, m);
}

/* One row at a time with 4 accumulators: rows are read as one sequential
 * stream (faster than interleaving rows), and a row's sum never depends on
 * its neighbours. */
__attribute__((target("avx2,fma"))) static inline float dot1_avx2(const float *x, const float *q, int d)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int j = 0;
    for (; j + 32 <= d; j += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 8), _mm256_loadu_ps(q + j + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 16), _mm256_loadu_ps(q + j + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 24), _mm256_loadu_ps(q + j + 24), a3);
    }
    for (; j + 8 <= d; j += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(q + j), a0);
    if (j < d) a0 = _mm256_fmadd_ps(tail256(x + j, d - j), tail256(q + j, d - j), a0);
    return hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

__attribute__((target("avx2,fma"))) static void dots_avx2(const float *X, size_t n, int d,
                                                          const float *q, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = dot1_avx2(X + i * (size_t)d, q, d);
}

__attribute__((target("avx512f"))) static inline float dot1_avx512(const float *x, const float *q, int d)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int j = 0;
    for (; j + 64 <= d; j += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(q + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j + 16), _mm512_loadu_ps(q + j + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j + 32), _mm512_loadu_ps(q + j + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j + 48), _mm512_loadu_ps(q + j + 48), a3);
    }
    for (; j + 16 <= d; j += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(q + j), a0);
    if (j < d) {
        __mmask16 m = (__mmask16)((1u << (d - j)) - 1);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + j), _mm512_maskz_loadu_ps(m, q + j), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx512f"))) static void dots_avx512(const float *X, size_t n, int d,
                                                           const float *q, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = dot1_avx512(X + i * (size_t)d, q, d);
}
#endif

float ss__dot_f32(const float *a, const float *b, int dim)
{
#ifdef SS_X86
    switch (isa()) {
    case ISA_AVX512: return dot1_avx512(a, b, dim);
    case ISA_AVX2: return dot1_avx2(a, b, dim);
    default: break;
    }
#endif
    return dot1_scalar(a, b, dim);
}

#ifdef SS_X86
/* Four queries against each row: the row is loaded once for the four. Each
 * (row, query) pair goes through exactly the operations of dot1_avx512, so
 * a batch gives the scores of single queries, bit for bit. */
__attribute__((target("avx512f"))) static void dots4_avx512(const float *X, size_t n, int d, const float *Q,
                                                            float *out, size_t out_stride)
{
    const float *q[4] = {Q, Q + d, Q + 2 * (size_t)d, Q + 3 * (size_t)d};
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * (size_t)d;
        __m512 a[4][4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) a[t][k] = _mm512_setzero_ps();
        int j = 0;
        for (; j + 64 <= d; j += 64) {
            __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16), x2 = _mm512_loadu_ps(x + j + 32),
                   x3 = _mm512_loadu_ps(x + j + 48);
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++) {
                a[t][0] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(q[t] + j), a[t][0]);
                a[t][1] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(q[t] + j + 16), a[t][1]);
                a[t][2] = _mm512_fmadd_ps(x2, _mm512_loadu_ps(q[t] + j + 32), a[t][2]);
                a[t][3] = _mm512_fmadd_ps(x3, _mm512_loadu_ps(q[t] + j + 48), a[t][3]);
            }
        }
        for (; j + 16 <= d; j += 16) {
            __m512 x0 = _mm512_loadu_ps(x + j);
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++) a[t][0] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(q[t] + j), a[t][0]);
        }
        if (j < d) {
            __mmask16 m = (__mmask16)((1u << (d - j)) - 1);
            __m512 x0 = _mm512_maskz_loadu_ps(m, x + j);
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++) a[t][0] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m, q[t] + j), a[t][0]);
        }
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++)
            out[t * out_stride + i] =
                _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[t][0], a[t][1]), _mm512_add_ps(a[t][2], a[t][3])));
    }
}
#endif

static void dots_f32(const float *X, size_t n, int d, const float *q, float *out)
{
#ifdef SS_X86
    switch (isa()) {
    case ISA_AVX512: dots_avx512(X, n, d, q, out); return;
    case ISA_AVX2: dots_avx2(X, n, d, q, out); return;
    default: break;
    }
#endif
    dots_scalar(X, n, d, q, out);
}

/* ----------------------------------------------------------- int8 kernels */

/* Codes are offset binary (u = c + 128) so that AVX-512 VNNI's u8 x s8 dot
 * applies directly: sum(u*q) = sum(c*q) + 128*sum(q), corrected by the caller. */
static void idots_scalar(const uint8_t *C, size_t n, int d, const int8_t *q, int32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = C + i * (size_t)d;
        int32_t s = 0;
        for (int j = 0; j < d; j++) s += (int32_t)c[j] * q[j];
        out[i] = s;
    }
}

#ifdef SS_X86
__attribute__((target("avx2,fma"))) static void idots_avx2(const uint8_t *C, size_t n, int d,
                                                           const int8_t *q, int32_t *out)
{
    int full = d & ~15;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = C + i * (size_t)d;
        __m256i a = _mm256_setzero_si256();
        for (int j = 0; j < full; j += 16) {
            __m256i cv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + j)));
            __m256i qv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + j)));
            a = _mm256_add_epi32(a, _mm256_madd_epi16(cv, qv));
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        int32_t t = _mm_cvtsi128_si32(s);
        for (int j = full; j < d; j++) t += (int32_t)c[j] * q[j];
        out[i] = t;
    }
}

/* A row's int32 accumulator (16 lanes), with the remainder masked in. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline __m512i irow_avx512(
    const uint8_t *c, const int8_t *q, int d)
{
    __m512i a = _mm512_setzero_si512(), b = a;
    int j = 0;
    for (; j + 128 <= d; j += 128) {
        a = _mm512_dpbusd_epi32(a, _mm512_loadu_si512((const void *)(c + j)), _mm512_loadu_si512((const void *)(q + j)));
        b = _mm512_dpbusd_epi32(b, _mm512_loadu_si512((const void *)(c + j + 64)),
                                _mm512_loadu_si512((const void *)(q + j + 64)));
    }
    for (; j + 64 <= d; j += 64)
        a = _mm512_dpbusd_epi32(a, _mm512_loadu_si512((const void *)(c + j)), _mm512_loadu_si512((const void *)(q + j)));
    if (j < d) {
        __mmask64 m = (__mmask64)((~0ULL) >> (64 - (d - j)));
        a = _mm512_dpbusd_epi32(a, _mm512_maskz_loadu_epi8(m, c + j), _mm512_maskz_loadu_epi8(m, q + j));
    }
    return _mm512_add_epi32(a, b);
}

/* 16 lanes -> 8 (integer sums: any order is exact). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline __m256i ihalf(__m512i a)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
}

/* Rows one after another (one sequential stream); the horizontal sums of 8
 * rows are done together with a tree of hadds, a third of the work of 8
 * separate reductions. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void idots_avx512(
    const uint8_t *C, size_t n, int d, const int8_t *q, int32_t *out)
{
    size_t i = 0, sd = (size_t)d;
    for (; i + 8 <= n; i += 8) {
        const uint8_t *c = C + i * sd;
        __m256i r0 = ihalf(irow_avx512(c, q, d)), r1 = ihalf(irow_avx512(c + sd, q, d));
        __m256i r2 = ihalf(irow_avx512(c + 2 * sd, q, d)), r3 = ihalf(irow_avx512(c + 3 * sd, q, d));
        __m256i r4 = ihalf(irow_avx512(c + 4 * sd, q, d)), r5 = ihalf(irow_avx512(c + 5 * sd, q, d));
        __m256i r6 = ihalf(irow_avx512(c + 6 * sd, q, d)), r7 = ihalf(irow_avx512(c + 7 * sd, q, d));
        __m256i s01 = _mm256_hadd_epi32(r0, r1), s23 = _mm256_hadd_epi32(r2, r3);
        __m256i s45 = _mm256_hadd_epi32(r4, r5), s67 = _mm256_hadd_epi32(r6, r7);
        __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
        /* lanes: s0123 = [r0 r1 r2 r3 | r0 r1 r2 r3] halves, likewise s4567 */
        __m256i lo = _mm256_permute2x128_si256(s0123, s4567, 0x20), hi = _mm256_permute2x128_si256(s0123, s4567, 0x31);
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_add_epi32(lo, hi));
    }
    for (; i < n; i++) out[i] = _mm512_reduce_add_epi32(irow_avx512(C + i * sd, q, d));
}
#endif

static void idots(const uint8_t *C, size_t n, int d, const int8_t *q, int32_t *out)
{
#ifdef SS_X86
    switch (isa()) {
    case ISA_AVX512: idots_avx512(C, n, d, q, out); return;
    case ISA_AVX2: idots_avx2(C, n, d, q, out); return;
    default: break;
    }
#endif
    idots_scalar(C, n, d, q, out);
}

void ss__quantize_i8(const float *x, int dim, uint8_t *codes, float *scale)
{
    float mx = 0.0f;
    for (int j = 0; j < dim; j++) mx = fmaxf(mx, fabsf(x[j]));
    float s = mx / 127.0f;
    *scale = s;
    float inv = s > 0 ? 1.0f / s : 0.0f;
    for (int j = 0; j < dim; j++) {
        long c = lrintf(x[j] * inv);
        if (c > 127) c = 127;
        if (c < -127) c = -127;
        codes[j] = (uint8_t)(c + 128);
    }
}

/* ------------------------------------------------------------------- scans */

typedef struct scan {
    const ss__vecset *v;
    size_t nq;
    int keep;            /* hits kept per query and thread */
    const float *q;      /* (nq,dim) f32 queries, or */
    const int8_t *qc;    /* (nq,dim) int8 queries ... */
    const float *qscale; /* (nq) ... with their scale */
    const int32_t *qsum; /* (nq) and sum of codes (offset correction) */
    size_t pos0;         /* row number of v's first row (streaming) */
} scan;

/* Pushes a chunk of scores into a heap, skipping dead or filtered rows. */
static void push_chunk(ss__topk *h, const ss__vecset *v, size_t r0, const float *sc, size_t n, size_t pos0)
{
    float thr = h->n < h->k ? -INFINITY : h->h[0].score;
    for (size_t i = 0; i < n; i++) {
        float s = sc[i];
        if (s < thr) continue;
        size_t p = r0 + i;
        int64_t id = v->ids[p];
        if (!id || (v->allow && !v->allow[p])) continue;
        ss__topk_push(h, s, id, pos0 + p);
        if (h->n == h->k) thr = h->h[0].score;
    }
}

/* Scans rows [lo,hi) for every query into heaps (nq of them). */
static void scan_range(const scan *S, size_t lo, size_t hi, ss__topk *heaps, float *sc, int32_t *isc,
                       size_t chunk)
{
    const ss__vecset *v = S->v;
    size_t d = (size_t)v->dim;
    for (size_t r0 = lo; r0 < hi; r0 += chunk) {
        size_t n = SS_MIN(chunk, hi - r0), j = 0;
#ifdef SS_X86
        if (S->q && isa() == ISA_AVX512) /* groups of four queries: sc holds 4 chunks */
            for (; j + 4 <= S->nq; j += 4) {
                dots4_avx512(v->f32 + r0 * d, n, v->dim, S->q + j * d, sc, chunk);
                for (int t = 0; t < 4; t++) push_chunk(&heaps[j + (size_t)t], v, r0, sc + (size_t)t * chunk, n, S->pos0);
            }
#endif
        for (; j < S->nq; j++) {
            if (S->q) {
                dots_f32(v->f32 + r0 * d, n, v->dim, S->q + j * d, sc);
            } else {
                idots(v->codes + r0 * d, n, v->dim, S->qc + j * d, isc);
                float qs = S->qscale[j];
                int32_t corr = 128 * S->qsum[j];
                for (size_t i = 0; i < n; i++) sc[i] = (float)(isc[i] - corr) * (v->scales[r0 + i] * qs);
            }
            push_chunk(&heaps[j], v, r0, sc, n, S->pos0);
        }
    }
}

/* The scan as pool parts: contiguous row ranges of whole chunks, each slot
 * (thread) with its own heaps and scratch. */
typedef struct scan_job {
    const scan *S;
    size_t chunk, per_part;
    ss__topk *heaps; /* (slots, nq) */
    float *sc;       /* (slots, 4, chunk) */
    int32_t *isc;    /* (slots, chunk) */
} scan_job;

static void scan_part(void *ctx, int part, int slot)
{
    scan_job *J = ctx;
    size_t n = J->S->v->n, lo = SS_MIN(n, (size_t)part * J->per_part), hi = SS_MIN(n, lo + J->per_part);
    scan_range(J->S, lo, hi, J->heaps + (size_t)slot * J->S->nq, J->sc + (size_t)slot * 4 * J->chunk,
               J->isc + (size_t)slot * J->chunk, J->chunk);
}

/* Runs the scan over up to `threads` threads; merges into merged[nq] (keep each). */
static int run_scan(const scan *S, int threads, ss__topk *merged)
{
    const ss__vecset *v = S->v;
    size_t row_bytes = S->q ? (size_t)v->dim * 4 : (size_t)v->dim;
    size_t chunk = SS_MAX((size_t)16, ((size_t)96 << 10) / row_bytes);
    /* a thread per 16k rows at most: below that, waking one costs more */
    int want = threads > 0 ? threads : ss_get_threads();
    want = (int)SS_MIN((size_t)want, SS_MAX((size_t)1, v->n / 16384));
    int slots = ss__pool_slots(want);
    /* parts of whole chunks, several per slot so that a late thread's share
     * is taken by the others */
    size_t nchunks = (v->n + chunk - 1) / chunk;
    size_t nparts = slots > 1 ? SS_MIN(nchunks, (size_t)slots * 16) : 1;
    if (nparts < 1) nparts = 1;
    size_t per_part = (nchunks + nparts - 1) / nparts * chunk;
    nparts = per_part ? (v->n + per_part - 1) / per_part : 1;
    if (nparts < 1) nparts = 1;
    size_t nh = (size_t)slots * S->nq;
    scan_job J = {S, chunk, per_part, NULL, NULL, NULL};
    J.heaps = ss__calloc(nh, sizeof *J.heaps);
    J.sc = ss__malloc((size_t)slots * 4 * chunk * sizeof *J.sc);
    J.isc = ss__malloc((size_t)slots * chunk * sizeof *J.isc);
    int rc = SS_OK;
    if (!J.heaps || !J.sc || !J.isc) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nh && !rc; i++) rc = ss__topk_init(&J.heaps[i], S->keep);
    if (!rc) {
        if (per_part == 0) J.per_part = v->n; /* no rows */
        ss__pool_run((int)nparts, slots, scan_part, &J);
        for (size_t j = 0; j < S->nq; j++) {
            merged[j] = J.heaps[j]; /* slot 0's heap becomes the merged one */
            J.heaps[j].h = NULL;
            for (int t = 1; t < slots; t++) {
                ss__topk *h = &J.heaps[(size_t)t * S->nq + j];
                for (int i = 0; i < h->n; i++) ss__topk_push(&merged[j], h->h[i].score, h->h[i].id, h->h[i].pos);
            }
        }
    }
    if (J.heaps)
        for (size_t i = 0; i < nh; i++) ss__topk_free(&J.heaps[i]);
    ss_free(J.heaps);
    ss_free(J.sc);
    ss_free(J.isc);
    return rc;
}

static int check_args(const ss__vecset *v, const float *q, size_t nq, int k, ss__hit *out, int *counts)
{
    if (!v || !q || !out || !counts || v->dim <= 0 || k <= 0 || (v->n && !v->ids))
        return ss__fail(SS_ERR_ARG, "search: invalid arguments");
    (void)nq;
    return SS_OK;
}

static void emit(ss__topk *h, int k, ss__hit *out, int *count)
{
    ss__topk_sort(h);
    int n = SS_MIN(h->n, k);
    memcpy(out, h->h, (size_t)n * sizeof *out);
    *count = n;
}

int ss__search_f32(const ss__vecset *v, const float *q, size_t nq, int k, int threads, ss__hit *out,
                   int *counts)
{
    int rc = check_args(v, q, nq, k, out, counts);
    if (rc) return rc;
    if (v->n && !v->f32) return ss__fail(SS_ERR_ARG, "search: no f32 vectors loaded");
    ss__topk *merged = ss__calloc(nq ? nq : 1, sizeof *merged);
    if (!merged) return ss__fail(SS_ERR_NOMEM, "out of memory");
    scan S = {v, nq, k, q, NULL, NULL, NULL, 0};
    rc = run_scan(&S, threads, merged);
    for (size_t j = 0; j < nq; j++) {
        if (!rc) emit(&merged[j], k, out + j * (size_t)k, &counts[j]);
        ss__topk_free(&merged[j]);
    }
    ss_free(merged);
    return rc;
}

static int cmp_pos(const void *a, const void *b)
{
    const ss__hit *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int ss__search_i8(const ss__vecset *v, const float *q, size_t nq, int k, int cand, int threads,
                  ss__fetch_fn fetch, void *fetch_ctx, ss__hit *out, int *counts)
{
    int rc = check_args(v, q, nq, k, out, counts);
    if (rc) return rc;
    if (v->n && (!v->codes || !v->scales)) return ss__fail(SS_ERR_ARG, "search: no int8 codes loaded");
    if (v->n && !v->f32 && !fetch) return ss__fail(SS_ERR_ARG, "search: int8 rescoring needs f32 rows");
    if (cand < k) cand = k;
    size_t d = (size_t)v->dim;
    int8_t *qc = ss__malloc((nq ? nq : 1) * d);
    float *qs = ss__malloc((nq ? nq : 1) * sizeof *qs);
    int32_t *qsum = ss__malloc((nq ? nq : 1) * sizeof *qsum);
    ss__topk *merged = ss__calloc(nq ? nq : 1, sizeof *merged);
    size_t *pos = ss__malloc((size_t)cand * sizeof *pos);
    float *rows = v->f32 ? NULL : ss__malloc((size_t)cand * d * sizeof *rows);
    if (!qc || !qs || !qsum || !merged || !pos || (!v->f32 && !rows)) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < nq && !rc; j++) {
        uint8_t *u = (uint8_t *)(qc + j * d);
        ss__quantize_i8(q + j * d, v->dim, u, &qs[j]);
        int32_t s = 0;
        for (size_t i = 0; i < d; i++) {
            qc[j * d + i] = (int8_t)((int)u[i] - 128);
            s += qc[j * d + i];
        }
        qsum[j] = s;
    }
    if (!rc) {
        scan S = {v, nq, cand, NULL, qc, qs, qsum, 0};
        rc = run_scan(&S, threads, merged);
    }
    /* rescoring: exact scores of the candidates decide */
    for (size_t j = 0; j < nq && !rc; j++) {
        ss__topk *m = &merged[j];
        qsort(m->h, (size_t)m->n, sizeof *m->h, cmp_pos); /* in row order for the fetch */
        for (int i = 0; i < m->n; i++) pos[i] = m->h[i].pos;
        if (!v->f32 && m->n) rc = fetch(fetch_ctx, pos, (size_t)m->n, rows);
        if (rc) break;
        for (int i = 0; i < m->n; i++) {
            const float *x = v->f32 ? v->f32 + m->h[i].pos * d : rows + (size_t)i * d;
            m->h[i].score = ss__dot_f32(x, q + j * d, v->dim);
        }
        emit(m, k, out + j * (size_t)k, &counts[j]);
    }
    for (size_t j = 0; j < nq && merged; j++) ss__topk_free(&merged[j]);
    ss_free(merged);
    ss_free(qc);
    ss_free(qs);
    ss_free(qsum);
    ss_free(pos);
    ss_free(rows);
    return rc;
}

/* ---------------------------------------------------------------- streaming */

struct ss__stream {
    scan S;
    ss__vecset v;
    ss__topk *heaps; /* (nq) */
    float *sc;       /* (4, chunk) */
    size_t chunk;
};

int ss__stream_new(const float *q, size_t nq, int dim, int k, ss__stream **out)
{
    *out = NULL;
    if (!q || nq == 0 || dim <= 0 || k <= 0) return ss__fail(SS_ERR_ARG, "stream: invalid arguments");
    ss__stream *st = ss__calloc(1, sizeof *st);
    if (!st) return ss__fail(SS_ERR_NOMEM, "out of memory");
    st->chunk = SS_MAX((size_t)16, ((size_t)96 << 10) / ((size_t)dim * 4));
    st->heaps = ss__calloc(nq, sizeof *st->heaps);
    st->sc = ss__malloc(4 * st->chunk * sizeof *st->sc);
    int rc = st->heaps && st->sc ? SS_OK : ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < nq && !rc; j++) rc = ss__topk_init(&st->heaps[j], k);
    if (rc) {
        ss__stream_free(st, nq);
        return rc;
    }
    st->v.dim = dim;
    st->S = (scan){&st->v, nq, k, q, NULL, NULL, NULL, 0};
    *out = st;
    return SS_OK;
}

void ss__stream_feed(ss__stream *st, const ss__vecset *rows, size_t pos0)
{
    st->v = *rows;
    st->S.pos0 = pos0;
    scan_range(&st->S, 0, rows->n, st->heaps, st->sc, NULL, st->chunk);
}

void ss__stream_finish(ss__stream *st, int k, ss__hit *out, int *counts)
{
    for (size_t j = 0; j < st->S.nq; j++) emit(&st->heaps[j], k, out + j * (size_t)k, &counts[j]);
}

void ss__stream_free(ss__stream *st, size_t nq)
{
    if (!st) return;
    for (size_t j = 0; st->heaps && j < nq; j++) ss__topk_free(&st->heaps[j]);
    ss_free(st->heaps);
    ss_free(st->sc);
    ss_free(st);
}
