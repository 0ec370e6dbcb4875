/* cli.c: helpers shared by the commands. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("semsearch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_lib_error(int rc)
{
    const char *m = ss_errmsg();
    return cli_error("%s", m && *m ? m : ss_strerror(rc));
}

int cli_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        cli_error("%s: '%s' is not a whole number", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s: %ld is out of range [%ld, %ld]", opt, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        cli_error("%s: '%s' is not a number", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s: %g is out of range [%g, %g]", opt, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_pooling(const char *s, int *out)
{
    for (int i = 0; ss_pooling_name(i); i++)
        if (!strcmp(s, ss_pooling_name(i))) {
            *out = i;
            return 0;
        }
    cli_error("--pooling: '%s' is not mean, cls, max or meanmax", s);
    return -1;
}

int cli_usage(const char *text, int to_stderr)
{
    if (!to_stderr) {
        fputs(text, stdout);
        return 0;
    }
    /* misuse: the synopsis (up to the first blank line; the error said
     * what is wrong) and where the rest is, not a screenful of options */
    const char *blank = strstr(text, "\n\n");
    int n = blank ? (int)(blank - text) : (int)strcspn(text, "\0");
    while (n > 0 && text[n - 1] == '\n') n--;
    fprintf(stderr, "%.*s\n", n, text);
    const char *help = strstr(text, "--help");
    const char *cmd = !strncmp(text, "usage: ", 7) && !(help && help < text + n) ? text + 7 : NULL;
    if (cmd) {
        /* the command's words: "semsearch tokenizer train" */
        const char *e = cmd;
        while (*e && *e != '\n') {
            const char *w = e;
            while (*w == ' ') w++;
            if (!(*w >= 'a' && *w <= 'z')) break;
            while (*w && *w != ' ' && *w != '\n') w++;
            e = w;
        }
        fprintf(stderr, "'%.*s --help' describes every option.\n", (int)(e - cmd), cmd);
    }
    return 2;
}

int cli_stdin_is_tty(void) { return isatty(STDIN_FILENO); }

static int readable(const char *p) { return access(p, R_OK) == 0; }

static char *join(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

char *cli_data_path(const char *rel)
{
    const char *env = getenv("SEMSEARCH_DATA");
    char *p;
    if (env && *env) {
        p = join(env, rel);
        if (p && readable(p)) return p;
        free(p);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        /* libtool may run us from .libs/ */
        const char *cands[] = {"", "/..", "/../share/semsearch"};
        for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
            char dir[PATH_MAX + 32];
            snprintf(dir, sizeof dir, "%s%s", exe, cands[i]);
            p = join(dir, rel);
            if (p && readable(p)) return p;
            free(p);
        }
    }
    p = join(SS_PKGDATADIR, rel);
    if (p && readable(p)) return p;
    free(p);
    return NULL;
}

const char *cli_data_where(const char *rel)
{
    static char buf[3 * PATH_MAX + 256];
    const char *env = getenv("SEMSEARCH_DATA");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
    } else {
        snprintf(exe, sizeof exe, "?");
    }
    snprintf(buf, sizeof buf, "looked for %s under $SEMSEARCH_DATA (%s), beside the program (%s, its parent and "
             "../share/semsearch) and in %s", rel, env && *env ? env : "not set", exe, SS_PKGDATADIR);
    return buf;
}

char *cli_model_path(const char *path, const char *hint)
{
    if (path) {
        char *p = strdup(path);
        if (!p) cli_error("out of memory");
        return p;
    }
    /* the shipped model where the library looks for it (the extension too) */
    char *lib = NULL, *def = NULL;
    if (ss_default_model_path(&lib) != SS_OK)
        cli_error("no -m given and %s: pass -m MODEL, or create one with 'semsearch model init -o MODEL'%s%s",
                  ss_errmsg(), hint ? "; " : "", hint ? hint : "");
    else if (!(def = strdup(lib)))
        cli_error("out of memory");
    ss_free(lib);
    return def;
}

int cli_finish_stdout(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (!rc) rc = cli_error("stdout: write error: %s", strerror(errno));
    }
    return rc;
}

void cli_unknown_check(cli_unknown *u, const float *share, size_t n, const char *what, long long first_no)
{
    for (size_t i = 0; i < n; i++) {
        if (!(share[i] >= 0.5f)) continue;
        u->n++;
        if (u->shown >= 3) continue;
        u->shown++;
        fflush(stdout);
        if (first_no > 0)
            fprintf(stderr, "semsearch: warning: %s %lld: ", what, first_no + (long long)i);
        else
            fprintf(stderr, "semsearch: warning: %s: ", what);
        fprintf(stderr, "%.0f%% of the text is unknown to the model's vocabulary (a script it does not cover): "
                        "it is matched by its characters only\n", 100.0 * share[i]);
    }
}

void cli_unknown_summary(const cli_unknown *u, const char *things)
{
    if (u->n > u->shown)
        fprintf(stderr, "semsearch: warning: %lld %s in all are mostly unknown to the model's vocabulary\n", u->n,
                things);
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || !strcmp(a, "-") || !strcmp(b, "-")) return 0;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_output_not_input(const char *cmd, const char *out, const char *const *inputs, int n)
{
    for (int i = 0; out && i < n; i++)
        if (cli_same_file(out, inputs[i])) {
            cli_error("%s: the output %s is the input %s: choose another output", cmd, out, inputs[i]);
            return 2;
        }
    return 0;
}

/* ---------------------------------------------------------------- json */

void cli_json_string(const char *s, size_t len)
{
    char *fixed = NULL;
    size_t flen;
    if (ss_utf8_repair(s, len, &fixed, &flen) == SS_OK) {
        s = fixed;
        len = flen;
    }
    /* jansson escapes it, as the server's answers are escaped */
    json_t *j = json_stringn(s, len);
    if (!j || json_dumpf(j, stdout, JSON_ENCODE_ANY) != 0) fputs("\"\"", stdout); /* out of memory */
    json_decref(j);
    ss_free(fixed);
}

const char *cli_fts_tokenizer(int stem) { return stem ? "porter unicode61" : "unicode61"; }

/* ------------------------------------------------------------ progress */

int cli_mpi_rank(int *rank, int *size)
{
    static const char *const names[][2] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                           {"PMI_RANK", "PMI_SIZE"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *r = getenv(names[i][0]), *s = getenv(names[i][1]);
        if (!r || !s || !cli_is_number(r) || !cli_is_number(s)) continue;
        long rv = strtol(r, NULL, 10), sv = strtol(s, NULL, 10);
        if (sv < 1 || sv > 65536 || rv < 0 || rv >= sv) continue;
        *rank = (int)rv;
        *size = (int)sv;
        return 1;
    }
    *rank = 0;
    *size = 1;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, int quiet)
{
    memset(p, 0, sizeof *p);
    p->on = !quiet && isatty(STDERR_FILENO);
    p->t0 = cli_now();
    p->last = -1;
}

double cli_progress_elapsed(const cli_progress *p) { return cli_now() - p->t0; }

void cli_progress_draw(cli_progress *p, int force, const char *fmt, ...)
{
    if (!p->on) return;
    double t = cli_now();
    if (!force && p->last >= 0 && t - p->last < 0.2) return;
    p->last = t;
    p->drawn = 1;
    va_list ap;
    va_start(ap, fmt);
    fputs("\rsemsearch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\033[K", stderr);
    va_end(ap);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on && p->drawn) fputs("\r\033[K", stderr);
    p->drawn = 0;
}

/* ------------------------------------------------------- option spellings */

void cli_deprecated(const char *cmd, const char *old, const char *use, const char *why)
{
    fflush(stdout);
    fprintf(stderr, "semsearch: warning: %s %s is deprecated and goes in the next release: use %s (%s)\n", cmd, old,
            use, why);
}

int cli_is_number(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

int cli_tokenizer(const char *path, const char *opt, ss_tokenizer **tok)
{
    char *def = NULL;
    if (!path) {
        def = cli_data_path(CLI_DEFAULT_VOCAB);
        if (!def)
            return cli_error("no %s given and the shipped %s was not found (%s): pass %s", opt, CLI_DEFAULT_VOCAB,
                             cli_data_where(CLI_DEFAULT_VOCAB), opt);
        path = def;
    }
    int rc = ss_tokenizer_load(path, tok);
    free(def);
    return rc ? cli_lib_error(rc) : 0;
}
