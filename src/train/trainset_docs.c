/* trainset_docs.c: documents into a training set (see trainset.h for the
 * three forms: *.paragraphs.tsv, *.docs.txt, a directory of text files). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/common.h"
#include "base/textio.h"
#include "train/trainset.h"

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int is_dir(const char *path)
{
    struct stat st;
    return strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ss__trainset_is_docs_path(const char *path)
{
    return ends_with(path, ".paragraphs.tsv") || ends_with(path, ".paragraphs.tsv.gz") ||
           ends_with(path, ".docs.txt") || ends_with(path, ".docs.txt.gz") || is_dir(path);
}

/* ------------------------------------------------- one document being read */

typedef struct doc {
    char *title;
    size_t tlen;
    /* paragraphs and their headings, NUL-terminated copies */
    char **para, **sect;
    size_t *plen, *slen;
    int n, cap;
} doc;

static void doc_clear(doc *d)
{
    for (int i = 0; i < d->n; i++) {
        ss_free(d->para[i]);
        ss_free(d->sect[i]);
    }
    d->n = 0;
    ss_free(d->title);
    d->title = NULL;
    d->tlen = 0;
}

static void doc_free(doc *d)
{
    doc_clear(d);
    ss_free(d->para);
    ss_free(d->sect);
    ss_free(d->plen);
    ss_free(d->slen);
}

static char *dupn(const char *s, size_t n)
{
    char *p = ss__malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int doc_add(doc *d, const char *p, size_t pl, const char *h, size_t hl)
{
    if (d->n == d->cap) {
        int nc = d->cap ? d->cap * 2 : 16;
        char **a = ss__realloc(d->para, sizeof *a * (size_t)nc);
        if (a) d->para = a;
        char **b = a ? ss__realloc(d->sect, sizeof *b * (size_t)nc) : NULL;
        if (b) d->sect = b;
        size_t *c = b ? ss__realloc(d->plen, sizeof *c * (size_t)nc) : NULL;
        if (c) d->plen = c;
        size_t *e = c ? ss__realloc(d->slen, sizeof *e * (size_t)nc) : NULL;
        if (!e) return ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
        d->slen = e;
        d->cap = nc;
    }
    d->para[d->n] = dupn(p, pl);
    d->sect[d->n] = h ? dupn(h, hl) : NULL;
    if (!d->para[d->n] || (h && !d->sect[d->n])) {
        ss_free(d->para[d->n]);
        ss_free(d->sect[d->n]);
        return ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
    }
    d->plen[d->n] = pl;
    d->slen[d->n] = h ? hl : 0;
    d->n++;
    return SS_OK;
}

static int doc_flush(ss__trainset *ts, doc *d)
{
    int added, rc = SS_OK;
    if (d->n > 0 || d->title)
        rc = ss__trainset_add_doc(ts, d->title, d->tlen, (const char *const *)d->para, d->plen,
                                  (const char *const *)d->sect, d->slen, d->n, &added);
    doc_clear(d);
    return rc;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* A Markdown ATX heading "#... text": its text, or NULL. */
static const char *heading(const char *s, size_t n, size_t *hl)
{
    size_t i = 0;
    while (i < n && i < 6 && s[i] == '#') i++;
    if (i == 0 || i >= n || (s[i] != ' ' && s[i] != '\t')) return NULL;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t e = n;
    while (e > i && (s[e - 1] == '#' || s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
    *hl = e - i;
    return e > i ? s + i : NULL;
}

/* Records a malformed line (--skip-bad) or fails with it. */
static int bad_line(ss__source *src, const ss__load_opts *o, const char *fmt, const char *name, long line)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, name, line);
    if (!o->skip_bad) return ss__fail(SS_ERR_FORMAT, "%s", msg);
    if (!src->first_bad && !(src->first_bad = ss__strdup(msg))) return ss__fail(SS_ERR_NOMEM, "out of memory");
    src->skipped_bad++;
    return SS_OK;
}

/* *.paragraphs.tsv: doc_id TAB title TAB section TAB paragraph */
static int load_paragraphs(ss__trainset *ts, ss__source *src, const char *path, const ss__load_opts *o)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return rc;
    doc d;
    memset(&d, 0, sizeof d);
    char *cur = NULL;
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        src->lines++;
        if (blank(line, len)) continue;
        const char *f[4];
        size_t fl[4];
        int nf = 0;
        size_t s = 0;
        for (size_t i = 0; i <= len && nf < 5; i++) {
            if (i < len && line[i] != '\t') continue;
            if (nf < 4) f[nf] = line + s, fl[nf] = i - s;
            nf++;
            s = i + 1;
        }
        if (nf != 4 || memchr(line, '\0', len)) {
            rc = bad_line(src, o,
                          nf != 4 ? "%s:%ld: expected 4 tab-separated fields (doc_id, title, section, paragraph)"
                                  : "%s:%ld: a NUL byte in the line",
                          ss__lines_name(r), ss__lines_lineno(r));
            if (rc) break;
            continue;
        }
        if (fl[0] == 0) {
            if ((rc = bad_line(src, o, "%s:%ld: empty doc_id", ss__lines_name(r), ss__lines_lineno(r)))) break;
            continue;
        }
        if (!cur || strlen(cur) != fl[0] || memcmp(cur, f[0], fl[0])) {
            if ((rc = doc_flush(ts, &d))) break;
            ss_free(cur);
            if (!(cur = dupn(f[0], fl[0])) || (fl[1] && !(d.title = dupn(f[1], fl[1])))) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
                break;
            }
            d.tlen = fl[1];
        }
        if ((rc = doc_add(&d, f[3], fl[3], fl[2] ? f[2] : NULL, fl[2]))) break;
    }
    if (rc == 0) rc = doc_flush(ts, &d);
    ss_free(cur);
    doc_free(&d);
    ss__lines_close(r);
    return rc;
}

/* Plain text. whole_file: the file is one document whose paragraphs are
 * separated by blank lines (lines of a paragraph joined by a space);
 * otherwise a blank line ends a document and each line is a paragraph.
 * Headings "# T": the first before any paragraph is the title, the others
 * name the section of the paragraphs after them. */
static int load_text(ss__trainset *ts, ss__source *src, const char *path, int whole_file)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return rc;
    doc d;
    memset(&d, 0, sizeof d);
    char *sect = NULL, *para = NULL;
    size_t slen = 0, plen = 0, pcap = 0;
    const char *line;
    size_t len;
#define END_PARA()                                                           \
    do {                                                                     \
        if (plen > 0 && (rc = doc_add(&d, para, plen, sect, slen))) goto out; \
        plen = 0;                                                            \
    } while (0)
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        src->lines++;
        if (memchr(line, '\0', len)) len = strlen(line); /* keep the text before a NUL */
        size_t hl;
        const char *h = heading(line, len, &hl);
        if (blank(line, len)) {
            END_PARA();
            if (!whole_file) {
                if ((rc = doc_flush(ts, &d))) goto out;
                ss_free(sect);
                sect = NULL;
            }
            continue;
        }
        if (h) {
            END_PARA();
            if (!d.title && d.n == 0) {
                if (!(d.title = dupn(h, hl))) goto nomem;
                d.tlen = hl;
            } else {
                ss_free(sect);
                if (!(sect = dupn(h, hl))) goto nomem;
                slen = hl;
            }
            continue;
        }
        if (!whole_file) {
            if ((rc = doc_add(&d, line, len, sect, slen))) goto out;
            continue;
        }
        if (plen + len + 2 > pcap) {
            size_t nc = (plen + len + 2) * 2;
            char *q = ss__realloc(para, nc);
            if (!q) goto nomem;
            para = q;
            pcap = nc;
        }
        if (plen > 0) para[plen++] = ' ';
        memcpy(para + plen, line, len);
        plen += len;
    }
    if (rc == 0) {
        END_PARA();
        rc = doc_flush(ts, &d);
    }
    goto out;
nomem:
    rc = ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
out:
#undef END_PARA
    ss_free(sect);
    ss_free(para);
    doc_free(&d);
    ss__lines_close(r);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file under dir, sorted, recursively (hidden names skipped). */
static int load_dir(ss__trainset *ts, ss__source *src, const char *dir, int depth)
{
    if (depth > 32) return ss__fail(SS_ERR_ARG, "%s: directories nested too deep", dir);
    DIR *dp = opendir(dir);
    if (!dp) return ss__fail(SS_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SS_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **q = ss__realloc(names, sizeof *q * nc);
            if (!q) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                break;
            }
            names = q;
            cap = nc;
        }
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = ss__malloc(need))) {
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(names[n], need, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", e->d_name);
        n++;
    }
    if (!rc && errno) rc = ss__fail(SS_ERR_IO, "%s: %s", dir, strerror(errno));
    closedir(dp);
    if (!rc && n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0) continue; /* a dangling link */
        if (S_ISDIR(st.st_mode)) rc = load_dir(ts, src, names[i], depth + 1);
        else if (S_ISREG(st.st_mode)) rc = load_text(ts, src, names[i], 1);
    }
    for (size_t i = 0; i < n; i++) ss_free(names[i]);
    ss_free(names);
    return rc;
}

int ss__trainset_load_docs(ss__trainset *ts, const char *path, double weight, const ss__load_opts *o)
{
    int rc = ss__trainset_begin_source(ts, path, SS__SRC_DOCS, weight);
    if (rc) return rc;
    ss__source *src = &ts->src[ts->n_src - 1];
    if (is_dir(path)) rc = load_dir(ts, src, path, 0);
    else if (ends_with(path, ".docs.txt") || ends_with(path, ".docs.txt.gz")) rc = load_text(ts, src, path, 0);
    else rc = load_paragraphs(ts, src, path, o);
    if (rc == 0 && src->n == 0)
        rc = ss__fail(SS_ERR_FORMAT, "%s: no documents with text in %ld line%s", path, src->lines,
                      src->lines == 1 ? "" : "s");
    return rc;
}
