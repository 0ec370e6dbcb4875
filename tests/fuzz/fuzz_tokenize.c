/* fuzz_tokenize.c: normalization, tokenization, batching and decoding of
 * arbitrary bytes. The first byte picks options; the rest is text, split
 * into a batch at 0x1e bytes. Invariants checked: success (text input never
 * fails), valid shapes, decode(encode(x)) of normalized text succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "fuzz.h"

static ss_tokenizer *tok;

/* A broken invariant: say which, then crash so the fuzzer keeps the input. */
static void fail(const char *what)
{
    fprintf(stderr, "fuzz_tokenize: %s: %s\n", what, ss_errmsg());
    abort();
}

static void load_once(void)
{
    if (tok) return;
    if (fuzz_load_vocab(&tok) != SS_OK) fail("cannot load the vocabulary");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_once();
    if (size == 0) return 0;
    int opt = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    ss_tokenizer_set_norm(tok, ((opt & 1) ? (SS_NORM_NFKC | SS_NORM_CASEFOLD) : SS_NORM_DEFAULT) |
                                   ((opt & 2) ? SS_NORM_SPLIT_PUNCT : 0));

    char *norm;
    size_t nlen;
    if (ss_normalize(text, len, ss_tokenizer_get_norm(tok), &norm, &nlen) != SS_OK) fail("normalize");
    if (strlen(norm) != nlen) fail("a NUL survived normalization");

    int32_t *ids;
    size_t n;
    if (ss_tokenizer_encode(tok, text, len, &ids, &n) != SS_OK) fail("encode");
    char *back;
    if (ss_tokenizer_decode(tok, ids, n, &back) != SS_OK) fail("decode");
    ss_free(back);
    ss_free(ids);
    ss_free(norm);

    /* batch: pieces separated by 0x1e */
    const char *texts[16];
    size_t lens[16];
    int nt = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && nt < 16; i++) {
        if (i == len || text[i] == 0x1e) {
            texts[nt] = text + start;
            lens[nt++] = i - start;
            start = i + 1;
        }
    }
    int max_len = 3 + (opt >> 1) % 64; /* room for [CLS] x [SEP] */
    ss_batch b;
    if (ss_tokenizer_encode_batch(tok, texts, lens, nt, max_len, 1, &b) != SS_OK) fail("encode_batch");
    if (b.B != nt || b.T > max_len) fail("batch shape");
    for (int i = 0; i < b.B; i++)
        if (b.lengths[i] < 2 || b.lengths[i] > b.T) fail("row length");
    ss_batch_free(&b);
    return 0;
}
