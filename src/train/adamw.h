/* adamw.h: the AdamW optimizer (decoupled weight decay, as torch.optim.AdamW)
 * and the global gradient norm. */
#ifndef SS_ADAMW_H
#define SS_ADAMW_H

#include <stddef.h>
#include <stdint.h>

/* One parameter tensor of the update: n values at offset, with or without
 * weight decay. */
typedef struct ss__adamw_group {
    size_t offset, n;
    int decay;
    float lr_scale; /* this tensor's learning rate is lr * lr_scale; 0 freezes it */
} ss__adamw_group;

/* One AdamW step over the groups (one parallel region for all of them);
 * t is the step number counting this one (>= 1), gscale multiplies every
 * gradient first (clipping):
 *   g *= gscale;  p -= lr * wd * p (groups with decay only);
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
void ss__adamw_update(float *p, const float *g, float *m, float *v,
                      const ss__adamw_group *groups, int ngroups, float gscale, float lr,
                      float beta1, float beta2, float eps, float wd, int64_t t);

/* Partial sums needed by ss__grad_norm for n values. */
size_t ss__grad_norm_chunks(size_t n);
/* L2 norm of g (n values), summed in fixed chunks (partials has
 * ss__grad_norm_chunks(n) doubles) so that it does not depend on threads. */
double ss__grad_norm(const float *g, size_t n, double *partials);

#endif
