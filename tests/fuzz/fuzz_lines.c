/* fuzz_lines.c: the line reader on arbitrary bytes, plain or gzip (a gzip
 * header at the start makes zlib inflate; corrupt streams must give an
 * error, never a crash). Invariant: for plain input, the lines put back
 * together with '\n' give the input (modulo CR before LF and the last LF). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fuzz.h"
#include "textio.h"

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
    while ((rc = ss__lines_next(r, &line, &len)) == 1) {
        total += len;
        lines++;
        if (memchr(line, '\n', len)) abort();
    }
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (rc != 0 && !gz) abort(); /* plain files never fail to read */
    if (!gz && rc == 0 && total > size) abort();
    if (ss__lines_lineno(r) != lines) abort();
    ss__lines_close(r);
    unlink(path);
    return 0;
}
