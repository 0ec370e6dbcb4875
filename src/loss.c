/* loss.c: symmetric in-batch InfoNCE (the logits are one sgemm). */
#include "config.h"

#include <math.h>

#include <cblas.h>

#include "loss.h"

/* In place: row-wise softmax of x (R rows of n, row stride rs, element
 * stride es); returns sum over rows i of -log softmax[i][i]. */
static double softmax_ce(float *x, int n, size_t rs, size_t es)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
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

double ss__infonce_forward(float *work, const float *a, const float *b, int B, int C,
                           float temp, int symmetric)
{
    size_t BB = (size_t)B * B;
    float *prow = work, *pcol = work + BB;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, C, 1.0f / temp, a, C, b, C, 0.0f,
                prow, B);
    for (size_t i = 0; i < BB; i++) pcol[i] = prow[i];
    double loss = softmax_ce(prow, B, (size_t)B, 1) / B;
    if (symmetric) loss = 0.5 * (loss + softmax_ce(pcol, B, 1, (size_t)B) / B);
    return loss;
}

void ss__infonce_backward(float *da, float *db, float *work, const float *a, const float *b,
                          int B, int C, float temp, int symmetric)
{
    size_t BB = (size_t)B * B;
    float *prow = work, *pcol = work + BB, *g = work + 2 * BB;
    /* dloss/dlogits = w (P_row - I)/B + w (P_col - I)/B */
    float w = symmetric ? 0.5f : 1.0f;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            size_t k = (size_t)i * B + j;
            float v = prow[k] - (i == j);
            if (symmetric) v += pcol[k] - (i == j);
            g[k] = w * v / B;
        }
    /* da = g b / temp, db = g^T a / temp */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, B, 1.0f / temp, g, B, b, C, 0.0f,
                da, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, C, B, 1.0f / temp, g, B, a, C, 0.0f,
                db, C);
}
