/* fuzz.h: the libFuzzer entry point every target defines. The same target
 * links either with libFuzzer (clang -fsanitize=fuzzer, tests/fuzz/run.sh)
 * or with replay.c, which runs the saved corpus in `make check`. */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include <stdlib.h>
#include <unistd.h>
/* Writes the input to a new temporary file for the readers that take a path;
 * path must be a "...XXXXXX" template. 0 on success. */
static inline int fuzz_write_temp(const uint8_t *data, size_t size, char *path)
{
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    int ok = size == 0 || write(fd, data, size) == (ssize_t)size;
    close(fd);
    if (!ok) unlink(path);
    return ok ? 0 : -1;
}
#endif
