/* checkpoint.c: a model file plus the optimizer state and data position, on
 * gguf.h and model_file.h. Everything is f32 (never f16): resuming must
 * continue from exactly the numbers the run had. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/checkpoint.h"
#include "base/common.h"
#include "nn/gguf.h"
#include "nn/model.h"
#include "nn/model_file.h"

#define CKPT_FORMAT 1

int ss__ckpt_save(const char *path, const ss_model *m, const float *adam_m, const float *adam_v,
                  const ss__ckpt_state *st)
{
    ss__gguf_writer *w;
    int rc = ss__gguf_writer_new(&w);
    if (rc) return rc;
    const ss__train_history *h = &st->hist;
    int64_t np = (int64_t)m->n_params;
    if (!rc) rc = ss__model_file_add(w, m, SS_DTYPE_F32);
    if (!rc) rc = ss__gguf_set_u32(w, "train.format", CKPT_FORMAT);
    if (!rc) rc = ss__gguf_set_i64(w, "train.step", st->step);
    if (!rc) rc = ss__gguf_set_i64(w, "train.epoch", st->epoch);
    if (!rc) rc = ss__gguf_set_i64(w, "train.batch", st->batch);
    if (!rc) rc = ss__gguf_set_i64(w, "train.total_steps", st->total);
    if (!rc) rc = ss__gguf_set_u64(w, "train.seed", st->seed);
    if (!rc) rc = ss__gguf_set_u64(w, "train.data_fingerprint", st->data_fp);
    if (!rc) rc = ss__gguf_set_u32(w, "train.batch_size", (uint32_t)st->batch_size);
    if (!rc) rc = ss__gguf_set_str(w, "train.loss", ss__loss_name(st->loss));
    if (!rc) rc = ss__gguf_set_arr(w, "train.rng", SS_GGUF_U64, st->rng, 4);
    if (!rc) rc = ss__gguf_set_f32(w, "train.log_temp", st->log_temp);
    if (!rc) rc = ss__gguf_set_f32(w, "train.log_temp_m", st->log_temp_m);
    if (!rc) rc = ss__gguf_set_f32(w, "train.log_temp_v", st->log_temp_v);
    if (!rc) rc = ss__gguf_set_f64(w, "train.best_score", st->best_score);
    if (!rc) rc = ss__gguf_set_i64(w, "train.best_step", st->best_step);
    uint64_t n = (uint64_t)h->n, nd = (uint64_t)h->n_dev;
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.loss", SS_GGUF_F32, h->loss, n);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.lr", SS_GGUF_F32, h->lr, n);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.grad_norm", SS_GGUF_F32, h->grad_norm, n);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.temp", SS_GGUF_F32, h->temp, n);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.seconds", SS_GGUF_F64, h->seconds, n);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.epoch", SS_GGUF_I32, h->epoch, n);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.dev_step", SS_GGUF_I64, h->dev_step, nd);
    if (!rc) rc = ss__gguf_set_arr(w, "train.hist.dev_score", SS_GGUF_F64, h->dev_score, nd);
    if (!rc) rc = ss__gguf_add_tensor_f32(w, "train.adam_m", 1, &np, SS_GGML_F32, adam_m);
    if (!rc) rc = ss__gguf_add_tensor_f32(w, "train.adam_v", 1, &np, SS_GGML_F32, adam_v);
    if (rc) {
        rc = ss__fail_prefix(rc, "%s", path);
    } else {
        rc = ss__gguf_write(w, path);
    }
    ss__gguf_writer_free(w);
    return rc;
}

/* An array key of exactly n elements of type t, copied into a new buffer. */
static int get_array(const ss__gguf *g, const char *key, int t, size_t elem, uint64_t n, void **out)
{
    const void *d;
    uint64_t k;
    int rc = ss__gguf_get_arr(g, key, t, &d, &k);
    if (rc) return rc;
    if (k != n)
        return ss__fail(SS_ERR_FORMAT, "%s: key '%s' has %llu entries, expected %llu", ss__gguf_path(g), key,
                        (unsigned long long)k, (unsigned long long)n);
    *out = ss__malloc(n ? (size_t)n * elem : 1);
    if (!*out) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (n) memcpy(*out, d, (size_t)n * elem);
    return SS_OK;
}

int ss__ckpt_load(const char *path, size_t n_params, float *adam_m, float *adam_v, ss__ckpt_state *st)
{
    memset(st, 0, sizeof *st);
    ss__gguf *g;
    int rc = ss__gguf_open(path, &g);
    if (rc) return rc;
    uint32_t fmt = 0, bs = 0;
    if (!ss__gguf_find_kv(g, "train.format")) {
        ss__gguf_close(g);
        return ss__fail(SS_ERR_FORMAT, "%s: a model file, not a training checkpoint (no optimizer state); use "
                                       "--init to fine-tune from it", path);
    }
    rc = ss__gguf_get_u32(g, "train.format", &fmt);
    if (!rc && fmt != CKPT_FORMAT)
        rc = ss__fail(SS_ERR_FORMAT, "%s: checkpoint format %u, this build reads %d", path, fmt, CKPT_FORMAT);
    char *loss = NULL;
    if (!rc) rc = ss__gguf_get_i64(g, "train.step", &st->step);
    if (!rc) rc = ss__gguf_get_i64(g, "train.epoch", &st->epoch);
    if (!rc) rc = ss__gguf_get_i64(g, "train.batch", &st->batch);
    if (!rc) rc = ss__gguf_get_i64(g, "train.total_steps", &st->total);
    if (!rc) rc = ss__gguf_get_u64(g, "train.seed", &st->seed);
    if (!rc) rc = ss__gguf_get_u64(g, "train.data_fingerprint", &st->data_fp);
    if (!rc) rc = ss__gguf_get_u32(g, "train.batch_size", &bs);
    if (!rc) rc = ss__gguf_get_str(g, "train.loss", &loss);
    if (!rc && (st->loss = ss__loss_kind(loss)) < 0)
        rc = ss__fail(SS_ERR_FORMAT, "%s: unknown loss '%s'", path, loss);
    ss_free(loss);
    if (!rc) rc = ss__gguf_get_f32(g, "train.log_temp", &st->log_temp);
    if (!rc) rc = ss__gguf_get_f32(g, "train.log_temp_m", &st->log_temp_m);
    if (!rc) rc = ss__gguf_get_f32(g, "train.log_temp_v", &st->log_temp_v);
    if (!rc) rc = ss__gguf_get_f64(g, "train.best_score", &st->best_score);
    if (!rc) rc = ss__gguf_get_i64(g, "train.best_step", &st->best_step);
    if (!rc) {
        const void *d;
        uint64_t k;
        rc = ss__gguf_get_arr(g, "train.rng", SS_GGUF_U64, &d, &k);
        if (!rc && k != 4) rc = ss__fail(SS_ERR_FORMAT, "%s: key 'train.rng' must hold 4 numbers", path);
        if (!rc) memcpy(st->rng, d, sizeof st->rng);
    }
    if (!rc && (st->step < 0 || st->epoch < 0 || st->batch < 0 || bs < 2 || bs > (1u << 24) ||
                !isfinite(st->log_temp)))
        rc = ss__fail(SS_ERR_FORMAT, "%s: the training state is out of range", path);
    st->batch_size = (int)bs;
    ss__train_history *h = &st->hist;
    const void *d;
    uint64_t n = 0, nd = 0;
    if (!rc) rc = ss__gguf_get_arr(g, "train.hist.loss", SS_GGUF_F32, &d, &n);
    if (!rc) rc = ss__gguf_get_arr(g, "train.hist.dev_step", SS_GGUF_I64, &d, &nd);
    if (!rc && (n > (uint64_t)st->step || nd > n))
        rc = ss__fail(SS_ERR_FORMAT, "%s: the training history is longer than the run", path);
    if (!rc) rc = get_array(g, "train.hist.loss", SS_GGUF_F32, 4, n, (void **)&h->loss);
    if (!rc) rc = get_array(g, "train.hist.lr", SS_GGUF_F32, 4, n, (void **)&h->lr);
    if (!rc) rc = get_array(g, "train.hist.grad_norm", SS_GGUF_F32, 4, n, (void **)&h->grad_norm);
    if (!rc) rc = get_array(g, "train.hist.temp", SS_GGUF_F32, 4, n, (void **)&h->temp);
    if (!rc) rc = get_array(g, "train.hist.seconds", SS_GGUF_F64, 8, n, (void **)&h->seconds);
    if (!rc) rc = get_array(g, "train.hist.epoch", SS_GGUF_I32, 4, n, (void **)&h->epoch);
    if (!rc) rc = get_array(g, "train.hist.dev_step", SS_GGUF_I64, 8, nd, (void **)&h->dev_step);
    if (!rc) rc = get_array(g, "train.hist.dev_score", SS_GGUF_F64, 8, nd, (void **)&h->dev_score);
    h->n = h->cap = (int64_t)n;
    h->n_dev = h->cap_dev = (int64_t)nd;
    int64_t shape = (int64_t)n_params;
    if (!rc) rc = ss__gguf_read_f32(g, "train.adam_m", 1, &shape, adam_m);
    if (!rc) rc = ss__gguf_read_f32(g, "train.adam_v", 1, &shape, adam_v);
    ss__gguf_close(g);
    if (rc) ss__train_history_free(h);
    return rc;
}
