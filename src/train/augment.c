/* augment.c: word-level crop, deletion and swaps (CLEAR, ESimCSE-style views). */
#include "config.h"

#include <string.h>

#include "train/augment.h"
#include "base/common.h"

int ss__aug_active(const ss__aug_opts *o)
{
    return o && (o->del > 0 || o->crop > 0 || o->swap > 0);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int ss__augment(const ss__aug_opts *o, uint64_t r[4], const char *s, size_t n, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t maxw = n / 2 + 1, w = 0;
    size_t *ws = ss__malloc(sizeof *ws * maxw * 2); /* (start, length) of each word */
    char *dst = ss__malloc(n + 1);
    if (!ws || !dst) {
        ss_free(ws);
        ss_free(dst);
        return ss__fail(SS_ERR_NOMEM, "out of memory (augmentation)");
    }
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(s[i])) i++;
        if (i == n) break;
        size_t b = i;
        while (i < n && !is_space(s[i])) i++;
        ws[2 * w] = b;
        ws[2 * w + 1] = i - b;
        w++;
    }
    if (o->crop > 0 && w >= 2) {
        size_t cut = (size_t)(ss__rng_uniform(r) * o->crop * (double)w);
        if (cut >= w) cut = w - 1;
        size_t keep = w - cut, from = (size_t)ss__rand_below(r, cut + 1);
        memmove(ws, ws + 2 * from, sizeof *ws * 2 * keep);
        w = keep;
    }
    if (o->del > 0 && w >= 2) {
        size_t k = 0, save = (size_t)ss__rand_below(r, w);
        for (size_t i = 0; i < w; i++) {
            int del = ss__rng_uniform(r) < o->del;
            if (!del) {
                ws[2 * k] = ws[2 * i];
                ws[2 * k + 1] = ws[2 * i + 1];
                k++;
            }
        }
        if (k == 0) { /* everything deleted: keep one word */
            ws[0] = ws[2 * save];
            ws[1] = ws[2 * save + 1];
            k = 1;
        }
        w = k;
    }
    if (o->swap > 0) {
        for (size_t i = 0; i + 1 < w; i++) {
            if (ss__rng_uniform(r) < o->swap) {
                size_t a0 = ws[2 * i], a1 = ws[2 * i + 1];
                ws[2 * i] = ws[2 * i + 2];
                ws[2 * i + 1] = ws[2 * i + 3];
                ws[2 * i + 2] = a0;
                ws[2 * i + 3] = a1;
                i++; /* a word moves at most one place */
            }
        }
    }
    size_t len = 0;
    for (size_t i = 0; i < w; i++) {
        if (i) dst[len++] = ' ';
        memcpy(dst + len, s + ws[2 * i], ws[2 * i + 1]);
        len += ws[2 * i + 1];
    }
    dst[len] = '\0';
    ss_free(ws);
    *out = dst;
    *out_len = len;
    return SS_OK;
}
