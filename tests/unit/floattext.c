/* floattext.c: ss_floats_to_text, the vector text of embed's tsv/jsonl and
 * serve's JSON: every number must read back as the very same float, stay
 * short, and be valid JSON number syntax. The oracles are strtof and
 * printf("%.9g"). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semsearch.h"
#include "tap.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number(const char *s)
{
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
    else return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

/* 1 when x's text reads back as x (bit for bit), is JSON, and is no longer than "%.9g" */
static int check(float x, char *why, size_t whylen)
{
    char buf[SS_FLOATS_TEXT_MAX(1) + 1], ref[64];
    size_t n = 0;
    int rc = ss_floats_to_text(&x, 1, ',', buf, SS_FLOATS_TEXT_MAX(1), &n);
    buf[n] = '\0';
    snprintf(ref, sizeof ref, "%.9g", (double)x);
    float back = strtof(buf, NULL);
    if (rc || n == 0 || memcmp(&back, &x, 4) != 0 || !json_number(buf) || n > strlen(ref)) {
        snprintf(why, whylen, "%.9g -> rc %d '%s' (len %zu) -> %.9g", (double)x, rc, buf, n, (double)back);
        return 0;
    }
    return 1;
}

static uint64_t s = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
}

int main(void)
{
    char why[160] = "";
    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 0.25f, 1e-5f, 3.4028235e38f, -3.4028235e38f,
                             1.17549435e-38f, -1.17549435e-38f, -1.1754942e-38f, 1.4e-45f, 16777216.0f,
                             16777217.0f, 123456.789f};
    int ok = 1;
    for (size_t i = 0; i < sizeof special / sizeof *special && ok; i++) ok = check(special[i], why, sizeof why);
    tap_ok(ok, "zero, -0, 1, 0.1, the largest, smallest normal and smallest subnormal floats read back");
    if (!ok) tap_diag("%s", why);

    char buf[256];
    size_t n;
    const float v[] = {0.25f, 0.1f, -3e-05f, 1.5f};
    int rc = ss_floats_to_text(v, 4, ',', buf, sizeof buf, &n);
    tap_ok(rc == SS_OK && n == 19 && !memcmp(buf, "0.25,0.1,-3e-05,1.5", 19),
           "0.25, 0.1f, -3e-05, 1.5 are written \"0.25,0.1,-3e-05,1.5\" (shortest, not %%.9g's 0.100000001)");
    rc = ss_floats_to_text(v, 2, '\t', buf, sizeof buf, &n);
    tap_ok(rc == SS_OK && n == 8 && !memcmp(buf, "0.25\t0.1", 8), "the separator is the caller's (a tab for TSV)");
    rc = ss_floats_to_text(v, 0, ',', NULL, 0, &n);
    tap_ok(rc == SS_OK && n == 0, "no numbers: no text");

    /* the bound: SS_FLOATS_TEXT_MAX(n) is enough for the longest numbers */
    float longest[64];
    for (int i = 0; i < 64; i++) longest[i] = i % 2 ? -1.1754942e-38f : -3.4028233e38f;
    char *big = malloc(SS_FLOATS_TEXT_MAX(64));
    rc = ss_floats_to_text(longest, 64, ',', big, SS_FLOATS_TEXT_MAX(64), &n);
    tap_ok(big && rc == SS_OK && n <= SS_FLOATS_TEXT_MAX(64) && n == 64 * 14 + 63,
           "64 of the longest numbers fit SS_FLOATS_TEXT_MAX(64) (%zu bytes)", n);
    /* a buffer one byte short is refused, not overrun (the byte after it stays) */
    memset(buf, 'Z', sizeof buf);
    rc = ss_floats_to_text(longest, 4, ',', buf, 4 * 14 + 3 - 1, &n);
    tap_ok(rc == SS_ERR_ARG && n == 0 && buf[4 * 14 + 3 - 1] == 'Z' && strstr(ss_errmsg(), "too few"),
           "a buffer one byte short: SS_ERR_ARG, nothing written past it (%s)", ss_errmsg());
    rc = ss_floats_to_text(longest, 4, ',', buf, 4 * 14 + 3, &n);
    tap_ok(rc == SS_OK && n == 4 * 14 + 3, "the exact length fits");
    free(big);

    float bad[3] = {1.0f, NAN, 2.0f};
    rc = ss_floats_to_text(bad, 3, ',', buf, sizeof buf, &n);
    tap_ok(rc == SS_ERR_ARG && n == 0 && strstr(ss_errmsg(), "value 2 of 3"), "NaN: SS_ERR_ARG (%s)", ss_errmsg());
    bad[1] = -INFINITY;
    rc = ss_floats_to_text(bad, 3, ',', buf, sizeof buf, &n);
    tap_ok(rc == SS_ERR_ARG && n == 0, "-infinity: SS_ERR_ARG");
    tap_ok(ss_floats_to_text(v, 1, ',', buf, sizeof buf, NULL) == SS_ERR_ARG &&
               ss_floats_to_text(NULL, 1, ',', buf, sizeof buf, &n) == SS_ERR_ARG &&
               ss_floats_to_text(v, 1, ',', NULL, 16, &n) == SS_ERR_ARG,
           "NULL values, buffer or length: SS_ERR_ARG");

    /* every exponent, random mantissas */
    long nbad = 0, shorter = 0;
    for (long i = 0; i < 400000; i++) {
        float x = from_bits((uint32_t)(next() >> 11));
        if (!isfinite(x)) continue;
        if (!check(x, why, sizeof why)) {
            if (!nbad++) tap_diag("%s", why);
        } else {
            char ref[64];
            ss_floats_to_text(&x, 1, ',', buf, sizeof buf, &n) == SS_OK ? (void)0 : (void)nbad++;
            if (n < (size_t)snprintf(ref, sizeof ref, "%.9g", (double)x)) shorter++;
        }
    }
    tap_ok(nbad == 0, "400,000 random finite floats read back bit for bit, as JSON numbers (%ld bad)", nbad);
    tap_ok(shorter > 0, "and most are shorter than %%.9g (%ld of them)", shorter);

    /* embedding-like values: |x| < 1, a whole vector at once read back with strtof */
    float vec[512], back[512];
    char *t = malloc(SS_FLOATS_TEXT_MAX(512) + 1);
    nbad = 0;
    for (int r = 0; r < 400 && t; r++) {
        for (int i = 0; i < 512; i++) vec[i] = (float)((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        if (ss_floats_to_text(vec, 512, ',', t, SS_FLOATS_TEXT_MAX(512), &n) != SS_OK) {
            nbad++;
            continue;
        }
        t[n] = '\0';
        char *p = t;
        for (int i = 0; i < 512; i++) {
            back[i] = strtof(p, &p);
            if (*p == ',') p++;
        }
        if (*p || memcmp(vec, back, sizeof vec) != 0) nbad++;
    }
    tap_ok(t && nbad == 0, "400 vectors of 512 values in (-1, 1) read back bit for bit (%ld bad)", nbad);
    free(t);
    return tap_done();
}
