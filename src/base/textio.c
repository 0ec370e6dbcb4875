/* textio.c: the line reader (plain, gzip, stdin and pipes) and atomic
 * file writes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/common.h"
#include "base/textio.h"

/* Regular files go through zlib's gz* calls. A pipe or terminal is read
 * with read(2) as bytes arrive (gzread waits for its whole buffer, which
 * would hold back the lines of a slow producer), inflating by hand when the
 * stream starts with the gzip magic. */
enum { SRC_GZFILE, SRC_RAW, SRC_INFLATE };

struct ss__lines {
    int mode;
    gzFile gz;   /* SRC_GZFILE */
    int fd;      /* SRC_RAW, SRC_INFLATE */
    z_stream z;  /* SRC_INFLATE */
    int z_ready; /* inflateInit2 done */
    int z_end;   /* the last gzip member ended (nothing after it yet) */
    unsigned char *zin;
    char *name;
    char *buf;  /* bytes read, not yet returned */
    size_t cap, start, end;
    long lineno;
    int eof;
    long long size; /* a regular file's size, else -1 */
};

enum { ZIN_CAP = 1 << 16 };

/* read(2), retried on EINTR: bytes read, 0 at the end, -1 on error. */
static ssize_t read_some(int fd, void *b, size_t n)
{
    ssize_t k;
    do k = read(fd, b, n);
    while (k < 0 && errno == EINTR);
    return k;
}

int ss__lines_open(const char *path, ss__lines **out)
{
    *out = NULL;
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    ss__lines *r = ss__calloc(1, sizeof *r);
    if (!r) return ss__fail(SS_ERR_NOMEM, "out of memory");
    r->fd = -1;
    r->name = ss__strdup(name);
    r->cap = 1 << 16;
    r->buf = ss__malloc(r->cap);
    if (!r->name || !r->buf) {
        ss__lines_close(r);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    int fd = is_stdin ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        ss__lines_close(r);
        return ss__fail(SS_ERR_IO, "%s: %s", name, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        ss__lines_close(r);
        return ss__fail(SS_ERR_IO, "%s: is a directory", name);
    }
    r->size = -1;
    if (S_ISREG(st.st_mode)) {
        r->size = (long long)st.st_size;
        r->mode = SRC_GZFILE;
        if (!(r->gz = gzdopen(fd, "rb"))) {
            close(fd);
            ss__lines_close(r);
            return ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        gzbuffer(r->gz, 1 << 17);
        *out = r;
        return SS_OK;
    }
    /* a pipe, a terminal, a device: look at the first bytes */
    r->fd = fd;
    r->mode = SRC_RAW;
    while (r->end < 2) {
        ssize_t k = read_some(fd, r->buf + r->end, r->end == 0 ? r->cap : 1);
        if (k < 0) {
            int e = errno;
            ss__lines_close(r);
            return ss__fail(SS_ERR_IO, "%s: %s", name, strerror(e));
        }
        if (k == 0) {
            r->eof = 1;
            break;
        }
        r->end += (size_t)k;
        if ((unsigned char)r->buf[0] != 0x1f) break; /* not gzip: no need to wait for a second byte */
    }
    if (r->end >= 2 && (unsigned char)r->buf[0] == 0x1f && (unsigned char)r->buf[1] == 0x8b) {
        r->mode = SRC_INFLATE;
        r->zin = ss__malloc(ZIN_CAP > r->end ? ZIN_CAP : r->end);
        if (!r->zin) {
            ss__lines_close(r);
            return ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        memcpy(r->zin, r->buf, r->end);
        r->z.next_in = r->zin;
        r->z.avail_in = (uInt)r->end;
        r->end = 0;
        r->eof = 0;
        if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
            ss__lines_close(r);
            return ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        r->z_ready = 1;
    }
    *out = r;
    return SS_OK;
}

/* Inflates into r->buf + r->end: bytes produced (> 0), 0 at the end, or an
 * SS_ERR code (negated). Reads the pipe only when zlib has no input left. */
static long inflate_some(ss__lines *r)
{
    for (;;) {
        if (r->z.avail_in == 0) {
            ssize_t k = read_some(r->fd, r->zin, ZIN_CAP);
            if (k < 0) return -ss__fail(SS_ERR_IO, "%s:%ld: %s", r->name, r->lineno + 1, strerror(errno));
            if (k == 0) {
                if (r->z_end) return 0;
                return -ss__fail(SS_ERR_FORMAT, "%s:%ld: unexpected end of file", r->name, r->lineno + 1);
            }
            r->z.next_in = r->zin;
            r->z.avail_in = (uInt)k;
        }
        if (r->z_end) {
            /* another gzip member follows (as from cat a.gz b.gz), or
             * trailing bytes, which gzread ignores too: look at two bytes */
            if (r->z.avail_in == 1 && r->z.next_in[0] == 0x1f) {
                r->zin[0] = 0x1f;
                ssize_t k = read_some(r->fd, r->zin + 1, ZIN_CAP - 1);
                if (k < 0) return -ss__fail(SS_ERR_IO, "%s:%ld: %s", r->name, r->lineno + 1, strerror(errno));
                r->z.next_in = r->zin;
                r->z.avail_in = 1 + (uInt)k;
            }
            if (r->z.avail_in < 2 || r->z.next_in[0] != 0x1f || r->z.next_in[1] != 0x8b) {
                /* trailing garbage: dropped, to the end of the stream */
                r->z.avail_in = 0;
                while ((r->z.avail_in == 0) && read_some(r->fd, r->zin, ZIN_CAP) > 0) {}
                return 0;
            }
            inflateReset(&r->z);
            r->z_end = 0;
        }
        r->z.next_out = (Bytef *)r->buf + r->end;
        r->z.avail_out = (uInt)SS_MIN(r->cap - r->end, (size_t)1 << 30);
        uInt before = r->z.avail_out;
        int zr = inflate(&r->z, Z_NO_FLUSH);
        long made = (long)(before - r->z.avail_out);
        if (zr == Z_STREAM_END) r->z_end = 1;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return -ss__fail(zr == Z_MEM_ERROR ? SS_ERR_NOMEM : SS_ERR_FORMAT, "%s:%ld: %s", r->name,
                             r->lineno + 1, r->z.msg ? r->z.msg : "invalid compressed data");
        if (made > 0) return made;
    }
}

/* gzerror's message without the "<fd:N>: " that gzdopen'ed handles put first. */
static const char *gz_reason(const char *msg)
{
    const char *c = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
    return c ? c + 3 : msg;
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
        if (r->end >= SS__LINE_MAX)
            return ss__fail(SS_ERR_FORMAT, "%s:%ld: line longer than %zu MiB", r->name, r->lineno + 1,
                            SS__LINE_MAX >> 20);
        size_t ncap = r->cap * 2;
        char *nb = ss__realloc(r->buf, ncap);
        if (!nb) return ss__fail(SS_ERR_NOMEM, "%s:%ld: out of memory (line of %zu bytes)",
                                 r->name, r->lineno + 1, r->end);
        r->buf = nb;
        r->cap = ncap;
    }
    long n;
    if (r->mode == SRC_GZFILE) {
        n = gzread(r->gz, r->buf + r->end, (unsigned)SS_MIN(r->cap - r->end, (size_t)1 << 30));
        if (n < 0) {
            int err;
            const char *msg = gzerror(r->gz, &err);
            return ss__fail(err == Z_ERRNO ? SS_ERR_IO : SS_ERR_FORMAT, "%s:%ld: %s", r->name,
                            r->lineno + 1, err == Z_ERRNO ? strerror(errno) : gz_reason(msg));
        }
        if (n == 0) {
            /* a gzip stream cut short ends like a whole one, with only a
             * warning kept in the handle: a truncated file is an error */
            int err;
            const char *msg = gzerror(r->gz, &err);
            if (err == Z_BUF_ERROR)
                return ss__fail(SS_ERR_FORMAT, "%s:%ld: %s", r->name, r->lineno + 1, gz_reason(msg));
        }
    } else if (r->mode == SRC_RAW) {
        n = (long)read_some(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0) return ss__fail(SS_ERR_IO, "%s:%ld: %s", r->name, r->lineno + 1, strerror(errno));
    } else {
        n = inflate_some(r);
        if (n < 0) return (int)-n;
    }
    if (n == 0) r->eof = 1;
    r->end += (size_t)n;
    return SS_OK;
}

int ss__lines_ready(ss__lines *r)
{
    if (r->eof || r->mode == SRC_GZFILE || memchr(r->buf + r->start, '\n', r->end - r->start)) return 1;
    if (r->mode == SRC_INFLATE && r->z.avail_in > 0) return 1;
    struct pollfd p = {r->fd, POLLIN, 0};
    int k;
    do k = poll(&p, 1, 0);
    while (k < 0 && errno == EINTR);
    return k != 0; /* readable, at its end, or an error that the next read reports */
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
            return SS__LINE;
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
            return SS__LINE;
        }
        scan = r->end - r->start; /* offset, relative after compaction */
        int rc = fill(r);
        if (rc) return rc;
        scan = r->start + scan;
    }
}

long ss__lines_lineno(const ss__lines *r) { return r->lineno; }
long long ss__lines_size(ss__lines *r)
{
    /* gzdirect reads the first buffer to tell plain from gzip */
    return r->mode == SRC_GZFILE && r->size >= 0 && gzdirect(r->gz) ? r->size : -1;
}
const char *ss__lines_name(const ss__lines *r) { return r->name; }

void ss__lines_close(ss__lines *r)
{
    if (!r) return;
    if (r->gz) gzclose(r->gz);
    if (r->fd >= 0) close(r->fd);
    if (r->z_ready) inflateEnd(&r->z);
    ss_free(r->zin);
    ss_free(r->name);
    ss_free(r->buf);
    ss_free(r);
}

int ss__open_regular(const char *path, int *fdp, uint64_t *size)
{
    *fdp = -1;
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ss__fail(SS_ERR_IO, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fdp = fd;
    *size = (uint64_t)st.st_size;
    return SS_OK;
}

/* ------------------------------------------------------------ atomic writes */

/* Temporary files are named PATH.tmp.PID.XXXXXX. One whose process is gone
 * was left by a kill -9 (or a power cut) in the middle of a save: removed at
 * the next save of the same path, best effort, so that checkpoints written
 * every N steps do not pile up dead copies. */
static void sweep_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    char *dir = ss__malloc(dlen + 2);
    if (!dir) return;
    if (!slash) strcpy(dir, ".");
    else if (dlen == 0) strcpy(dir, "/");
    else {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, blen) || strncmp(nm + blen, ".tmp.", 5)) continue;
        char *end;
        long pid = strtol(nm + blen + 5, &end, 10);
        if (pid <= 0 || end == nm + blen + 5 || *end != '.' || strlen(end + 1) != 6) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        (void)unlinkat(dirfd(d), nm, 0);
    }
    if (d) closedir(d);
    ss_free(dir);
}

/* "/dev/stdout", "/dev/stderr", "/dev/fd/N", "/proc/self/fd/N":
 * the descriptor it names (written through a dup, so that the offset and
 * O_APPEND of the caller's redirection are kept), else -1. */
static int fd_path(const char *path)
{
    if (!strcmp(path, "/dev/stdout")) return 1;
    if (!strcmp(path, "/dev/stderr")) return 2;
    const char *n = !strncmp(path, "/dev/fd/", 8) ? path + 8 : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
    if (!n || !*n) return -1;
    char *end;
    long fd = strtol(n, &end, 10);
    return *end || fd < 0 || fd > 1 << 20 ? -1 : (int)fd;
}

/* A path whose last component is a symbolic link, followed to what it
 * names (also when that does not exist yet): malloc'd, NULL when out of
 * memory. Links in the directories above need no resolving (a rename in a
 * linked directory replaces the file in its target). */
static char *follow_links(const char *path, int *err)
{
    char *cur = ss__strdup(path);
    *err = 0;
    for (int hop = 0; cur; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        if (hop == 40) {
            *err = ELOOP;
            return cur;
        }
        size_t cap = (size_t)st.st_size + 1 > 256 ? (size_t)st.st_size + 1 : 256;
        char *t = ss__malloc(cap);
        ssize_t k = t ? readlink(cur, t, cap - 1) : -1;
        if (k < 0) {
            ss_free(t);
            if (!t) {
                ss_free(cur);
                return NULL;
            }
            return cur; /* changed meanwhile: let the open report it */
        }
        t[k] = '\0';
        const char *slash = strrchr(cur, '/');
        if (t[0] == '/' || !slash) {
            ss_free(cur);
            cur = t;
            continue;
        }
        size_t dl = (size_t)(slash - cur) + 1;
        char *j = ss__malloc(dl + (size_t)k + 1);
        if (j) {
            memcpy(j, cur, dl);
            memcpy(j + dl, t, (size_t)k + 1);
        }
        ss_free(t);
        ss_free(cur);
        cur = j;
    }
    return NULL;
}

/* The temporary files being written, for ss__atomic_unlink_live(): a slot
 * is set once the name is complete and cleared before the name is freed. */
#define LIVE_MAX 8
static char *volatile live[LIVE_MAX];

static void live_add(char *tmp)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (__sync_bool_compare_and_swap(&live[i], NULL, tmp)) return;
}

static void live_remove(const char *tmp)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == tmp) __sync_bool_compare_and_swap(&live[i], (char *)tmp, NULL);
}

void ss__atomic_unlink_live(void)
{
    for (int i = 0; i < LIVE_MAX; i++) {
        char *t = live[i];
        if (t) unlink(t);
    }
}

int ss__atomic_open(ss__atomic *a, const char *path)
{
    memset(a, 0, sizeof *a);
    int lerr = 0;
    a->path = follow_links(path, &lerr);
    if (!a->path) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (lerr) {
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(lerr));
    }
    /* A device, a FIFO, a socket or a descriptor is written in place: a
     * rename would replace /dev/null with a regular file. Only regular files
     * (and absent paths) are replaced atomically. */
    int fd = fd_path(path);
    struct stat st;
    if (fd >= 0) {
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
            int e = errno;
            ss__atomic_abort(a);
            return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
        }
        a->inplace = 1;
    } else if (stat(a->path, &st) == 0 && S_ISDIR(st.st_mode)) {
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_IO, "%s: is a directory", path);
    } else if (stat(a->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* no O_TRUNC: meaningless on these, and no O_CREAT: it exists */
        do fd = open(a->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            int e = errno;
            ss__atomic_abort(a);
            return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
        }
        a->inplace = 1;
    }
    if (a->inplace) {
        if (!(a->f = fdopen(fd, "wb"))) {
            int e = errno;
            close(fd);
            ss__atomic_abort(a);
            return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
        }
        return SS_OK;
    }
    size_t n = strlen(a->path);
    a->tmp = ss__malloc(n + 40);
    if (!a->tmp) {
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    sweep_stale(a->path);
    snprintf(a->tmp, n + 40, "%s.tmp.%ld.XXXXXX", a->path, (long)getpid());
    fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        ss_free(a->tmp);
        a->tmp = NULL;
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    live_add(a->tmp);
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        ss__atomic_abort(a);
        return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(e));
    }
    return SS_OK;
}

int ss__atomic_check(const char *path)
{
    int lerr = 0;
    char *p = follow_links(path, &lerr);
    if (!p) return ss__fail(SS_ERR_NOMEM, "out of memory");
    struct stat st;
    int rc = SS_OK;
    if (lerr) rc = ss__fail(SS_ERR_IO, "%s: %s", path, strerror(lerr));
    else if (fd_path(path) >= 0 || (stat(p, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        /* written in place at the end: opening a FIFO now would wait for
         * (and then leave) its reader */
        if (fd_path(path) < 0 && access(p, W_OK) != 0) rc = ss__fail(SS_ERR_IO, "%s: %s", path, strerror(errno));
    } else {
        ss__atomic a;
        rc = ss__atomic_open(&a, path);
        if (!rc) ss__atomic_abort(&a);
    }
    ss_free(p);
    return rc;
}

/* After a rename, the directory entry is made durable too (best effort: the
 * new file is in place either way). No allocation: path is cut and restored. */
static void sync_dir(char *path)
{
    char *slash = strrchr(path, '/');
    int fd;
    if (!slash) fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else if (slash == path) fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else {
        *slash = '\0';
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
    }
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int ss__atomic_commit(ss__atomic *a)
{
    int rc = SS_OK;
    errno = 0; /* an error flag left by an earlier write has no errno of its own */
    if (fflush(a->f) != 0 || ferror(a->f))
        rc = ss__fail(SS_ERR_IO, "%s: write failed: %s", a->path, errno ? strerror(errno) : "write error");
    /* a pipe or a terminal cannot be synced (EINVAL, ENOTSUP): nothing to make durable */
    else if (fsync(fileno(a->f)) != 0 && !(a->inplace && (errno == EINVAL || errno == ENOTSUP || errno == EROFS)))
        rc = ss__fail(SS_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    if (fclose(a->f) != 0 && !rc) rc = ss__fail(SS_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    a->f = NULL;
    if (!rc && !a->inplace) {
        /* mkstemp makes 0600; a model or vocabulary is an ordinary file */
        mode_t um = umask(0);
        umask(um);
        chmod(a->tmp, 0666 & ~um);
        if (rename(a->tmp, a->path) != 0)
            rc = ss__fail(SS_ERR_IO, "%s: cannot rename into place: %s", a->path, strerror(errno));
        else {
            sync_dir(a->path);
            live_remove(a->tmp);
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
    if (a->tmp) {
        unlink(a->tmp);
        live_remove(a->tmp);
    }
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
