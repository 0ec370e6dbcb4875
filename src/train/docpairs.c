/* docpairs.c: positive pairs from a document's title, headings and
 * paragraphs (see docpairs.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "train/docpairs.h"
#include "train/trainset.h"

void ss__docpair_opts_init(ss__docpair_opts *o)
{
    for (int k = 0; k < SS__DOCPAIR_KINDS; k++) o->weight[k] = 1.0;
    o->ict_keep = 0.1;
    o->crop_min = 0.1;
    o->crop_max = 0.5;
}

static const char *const kind_names[SS__DOCPAIR_KINDS] = {"title", "section", "ict", "crop"};

int ss__docpair_parse(const char *spec, ss__docpair_opts *o)
{
    double w[SS__DOCPAIR_KINDS] = {0};
    const char *p = spec;
    double sum = 0;
    while (*p) {
        const char *colon = strchr(p, ':'), *comma = strchr(p, ',');
        if (!comma) comma = p + strlen(p);
        int k = -1;
        size_t nl = (colon && colon < comma ? colon : comma) - p;
        for (int i = 0; i < SS__DOCPAIR_KINDS; i++)
            if (strlen(kind_names[i]) == nl && !strncmp(p, kind_names[i], nl)) k = i;
        if (k < 0)
            return ss__fail(SS_ERR_ARG, "'%.*s' is no kind of document pair (title, section, ict or crop)", (int)nl,
                            p);
        double v = 1;
        if (colon && colon < comma) {
            char *end;
            v = strtod(colon + 1, &end);
            if (end != comma || !(v >= 0 && v <= 1e6))
                return ss__fail(SS_ERR_ARG, "'%.*s': the weight of %s must be a number from 0 to 1e6",
                                (int)(comma - p), p, kind_names[k]);
        }
        w[k] = v;
        sum += v;
        p = *comma ? comma + 1 : comma;
    }
    if (!(sum > 0)) return ss__fail(SS_ERR_ARG, "'%s': no kind of document pair has a positive weight", spec);
    memcpy(o->weight, w, sizeof w);
    return SS_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* Abbreviations after which a period ends no sentence. */
static int abbreviation(const char *s, size_t end)
{
    static const char *const ab[] = {"Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "vs", "etc", "e.g",
                                     "i.e", "U.S", "Inc", "Ltd", "Co", "No", "Gen", "Col", "Lt", "Sgt", "Mt",
                                     "Ft", "Rev", "Gov", "Sen", "Rep", "approx", "cf", "al", "Jan", "Feb", "Aug",
                                     "Sept", "Oct", "Nov", "Dec", "U.K", "U.N"};
    size_t b = end;
    while (b > 0 && !is_space(s[b - 1]) && s[b - 1] != '(' && s[b - 1] != '"') b--;
    size_t n = end - b;
    if (n == 1 && isupper((unsigned char)s[b])) return 1; /* an initial: "J. Smith" */
    for (size_t i = 0; i < sizeof ab / sizeof *ab; i++)
        if (strlen(ab[i]) == n && !memcmp(s + b, ab[i], n)) return 1;
    return 0;
}

int ss__sentences(const char *s, size_t n, size_t *start, int max, int *count)
{
    int c = 0;
    start[c++] = 0;
    for (size_t i = 0; i < n && c < max; i++) {
        if (s[i] != '.' && s[i] != '!' && s[i] != '?') continue;
        size_t j = i + 1;
        while (j < n && (s[j] == '"' || s[j] == '\'' || s[j] == ')' || s[j] == ']')) j++;
        if (j >= n || !is_space(s[j])) continue;
        size_t k = j;
        while (k < n && is_space(s[k])) k++;
        if (k >= n) break;
        unsigned char u = (unsigned char)s[k];
        if (!(isupper(u) || isdigit(u) || u == '"' || u == '\'' || u == '(' || u >= 0x80)) continue;
        if (s[i] == '.' && abbreviation(s, i)) continue;
        start[c++] = k;
        i = k - 1;
    }
    start[c] = n;
    *count = c;
    return SS_OK;
}

/* s[0..n) without surrounding white space, as a new string. */
static int dup_trim(const char *s, size_t n, char **out, size_t *len)
{
    while (n > 0 && is_space(*s)) s++, n--;
    while (n > 0 && is_space(s[n - 1])) n--;
    char *p = ss__malloc(n + 1);
    if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
    memcpy(p, s, n);
    p[n] = '\0';
    *out = p;
    *len = n;
    return SS_OK;
}

#define MAX_SENT 256
#define MIN_CROP_WORDS 12

/* Words of s: word i is s[ws[i] .. we[i]); at most max. */
static int words(const char *s, size_t n, size_t *ws, size_t *we, int max)
{
    int k = 0;
    size_t i = 0;
    while (i < n && k < max) {
        while (i < n && is_space(s[i])) i++;
        if (i >= n) break;
        ws[k] = i;
        while (i < n && !is_space(s[i])) i++;
        we[k++] = i;
    }
    return k;
}

static double uniform(uint64_t rng[4]) { return (double)(ss__rng_next(rng) >> 11) * 0x1.0p-53; }

/* A span of the words ws/we[0..nw) as a new string, words joined by a space. */
static int span(const ss__docpair_opts *o, uint64_t rng[4], const char *p, const size_t *ws, const size_t *we,
                int nw, char **out, size_t *len)
{
    double r = o->crop_min + (o->crop_max - o->crop_min) * uniform(rng);
    int L = (int)(r * nw + 0.5);
    if (L < 5) L = 5;
    if (L > nw) L = nw;
    int s0 = (int)ss__rand_below(rng, (uint64_t)(nw - L + 1));
    size_t cap = 1;
    for (int i = s0; i < s0 + L; i++) cap += we[i] - ws[i] + 1;
    char *q = ss__malloc(cap), *w = q;
    if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
    for (int i = s0; i < s0 + L; i++) {
        if (w > q) *w++ = ' ';
        memcpy(w, p + ws[i], we[i] - ws[i]);
        w += we[i] - ws[i];
    }
    *w = '\0';
    *out = q;
    *len = (size_t)(w - q);
    return SS_OK;
}

#define MAX_WORDS 4096

int ss__docpair_make(const ss__docpair_opts *o, uint64_t rng[4], const char *title, size_t tlen,
                     const char *section, size_t slen, const char *p, size_t plen, char **a, size_t *alen,
                     char **b, size_t *blen, int *kind)
{
    *a = *b = NULL;
    size_t st[MAX_SENT + 1];
    int ns = 0;
    ss__sentences(p, plen, st, MAX_SENT, &ns);
    size_t *ws = ss__malloc(2 * MAX_WORDS * sizeof *ws);
    if (!ws) return ss__fail(SS_ERR_NOMEM, "out of memory");
    size_t *we = ws + MAX_WORDS;
    int nw = words(p, plen, ws, we, MAX_WORDS);
    double w[SS__DOCPAIR_KINDS], sum = 0;
    w[SS__DOCPAIR_TITLE] = title && tlen ? o->weight[SS__DOCPAIR_TITLE] : 0;
    w[SS__DOCPAIR_SECTION] = section && slen ? o->weight[SS__DOCPAIR_SECTION] : 0;
    w[SS__DOCPAIR_ICT] = ns >= 2 ? o->weight[SS__DOCPAIR_ICT] : 0;
    w[SS__DOCPAIR_CROP] = nw >= MIN_CROP_WORDS ? o->weight[SS__DOCPAIR_CROP] : 0;
    for (int k = 0; k < SS__DOCPAIR_KINDS; k++) sum += w[k];
    int k = -1;
    if (sum > 0) {
        double u = uniform(rng) * sum;
        for (k = 0; k < SS__DOCPAIR_KINDS - 1; k++) {
            if (u < w[k]) break;
            u -= w[k];
        }
        while (w[k] == 0) k--; /* rounding at the top end */
    }
    int rc = SS_OK;
    switch (k) {
    case SS__DOCPAIR_TITLE:
        rc = dup_trim(title, tlen, a, alen);
        break;
    case SS__DOCPAIR_SECTION:
        if (title && tlen) {
            char *q = ss__malloc(tlen + slen + 3);
            if (!q) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                break;
            }
            int n = snprintf(q, tlen + slen + 3, "%.*s: %.*s", (int)tlen, title, (int)slen, section);
            *a = q;
            *alen = (size_t)n;
        } else {
            rc = dup_trim(section, slen, a, alen);
        }
        break;
    case SS__DOCPAIR_ICT: {
        int i = (int)ss__rand_below(rng, (uint64_t)ns);
        rc = dup_trim(p + st[i], st[i + 1] - st[i], a, alen);
        if (rc || uniform(rng) < o->ict_keep) break;
        /* the context: the paragraph without sentence i */
        size_t n1 = st[i], n2 = plen - st[i + 1];
        char *q = ss__malloc(n1 + n2 + 2);
        if (!q) {
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(q, p, n1);
        size_t m = n1;
        while (m > 0 && is_space(q[m - 1])) m--;
        if (m > 0 && n2 > 0) q[m++] = ' ';
        memcpy(q + m, p + st[i + 1], n2);
        rc = dup_trim(q, m + n2, b, blen);
        ss_free(q);
        break;
    }
    case SS__DOCPAIR_CROP:
        rc = span(o, rng, p, ws, we, nw, a, alen);
        if (!rc) rc = span(o, rng, p, ws, we, nw, b, blen);
        break;
    default: /* nothing applies: the paragraph on both sides (dropout views) */
        rc = dup_trim(p, plen, a, alen);
        break;
    }
    if (!rc && !*b) rc = dup_trim(p, plen, b, blen);
    ss_free(ws);
    if (rc) {
        ss_free(*a);
        ss_free(*b);
        *a = *b = NULL;
        return rc;
    }
    *kind = k;
    return SS_OK;
}
