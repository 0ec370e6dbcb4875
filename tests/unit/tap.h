/* tap.h: a minimal TAP producer for the C unit tests (header-only). */
#ifndef SS_TAP_H
#define SS_TAP_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

static int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!cond) tap_failed++;
    return cond;
}

/* |a-b| <= tol * max(1, |a|, |b|) */
static int tap_close(double a, double b, double tol, const char *what) __attribute__((unused));
static int tap_close(double a, double b, double tol, const char *what)
{
    double s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    if (s < 1) s = 1;
    int ok = fabs(a - b) <= tol * s;
    tap_ok(ok, "%s (%.9g vs %.9g)", what, a, b);
    return ok;
}

static void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void tap_diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Prints the plan (at the end, as TAP allows) and gives the exit code. */
static int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

/* A whole file in memory (free()), or NULL. */
static unsigned char *tap_read_file(const char *path, size_t *n) __attribute__((unused));
static unsigned char *tap_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len + 1 : 1);
    *n = p ? fread(p, 1, (size_t)(len > 0 ? len : 0), f) : 0;
    fclose(f);
    return p;
}

/* Path of a file in the source tree (make check exports top_srcdir). */
static const char *tap_srcpath(const char *rel) __attribute__((unused));
static const char *tap_srcpath(const char *rel)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof buf, "%s/%s", top ? top : ".", rel);
    return buf;
}
#endif
