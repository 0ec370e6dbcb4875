/* fuzz_lines.c: the line reader on arbitrary bytes, plain or gzip (a gzip
 * header at the start makes zlib inflate; corrupt streams must give an
 * error, never a crash). Invariant: for plain input, the lines put back
 * together with '\n' give the input (modulo CR before LF and the last LF).
 * The same bytes also come through a pipe on stdin (read(2) and inflate by
 * hand instead of zlib's gz* calls): the lines must be the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "fuzz.h"
#include "base/textio.h"

/* The lines of the input read from a pipe on stdin, joined with '\n' into
 * *out; returns the reader's last code. */
static int read_piped(const uint8_t *data, size_t size, char **out, size_t *outlen, long *nlines)
{
    int p[2], saved = dup(0);
    *out = NULL;
    *outlen = 0;
    *nlines = 0;
    if (saved < 0 || pipe(p)) abort();
    if (size && write(p[1], data, size) != (ssize_t)size) abort(); /* fits: size <= 60000 < the pipe's 64 KiB */
    close(p[1]);
    dup2(p[0], 0);
    close(p[0]);
    ss__lines *r;
    if (ss__lines_open("-", &r) != SS_OK) abort();
    dup2(saved, 0);
    close(saved);
    const char *line;
    size_t len, cap = size * 2 + 64;
    int rc;
    char *b = malloc(cap);
    if (!b) abort();
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        if (*outlen + len + 1 > cap) {
            cap = 2 * (*outlen + len + 1);
            if (!(b = realloc(b, cap))) abort();
        }
        memcpy(b + *outlen, line, len);
        *outlen += len;
        b[(*outlen)++] = '\n';
        ++*nlines;
    }
    ss__lines_close(r);
    *out = b;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/ss-fuzz-lines-XXXXXX";
    if (fuzz_write_temp(data, size, path)) return 0;
    ss__lines *r;
    if (ss__lines_open(path, &r) != SS_OK) abort();
    const char *line;
    size_t len, total = 0;
    long lines = 0;
    int rc;
    size_t cap = size * 2 + 64, blen = 0;
    char *b = malloc(cap);
    if (!b) abort();
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        total += len;
        lines++;
        if (memchr(line, '\n', len)) abort();
        if (blen + len + 1 > cap) {
            cap = 2 * (blen + len + 1);
            if (!(b = realloc(b, cap))) abort();
        }
        memcpy(b + blen, line, len);
        blen += len;
        b[blen++] = '\n';
    }
    if (size <= 60000) {
        char *pb;
        size_t plen;
        long pn;
        int prc = read_piped(data, size, &pb, &plen, &pn);
        /* the same lines; a failure either way is a failure both ways */
        if ((prc == 0) != (rc == 0)) abort();
        if (rc == 0 && (pn != lines || plen != blen || memcmp(pb, b, blen))) abort();
        free(pb);
    }
    free(b);
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (rc != 0 && !gz) abort(); /* plain files never fail to read */
    if (!gz && rc == 0 && total > size) abort();
    if (ss__lines_lineno(r) != lines) abort();
    ss__lines_close(r);
    unlink(path);
    return 0;
}
