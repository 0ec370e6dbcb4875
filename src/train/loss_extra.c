/* loss_extra.c: NT-Xent, triplet, CoSENT and learned-temperature losses, each
 * passed to the one training step (ss__trainer_step_loss) as its loss. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "train/adamw.h"
#include "base/common.h"
#include "train/loss.h"
#include "train/loss_extra.h"

#define TAU_MIN 0.01f
#define TAU_MAX 1.0f

struct ss__loss_extra {
    ss__trainer *t;
    ss__loss_extra_opts o;
    float logt, logt_m, logt_v; /* log temperature and its Adam moments */
    float dlogt;                /* the gradient wrt logt of the last step */
    const double *score;        /* the step's gold scores and groups (cosent) */
    const int *group;
};

int ss__loss_extra_new(ss__trainer *t, const ss__loss_extra_opts *o, ss__loss_extra **out)
{
    *out = NULL;
    if (!t || !o || !(o->temperature > 0) || o->loss < SS__LOSS_INFONCE || o->loss > SS__LOSS_COSENT ||
        (o->loss == SS__LOSS_COSENT && !(o->cosent_scale > 0 && isfinite(o->cosent_scale))))
        return ss__fail(SS_ERR_ARG, "loss: bad options");
    if (o->learn_temperature && (o->loss == SS__LOSS_TRIPLET || o->loss == SS__LOSS_COSENT))
        return ss__fail(SS_ERR_ARG, "the %s loss has no temperature to learn",
                        o->loss == SS__LOSS_TRIPLET ? "triplet" : "cosent");
    ss__loss_extra *x = ss__calloc(1, sizeof *x);
    if (!x) return ss__fail(SS_ERR_NOMEM, "out of memory");
    x->t = t;
    x->o = *o;
    float tau = o->temperature < TAU_MIN ? TAU_MIN : o->temperature > TAU_MAX ? TAU_MAX : o->temperature;
    x->logt = o->learn_temperature ? logf(tau) : logf(o->temperature);
    /* CoSENT's lambda is an inverse temperature (of a softmax over cosine
     * differences): the temperature the metrics show is 1 / lambda */
    if (o->loss == SS__LOSS_COSENT) x->logt = -logf(o->cosent_scale);
    *out = x;
    return SS_OK;
}

void ss__loss_extra_free(ss__loss_extra *x)
{
    ss_free(x);
}

float ss__loss_extra_temperature(const ss__loss_extra *x) { return expf(x->logt); }

void ss__loss_extra_get_temp(const ss__loss_extra *x, float *log_t, float *m, float *v)
{
    *log_t = x->logt;
    *m = x->logt_m;
    *v = x->logt_v;
}

void ss__loss_extra_set_temp(ss__loss_extra *x, float log_t, float m, float v)
{
    if (!x->o.learn_temperature) return; /* a fixed temperature stays the option's */
    x->logt = log_t;
    x->logt_m = m;
    x->logt_v = v;
}

/* ------------------------------------------------------------ the losses */

double ss__ntxent(const float *a, const float *b, int B, int C, float tau, float *da, float *db, float *dlogt,
                  float *work)
{
    int N = 2 * B;
    size_t NN = (size_t)N * N;
    float *S = work, *z = work + NN, *dz = z + (size_t)N * C;
    memcpy(z, a, sizeof(float) * (size_t)B * C);
    memcpy(z + (size_t)B * C, b, sizeof(float) * (size_t)B * C);
    /* S (N,N) = z z^T / tau */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, C, 1.0f / tau, z, C, z, C, 0.0f, S, N);
    double loss = 0, dl = 0;
    for (int k = 0; k < N; k++) {
        float *r = S + (size_t)k * N;
        int pos = k < B ? k + B : k - B;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < N; j++)
            if (j != k && r[j] > mx) mx = r[j];
        for (int j = 0; j < N; j++)
            if (j != k) sum += exp(r[j] - mx);
        loss += mx + log(sum) - r[pos];
        /* r becomes G = (softmax - onehot(pos)) / N, 0 on the diagonal */
        for (int j = 0; j < N; j++) {
            double g = j == k ? 0 : (exp(r[j] - mx) / sum - (j == pos)) / N;
            dl -= g * r[j];
            r[j] = (float)g;
        }
    }
    /* dz = (G + G^T) z / tau */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, N, 1.0f / tau, S, N, z, C, 0.0f, dz, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, C, N, 1.0f / tau, S, N, z, C, 1.0f, dz, C);
    memcpy(da, dz, sizeof(float) * (size_t)B * C);
    memcpy(db, dz + (size_t)B * C, sizeof(float) * (size_t)B * C);
    if (dlogt) *dlogt = (float)dl;
    return loss / N;
}

double ss__triplet(const float *a, const float *b, int B, int C, float margin, float *da, float *db, float *work)
{
    float *S = work;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, C, 1.0f, a, C, b, C, 0.0f, S, B);
    memset(da, 0, sizeof(float) * (size_t)B * C);
    memset(db, 0, sizeof(float) * (size_t)B * C);
    double loss = 0;
    for (int i = 0; i < B; i++) {
        const float *r = S + (size_t)i * B;
        int h = -1;
        for (int j = 0; j < B; j++)
            if (j != i && (h < 0 || r[j] > r[h])) h = j;
        if (h < 0) continue;
        double l = (double)margin - r[i] + r[h];
        if (l <= 0) continue;
        loss += l;
        const float *ai = a + (size_t)i * C, *bi = b + (size_t)i * C, *bh = b + (size_t)h * C;
        float *dai = da + (size_t)i * C, *dbi = db + (size_t)i * C, *dbh = db + (size_t)h * C;
        for (int c = 0; c < C; c++) {
            dai[c] += (bh[c] - bi[c]) / B;
            dbi[c] -= ai[c] / B;
            dbh[c] += ai[c] / B;
        }
    }
    return loss / B;
}

/* Pair i ranks above pair j: scored higher, in the same group. */
static inline int ranked_above(const double *score, const int *group, int i, int j)
{
    return score[i] > score[j] && (!group || group[i] == group[j]);
}

double ss__cosent(const float *a, const float *b, const double *score, const int *group, int B, int C,
                  float scale, float *da, float *db, float *work)
{
    /* c (B): the cosines; g (B): dL/dc; in double (work is malloc'd, so
     * aligned for it): lambda multiplies the rounding error of a cosine */
    double *c = (double *)(void *)work, *g = c + B;
    for (int i = 0; i < B; i++) {
        const float *ai = a + (size_t)i * C, *bi = b + (size_t)i * C;
        double d = 0;
        for (int k = 0; k < C; k++) d += (double)ai[k] * bi[k];
        c[i] = d;
        g[i] = 0;
    }
    /* L = log(exp(0) + sum_(i,j) exp(x_ij)), x_ij = scale (c_j - c_i) over
     * the ordered pairs (s_i > s_j), by log-sum-exp: m = max(0, x_ij). */
    double m = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            if (ranked_above(score, group, i, j)) {
                double xij = (double)scale * (c[j] - c[i]);
                if (xij > m || isnan(xij)) m = xij;
            }
    double sum = exp(-m);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            if (ranked_above(score, group, i, j)) sum += exp((double)scale * (c[j] - c[i]) - m);
    double loss = m + log(sum);
    /* dL/dx_ij = softmax weight w_ij; dx_ij/dc_j = scale, dx_ij/dc_i = -scale */
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            if (ranked_above(score, group, i, j)) {
                double w = (double)scale * exp((double)scale * (c[j] - c[i]) - m) / sum;
                g[j] += w;
                g[i] -= w;
            }
    /* c_i = a_i . b_i: da_i = g_i b_i, db_i = g_i a_i */
    for (int i = 0; i < B; i++) {
        const float *ai = a + (size_t)i * C, *bi = b + (size_t)i * C;
        float *dai = da + (size_t)i * C, *dbi = db + (size_t)i * C;
        for (int k = 0; k < C; k++) {
            dai[k] = (float)(g[i] * bi[k]);
            dbi[k] = (float)(g[i] * ai[k]);
        }
    }
    return loss;
}

double ss__cosent_naive(const float *a, const float *b, const double *score, const int *group, int B, int C,
                        double scale)
{
    double sum = 1;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            if (!ranked_above(score, group, i, j)) continue;
            double ci = 0, cj = 0;
            for (int k = 0; k < C; k++) {
                ci += (double)a[(size_t)i * C + k] * b[(size_t)i * C + k];
                cj += (double)a[(size_t)j * C + k] * b[(size_t)j * C + k];
            }
            sum += exp(scale * (cj - ci));
        }
    return log(sum);
}

double ss__cosent_mixed(const float *a, const float *b, const double *score, const int *group, int B, int C,
                        float scale, float tau, float *da, float *db, float *work)
{
    /* CoSENT on the whole batch: a pair without a score (NaN) is never
     * ranked above or below another, so its gradient is 0 there */
    double L = ss__cosent(a, b, score, group, B, C, scale, da, db, work);
    int n = 0;
    for (int i = 0; i < B; i++) n += isnan(score[i]);
    if (n < 2 || !isfinite(L)) return L; /* InfoNCE of a single pair is 0 */
    /* the unscored pairs, gathered: xa, xb, their gradients dxa, dxb (n,C),
     * then InfoNCE's (3,n,n) */
    size_t nc = (size_t)n * C;
    float *xa = work, *xb = xa + nc, *dxa = xb + nc, *dxb = dxa + nc, *w = dxb + nc;
    for (int i = 0, k = 0; i < B; i++)
        if (isnan(score[i])) {
            memcpy(xa + (size_t)k * C, a + (size_t)i * C, sizeof(float) * (size_t)C);
            memcpy(xb + (size_t)k * C, b + (size_t)i * C, sizeof(float) * (size_t)C);
            k++;
        }
    double Li = ss__infonce_forward(w, xa, xb, n, C, tau, 1);
    if (!isfinite(Li)) return Li;
    ss__infonce_backward(dxa, dxb, w, xa, xb, n, C, tau, 1);
    for (int i = 0, k = 0; i < B; i++)
        if (isnan(score[i])) {
            float *dai = da + (size_t)i * C, *dbi = db + (size_t)i * C;
            const float *ga = dxa + (size_t)k * C, *gb = dxb + (size_t)k * C;
            for (int c = 0; c < C; c++) dai[c] += ga[c], dbi[c] += gb[c];
            k++;
        }
    return L + Li;
}

/* ------------------------------------------------------------ the step */

static size_t extra_work(const void *ctx, int B, int N, int C)
{
    (void)ctx, (void)N;
    size_t n2 = 2 * (size_t)B; /* NT-Xent: (2B)^2 + 2 (2B,C); CoSENT with InfoNCE: 4B^2 + 4BC */
    return n2 * n2 + 2 * n2 * (size_t)C;
}

static int extra_grad(void *ctx, const float *ya, const float *yb, int B, int N, int C, float *da, float *db,
                      float *work, double *L)
{
    (void)N;
    ss__loss_extra *x = ctx;
    float tau = expf(x->logt), dlogt = 0;
    if (x->o.loss == SS__LOSS_NTXENT) {
        *L = ss__ntxent(ya, yb, B, C, tau, da, db, &dlogt, work);
    } else if (x->o.loss == SS__LOSS_TRIPLET) {
        *L = ss__triplet(ya, yb, B, C, x->o.margin, da, db, work);
    } else if (x->o.loss == SS__LOSS_COSENT) {
        *L = ss__cosent_mixed(ya, yb, x->score, x->group, B, C, x->o.cosent_scale, x->o.temperature, da, db,
                              work);
    } else {
        *L = ss__infonce_forward(work, ya, yb, B, C, tau, 1);
        if (isfinite(*L)) {
            ss__infonce_backward(da, db, work, ya, yb, B, C, tau, 1);
            /* logits = a b^T / tau: dL/dlog(tau) = -sum_ij G_ij logit_ij = -sum_i a_i . da_i */
            double s = 0;
            for (size_t i = 0; i < (size_t)B * C; i++) s += (double)ya[i] * da[i];
            dlogt = (float)-s;
        }
    }
    x->dlogt = dlogt;
    return !isfinite(*L) || !isfinite(dlogt);
}

/* The learned temperature is a parameter of its own: not clipped with the
 * model, no decay. */
static void extra_after_update(void *ctx, const ss__step_opts *o, int64_t step)
{
    ss__loss_extra *x = ctx;
    if (!x->o.learn_temperature) return;
    const ss__adamw_group one = {0, 1, 0, 1.0f};
    ss__adamw_update(&x->logt, &x->dlogt, &x->logt_m, &x->logt_v, &one, 1, 1.0f, o->lr, o->beta1, o->beta2,
                     o->eps, 0.0f, step);
    if (x->logt < logf(TAU_MIN)) x->logt = logf(TAU_MIN);
    if (x->logt > logf(TAU_MAX)) x->logt = logf(TAU_MAX);
}

int ss__loss_extra_step(ss__loss_extra *x, const ss_batch *a, const ss_batch *b, const double *score,
                        const int *group, const ss__step_opts *o, float *loss, float *grad_norm)
{
    if (!x || !a || !b || !o) return ss__fail(SS_ERR_ARG, "training step: NULL argument");
    if (x->o.loss == SS__LOSS_COSENT && !score)
        return ss__fail(SS_ERR_ARG, "training step: the cosent loss needs the scores of the pairs");
    x->score = score;
    x->group = group;
    const ss__step_loss lf = {extra_grad, extra_work, extra_after_update, x, 0};
    int rc = ss__trainer_step_loss(x->t, a, b, &lf, o, loss, grad_norm);
    x->score = NULL;
    x->group = NULL;
    return rc;
}
