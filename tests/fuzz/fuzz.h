/* fuzz.h: the libFuzzer entry point every target defines. The same target
 * links either with libFuzzer (clang -fsanitize=fuzzer, tests/fuzz/run.sh)
 * or with replay.c, which runs the saved corpus in `make check`. */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif
