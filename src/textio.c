/* textio.c: line reader over zlib's gz* calls, which read plain files
 * transparently, so one path serves .txt, .gz and stdin. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "textio.h"

struct ss__lines {
    gzFile gz;
    char *name;
    char *buf;  /* bytes read, not yet returned */
    size_t cap, start, end;
    long lineno;
    int eof;
};

int ss__lines_open(const char *path, ss__lines **out)
{
    *out = NULL;
    int is_stdin = strcmp(path, "-") == 0;
    ss__lines *r = ss__calloc(1, sizeof *r);
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory");
    r->name = ss__strdup(is_stdin ? "<stdin>" : path);
    r->cap = 1 << 16;
    r->buf = ss__malloc(r->cap);
    if (!r->name || !r->buf) {
        ss__lines_close(r);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    errno = 0;
    r->gz = is_stdin ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path, "rb");
    if (!r->gz) {
        int e = errno;
        ss__lines_close(r);
        return ss__fail(SS_ERR_IO, "%s: %s", is_stdin ? "<stdin>" : path,
                        e ? strerror(e) : "cannot open");
    }
    gzbuffer(r->gz, 1 << 17);
    *out = r;
    return SS_OK;
}

/* Reads more bytes after r->end, growing or compacting the buffer. */
static int fill(ss__lines *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        size_t ncap = r->cap * 2;
        char *nb = ss__realloc(r->buf, ncap);
        if (!nb) return ss__fail(SS_ERR_NOMEM, "%s:%ld: out of memory (line of %zu bytes)",
                                 r->name, r->lineno + 1, r->end);
        r->buf = nb;
        r->cap = ncap;
    }
    int n = gzread(r->gz, r->buf + r->end, (unsigned)SS_MIN(r->cap - r->end, (size_t)1 << 30));
    if (n < 0) {
        int err;
        const char *msg = gzerror(r->gz, &err);
        return ss__fail(err == Z_ERRNO ? SS_ERR_IO : SS_ERR_FORMAT, "%s:%ld: %s", r->name,
                        r->lineno + 1, err == Z_ERRNO ? strerror(errno) : msg);
    }
    if (n == 0) r->eof = 1;
    r->end += (size_t)n;
    return SS_OK;
}

int ss__lines_next(ss__lines *r, const char **line, size_t *len)
{
    size_t scan = r->start;
    for (;;) {
        char *nl = memchr(r->buf + scan, '\n', r->end - scan);
        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->start));
            *line = r->buf + r->start;
            r->start += n + 1;
            if (n > 0 && (*line)[n - 1] == '\r') n--;
            *len = n;
            r->lineno++;
            return 1;
        }
        if (r->eof) {
            if (r->end == r->start) return 0;
            /* last line without a newline */
            size_t n = r->end - r->start;
            *line = r->buf + r->start;
            r->start = r->end;
            if (n > 0 && (*line)[n - 1] == '\r') n--;
            *len = n;
            r->lineno++;
            return 1;
        }
        scan = r->end - r->start; /* offset, relative after compaction */
        int rc = fill(r);
        if (rc) return rc;
        scan = r->start + scan;
    }
}

long ss__lines_lineno(const ss__lines *r) { return r->lineno; }
const char *ss__lines_name(const ss__lines *r) { return r->name; }

void ss__lines_close(ss__lines *r)
{
    if (!r) return;
    if (r->gz) gzclose(r->gz);
    ss_free(r->name);
    ss_free(r->buf);
    ss_free(r);
}

/* ------------------------------------------------------------ atomic writes */

int ss__atomic_open(ss__atomic *a, const char *path)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = ss__strdup(path);
    a->tmp = ss__malloc(n + 16);
    if (!a->path || !a->tmp) {
        ss_free(a->tmp); /* not a file yet: abort must not unlink it */
        a->tmp = NULL;
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    snprintf(a->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        ss_free(a->tmp);
        a->tmp = NULL;
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
    }
    return SS_OK;
}

int ss__atomic_commit(ss__atomic *a)
{
    int rc = SS_OK;
    if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
        rc = ss__fail(SS_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    if (fclose(a->f) != 0 && !rc) rc = ss__fail(SS_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    a->f = NULL;
    if (!rc) {
        /* mkstemp makes 0600; a model or vocabulary is an ordinary file */
        mode_t um = umask(0);
        umask(um);
        chmod(a->tmp, 0666 & ~um);
        if (rename(a->tmp, a->path) != 0)
            rc = ss__fail(SS_ERR_IO, "%s: cannot rename into place: %s", a->path, strerror(errno));
        else {
            ss_free(a->tmp);
            a->tmp = NULL;
        }
    }
    ss__atomic_abort(a);
    return rc;
}

void ss__atomic_abort(ss__atomic *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp) unlink(a->tmp);
    ss_free(a->tmp);
    ss_free(a->path);
    a->tmp = a->path = NULL;
}

int ss__write_file_atomic(const char *path, const void *data, size_t len)
{
    ss__atomic a;
    int rc = ss__atomic_open(&a, path);
    if (rc) return rc;
    if (len && fwrite(data, 1, len, a.f) != len) {
        int e = errno;
        ss__atomic_abort(&a);
        return ss__fail(SS_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return ss__atomic_commit(&a);
}
