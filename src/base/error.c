/* error.c: status codes, the per-thread error message, version, allocation. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

/* Per-thread, so that a failing call on one thread does not overwrite the
 * message another thread is about to read. */
static _Thread_local char errbuf[1024];

int ss__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

int ss__fail_prefix(int code, const char *fmt, ...)
{
    char old[sizeof errbuf];
    memcpy(old, errbuf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof errbuf) {
        size_t room = sizeof errbuf - (size_t)n;
        if (room > 2) {
            memcpy(errbuf + n, ": ", 2);
            size_t k = strnlen(old, room - 3);
            memcpy(errbuf + n + 2, old, k);
            errbuf[(size_t)n + 2 + k] = '\0';
        }
    }
    return code;
}

void ss__clear_error(void) { errbuf[0] = '\0'; }

const char *ss_errmsg(void) { return errbuf; }

const char *ss_strerror(int code)
{
    switch (code) {
    case SS_OK: return "ok";
    case SS_ERR: return "error";
    case SS_ERR_NOMEM: return "out of memory";
    case SS_ERR_IO: return "input/output error";
    case SS_ERR_FORMAT: return "malformed input";
    case SS_ERR_ARG: return "invalid argument";
    case SS_ERR_TOKENIZER: return "tokenizer error";
    case SS_ERR_MODEL: return "model mismatch";
    case SS_ERR_SQL: return "database error";
    case SS_ERR_NUMERIC: return "not a finite number";
    case SS_ERR_RANGE: return "out of range";
    case SS_ERR_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

const char *ss_version(void) { return SS_VERSION; }
int ss_version_number(void) { return SS_VERSION_NUMBER; }

void ss_free(void *p) { free(p); }

/* ------------------------------------------------------------ allocation */

static long alloc_countdown; /* 0: off; else fail when it reaches 1 */

void ss__fail_alloc_after(long n) { alloc_countdown = n; }

static int alloc_should_fail(void)
{
    if (alloc_countdown <= 0) return 0;
    return --alloc_countdown == 0;
}

void *ss__malloc(size_t n)
{
    if (alloc_should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *ss__calloc(size_t n, size_t size)
{
    if (alloc_should_fail()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *ss__realloc(void *p, size_t n)
{
    if (alloc_should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

char *ss__strndup(const char *s, size_t n)
{
    char *d = ss__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ss__strdup(const char *s) { return ss__strndup(s, strlen(s)); }
