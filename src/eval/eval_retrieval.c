/* eval_retrieval.c: queries/corpus/qrels retrieval evaluation (see
 * eval_retrieval.h): loading the TSV triple or a BEIR directory, the
 * trec_eval metrics, and the model, BM25 and hybrid runs. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/common.h"
#include "eval/eval_retrieval.h"
#include "store/hybrid.h"
#include "base/pool.h"
#include "store/search.h"
#include "base/textio.h"

/* ------------------------------------------------------------------ paths */

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && !S_ISDIR(st.st_mode);
}

static char *cat(const char *a, size_t alen, const char *b)
{
    size_t bl = strlen(b);
    char *s = ss__malloc(alen + bl + 1);
    if (!s) return NULL;
    memcpy(s, a, alen);
    memcpy(s + alen, b, bl + 1);
    return s;
}

void ss__ir_paths_free(ss__ir_paths *p)
{
    if (!p) return;
    ss_free(p->name);
    ss_free(p->queries);
    ss_free(p->corpus);
    ss_free(p->qrels);
    memset(p, 0, sizeof *p);
}

/* name + suffix, or name + suffix + ".gz" when only that exists. */
static char *part_path(const char *name, size_t n, const char *suffix)
{
    char *p = cat(name, n, suffix);
    if (!p || is_file(p)) return p;
    char *z = cat(p, strlen(p), ".gz");
    if (z && is_file(z)) {
        ss_free(p);
        return z;
    }
    ss_free(z);
    return p;
}

static int paths_triple(const char *name, size_t n, ss__ir_paths *out)
{
    out->beir = 0;
    out->name = ss__strndup(name, n);
    out->queries = part_path(name, n, ".queries.tsv");
    out->corpus = part_path(name, n, ".corpus.tsv");
    out->qrels = part_path(name, n, ".qrels.tsv");
    if (!out->name || !out->queries || !out->corpus || !out->qrels) {
        ss__ir_paths_free(out);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    return 1;
}

/* dir (n bytes, no trailing slash) with its qrels file (NULL: choose). */
static int paths_beir(const char *dir, size_t n, const char *qrels, ss__ir_paths *out)
{
    out->beir = 1;
    out->name = ss__strndup(dir, n);
    out->queries = cat(dir, n, "/queries.jsonl");
    out->corpus = cat(dir, n, "/corpus.jsonl");
    if (qrels) out->qrels = ss__strdup(qrels);
    else {
        out->qrels = cat(dir, n, "/qrels/test.tsv");
        if (out->qrels && !is_file(out->qrels)) {
            ss_free(out->qrels);
            out->qrels = cat(dir, n, "/qrels/dev.tsv");
        }
    }
    if (!out->name || !out->queries || !out->corpus || !out->qrels) {
        ss__ir_paths_free(out);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (!is_file(out->qrels)) {
        int rc = ss__fail(SS_ERR_IO, "%s: a BEIR directory without qrels/test.tsv or qrels/dev.tsv",
                          out->name);
        ss__ir_paths_free(out);
        return rc;
    }
    return 1;
}

int ss__ir_resolve(const char *path, ss__ir_paths *out)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path || !strcmp(path, "-")) return 0;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    static const char *const sufs[] = {".queries.tsv", ".corpus.tsv", ".qrels.tsv"};
    size_t nz = n >= 3 && !memcmp(path + n - 3, ".gz", 3) ? n - 3 : n; /* NAME.corpus.tsv.gz */
    for (int i = 0; i < 3; i++) {
        size_t m = strlen(sufs[i]);
        if (nz > m && !memcmp(path + nz - m, sufs[i], m)) return paths_triple(path, nz - m, out);
    }
    char *probe = cat(path, n, "/corpus.jsonl");
    if (!probe) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int beir = is_dir(path) && is_file(probe);
    ss_free(probe);
    if (beir) return paths_beir(path, n, NULL, out);
    /* DIR/qrels/SPLIT.tsv of a BEIR directory */
    const char *q = NULL;
    for (size_t i = n; i-- > 0;)
        if (!strncmp(path + i, "/qrels/", 7) || (i == 0 && !strncmp(path, "qrels/", 6))) {
            q = path + i;
            break;
        }
    if (q && ends_with(path, ".tsv") && is_file(path)) {
        size_t dl = (size_t)(q - path);
        char *dir = dl ? ss__strndup(path, dl) : ss__strdup(".");
        if (!dir) return ss__fail(SS_ERR_NOMEM, "out of memory");
        char *c = cat(dir, strlen(dir), "/corpus.jsonl");
        int ok = c && is_file(c);
        ss_free(c);
        int rc = ok ? paths_beir(dir, strlen(dir), path, out) : 0;
        ss_free(dir);
        if (rc) return rc;
    }
    /* NAME alone */
    char *qp = part_path(path, n, ".queries.tsv");
    if (!qp) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int triple = is_file(qp);
    ss_free(qp);
    return triple ? paths_triple(path, n, out) : 0;
}

/* ------------------------------------------------------------------ loading */

typedef struct pool {
    char *p;
    size_t len, cap;
} pool;

/* Appends s[0..n) and a NUL; *off gets its offset. */
static int pool_add(pool *p, const char *s, size_t n, size_t *off)
{
    if (n > SIZE_MAX / 2 - p->len - 1) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (p->len + n + 1 > p->cap) {
        size_t nc = p->cap ? p->cap : 1 << 16;
        while (nc < p->len + n + 1) nc *= 2;
        char *q = ss__realloc(p->p, nc);
        if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
        p->p = q;
        p->cap = nc;
    }
    memcpy(p->p + p->len, s, n);
    p->p[p->len + n] = '\0';
    *off = p->len;
    p->len += n + 1;
    return SS_OK;
}

static int grow(void *pp, size_t *cap, size_t need, size_t el)
{
    void **p = pp;
    if (need <= *cap) return SS_OK;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) {
        if (nc > SIZE_MAX / 4 / el) return ss__fail(SS_ERR_NOMEM, "out of memory");
        nc *= 2;
    }
    void *q = ss__realloc(*p, nc * el);
    if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory");
    *p = q;
    *cap = nc;
    return SS_OK;
}

/* Ids and texts of one file, with a hash from id to entry. */
typedef struct table {
    const char *file;
    size_t n, cap;
    size_t *id, *text, *tlen; /* pool offsets, text length */
    long *line;
    size_t *slot, nslot;      /* open addressing: entry + 1, 0 empty */
} table;

static void table_free(table *t)
{
    ss_free(t->id);
    ss_free(t->text);
    ss_free(t->tlen);
    ss_free(t->line);
    ss_free(t->slot);
    memset(t, 0, sizeof *t);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

/* The entry with id s[0..n), or SIZE_MAX. */
static size_t table_find(const table *t, const pool *p, const char *s, size_t n)
{
    if (!t->nslot) return SIZE_MAX;
    size_t mask = t->nslot - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        size_t e = t->slot[i];
        if (!e) return SIZE_MAX;
        const char *id = p->p + t->id[e - 1];
        if (strlen(id) == n && !memcmp(id, s, n)) return e - 1;
    }
}

static int table_index(table *t, const pool *p, size_t e)
{
    if (2 * (t->n + 1) > t->nslot) { /* rehash into twice the slots */
        size_t ns = t->nslot ? 2 * t->nslot : 1024;
        while (2 * (t->n + 1) > ns) ns *= 2;
        size_t *s = ss__calloc(ns, sizeof *s);
        if (!s) return ss__fail(SS_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < t->nslot; k++) {
            size_t x = t->slot[k];
            if (!x) continue;
            const char *id = p->p + t->id[x - 1];
            size_t i = hash_bytes(id, strlen(id)) & (ns - 1);
            while (s[i]) i = (i + 1) & (ns - 1);
            s[i] = x;
        }
        ss_free(t->slot);
        t->slot = s;
        t->nslot = ns;
    }
    const char *id = p->p + t->id[e];
    size_t i = hash_bytes(id, strlen(id)) & (t->nslot - 1);
    while (t->slot[i]) i = (i + 1) & (t->nslot - 1);
    t->slot[i] = e + 1;
    return SS_OK;
}

/* A short printable excerpt for messages. */
static const char *excerpt(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) buf[o++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (o + 4 >= cap && n > o) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* Adds an entry; a repeated id is an error naming both lines. */
static int table_add(table *t, pool *p, const char *id, size_t idlen, const char *text, size_t tlen, long line)
{
    char ex[64];
    if (idlen == 0) return ss__fail(SS_ERR_FORMAT, "%s:%ld: empty id", t->file, line);
    size_t prev = table_find(t, p, id, idlen);
    if (prev != SIZE_MAX)
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: duplicate id '%s' (first on line %ld)", t->file, line,
                        excerpt(id, idlen, ex, sizeof ex), t->line[prev]);
    size_t c = t->cap;
    int rc;
    if ((rc = grow(&t->id, &c, t->n + 1, sizeof *t->id))) return rc;
    c = t->cap;
    if ((rc = grow(&t->text, &c, t->n + 1, sizeof *t->text))) return rc;
    c = t->cap;
    if ((rc = grow(&t->tlen, &c, t->n + 1, sizeof *t->tlen))) return rc;
    c = t->cap;
    if ((rc = grow(&t->line, &c, t->n + 1, sizeof *t->line))) return rc;
    t->cap = c;
    if ((rc = pool_add(p, id, idlen, &t->id[t->n])) || (rc = pool_add(p, text, tlen, &t->text[t->n])))
        return rc;
    t->tlen[t->n] = tlen;
    t->line[t->n] = line;
    if ((rc = table_index(t, p, t->n))) return rc;
    t->n++;
    return SS_OK;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

/* Splits line at tabs into at most max fields (counting all of them). */
static size_t split_tabs(const char *line, size_t len, const char **f, size_t *fl, size_t max)
{
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || line[i] == '\t') {
            if (nf < max) {
                f[nf] = line + start;
                fl[nf] = i - start;
            }
            nf++;
            start = i + 1;
        }
    return nf;
}

/* A TSV file of id TAB text lines. */
static int load_tsv_texts(const char *path, const char *noun, table *t, pool *p)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return rc;
    t->file = path;
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        if (blank(line, len)) continue;
        const char *f[2];
        size_t fl[2];
        size_t nf = split_tabs(line, len, f, fl, 2);
        long ln = ss__lines_lineno(r);
        if (nf != 2) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: expected 2 tab-separated fields (id, text), got %zu", t->file,
                          ln, nf);
            break;
        }
        if ((rc = table_add(t, p, f[0], fl[0], f[1], fl[1], ln))) break;
    }
    if (rc == 0 && t->n == 0) rc = ss__fail(SS_ERR_FORMAT, "%s: no %s", path, noun);
    ss__lines_close(r);
    return rc;
}

/* ---- a minimal JSON reader for BEIR's flat objects */

typedef struct jparse {
    const char *s, *e;
    char *buf; /* decoded string */
    size_t blen, bcap;
} jparse;

static void jws(jparse *j)
{
    while (j->s < j->e && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++;
}

static int jput(jparse *j, const char *s, size_t n)
{
    if (j->blen + n + 1 > j->bcap) {
        size_t nc = j->bcap ? j->bcap : 256;
        while (nc < j->blen + n + 1) nc *= 2;
        char *q = ss__realloc(j->buf, nc);
        if (!q) return -2;
        j->buf = q;
        j->bcap = nc;
    }
    memcpy(j->buf + j->blen, s, n);
    j->blen += n;
    j->buf[j->blen] = '\0';
    return 0;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : (c | 32) >= 'a' && (c | 32) <= 'f' ? (unsigned)((c | 32) - 'a' + 10)
                                                          : 16;
        if (d > 15) return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

/* A string at j->s (its opening quote) into j->buf when keep; 0, -1 bad, -2 no memory. */
static int jstring(jparse *j, int keep)
{
    j->blen = 0;
    if (keep && jput(j, "", 0)) return -2;
    if (j->s >= j->e || *j->s != '"') return -1;
    j->s++;
    while (j->s < j->e) {
        const char *a = j->s;
        while (j->s < j->e && *j->s != '"' && *j->s != '\\') j->s++;
        if (keep && j->s > a && jput(j, a, (size_t)(j->s - a))) return -2;
        if (j->s >= j->e) return -1;
        if (*j->s == '"') {
            j->s++;
            return 0;
        }
        j->s++; /* backslash */
        if (j->s >= j->e) return -1;
        char c = *j->s++, o[4];
        size_t on = 1;
        switch (c) {
        case '"': case '\\': case '/': o[0] = c; break;
        case 'b': o[0] = '\b'; break;
        case 'f': o[0] = '\f'; break;
        case 'n': o[0] = '\n'; break;
        case 'r': o[0] = '\r'; break;
        case 't': o[0] = '\t'; break;
        case 'u': {
            unsigned u;
            if (j->e - j->s < 4 || hex4(j->s, &u)) return -1;
            j->s += 4;
            if (u >= 0xD800 && u < 0xDC00) { /* a surrogate pair */
                unsigned lo;
                if (j->e - j->s < 6 || j->s[0] != '\\' || j->s[1] != 'u' || hex4(j->s + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return -1;
                j->s += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u < 0xE000) return -1;
            if (u < 0x80) o[0] = (char)u;
            else if (u < 0x800) o[0] = (char)(0xC0 | u >> 6), o[1] = (char)(0x80 | (u & 63)), on = 2;
            else if (u < 0x10000)
                o[0] = (char)(0xE0 | u >> 12), o[1] = (char)(0x80 | ((u >> 6) & 63)), o[2] = (char)(0x80 | (u & 63)),
                on = 3;
            else
                o[0] = (char)(0xF0 | u >> 18), o[1] = (char)(0x80 | ((u >> 12) & 63)),
                o[2] = (char)(0x80 | ((u >> 6) & 63)), o[3] = (char)(0x80 | (u & 63)), on = 4;
            break;
        }
        default: return -1;
        }
        if (keep && jput(j, o, on)) return -2;
    }
    return -1;
}

/* Skips any value; a number or literal is left in j->buf when keep (raw). */
static int jskip(jparse *j, int depth, int keep)
{
    jws(j);
    if (j->s >= j->e) return -1;
    if (depth > 64) return -1;
    char c = *j->s;
    if (c == '"') return jstring(j, keep);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->s++;
        jws(j);
        if (j->s < j->e && *j->s == close) {
            j->s++;
            return 0;
        }
        for (;;) {
            int rc;
            if (c == '{') {
                jws(j);
                if ((rc = jstring(j, 0))) return rc;
                jws(j);
                if (j->s >= j->e || *j->s != ':') return -1;
                j->s++;
            }
            if ((rc = jskip(j, depth + 1, 0))) return rc;
            jws(j);
            if (j->s >= j->e) return -1;
            if (*j->s == ',') {
                j->s++;
                continue;
            }
            if (*j->s == close) {
                j->s++;
                return 0;
            }
            return -1;
        }
    }
    const char *a = j->s;
    while (j->s < j->e && *j->s != ',' && *j->s != '}' && *j->s != ']' && *j->s != ' ' && *j->s != '\t') j->s++;
    size_t n = (size_t)(j->s - a);
    if (n == 0) return -1;
    if (!((n == 4 && !memcmp(a, "true", 4)) || (n == 5 && !memcmp(a, "false", 5)) || (n == 4 && !memcmp(a, "null", 4)))) {
        for (size_t i = 0; i < n; i++)
            if (!strchr("0123456789+-.eE", a[i])) return -1;
    }
    j->blen = 0;
    if (keep && (jput(j, "", 0) || jput(j, a, n))) return -2;
    return 0;
}

/* One JSONL line: the string values of keys[0..nk) (vals[k] NULL when
 * absent). *why tells what is wrong on failure. */
static int jobject(jparse *j, const char *line, size_t len, const char *const *keys, int nk, pool *tmp,
                   size_t *val, int *found, const char **why)
{
    j->s = line;
    j->e = line + len;
    for (int k = 0; k < nk; k++) found[k] = 0;
    jws(j);
    *why = "not a JSON object";
    if (j->s >= j->e || *j->s != '{') return SS_ERR_FORMAT;
    j->s++;
    jws(j);
    if (j->s < j->e && *j->s == '}') j->s++;
    else
        for (;;) {
            jws(j);
            int r = jstring(j, 1);
            if (r == -2) return SS_ERR_NOMEM;
            if (r) return SS_ERR_FORMAT;
            int which = -1;
            for (int k = 0; k < nk; k++)
                if (!strcmp(j->buf, keys[k])) which = k;
            jws(j);
            if (j->s >= j->e || *j->s != ':') return SS_ERR_FORMAT;
            j->s++;
            jws(j);
            if (which >= 0) {
                int isstr = j->s < j->e && *j->s == '"';
                r = jskip(j, 0, 1);
                if (r == -2) return SS_ERR_NOMEM;
                if (r) return SS_ERR_FORMAT;
                int isnum = which == 0 && !isstr && j->blen && strchr("0123456789-", j->buf[0]); /* "_id": 7 */
                if (!isstr && !isnum) {
                    if (!strcmp(j->buf, "null")) goto next; /* as absent */
                    *why = keys[which];
                    return SS_ERR_ARG;
                }
                if (pool_add(tmp, j->buf, j->blen, &val[which])) return SS_ERR_NOMEM;
                found[which] = 1;
            } else {
                r = jskip(j, 0, 0);
                if (r == -2) return SS_ERR_NOMEM;
                if (r) return SS_ERR_FORMAT;
            }
        next:
            jws(j);
            if (j->s < j->e && *j->s == ',') {
                j->s++;
                continue;
            }
            if (j->s < j->e && *j->s == '}') {
                j->s++;
                break;
            }
            return SS_ERR_FORMAT;
        }
    jws(j);
    if (j->s != j->e) return SS_ERR_FORMAT;
    return SS_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* A BEIR jsonl file: _id and text (and title: corpus). */
static int load_jsonl(const char *path, int corpus, table *t, pool *p)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return rc;
    t->file = path;
    static const char *const keys[3] = {"_id", "text", "title"};
    int nk = corpus ? 3 : 2;
    jparse j = {0};
    pool tmp = {0}, joined = {0};
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        if (blank(line, len)) continue;
        long ln = ss__lines_lineno(r);
        size_t val[3];
        int found[3];
        const char *why;
        tmp.len = 0;
        rc = jobject(&j, line, len, keys, nk, &tmp, val, found, &why);
        if (rc == SS_ERR_NOMEM) {
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            break;
        }
        if (rc == SS_ERR_ARG) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: \"%s\" is not a string", path, ln, why);
            break;
        }
        if (rc) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: not a JSON object on one line", path, ln);
            break;
        }
        if (!found[0]) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: no \"_id\"", path, ln);
            break;
        }
        /* title + " " + text, stripped (BEIR) */
        const char *title = corpus && found[2] ? tmp.p + val[2] : "";
        const char *text = found[1] ? tmp.p + val[1] : "";
        size_t tl = strlen(title), xl = strlen(text);
        joined.len = 0;
        if ((rc = grow(&joined.p, &joined.cap, tl + xl + 2, 1))) break;
        memcpy(joined.p, title, tl);
        if (tl) joined.p[tl++] = ' ';
        memcpy(joined.p + tl, text, xl);
        const char *s = joined.p;
        size_t n = tl + xl;
        while (n && is_space(*s)) s++, n--;
        while (n && is_space(s[n - 1])) n--;
        const char *id = tmp.p + val[0];
        if ((rc = table_add(t, p, id, strlen(id), s, n, ln))) break;
    }
    if (rc == 0 && t->n == 0) rc = ss__fail(SS_ERR_FORMAT, "%s: no %s", path, corpus ? "documents" : "queries");
    ss_free(j.buf);
    ss_free(tmp.p);
    ss_free(joined.p);
    ss__lines_close(r);
    return rc == 1 ? SS_OK : rc;
}

typedef struct judg {
    size_t q, d;
    int rel;
    long line;
} judg;

static int cmp_judg(const void *a, const void *b)
{
    const judg *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int load_qrels(const char *path, const table *qt, const table *dt, const pool *p, judg **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return rc;
    judg *j = NULL;
    size_t n = 0, cap = 0;
    const char *line;
    size_t len;
    int first = 1;
    char ex[64];
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        if (blank(line, len)) continue;
        long ln = ss__lines_lineno(r);
        const char *f[3];
        size_t fl[3];
        size_t nf = split_tabs(line, len, f, fl, 3);
        int header = first && nf == 3 && fl[2] == 5 && !memcmp(f[2], "score", 5);
        first = 0;
        if (header) continue; /* BEIR's "query-id TAB corpus-id TAB score" */
        if (nf != 3) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: expected 3 tab-separated fields (query id, document id, relevance), got %zu",
                          path, ln, nf);
            break;
        }
        /* the relevance: an integer >= 0 (spaces around it allowed) */
        const char *v = f[2];
        size_t vl = fl[2];
        while (vl && *v == ' ') v++, vl--;
        while (vl && v[vl - 1] == ' ') vl--;
        char num[32];
        long rel = -1;
        int okn = vl > 0 && vl < sizeof num;
        if (okn) {
            memcpy(num, v, vl);
            num[vl] = '\0';
            char *end;
            errno = 0;
            rel = strtol(num, &end, 10);
            okn = *end == '\0' && errno == 0 && (num[0] == '+' || num[0] == '-' || (num[0] >= '0' && num[0] <= '9'));
        }
        if (!okn) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: relevance '%s' is not an integer", path, ln,
                          excerpt(f[2], fl[2], ex, sizeof ex));
            break;
        }
        if (rel < 0 || rel >= INT_MAX) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: relevance %ld is out of range (0 to %d)", path, ln, rel, INT_MAX - 1);
            break;
        }
        size_t q = table_find(qt, p, f[0], fl[0]);
        if (q == SIZE_MAX) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: query '%s' is not in %s", path, ln, excerpt(f[0], fl[0], ex, sizeof ex),
                          qt->file);
            break;
        }
        size_t d = table_find(dt, p, f[1], fl[1]);
        if (d == SIZE_MAX) {
            rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: document '%s' is not in %s", path, ln,
                          excerpt(f[1], fl[1], ex, sizeof ex), dt->file);
            break;
        }
        if ((rc = grow(&j, &cap, n + 1, sizeof *j))) break;
        j[n++] = (judg){q, d, (int)rel, ln};
    }
    ss__lines_close(r);
    if (rc == 0 && n == 0) rc = ss__fail(SS_ERR_FORMAT, "%s: no judgements", path);
    if (rc == 1) rc = SS_OK;
    if (!rc) {
        qsort(j, n, sizeof *j, cmp_judg);
        for (size_t i = 1; i < n && !rc; i++)
            if (j[i].q == j[i - 1].q && j[i].d == j[i - 1].d) {
                char ex2[64];
                const char *qs = p->p + qt->id[j[i].q], *ds = p->p + dt->id[j[i].d];
                rc = ss__fail(SS_ERR_FORMAT, "%s:%ld: duplicate judgement of query '%s' and document '%s' (first on line %ld)",
                              path, j[i].line, excerpt(qs, strlen(qs), ex, sizeof ex),
                              excerpt(ds, strlen(ds), ex2, sizeof ex2), j[i - 1].line);
            }
    }
    if (rc) {
        ss_free(j);
        return rc;
    }
    *out = j;
    *nout = n;
    return SS_OK;
}

void ss__ir_free(ss__ir_data *d)
{
    if (!d) return;
    ss__ir_paths_free(&d->paths);
    ss_free(d->qid);
    ss_free(d->qtext);
    ss_free(d->qlen);
    ss_free(d->did);
    ss_free(d->dtext);
    ss_free(d->dlen);
    ss_free(d->jstart);
    ss_free(d->jdoc);
    ss_free(d->jrel);
    ss_free(d->self);
    ss_free(d->eval);
    ss_free(d->pool);
    memset(d, 0, sizeof *d);
}

int ss__ir_load(const char *path, ss__ir_data *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return ss__fail(SS_ERR_ARG, "ss__ir_load: NULL path");
    int rc = ss__ir_resolve(path, &out->paths);
    if (rc < 0 || rc > 1) return rc;
    if (rc == 0) return ss__fail(SS_ERR_ARG, "%s: not a retrieval data set (NAME.queries.tsv, NAME.corpus.tsv and NAME.qrels.tsv, or a BEIR directory)", path);
    ss__ir_paths *ps = &out->paths;
    table qt = {0}, dt = {0};
    pool p = {0};
    judg *j = NULL;
    size_t nj = 0;
    qt.file = ps->queries;
    dt.file = ps->corpus;
    if (ps->beir) {
        rc = load_jsonl(ps->corpus, 1, &dt, &p);
        if (!rc) rc = load_jsonl(ps->queries, 0, &qt, &p);
    } else {
        rc = load_tsv_texts(ps->corpus, "documents", &dt, &p);
        if (!rc) rc = load_tsv_texts(ps->queries, "queries", &qt, &p);
    }
    if (!rc) rc = load_qrels(ps->qrels, &qt, &dt, &p, &j, &nj);
    size_t nq = qt.n, nd = dt.n;
    if (!rc) {
        out->nq = nq;
        out->nd = nd;
        out->qid = ss__malloc(nq * sizeof *out->qid);
        out->qtext = ss__malloc(nq * sizeof *out->qtext);
        out->qlen = ss__malloc(nq * sizeof *out->qlen);
        out->did = ss__malloc(nd * sizeof *out->did);
        out->dtext = ss__malloc(nd * sizeof *out->dtext);
        out->dlen = ss__malloc(nd * sizeof *out->dlen);
        out->jstart = ss__calloc(nq + 1, sizeof *out->jstart);
        out->jdoc = ss__malloc(nj * sizeof *out->jdoc);
        out->jrel = ss__malloc(nj * sizeof *out->jrel);
        out->self = ss__malloc(nq * sizeof *out->self);
        out->eval = ss__malloc(nq * sizeof *out->eval);
        if (!out->qid || !out->qtext || !out->qlen || !out->did || !out->dtext || !out->dlen || !out->jstart ||
            !out->jdoc || !out->jrel || !out->self || !out->eval)
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        for (size_t i = 0; i < nq; i++) {
            out->qid[i] = p.p + qt.id[i];
            out->qtext[i] = p.p + qt.text[i];
            out->qlen[i] = qt.tlen[i];
            const char *id = out->qid[i];
            out->self[i] = table_find(&dt, &p, id, strlen(id));
        }
        for (size_t i = 0; i < nd; i++) {
            out->did[i] = p.p + dt.id[i];
            out->dtext[i] = p.p + dt.text[i];
            out->dlen[i] = dt.tlen[i];
        }
        for (size_t i = 0; i < nj; i++) {
            out->jstart[j[i].q + 1]++;
            out->jdoc[i] = j[i].d; /* sorted by query */
            out->jrel[i] = j[i].rel;
        }
        for (size_t q = 0; q < nq; q++) out->jstart[q + 1] += out->jstart[q];
        out->n_judgements = nj;
        for (size_t q = 0; q < nq; q++) {
            size_t a = out->jstart[q], b = out->jstart[q + 1];
            int any = 0;
            for (size_t k = a; k < b; k++) any |= out->jrel[k] >= 1;
            if (a == b) out->n_unjudged++;
            else if (!any) out->n_no_relevant++;
            else out->eval[out->n_eval++] = q;
        }
        if (out->n_eval == 0)
            rc = ss__fail(SS_ERR_RANGE, "%s: no query has a relevant judgement (relevance 1 or more)", ps->qrels);
    }
    ss_free(j);
    table_free(&qt);
    table_free(&dt);
    out->pool = p.p;
    out->pool_len = p.len;
    if (rc) ss__ir_free(out);
    return rc;
}

/* ------------------------------------------------------------------ metrics */

int ss__ir_acc_init(ss__ir_acc *a, const ss__ir_data *d)
{
    memset(a, 0, sizeof *a);
    a->d = d;
    a->rel = ss__calloc(d->nd ? d->nd : 1, sizeof *a->rel);
    a->seen = ss__calloc(d->nd ? d->nd : 1, 1);
    if (!a->rel || !a->seen) {
        ss__ir_acc_free(a);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    return SS_OK;
}

void ss__ir_acc_free(ss__ir_acc *a)
{
    if (!a) return;
    ss_free(a->rel);
    ss_free(a->seen);
    a->rel = NULL;
    a->seen = NULL;
}

static int cmp_int_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* rel[] holds gain + 1 for judged documents (so that 0 = unjudged); a
 * document seen in the current ranking is marked by negating it. */
int ss__ir_acc_add(ss__ir_acc *a, size_t q, const size_t *ranked, size_t n)
{
    const ss__ir_data *d = a->d;
    if (q >= d->nq) return ss__fail(SS_ERR_ARG, "query %zu out of range", q);
    size_t j0 = d->jstart[q], j1 = d->jstart[q + 1], R = 0;
    int ideal[10];
    size_t ni = 0;
    for (size_t k = j0; k < j1; k++) {
        int g = d->jrel[k];
        a->rel[d->jdoc[k]] = g + 1;
        if (g >= 1) {
            R++;
            /* keep the 10 largest gains */
            if (ni < 10) ideal[ni++] = g;
            else {
                size_t lo = 0;
                for (size_t t = 1; t < 10; t++)
                    if (ideal[t] < ideal[lo]) lo = t;
                if (g > ideal[lo]) ideal[lo] = g;
            }
        }
    }
    int rc = SS_OK;
    if (R == 0) rc = ss__fail(SS_ERR_ARG, "query '%s' has no relevant judgement", d->qid[q]);
    qsort(ideal, ni, sizeof *ideal, cmp_int_desc);
    double idcg = 0, dcg = 0, rr = 0, ap = 0;
    for (size_t i = 0; i < ni; i++) idcg += ideal[i] / log2((double)i + 2);
    size_t rank = 0, hits = 0, hits10 = 0, nseen = 0;
    double curve[SS__IR_DEPTH];
    for (size_t i = 0; i < n && rank < SS__IR_DEPTH && !rc; i++) {
        size_t doc = ranked[i];
        if (doc >= d->nd) {
            rc = ss__fail(SS_ERR_ARG, "document %zu out of range", doc);
            break;
        }
        if (doc == d->self[q]) continue;
        if (a->seen[doc]) continue; /* a repeat */
        a->seen[doc] = 1;
        a->seen_list[nseen++] = doc;
        int g = a->rel[doc] > 0 ? a->rel[doc] - 1 : 0;
        if (g >= 1) {
            hits++;
            if (rank < 10) {
                hits10++;
                dcg += g / log2((double)rank + 2);
                if (rr == 0) rr = 1.0 / (double)(rank + 1);
            }
            ap += (double)hits / (double)(rank + 1);
        }
        curve[rank] = (double)hits / (double)R;
        rank++;
    }
    for (size_t k = j0; k < j1; k++) a->rel[d->jdoc[k]] = 0;
    for (size_t k = 0; k < nseen; k++) a->seen[a->seen_list[k]] = 0;
    if (rc) return rc;
    for (; rank < SS__IR_DEPTH; rank++) curve[rank] = (double)hits / (double)R;
    for (size_t k = 0; k < SS__IR_DEPTH; k++) a->curve[k] += curve[k];
    a->ndcg += dcg / idcg;
    a->r10 += (double)hits10 / (double)R;
    a->r100 += (double)hits / (double)R;
    a->mrr += rr;
    a->map += ap / (double)R;
    a->nq++;
    return SS_OK;
}

int ss__ir_acc_result(const ss__ir_acc *a, ss__ir_metrics *out)
{
    memset(out, 0, sizeof *out);
    if (a->nq == 0) return ss__fail(SS_ERR_RANGE, "retrieval metrics undefined: no queries");
    double q = (double)a->nq;
    out->n_queries = a->nq;
    out->ndcg_at_10 = a->ndcg / q;
    out->recall_at_10 = a->r10 / q;
    out->recall_at_100 = a->r100 / q;
    out->mrr_at_10 = a->mrr / q;
    out->map_at_100 = a->map / q;
    for (int k = 0; k < SS__IR_DEPTH; k++) out->recall_curve[k] = a->curve[k] / q;
    return SS_OK;
}

/* ------------------------------------------------------------------ systems */

static int sqlerr(sqlite3 *db, int r, const char *what)
{
    if ((r & 0xff) == SQLITE_NOMEM) return ss__fail(SS_ERR_NOMEM, "out of memory (%s)", what);
    return ss__fail(SS_ERR_SQL, "in-memory full-text index: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
}

void ss__ir_fts_close(sqlite3 *db, sqlite3_stmt *top)
{
    sqlite3_finalize(top);
    if (db) sqlite3_close(db);
}

int ss__ir_fts_build(const char *const *texts, const size_t *lens, size_t n, int scores, int stem, sqlite3 **dbp,
                     sqlite3_stmt **top)
{
    *dbp = NULL;
    *top = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    int r = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (r != SQLITE_OK) {
        int rc = sqlerr(db, r, "open");
        sqlite3_close(db);
        return rc;
    }
    /* the store's documents_fts, contentless: the same index, tokenizer and bm25() */
    static const char stem_ddl[] = "CREATE VIRTUAL TABLE documents_fts USING fts5(text, content=''" SS__FTS_ARGS_STEM ");";
    static const char plain_ddl[] = "CREATE VIRTUAL TABLE documents_fts USING fts5(text, content=''" SS__FTS_ARGS_PLAIN ");";
    const char *what = "create";
    r = sqlite3_exec(db, stem ? stem_ddl : plain_ddl, NULL, NULL, NULL);
    if (r == SQLITE_OK) r = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (r == SQLITE_OK) {
        what = "insert";
        r = sqlite3_prepare_v2(db, "INSERT INTO documents_fts(rowid, text) VALUES (?1, ?2)", -1, &ins, NULL);
    }
    for (size_t i = 0; i < n && r == SQLITE_OK; i++) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
        sqlite3_bind_text(ins, 2, texts[i], (int)SS_MIN(lens[i], (size_t)INT_MAX), SQLITE_STATIC);
        r = sqlite3_step(ins);
        if (r == SQLITE_DONE) r = sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    if (r == SQLITE_OK) {
        what = "commit";
        r = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    if (r == SQLITE_OK) {
        what = "prepare";
        r = sqlite3_prepare_v2(db, scores ? SS__FTS_TOP_SCORES_SQL : SS__FTS_TOP_SQL, -1, top, NULL);
    }
    if (r != SQLITE_OK) {
        int rc = sqlerr(db, r, what);
        sqlite3_finalize(*top);
        *top = NULL;
        sqlite3_close(db);
        return rc;
    }
    *dbp = db;
    return SS_OK;
}

#define EMBED_BATCH 256
#define SEARCH_BATCH 256

static void report(ss__ir_progress_fn fn, void *ctx, const char *step, size_t done, size_t total)
{
    if (fn) fn(ctx, step, done, total);
}

/* Model: embeds the corpus and the evaluated queries, then exact search
 * for depth + 1 hits (the query's own document dropped: depth kept). */
static int run_model(ss_model *m, float align, const ss__ir_data *d, int depth, ss__ir_progress_fn progress,
                     void *ctx, ss__hit *vh, int *vn)
{
    int dim = ss_model_dim(m);
    if (dim <= 0) return ss__fail(SS_ERR_MODEL, "model has no dimension");
    size_t nd = d->nd, ne = d->n_eval, D = (size_t)dim;
    if (nd > SIZE_MAX / sizeof(float) / D) return ss__fail(SS_ERR_NOMEM, "too many documents");
    float *emb = ss__malloc(nd * D * sizeof *emb);
    float *qv = ss__malloc(SEARCH_BATCH * D * sizeof *qv);
    int64_t *ids = ss__malloc(nd * sizeof *ids);
    const char **qt = ss__malloc(SEARCH_BATCH * sizeof *qt);
    size_t *ql = ss__malloc(SEARCH_BATCH * sizeof *ql);
    ss__hit *raw = ss__malloc(SEARCH_BATCH * (size_t)(depth + 1) * sizeof *raw);
    int *rawn = ss__malloc(SEARCH_BATCH * sizeof *rawn);
    const char **ct = ss__malloc((size_t)depth * sizeof *ct); /* a query's candidates, for align */
    size_t *cl = ss__malloc((size_t)depth * sizeof *cl);
    int rc = SS_OK;
    if (!emb || !qv || !ids || !qt || !ql || !raw || !rawn || !ct || !cl)
        rc = ss__fail(SS_ERR_NOMEM, "out of memory for %zu vectors", nd);
    for (size_t i = 0; i < nd && !rc; i += EMBED_BATCH) {
        report(progress, ctx, "embedding documents", i, nd);
        size_t b = SS_MIN((size_t)EMBED_BATCH, nd - i);
        rc = ss_embed(m, d->dtext + i, d->dlen + i, b, 0, emb + i * D);
    }
    if (!rc) report(progress, ctx, "embedding documents", nd, nd);
    for (size_t i = 0; i < nd; i++) ids[i] = (int64_t)i + 1;
    ss__vecset v = {nd, dim, ids, emb, NULL, NULL, NULL};
    for (size_t e0 = 0; e0 < ne && !rc; e0 += SEARCH_BATCH) {
        report(progress, ctx, "searching", e0, ne);
        size_t b = SS_MIN((size_t)SEARCH_BATCH, ne - e0);
        for (size_t k = 0; k < b; k++) {
            size_t q = d->eval[e0 + k];
            qt[k] = d->qtext[q];
            ql[k] = d->qlen[q];
        }
        if ((rc = ss_embed(m, qt, ql, b, 0, qv))) break;
        if ((rc = ss__search_f32(&v, qv, b, depth + 1, 0, raw, rawn))) break;
        for (size_t k = 0; k < b; k++) {
            size_t q = d->eval[e0 + k];
            ss__hit *src = raw + k * (size_t)(depth + 1), *dst = vh + (e0 + k) * (size_t)depth;
            int c = 0;
            for (int i = 0; i < rawn[k] && c < depth; i++)
                if ((size_t)(src[i].id - 1) != d->self[q]) dst[c++] = src[i];
            vn[e0 + k] = c;
            if (!(align > 0)) continue;
            for (int i = 0; i < c; i++) {
                ct[i] = d->dtext[dst[i].id - 1];
                cl[i] = d->dlen[dst[i].id - 1];
            }
            if ((rc = ss__align_rerank(m, align, d->qtext[q], d->qlen[q], dst, c, ct, cl))) break;
        }
    }
    if (!rc) report(progress, ctx, "searching", ne, ne);
    ss_free(emb);
    ss_free(qv);
    ss_free(ids);
    ss_free(qt);
    ss_free(ql);
    ss_free(raw);
    ss_free(rawn);
    ss_free(ct);
    ss_free(cl);
    return rc;
}

/* BM25: the FTS5 top depth + 1, the query's own document dropped. The
 * queries are spread over the pool's threads in parts of BM25_PART, each
 * thread querying an index of its own (building one takes a third of a
 * second for 37k short documents; an FTS5 query of common words, 25 ms). */
#define BM25_PART 32
#define BM25_SLOTS 16

typedef struct bm25_job {
    const ss__ir_data *d;
    int depth;
    int64_t *lh;
    double *ls; /* their BM25 scores */
    int *ln;
    sqlite3 *db[BM25_SLOTS];
    double *sbuf[BM25_SLOTS];
    sqlite3_stmt *top[BM25_SLOTS];
    int64_t *buf[BM25_SLOTS];
    int rc[BM25_SLOTS];
    char msg[BM25_SLOTS][256];
    size_t done; /* queries finished (atomic) */
} bm25_job;

static void bm25_part(void *ctx, int part, int slot)
{
    bm25_job *J = ctx;
    const ss__ir_data *d = J->d;
    if (J->rc[slot]) return;
    int rc = SS_OK;
    if (!J->db[slot]) {
        rc = ss__ir_fts_build(d->dtext, d->dlen, d->nd, 1, !d->fts_plain, &J->db[slot], &J->top[slot]);
        if (!rc && !(J->buf[slot] = ss__malloc((size_t)(J->depth + 1) * sizeof *J->buf[slot])))
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        if (!rc && J->ls && !(J->sbuf[slot] = ss__malloc((size_t)(J->depth + 1) * sizeof *J->sbuf[slot])))
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    size_t e0 = (size_t)part * BM25_PART, e1 = SS_MIN(e0 + BM25_PART, d->n_eval);
    for (size_t e = e0; e < e1 && !rc; e++) {
        size_t q = d->eval[e];
        int got = 0, r;
        rc = ss__fts_top(J->top[slot], d->qtext[q], J->depth + 1, J->buf[slot], J->sbuf[slot], &got, &r);
        if (rc == SS_ERR_SQL) rc = sqlerr(J->db[slot], r, "search");
        int c = 0;
        for (int i = 0; i < got && c < J->depth && !rc; i++)
            if ((size_t)(J->buf[slot][i] - 1) != d->self[q]) {
                J->ls[e * (size_t)J->depth + (size_t)c] = J->sbuf[slot][i];
                J->lh[e * (size_t)J->depth + (size_t)c++] = J->buf[slot][i];
            }
        J->ln[e] = c;
    }
    if (rc) {
        J->rc[slot] = rc;
        snprintf(J->msg[slot], sizeof J->msg[slot], "%s", ss_errmsg());
    }
    __atomic_add_fetch(&J->done, e1 - e0, __ATOMIC_RELAXED);
}

typedef struct bm25_job_round {
    bm25_job *J;
    size_t first;
} bm25_job_round;

static void bm25_round_part(void *ctx, int part, int slot)
{
    bm25_job_round *R = ctx;
    bm25_part(R->J, (int)(R->first + (size_t)part), slot);
}

static int run_bm25(const ss__ir_data *d, int depth, ss__ir_progress_fn progress, void *ctx, int64_t *lh, double *ls,
                    int *ln)
{
    bm25_job *J = ss__calloc(1, sizeof *J);
    if (!J) return ss__fail(SS_ERR_NOMEM, "out of memory");
    J->d = d;
    J->depth = depth;
    J->lh = lh;
    J->ls = ls;
    J->ln = ln;
    size_t nparts = (d->n_eval + BM25_PART - 1) / BM25_PART;
    int rc = SS_OK;
    /* in rounds, so that the caller's thread can report progress between them */
    int slots = ss__pool_slots(BM25_SLOTS);
    size_t round = (size_t)slots * 4;
    for (size_t p0 = 0; p0 < nparts && !rc; p0 += round) {
        report(progress, ctx, "bm25", __atomic_load_n(&J->done, __ATOMIC_RELAXED), d->n_eval);
        size_t np = SS_MIN(round, nparts - p0);
        bm25_job_round R = {J, p0};
        ss__pool_run((int)np, slots, bm25_round_part, &R);
        for (int k = 0; k < BM25_SLOTS && !rc; k++)
            if (J->rc[k]) rc = ss__fail(J->rc[k], "%s", J->msg[k]);
    }
    if (!rc) report(progress, ctx, "bm25", d->n_eval, d->n_eval);
    for (int k = 0; k < BM25_SLOTS; k++) {
        ss__ir_fts_close(J->db[k], J->top[k]);
        ss_free(J->buf[k]);
        ss_free(J->sbuf[k]);
    }
    ss_free(J);
    return rc;
}

/* Hands a ranking (at most SS__IR_DEPTH) to the caller's run function. */
static int emit(ss__ir_run_fn run, void *rctx, int sys, size_t q, const size_t *docs, double *scores, size_t n)
{
    return run ? run(rctx, sys, q, docs, scores, SS_MIN(n, (size_t)SS__IR_DEPTH)) : SS_OK;
}

int ss__ir_evaluate_runs(ss_model *m, float align, const ss__ir_data *d, ss__ir_progress_fn progress, void *ctx,
                         ss__ir_run_fn run, void *rctx, ss__ir_result *out)
{
    if (!d || !out) return ss__fail(SS_ERR_ARG, "ss__ir_evaluate: NULL argument");
    memset(out, 0, sizeof *out);
    if (d->nd > INT64_MAX - 1) return ss__fail(SS_ERR_RANGE, "too many documents");
    /* each side's candidates, as query --hybrid takes them for k = depth */
    int depth = ss__hybrid_depth(SS__IR_DEPTH);
    size_t ne = d->n_eval, cells = ne * (size_t)depth;
    ss__hit *vh = m ? ss__malloc(cells * sizeof *vh) : NULL;
    int *vn = m ? ss__malloc(ne * sizeof *vn) : NULL;
    int64_t *lh = ss__malloc(cells * sizeof *lh);
    double *ls = ss__malloc(cells * sizeof *ls);
    int *ln = ss__malloc(ne * sizeof *ln);
    size_t *ranked = ss__malloc((size_t)depth * sizeof *ranked);
    double *scores = ss__malloc((size_t)depth * sizeof *scores);
    ss_hit *fused = ss__malloc(SS__IR_DEPTH * sizeof *fused);
    ss__ir_acc acc[SS__IR_NSYS];
    memset(acc, 0, sizeof acc);
    int rc = SS_OK;
    if ((m && (!vh || !vn)) || !lh || !ls || !ln || !ranked || !scores || !fused)
        rc = ss__fail(SS_ERR_NOMEM, "out of memory for %zu x %d hits", ne, depth);
    for (int s = 0; s < SS__IR_NSYS && !rc; s++) rc = ss__ir_acc_init(&acc[s], d);
    double t0 = ss__now_seconds();
    if (!rc && m) rc = run_model(m, align, d, depth, progress, ctx, vh, vn);
    double t1 = ss__now_seconds();
    if (!rc) rc = run_bm25(d, depth, progress, ctx, lh, ls, ln);
    /* the fusion query --hybrid uses by default */
    ss_store_query_opts qo;
    ss_store_query_opts_init(&qo);
    ss__fusion fo = {qo.fusion, qo.rrf_k, qo.alpha};
    double t2 = ss__now_seconds();
    for (size_t e = 0; e < ne && !rc; e++) {
        size_t q = d->eval[e];
        const int64_t *l = lh + e * (size_t)depth;
        for (int i = 0; i < ln[e]; i++) ranked[i] = (size_t)(l[i] - 1);
        rc = ss__ir_acc_add(&acc[SS__IR_BM25], q, ranked, (size_t)ln[e]);
        if (!rc && run) rc = emit(run, rctx, SS__IR_BM25, q, ranked, ls + e * (size_t)depth, (size_t)ln[e]);
        if (rc || !m) continue;
        const ss__hit *v = vh + e * (size_t)depth;
        for (int i = 0; i < vn[e]; i++) ranked[i] = (size_t)(v[i].id - 1), scores[i] = v[i].score;
        if ((rc = ss__ir_acc_add(&acc[SS__IR_MODEL], q, ranked, (size_t)vn[e]))) break;
        if ((rc = emit(run, rctx, SS__IR_MODEL, q, ranked, scores, (size_t)vn[e]))) break;
        int c = 0;
        if ((rc = ss__hybrid_fuse(v, vn[e], l, ls + e * (size_t)depth, ln[e], &fo, SS__IR_DEPTH, -INFINITY, fused,
                                  &c)))
            break;
        for (int i = 0; i < c; i++) ranked[i] = (size_t)(fused[i].doc - 1), scores[i] = fused[i].score;
        if ((rc = ss__ir_acc_add(&acc[SS__IR_HYBRID], q, ranked, (size_t)c))) break;
        rc = emit(run, rctx, SS__IR_HYBRID, q, ranked, scores, (size_t)c);
    }
    double t3 = ss__now_seconds();
    for (int s = 0; s < SS__IR_NSYS && !rc; s++) {
        if (!m && s != SS__IR_BM25) continue;
        if ((rc = ss__ir_acc_result(&acc[s], &out->m[s]))) break;
        out->has[s] = 1;
    }
    out->seconds[SS__IR_MODEL] = t1 - t0;
    out->seconds[SS__IR_BM25] = t2 - t1;
    out->seconds[SS__IR_HYBRID] = t3 - t2;
    for (int s = 0; s < SS__IR_NSYS; s++) ss__ir_acc_free(&acc[s]);
    ss_free(vh);
    ss_free(vn);
    ss_free(lh);
    ss_free(ls);
    ss_free(ln);
    ss_free(ranked);
    ss_free(scores);
    ss_free(fused);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

int ss__ir_evaluate(ss_model *m, const ss__ir_data *d, ss__ir_progress_fn progress, void *ctx, ss__ir_result *out)
{
    return ss__ir_evaluate_runs(m, ss_model_align_weight(m), d, progress, ctx, NULL, NULL, out);
}
