/* fuzz.h: the libFuzzer entry point every target defines. The same target
 * links either with libFuzzer (clang -fsanitize=fuzzer, tests/fuzz/run.sh)
 * or with replay.c, which runs the saved corpus in `make check`. */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include <stdlib.h>
#include <unistd.h>
/* Writes the input to a new temporary file for the readers that take a path;
 * path must be a "...XXXXXX" template. 0 on success. */
static inline int fuzz_write_temp(const uint8_t *data, size_t size, char *path)
{
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    int ok = size == 0 || write(fd, data, size) == (ssize_t)size;
    close(fd);
    if (!ok) unlink(path);
    return ok ? 0 : -1;
}

#include <stdio.h>
#include "semsearch.h"
/* The shipped vocabulary ($SEMSEARCH_FUZZ_VOCAB, else under $top_srcdir). */
static inline int fuzz_load_vocab(ss_tokenizer **tok)
{
    const char *p = getenv("SEMSEARCH_FUZZ_VOCAB");
    char buf[4096];
    if (!p) {
        const char *top = getenv("top_srcdir");
        snprintf(buf, sizeof buf, "%s/vocab/en-16k.model", top ? top : ".");
        p = buf;
    }
    return ss_tokenizer_load(p, tok);
}

/* A tiny random model (d 16, 1 layer) around the shipped vocabulary. */
static inline int fuzz_tiny_model(uint64_t seed, ss_model **m)
{
    ss_tokenizer *tok;
    int rc = fuzz_load_vocab(&tok);
    if (rc) return rc;
    ss_config c;
    ss_config_init(&c);
    c.d_model = 16, c.n_layers = 1, c.n_heads = 2, c.d_ff = 24, c.max_len = 16;
    rc = ss_model_init(&c, tok, seed, m);
    ss_tokenizer_free(tok);
    return rc;
}
#endif
