/* tokenizer.c: ss_tokenizer = utf8proc normalization + SentencePiece. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "text/normalize.h"
#include "text/spm.h"
#include "text/tokenizer.h"
#include "base/textio.h"


struct ss_tokenizer {
    ss__spm *spm;
    int norm;
};

int ss_tokenizer_load_bytes(const void *data, size_t len, ss_tokenizer **out)
{
    if (!out) return ss__fail(SS_ERR_ARG, "ss_tokenizer_load_bytes: NULL out");
    *out = NULL;
    ss_tokenizer *t = ss__calloc(1, sizeof *t);
    if (!t) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int rc = ss__spm_load(data, len, &t->spm);
    if (rc) {
        ss_free(t);
        return rc;
    }
    t->norm = SS_NORM_DEFAULT;
    *out = t;
    return SS_OK;
}

int ss__tokenizer_load_fd(int fd, uint64_t size, const char *path, ss_tokenizer **out)
{
    *out = NULL;
    if (size > SS__TOKENIZER_MAX)
        return ss__fail(SS_ERR_FORMAT, "%s: %llu bytes: too large for a SentencePiece model (at most %d MiB)", path,
                        (unsigned long long)size, (int)(SS__TOKENIZER_MAX >> 20));
    /* one byte more than the size: a file that grows meanwhile is noticed */
    size_t cap = (size_t)size + 1, len = 0;
    char *buf = ss__malloc(cap);
    if (!buf) return ss__fail(SS_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        ssize_t n = pread(fd, buf + len, cap - len, (off_t)len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            ss_free(buf);
            return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len == cap) {
            ss_free(buf);
            return ss__fail(SS_ERR_IO, "%s: changed while being read", path);
        }
    }
    int rc = ss_tokenizer_load_bytes(buf, len, out);
    ss_free(buf);
    if (rc) ss__fail_prefix(rc, "%s", path); /* name the file in SentencePiece's message */
    return rc;
}

void ss_tokenizer_free(ss_tokenizer *t)
{
    if (!t) return;
    ss__spm_free(t->spm);
    ss_free(t);
}

const void *ss_tokenizer_bytes(const ss_tokenizer *t, size_t *len) { return ss__spm_bytes(t->spm, len); }
void ss_tokenizer_set_norm(ss_tokenizer *t, int flags) { t->norm = flags; }
int ss_tokenizer_get_norm(const ss_tokenizer *t) { return t->norm; }
int ss_tokenizer_vocab_size(const ss_tokenizer *t) { return ss__spm_vocab_size(t->spm); }
int ss_tokenizer_pad_id(const ss_tokenizer *t) { return ss__spm_pad_id(t->spm); }
int ss_tokenizer_unk_id(const ss_tokenizer *t) { return ss__spm_unk_id(t->spm); }
int ss_tokenizer_bos_id(const ss_tokenizer *t) { return ss__spm_bos_id(t->spm); }
int ss_tokenizer_eos_id(const ss_tokenizer *t) { return ss__spm_eos_id(t->spm); }
const char *ss_tokenizer_id_to_piece(const ss_tokenizer *t, int id) { return ss__spm_id_to_piece(t->spm, id); }
int ss_tokenizer_piece_to_id(const ss_tokenizer *t, const char *piece) { return ss__spm_piece_to_id(t->spm, piece); }

int ss_tokenizer_encode(ss_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n)
{
    if (!t || !ids || !n || (!text && len)) return ss__fail(SS_ERR_ARG, "ss_tokenizer_encode: NULL argument");
    char *norm;
    size_t nlen;
    int rc = ss_normalize(text, len, t->norm, &norm, &nlen);
    if (rc) return rc;
    rc = ss__spm_encode(t->spm, norm, nlen, ids, n);
    ss_free(norm);
    return rc;
}

int ss_tokenizer_encode_pieces(ss_tokenizer *t, const char *text, size_t len, char ***pieces, size_t *n)
{
    if (!t || !pieces || !n || (!text && len)) return ss__fail(SS_ERR_ARG, "ss_tokenizer_encode_pieces: NULL argument");
    char *norm;
    size_t nlen;
    int rc = ss_normalize(text, len, t->norm, &norm, &nlen);
    if (rc) return rc;
    rc = ss__spm_encode_pieces(t->spm, norm, nlen, pieces, n);
    ss_free(norm);
    return rc;
}

int ss_tokenizer_decode(ss_tokenizer *t, const int32_t *ids, size_t n, char **text)
{
    if (!t || !text || (!ids && n)) return ss__fail(SS_ERR_ARG, "ss_tokenizer_decode: NULL argument");
    return ss__spm_decode(t->spm, ids, n, text);
}

void ss_batch_free(ss_batch *b)
{
    if (!b) return;
    ss_free(b->ids);
    ss_free(b->mask);
    ss_free(b->lengths);
    memset(b, 0, sizeof *b);
}

int ss_tokenizer_encode_batch(ss_tokenizer *t, const char *const *texts, const size_t *lens, int n,
                              int max_len, int add_special, ss_batch *out)
{
    if (!t || !out || (n > 0 && !texts) || n < 0)
        return ss__fail(SS_ERR_ARG, "ss_tokenizer_encode_batch: bad argument");
    memset(out, 0, sizeof *out);
    int bos = add_special ? ss_tokenizer_bos_id(t) : -1;
    int eos = add_special ? ss_tokenizer_eos_id(t) : -1;
    int extra = (bos >= 0) + (eos >= 0);
    if (max_len < extra + 1) return ss__fail(SS_ERR_RANGE, "max_len %d too small", max_len);
    int pad = ss_tokenizer_pad_id(t);
    if (pad < 0) pad = 0;

    int32_t **seq = ss__calloc((size_t)n, sizeof *seq);
    out->lengths = ss__calloc((size_t)n, sizeof *out->lengths);
    if (!seq || !out->lengths) {
        ss_free(seq);
        ss_batch_free(out);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    int rc = SS_OK, T = 0;
    for (int i = 0; i < n && !rc; i++) {
        size_t len = lens ? lens[i] : (texts[i] ? strlen(texts[i]) : 0);
        int32_t *ids;
        size_t k;
        rc = ss_tokenizer_encode(t, texts[i], len, &ids, &k);
        if (rc) break;
        int keep = (int)SS_MIN(k, (size_t)(max_len - extra)); /* truncate */
        seq[i] = ss__malloc(sizeof(int32_t) * (size_t)(keep + extra));
        if (!seq[i]) {
            ss_free(ids);
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            break;
        }
        int o = 0;
        if (bos >= 0) seq[i][o++] = bos;
        memcpy(seq[i] + o, ids, sizeof(int32_t) * (size_t)keep);
        o += keep;
        if (eos >= 0) seq[i][o++] = eos;
        ss_free(ids);
        out->lengths[i] = o;
        T = SS_MAX(T, o);
    }
    if (!rc) {
        out->B = n;
        out->T = T;
        out->ids = ss__malloc(sizeof(int32_t) * (size_t)n * (size_t)T);
        out->mask = ss__malloc((size_t)n * (size_t)T);
        if (!out->ids || !out->mask) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < T; j++) {
                int real = j < out->lengths[i];
                out->ids[(size_t)i * T + j] = real ? seq[i][j] : pad;
                out->mask[(size_t)i * T + j] = (uint8_t)real;
            }
        }
    }
    for (int i = 0; i < n; i++) ss_free(seq[i]);
    ss_free(seq);
    if (rc) ss_batch_free(out);
    return rc;
}
