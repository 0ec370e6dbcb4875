/* textio.h: reading lines from files, gzip files and stdin, with line
 * numbers for error messages. Lines may hold any bytes (NUL included) and be
 * of any length; the trailing "\n" or "\r\n" is removed. */
#ifndef SS_TEXTIO_H
#define SS_TEXTIO_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a reader (ss__lines_next, ss__data_next) returns for "a line" (a
 * row): negative, so that it is never SS_OK (0: the end) nor an SS_ERR_*
 * code (> 0: an error). Loops read `while ((rc = next(...)) == SS__LINE)`
 * and test `rc > 0` for an error after them. */
#define SS__LINE (-1)

typedef struct ss__lines ss__lines;

/* path "-" reads stdin. gzip input is detected by its magic, not its name. */
int ss__lines_open(const char *path, ss__lines **out);
/* SS__LINE and a line (valid until the next call), 0 at the end, or an
 * SS_ERR_* code (> 0). */
int ss__lines_next(ss__lines *r, const char **line, size_t *len);
/* 1 when ss__lines_next would not wait for a slow producer (a pipe or a
 * terminal with no complete line pending): a caller holding a partial
 * batch flushes it before reading on, so output keeps up with input. */
int ss__lines_ready(ss__lines *r);
long ss__lines_lineno(const ss__lines *r);
/* The bytes of lines to come, for a progress bar: the size of a plain
 * regular file, -1 for gzip (its size says nothing of the lines), a pipe or
 * a terminal. Known at open: the input is never opened a second time. */
long long ss__lines_size(ss__lines *r);
const char *ss__lines_name(const ss__lines *r);
void ss__lines_close(ss__lines *r);

/* Opens a file that must be regular (a model, a vocabulary): O_NONBLOCK so
 * that a FIFO cannot hang the open before the check; "is a directory" /
 * "not a regular file" otherwise. *size: its size. */
int ss__open_regular(const char *path, int *fd, uint64_t *size);

/* The longest line the reader returns (a longer one is SS_ERR_FORMAT
 * "FILE:LINE: line longer than 64 MiB"): /dev/zero as input must not eat
 * the memory. */
#define SS__LINE_MAX ((size_t)64 << 20)

/* Writing a file so that readers see the old one or the whole new one,
 * never a part: write to a temporary file beside it, then rename. That is
 * for regular files and absent paths; a symbolic link is followed (what it
 * names is replaced); a device, a FIFO, a socket or a descriptor path
 * (/dev/stdout, /dev/fd/N) is written in place (inplace = 1: not seekable
 * in general, and not atomic); a directory is refused. */
typedef struct ss__atomic {
    FILE *f;
    char *path, *tmp; /* path: the file written (links followed) */
    int inplace;
} ss__atomic;
int ss__atomic_open(ss__atomic *a, const char *path);
/* Whether ss__atomic_open(path) would succeed, without opening a FIFO (which
 * would wait for a reader) and without leaving anything behind. */
int ss__atomic_check(const char *path);
/* Flushes, fsyncs and renames; on any error removes the temporary file. */
int ss__atomic_commit(ss__atomic *a);
/* Removes the temporary file (safe after a failed commit, and twice). */
void ss__atomic_abort(ss__atomic *a);
int ss__write_file_atomic(const char *path, const void *data, size_t len);
/* Removes the temporary files of the atomic writes in progress: for a
 * signal handler that ends the process (async-signal-safe: unlink only), so
 * that a second Ctrl-C during a 58 MB checkpoint leaves no PATH.tmp.PID.*. */
void ss__atomic_unlink_live(void);

#endif
