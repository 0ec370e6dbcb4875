/* normalize.c: utf8proc normalization (ss_normalize) and UTF-8 repair. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/common.h"
#include "tap.h"

static int norm_is(const char *in, size_t len, int flags, const char *want, const char *what)
{
    char *out = NULL;
    size_t n = 0;
    int rc = ss_normalize(in, len, flags, &out, &n);
    int ok = rc == SS_OK && out && n == strlen(want) && memcmp(out, want, n) == 0 && out[n] == '\0';
    tap_ok(ok, "%s", what);
    if (!ok) tap_diag("rc=%d got '%s' want '%s'", rc, out ? out : "(null)", want);
    ss_free(out);
    return ok;
}
#define NORM(in, flags, want, what) norm_is(in, sizeof(in) - 1, flags, want, what)

static int valid_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

/* 1 if ss_normalize, failing its k-th allocation for k = 1..9, gives
 * SS_ERR_NOMEM and no output or succeeds (with want, if given), and fails at
 * least once */
static int nomem_everywhere(const char *in, int flags, const char *want)
{
    int good = 1, saw_nomem = 0;
    for (long k = 1; k < 10; k++) {
        ss__fail_alloc_after(k);
        char *out = NULL;
        size_t n;
        int rc = ss_normalize(in, strlen(in), flags, &out, &n);
        if (rc == SS_ERR_NOMEM) {
            saw_nomem = 1;
            if (out) good = 0;
        } else if (rc != SS_OK || (want && strcmp(out, want))) good = 0;
        ss_free(out);
    }
    ss__fail_alloc_after(0);
    return good && saw_nomem;
}

int main(void)
{
    const int D = SS_NORM_DEFAULT, CF = SS_NORM_NFKC | SS_NORM_CASEFOLD;
    NORM("", D, "", "empty text stays empty");
    NORM("   \t \n ", D, "", "only whitespace becomes empty");
    NORM("\xef\xac\x81ne", D, "fine", "NFKC expands the fi ligature");
    NORM("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", D, "ABC", "NFKC folds full-width letters");
    NORM("e\xcc\x81", D, "\xc3\xa9", "combining accent composes (NFC part of NFKC)");
    NORM("Stra\xc3\x9f" "e", CF, "strasse", "case folding folds sharp s");
    NORM("HeLLo", D, "HeLLo", "no case folding by default");
    NORM("a\xff" "b", D, "a\xef\xbf\xbd" "b", "an invalid byte becomes U+FFFD");
    NORM("\xe2\x82", D, "\xef\xbf\xbd\xef\xbf\xbd", "a truncated sequence: one U+FFFD per byte");
    NORM("\xc0\xaf", D, "\xef\xbf\xbd\xef\xbf\xbd", "an overlong encoding is replaced");
    NORM("\xed\xa0\x80", D, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "a UTF-16 surrogate is replaced");
    NORM("a\0b", D, "ab", "NUL bytes are dropped");
    NORM("a\x07" "b\x1b" "c", D, "abc", "control characters are dropped");
    NORM("a\tb\nc\r\nd", D, "a b c d", "tabs and newlines become spaces");
    NORM("  a   b  ", D, "a b", "whitespace runs collapse and ends are trimmed");
    NORM("a\xc2\xa0\xc2\xa0" "b", D, "a b", "no-break spaces collapse into one space");
    NORM("a\xe3\x80\x80" "b", D, "a b", "the ideographic space is a space");
    NORM("a\xe2\x80\x8b" "b", D, "ab", "zero-width space is removed");
    NORM("\xef\xbb\xbfhello", D, "hello", "a byte order mark is removed");

    /* SS_NORM_SPLIT_PUNCT: punctuation and symbols become words */
    const int SP = SS_NORM_DEFAULT | SS_NORM_SPLIT_PUNCT;
    NORM("(#guns)", SP, "( # guns )", "split-punct: marks before, inside and after words");
    NORM("What's co-op?!", SP, "What ' s co - op ? !", "split-punct: apostrophes, hyphens, runs of marks");
    NORM("  \"a\"  b ", SP, "\" a \" b", "split-punct: one space between, none at the ends");
    NORM("1+1=2 $5 \xe2\x82\xac" "3", SP, "1 + 1 = 2 $ 5 \xe2\x82\xac 3", "split-punct: math and currency symbols (S*)");
    NORM("\xc2\xab" "oui\xc2\xbb", SP, "\xc2\xab oui \xc2\xbb", "split-punct: guillemets (Pi/Pf)");
    NORM("a_b", SP, "a _ b", "split-punct: connector punctuation");
    NORM("caf\xc3\xa9 42", SP, "caf\xc3\xa9 42", "split-punct: letters and digits untouched");
    NORM("(((", SP, "( ( (", "split-punct: a text of marks only (output longer than input)");
    NORM("(#Guns)", SP | SS_NORM_CASEFOLD, "( # guns )", "split-punct with case folding");
    NORM("a,b", D, "a,b", "no splitting by default");

    /* A 10 MB line: normalized whole, never truncated. */
    size_t big = 10u << 20;
    char *s = malloc(big);
    for (size_t i = 0; i < big; i++) s[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 26);
    char *out = NULL;
    size_t n = 0;
    int rc = ss_normalize(s, big, D, &out, &n);
    tap_ok(rc == SS_OK && n == big - (s[big - 1] == ' '), "a 10 MB line is normalized whole (%zu bytes)", n);
    ss_free(out);
    free(s);

    /* Random bytes: always valid UTF-8 out, never a crash. */
    srand(1);
    int all_valid = 1;
    for (int t = 0; t < 3000 && all_valid; t++) {
        char buf[64];
        size_t len = (size_t)(rand() % 64);
        for (size_t i = 0; i < len; i++) buf[i] = (char)(rand() & 0xff);
        rc = ss_normalize(buf, len, t % 3 == 2 ? SP : t & 1 ? CF : D, &out, &n);
        if (rc != SS_OK || !valid_utf8(out, n) || strlen(out) != n) all_valid = 0;
        ss_free(out);
    }
    tap_ok(all_valid, "3000 random byte strings give valid UTF-8 without NULs");

    /* Allocation failure at every point: NOMEM or success, no leak (ASan). */
    tap_ok(nomem_everywhere("Hello \xef\xac\x81 world", D, NULL),
           "allocation failures give SS_ERR_NOMEM and no output");
    tap_ok(nomem_everywhere("(Hello) \xef\xac\x81 world!", SP, "( Hello ) fi world !"),
           "split-punct: allocation failures give SS_ERR_NOMEM and no output");

    rc = ss_normalize(NULL, 3, D, &out, &n);
    tap_ok(rc == SS_ERR_ARG && strstr(ss_errmsg(), "NULL"), "NULL text with a length is an argument error");
    tap_ok(strcmp(ss_strerror(SS_ERR_NOMEM), "out of memory") == 0, "ss_strerror describes codes");
    tap_ok(strcmp(ss_version(), SS_VERSION) == 0 && ss_version_number() == SS_VERSION_NUMBER,
           "version function matches the header");
    return tap_done();
}
