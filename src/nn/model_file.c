/* model_file.c: ss_model_load / ss_model_save over gguf.h. A model file
 * carries its tokenizer, so that one file is all a user needs. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/common.h"
#include "nn/gguf.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/model_file.h"
#include "nn/quant.h"
#include "base/textio.h"

int ss__sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) {
        out[0] = '\0';
        return ss__fail(SS_ERR, "SHA-256 failed (OpenSSL)");
    }
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return SS_OK;
}

/* ------------------------------------------------------------------ write */

/* Refuses what the reader would refuse, so a bad model is never written. */
static int check_values(const ss__tensor_info *t, const float *p, int dtype)
{
    for (size_t i = 0; i < t->numel; i++) {
        if (!isfinite(p[i]))
            return ss__fail(SS_ERR_NUMERIC, "tensor '%s' holds %s at index %zu; the model is not saved", t->name,
                            isnan(p[i]) ? "NaN" : "Inf", i);
        /* 65520 and above round to inf in f16 */
        if (dtype == SS_DTYPE_F16 && fabsf(p[i]) >= 65520.0f)
            return ss__fail(SS_ERR_NUMERIC, "tensor '%s' holds %g at index %zu, beyond the f16 range; save as f32",
                            t->name, (double)p[i], i);
    }
    return SS_OK;
}

/* A matrix as q8_row (quant.h): quantized from the f32 parameters, so that
 * the same parameters always give the same bytes. */
static int add_q8(ss__gguf_writer *w, const ss__tensor_info *t, const float *p)
{
    size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
    uint8_t *buf = ss__malloc(rows * 4 + rows * cols + 1);
    if (!buf) return ss__fail(SS_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
    float *scale = ss__malloc(rows * sizeof(float) + 1);
    if (!scale) {
        ss_free(buf);
        return ss__fail(SS_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
    }
    ss__q8_quantize((int8_t *)(buf + rows * 4), scale, p, rows, cols);
    memcpy(buf, scale, rows * 4); /* little-endian host: gguf.c checks */
    ss_free(scale);
    return ss__gguf_add_tensor_owned(w, t->name, t->ndim, t->shape, SS_GGML_Q8_ROW, buf);
}

int ss__model_file_add(ss__gguf_writer *w, const ss_model *m, int dtype)
{
    if (!w || !m) return ss__fail(SS_ERR_ARG, "ss__model_file_add: NULL argument");
    if (dtype != SS_DTYPE_F32 && dtype != SS_DTYPE_F16 && dtype != SS_DTYPE_INT8)
        return ss__fail(SS_ERR_ARG, "model file: dtype %d is not SS_DTYPE_F32, SS_DTYPE_F16 or SS_DTYPE_INT8", dtype);
    const ss_config *c = &m->cfg;
    int rc = ss__config_check(c);
    if (rc) return rc;
    size_t spm_len = 0;
    const void *spm = m->tok ? ss_tokenizer_bytes(m->tok, &spm_len) : NULL;
    if (!spm || !spm_len) return ss__fail(SS_ERR_ARG, "model file: the model has no tokenizer");

    ss__tensor_info *tab = NULL;
    int nt = 0;
    if ((rc = ss__model_tensors(c, &tab, &nt))) return rc;
    for (int i = 0; i < nt && !rc; i++) {
        if (tab[i].offset + tab[i].numel > m->n_params)
            rc = ss__fail(SS_ERR, "tensor '%s' lies outside the parameter buffer", tab[i].name);
        else rc = check_values(&tab[i], m->params + tab[i].offset, dtype);
    }
    if (rc) {
        ss_free(tab);
        return rc;
    }

    char name[64];
    snprintf(name, sizeof name, "semsearch-d%d-l%d", c->d_model, c->n_layers);
    if (!rc) rc = ss__gguf_set_str(w, "general.architecture", SS_MODEL_ARCH);
    if (!rc) rc = ss__gguf_set_str(w, "general.name", name);
    if (!rc) rc = ss__gguf_set_u32(w, "general.file_type", dtype == SS_DTYPE_F16 ? 1 : dtype == SS_DTYPE_INT8 ? SS_GGML_Q8_ROW : 0);
    if (!rc) rc = ss__gguf_set_u32(w, "semsearch.vocab_size", (uint32_t)c->vocab_size);
    if (!rc) rc = ss__gguf_set_u32(w, "semsearch.context_length", (uint32_t)c->max_len);
    if (!rc) rc = ss__gguf_set_u32(w, "semsearch.embedding_length", (uint32_t)c->d_model);
    if (!rc) rc = ss__gguf_set_u32(w, "semsearch.block_count", (uint32_t)c->n_layers);
    if (!rc) rc = ss__gguf_set_u32(w, "semsearch.attention.head_count", (uint32_t)c->n_heads);
    if (!rc) rc = ss__gguf_set_u32(w, "semsearch.feed_forward_length", (uint32_t)c->d_ff);
    if (!rc) rc = ss__gguf_set_f32(w, "semsearch.attention.layer_norm_epsilon", SS_LN_EPS);
    if (!rc) rc = ss__gguf_set_str(w, "semsearch.pooling", ss_pooling_name(c->pooling));
    if (!rc) rc = ss__gguf_set_f32(w, "semsearch.dropout", c->dropout);
    /* written only when set: files of models with the norm stay as they were */
    if (!rc && c->no_out_norm) rc = ss__gguf_set_u32(w, "semsearch.output_norm", 0);
    if (!rc) rc = ss__gguf_set_str(w, "tokenizer.ggml.model", SS_MODEL_TOKENIZER_KIND);
    if (!rc) rc = ss__gguf_set_arr(w, "tokenizer.semsearch.spm", SS_GGUF_U8, spm, spm_len);
    if (!rc) rc = ss__gguf_set_u32(w, "tokenizer.semsearch.norm_flags", (uint32_t)ss_tokenizer_get_norm(m->tok));
    int ftype = dtype == SS_DTYPE_F16 ? SS_GGML_F16 : SS_GGML_F32;
    for (int i = 0; i < nt && !rc; i++) {
        if (dtype == SS_DTYPE_INT8 && tab[i].ndim == 2) rc = add_q8(w, &tab[i], m->params + tab[i].offset);
        else rc = ss__gguf_add_tensor_f32(w, tab[i].name, tab[i].ndim, tab[i].shape, ftype, m->params + tab[i].offset);
    }
    ss_free(tab);
    return rc;
}

int ss_model_save(const ss_model *m, const char *path, int dtype)
{
    if (!m || !path) return ss__fail(SS_ERR_ARG, "ss_model_save: NULL argument");
    /* the parameters of an int8 file filled in: a cache, the model unchanged */
    ss__model_materialize((ss_model *)m);
    ss__gguf_writer *w;
    int rc = ss__gguf_writer_new(&w);
    if (rc) return rc;
    rc = ss__model_file_add(w, m, dtype);
    if (rc) {
        rc = ss__fail_prefix(rc, "%s", path);
    } else {
        rc = ss__gguf_write(w, path);
    }
    ss__gguf_writer_free(w);
    if (!rc) ss__clear_error();
    return rc;
}

/* ------------------------------------------------------------------- read */

static int get_int_key(const ss__gguf *g, const char *key, int *v)
{
    uint32_t u;
    int rc = ss__gguf_get_u32(g, key, &u);
    if (rc) return rc;
    if (u > INT_MAX) return ss__fail(SS_ERR_FORMAT, "%s: key '%s' = %u is too large", ss__gguf_path(g), key, u);
    *v = (int)u;
    return SS_OK;
}

static int read_config(const ss__gguf *g, ss_config *c)
{
    const char *path = ss__gguf_path(g);
    char *s = NULL;
    int rc = ss__gguf_get_str(g, "general.architecture", &s);
    if (rc) return ss__fail(rc, "%s: not a semsearch model (%s)", path,
                            ss__gguf_find_kv(g, "general.architecture") ? "general.architecture is not a string"
                                                                        : "no general.architecture");
    if (strcmp(s, SS_MODEL_ARCH) != 0) {
        rc = ss__fail(SS_ERR_FORMAT, "%s: not a semsearch model (general.architecture is '%.64s')", path, s);
        ss_free(s);
        return rc;
    }
    ss_free(s);
    memset(c, 0, sizeof *c);
    ss_config_init(c);
    if ((rc = get_int_key(g, "semsearch.vocab_size", &c->vocab_size)) ||
        (rc = get_int_key(g, "semsearch.context_length", &c->max_len)) ||
        (rc = get_int_key(g, "semsearch.embedding_length", &c->d_model)) ||
        (rc = get_int_key(g, "semsearch.block_count", &c->n_layers)) ||
        (rc = get_int_key(g, "semsearch.attention.head_count", &c->n_heads)) ||
        (rc = get_int_key(g, "semsearch.feed_forward_length", &c->d_ff)))
        return rc;
    if ((rc = ss__gguf_get_str(g, "semsearch.pooling", &s))) return rc;
    c->pooling = -1;
    for (int i = 0; ss_pooling_name(i); i++)
        if (!strcmp(s, ss_pooling_name(i))) c->pooling = i;
    if (c->pooling < 0) {
        rc = ss__fail(SS_ERR_FORMAT, "%s: semsearch.pooling is '%.32s', expected mean, cls, max or meanmax", path, s);
        ss_free(s);
        return rc;
    }
    ss_free(s);
    if (ss__gguf_find_kv(g, "semsearch.dropout")) {
        if ((rc = ss__gguf_get_f32(g, "semsearch.dropout", &c->dropout))) return rc;
        if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
            return ss__fail(SS_ERR_FORMAT, "%s: semsearch.dropout %g is not in [0, 1)", path, (double)c->dropout);
    }
    if (ss__gguf_find_kv(g, "semsearch.output_norm")) {
        int on;
        if ((rc = get_int_key(g, "semsearch.output_norm", &on))) return rc;
        if (on != 0 && on != 1) return ss__fail(SS_ERR_FORMAT, "%s: semsearch.output_norm is %d, not 0 or 1", path, on);
        c->no_out_norm = !on;
    }
    if (ss__gguf_find_kv(g, "semsearch.attention.layer_norm_epsilon")) {
        float eps;
        if ((rc = ss__gguf_get_f32(g, "semsearch.attention.layer_norm_epsilon", &eps))) return rc;
        if (eps != SS_LN_EPS)
            return ss__fail(SS_ERR_MODEL, "%s: the model's LayerNorm epsilon is %g, but this semsearch computes with %g",
                            path, (double)eps, (double)SS_LN_EPS);
    }
    rc = ss__config_check(c);
    if (rc) return ss__fail_prefix(SS_ERR_FORMAT, "%s: bad hyperparameters", path);
    return SS_OK;
}

static int read_tokenizer(const ss__gguf *g, ss_tokenizer **tok)
{
    const char *path = ss__gguf_path(g);
    char *kind = NULL;
    int rc = ss__gguf_get_str(g, "tokenizer.ggml.model", &kind);
    if (rc) return rc;
    if (strcmp(kind, SS_MODEL_TOKENIZER_KIND) != 0) {
        rc = ss__fail(SS_ERR_FORMAT, "%s: tokenizer.ggml.model is '%.64s', expected '%s'", path, kind,
                      SS_MODEL_TOKENIZER_KIND);
        ss_free(kind);
        return rc;
    }
    ss_free(kind);
    const void *spm;
    uint64_t n;
    if ((rc = ss__gguf_get_arr(g, "tokenizer.semsearch.spm", SS_GGUF_U8, &spm, &n))) return rc;
    uint32_t flags = SS_NORM_DEFAULT;
    if (ss__gguf_find_kv(g, "tokenizer.semsearch.norm_flags") &&
        (rc = ss__gguf_get_u32(g, "tokenizer.semsearch.norm_flags", &flags)))
        return rc;
    if (flags & ~(uint32_t)(SS_NORM_NFKC | SS_NORM_CASEFOLD | SS_NORM_SPLIT_PUNCT))
        return ss__fail(SS_ERR_FORMAT, "%s: tokenizer.semsearch.norm_flags %#x has unknown bits", path, flags);
    rc = ss_tokenizer_load_bytes(spm, (size_t)n, tok);
    if (rc) return ss__fail_prefix(rc, "%s: embedded tokenizer", path);
    ss_tokenizer_set_norm(*tok, (int)flags);
    return SS_OK;
}

static const char *const q8_names[SS__Q8_PER_BLOCK] = {"attn_qkv", "attn_out", "ffn_up", "ffn_down"};

/* 1 if every block matrix of the file is q8_row */
static int blocks_all_q8(const ss__gguf *g, const ss_config *c)
{
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < SS__Q8_PER_BLOCK; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, q8_names[k]);
            const ss__gguf_tensor *t = ss__gguf_find_tensor(g, name);
            if (!t || t->type != SS_GGML_Q8_ROW) return 0;
        }
    return c->n_layers > 0;
}

/* The blocks' int8 matrices as stored into m->q8, leaving their f32
 * copies in m->params unfilled (m->lazy): an int8 model computing in int8
 * never touches those pages, so it takes about its file's size in memory. */
static int read_q8_blocks(const ss__gguf *g, ss_model *m)
{
    size_t n = (size_t)m->cfg.n_layers * SS__Q8_PER_BLOCK;
    m->q8 = ss__calloc(n, sizeof *m->q8);
    if (!m->q8) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int rc = SS_OK;
    for (int l = 0; l < m->cfg.n_layers && !rc; l++)
        for (int k = 0; k < SS__Q8_PER_BLOCK && !rc; k++) {
            size_t rows, cols, off;
            ss__model_block_matrix(&m->cfg, l, k, &rows, &cols, &off);
            ss__q8 *q = &m->q8[ss__q8_index(l, k)];
            q->q = ss__malloc(rows * cols + 1);
            q->scale = ss__malloc(rows * sizeof(float) + 1);
            q->rows = rows, q->cols = cols;
            if (!q->q || !q->scale) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                break;
            }
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, q8_names[k]);
            int64_t shape[2] = {(int64_t)rows, (int64_t)cols};
            rc = ss__gguf_read_q8_row(g, name, 2, shape, q->q, q->scale);
        }
    if (!rc) m->lazy |= SS__LAZY_BLOCKS;
    return rc;
}

/* An int8 token table as stored into m->wte_q8, the f32 one left unfilled:
 * the table is most of a static model (16000 x 512), a quarter in int8. */
static int read_q8_tokens(const ss__gguf *g, ss_model *m)
{
    size_t rows = (size_t)m->cfg.vocab_size, cols = (size_t)m->cfg.d_model;
    ss__q8 *q = &m->wte_q8;
    q->q = ss__malloc(rows * cols + 1);
    q->scale = ss__malloc(rows * sizeof(float) + 1);
    q->rows = rows, q->cols = cols;
    if (!q->q || !q->scale) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int64_t shape[2] = {(int64_t)rows, (int64_t)cols};
    int rc = ss__gguf_read_q8_row(g, "token_embd.weight", 2, shape, q->q, q->scale);
    if (!rc) m->lazy |= SS__LAZY_TOKENS;
    return rc;
}

/* 1 if tensor t of the model is a block matrix read by read_q8_blocks */
static int is_block_matrix(const ss__tensor_info *t)
{
    if (strncmp(t->name, "blk.", 4) || t->ndim != 2) return 0;
    for (int k = 0; k < SS__Q8_PER_BLOCK; k++) {
        const char *p = strchr(t->name + 4, '.');
        size_t len = strlen(q8_names[k]);
        if (p && !strncmp(p + 1, q8_names[k], len) && !strcmp(p + 1 + len, ".weight")) return 1;
    }
    return 0;
}

int ss__model_file_read(const ss__gguf *g, ss_model **out)
{
    *out = NULL;
    const char *path = ss__gguf_path(g);
    ss_config c;
    int rc = read_config(g, &c);
    if (rc) return rc;
    ss_tokenizer *tok;
    if ((rc = read_tokenizer(g, &tok))) return rc;
    int tv = ss_tokenizer_vocab_size(tok);
    if (tv != c.vocab_size) {
        ss_tokenizer_free(tok);
        return ss__fail(SS_ERR_FORMAT, "%s: semsearch.vocab_size is %d but the embedded tokenizer has %d pieces", path,
                        c.vocab_size, tv);
    }
    ss__tensor_info *tab = NULL;
    int nt = 0;
    if ((rc = ss__model_tensors(&c, &tab, &nt))) {
        ss_tokenizer_free(tok);
        return rc;
    }
    /* Every tensor must be in the file, with its shape, before the buffer is
     * allocated: the config alone could ask for gigabytes (found by fuzzing). */
    for (int i = 0; i < nt && !rc; i++) {
        rc = ss__gguf_check_f32(g, tab[i].name, tab[i].ndim, tab[i].shape);
        /* int8 is for matrices: a vector labelled q8_row is a damaged file */
        if (!rc && tab[i].ndim != 2 && ss__gguf_find_tensor(g, tab[i].name)->type == SS_GGML_Q8_ROW)
            rc = ss__fail(SS_ERR_FORMAT, "%s: tensor '%s' is q8_row, but only matrices are stored as int8", path,
                          tab[i].name);
    }
    if (rc) {
        ss_free(tab);
        ss_tokenizer_free(tok);
        return rc;
    }
    ss_model *m;
    if ((rc = ss__model_alloc(&c, tok, &m))) { /* tok is the model's now, freed on failure too */
        ss_free(tab);
        return rc;
    }
    /* an int8 file computes in int8 by default */
    int any_q8 = 0;
    for (size_t i = 0; i < ss__gguf_tensor_count(g); i++) any_q8 |= ss__gguf_tensor_at(g, i)->type == SS_GGML_Q8_ROW;
    if (any_q8) m->prec = SS_MATMUL_INT8;
    int lazy = blocks_all_q8(g, &c);
    if (lazy) rc = read_q8_blocks(g, m);
    const ss__gguf_tensor *te = ss__gguf_find_tensor(g, "token_embd.weight");
    int lazy_tokens = te && te->type == SS_GGML_Q8_ROW;
    if (!rc && lazy_tokens) rc = read_q8_tokens(g, m);
    for (int i = 0; i < nt && !rc; i++) {
        const ss__tensor_info *t = &tab[i];
        if (lazy && is_block_matrix(t)) continue; /* in m->q8 */
        if (lazy_tokens && !strcmp(t->name, "token_embd.weight")) continue; /* in m->wte_q8 */
        if (t->offset + t->numel > m->n_params) {
            rc = ss__fail(SS_ERR, "tensor '%s' lies outside the parameter buffer", t->name);
            break;
        }
        float *dst = m->params + t->offset;
        if ((rc = ss__gguf_read_f32(g, t->name, t->ndim, t->shape, dst))) break;
        for (size_t j = 0; j < t->numel; j++)
            if (!isfinite(dst[j])) {
                rc = ss__fail(SS_ERR_NUMERIC, "%s: tensor '%s' holds %s at index %zu", path, t->name,
                              isnan(dst[j]) ? "NaN" : "Inf", j);
                break;
            }
    }
    ss_free(tab);
    /* int8 matrices in only some blocks: all of them quantized from the
     * parameters (the int8 ones come back as stored, quant.h) */
    if (!rc && any_q8 && !lazy && c.n_layers) rc = ss__model_quantize(m);
    size_t size;
    const void *bytes = ss__gguf_bytes(g, &size);
    if (!rc) rc = ss__sha256_hex(bytes, size, m->fingerprint);
    if (rc) {
        ss_model_free(m);
        return rc;
    }
    *out = m;
    return SS_OK;
}

int ss_model_load(const char *path, ss_model **out)
{
    if (!out || !path) return ss__fail(SS_ERR_ARG, "ss_model_load: NULL argument");
    *out = NULL;
    ss__gguf *g;
    int rc = ss__gguf_open(path, &g);
    if (rc) return rc;
    rc = ss__model_file_read(g, out);
    ss__gguf_close(g);
    /* the environment's precision for programs that have no option for it */
    const char *env = getenv("SEMSEARCH_PRECISION");
    if (!rc && env && *env) {
        int prec = ss_precision_kind(env);
        if (prec < 0)
            rc = ss__fail(SS_ERR_ARG, "SEMSEARCH_PRECISION is '%.32s', expected f32, bf16 or int8", env);
        else rc = ss_model_set_precision(*out, prec);
        if (rc) {
            ss_model_free(*out);
            *out = NULL;
        }
    }
    if (!rc) ss__clear_error();
    return rc;
}

/* ss_tokenizer_load (public, semsearch.h) lives here, not in text/: a
 * model file's tokenizer is read with the model file's reader. */
int ss_tokenizer_load(const char *path, ss_tokenizer **out)
{
    if (!out || !path) return ss__fail(SS_ERR_ARG, "ss_tokenizer_load: NULL argument");
    *out = NULL;
    int fd;
    uint64_t size;
    int rc = ss__open_regular(path, &fd, &size);
    if (rc) return rc;
    char magic[4];
    ssize_t k;
    do k = pread(fd, magic, 4, 0);
    while (k < 0 && errno == EINTR);
    if (k == 4 && !memcmp(magic, "GGUF", 4)) {
        ss__gguf *g;
        rc = ss__gguf_open_fd(fd, size, path, &g);
        if (!rc) {
            ss_config c;
            rc = read_config(g, &c);
            if (!rc) rc = read_tokenizer(g, out);
            ss__gguf_close(g);
        }
    } else {
        rc = ss__tokenizer_load_fd(fd, size, path, out);
    }
    close(fd);
    if (!rc) ss__clear_error();
    return rc;
}

int ss_model_file_info_get(const char *path, ss_model_file_info *info)
{
    if (!path || !info) return ss__fail(SS_ERR_ARG, "ss_model_file_info_get: NULL argument");
    memset(info, 0, sizeof *info);
    ss__gguf *g;
    int rc = ss__gguf_open(path, &g);
    if (rc) return rc;
    size_t size;
    (void)ss__gguf_bytes(g, &size);
    info->file_size = size;
    info->gguf_version = SS_GGUF_VERSION; /* the only version the reader accepts */
    info->architecture = SS_MODEL_ARCH;   /* ss_model_load refuses any other */
    /* the tensor type: the model's tensors all have one type, or "mixed";
     * each tensor's type, name and shape in info->tensor */
    int type = -1;
    info->tensors = ss__gguf_tensor_count(g);
    info->tensor = ss__calloc(info->tensors ? info->tensors : 1, sizeof *info->tensor);
    if (!info->tensor) {
        ss__gguf_close(g);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < info->tensors; i++) {
        const ss__gguf_tensor *gt = ss__gguf_tensor_at(g, i);
        int t = gt->type;
        type = type == -1 || type == t ? t : -2;
        ss_model_tensor *o = &info->tensor[i];
        snprintf(o->name, sizeof o->name, "%s", gt->name);
        o->type = ss__ggml_type_name(t);
        o->ndim = gt->ndim;
        for (int d = 0; d < gt->ndim && d < 4; d++) o->shape[d] = gt->shape[d];
        o->bytes = gt->nbytes;
    }
    info->dtype = type >= 0 ? ss__ggml_type_name(type) : "mixed";
    char *name = NULL;
    if (ss__gguf_find_kv(g, "general.name") && ss__gguf_get_str(g, "general.name", &name)) name = NULL;
    info->name = name;
    ss__gguf_close(g);
    ss__clear_error();
    return SS_OK;
}

void ss_model_file_info_clear(ss_model_file_info *info)
{
    if (!info) return;
    ss_free(info->name);
    ss_free(info->tensor);
    memset(info, 0, sizeof *info);
}
