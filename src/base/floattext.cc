/* floattext.cc: ss_floats_to_text (semsearch.h). C++ for std::to_chars,
 * whose shortest round-trip form (libstdc++ implements it with Ryu) is
 * several times faster than printf("%.9g") and never longer: embed's
 * tsv/jsonl and serve's JSON answers are mostly numbers. */
#include "config.h"

#include <charconv>
#include <cmath>

#include "base/common.h"

/* the longest shortest form of a float: "-1.1754944e-38" (14), one more for sep */
static const size_t float_chars = 15;

int ss_floats_to_text(const float *x, size_t n, char sep, char *buf, size_t cap, size_t *len)
{
    if (len) *len = 0;
    if (!len || (n && (!x || !buf))) return ss__fail(SS_ERR_ARG, "ss_floats_to_text: NULL argument");
    char *p = buf, *end = buf + cap;
    for (size_t i = 0; i < n; i++) {
        if (!std::isfinite(x[i])) return ss__fail(SS_ERR_ARG, "value %zu of %zu is not a finite number", i + 1, n);
        if ((size_t)(end - p) < float_chars + 1) { /* rarely: only a cap below SS_FLOATS_TEXT_MAX(n) */
            char tmp[32];
            size_t k = 0;
            if (i) tmp[k++] = sep;
            k += (size_t)(std::to_chars(tmp + k, tmp + sizeof tmp, x[i]).ptr - (tmp + k));
            if ((size_t)(end - p) < k) return ss__fail(SS_ERR_ARG, "ss_floats_to_text: %zu bytes are too few", cap);
            for (size_t j = 0; j < k; j++) *p++ = tmp[j];
            continue;
        }
        if (i) *p++ = sep;
        p = std::to_chars(p, end, x[i]).ptr;
    }
    *len = (size_t)(p - buf);
    return SS_OK;
}
