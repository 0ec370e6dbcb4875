/* loss.c: symmetric in-batch InfoNCE (the logits are one sgemm). */
#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "train/loss.h"

static const char *const loss_names[] = {"infonce", "ntxent", "triplet", "cosent"};

const char *ss__loss_name(int loss)
{
    return loss >= 0 && loss <= SS__LOSS_COSENT ? loss_names[loss] : "?";
}

int ss__loss_kind(const char *name)
{
    for (int i = 0; i <= SS__LOSS_COSENT; i++)
        if (!strcmp(name, loss_names[i])) return i;
    return -1;
}

/* In place: softmax of R vectors of n values (vector i starts at x + i*rs,
 * element stride es); returns sum over vectors i of -log softmax[i][i]. */
static double softmax_ce(float *x, int R, int n, size_t rs, size_t es)
{
    double loss = 0;
    for (int i = 0; i < R; i++) {
        float *r = x + i * rs;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < n; j++)
            if (r[j * es] > mx) mx = r[j * es];
        for (int j = 0; j < n; j++) sum += exp(r[j * es] - mx);
        loss += mx + log(sum) - r[i * es];
        for (int j = 0; j < n; j++) r[j * es] = (float)(exp(r[j * es] - mx) / sum);
    }
    return loss;
}

double ss__infonce_neg_forward(float *work, const float *a, const float *b, int B, int N, int C, float temp,
                               int symmetric)
{
    size_t BN = (size_t)B * N;
    float *prow = work, *pcol = work + BN;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, C, 1.0f / temp, a, C, b, C, 0.0f, prow, N);
    for (size_t i = 0; i < BN; i++) pcol[i] = prow[i];
    double loss = softmax_ce(prow, B, N, (size_t)N, 1) / B;
    if (symmetric) loss = 0.5 * (loss + softmax_ce(pcol, B, B, 1, (size_t)N) / B);
    return loss;
}

void ss__infonce_neg_backward(float *da, float *db, float *work, const float *a, const float *b, int B, int N,
                              int C, float temp, int symmetric)
{
    size_t BN = (size_t)B * N;
    float *prow = work, *pcol = work + BN, *g = work + 2 * BN;
    /* dloss/dlogits = w (P_row - I)/B + w (P_col - I)/B, P_col on the first B columns */
    float w = symmetric ? 0.5f : 1.0f;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < N; j++) {
            size_t k = (size_t)i * N + j;
            float v = prow[k] - (i == j);
            if (symmetric && j < B) v += pcol[k] - (i == j);
            g[k] = w * v / B;
        }
    /* da = g b / temp, db = g^T a / temp */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, N, 1.0f / temp, g, N, b, C, 0.0f, da, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, C, B, 1.0f / temp, g, N, a, C, 0.0f, db, C);
}

double ss__infonce_forward(float *work, const float *a, const float *b, int B, int C, float temp, int symmetric)
{
    return ss__infonce_neg_forward(work, a, b, B, B, C, temp, symmetric);
}

void ss__infonce_backward(float *da, float *db, float *work, const float *a, const float *b, int B, int C,
                          float temp, int symmetric)
{
    ss__infonce_neg_backward(da, db, work, a, b, B, B, C, temp, symmetric);
}
