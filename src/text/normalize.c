/* normalize.c: text normalization with utf8proc.
 * Order matters: repair first (utf8proc refuses invalid UTF-8), then NFKC,
 * which can itself produce spaces (NBSP -> space), then collapse spaces. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/common.h"
#include "text/normalize.h"

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

int ss__utf8_repair(const char *s, size_t len, char **out, size_t *out_len)
{
    /* Worst case every byte becomes 3 bytes of U+FFFD. */
    if (len > (SIZE_MAX - 1) / 3) return ss__fail(SS_ERR_RANGE, "text too long");
    char *r = ss__malloc(len * 3 + 1);
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory normalizing %zu bytes", len);
    size_t o = 0, i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)SS_MIN(len - i, 4), &cp);
        if (n < 0) {
            memcpy(r + o, REPLACEMENT, 3);
            o += 3;
            i += 1;
        } else {
            memcpy(r + o, s + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        }
    }
    r[o] = '\0';
    *out = r;
    *out_len = o;
    return SS_OK;
}

int ss_utf8_repair(const char *text, size_t len, char **out, size_t *out_len)
{
    if (!out || (!text && len)) return ss__fail(SS_ERR_ARG, "ss_utf8_repair: NULL argument");
    *out = NULL;
    size_t n = 0;
    int rc = ss__utf8_repair(text ? text : "", len, out, &n);
    if (rc) return rc;
    if (out_len) *out_len = n;
    ss__clear_error();
    return SS_OK;
}

static int is_space(utf8proc_int32_t cp)
{
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f')
        return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* Unicode categories P* and S* (Pc .. So, adjacent in utf8proc's order):
 * what BERT's basic tokenizer splits off */
static int is_punct(utf8proc_int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_SO;
}

int ss_normalize(const char *text, size_t len, int flags, char **out, size_t *out_len)
{
    if (!out || (!text && len)) return ss__fail(SS_ERR_ARG, "ss_normalize: NULL argument");
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!text) text = "";

    char *valid;
    size_t vlen;
    int rc = ss__utf8_repair(text, len, &valid, &vlen);
    if (rc) return rc;

    /* STRIPCC: newlines/tabs become spaces, other controls (NUL too) go;
     * IGNORE: default-ignorable code points (ZWSP, soft hyphen, BOM) go. */
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_STRIPCC | UTF8PROC_IGNORE;
    if (flags & SS_NORM_NFKC) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else opt |= UTF8PROC_COMPOSE;
    if (flags & SS_NORM_CASEFOLD) opt |= UTF8PROC_CASEFOLD;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t mlen = utf8proc_map((const utf8proc_uint8_t *)valid, (utf8proc_ssize_t)vlen,
                                         &mapped, opt);
    ss_free(valid);
    if (mlen < 0) {
        /* utf8proc's own allocation goes through malloc: treat as NOMEM. */
        if (mlen == UTF8PROC_ERROR_NOMEM) return ss__fail(SS_ERR_NOMEM, "out of memory normalizing");
        return ss__fail(SS_ERR_FORMAT, "normalization failed: %s", utf8proc_errmsg(mlen));
    }

    /* Collapse whitespace runs into one space and trim both ends, in place;
     * with SS_NORM_SPLIT_PUNCT also put a space around each punctuation mark,
     * which can make the text longer: then into a copy of twice the room. */
    size_t o = 0, i = 0, n = (size_t)mlen;
    int split = (flags & SS_NORM_SPLIT_PUNCT) != 0;
    utf8proc_uint8_t *dst = mapped;
    if (split) {
        if (n > (SIZE_MAX - 1) / 2) {
            free(mapped);
            return ss__fail(SS_ERR_RANGE, "text too long");
        }
        dst = ss__malloc(2 * n + 1); /* our allocator: handed out as it is */
        if (!dst) {
            free(mapped);
            return ss__fail(SS_ERR_NOMEM, "out of memory normalizing");
        }
    }
    int pending_space = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(mapped + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { /* cannot happen on utf8proc output; be safe */
            k = 1;
            cp = 0xFFFD;
        }
        if (is_space(cp)) {
            pending_space = o > 0;
        } else {
            int p = split && is_punct(cp);
            if (pending_space || (p && o > 0)) dst[o++] = ' ';
            pending_space = p;
            memmove(dst + o, mapped + i, (size_t)k);
            o += (size_t)k;
        }
        i += (size_t)k;
    }
    dst[o] = '\0';

    /* Hand out memory from our allocator so ss_free() is always right. */
    char *r = split ? (char *)dst : ss__strndup((const char *)mapped, o);
    free(mapped);
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory normalizing");
    *out = r;
    if (out_len) *out_len = o;
    return SS_OK;
}
