/* datafile.c: the TSV data formats, split into fields with file:line errors.
 * The reader copies each line so that its fields can be NUL-terminated in
 * place; the loaders keep every text in one pool (few allocations even for
 * 100k-line training files). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "text/datafile.h"
#include "base/textio.h"

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

ss__data_kind ss__data_kind_from_name(const char *path)
{
    if (!path) return SS__DATA_UNKNOWN;
    size_t n = strlen(path);
    if (ends_with(path, n, ".gz")) n -= 3;
    if (ends_with(path, n, ".groups.tsv")) return SS__DATA_GROUPS;
    if (ends_with(path, n, ".scored.tsv")) return SS__DATA_SCORED;
    if (ends_with(path, n, ".labeled.tsv")) return SS__DATA_LABELED;
    if (ends_with(path, n, ".triplets.tsv")) return SS__DATA_TRIPLETS;
    if (ends_with(path, n, ".txt")) return SS__DATA_TEXT;
    return SS__DATA_UNKNOWN;
}

const char *ss__data_kind_name(ss__data_kind k)
{
    switch (k) {
    case SS__DATA_TEXT: return "text";
    case SS__DATA_GROUPS: return "groups";
    case SS__DATA_SCORED: return "scored";
    case SS__DATA_LABELED: return "labeled";
    case SS__DATA_TRIPLETS: return "triplets";
    default: return "unknown";
    }
}

/* Grows *p (elements of size el) to hold at least need elements. */
static int grow(void *pp, size_t *cap, size_t need, size_t el)
{
    void **p = pp;
    if (need <= *cap) return SS_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / el) return ss__fail(SS_ERR_NOMEM, "out of memory");
        nc *= 2;
    }
    void *q = ss__realloc(*p, nc * el);
    if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
    *p = q;
    *cap = nc;
    return SS_OK;
}

/* ---------------------------------------------------------------- iterator */

struct ss__data_reader {
    ss__lines *lines;
    ss__data_kind kind;
    char *buf; /* copy of the current line, tabs replaced by NULs */
    size_t buf_cap;
    const char **text;
    size_t *len;
    size_t text_cap, len_cap;
};

int ss__data_open(const char *path, ss__data_kind kind, ss__data_reader **out)
{
    *out = NULL;
    if (kind != SS__DATA_TEXT && kind != SS__DATA_GROUPS && kind != SS__DATA_SCORED &&
        kind != SS__DATA_LABELED && kind != SS__DATA_TRIPLETS)
        return ss__fail(SS_ERR_ARG, "%s: unknown data kind", path);
    ss__data_reader *r = ss__calloc(1, sizeof *r);
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory");
    r->kind = kind;
    int rc = ss__lines_open(path, &r->lines);
    if (rc) {
        ss_free(r);
        return rc;
    }
    *out = r;
    return SS_OK;
}

const char *ss__data_name(const ss__data_reader *r) { return ss__lines_name(r->lines); }

void ss__data_close(ss__data_reader *r)
{
    if (!r) return;
    ss__lines_close(r->lines);
    ss_free(r->buf);
    ss_free(r->text);
    ss_free(r->len);
    ss_free(r);
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

/* A short, printable excerpt of a bad field for a message. */
static const char *excerpt(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        buf[o++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (n > 0 && o + 4 >= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* The third field: a finite number (scored) or exactly 0 or 1 (labeled). */
static int parse_value(ss__data_reader *r, const char *s, size_t n, double *v)
{
    const char *name = ss__data_name(r);
    long ln = ss__lines_lineno(r->lines);
    char ex[48];
    /* trim surrounding spaces: "3.5 " is still 3.5 */
    while (n > 0 && (*s == ' ')) s++, n--;
    while (n > 0 && s[n - 1] == ' ') n--;
    if (r->kind == SS__DATA_LABELED) {
        if (n == 1 && (s[0] == '0' || s[0] == '1')) {
            *v = s[0] - '0';
            return SS_OK;
        }
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: label '%s' is not 0 or 1", name, ln,
                        excerpt(s, n, ex, sizeof ex));
    }
    char num[64];
    char *end = NULL;
    double d = 0;
    if (n > 0 && n < sizeof num) {
        memcpy(num, s, n);
        num[n] = '\0';
        errno = 0;
        d = strtod(num, &end);
    }
    if (n == 0 || n >= sizeof num || end != num + n)
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: score '%s' is not a number", name, ln,
                        excerpt(s, n, ex, sizeof ex));
    if (!isfinite(d))
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: score '%s' is not a finite number", name, ln,
                        excerpt(s, n, ex, sizeof ex));
    *v = d;
    return SS_OK;
}

int ss__data_next(ss__data_reader *r, ss__data_row *row)
{
    const char *line;
    size_t len;
    int rc;
    for (;;) {
        rc = ss__lines_next(r->lines, &line, &len);
        if (rc != SS__LINE) return rc; /* 0 at the end, or an error already recorded */
        /* empty lines are skipped; so is a line of spaces in plain text */
        if (len > 0 && !(r->kind == SS__DATA_TEXT && blank(line, len))) break;
    }

    const char *name = ss__data_name(r);
    long ln = ss__lines_lineno(r->lines);
    if ((rc = grow(&r->buf, &r->buf_cap, len + 1, 1))) return rc;
    memcpy(r->buf, line, len);
    r->buf[len] = '\0';

    /* split on tabs (not plain text, where a tab is part of the line) */
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && (r->buf[i] != '\t' || r->kind == SS__DATA_TEXT)) continue;
        if ((rc = grow(&r->text, &r->text_cap, nf + 1, sizeof *r->text)) ||
            (rc = grow(&r->len, &r->len_cap, nf + 1, sizeof *r->len)))
            return rc;
        r->buf[i] = '\0';
        r->text[nf] = r->buf + start;
        r->len[nf] = i - start;
        nf++;
        start = i + 1;
    }

    size_t ntext = nf;
    row->value = 0;
    if (r->kind == SS__DATA_SCORED || r->kind == SS__DATA_LABELED) {
        if (nf != 3)
            return ss__fail(SS_ERR_FORMAT, "%s:%ld: expected 3 tab-separated fields, got %zu", name,
                            ln, nf);
        if ((rc = parse_value(r, r->text[2], r->len[2], &row->value))) return rc;
        ntext = 2;
    } else if (r->kind == SS__DATA_TRIPLETS && nf != 3) {
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: expected 3 tab-separated texts (anchor, positive, negative), got %zu",
                        name, ln, nf);
    } else if (r->kind == SS__DATA_GROUPS && nf < 2) {
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: expected 2 or more tab-separated texts, got %zu",
                        name, ln, nf);
    }
    for (size_t i = 0; i < ntext; i++)
        if (blank(r->text[i], r->len[i]))
            return ss__fail(SS_ERR_FORMAT, "%s:%ld: text %zu is empty", name, ln, i + 1);
    row->text = r->text;
    row->len = r->len;
    row->n = ntext;
    row->lineno = ln;
    return SS__LINE;
}

/* ----------------------------------------------------------------- loaders */

/* Appends a NUL-terminated copy of s to the pool; *off gets its offset. */
static int pool_add(char **pool, size_t *used, size_t *cap, const char *s, size_t n, size_t *off)
{
    if (n > SIZE_MAX - *used - 1) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int rc = grow(pool, cap, *used + n + 1, 1);
    if (rc) return rc;
    memcpy(*pool + *used, s, n);
    (*pool)[*used + n] = '\0';
    *off = *used;
    *used += n + 1;
    return SS_OK;
}

void ss__pairs_free(ss__pairs *p)
{
    if (!p) return;
    ss_free((void *)p->a);
    ss_free((void *)p->b);
    ss_free(p->alen);
    ss_free(p->blen);
    ss_free(p->value);
    ss_free(p->pool);
    memset(p, 0, sizeof *p);
}

int ss__pairs_load(const char *path, ss__data_kind kind, ss__pairs *out)
{
    memset(out, 0, sizeof *out);
    if (kind != SS__DATA_SCORED && kind != SS__DATA_LABELED)
        return ss__fail(SS_ERR_ARG, "%s: pairs must be scored or labeled", path);
    ss__data_reader *r;
    int rc = ss__data_open(path, kind, &r);
    if (rc) return rc;
    size_t *aoff = NULL, *boff = NULL, cap_a = 0, cap_b = 0, cap_al = 0, cap_bl = 0, cap_v = 0;
    size_t used = 0, pcap = 0, n = 0;
    ss__data_row row;
    while ((rc = ss__data_next(r, &row)) == SS__LINE) {
        size_t need = n + 1;
        if ((rc = grow(&aoff, &cap_a, need, sizeof *aoff)) || (rc = grow(&boff, &cap_b, need, sizeof *boff)) ||
            (rc = grow(&out->alen, &cap_al, need, sizeof *out->alen)) ||
            (rc = grow(&out->blen, &cap_bl, need, sizeof *out->blen)) ||
            (rc = grow(&out->value, &cap_v, need, sizeof *out->value)) ||
            (rc = pool_add(&out->pool, &used, &pcap, row.text[0], row.len[0], &aoff[n])) ||
            (rc = pool_add(&out->pool, &used, &pcap, row.text[1], row.len[1], &boff[n])))
            break;
        out->alen[n] = row.len[0];
        out->blen[n] = row.len[1];
        out->value[n] = row.value;
        n++;
    }
    if (rc == 0 && n == 0) rc = ss__fail(SS_ERR_FORMAT, "%s: no pairs", ss__data_name(r));
    if (rc == 0) {
        out->a = ss__malloc(n * sizeof *out->a);
        out->b = ss__malloc(n * sizeof *out->b);
        if (!out->a || !out->b) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            out->a[i] = out->pool + aoff[i];
            out->b[i] = out->pool + boff[i];
        }
        out->n = n;
    }
    ss_free(aoff);
    ss_free(boff);
    ss__data_close(r);
    if (rc) ss__pairs_free(out);
    return rc;
}

void ss__groups_free(ss__groups *g)
{
    if (!g) return;
    ss_free((void *)g->text);
    ss_free(g->len);
    ss_free(g->start);
    ss_free(g->lineno);
    ss_free(g->pool);
    memset(g, 0, sizeof *g);
}

int ss__groups_load(const char *path, ss__groups *out)
{
    memset(out, 0, sizeof *out);
    ss__data_reader *r;
    int rc = ss__data_open(path, SS__DATA_GROUPS, &r);
    if (rc) return rc;
    size_t *off = NULL, cap_off = 0, cap_len = 0, cap_start = 0, cap_line = 0;
    size_t used = 0, pcap = 0, nt = 0, ng = 0;
    ss__data_row row;
    rc = grow(&out->start, &cap_start, 1, sizeof *out->start);
    if (!rc) out->start[0] = 0;
    while (!rc && (rc = ss__data_next(r, &row)) == SS__LINE) {
        rc = 0;
        if ((rc = grow(&off, &cap_off, nt + row.n, sizeof *off)) ||
            (rc = grow(&out->len, &cap_len, nt + row.n, sizeof *out->len)) ||
            (rc = grow(&out->start, &cap_start, ng + 2, sizeof *out->start)) ||
            (rc = grow(&out->lineno, &cap_line, ng + 1, sizeof *out->lineno)))
            break;
        for (size_t i = 0; i < row.n && !rc; i++) {
            rc = pool_add(&out->pool, &used, &pcap, row.text[i], row.len[i], &off[nt]);
            out->len[nt++] = row.len[i];
        }
        if (rc) break;
        out->lineno[ng] = row.lineno;
        out->start[++ng] = nt;
    }
    if (rc == 0 && ng == 0) rc = ss__fail(SS_ERR_FORMAT, "%s: no groups", ss__data_name(r));
    if (rc == 0) {
        out->text = ss__malloc(nt * sizeof *out->text);
        if (!out->text) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (rc == 0) {
        for (size_t i = 0; i < nt; i++) out->text[i] = out->pool + off[i];
        out->n_groups = ng;
        out->n_texts = nt;
    }
    ss_free(off);
    ss__data_close(r);
    if (rc) ss__groups_free(out);
    return rc;
}
