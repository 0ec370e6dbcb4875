/* lowp.c: the int8 format (quant.c) and the bf16/int8 matrix products
 * (lowp.c) against the double-precision reference (layers_ref.c), and the
 * whole encoder in bf16 and int8 against itself in f32, forward and (bf16)
 * backward. Tolerances are normwise, max|x - ref| / max|ref|, set from the
 * formats (bf16 keeps 8 significant bits: 2^-9 relative per rounding; int8
 * 1/254 of each row's range) with a margin of about 3 over the errors
 * measured on these shapes:
 *   bf16 products           1.5e-2 (measured <= 5.3e-3)
 *   int8 products           3e-2   (measured <= 9.9e-3)
 *   encoder embeddings      cosine >= 0.9999 (bf16), 0.999 (int8)
 *   bf16 gradients vs f32   2e-2   (measured 6e-3; the gradient check of bf16 training; the
 *                           f32 gradients are checked by finite differences
 *                           in gradcheck.c) */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/rng.h"
#include "layers_ref.h"
#include "nn/encoder.h"
#include "nn/layers.h"
#include "nn/lowp.h"
#include "nn/model.h"
#include "nn/quant.h"
#include "tap.h"

static uint64_t rng[4];

static double *randv(size_t n, double sd)
{
    double *x = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * ss__rng_normal(rng));
    return x;
}
static float *tof(const double *x, size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

static double relerr(const float *f, const double *r, size_t n)
{
    double m = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(f[i])) return INFINITY;
        m = fmax(m, fabs(r[i]));
        e = fmax(e, fabs((double)f[i] - r[i]));
    }
    return m > 0 ? e / m : e;
}

static int check(const char *what, const float *f, const double *r, size_t n, double tol)
{
    double e = relerr(f, r, n);
    return tap_ok(e <= tol, "%s (err %.2e, tolerance %.0e)", what, e, tol);
}

static uint16_t bf16_of(float f)
{
    uint16_t h;
    ss__f32_to_bf16_n(&f, &h, 1);
    return h;
}

/* the int8 token table lookup gives the bits of the dequantized table's */
static void test_embedding_q8(void)
{
    int V = 50, C = 24, L = 10, N = 37;
    double *w = randv((size_t)V * C, 0.5), *pe = randv((size_t)L * C, 0.1);
    float *fw = tof(w, (size_t)V * C), *fpe = tof(pe, (size_t)L * C), *scale = malloc(sizeof(float) * V);
    int8_t *q = malloc((size_t)V * C);
    ss__q8_quantize(q, scale, fw, (size_t)V, (size_t)C);
    ss__q8_dequantize(fw, q, scale, (size_t)V, (size_t)C);
    int32_t ids[37], pos[37];
    for (int n = 0; n < N; n++) ids[n] = (int32_t)(ss__rng_next(rng) % (uint64_t)V), pos[n] = n % L;
    float *a = malloc(sizeof(float) * N * C), *b = malloc(sizeof(float) * N * C);
    for (int drop = 0; drop < 2; drop++) {
        ss__embedding_forward(a, ids, pos, fw, fpe, N, C, drop ? 0.3f : 0.0f, 99);
        ss__embedding_forward_q8(b, ids, pos, q, scale, fpe, N, C, drop ? 0.3f : 0.0f, 99);
        tap_ok(!memcmp(a, b, sizeof(float) * N * C), "int8 token table: the same bits as the dequantized table%s",
               drop ? " (with dropout)" : "");
    }
    free(w), free(pe), free(fw), free(fpe), free(scale), free(q), free(a), free(b);
}

static void test_bf16_rounding(void)
{
    tap_ok(bf16_of(1.0f) == 0x3f80, "bf16: 1.0 is 0x3f80");
    tap_ok(bf16_of(1.0f + 0x1p-8f) == 0x3f80, "bf16: a tie rounds to even (down)");
    tap_ok(bf16_of(1.0f + 3 * 0x1p-8f) == 0x3f82, "bf16: a tie rounds to even (up)");
    tap_ok(bf16_of(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81, "bf16: above a tie rounds up");
    tap_ok(bf16_of(-2.0f) == 0xc000, "bf16: the sign is kept");
    tap_ok(bf16_of(INFINITY) == 0x7f80, "bf16: inf stays inf");
    uint16_t n = bf16_of(NAN);
    tap_ok((n & 0x7f80) == 0x7f80 && (n & 0x7f), "bf16: NaN stays NaN");
}

static void test_q8(void)
{
    size_t R = 37, Cc = 53;
    double *w = randv(R * Cc, 0.3);
    float *fw = tof(w, R * Cc), *back = malloc(sizeof(float) * R * Cc), *scale = malloc(sizeof(float) * R);
    for (size_t c = 0; c < Cc; c++) fw[5 * Cc + c] = 0.0f; /* a zero row */
    int8_t *q = malloc(R * Cc), *q2 = malloc(R * Cc);
    float *scale2 = malloc(sizeof(float) * R);
    ss__q8_quantize(q, scale, fw, R, Cc);
    ss__q8_dequantize(back, q, scale, R, Cc);
    int within = 1, has127 = 1, no128 = 1;
    for (size_t r = 0; r < R; r++) {
        int mx = 0;
        for (size_t c = 0; c < Cc; c++) {
            within &= fabsf(back[r * Cc + c] - fw[r * Cc + c]) <= 0.5001f * scale[r];
            mx = abs(q[r * Cc + c]) > mx ? abs(q[r * Cc + c]) : mx;
            no128 &= q[r * Cc + c] != -128;
        }
        if (r != 5) has127 &= mx == 127;
    }
    tap_ok(within, "q8: every weight within half a step of its row's scale");
    tap_ok(has127 && no128, "q8: each row's largest weight is +-127, -128 never appears");
    tap_ok(scale[5] == 0.0f && q[5 * Cc] == 0, "q8: a zero row has scale 0");
    ss__q8_quantize(q2, scale2, back, R, Cc);
    tap_ok(!memcmp(q, q2, R * Cc) && !memcmp(scale, scale2, R * sizeof(float)),
           "q8: quantizing the dequantized matrix gives the same bytes");
    free(w), free(fw), free(back), free(scale), free(q), free(q2), free(scale2);
}

/* out = inp w^T + b: bf16 and int8 against the reference; bf16 backward too */
static void test_matmul(ss__lowp *lp, int N, int IC, int OC)
{
    double *x = randv((size_t)N * IC, 1), *w = randv((size_t)OC * IC, 0.1), *b = randv((size_t)OC, 0.1);
    double *ref = malloc(sizeof(double) * N * OC);
    ss__ref_matmul_forward(ref, x, w, b, N, IC, OC);
    float *fx = tof(x, (size_t)N * IC), *fw = tof(w, (size_t)OC * IC), *fb = tof(b, (size_t)OC);
    float *out = malloc(sizeof(float) * N * OC);
    char what[128];
    if (ss__lowp_supported(SS_MATMUL_BF16)) {
        int rc = ss__lowp_matmul_bf16(lp, out, fx, fw, fb, N, IC, OC);
        snprintf(what, sizeof what, "bf16 matmul %dx%dx%d", N, IC, OC);
        if (!rc) check(what, out, ref, (size_t)N * OC, 1.5e-2);
        else tap_ok(0, "%s: %s", what, ss_errmsg());
        /* backward: dinp =, dw +=, dbias += */
        double *d = randv((size_t)N * OC, 1), *dx = calloc((size_t)N * IC, sizeof(double));
        double *dw = randv((size_t)OC * IC, 1), *db = randv((size_t)OC, 1);
        float *fdw = tof(dw, (size_t)OC * IC), *fdb = tof(db, (size_t)OC), *fdx = malloc(sizeof(float) * N * IC);
        float *fd = tof(d, (size_t)N * OC);
        ss__ref_matmul_backward(dx, dw, db, d, x, w, N, IC, OC);
        rc = ss__lowp_matmul_bf16_backward(lp, fdx, fdw, fdb, fd, fx, fw, N, IC, OC);
        snprintf(what, sizeof what, "bf16 matmul backward %dx%dx%d", N, IC, OC);
        if (!rc) {
            char w2[160];
            snprintf(w2, sizeof w2, "%s: dinp", what);
            check(w2, fdx, dx, (size_t)N * IC, 1.5e-2);
            snprintf(w2, sizeof w2, "%s: dw (accumulated)", what);
            check(w2, fdw, dw, (size_t)OC * IC, 1.5e-2);
            snprintf(w2, sizeof w2, "%s: dbias (f32)", what);
            check(w2, fdb, db, (size_t)OC, 1e-5);
        } else {
            tap_ok(0, "%s: %s", what, ss_errmsg());
        }
        free(d), free(dx), free(dw), free(db), free(fdw), free(fdb), free(fdx), free(fd);
    } else {
        printf("ok %d # SKIP bf16 matmul %dx%dx%d: no AVX-512 BF16 or no oneDNN\n", ++tap_n, N, IC, OC);
    }
    if (ss__lowp_supported(SS_MATMUL_INT8)) {
        ss__q8 q;
        int rc = ss__q8_from_f32(&q, fw, (size_t)OC, (size_t)IC);
        if (!rc) rc = ss__lowp_matmul_q8(lp, out, fx, &q, fb, N, IC, OC);
        snprintf(what, sizeof what, "int8 matmul %dx%dx%d", N, IC, OC);
        if (!rc) check(what, out, ref, (size_t)N * OC, 3e-2);
        else tap_ok(0, "%s: %s", what, ss_errmsg());
        ss__q8_clear(&q);
    } else {
        printf("ok %d # SKIP int8 matmul %dx%dx%d: no VNNI or no oneDNN\n", ++tap_n, N, IC, OC);
    }
    free(x), free(w), free(b), free(ref), free(fx), free(fw), free(fb), free(out);
}

static double min_cos(const float *a, const float *b, int B, int C)
{
    double m = 1;
    for (int i = 0; i < B; i++) {
        double d = 0, na = 0, nb = 0;
        for (int j = 0; j < C; j++) {
            d += (double)a[i * C + j] * b[i * C + j];
            na += (double)a[i * C + j] * a[i * C + j];
            nb += (double)b[i * C + j] * b[i * C + j];
        }
        m = fmin(m, d / sqrt(na * nb + 1e-30));
    }
    return m;
}

/* The encoder in bf16/int8 against itself in f32: embeddings, and for bf16
 * the parameter gradients of a training step. */
static void test_encoder(void)
{
    ss_config c;
    ss_config_init(&c);
    c.vocab_size = 300, c.max_len = 40, c.d_model = 64, c.n_heads = 4, c.d_ff = 128, c.n_layers = 2;
    c.dropout = 0;
    int B = 6, T = 24;
    ss_batch b = {.B = B, .T = T};
    b.ids = malloc(sizeof(int32_t) * B * T);
    b.mask = malloc((size_t)B * T);
    for (int i = 0; i < B * T; i++) {
        b.ids[i] = (int32_t)(ss__rng_next(rng) % 300);
        b.mask[i] = i % T < 5 + 3 * (i / T); /* lengths 5 .. 20 */
    }
    ss_model *m;
    int rc = ss__model_alloc(&c, NULL, &m);
    if (!rc) {
        ss__model_init_params(m, 3);
        for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.05f * (float)ss__rng_normal(rng);
        rc = ss__model_quantize(m);
    }
    size_t n = m ? m->n_params : 0, bc = (size_t)B * c.d_model;
    float *y32 = malloc(sizeof(float) * bc), *g32 = calloc(n, sizeof(float)), *g16 = calloc(n, sizeof(float));
    float *dy = malloc(sizeof(float) * bc);
    for (size_t i = 0; i < bc; i++) dy[i] = (float)ss__rng_normal(rng);
    ss__encoder *e = NULL;
    const float *y;
    if (!rc) rc = ss__encoder_new(&e);
    if (!rc) rc = ss__encoder_forward(e, &c, m->params, &b, 1, 0.0f, 0, &y);
    if (!rc) memcpy(y32, y, sizeof(float) * bc);
    if (!rc) rc = ss__encoder_backward(e, &c, m->params, dy, g32);
    if (!tap_ok(!rc, "encoder in f32")) tap_diag("%s", ss_errmsg());
    if (!rc && ss__lowp_supported(SS_MATMUL_BF16)) {
        rc = ss__encoder_set_precision(e, SS_MATMUL_BF16, NULL);
        if (!rc) rc = ss__encoder_forward(e, &c, m->params, &b, 1, 0.0f, 0, &y);
        double cs = rc ? 0 : min_cos(y, y32, B, c.d_model);
        tap_ok(!rc && cs >= 0.9999, "encoder in bf16: embeddings agree with f32 (min cosine %.6f)", cs);
        if (!rc) rc = ss__encoder_backward(e, &c, m->params, dy, g16);
        double *gd = malloc(sizeof(double) * n);
        for (size_t i = 0; i < n; i++) gd[i] = g32[i];
        if (!rc) check("encoder in bf16: parameter gradients agree with f32", g16, gd, n, 2e-2);
        else tap_ok(0, "encoder bf16 backward: %s", ss_errmsg());
        free(gd);
    } else {
        printf("ok %d # SKIP encoder in bf16: not supported here\n", ++tap_n);
    }
    if (!rc && ss__lowp_supported(SS_MATMUL_INT8)) {
        rc = ss__encoder_set_precision(e, SS_MATMUL_INT8, m->q8);
        if (!rc) rc = ss__encoder_forward(e, &c, m->params, &b, 0, 0.0f, 0, &y);
        double cs = rc ? 0 : min_cos(y, y32, B, c.d_model);
        tap_ok(!rc && cs >= 0.999, "encoder in int8: embeddings agree with f32 (min cosine %.6f)", cs);
    } else {
        printf("ok %d # SKIP encoder in int8: not supported here\n", ++tap_n);
    }
    /* a thread's default precision reaches the encoders created after it */
    ss__encoder *e2 = NULL;
    ss__encoder_default_precision(SS_MATMUL_BF16);
    rc = ss__encoder_new(&e2);
    ss__encoder_default_precision(SS_MATMUL_F32);
    if (!rc) rc = ss__encoder_forward(e2, &c, m->params, &b, 0, 0.0f, 0, &y);
    if (!rc) {
        int same = !memcmp(y, y32, sizeof(float) * bc);
        tap_ok(ss__lowp_supported(SS_MATMUL_BF16) ? !same : same,
               "an encoder made under the bf16 default computes in bf16 (where supported)");
    } else {
        tap_ok(0, "encoder under the bf16 default: %s", ss_errmsg());
    }
    ss__encoder_free(e2);
    ss__encoder_free(e);
    ss_model_free(m);
    free(y32), free(g32), free(g16), free(dy), free(b.ids), free(b.mask);
}

int main(void)
{
    ss_set_threads(2);
    ss__rng_seed(rng, 11);
    tap_diag("oneDNN ISA: %s; bf16 %s, int8 %s", ss__lowp_isa(), ss__lowp_supported(SS_MATMUL_BF16) ? "yes" : "no",
             ss__lowp_supported(SS_MATMUL_INT8) ? "yes" : "no");
    test_bf16_rounding();
    test_q8();
    test_embedding_q8();
    ss__lowp *lp = NULL;
    if (ss__lowp_new(&lp)) {
        tap_ok(0, "oneDNN context: %s", ss_errmsg());
        return tap_done();
    }
    static const int shapes[][3] = {{1, 5, 3}, {7, 64, 96}, {130, 257, 33}, {300, 128, 512}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) test_matmul(lp, shapes[i][0], shapes[i][1], shapes[i][2]);
    /* the primitive cache: 30 shapes twice, more than it holds, each result
     * against the reference */
    int bad = 0;
    for (int k = 0; k < 2 && ss__lowp_supported(SS_MATMUL_INT8); k++)
        for (int N = 1; N <= 30; N++) {
            double *x = randv((size_t)N * 16, 1), *w = randv(8 * 16, 1), *ref = malloc(sizeof(double) * N * 8);
            float *fx = tof(x, (size_t)N * 16), *fw = tof(w, 8 * 16), *out = malloc(sizeof(float) * N * 8);
            ss__ref_matmul_forward(ref, x, w, NULL, N, 16, 8);
            ss__q8 q;
            int rc = ss__q8_from_f32(&q, fw, 8, 16);
            if (!rc) rc = ss__lowp_matmul_q8(lp, out, fx, &q, NULL, N, 16, 8);
            bad += rc || relerr(out, ref, (size_t)N * 8) > 3e-2;
            ss__q8_clear(&q);
            free(x), free(w), free(ref), free(fx), free(fw), free(out);
        }
    if (ss__lowp_supported(SS_MATMUL_INT8))
        tap_ok(!bad, "60 int8 products of 30 shapes through the primitive cache (%d wrong)", bad);
    else
        printf("ok %d # SKIP the primitive cache: no VNNI or no oneDNN\n", ++tap_n);
    ss__lowp_free(lp);
    test_encoder();
    return tap_done();
}
