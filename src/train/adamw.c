/* adamw.c: AdamW and the gradient norm (elementwise, OpenMP). */
#include "config.h"

#include <math.h>

#include "train/adamw.h"

#define CHUNK 32768
#define PAR_MIN 8192

void ss__adamw_update(float *p, const float *g, float *m, float *v,
                      const ss__adamw_group *groups, int ngroups, float gscale, float lr,
                      float beta1, float beta2, float eps, float wd, int64_t t)
{
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    size_t total = 0;
    for (int k = 0; k < ngroups; k++) total += groups[k].n;
    /* one region; every thread takes its static share of each tensor, with
     * no barrier between tensors */
#pragma omp parallel if (total >= PAR_MIN)
    for (int k = 0; k < ngroups; k++) {
        float sk = groups[k].lr_scale;
        if (sk == 0) continue; /* frozen: no step, no decay, moments kept */
        float *pk = p + groups[k].offset, *mk = m + groups[k].offset, *vk = v + groups[k].offset;
        const float *gk = g + groups[k].offset;
        float decay = groups[k].decay ? 1.0f - lr * sk * wd : 1.0f, stepk = step * sk;
        long n = (long)groups[k].n;
#pragma omp for simd schedule(static) nowait
        for (long i = 0; i < n; i++) {
            float gi = gk[i] * gscale;
            float mi = beta1 * mk[i] + (1.0f - beta1) * gi;
            float vi = beta2 * vk[i] + (1.0f - beta2) * gi * gi;
            mk[i] = mi;
            vk[i] = vi;
            pk[i] = pk[i] * decay - stepk * mi / (sqrtf(vi) * rbc2 + eps);
        }
    }
}

size_t ss__grad_norm_chunks(size_t n) { return n / CHUNK + 1; }

double ss__grad_norm(const float *g, size_t n, double *partials)
{
    long nc = (long)ss__grad_norm_chunks(n);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (long k = 0; k < nc; k++) {
        size_t i0 = (size_t)k * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)g[i] * g[i];
        partials[k] = s;
    }
    double s = 0;
    for (long k = 0; k < nc; k++) s += partials[k];
    return sqrt(s);
}
