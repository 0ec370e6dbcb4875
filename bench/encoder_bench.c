/* encoder_bench.c: throughput of the semsearch encoder (see bench/encoder.sh).
 *
 *   encoder_bench peak                 sgemm GFLOP/s on a large product
 *   encoder_bench train  B T SECONDS [PREC]  training steps (B pairs of length T)
 *   encoder_bench infer  B T SECONDS [PREC]  inference batches (B sentences of length T)
 *
 * PREC: the matrix products in f32 (default), bf16 or int8 (inference only;
 * the weights quantized per output channel as `model convert --int8` does).
 *
 * The model is the default configuration (d_model 256, 4 layers, 4 heads,
 * FFN 1024, vocabulary 16000) with random weights and random token ids, so
 * that no tokenizer runs. Prints one line of key=value pairs; the FLOP
 * count is that of the matrix products (forward; training = 3x forward). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/lowp.h"
#include "nn/model.h"
#include "base/rng.h"
#include "train/train_step.h"

/* libgomp reads OMP_WAIT_POLICY when it loads, before main(). Its default
 * (workers spin after every parallel region) starves OpenBLAS's own worker
 * threads when both share a small machine: training with 2 threads then
 * runs slower than with 1. Unless the user chose a policy, re-execute once
 * with a passive one (see docs/benchmarks.md). */
static void passive_wait(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the default policy */
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* matrix-product FLOPs of one forward over B sequences of T tokens */
static double forward_flops(const ss_config *c, int B, int T)
{
    double C = c->d_model, F = c->d_ff, tok = (double)B * T;
    double per_tok = 2 * (3 * C * C + C * C + 2 * C * F) + 4.0 * T * C;
    return tok * per_tok * c->n_layers;
}

static void random_batch(ss_batch *b, int B, int T, int V, uint64_t s[4])
{
    b->B = B, b->T = T;
    b->ids = malloc(sizeof(int32_t) * B * T);
    b->mask = malloc((size_t)B * T);
    b->lengths = malloc(sizeof(int) * B);
    for (int i = 0; i < B * T; i++) {
        b->ids[i] = (int32_t)(4 + ss__rng_next(s) % (uint64_t)(V - 4));
        b->mask[i] = 1;
    }
    for (int i = 0; i < B; i++) b->lengths[i] = T;
}

static int peak(void)
{
    int M = 2048, N = 1024, K = 1024;
    float *A = malloc(sizeof(float) * M * K), *Bm = malloc(sizeof(float) * N * K);
    float *Cm = malloc(sizeof(float) * M * N);
    for (long i = 0; i < (long)M * K; i++) A[i] = (float)(i % 17) * 0.01f;
    for (long i = 0; i < (long)N * K; i++) Bm[i] = (float)(i % 13) * 0.01f;
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, Bm, K, 0, Cm, N);
        double dt = now() - t;
        double g = 2.0 * M * N * K / dt / 1e9;
        if (g > best) best = g;
    }
    printf("side=semsearch what=peak threads=%d gflops=%.1f\n", ss_get_threads(), best);
    free(A), free(Bm), free(Cm);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: encoder_bench peak | train B T SECONDS [PREC] | infer B T SECONDS [PREC]\n");
        return 2;
    }
    passive_wait(argv);
    ss__threads_init();
    if (!strcmp(argv[1], "peak")) return peak();
    if (argc < 5) return 2;
    int B = atoi(argv[2]), T = atoi(argv[3]);
    double secs = atof(argv[4]);
    ss_config c;
    ss_config_init(&c);
    c.vocab_size = 16000;
    ss_model *m;
    if (ss__model_alloc(&c, NULL, &m)) {
        fprintf(stderr, "%s\n", ss_errmsg());
        return 1;
    }
    ss__model_init_params(m, 1);
    int prec = argc > 5 ? ss_precision_kind(argv[5]) : SS_MATMUL_F32;
    if (prec < 0 || (prec == SS_MATMUL_INT8 && !strcmp(argv[1], "train"))) {
        fprintf(stderr, "encoder_bench: precision '%s': f32 or bf16 (train), f32, bf16 or int8 (infer)\n", argv[5]);
        return 2;
    }
    if (!ss__lowp_supported(prec)) {
        fprintf(stderr, "encoder_bench: %s is not supported here (oneDNN ISA: %s)\n", argv[5], ss__lowp_isa());
        return 1;
    }
    uint64_t s[4];
    ss__rng_seed(s, 3);
    int rc = 0, iters = 0;
    double t0, dt, items, flops;
    if (!strcmp(argv[1], "train")) {
        ss_batch a, b;
        random_batch(&a, B, T, c.vocab_size, s);
        random_batch(&b, B, T, c.vocab_size, s);
        ss__trainer *tr;
        ss__step_opts o;
        ss__step_opts_init(&o);
        float loss, gn;
        ss__encoder_default_precision(prec); /* what ss_train_run does */
        rc = ss__trainer_new(m, 1, &tr);
        if (!rc) rc = ss__trainer_step(tr, &a, &b, &o, &loss, &gn); /* warm up */
        t0 = now();
        while (!rc && (iters < 2 || now() - t0 < secs)) {
            rc = ss__trainer_step(tr, &a, &b, &o, &loss, &gn);
            iters++;
        }
        dt = now() - t0;
        items = (double)iters * B;
        flops = 3 * 2 * forward_flops(&c, B, T) * iters;
        ss__trainer_free(tr);
        ss_batch_free(&a), ss_batch_free(&b);
    } else {
        ss_batch a;
        random_batch(&a, B, T, c.vocab_size, s);
        ss__encoder *e;
        const float *y;
        rc = ss__encoder_new(&e);
        if (!rc && prec == SS_MATMUL_INT8) rc = ss__model_quantize(m);
        if (!rc) rc = ss__encoder_set_precision(e, prec, m->q8);
        if (!rc) rc = ss__encoder_forward(e, &c, m->params, &a, 0, 0, 0, &y);
        t0 = now();
        while (!rc && (iters < 2 || now() - t0 < secs)) {
            rc = ss__encoder_forward(e, &c, m->params, &a, 0, 0, 0, &y);
            iters++;
        }
        dt = now() - t0;
        items = (double)iters * B;
        flops = forward_flops(&c, B, T) * iters;
        ss__encoder_free(e);
        ss_batch_free(&a);
    }
    if (rc) {
        fprintf(stderr, "encoder_bench: %s\n", ss_errmsg());
        return 1;
    }
    printf("side=semsearch what=%s prec=%s threads=%d B=%d T=%d iters=%d per_s=%.2f gflops=%.1f "
           "rss_mb=%.1f\n",
           argv[1], ss_precision_name(prec), ss_get_threads(), B, T, iters, items / dt, flops / dt / 1e9,
           peak_rss_kb() / 1024.0);
    ss_model_free(m);
    return 0;
}
