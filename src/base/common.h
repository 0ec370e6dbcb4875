/* common.h: internal helpers shared by every module (not installed).
 * Internal symbols are ss__* so that only the public ss_[a-z]* ones are
 * exported from the shared library. */
#ifndef SS_COMMON_H
#define SS_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "semsearch.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SS_PRINTF(a, b)
#endif

/* Records a message for ss_errmsg() and returns code, so that failures read
 * `return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(errno));`. */
int ss__fail(int code, const char *fmt, ...) SS_PRINTF(2, 3);
/* Puts a context before the current message ("model.gguf: " + message),
 * keeping code: `return ss__fail_prefix(rc, "%s", path);`. */
int ss__fail_prefix(int code, const char *fmt, ...) SS_PRINTF(2, 3);
/* Clears the message (called by public entry points that succeed). */
void ss__clear_error(void);

/* Allocation goes through these so that tests can fail the Nth one. */
void *ss__malloc(size_t n);
void *ss__calloc(size_t n, size_t size);
void *ss__realloc(void *p, size_t n);
char *ss__strndup(const char *s, size_t n);
char *ss__strdup(const char *s);
/* Fault injection for tests: the nth allocation from now fails (0: never). */
void ss__fail_alloc_after(long n);

/* The library's clock: seconds on the monotonic clock (for durations). */
double ss__now_seconds(void);

/* Threads: OpenMP and BLAS share the same count. */
void ss__threads_init(void);

#ifdef __cplusplus
}
#endif

#define SS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SS_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
