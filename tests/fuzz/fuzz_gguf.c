/* fuzz_gguf.c: the GGUF reader and the model loader on arbitrary bytes.
 * Invariants: a file either opens or fails with a status (never a crash);
 * every tensor of an opened file can be read whole (an int8 one may be
 * refused for its values); every string value reads back whole or is
 * refused; ss_model_load never crashes, and a model it loads embeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "fuzz.h"
#include "nn/gguf.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_gguf: %s: %s\n", what, ss_errmsg());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/ss-fuzz-gguf-XXXXXX";
    if (fuzz_write_temp(data, size, path)) return 0;

    ss__gguf *g = NULL;
    if (ss__gguf_open(path, &g) == SS_OK) {
        for (size_t i = 0; i < ss__gguf_kv_count(g); i++) {
            const ss__gguf_kv *kv = ss__gguf_kv_at(g, i);
            if (kv->type == SS_GGUF_STR) {
                char *s = NULL;
                /* a string may be refused (a NUL inside), never mis-read */
                int rc = ss__gguf_get_str(g, kv->key, &s);
                if (rc != SS_OK && rc != SS_ERR_FORMAT) fail("reading a listed string key");
                if (rc == SS_OK && strlen(s) != kv->n) fail("a string read back with another length");
                ss_free(s);
            }
        }
        for (size_t i = 0; i < ss__gguf_tensor_count(g); i++) {
            const ss__gguf_tensor *t = ss__gguf_tensor_at(g, i);
            int q8 = t->type == SS_GGML_Q8_ROW;
            if ((t->type != SS_GGML_F32 && t->type != SS_GGML_F16 && !q8) || t->numel > (1u << 24)) continue;
            float *dst = malloc(t->numel ? t->numel * sizeof(float) : 1);
            /* duplicate names make the lookup find the first one: only
             * require success when the name is unique */
            int rc = ss__gguf_read_f32(g, t->name, t->ndim, t->shape, dst);
            /* int8 data may be refused (a scale NaN or < 0, a -128), as a format error */
            if (rc != SS_OK && !(q8 && rc == SS_ERR_FORMAT) && ss__gguf_find_tensor(g, t->name) == t)
                fail("a listed tensor cannot be read");
            free(dst);
        }
        ss__gguf_close(g);
    }
    ss_model *m = NULL;
    if (ss_model_load(path, &m) == SS_OK) {
        if (ss_model_dim(m) <= 0) fail("a loaded model has no dimension");
        /* a loaded model embeds, whatever its precision (int8 weights included) */
        const char *text = "a b";
        float *v = malloc(sizeof(float) * (size_t)ss_model_dim(m));
        if (ss_embed(m, &text, NULL, 1, 0, v) != SS_OK) fail("a loaded model cannot embed");
        free(v);
        ss_model_free(m);
    }
    unlink(path);
    return 0;
}
