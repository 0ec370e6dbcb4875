/* train.c: the loop of `semsearch train`: epoch plans -> texts (with
 * augmentation) -> token batches -> one optimizer step -> history, dev
 * score, checkpoints. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "train/checkpoint.h"
#include "base/common.h"
#include "text/datafile.h"
#include "eval/evalfile.h"
#include "train/loss_extra.h"
#include "nn/model.h"
#include "train/train.h"
#include "train/train_step.h"

void ss__train_opts_init(ss__train_opts *o)
{
    memset(o, 0, sizeof *o);
    ss__step_opts so;
    ss__step_opts_init(&so);
    o->batch_size = 64;
    o->epochs = 1;
    o->sched.kind = SS__SCHED_COSINE;
    o->sched.lr = so.lr;
    o->sched.min_lr = 0;
    o->warmup_frac = 0.05;
    o->warmup_steps = -1;
    o->temperature = so.temperature;
    o->margin = 0.2f;
    o->cosent_scale = 20.0f;
    o->loss = SS__LOSS_INFONCE;
    o->weight_decay = so.weight_decay;
    o->beta1 = so.beta1;
    o->beta2 = so.beta2;
    o->eps = so.eps;
    o->grad_clip = so.grad_clip;
    o->embedding_lr = so.embedding_lr;
    o->seed = 42;
    o->save_every = 1000;
    o->eval_every = 500;
    o->dtype = SS_DTYPE_F32;
    ss__docpair_opts_init(&o->docs);
}

/* Everything one run carries around. */
typedef struct run {
    ss_model *model;
    const ss__trainset *ts;
    const ss__train_opts *o;
    ss__trainer *tr;
    ss__loss_extra *lx;
    ss__plan plan;
    int64_t plan_epoch;
    ss__ckpt_state st; /* step, epoch, batch (next), best, log_temp, history */
    int max_len;
    /* texts of the current batch */
    const char **ta, **tb;
    size_t *la, *lb;
    double *score;  /* gold scores of the pairs (cosent) */
    int *group;     /* and their sources: pairs are ranked within a source */
    char **owned; /* augmented views to free */
    size_t n_owned;
    ss__pairs dev;
    int has_dev;
    double *dev_sim;
} run;

static void logf_(run *r, const char *fmt, ...) SS_PRINTF(2, 3);
static void logf_(run *r, const char *fmt, ...)
{
    if (!r->o->on_log || ss__dist_rank(r->o->dist) != 0) return; /* process 0 speaks for all */
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->o->on_log(r->o->ctx, buf);
}

static int set_plan(run *r, int64_t epoch)
{
    if (r->plan.items && r->plan_epoch == epoch) return SS_OK;
    ss__plan_free(&r->plan);
    /* cosent ranks the pairs of a batch against each other: without a
     * curriculum, its batches are random sets, not of similar lengths */
    int curric = r->o->curriculum;
    if (r->o->loss == SS__LOSS_COSENT && curric == SS__CURRIC_NONE) curric = SS__CURRIC_RANDOM;
    int rc = ss__trainset_plan(r->ts, r->o->seed, epoch, r->o->batch_size, curric, &r->plan);
    if (rc) return rc;
    r->plan_epoch = epoch;
    if (r->plan.n_batches == 0)
        return ss__fail(SS_ERR_ARG, "no batch can be formed: every example shares a text with every other");
    return SS_OK;
}

static void free_views(run *r)
{
    for (size_t i = 0; i < r->n_owned; i++) ss_free(r->owned[i]);
    r->n_owned = 0;
}

/* The two sides of batch r->st.batch of the current plan, as texts; the
 * hard negatives of triplets follow the positives in tb (*n_neg of them). */
static int batch_texts(run *r, int *n, int *n_neg, int *same)
{
    const ss__plan *p = &r->plan;
    size_t b = (size_t)r->st.batch, s0 = p->start[b], s1 = p->start[b + 1];
    *n = (int)(s1 - s0);
    *same = 1;
    int aug = ss__aug_active(&r->o->aug);
    uint64_t rng[4];
    ss__rng_seed(rng, ss__seed_mix(ss__seed_mix(ss__seed_mix(r->o->seed, 0x617567 /* "aug" */), (uint64_t)r->st.epoch),
                                   (uint64_t)b));
    free_views(r);
    for (size_t i = s0; i < s1; i++) {
        const ss__plan_item *it = &p->items[i];
        size_t k = i - s0;
        r->ta[k] = ss__trainset_text(r->ts, it->a);
        r->la[k] = r->ts->text_len[it->a];
        r->tb[k] = ss__trainset_text(r->ts, it->b);
        r->lb[k] = r->ts->text_len[it->b];
        if (r->o->loss == SS__LOSS_COSENT) {
            r->score[k] = ss__trainset_score(r->ts, it->ex);
            r->group[k] = ss__trainset_source_of(r->ts, it->ex);
        }
        if (ss__trainset_is_doc(r->ts, it->ex)) {
            /* a paragraph of a document: its pair is made now */
            const ss__trainset *ts = r->ts;
            size_t j0 = ts->ex_off[it->ex], j1 = ts->ex_off[it->ex + 1], j = j0;
            while (j < j1 && ts->members[j] != it->a) j++;
            uint32_t tid = ss__trainset_form(ts, it->ex) == SS__FORM_DOC_TITLED ? ts->members[j0] : SS__NO_TEXT;
            uint32_t sid = j < j1 ? ts->sect[j] : SS__NO_TEXT;
            char *va, *vb;
            size_t na, nb;
            int kind;
            int rc = ss__docpair_make(&r->o->docs, rng, tid != SS__NO_TEXT ? ss__trainset_text(ts, tid) : NULL,
                                      tid != SS__NO_TEXT ? ts->text_len[tid] : 0,
                                      sid != SS__NO_TEXT ? ss__trainset_text(ts, sid) : NULL,
                                      sid != SS__NO_TEXT ? ts->text_len[sid] : 0, r->ta[k], r->la[k], &va, &na,
                                      &vb, &nb, &kind);
            if (rc) return rc;
            r->owned[r->n_owned++] = va;
            r->owned[r->n_owned++] = vb;
            r->ta[k] = va;
            r->la[k] = na;
            r->tb[k] = vb;
            r->lb[k] = nb;
        } else if (it->a == it->b && aug) {
            /* a lone sentence: two independent views */
            char *va, *vb;
            size_t na, nb;
            int rc = ss__augment(&r->o->aug, rng, r->ta[k], r->la[k], &va, &na);
            if (rc) return rc;
            r->owned[r->n_owned++] = va;
            rc = ss__augment(&r->o->aug, rng, r->tb[k], r->lb[k], &vb, &nb);
            if (rc) return rc;
            r->owned[r->n_owned++] = vb;
            r->ta[k] = va;
            r->la[k] = na;
            r->tb[k] = vb;
            r->lb[k] = nb;
        }
        if (r->ta[k] != r->tb[k]) *same = 0;
    }
    *n_neg = 0;
    for (size_t i = s0; i < s1; i++) {
        const ss__plan_item *it = &p->items[i];
        if (ss__trainset_form(r->ts, it->ex) != SS__FORM_TRIPLET) continue;
        uint32_t neg = r->ts->members[r->ts->ex_off[it->ex] + 2];
        r->tb[*n + *n_neg] = ss__trainset_text(r->ts, neg);
        r->lb[*n + *n_neg] = r->ts->text_len[neg];
        (*n_neg)++;
    }
    if (*n_neg) *same = 0;
    return SS_OK;
}

/* Every process must train on what process 0 does: the same data (under
 * mpirun only process 0 has stdin; files may differ between machines), the
 * same model shape and options, else their batches and buffers differ. */
static int dist_check(run *r)
{
    if (ss__dist_size(r->o->dist) == 1) return SS_OK;
    uint64_t mine[4] = {r->ts->fingerprint, (uint64_t)r->model->n_params, (uint64_t)r->o->batch_size, r->o->seed};
    uint64_t lead[4];
    memcpy(lead, mine, sizeof lead);
    int rc = ss__dist_bcast(r->o->dist, lead, sizeof lead);
    if (rc) return rc;
    if (mine[0] != lead[0])
        return ss__fail(SS_ERR_ARG, "process %d read other training data than process 0 (under mpirun every process "
                                    "reads the --data files itself, and only process 0 has stdin)",
                        ss__dist_rank(r->o->dist));
    if (mine[1] != lead[1] || mine[2] != lead[2] || mine[3] != lead[3])
        return ss__fail(SS_ERR_ARG, "process %d has another model or options than process 0 (%llu parameters, batch "
                                    "%llu, seed %llu there)", ss__dist_rank(r->o->dist), (unsigned long long)lead[1],
                        (unsigned long long)lead[2], (unsigned long long)lead[3]);
    return SS_OK;
}

/* Process 0's parameters and AdamW moments to every process: the sums of
 * MPI_Allreduce may round differently on different processes, so drift is
 * cut at every checkpoint, and a resumed run starts where an uninterrupted
 * one goes on. */
static int dist_sync(run *r)
{
    size_t n = r->model->n_params * sizeof(float);
    int rc = ss__dist_bcast(r->o->dist, r->model->params, n);
    if (!rc) rc = ss__dist_bcast(r->o->dist, r->tr->m, n);
    if (!rc) rc = ss__dist_bcast(r->o->dist, r->tr->v, n);
    return rc;
}

/* What process 0 did (rc there) made known to all: SS_OK, or an error on
 * every process (process 0 keeps its own message). */
static int dist_agree(run *r, int rc, const char *what)
{
    if (ss__dist_size(r->o->dist) == 1) return rc;
    int code = rc;
    int e = ss__dist_bcast(r->o->dist, &code, sizeof code);
    if (e) return rc ? rc : e;
    if (ss__dist_rank(r->o->dist) != 0 && code)
        return ss__fail(code, "process 0 could not write %s (its message says why)", what);
    return rc;
}

static int save_ckpt(run *r, ss__train_result *res)
{
    if (ss__dist_rank(r->o->dist) != 0) {
        int rc = dist_agree(r, SS_OK, r->o->checkpoint);
        if (!rc) res->saved_step = r->st.step;
        return rc ? rc : dist_sync(r);
    }
    r->st.rng[0] = r->tr->rng[0];
    r->st.rng[1] = r->tr->rng[1];
    r->st.rng[2] = r->tr->rng[2];
    r->st.rng[3] = r->tr->rng[3];
    if (r->lx) ss__loss_extra_get_temp(r->lx, &r->st.log_temp, &r->st.log_temp_m, &r->st.log_temp_v);
    int rc = ss__ckpt_save(r->o->checkpoint, r->model, r->tr->m, r->tr->v, &r->st);
    if (!rc) {
        res->saved_step = r->st.step;
        logf_(r, "step %lld: checkpoint %s", (long long)r->st.step, r->o->checkpoint);
    }
    rc = dist_agree(r, rc, r->o->checkpoint);
    return rc ? rc : dist_sync(r);
}

static int score_dev(run *r, double *score)
{
    double pearson;
    int rc = ss__pairs_sims(r->model, &r->dev, r->dev_sim);
    if (!rc) rc = ss__sts_metrics(r->o->eval_path, &r->dev, r->dev_sim, score, &pearson);
    return rc;
}

/* Scores the dev set after the current step, records it, and when it is the
 * best so far keeps that step and saves the best model (o->best), with a log
 * line when log_best. */
static int dev_eval(run *r, ss__train_result *res, int log_best, double *score)
{
    const ss__train_opts *o = r->o;
    int rc = score_dev(r, score);
    if (!rc) rc = ss__train_history_push_dev(&r->st.hist, r->st.step, *score);
    if (rc) return rc;
    res->last_score = *score;
    if (*score > r->st.best_score) {
        r->st.best_score = *score;
        r->st.best_step = r->st.step;
        if (o->best) {
            if ((rc = ss_model_save(r->model, o->best, o->dtype))) return rc;
            if (log_best)
                logf_(r, "step %lld: dev Spearman %.4f, the best so far: %s", (long long)r->st.step, *score,
                      o->best);
        }
    }
    return SS_OK;
}

static float cur_temp(run *r)
{
    if (r->lx) return ss__loss_extra_temperature(r->lx);
    return r->o->temperature;
}

/* The run's buffers, the checks of the options against the data, the
 * trainer and the loss. */
static int run_setup(run *r)
{
    const ss__train_opts *o = r->o;
    const ss__trainset *ts = r->ts;
    size_t B = (size_t)o->batch_size + 1; /* a batch may take one leftover */
    r->ta = ss__calloc(B, sizeof *r->ta);
    r->tb = ss__calloc(2 * B, sizeof *r->tb); /* positives, then hard negatives */
    r->la = ss__calloc(B, sizeof *r->la);
    r->lb = ss__calloc(2 * B, sizeof *r->lb);
    r->owned = ss__calloc(2 * B, sizeof *r->owned);
    r->score = ss__calloc(B, sizeof *r->score);
    r->group = ss__calloc(B, sizeof *r->group);
    int rc = (!r->ta || !r->tb || !r->la || !r->lb || !r->owned || !r->score || !r->group)
                 ? ss__fail(SS_ERR_NOMEM, "out of memory")
                 : SS_OK;
    if (!rc && o->loss == SS__LOSS_COSENT) {
        /* graded pairs to rank; paraphrases (no score) only add InfoNCE */
        size_t scored = 0;
        for (size_t e = 0; e < ts->n_examples; e++) scored += !isnan(ss__trainset_score(ts, e));
        if (!scored)
            rc = ss__fail(SS_ERR_ARG, "the cosent loss needs graded pairs (a *.scored.tsv or *.labeled.tsv file): "
                                      "none of the %zu examples has a score", ts->n_examples);
    }
    if (!rc && o->grad_cache > 0 && (o->loss != SS__LOSS_INFONCE || o->learn_temperature))
        rc = ss__fail(SS_ERR_ARG, "gradient caching is for the infonce loss with a fixed temperature");
    if (!rc && (o->loss != SS__LOSS_INFONCE || o->learn_temperature))
        for (int i = 0; i < ts->n_src && !rc; i++)
            if (ts->src[i].kind == SS__SRC_TRIPLETS)
                rc = ss__fail(SS_ERR_ARG, "%s: hard negatives (triplets) are for the infonce loss with a fixed "
                                          "temperature", ts->src[i].name);
    if (!rc) rc = ss__trainer_new(r->model, o->seed, &r->tr);
    if (!rc && (o->loss != SS__LOSS_INFONCE || o->learn_temperature)) {
        ss__loss_extra_opts lo = {o->loss, o->temperature, o->learn_temperature, o->margin, o->cosent_scale};
        rc = ss__loss_extra_new(r->tr, &lo, &r->lx);
    }
    return rc;
}

/* The optimizer state, step, data position and history of a checkpoint,
 * which must come from the same data and options. */
static int resume_from(run *r, const char *resume)
{
    const ss__train_opts *o = r->o;
    const ss__trainset *ts = r->ts;
    ss__ckpt_state st;
    int rc = ss__ckpt_load(resume, r->model->n_params, r->tr->m, r->tr->v, &st);
    if (rc) return rc;
    if (st.data_fp != ts->fingerprint || st.seed != o->seed || st.batch_size != o->batch_size ||
        st.loss != o->loss) {
        rc = ss__fail(SS_ERR_ARG, "%s: the checkpoint was made with %s (seed %llu, batch size %d, loss %s); "
                                  "resume with the same --data, --seed, --batch-size and --loss", resume,
                      st.data_fp != ts->fingerprint ? "other training data" : "other options",
                      (unsigned long long)st.seed, st.batch_size, ss__loss_name(st.loss));
        ss__train_history_free(&st.hist);
        return rc;
    }
    r->st = st;
    memcpy(r->tr->rng, st.rng, sizeof st.rng);
    r->tr->step = st.step;
    if (r->lx) ss__loss_extra_set_temp(r->lx, st.log_temp, st.log_temp_m, st.log_temp_v);
    logf_(r, "resuming %s at step %lld (epoch %lld, batch %lld)", resume, (long long)st.step,
          (long long)st.epoch + 1, (long long)st.batch + 1);
    return SS_OK;
}

/* One optimizer step on the batch batch_texts made (n pairs, n_neg hard
 * negatives); a loss that is not finite stops the run with a message naming
 * the last good checkpoint. */
static int train_batch(run *r, int n, int n_neg, int same, double lr, int64_t last_saved, ss__train_result *res,
                       float *loss, float *gnorm)
{
    const ss__train_opts *o = r->o;
    int rc;
    ss_batch ba, bb;
    memset(&bb, 0, sizeof bb);
    ss_tokenizer *tok = ss_model_tokenizer(r->model);
    rc = ss_tokenizer_encode_batch(tok, r->ta, r->la, n, r->max_len, 1, &ba);
    if (!rc && !same) rc = ss_tokenizer_encode_batch(tok, r->tb, r->lb, n + n_neg, r->max_len, 1, &bb);
    if (rc) {
        ss_batch_free(&ba);
        return rc;
    }
    ss__step_opts so;
    ss__step_opts_init(&so);
    so.lr = (float)lr;
    so.temperature = o->temperature;
    so.weight_decay = o->weight_decay;
    so.beta1 = o->beta1;
    so.beta2 = o->beta2;
    so.eps = o->eps;
    so.grad_clip = o->grad_clip;
    so.symmetric = 1;
    so.chunk = o->grad_cache;
    so.embedding_lr = o->embedding_lr;
    if (r->lx)
        rc = ss__loss_extra_step(r->lx, &ba, same ? &ba : &bb, o->loss == SS__LOSS_COSENT ? r->score : NULL,
                                 r->group, &so, loss, gnorm);
    else rc = ss__trainer_step(r->tr, &ba, same ? &ba : &bb, &so, loss, gnorm);
    ss_batch_free(&ba);
    ss_batch_free(&bb);
    if (rc == SS_OK && !(isfinite(*loss) && isfinite(*gnorm)))
        rc = ss__fail(SS_ERR_NUMERIC, "not finite");
    if (rc == SS_ERR_NUMERIC) {
        char last[600];
        if (res->saved_step >= 0 || last_saved >= 0)
            snprintf(last, sizeof last, "the last good checkpoint is %s (step %lld)", o->checkpoint,
                     (long long)(res->saved_step >= 0 ? res->saved_step : last_saved));
        else
            snprintf(last, sizeof last, "no checkpoint was written (use --save-every)");
        rc = ss__fail(SS_ERR_NUMERIC, "step %lld: the loss is %s (learning rate %.3g too high?); training "
                                      "stopped, no model written; %s", (long long)r->st.step + 1,
                      isnan(*loss) ? "NaN" : isinf(*loss) ? "infinite" : "finite but the gradient is not",
                      lr, last);
    }
    return rc;
}

/* The dev set of o->eval_path and room for its similarities. */
static int dev_load(run *r)
{
    int rc = ss__pairs_load(r->o->eval_path, SS__DATA_SCORED, &r->dev);
    if (rc) return rc;
    r->has_dev = 1;
    r->dev_sim = ss__malloc(sizeof *r->dev_sim * r->dev.n);
    return r->dev_sim ? SS_OK : ss__fail(SS_ERR_NOMEM, "out of memory");
}

/* Completes pr (the step's loss, lr, gradient norm, speed and times are set)
 * with the run's position and best score, and hands it to on_progress. */
static void report(run *r, int64_t total, ss__train_progress *pr)
{
    pr->step = r->st.step;
    pr->total = total;
    pr->epoch = r->st.epoch;
    pr->batch = (size_t)r->st.batch;
    pr->n_batches = r->plan.n_batches;
    pr->temperature = cur_temp(r);
    pr->best_score = r->st.best_score;
    pr->best_step = r->st.best_step;
    pr->hist = &r->st.hist;
    if (r->o->on_progress && ss__dist_rank(r->o->dist) == 0) r->o->on_progress(r->o->ctx, pr);
}

static void run_free(run *r)
{
    free_views(r);
    ss_free(r->ta);
    ss_free(r->tb);
    ss_free(r->la);
    ss_free(r->lb);
    ss_free(r->owned);
    ss_free(r->score);
    ss_free(r->group);
    ss__plan_free(&r->plan);
    if (r->has_dev) ss__pairs_free(&r->dev);
    ss_free(r->dev_sim);
    ss__loss_extra_free(r->lx);
    ss__trainer_free(r->tr);
}

int ss__train_run(ss_model *model, const ss__trainset *ts, const ss__train_opts *o, const char *resume,
                  ss__train_result *res)
{
    memset(res, 0, sizeof *res);
    res->saved_step = -1;
    res->best_step = -1;
    if (!model || !ts || !o || !o->output || !o->checkpoint)
        return ss__fail(SS_ERR_ARG, "ss__train_run: missing model, data, output or checkpoint");
    if (o->batch_size < 2) return ss__fail(SS_ERR_ARG, "the batch size must be at least 2");
    if (!(o->temperature > 0)) return ss__fail(SS_ERR_ARG, "the temperature must be positive");
    run R, *r = &R;
    memset(r, 0, sizeof R);
    r->model = model;
    r->ts = ts;
    r->o = o;
    r->plan_epoch = -1;
    r->max_len = o->max_len > 0 ? SS_MIN(o->max_len, model->cfg.max_len) : model->cfg.max_len;
    r->st.seed = o->seed;
    r->st.data_fp = ts->fingerprint;
    r->st.batch_size = o->batch_size;
    r->st.loss = o->loss;
    r->st.best_score = -INFINITY;
    r->st.best_step = -1;
    r->st.log_temp = logf(o->temperature);
    double comm0 = 0, red0 = 0, wait0 = 0;
    int rc = run_setup(r);
    if (!rc) r->tr->dist = o->dist;
    if (rc || (resume && (rc = resume_from(r, resume)))) goto done;
    /* every process starts from process 0's model and moments */
    if ((rc = dist_check(r)) || (rc = dist_sync(r))) goto done;
    comm0 = ss__dist_seconds(o->dist);
    red0 = ss__dist_reduce_seconds(o->dist);
    wait0 = ss__dist_wait_seconds(o->dist);
    /* process 0 alone scores the dev set and writes models */
    int lead = ss__dist_rank(o->dist) == 0;

    /* The length of the run comes from epoch 0 (every epoch has about as many batches). */
    if ((rc = set_plan(r, 0))) goto done;
    int64_t total = o->steps > 0 ? o->steps : (int64_t)llround(o->epochs * (double)r->plan.n_batches);
    if (total < 1) total = 1;
    if (resume && r->st.total != total)
        logf_(r, "the run now has %lld steps (the checkpoint's had %lld): the learning-rate schedule changes",
              (long long)total, (long long)r->st.total);
    r->st.total = total;
    ss__schedule sched = o->sched;
    sched.total = total;
    sched.warmup = o->warmup_steps >= 0 ? o->warmup_steps : (int64_t)llround(o->warmup_frac * (double)total);
    if (r->plan.dropped)
        logf_(r, "epoch 1: %zu examples fit in no batch (they share a text with the others) and are left out",
              r->plan.dropped);

    if (lead && o->eval_path && (rc = dev_load(r))) goto done;

    double t_start = ss__now_seconds(), base_sec = r->st.hist.n ? r->st.hist.seconds[r->st.hist.n - 1] : 0;
    double step_avg = -1, pps = 0;
    int64_t last_saved = resume ? r->st.step : -1;
    while (r->st.step < total) {
        if ((size_t)r->st.batch >= r->plan.n_batches || r->plan_epoch != r->st.epoch) {
            if ((size_t)r->st.batch >= r->plan.n_batches && r->plan_epoch == r->st.epoch) {
                r->st.epoch++;
                r->st.batch = 0;
            }
            if ((rc = set_plan(r, r->st.epoch))) goto done;
            if ((size_t)r->st.batch >= r->plan.n_batches) continue;
        }
        double t0 = ss__now_seconds();
        int n, n_neg, same;
        if ((rc = batch_texts(r, &n, &n_neg, &same))) goto done;
        double lr = ss__schedule_lr(&sched, r->st.step);
        float loss = NAN, gnorm = NAN;
        if ((rc = train_batch(r, n, n_neg, same, lr, last_saved, res, &loss, &gnorm))) goto done;
        r->st.step++;
        r->st.batch++;
        double dt = ss__now_seconds() - t0;
        step_avg = step_avg < 0 ? dt : 0.9 * step_avg + 0.1 * dt;
        pps = (double)n / (step_avg > 0 ? step_avg : 1e-9);
        double sec = base_sec + (ss__now_seconds() - t_start);
        if ((rc = ss__train_history_push(&r->st.hist, loss, (float)lr, gnorm, cur_temp(r), sec, (int32_t)r->st.epoch))) goto done;
        res->last_loss = loss;

        ss__train_progress pr;
        memset(&pr, 0, sizeof pr);
        if (r->has_dev && ((o->eval_every > 0 && r->st.step % o->eval_every == 0) || r->st.step == total)) {
            if ((rc = dev_eval(r, res, 1, &pr.dev_score))) goto done;
            pr.dev = 1;
        }
        pr.loss = loss;
        pr.lr = lr;
        pr.grad_norm = gnorm;
        pr.pairs_per_s = pps;
        pr.seconds = sec;
        pr.eta = step_avg >= 0 ? step_avg * (double)(total - r->st.step) : -1;
        report(r, total, &pr);

        int stop = (o->stop && *o->stop) || (o->stop_at > 0 && r->st.step >= o->stop_at && r->st.step < total);
        /* a signal to any process stops them all, after the same step */
        if ((rc = ss__dist_max_int(o->dist, &stop))) goto done;
        if (stop || (o->save_every > 0 && r->st.step % o->save_every == 0 && r->st.step < total)) {
            if ((rc = save_ckpt(r, res))) goto done;
            last_saved = r->st.step;
        }
        if (stop) {
            rc = ss__fail(SS_ERR_INTERRUPTED, "stopped after step %lld of %lld; resume with --resume %s",
                          (long long)r->st.step, (long long)total, o->checkpoint);
            goto done;
        }
    }
    /* the end: a final dev score if none at the last step, the checkpoint, the model */
    if (r->has_dev && (r->st.hist.n_dev == 0 || r->st.hist.dev_step[r->st.hist.n_dev - 1] != r->st.step)) {
        double score;
        if ((rc = dev_eval(r, res, 0, &score))) goto done;
    }
    if ((rc = save_ckpt(r, res))) goto done;
    if ((rc = dist_agree(r, lead ? ss_model_save(model, o->output, o->dtype) : SS_OK, o->output))) goto done;
done:
    res->comm_seconds = ss__dist_seconds(o->dist) - comm0;
    res->allreduce_seconds = ss__dist_reduce_seconds(o->dist) - red0;
    res->wait_seconds = ss__dist_wait_seconds(o->dist) - wait0;
    res->steps = r->st.step;
    res->best_step = r->st.best_step;
    res->best_score = r->st.best_score;
    res->hist = r->st.hist; /* handed over */
    memset(&r->st.hist, 0, sizeof r->st.hist);
    run_free(r);
    return rc;
}
