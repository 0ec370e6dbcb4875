/* model_file.c: ss_model_save / ss_model_load. Round trips (bit-exact in
 * f32, f16-rounded in f16), files that must be refused (wrong shape,
 * missing tensor, foreign architecture, NaN, ...), an interrupted save that
 * must leave the old file intact, allocation failures. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/common.h"
#include "base/f16.h"
#include "nn/gguf.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/model_file.h"
#include "tap.h"

static char dir[256];
static char pbuf[4][512];
static int pi;

static const char *tmp(const char *name)
{
    char *p = pbuf[pi++ & 3];
    snprintf(p, sizeof pbuf[0], "%s/%s", dir, name);
    return p;
}


static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = tap_read_file(a, &na), *y = tap_read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static void tiny_config(ss_config *c)
{
    ss_config_init(c);
    c->d_model = 16;
    c->n_layers = 2;
    c->n_heads = 2;
    c->d_ff = 24;
    c->max_len = 16;
    c->pooling = SS_POOL_MEAN;
    c->dropout = 0.25f;
}

static const char *texts[] = {"A man is playing a guitar.", "", "Ünïcödé and \xff bytes", "the cat sat on the mat"};
#define NTEXTS 4

/* ------------------------------------------------------------ round trips */

static void test_sha256(void)
{
    char hex[65];
    int rc = ss__sha256_hex("abc", 3, hex);
    tap_ok(!rc && !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
           "SHA-256('abc') is the FIPS 180-2 answer");
    rc = ss__sha256_hex("", 0, hex);
    tap_ok(!rc && !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "SHA-256('')");
}

static void test_round_trip(ss_tokenizer *tok)
{
    ss_config c;
    tiny_config(&c);
    ss_model *m = NULL, *a = NULL, *b = NULL;
    int rc = ss_model_init(&c, tok, 7, &m);
    tap_ok(rc == 0, "a tiny random model (%s)", ss_errmsg());
    if (rc) return;
    tap_ok(!strcmp(ss_model_fingerprint(m), ""), "a new model has no fingerprint");
    const char *p32 = tmp("m32.gguf"), *p16 = tmp("m16.gguf");
    rc = ss_model_save(m, p32, SS_DTYPE_F32);
    tap_ok(rc == 0, "save f32 (%s)", ss_errmsg());
    rc = ss_model_load(p32, &a);
    tap_ok(rc == 0, "load f32 (%s)", ss_errmsg());
    if (rc) {
        ss_model_free(m);
        return;
    }
    ss_config ca;
    ss_model_config(a, &ca);
    tap_ok(!memcmp(&ca, &m->cfg, sizeof ca), "the config survives (d_model %d, layers %d, heads %d, ffn %d, "
                                             "max_len %d, dropout %g)",
           ca.d_model, ca.n_layers, ca.n_heads, ca.d_ff, ca.max_len, (double)ca.dropout);
    tap_ok(a->n_params == m->n_params && !memcmp(a->params, m->params, m->n_params * sizeof(float)),
           "all %zu parameters are equal to the last bit", m->n_params);
    size_t la, lm;
    const void *ba = ss_tokenizer_bytes(ss_model_tokenizer(a), &la), *bm = ss_tokenizer_bytes(m->tok, &lm);
    tap_ok(la == lm && !memcmp(ba, bm, la), "the embedded tokenizer is the same %zu bytes", la);

    size_t n;
    uint8_t *bytes = tap_read_file(p32, &n);
    char hex[65] = "";
    if (bytes) rc = ss__sha256_hex(bytes, n, hex);
    free(bytes);
    tap_ok(strlen(ss_model_fingerprint(a)) == 64 && !strcmp(ss_model_fingerprint(a), hex),
           "the fingerprint is the SHA-256 of the file: %s", ss_model_fingerprint(a));

    /* the same model saved twice gives the same bytes, hence the same fingerprint */
    rc = ss_model_save(a, tmp("again.gguf"), SS_DTYPE_F32);
    tap_ok(!rc && same_file(p32, tmp("again.gguf")), "saving is deterministic (byte-identical files)");

    float ea[NTEXTS * 16], em[NTEXTS * 16];
    rc = ss_embed(m, texts, NULL, NTEXTS, 0, em);
    if (!rc) rc = ss_embed(a, texts, NULL, NTEXTS, 0, ea);
    tap_ok(!rc && !memcmp(ea, em, sizeof ea), "the loaded model embeds exactly like the original (%s)", ss_errmsg());

    /* f16 */
    rc = ss_model_save(m, p16, SS_DTYPE_F16);
    if (!rc) rc = ss_model_load(p16, &b);
    tap_ok(rc == 0, "save and load f16 (%s)", ss_errmsg());
    if (!rc) {
        size_t exact = 0;
        double worst = 0;
        for (size_t i = 0; i < m->n_params; i++) {
            float x = m->params[i], y = b->params[i];
            if (y == ss__f16_to_f32(ss__f32_to_f16(x))) exact++;
            double rel = fabs((double)x - y) / fmax(fabs(x), 0x1p-14);
            if (rel > worst) worst = rel;
        }
        tap_ok(exact == m->n_params, "every f16 parameter is the f32 one rounded to nearest even (%zu of %zu)", exact,
               m->n_params);
        tap_ok(worst <= 0x1p-11, "relative error <= 2^-11 (worst %.3g)", worst);
        struct stat s32, s16;
        stat(p32, &s32);
        stat(p16, &s16);
        tap_ok(s16.st_size < s32.st_size && strcmp(ss_model_fingerprint(b), ss_model_fingerprint(a)) != 0,
               "the f16 file is smaller (%lld vs %lld bytes) and has another fingerprint", (long long)s16.st_size,
               (long long)s32.st_size);
        float eb[NTEXTS * 16];
        rc = ss_embed(b, texts, NULL, NTEXTS, 0, eb);
        double maxd = 0;
        for (int i = 0; i < NTEXTS * 16; i++) maxd = fmax(maxd, fabs(eb[i] - em[i]));
        tap_ok(!rc && maxd < 1e-2, "f16 embeddings are close to f32 ones (max diff %.2g)", maxd);
        ss__gguf *g;
        if (!ss__gguf_open(p16, &g)) {
            int all16 = 1;
            for (size_t i = 0; i < ss__gguf_tensor_count(g); i++) all16 &= ss__gguf_tensor_at(g, i)->type == SS_GGML_F16;
            uint32_t ft = 9;
            tap_ok(all16 && !ss__gguf_get_u32(g, "general.file_type", &ft) && ft == 1,
                   "an f16 file has f16 tensors and general.file_type 1");
            ss__gguf_close(g);
        }
    }
    ss_model_free(b);
    b = NULL;

    /* the file's tensors: exactly the table, in its order */
    ss__gguf *g;
    ss__tensor_info *tab;
    int nt;
    if (!ss__gguf_open(p32, &g) && !ss__model_tensors(&m->cfg, &tab, &nt)) {
        int same = (int)ss__gguf_tensor_count(g) == nt;
        for (int i = 0; same && i < nt; i++) {
            const ss__gguf_tensor *t = ss__gguf_tensor_at(g, (size_t)i);
            same = !strcmp(t->name, tab[i].name) && t->ndim == tab[i].ndim && t->shape[0] == tab[i].shape[0] &&
                   (t->ndim == 1 || t->shape[1] == tab[i].shape[1]);
        }
        tap_ok(same, "the file holds the %d tensors of ss__model_tensors, same names, shapes, order", nt);
        char *arch = NULL;
        tap_ok(!ss__gguf_get_str(g, "general.architecture", &arch) && !strcmp(arch, "semsearch"),
               "general.architecture = semsearch");
        ss_free(arch);
        ss_free(tab);
        ss__gguf_close(g);
    }

    /* casefolding is part of the model */
    ss_tokenizer_set_norm(m->tok, SS_NORM_NFKC | SS_NORM_CASEFOLD);
    rc = ss_model_save(m, tmp("cf.gguf"), SS_DTYPE_F32);
    if (!rc) rc = ss_model_load(tmp("cf.gguf"), &b);
    tap_ok(!rc && ss_tokenizer_get_norm(ss_model_tokenizer(b)) == (SS_NORM_NFKC | SS_NORM_CASEFOLD),
           "the tokenizer's case folding is saved and restored");
    ss_model_free(b);
    b = NULL;
    ss_tokenizer *t2;
    rc = ss_tokenizer_load(tmp("cf.gguf"), &t2);
    tap_ok(!rc && ss_tokenizer_vocab_size(t2) == ss_tokenizer_vocab_size(tok) &&
               ss_tokenizer_get_norm(t2) == (SS_NORM_NFKC | SS_NORM_CASEFOLD),
           "the tokenizer alone can be read from a model file");
    ss_tokenizer_free(t2);
    {
        ss_model_file_info fi;
        struct stat st;
        ss__tensor_info *ti = NULL;
        int nti = -1;
        if (ss__model_tensors(&m->cfg, &ti, &nti)) nti = -1;
        ss_free(ti);
        rc = ss_model_file_info_get(tmp("cf.gguf"), &fi);
        tap_ok(!rc && stat(tmp("cf.gguf"), &st) == 0 && fi.file_size == (uint64_t)st.st_size &&
                   fi.gguf_version == 3 && !strcmp(fi.architecture, "semsearch") && fi.name &&
                   !strncmp(fi.name, "semsearch-d", 11) && !strcmp(fi.dtype, "f32") &&
                   nti > 0 && fi.tensors == (size_t)nti,
               "ss_model_file_info_get: size, format, name, dtype and tensors of a model file");
        ss_model_file_info_clear(&fi);
        ss_model_file_info_clear(NULL);
        tap_ok(ss_model_file_info_get(tmp("missing.gguf"), &fi) == SS_ERR_IO && fi.name == NULL,
               "ss_model_file_info_get: a missing file is SS_ERR_IO");
    }
    ss_tokenizer_set_norm(m->tok, SS_NORM_DEFAULT);

    /* pooling variants and a 0-layer model */
    static const int pools[] = {SS_POOL_CLS, SS_POOL_MAX};
    for (int i = 0; i < 2; i++) {
        ss_config cp = c;
        cp.pooling = pools[i];
        cp.n_layers = i; /* 0 and 1 blocks */
        ss_model *x = NULL, *y = NULL;
        rc = ss_model_init(&cp, tok, 3, &x);
        if (!rc) rc = ss_model_save(x, tmp("pool.gguf"), SS_DTYPE_F32);
        if (!rc) rc = ss_model_load(tmp("pool.gguf"), &y);
        ss_config cy;
        if (!rc) ss_model_config(y, &cy);
        tap_ok(!rc && cy.pooling == cp.pooling && cy.n_layers == cp.n_layers &&
                   !memcmp(x->params, y->params, x->n_params * sizeof(float)),
               "round trip with pooling %s and %d layers (%s)", i ? "max" : "cls", cp.n_layers, rc ? ss_errmsg() : "ok");
        ss_model_free(x);
        ss_model_free(y);
    }
    ss_model_free(a);
    ss_model_free(m);
}

/* ------------------------------------------------------------ bad files */

enum { V_GOOD, V_WRONG_SHAPE, V_MISSING, V_ARCH, V_VOCAB, V_NAN, V_SPM, V_EPS, V_I32, V_POOL, V_EXTRA, V_NO_SPM,
       V_HEADS };

/* A model file written key by key, with one thing wrong (variant). */
static int write_variant(const ss_model *m, const char *path, int variant)
{
    const ss_config *c = &m->cfg;
    ss__gguf_writer *w;
    int rc = ss__gguf_writer_new(&w);
    if (rc) return rc;
    size_t spm_len;
    const void *spm = ss_tokenizer_bytes(m->tok, &spm_len);
    rc |= ss__gguf_set_str(w, "general.architecture", variant == V_ARCH ? "llama" : "semsearch");
    rc |= ss__gguf_set_u32(w, "semsearch.vocab_size", (uint32_t)c->vocab_size + (variant == V_VOCAB));
    rc |= ss__gguf_set_u32(w, "semsearch.context_length", (uint32_t)c->max_len);
    rc |= ss__gguf_set_u32(w, "semsearch.embedding_length", (uint32_t)c->d_model);
    rc |= ss__gguf_set_u32(w, "semsearch.block_count", (uint32_t)c->n_layers);
    rc |= ss__gguf_set_u32(w, "semsearch.attention.head_count", variant == V_HEADS ? 3u : (uint32_t)c->n_heads);
    rc |= ss__gguf_set_u32(w, "semsearch.feed_forward_length", (uint32_t)c->d_ff * (variant == V_WRONG_SHAPE ? 2 : 1));
    rc |= ss__gguf_set_f32(w, "semsearch.attention.layer_norm_epsilon", variant == V_EPS ? 1e-12f : SS_LN_EPS);
    rc |= ss__gguf_set_str(w, "semsearch.pooling", variant == V_POOL ? "sum" : "mean");
    rc |= ss__gguf_set_str(w, "tokenizer.ggml.model", "semsearch-spm");
    if (variant != V_NO_SPM)
        rc |= ss__gguf_set_arr(w, "tokenizer.semsearch.spm", SS_GGUF_U8, variant == V_SPM ? (const void *)"garbage" : spm,
                               variant == V_SPM ? 7 : spm_len);
    ss__tensor_info *tab;
    int nt;
    ss_config tc = *c; /* the tensors are always those of m */
    rc |= ss__model_tensors(&tc, &tab, &nt);
    float *copy = malloc(m->n_params * sizeof(float));
    memcpy(copy, m->params, m->n_params * sizeof(float));
    if (variant == V_NAN) copy[m->n_params - 3] = NAN;
    for (int i = 0; i < nt && !rc; i++) {
        if (variant == V_MISSING && !strcmp(tab[i].name, "out_norm.bias")) continue;
        if (variant == V_I32 && !strcmp(tab[i].name, "pos_embd.weight"))
            rc |= ss__gguf_add_tensor(w, tab[i].name, tab[i].ndim, tab[i].shape, SS_GGML_I32, copy + tab[i].offset);
        else rc |= ss__gguf_add_tensor_f32(w, tab[i].name, tab[i].ndim, tab[i].shape, SS_GGML_F32, copy + tab[i].offset);
    }
    if (variant == V_EXTRA) {
        rc |= ss__gguf_add_tensor_f32(w, "train.adam_m", 1, (int64_t[]){(int64_t)m->n_params}, SS_GGML_F32, copy);
        rc |= ss__gguf_set_u64(w, "train.step", 12345);
    }
    if (!rc) rc = ss__gguf_write(w, path);
    ss__gguf_writer_free(w);
    ss_free(tab);
    free(copy);
    return rc;
}

static void test_bad_files(ss_tokenizer *tok)
{
    ss_config c;
    tiny_config(&c);
    ss_model *m;
    if (ss_model_init(&c, tok, 11, &m)) {
        tap_ok(0, "init: %s", ss_errmsg());
        return;
    }
    const char *p = tmp("variant.gguf");
    ss_model *x = NULL;
    int rc = write_variant(m, p, V_GOOD);
    if (!rc) rc = ss_model_load(p, &x);
    tap_ok(rc == 0 && !memcmp(x->params, m->params, m->n_params * sizeof(float)),
           "a file written key by key loads (the variants below differ in one thing) (%s)", ss_errmsg());
    ss_model_free(x);
    x = NULL;

    static const struct {
        int variant, code;
        const char *msg, *what;
    } cases[] = {
        {V_WRONG_SHAPE, SS_ERR_FORMAT, "tensor 'blk.0.ffn_up.weight' has shape (24, 16), expected (48, 16)",
         "a tensor of the wrong shape"},
        {V_MISSING, SS_ERR_FORMAT, "tensor 'out_norm.bias' is missing", "a missing tensor"},
        {V_ARCH, SS_ERR_FORMAT, "not a semsearch model (general.architecture is 'llama')", "another architecture"},
        {V_VOCAB, SS_ERR_FORMAT, "but the embedded tokenizer has", "vocab_size unlike the tokenizer's"},
        {V_NAN, SS_ERR_NUMERIC, "tensor 'out_norm.bias' holds NaN", "a NaN parameter"},
        {V_SPM, SS_ERR_TOKENIZER, "embedded tokenizer", "a corrupt embedded tokenizer"},
        {V_EPS, SS_ERR_MODEL, "LayerNorm epsilon", "another LayerNorm epsilon"},
        {V_I32, SS_ERR_FORMAT, "tensor 'pos_embd.weight' has type i32", "an integer tensor"},
        {V_POOL, SS_ERR_FORMAT, "semsearch.pooling is 'sum'", "an unknown pooling"},
        {V_NO_SPM, SS_ERR_FORMAT, "key 'tokenizer.semsearch.spm' is missing", "no tokenizer"},
        {V_HEADS, SS_ERR_FORMAT, "bad hyperparameters", "heads not dividing d_model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rc = write_variant(m, p, cases[i].variant);
        if (rc) {
            tap_ok(0, "%s: writing failed: %s", cases[i].what, ss_errmsg());
            continue;
        }
        x = NULL;
        rc = ss_model_load(p, &x);
        int code_ok = cases[i].code == SS_ERR_TOKENIZER ? rc != 0 : rc == cases[i].code;
        tap_ok(code_ok && !x && contains(ss_errmsg(), "variant.gguf") && contains(ss_errmsg(), cases[i].msg),
               "%s is refused: %s", cases[i].what, ss_errmsg());
        ss_model_free(x);
    }

    /* a checkpoint-like file with extra tensors and keys still loads */
    rc = write_variant(m, p, V_EXTRA);
    x = NULL;
    if (!rc) rc = ss_model_load(p, &x);
    tap_ok(rc == 0 && x && !memcmp(x->params, m->params, m->n_params * sizeof(float)),
           "extra tensors and keys (a training checkpoint) are ignored (%s)", ss_errmsg());
    ss_model_free(x);

    /* foreign files */
    FILE *f = fopen(tmp("text.gguf"), "w");
    fputs("just some text\n", f);
    fclose(f);
    rc = ss_model_load(tmp("text.gguf"), &x);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "text.gguf: not a GGUF file"), "a text file: %s", ss_errmsg());
    rc = ss_model_load(tap_srcpath("vocab/en-16k.model"), &x);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "not a GGUF file"), "a SentencePiece model: %s", ss_errmsg());
    rc = ss_model_load(tmp("missing.gguf"), &x);
    tap_ok(rc == SS_ERR_IO && contains(ss_errmsg(), "missing.gguf: No such file"), "a missing file: %s", ss_errmsg());
    /* a generic GGUF without the semsearch keys */
    ss__gguf_writer *w;
    rc = ss__gguf_writer_new(&w);
    if (!rc) rc = ss__gguf_set_str(w, "general.name", "x");
    if (!rc) rc = ss__gguf_write(w, tmp("generic.gguf"));
    ss__gguf_writer_free(w);
    rc = ss_model_load(tmp("generic.gguf"), &x);
    tap_ok(rc == SS_ERR_FORMAT && contains(ss_errmsg(), "not a semsearch model (no general.architecture)"),
           "a GGUF file of something else: %s", ss_errmsg());

    /* truncating a real model anywhere in its tensors */
    size_t n;
    uint8_t *good = tap_read_file(tmp("m32.gguf"), &n);
    int clean = good != NULL;
    for (size_t cut = 1; good && cut < n; cut += n / 97 + 1) {
        f = fopen(p, "wb");
        fwrite(good, 1, n - cut, f);
        fclose(f);
        rc = ss_model_load(p, &x);
        if (rc != SS_ERR_FORMAT || x || !contains(ss_errmsg(), "truncated")) {
            if (clean) tap_diag("cut %zu: rc %d: %s", cut, rc, ss_errmsg());
            clean = 0;
        }
    }
    free(good);
    tap_ok(clean, "a model file cut anywhere is refused as truncated");

    /* saving: bad arguments and values */
    rc = ss_model_save(m, tmp("x.gguf"), 7);
    tap_ok(rc == SS_ERR_ARG && access(tmp("x.gguf"), F_OK) != 0, "dtype 7 is refused: %s", ss_errmsg());
    tap_ok(ss_model_save(NULL, tmp("x.gguf"), 0) == SS_ERR_ARG && ss_model_save(m, NULL, 0) == SS_ERR_ARG &&
               ss_model_load(NULL, &x) == SS_ERR_ARG,
           "NULL arguments");
    float keep = m->params[5];
    m->params[5] = 1e5f;
    rc = ss_model_save(m, tmp("big.gguf"), SS_DTYPE_F16);
    tap_ok(rc == SS_ERR_NUMERIC && contains(ss_errmsg(), "f16 range") && access(tmp("big.gguf"), F_OK) != 0,
           "a weight beyond the f16 range is not saved as f16: %s", ss_errmsg());
    rc = ss_model_save(m, tmp("big.gguf"), SS_DTYPE_F32);
    tap_ok(rc == 0, "... but is as f32");
    m->params[5] = INFINITY;
    rc = ss_model_save(m, tmp("inf.gguf"), SS_DTYPE_F32);
    tap_ok(rc == SS_ERR_NUMERIC && contains(ss_errmsg(), "token_embd.weight' holds Inf") &&
               access(tmp("inf.gguf"), F_OK) != 0,
           "a model with Inf is not saved: %s", ss_errmsg());
    m->params[5] = keep;
    ss_model_free(m);
}

/* --------------------------------------------------------- interruption */

static void test_interrupted_save(ss_tokenizer *tok)
{
    ss_config c;
    tiny_config(&c);
    ss_model *old = NULL, *neu = NULL;
    int rc = ss_model_init(&c, tok, 1, &old);
    if (!rc) rc = ss_model_init(&c, tok, 2, &neu);
    const char *p = tmp("live.gguf"), *ref = tmp("live.ref");
    if (!rc) rc = ss_model_save(old, p, SS_DTYPE_F32);
    if (!rc) rc = ss_model_save(old, ref, SS_DTYPE_F32);
    if (rc) {
        tap_ok(0, "setup: %s", ss_errmsg());
        ss_model_free(old);
        ss_model_free(neu);
        return;
    }
    /* a child is killed (SIGXFSZ) in the middle of writing the new model */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {100000, 100000};
        setrlimit(RLIMIT_FSIZE, &rl);
        (void)!ss_model_save(neu, p, SS_DTYPE_F32);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ss_model *x = NULL;
    rc = ss_model_load(p, &x);
    tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ && same_file(p, ref) && !rc &&
               !memcmp(x->params, old->params, old->n_params * sizeof(float)),
           "a save killed half-way leaves the old file intact and loadable");
    ss_model_free(x);
    x = NULL;

    /* the same with the signal ignored: the write fails, the call says so */
    pid = fork();
    if (pid == 0) {
        struct rlimit rl = {100000, 100000};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int r = ss_model_save(neu, p, SS_DTYPE_F32);
        _exit(r == SS_ERR_IO && contains(ss_errmsg(), "live.gguf") ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && same_file(p, ref),
           "a failed write (file too large) returns SS_ERR_IO and leaves the old file intact");
    /* no temporary file is left behind by a failed (not killed) save */
    rc = ss_model_save(neu, p, SS_DTYPE_F32);
    if (!rc) rc = ss_model_load(p, &x);
    tap_ok(!rc && !memcmp(x->params, neu->params, neu->n_params * sizeof(float)), "a complete save replaces the file");
    ss_model_free(x);
    ss_model_free(old);
    ss_model_free(neu);
}

/* Failing the k-th allocation in save or load: SS_ERR_NOMEM, nothing leaks. */
static void test_alloc_failures(ss_tokenizer *tok)
{
    ss_config c;
    tiny_config(&c);
    ss_model *m;
    if (ss_model_init(&c, tok, 5, &m)) return;
    int all_ok = 1, k;
    for (k = 1; k < 300; k++) {
        ss__fail_alloc_after(k);
        int rc = ss_model_save(m, tmp("nomem.gguf"), SS_DTYPE_F16);
        ss__fail_alloc_after(0);
        if (!rc) break;
        if (rc != SS_ERR_NOMEM) {
            if (all_ok) tap_diag("save, allocation %d: %s", k, ss_errmsg());
            all_ok = 0;
        }
    }
    tap_ok(all_ok && k < 300, "save: each of the first %d allocations failing gives SS_ERR_NOMEM", k - 1);
    all_ok = 1;
    for (k = 1; k < 300; k++) {
        ss_model *x = NULL;
        ss__fail_alloc_after(k);
        int rc = ss_model_load(tmp("nomem.gguf"), &x);
        ss__fail_alloc_after(0);
        if (!rc) {
            ss_model_free(x);
            break;
        }
        if (rc != SS_ERR_NOMEM) {
            if (all_ok) tap_diag("load, allocation %d: %s", k, ss_errmsg());
            all_ok = 0;
        }
    }
    tap_ok(all_ok && k < 300, "load: each of the first %d allocations failing gives SS_ERR_NOMEM", k - 1);
    ss_model_free(m);
}

/* ss_store_model_path: the recorded model while readable, else the shipped
 * one, else an error naming both; ss_default_model_path looks under
 * $SEMSEARCH_DATA first (the one policy of the command and the extension) */
static void test_model_paths(void)
{
    char *p = NULL, shipped[4200], rec[4200];
    const char *old = getenv("SEMSEARCH_DATA");
    char *saved = old ? strdup(old) : NULL;
    snprintf(shipped, sizeof shipped, "%s/models", dir);
    mkdir(shipped, 0755);
    snprintf(shipped, sizeof shipped, "%s/models/en-base.gguf", dir);
    snprintf(rec, sizeof rec, "%s/recorded.gguf", dir);
    FILE *f = fopen(shipped, "w");
    if (f) fclose(f);
    f = fopen(rec, "w");
    if (f) fclose(f);
    setenv("SEMSEARCH_DATA", dir, 1);
    int rc = ss_default_model_path(&p);
    tap_ok(rc == SS_OK && p && !strcmp(p, shipped), "ss_default_model_path: under $SEMSEARCH_DATA first");
    ss_free(p);
    rc = ss_store_model_path(rec, &p);
    tap_ok(rc == SS_OK && p && !strcmp(p, rec), "ss_store_model_path: the recorded model while it exists");
    ss_free(p);
    unlink(rec);
    rc = ss_store_model_path(rec, &p);
    tap_ok(rc == SS_OK && p && !strcmp(p, shipped), "... the shipped one when the recorded file is gone");
    ss_free(p);
    rc = ss_store_model_path("", &p);
    tap_ok(rc == SS_OK && p && !strcmp(p, shipped), "... and when the database records none");
    ss_free(p);
    unlink(shipped);
    setenv("SEMSEARCH_DATA", dir, 1);
    p = NULL;
    rc = ss_store_model_path(rec, &p);
    /* the installed data directory may hold one: then it is found */
    if (rc == SS_OK) {
        tap_ok(1, "... (a shipped model installed: %s)", p);
        ss_free(p);
    } else {
        tap_ok(rc == SS_ERR_IO && !p && strstr(ss_errmsg(), "recorded.gguf, is not readable (No such file") &&
                   strstr(ss_errmsg(), "under $SEMSEARCH_DATA (") && strstr(ss_errmsg(), "beside the program ("),
               "neither: SS_ERR_IO naming the recorded file and every place looked at (%s)", ss_errmsg());
    }
    tap_ok(ss_store_model_path(rec, NULL) == SS_ERR_ARG, "ss_store_model_path(NULL out): SS_ERR_ARG");
    if (saved) setenv("SEMSEARCH_DATA", saved, 1);
    else unsetenv("SEMSEARCH_DATA");
    free(saved);
}

/* ss_model_share: handles on one copy of the weights, embedding at once in
 * threads, equal to the original bit for bit; freed in any order; what
 * would change shared weights refused. */
typedef struct share_job {
    ss_model *m;
    float out[64 * 16];
    int rc;
} share_job;
static const char *share_texts[64];
static void *share_embed(void *arg)
{
    share_job *j = arg;
    for (int r = 0; r < 20 && !j->rc; r++) j->rc = ss_embed(j->m, share_texts, NULL, 64, 16, j->out);
    return NULL;
}

static void test_share(ss_tokenizer *tok)
{
    static char buf[64][64];
    for (int i = 0; i < 64; i++) {
        snprintf(buf[i], sizeof buf[i], "text number %d about %s", i, i % 3 ? "dogs and cats" : "the sea");
        share_texts[i] = buf[i];
    }
    ss_config c;
    tiny_config(&c);
    c.vocab_size = ss_tokenizer_vocab_size(tok);
    ss_model *m = NULL;
    if (!tap_ok(ss_model_init(&c, tok, 11, &m) == SS_OK && ss_model_dim(m) * 64 * sizeof(float) <= sizeof(share_job){0}.out,
                "share: a tiny model")) return;
    const char *files[2] = {tmp("share32.gguf"), tmp("share8.gguf")};
    int ok = ss_model_save(m, files[0], SS_DTYPE_F32) == SS_OK && ss_model_save(m, files[1], SS_DTYPE_INT8) == SS_OK;
    ss_model_free(m);
    tap_ok(ok, "share: saved f32 and int8");
    for (int f = 0; f < 2 && ok; f++) {
        ss_model *a = NULL, *b = NULL, *x = NULL;
        static float ref[64 * 16];
        /* shared before any embedding: what ss_embed fills in on first use
         * is filled in by the share, before the threads start */
        if (ss_model_load(files[f], &a)) {
            tap_ok(0, "share: load %s (%s)", files[f], ss_errmsg());
            continue;
        }
        tap_ok(ss_model_share(a, &b) == SS_OK && b && b != a && b->params == a->params,
               "share %s: a second handle on the same weights", f ? "int8" : "f32");
        tap_ok(ss_embed(a, share_texts, NULL, 64, 16, ref) == SS_OK, "share: the original embeds");
        tap_ok(ss_model_share(NULL, &x) == SS_ERR_ARG && !x && ss_model_share(a, NULL) == SS_ERR_ARG,
               "share: NULL model or out refused");
        share_job ja = {a, {0}, 0}, jb = {b, {0}, 0};
        pthread_t ta, tb;
        int started = pthread_create(&ta, NULL, share_embed, &ja) == 0;
        started += pthread_create(&tb, NULL, share_embed, &jb) == 0;
        if (started > 0) pthread_join(ta, NULL);
        if (started > 1) pthread_join(tb, NULL);
        tap_ok(started == 2 && !ja.rc && !jb.rc && !memcmp(ja.out, ref, sizeof ref) && !memcmp(jb.out, ref, sizeof ref),
               "share %s: both handles embedding at once, 20 x 64 texts each, equal the original bit for bit",
               f ? "int8" : "f32");
        ss_model *o = NULL;
        if (ss_model_load(files[0], &o)) tap_diag("%s", ss_errmsg());
        tap_ok(ss_model_mix(a, o, 0.5f) == SS_ERR_ARG && strstr(ss_errmsg(), "shared") &&
                   ss_model_mix(b, o, 0.5f) == SS_ERR_ARG,
               "share: ss_model_mix of a shared model refused (%s)", ss_errmsg());
        int other = ss_model_precision(a) == SS_MATMUL_F32 ? SS_MATMUL_BF16 : SS_MATMUL_F32;
        tap_ok(ss_model_set_precision(b, other) == SS_ERR_ARG && ss_model_set_precision(b, ss_model_precision(b)) == SS_OK,
               "share: a new precision refused, the same one allowed");
        tap_ok(ss_model_identity_blocks(a) == SS_ERR_ARG && ss_model_copy_embeddings(b, o) == SS_ERR_ARG,
               "share: identity blocks and copied embeddings refused");
        ss_model_free(a); /* the original first: the share keeps the weights */
        static float again[64 * 16];
        tap_ok(ss_embed(b, share_texts, NULL, 64, 16, again) == SS_OK && !memcmp(again, ref, sizeof ref),
               "share %s: the original freed first, the share still embeds the same", f ? "int8" : "f32");
        tap_ok(ss_model_mix(b, o, 0.0f) == SS_OK, "share: the last handle alone may change its weights again");
        ss_model_free(b);
        ss_model_free(o);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/ss-modelfile-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    ss_tokenizer *tok;
    if (ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &tok)) {
        printf("Bail out! %s\n", ss_errmsg());
        return 1;
    }
    test_sha256();
    test_round_trip(tok);
    test_bad_files(tok);
    test_interrupted_save(tok);
    test_alloc_failures(tok);
    test_model_paths();
    test_share(tok);
    ss_tokenizer_free(tok);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) tap_diag("could not remove %s", dir);
    return tap_done();
}
