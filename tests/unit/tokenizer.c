/* tokenizer.c: loading, encoding, batching and training SentencePiece
 * models through the C API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "tap.h"

static char tmpdir[] = "/tmp/ss-tok-XXXXXX";

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static int ids_equal(ss_tokenizer *t, const char *a, const char *b)
{
    int32_t *x, *y;
    size_t nx, ny;
    if (ss_tokenizer_encode(t, a, strlen(a), &x, &nx) || ss_tokenizer_encode(t, b, strlen(b), &y, &ny)) return 0;
    int eq = nx == ny && memcmp(x, y, nx * sizeof *x) == 0;
    ss_free(x);
    ss_free(y);
    return eq;
}

int main(void)
{
    ss_tokenizer *t = NULL;
    int rc;
    if (!mkdtemp(tmpdir)) return 1;
    char path[256];

    /* ---- bad models */
    rc = ss_tokenizer_load("/nonexistent/x.model", &t);
    tap_ok(rc == SS_ERR_IO && t == NULL && strstr(ss_errmsg(), "/nonexistent/x.model"),
           "a missing model file: SS_ERR_IO naming the path");
    snprintf(path, sizeof path, "%s/corrupt.model", tmpdir);
    write_file(path, "\x0a\xff\xff\xff\x0f garbage that is not a model", 33);
    rc = ss_tokenizer_load(path, &t);
    tap_ok(rc == SS_ERR_FORMAT && t == NULL && strstr(ss_errmsg(), path), "a corrupt model: SS_ERR_FORMAT naming the path");
    snprintf(path, sizeof path, "%s/empty.model", tmpdir);
    write_file(path, "", 0);
    rc = ss_tokenizer_load(path, &t);
    tap_ok(rc == SS_ERR_FORMAT && t == NULL, "an empty model file is refused");
    rc = ss_tokenizer_load_bytes(NULL, 0, &t);
    tap_ok(rc != SS_OK && t == NULL, "no bytes: refused");
    ss_tokenizer_free(NULL);
    ss_batch_free(NULL);

    /* ---- ss_utf8_repair: valid text unchanged, each bad byte one U+FFFD */
    {
        char *r = NULL;
        size_t rl = 0;
        rc = ss_utf8_repair("caf\xc3\xa9 \x01\n", 8, &r, &rl);
        tap_ok(rc == SS_OK && rl == 8 && !memcmp(r, "caf\xc3\xa9 \x01\n", 9), "ss_utf8_repair: valid UTF-8 unchanged");
        ss_free(r);
        rc = ss_utf8_repair("a\xff\xc3(", 4, &r, &rl);
        tap_ok(rc == SS_OK && rl == 8 && !memcmp(r, "a\xef\xbf\xbd\xef\xbf\xbd(", 9),
               "ss_utf8_repair: each invalid byte becomes U+FFFD");
        ss_free(r);
        rc = ss_utf8_repair(NULL, 0, &r, &rl);
        tap_ok(rc == SS_OK && rl == 0 && r && !*r, "ss_utf8_repair: no text is an empty string");
        ss_free(r);
        tap_ok(ss_utf8_repair(NULL, 3, &r, &rl) == SS_ERR_ARG, "ss_utf8_repair: NULL text with a length is refused");
    }

    /* ---- the shipped vocabulary */
    rc = ss_tokenizer_load(tap_srcpath("vocab/en-16k.model"), &t);
    if (!tap_ok(rc == SS_OK, "the shipped vocab/en-16k.model loads")) {
        tap_diag("%s", ss_errmsg());
        return tap_done();
    }
    tap_ok(ss_tokenizer_vocab_size(t) == 16000, "16000 pieces");
    tap_ok(ss_tokenizer_pad_id(t) == 0 && ss_tokenizer_unk_id(t) == 1 && ss_tokenizer_bos_id(t) == 2 &&
               ss_tokenizer_eos_id(t) == 3, "special ids pad=0 unk=1 cls=2 sep=3");
    tap_ok(!strcmp(ss_tokenizer_id_to_piece(t, 2), "[CLS]") && ss_tokenizer_piece_to_id(t, "[SEP]") == 3,
           "special pieces map both ways");
    tap_ok(ss_tokenizer_id_to_piece(t, 16000) == NULL && ss_tokenizer_id_to_piece(t, -1) == NULL,
           "out-of-range ids have no piece");

    const char *s = "A man is playing a guitar.";
    int32_t *ids;
    size_t n;
    rc = ss_tokenizer_encode(t, s, strlen(s), &ids, &n);
    tap_ok(rc == SS_OK && n >= 6 && n <= 10, "a sentence encodes to a few pieces (%zu)", n);
    char *back = NULL;
    rc = ss_tokenizer_decode(t, ids, n, &back);
    tap_ok(rc == SS_OK && back && !strcmp(back, "a man is playing a guitar."), "decode gives the (uncased) text back");
    ss_free(back);
    ids[0] = 99999;
    rc = ss_tokenizer_decode(t, ids, n, &back);
    tap_ok(rc == SS_ERR_RANGE && back == NULL, "decoding an out-of-range id is an error");
    ss_free(ids);
    tap_ok(ids_equal(t, "HELLO World", "hello world"), "the shipped model folds case");
    tap_ok(ids_equal(t, "hello\xc2\xa0  world\n", "hello world"), "whitespace is normalized before splitting");
    tap_ok(ids_equal(t, "\xef\xac\x81ne", "fine"), "NFKC before splitting");

    char **pieces;
    rc = ss_tokenizer_encode_pieces(t, "The World", 9, &pieces, &n);
    tap_ok(rc == SS_OK && n == 2 && !strcmp(pieces[0], "\xe2\x96\x81the") &&
               !strcmp(pieces[1], "\xe2\x96\x81world") && pieces[2] == NULL,
           "pieces: ▁the ▁world, NULL-terminated");
    ss_free(pieces);

    /* ---- passages (ss_split_passages): whole words, within the budget,
     * every word in some passage, consecutive ones overlapping */
    {
        ss_passage *p = NULL;
        size_t np = 0;
        rc = ss_split_passages(t, s, strlen(s), 16, -1, 7, &p, &np);
        tap_ok(rc == SS_OK && np == 1 && p[0].doc == 7 && p[0].start == 0 && p[0].len == strlen(s),
               "passages: a text that fits is one passage, the whole text");
        ss_free(p);
        char longt[4096] = "";
        size_t L = 0;
        for (int w = 0; w < 300; w++) L += (size_t)snprintf(longt + L, sizeof longt - L, "%sword%d", w ? "  " : "", w);
        rc = ss_split_passages(t, longt, L, 20, 4, 0, &p, &np);
        int ok = rc == SS_OK && np > 1, words_seen[300] = {0};
        size_t prev_start = 0, prev_end = 0;
        for (size_t i = 0; ok && i < np; i++) {
            int32_t *pid;
            size_t pn;
            ok = p[i].len > 0 && p[i].start + p[i].len <= L && ss_tokenizer_encode(t, longt + p[i].start, p[i].len, &pid, &pn) == SS_OK;
            if (!ok) break;
            ss_free(pid);
            ok = pn <= 20 && longt[p[i].start] != ' ' && (p[i].start == 0 || longt[p[i].start - 1] == ' ') &&
                 (p[i].start + p[i].len == L || longt[p[i].start + p[i].len] == ' ');
            if (i) ok = ok && p[i].start > prev_start && p[i].start < prev_end; /* overlap, forward */
            prev_start = p[i].start, prev_end = p[i].start + p[i].len;
            for (size_t j = p[i].start; ok && j < prev_end; j++)
                if (!strncmp(longt + j, "word", 4) && (j == 0 || longt[j - 1] == ' ')) words_seen[atoi(longt + j + 4)] = 1;
        }
        for (int w = 0; ok && w < 300; w++) ok = words_seen[w];
        tap_ok(ok && prev_end == L, "passages: %zu of whole words, <= 20 tokens each, overlapping, covering all 300 words", np);
        ss_free(p);
        char big[600];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        rc = ss_split_passages(t, big, strlen(big), 20, 4, 0, &p, &np);
        size_t cover = 0;
        for (size_t i = 0; rc == SS_OK && i < np; i++) cover += p[i].len;
        tap_ok(rc == SS_OK && np > 1 && cover == strlen(big), "passages: one word longer than a passage is cut, all of it kept (%zu)", np);
        ss_free(p);
        tap_ok(ss_split_passages(t, s, strlen(s), 10, 10, 0, &p, &np) == SS_ERR_ARG && p == NULL && np == 0,
               "passages: an overlap of a whole passage is refused");
        tap_ok(ss_split_passages(t, s, strlen(s), 0, -1, 0, &p, &np) == SS_ERR_ARG, "passages: 0 tokens is refused");
        tap_ok(ss_split_passages(NULL, s, 3, 10, -1, 0, &p, &np) == SS_ERR_ARG, "passages: a NULL tokenizer is refused");
    }

    rc = ss_tokenizer_encode(t, "a\0b\xff", 4, &ids, &n);
    tap_ok(rc == SS_OK, "NUL and invalid UTF-8 encode without error");
    ss_free(ids);
    rc = ss_tokenizer_encode(t, "", 0, &ids, &n);
    tap_ok(rc == SS_OK && n == 0, "empty text: no tokens");
    ss_free(ids);

    size_t big = 1u << 20;
    char *line = malloc(big);
    for (size_t i = 0; i < big; i++) line[i] = (i % 6 == 5) ? ' ' : "semsearch"[i % 9];
    rc = ss_tokenizer_encode(t, line, big, &ids, &n);
    tap_ok(rc == SS_OK && n > big / 12, "a 1 MB line encodes whole (%zu tokens)", n);
    ss_free(ids);

    /* ---- batches */
    const char *texts[] = {"a man is playing a guitar.", "", "hi", line};
    size_t lens[] = {26, 0, 2, big};
    ss_batch b;
    rc = ss_tokenizer_encode_batch(t, texts, lens, 4, 16, 1, &b);
    tap_ok(rc == SS_OK && b.B == 4 && b.T == 16, "a batch pads to its longest row, truncated to max_len (T=%d)", b.T);
    int shape_ok = 1;
    for (int i = 0; i < b.B; i++) {
        int L = b.lengths[i];
        if (b.ids[i * b.T] != 2 || b.ids[i * b.T + L - 1] != 3) shape_ok = 0;
        for (int j = 0; j < b.T; j++)
            if (b.mask[i * b.T + j] != (j < L) || (j >= L && b.ids[i * b.T + j] != 0)) shape_ok = 0;
    }
    tap_ok(shape_ok, "every row: [CLS] ... [SEP], mask 1 on tokens, pad id 0 after");
    tap_ok(b.lengths[1] == 2 && b.lengths[3] == 16, "an empty text is [CLS][SEP]; a long one is cut at max_len");
    ss_batch_free(&b);
    const char *short_texts[] = {"hi", "ok"};
    rc = ss_tokenizer_encode_batch(t, short_texts, NULL, 2, 128, 1, &b);
    tap_ok(rc == SS_OK && b.T == SS_MAX(b.lengths[0], b.lengths[1]) && b.T <= 5,
           "short texts are not padded to max_len (T=%d)", b.T);
    ss_batch_free(&b);
    rc = ss_tokenizer_encode_batch(t, short_texts, NULL, 2, 1, 1, &b);
    tap_ok(rc == SS_ERR_RANGE, "max_len smaller than the special tokens is refused");

    int nomem_ok = 1, saw = 0;
    for (long k = 1; k < 40; k++) {
        ss__fail_alloc_after(k);
        rc = ss_tokenizer_encode_batch(t, texts, lens, 3, 16, 1, &b);
        ss__fail_alloc_after(0);
        if (rc == SS_ERR_NOMEM) saw = 1;
        else if (rc != SS_OK) nomem_ok = 0;
        ss_batch_free(&b);
    }
    tap_ok(nomem_ok && saw, "allocation failures while batching give SS_ERR_NOMEM (no leak under ASan)");
    free(line);
    ss_tokenizer_free(t);

    /* ---- training */
    char corpus[256], model[256];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", tmpdir);
    FILE *f = fopen(corpus, "w");
    const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "in", "park", "red", "ball"};
    srand(3);
    for (int i = 0; i < 2000; i++) {
        for (int w = 0; w < 8; w++) fprintf(f, "%s%s", w ? " " : "", words[rand() % 12]);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(model, sizeof model, "%s/tiny.model", tmpdir);
    const char *inputs[] = {corpus};
    ss_tokenizer_train_opts o;
    ss_tokenizer_train_opts_init(&o);
    o.inputs = inputs;
    o.n_inputs = 1;
    o.output = model;
    o.vocab_size = 60;
    o.threads = 1;
    rc = ss_tokenizer_train(&o);
    tap_ok(rc == SS_OK, "a small unigram model trains");
    if (rc) tap_diag("%s", ss_errmsg());
    rc = ss_tokenizer_load(model, &t);
    /* hard_vocab_limit is off: a tiny corpus may give fewer pieces */
    tap_ok(rc == SS_OK && ss_tokenizer_vocab_size(t) > 20 && ss_tokenizer_vocab_size(t) <= 60,
           "it loads, with at most the asked vocabulary size (%d)", t ? ss_tokenizer_vocab_size(t) : 0);
    ss_tokenizer_free(t);

    o.model_type = SS_SPM_BPE;
    rc = ss_tokenizer_train(&o);
    tap_ok(rc == SS_OK, "a small BPE model trains");

    char empty[256];
    snprintf(empty, sizeof empty, "%s/empty.txt", tmpdir);
    write_file(empty, "\n\n  \n", 5);
    inputs[0] = empty;
    o.model_type = SS_SPM_UNIGRAM;
    rc = ss_tokenizer_train(&o);
    tap_ok(rc != SS_OK, "training on blank lines only is refused: %s", ss_errmsg());

    inputs[0] = corpus;
    o.output = "/nonexistent-dir/x.model";
    rc = ss_tokenizer_train(&o);
    tap_ok(rc == SS_ERR_IO && strstr(ss_errmsg(), "/nonexistent-dir/x.model"), "an unwritable output is an I/O error");
    inputs[0] = "/nonexistent/corpus.txt";
    o.output = model;
    rc = ss_tokenizer_train(&o);
    tap_ok(rc == SS_ERR_IO && strstr(ss_errmsg(), "/nonexistent/corpus.txt"), "a missing input names the file");

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) tap_diag("could not remove %s", tmpdir);
    return tap_done();
}
