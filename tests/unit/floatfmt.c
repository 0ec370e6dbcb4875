/* floatfmt.c: ss__format_float, the float text of embed's tsv/jsonl and
 * serve's JSON: it must read back as the very same float, stay short, and
 * be valid JSON number syntax. The oracle is strtof and printf("%.9g"). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/floatfmt.h"
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
    char buf[SS__FLOAT_CHARS + 1], ref[64];
    size_t n = ss__format_float(buf, x);
    buf[n] = '\0';
    snprintf(ref, sizeof ref, "%.9g", (double)x);
    float back = strtof(buf, NULL);
    if (n == 0 || n > SS__FLOAT_CHARS || memcmp(&back, &x, 4) != 0 || !json_number(buf) || n > strlen(ref)) {
        snprintf(why, whylen, "%.9g -> '%s' (len %zu) -> %.9g", (double)x, buf, n, (double)back);
        return 0;
    }
    return 1;
}

int main(void)
{
    char why[160] = "";
    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 0.25f, 1e-5f, 3.4028235e38f, -3.4028235e38f,
                             1.17549435e-38f, -1.17549435e-38f, 1.4e-45f, 16777216.0f, 16777217.0f, 123456.789f};
    int ok = 1;
    for (size_t i = 0; i < sizeof special / sizeof *special && ok; i++) ok = check(special[i], why, sizeof why);
    tap_ok(ok, "zero, -0, 1, 0.1, the largest, smallest normal and smallest subnormal floats read back");
    if (!ok) tap_diag("%s", why);

    char buf[SS__FLOAT_CHARS + 1];
    size_t n = ss__format_float(buf, 0.25f);
    tap_ok(n == 4 && memcmp(buf, "0.25", 4) == 0, "0.25 is written \"0.25\" (shortest, not 0.250000000)");
    n = ss__format_float(buf, 0.1f);
    tap_ok(n == 3 && memcmp(buf, "0.1", 3) == 0, "0.1f is written \"0.1\" (not %%.9g's 0.100000001)");

    /* every exponent, random mantissas */
    uint64_t s = 0x9e3779b97f4a7c15u;
    long bad = 0;
    long shorter = 0;
    for (long i = 0; i < 400000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t u = (uint32_t)(s >> 11);
        float x = from_bits(u);
        if (!isfinite(x)) continue;
        if (!check(x, why, sizeof why)) {
            if (!bad++) tap_diag("%s", why);
        } else {
            char ref[64];
            if (ss__format_float(buf, x) < (size_t)snprintf(ref, sizeof ref, "%.9g", (double)x)) shorter++;
        }
    }
    tap_ok(bad == 0, "400,000 random finite floats read back bit for bit, as JSON numbers (%ld bad)", bad);
    tap_ok(shorter > 0, "and some are shorter than %%.9g (%ld of them)", shorter);

    /* embedding-like values: |x| < 1 */
    bad = 0;
    for (long i = 0; i < 200000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        float x = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        if (!check(x, why, sizeof why) && !bad++) tap_diag("%s", why);
    }
    tap_ok(bad == 0, "200,000 values in (-1, 1) read back bit for bit (%ld bad)", bad);
    return tap_done();
}
