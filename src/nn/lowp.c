/* lowp.c: bf16 and int8 matrix products through oneDNN (see lowp.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/fastmath.h"
#include "nn/layers.h"
#include "nn/lowp.h"

#define PAR_MIN 8192

#define VCHUNK 4096

SS_VEC static void bf16_range(const uint32_t *restrict u, uint16_t *restrict dst, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        /* NaN: keep it a (quiet) NaN; else round to nearest, ties to even */
        uint32_t x = u[i];
        uint32_t r = (x & 0x7fffffffu) > 0x7f800000u ? (x | 0x00400000u) : x + 0x7fffu + ((x >> 16) & 1u);
        dst[i] = (uint16_t)(r >> 16);
    }
}

void ss__f32_to_bf16_n(const float *src, uint16_t *dst, size_t n)
{
    const uint32_t *u = (const uint32_t *)(const void *)src; /* the bits of the floats */
    long nc = (long)((n + VCHUNK - 1) / VCHUNK);
#pragma omp parallel for schedule(static) if (n >= 4 * PAR_MIN)
    for (long k = 0; k < nc; k++) {
        size_t i = (size_t)k * VCHUNK;
        bf16_range(u + i, dst + i, SS_MIN((size_t)VCHUNK, n - i));
    }
}

/* 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below
 * 2^22 to an integer, nearest even, in two vectorizable instructions */
#define ROUND_MAGIC 12582912.0f

SS_VEC static void quant_row(int8_t *restrict o, float *scale, const float *restrict r, int C)
{
    float mx = 0.0f;
#pragma omp simd reduction(max : mx)
    for (int c = 0; c < C; c++) {
        float a = fabsf(r[c]); /* not fmaxf: a libm call */
        mx = a > mx ? a : mx;
    }
    float inv = mx > 0.0f ? SS__Q8_MAX / mx : 0.0f;
    *scale = mx / SS__Q8_MAX;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = (int8_t)(int)((r[c] * inv + ROUND_MAGIC) - ROUND_MAGIC);
}

void ss__quant_rows_dynamic(int8_t *q, float *scale, const float *x, int N, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PAR_MIN)
    for (int n = 0; n < N; n++) quant_row(q + (size_t)n * C, scale + n, x + (size_t)n * C, C);
}

#ifndef HAVE_DNNL

int ss__lowp_supported(int prec) { return prec == SS_MATMUL_F32; }
const char *ss__lowp_isa(void) { return "none (built without oneDNN)"; }
int ss__lowp_new(ss__lowp **out)
{
    *out = NULL;
    return SS_OK;
}
void ss__lowp_free(ss__lowp *lp) { (void)lp; }
static int no_dnnl(void) { return ss__fail(SS_ERR, "this semsearch was built without oneDNN: no bf16 or int8 products"); }
int ss__lowp_matmul_bf16(ss__lowp *lp, float *out, const float *inp, const float *w, const float *bias, int N,
                         int IC, int OC)
{
    return no_dnnl();
}
int ss__lowp_matmul_bf16_backward(ss__lowp *lp, float *dinp, float *dw, float *dbias, const float *dout,
                                  const float *inp, const float *w, int N, int IC, int OC)
{
    return no_dnnl();
}
int ss__lowp_matmul_q8(ss__lowp *lp, float *out, const float *inp, const ss__q8 *q, const float *bias, int N,
                       int IC, int OC)
{
    return no_dnnl();
}

#else

#include <oneapi/dnnl/dnnl.h>

/* ------------------------------------------------------------ dispatch */

static int isa_bits = -1; /* oneDNN's effective ISA; 0 when forced off */

static void detect(void)
{
    if (isa_bits >= 0) return;
    const char *e = getenv("SEMSEARCH_ISA"); /* as in store/search.c; f32 = no low precision */
    if (e && (!strcmp(e, "f32") || !strcmp(e, "scalar") || !strcmp(e, "avx2"))) isa_bits = 0;
    else isa_bits = (int)dnnl_get_effective_cpu_isa();
}

static int has(int bits) { return (isa_bits & bits) == bits; }

int ss__lowp_supported(int prec)
{
    detect();
    switch (prec) {
    case SS_MATMUL_F32: return 1;
    case SS_MATMUL_BF16: return isa_bits && has(dnnl_cpu_isa_avx512_core_bf16);
    case SS_MATMUL_INT8: return isa_bits && (has(dnnl_cpu_isa_avx512_core_vnni) || has(dnnl_cpu_isa_avx2_vnni));
    default: return 0;
    }
}

const char *ss__lowp_isa(void)
{
    detect();
    if (!isa_bits) return "f32 (forced by SEMSEARCH_ISA)";
    if (has(dnnl_cpu_isa_avx512_core_amx)) return "avx512_core_amx";
    if (has(dnnl_cpu_isa_avx512_core_bf16)) return "avx512_core_bf16";
    if (has(dnnl_cpu_isa_avx512_core_vnni)) return "avx512_core_vnni";
    if (has(dnnl_cpu_isa_avx2_vnni)) return "avx2_vnni";
    if (has(dnnl_cpu_isa_avx512_core)) return "avx512_core";
    if (has(dnnl_cpu_isa_avx2)) return "avx2";
    return "older than avx2";
}

/* ------------------------------------------------------------ the context */

/* One matrix product C (M,N) [+]= A (M,K) B (K,N) of fixed types and
 * layouts: a primitive per shape, kept in a small LRU cache. */
enum { MM_BF16_FWD, MM_BF16_DX, MM_BF16_DW, MM_Q8 };
#define CACHE 128

/* Rows padded up to a bucket (zero rows in our converted copies): batches
 * of any token count then share a few dozen primitives, since creating
 * one costs about as much as a product of 1000 rows. 8 buckets per octave:
 * at most 1/8 more work, 1/16 on average. */
static int64_t bucket(int64_t n)
{
    int64_t g = 16;
    while (g * 16 <= n) g *= 2;
    return (n + g - 1) / g * g;
}

typedef struct mm_entry {
    int kind;
    int64_t M, K, N;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a, b, c, bias;
    uint64_t used;
} mm_entry;

struct ss__lowp {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    mm_entry cache[CACHE];
    uint64_t clock;
    void *buf[4]; /* scratch: converted A, converted B, int32 out, row scales */
    size_t cap[4];
};

static int dnnl_fail(dnnl_status_t s, const char *what)
{
    return ss__fail(s == dnnl_out_of_memory ? SS_ERR_NOMEM : SS_ERR, "oneDNN: %s failed (status %d)", what, (int)s);
}

int ss__lowp_new(ss__lowp **out)
{
    *out = NULL;
    ss__lowp *lp = ss__calloc(1, sizeof *lp);
    if (!lp) return ss__fail(SS_ERR_NOMEM, "out of memory");
    dnnl_status_t s = dnnl_engine_create(&lp->eng, dnnl_cpu, 0);
    if (s == dnnl_success) {
        s = dnnl_stream_create(&lp->st, lp->eng, dnnl_stream_default_flags);
        if (s != dnnl_success) dnnl_engine_destroy(lp->eng);
    }
    if (s != dnnl_success) {
        ss_free(lp);
        return dnnl_fail(s, "creating the CPU engine");
    }
    *out = lp;
    return SS_OK;
}

void ss__lowp_free(ss__lowp *lp)
{
    if (!lp) return;
    for (int i = 0; i < CACHE; i++)
        if (lp->cache[i].prim) dnnl_primitive_destroy(lp->cache[i].prim);
    for (int i = 0; i < 4; i++) ss_free(lp->buf[i]);
    dnnl_stream_destroy(lp->st);
    dnnl_engine_destroy(lp->eng);
    ss_free(lp);
}

static void *scratch(ss__lowp *lp, int i, size_t bytes)
{
    if (bytes > lp->cap[i]) {
        ss_free(lp->buf[i]);
        size_t cap = bytes + bytes / 4;
        lp->buf[i] = ss__malloc(cap);
        lp->cap[i] = lp->buf[i] ? cap : 0;
        if (!lp->buf[i]) ss__fail(SS_ERR_NOMEM, "out of memory for %zu bytes of scratch", bytes);
    }
    return lp->buf[i];
}

static int md(dnnl_memory_desc_t *d, int64_t r, int64_t c, dnnl_data_type_t t, int64_t sr, int64_t sc)
{
    dnnl_dims_t dims = {r, c}, strides = {sr, sc};
    dnnl_status_t s = dnnl_memory_desc_init_by_strides(d, 2, dims, t, strides);
    return s == dnnl_success ? SS_OK : dnnl_fail(s, "a memory descriptor");
}

/* The primitive of kind for (M,K,N), created on first use. Layouts:
 *   BF16_FWD: A = x (M,K) bf16, B = w^T (w (N,K) row-major), C f32, bias (N)
 *   BF16_DX:  A = dy (M,K) bf16, B = w (K,N) row-major, C f32
 *   BF16_DW:  A = dy^T (dy (K,M) row-major), B = x (K,N), C f32 +=
 *   Q8:       A = x (M,K) s8, B = q^T (q (N,K) row-major) s8, C s32 */
static int get(ss__lowp *lp, int kind, int64_t M, int64_t K, int64_t N, mm_entry **out)
{
    mm_entry *lru = &lp->cache[0];
    for (int i = 0; i < CACHE; i++) {
        mm_entry *e = &lp->cache[i];
        if (e->prim && e->kind == kind && e->M == M && e->K == K && e->N == N) {
            e->used = ++lp->clock;
            *out = e;
            return SS_OK;
        }
        if (!e->prim || (lru->prim && e->used < lru->used)) lru = e;
    }
    if (lru->prim) dnnl_primitive_destroy(lru->prim);
    memset(lru, 0, sizeof *lru);
    mm_entry e = {kind, M, K, N, NULL, {0}, {0}, {0}, {0}, 0};
    dnnl_data_type_t in = kind == MM_Q8 ? dnnl_s8 : dnnl_bf16, acc = kind == MM_Q8 ? dnnl_s32 : dnnl_f32;
    int rc;
    if (kind == MM_BF16_DW) rc = md(&e.a, M, K, in, 1, M);
    else rc = md(&e.a, M, K, in, K, 1);
    if (!rc) rc = kind == MM_BF16_FWD || kind == MM_Q8 ? md(&e.b, K, N, in, 1, K) : md(&e.b, K, N, in, N, 1);
    if (!rc) rc = md(&e.c, M, N, acc, N, 1);
    if (!rc && kind == MM_BF16_FWD) rc = md(&e.bias, 1, N, dnnl_f32, N, 1);
    if (rc) return rc;
    dnnl_matmul_desc_t d;
    dnnl_status_t s = dnnl_matmul_desc_init(&d, &e.a, &e.b, kind == MM_BF16_FWD ? &e.bias : NULL, &e.c);
    if (s != dnnl_success) return dnnl_fail(s, "a matmul descriptor");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (kind == MM_BF16_DW) { /* C += A B */
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &d, attr, lp->eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&e.prim, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return dnnl_fail(s, "creating a matmul primitive");
    e.used = ++lp->clock;
    *lru = e;
    *out = lru;
    return SS_OK;
}

/* Runs e on a, b, c (and bias) in host memory. */
static int run(ss__lowp *lp, const mm_entry *e, const void *a, const void *b, void *c, const float *bias)
{
    dnnl_memory_t m[4] = {NULL, NULL, NULL, NULL};
    dnnl_status_t s = dnnl_memory_create(&m[0], &e->a, lp->eng, (void *)a);
    if (s == dnnl_success) s = dnnl_memory_create(&m[1], &e->b, lp->eng, (void *)b);
    if (s == dnnl_success) s = dnnl_memory_create(&m[2], &e->c, lp->eng, c);
    if (s == dnnl_success && bias) s = dnnl_memory_create(&m[3], &e->bias, lp->eng, (void *)bias);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_DST, m[2]},
                                   {DNNL_ARG_BIAS, m[3]}};
        s = dnnl_primitive_execute(e->prim, lp->st, bias ? 4 : 3, args);
        if (s == dnnl_success) s = dnnl_stream_wait(lp->st);
    }
    for (int i = 0; i < 4; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    return s == dnnl_success ? SS_OK : dnnl_fail(s, "a matmul");
}

/* o = a * (s * ws) + bias */
SS_VEC static void dequant_row(float *restrict o, const int32_t *restrict a, float s, const float *restrict ws,
                               const float *restrict bias, int OC)
{
    if (bias) {
#pragma omp simd
        for (int j = 0; j < OC; j++) o[j] = (float)a[j] * (s * ws[j]) + bias[j];
    } else {
#pragma omp simd
        for (int j = 0; j < OC; j++) o[j] = (float)a[j] * (s * ws[j]);
    }
}

/* ------------------------------------------------------------ products */

/* rows (n, cols) of src in bf16 into dst, zero rows up to np */
static void to_bf16_padded(uint16_t *dst, const float *src, size_t n, size_t np, size_t cols)
{
    ss__f32_to_bf16_n(src, dst, n * cols);
    memset(dst + n * cols, 0, (np - n) * cols * sizeof *dst);
}

int ss__lowp_matmul_bf16(ss__lowp *lp, float *out, const float *inp, const float *w, const float *bias, int N,
                         int IC, int OC)
{
    if (N == 0) return SS_OK;
    size_t Np = (size_t)bucket(N), nw = (size_t)OC * IC;
    uint16_t *xb = scratch(lp, 0, Np * IC * 2), *wb = scratch(lp, 1, nw * 2);
    float *ob = scratch(lp, 2, Np * OC * sizeof(float));
    float *zb = bias ? NULL : scratch(lp, 3, (size_t)OC * sizeof(float));
    if (!xb || !wb || !ob || (!bias && !zb)) return SS_ERR_NOMEM;
    mm_entry *e;
    int rc = get(lp, MM_BF16_FWD, (int64_t)Np, IC, OC, &e);
    if (rc) return rc;
    to_bf16_padded(xb, inp, (size_t)N, Np, (size_t)IC);
    ss__f32_to_bf16_n(w, wb, nw);
    /* the primitive adds a bias: a zero one without (every layer has one) */
    if (!bias) memset(zb, 0, (size_t)OC * sizeof(float));
    if ((rc = run(lp, e, xb, wb, ob, bias ? bias : zb))) return rc;
    memcpy(out, ob, (size_t)N * OC * sizeof(float));
    return SS_OK;
}

int ss__lowp_matmul_bf16_backward(ss__lowp *lp, float *dinp, float *dw, float *dbias, const float *dout,
                                  const float *inp, const float *w, int N, int IC, int OC)
{
    if (N == 0) return SS_OK;
    size_t Np = (size_t)bucket(N), nw = (size_t)OC * IC;
    uint16_t *yb = scratch(lp, 0, Np * OC * 2), *xb = scratch(lp, 1, SS_MAX(Np * IC, nw) * 2);
    float *ob = dinp ? scratch(lp, 2, Np * IC * sizeof(float)) : NULL;
    if (!yb || !xb || (dinp && !ob)) return SS_ERR_NOMEM;
    to_bf16_padded(yb, dout, (size_t)N, Np, (size_t)OC);
    mm_entry *e;
    int rc;
    if (dinp) { /* dinp (N,IC) = dout (N,OC) w (OC,IC) */
        if ((rc = get(lp, MM_BF16_DX, (int64_t)Np, OC, IC, &e))) return rc;
        ss__f32_to_bf16_n(w, xb, nw);
        if ((rc = run(lp, e, yb, xb, ob, NULL))) return rc;
        memcpy(dinp, ob, (size_t)N * IC * sizeof(float));
    }
    /* dw (OC,IC) += dout^T (OC,N) inp (N,IC); the zero rows add nothing */
    if ((rc = get(lp, MM_BF16_DW, OC, (int64_t)Np, IC, &e))) return rc;
    to_bf16_padded(xb, inp, (size_t)N, Np, (size_t)IC);
    if ((rc = run(lp, e, yb, xb, dw, NULL))) return rc;
    if (dbias) ss__bias_backward(dbias, dout, N, OC);
    return SS_OK;
}

int ss__lowp_matmul_q8(ss__lowp *lp, float *out, const float *inp, const ss__q8 *q, const float *bias, int N,
                       int IC, int OC)
{
    if (N == 0) return SS_OK;
    if (q->rows != (size_t)OC || q->cols != (size_t)IC)
        return ss__fail(SS_ERR, "int8 matrix of %zu x %zu used as %d x %d", q->rows, q->cols, OC, IC);
    size_t Np = (size_t)bucket(N);
    int8_t *xq = scratch(lp, 0, Np * IC);
    int32_t *acc = scratch(lp, 2, Np * OC * sizeof(int32_t));
    float *xs = scratch(lp, 3, (size_t)N * sizeof(float));
    if (!xq || !acc || !xs) return SS_ERR_NOMEM;
    mm_entry *e;
    int rc = get(lp, MM_Q8, (int64_t)Np, IC, OC, &e);
    if (rc) return rc;
    ss__quant_rows_dynamic(xq, xs, inp, N, IC);
    memset(xq + (size_t)N * IC, 0, (Np - (size_t)N) * IC);
    if ((rc = run(lp, e, xq, q->q, acc, NULL))) return rc;
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= PAR_MIN)
    for (int n = 0; n < N; n++)
        dequant_row(out + (size_t)n * OC, acc + (size_t)n * OC, xs[n], q->scale, bias, OC);
    return SS_OK;
}

#endif
