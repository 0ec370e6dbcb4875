/* api.c: the public training API of semsearch.h (training data, the run,
 * hard negatives) on trainset.h, train.h and mine.h. */
#include "config.h"

#include <string.h>

#include "base/common.h"
#include "nn/encoder.h"
#include "nn/model.h"
#include "train/mine.h"
#include "train/train.h"
#include "train/trainset.h"

/* the public kinds are the internal ones */
_Static_assert((int)SS_SOURCE_TEXT == (int)SS__SRC_TEXT && (int)SS_SOURCE_GROUPS == (int)SS__SRC_GROUPS &&
                   (int)SS_SOURCE_PAIRS == (int)SS__SRC_PAIRS && (int)SS_SOURCE_DOCS == (int)SS__SRC_DOCS &&
                   (int)SS_SOURCE_TRIPLETS == (int)SS__SRC_TRIPLETS,
               "source kinds");
_Static_assert((int)SS_LOSS_INFONCE == (int)SS__LOSS_INFONCE && (int)SS_LOSS_NTXENT == (int)SS__LOSS_NTXENT &&
                   (int)SS_LOSS_TRIPLET == (int)SS__LOSS_TRIPLET && (int)SS_LOSS_COSENT == (int)SS__LOSS_COSENT,
               "loss kinds");
_Static_assert((int)SS_SCHED_COSINE == (int)SS__SCHED_COSINE && (int)SS_SCHED_LINEAR == (int)SS__SCHED_LINEAR &&
                   (int)SS_SCHED_CONSTANT == (int)SS__SCHED_CONSTANT,
               "schedule kinds");
_Static_assert((int)SS_CURRIC_NONE == (int)SS__CURRIC_NONE && (int)SS_CURRIC_LENGTH == (int)SS__CURRIC_LENGTH &&
                   (int)SS_CURRIC_OVERLAP == (int)SS__CURRIC_OVERLAP,
               "curricula");

void ss_trainset_options_init(ss_trainset_options *o)
{
    if (o) memset(o, 0, sizeof *o);
}

int ss_trainset_new(ss_trainset **out) { return ss__trainset_new(out); }

void ss_trainset_free(ss_trainset *ts) { ss__trainset_free(ts); }

int ss_trainset_add_file(ss_trainset *ts, const char *path, double weight, const ss_trainset_options *o)
{
    if (!ts || !path) return ss__fail(SS_ERR_ARG, "ss_trainset_add_file: NULL argument");
    ss__load_opts lo = {0, 0, 0, 0};
    if (o) {
        lo.min_score = o->min_score;
        lo.has_min_score = o->has_min_score;
        lo.skip_bad = o->skip_bad;
        lo.graded = o->graded;
    }
    return ss__trainset_load(ts, path, weight, &lo);
}

int ss_trainset_is_docs_path(const char *path) { return path && ss__trainset_is_docs_path(path); }

int ss_trainset_n_sources(const ss_trainset *ts) { return ts ? ts->n_src : 0; }

int ss_trainset_get_source(const ss_trainset *ts, int i, ss_trainset_source *out)
{
    if (!ts || !out) return ss__fail(SS_ERR_ARG, "ss_trainset_get_source: NULL argument");
    if (i < 0 || i >= ts->n_src) return ss__fail(SS_ERR_RANGE, "training data: no source %d", i);
    const ss__source *s = &ts->src[i];
    out->name = s->name;
    out->kind = s->kind;
    out->weight = s->weight;
    out->examples = s->n;
    out->lines = s->lines;
    out->skipped_bad = s->skipped_bad;
    out->skipped = s->skipped;
    out->first_bad = s->first_bad;
    return SS_OK;
}

size_t ss_trainset_n_examples(const ss_trainset *ts) { return ts ? ts->n_examples : 0; }

size_t ss_trainset_n_texts(const ss_trainset *ts) { return ts ? ts->n_texts : 0; }

void ss_mine_options_init(ss_mine_options *o)
{
    if (!o) return;
    ss__mine_opts mo;
    ss__mine_opts_init(&mo);
    memset(o, 0, sizeof *o);
    o->skip = mo.skip;
    o->range = mo.range;
    o->seed = mo.seed;
}

int ss_mine_negatives(ss_model *m, const ss_trainset *ts, const ss_mine_options *o, ss_triplet **out, size_t *n)
{
    if (!m || !ts || !o || !out || !n) return ss__fail(SS_ERR_ARG, "ss_mine_negatives: NULL argument");
    *out = NULL;
    *n = 0;
    ss__mine_opts mo;
    ss__mine_opts_init(&mo);
    mo.skip = o->skip;
    mo.range = o->range;
    mo.seed = o->seed;
    mo.on_progress = o->on_progress;
    mo.ctx = o->ctx;
    size_t ne = ts->n_examples;
    uint32_t *neg = ss__malloc(sizeof *neg * (ne ? ne : 1));
    ss_triplet *t = ss__malloc(sizeof *t * (ne ? ne : 1));
    int rc = neg && t ? SS_OK : ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__mine_negatives(m, ts, &mo, neg);
    size_t k = 0;
    for (size_t e = 0; !rc && e < ne; e++) {
        if (neg[e] == SS__NO_TEXT) continue;
        uint32_t an = ts->members[ts->ex_off[e]], po = ts->members[ts->ex_off[e] + 1];
        t[k].anchor = ss__trainset_text(ts, an);
        t[k].anchor_len = ts->text_len[an];
        t[k].positive = ss__trainset_text(ts, po);
        t[k].positive_len = ts->text_len[po];
        t[k].negative = ss__trainset_text(ts, neg[e]);
        t[k].negative_len = ts->text_len[neg[e]];
        k++;
    }
    ss_free(neg);
    if (rc) {
        ss_free(t);
        return rc;
    }
    *out = t;
    *n = k;
    return SS_OK;
}

int ss_model_set_dropout(ss_model *m, float rate)
{
    if (!m) return ss__fail(SS_ERR_ARG, "ss_model_set_dropout: NULL model");
    if (!(rate >= 0 && rate < 1)) return ss__fail(SS_ERR_RANGE, "dropout %g is not in [0, 1)", (double)rate);
    m->cfg.dropout = rate;
    return SS_OK;
}

int ss_model_copy_embeddings(ss_model *dst, const ss_model *src)
{
    if (!dst || !src) return ss__fail(SS_ERR_ARG, "ss_model_copy_embeddings: NULL model");
    if (ss__model_check_unshared(dst, "ss_model_copy_embeddings")) return SS_ERR_ARG;
    return ss__model_copy_embeddings(dst, src);
}

int ss_model_identity_blocks(ss_model *m)
{
    if (!m) return ss__fail(SS_ERR_ARG, "ss_model_identity_blocks: NULL model");
    if (ss__model_check_unshared(m, "ss_model_identity_blocks")) return SS_ERR_ARG;
    ss__model_identity_blocks(m);
    return SS_OK;
}

/* ------------------------------------------------------------- the run */

/* The public options as the internal ones, field by field: F(public,
 * internal). One list for both directions: ss_train_options_init takes the
 * defaults from ss__train_opts_init (whose pointers are NULL), ss_train_run
 * hands the options to ss__train_run. Not in it: doc_pairs (a string,
 * parsed into t.docs) and the fields ss__train_run fills in itself. */
#define SS__TRAIN_OPTION_FIELDS(F)                                                                               \
    F(batch_size, batch_size) F(steps, steps) F(epochs, epochs) F(max_len, max_len) F(schedule, sched.kind)    \
    F(lr, sched.lr) F(min_lr, sched.min_lr) F(warmup_frac, warmup_frac) F(warmup_steps, warmup_steps)           \
    F(loss, loss) F(temperature, temperature) F(learn_temperature, learn_temperature) F(margin, margin)         \
    F(cosent_scale, cosent_scale) F(weight_decay, weight_decay) F(beta1, beta1) F(beta2, beta2) F(eps, eps)     \
    F(grad_clip, grad_clip) F(embedding_lr, embedding_lr) F(curriculum, curriculum) F(aug_delete, aug.del) F(aug_crop, aug.crop)             \
    F(aug_swap, aug.swap) F(grad_cache, grad_cache) F(seed, seed) F(checkpoint, checkpoint)                    \
    F(save_every, save_every) F(stop_at, stop_at) F(output, output) F(best, best) F(dtype, dtype)              \
    F(eval_path, eval_path) F(eval_every, eval_every) F(stop, stop) F(on_progress, on_progress)                \
    F(on_log, on_log) F(ctx, ctx) F(dist, dist)

/* each pair of the same type, so that a copy either way is exact (a
 * distinct pointer type draws a warning, a size difference an error) */
#define SS__SAME_TYPE(pub, in)                                                                                   \
    _Static_assert(sizeof(&((ss_train_options *)0)->pub == &((ss__train_opts *)0)->in) &&                      \
                       sizeof ((ss_train_options *)0)->pub == sizeof ((ss__train_opts *)0)->in,                \
                   "ss_train_options." #pub);
SS__TRAIN_OPTION_FIELDS(SS__SAME_TYPE)
#undef SS__SAME_TYPE

void ss_train_options_init(ss_train_options *o)
{
    if (!o) return;
    ss__train_opts t;
    ss__train_opts_init(&t);
    memset(o, 0, sizeof *o);
#define SS__TO_PUBLIC(pub, in) o->pub = t.in;
    SS__TRAIN_OPTION_FIELDS(SS__TO_PUBLIC)
#undef SS__TO_PUBLIC
}

int ss_train_loss_kind(const char *name) { return name ? ss__loss_kind(name) : -1; }

const char *ss_train_loss_name(int loss) { return ss__loss_name(loss); }

int ss_train_schedule_kind(const char *name) { return name ? ss__schedule_kind(name) : -1; }

int ss_train_check_doc_pairs(const char *spec)
{
    if (!spec) return ss__fail(SS_ERR_ARG, "ss_train_check_doc_pairs: NULL spec");
    ss__docpair_opts d;
    ss__docpair_opts_init(&d);
    return ss__docpair_parse(spec, &d);
}

int ss_train_run(ss_model *model, const ss_trainset *ts, const ss_train_options *o, const char *resume,
                 ss_train_result *res)
{
    if (!res) return ss__fail(SS_ERR_ARG, "ss_train_run: NULL result");
    if (!o) {
        memset(res, 0, sizeof *res);
        res->saved_step = res->best_step = -1;
        return ss__fail(SS_ERR_ARG, "ss_train_run: NULL options");
    }
    ss__train_opts t;
    ss__train_opts_init(&t);
#define SS__TO_INTERNAL(pub, in) t.in = o->pub;
    SS__TRAIN_OPTION_FIELDS(SS__TO_INTERNAL)
#undef SS__TO_INTERNAL
    if (o->doc_pairs) {
        int rc = ss__docpair_parse(o->doc_pairs, &t.docs);
        if (rc) {
            memset(res, 0, sizeof *res);
            res->saved_step = res->best_step = -1;
            return rc;
        }
    }
    if (o->precision != SS_MATMUL_F32 && o->precision != SS_MATMUL_BF16) {
        memset(res, 0, sizeof *res);
        res->saved_step = res->best_step = -1;
        return ss__fail(SS_ERR_ARG, "ss_train_run: precision %d: training runs in f32 or bf16", o->precision);
    }
    /* the parameters change: int8 weights made from them would be stale
     * (dropping them fills the f32 parameters in from an int8 file first) */
    if (model && ss__model_check_unshared(model, "ss_train_run")) {
        memset(res, 0, sizeof *res);
        res->saved_step = res->best_step = -1;
        return SS_ERR_ARG;
    }
    if (model) {
        ss__model_drop_quant(model);
        model->prec = SS_MATMUL_F32;
    }
    /* not in the field table: the training step's encoders take it as their
     * thread's default precision (encoder.h) */
    ss__encoder_default_precision(o->precision);
    int rc = ss__train_run(model, ts, &t, resume, res);
    ss__encoder_default_precision(SS_MATMUL_F32);
    return rc;
}

void ss_train_result_free(ss_train_result *res)
{
    if (res) ss__train_history_free(&res->hist);
}
