/* passages.c: a text longer than a model's window split into passages of
 * whole words (ss_split_passages), for the indexer and the server alike. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "semsearch.h"

/* A word (or a piece of a word longer than a passage) and its tokens. */
struct unit {
    size_t start, end;
    int tok;
};

typedef struct splitter {
    ss_tokenizer *tok;
    const char *t;
    int ptokens;
    struct unit *units;
    size_t n, cap;
} splitter;

/* *n: the tokens of t[0, len) (without the special tokens). */
static int count_tokens(ss_tokenizer *tok, const char *t, size_t len, long *n)
{
    int32_t *ids = NULL;
    size_t k = 0;
    int rc = ss_tokenizer_encode(tok, t, len, &ids, &k);
    ss_free(ids);
    *n = (long)k;
    return rc;
}

/* Appends the units of t[start, end) (one word, or pieces of a word that
 * alone exceeds a passage: halves at character boundaries). */
static int word_units(splitter *sp, size_t start, size_t end)
{
    long n;
    int rc = count_tokens(sp->tok, sp->t + start, end - start, &n);
    if (rc) return rc;
    if (n > sp->ptokens) {
        size_t mid = start + (end - start) / 2;
        while (mid > start && ((unsigned char)sp->t[mid] & 0xc0) == 0x80) mid--;
        if (mid > start) {
            rc = word_units(sp, start, mid);
            return rc ? rc : word_units(sp, mid, end);
        }
    }
    if (sp->n == sp->cap) {
        size_t nc = sp->cap ? 2 * sp->cap : 256;
        struct unit *u = ss__realloc(sp->units, nc * sizeof *u);
        if (!u) return ss__fail(SS_ERR_NOMEM, "out of memory");
        sp->units = u;
        sp->cap = nc;
    }
    sp->units[sp->n++] = (struct unit){start, end, (int)(n < sp->ptokens ? n : sp->ptokens)};
    return SS_OK;
}

static int is_space(char c) { return c && strchr(" \t\n\r\v\f", c); }

static int push(ss_passage **out, size_t *n, size_t *cap, ss_passage p)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 4;
        ss_passage *q = ss__realloc(*out, nc * sizeof *q);
        if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
        *out = q;
        *cap = nc;
    }
    (*out)[(*n)++] = p;
    return SS_OK;
}

int ss_split_passages(ss_tokenizer *tok, const char *text, size_t len, int tokens, int overlap, size_t doc,
                      ss_passage **out, size_t *n)
{
    if (!out || !n) return ss__fail(SS_ERR_ARG, "ss_split_passages: NULL out");
    *out = NULL;
    *n = 0;
    if (!tok || (len && !text)) return ss__fail(SS_ERR_ARG, "ss_split_passages: NULL tokenizer or text");
    if (tokens < 1) return ss__fail(SS_ERR_ARG, "ss_split_passages: passage of %d tokens", tokens);
    if (overlap < 0) overlap = tokens / 4 < 16 ? tokens / 4 : 16;
    if (overlap >= tokens)
        return ss__fail(SS_ERR_ARG, "ss_split_passages: overlap %d must be less than the passage's %d tokens", overlap,
                        tokens);
    size_t cap = 0;
    long all = 0;
    /* fewer bytes than tokens allowed: it fits without counting */
    int rc = len > (size_t)tokens ? count_tokens(tok, text, len, &all) : SS_OK;
    if (rc) return rc;
    splitter sp = {tok, text, tokens, NULL, 0, 0};
    for (size_t i = 0; all > tokens && i < len && !rc;) {
        while (i < len && is_space(text[i])) i++;
        size_t w = i;
        while (i < len && !is_space(text[i])) i++;
        if (i > w) rc = word_units(&sp, w, i);
    }
    if (!rc && sp.n == 0) rc = push(out, n, &cap, (ss_passage){doc, 0, len}); /* it fits (or is all spaces) */
    for (size_t i = 0; !rc && i < sp.n;) {
        size_t j = i;
        long sum = 0;
        while (j < sp.n && sum + sp.units[j].tok <= tokens) sum += sp.units[j++].tok;
        if (j == i) j = i + 1;
        rc = push(out, n, &cap, (ss_passage){doc, sp.units[i].start, sp.units[j - 1].end - sp.units[i].start});
        if (j >= sp.n) break;
        /* the next one starts up to `overlap` tokens back, always after i */
        size_t k = j;
        long o = 0;
        while (k - 1 > i && o + sp.units[k - 1].tok <= overlap) o += sp.units[--k].tok;
        i = k;
    }
    ss_free(sp.units);
    if (rc) {
        ss_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
