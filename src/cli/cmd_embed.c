/* cmd_embed.c: `semsearch embed`: one vector per input line, in input order.
 *
 * Input is read and embedded in chunks of lines, and each chunk is written
 * before the next is read, so memory does not grow with the input. The one
 * exception is npy, whose header holds the row count: with -o FILE the
 * header is rewritten in place at the end (the file is ours, seekable and
 * renamed into place only when complete); on stdout, or -o naming a device,
 * a FIFO or /dev/stdout (written in place, not seekable), the vectors are
 * spooled to an unlinked temporary file in $TMPDIR and copied after the
 * header. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "base/textio.h"


static const char embed_usage[] =
    "usage: semsearch embed [-m MODEL] [--format tsv|jsonl|npy|f32] [-o FILE] [FILE...]\n"
    "\n"
    "Writes one L2-normalized vector per input line, in input order (an empty\n"
    "line gets a vector too; no input gives no vectors). Lines are normalized\n"
    "as by `semsearch tokenize` (invalid UTF-8 becomes U+FFFD, NUL and control\n"
    "characters are dropped) and truncated to the model's length.\n"
    "\n"
    "  -m, --model PATH    model file (default: the shipped " CLI_DEFAULT_MODEL ")\n"
    "  -f, --format F      tsv:   the floats of a vector on one line, tab-separated,\n"
    "                             with 9 significant digits (they read back exactly)\n"
    "                      jsonl: {\"i\":N,\"embedding\":[...]} per line, N from 0\n"
    "                      npy:   a NumPy .npy file, float32, shape (lines, dim)\n"
    "                      f32:   raw little-endian float32, dim per line\n"
    "                      (default tsv)\n"
    "  -o, --output FILE   write to FILE (whole or not at all) instead of stdout\n"
    "  -b, --batch N       texts per encoder batch (default 64)\n"
    "  -p, --precision P   matrix products in f32, bf16 or int8 (default: int8 for\n"
    "                      an int8 model, else f32; or SEMSEARCH_PRECISION); f32\n"
    "                      where the CPU lacks AVX-512 BF16 / VNNI\n"
    "  -q, --quiet         no progress line (drawn on stderr when it is a terminal)\n"
    "  -t, --threads N     threads (default: SEMSEARCH_THREADS or all cores)\n"
    "  FILE                input files ('-' or none: stdin; .gz is read as gzip)\n";

enum { FMT_TSV, FMT_JSONL, FMT_NPY, FMT_F32 };

#define CHUNK_LINES 1024
#define CHUNK_BYTES ((size_t)16 << 20)
#define NPY_HEADER 128 /* bytes, a multiple of 64 as NumPy writes them */

/* ------------------------------------------------------------ output */

typedef struct sink {
    int format, dim;
    FILE *f;          /* where vectors go: stdout, the -o temporary file or the spool */
    ss__atomic a;     /* -o FILE */
    int atomic;
    FILE *spool;      /* npy on stdout, or -o written in place */
    FILE *out;        /* where the spool is copied: stdout or the -o file */
    const char *out_name;
    const char *name; /* for messages */
    char spool_name[4200];
    size_t count;
} sink;

static void npy_header(char *h, size_t n, int dim)
{
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (char)((NPY_HEADER - 10) & 0xff);
    h[9] = (char)((NPY_HEADER - 10) >> 8);
    int k = snprintf(h + 10, NPY_HEADER - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %d), }",
                     n, dim);
    memset(h + 10 + k, ' ', (size_t)(NPY_HEADER - 10 - k - 1));
    h[NPY_HEADER - 1] = '\n';
}

static int write_error(const sink *s)
{
    return cli_error("%s: write error: %s", s->name, errno ? strerror(errno) : "failed");
}

static int sink_open(sink *s, const char *path, int format, int dim)
{
    memset(s, 0, sizeof *s);
    s->format = format;
    s->dim = dim;
    s->f = s->out = stdout;
    s->name = s->out_name = "stdout";
    if (path && strcmp(path, "-") != 0) {
        int rc = ss__atomic_open(&s->a, path);
        if (rc) return cli_lib_error(rc);
        s->atomic = 1;
        s->f = s->out = s->a.f;
        s->name = s->out_name = path;
    }
    if (format == FMT_NPY && (!s->atomic || s->a.inplace)) {
        const char *dir = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof tmpl, "%s/semsearch-embed.XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(tmpl);
        if (fd < 0) return cli_error("%s: cannot create a temporary file for the npy rows: %s", tmpl, strerror(errno));
        unlink(tmpl);
        s->spool = fdopen(fd, "w+b");
        if (!s->spool) {
            close(fd);
            return cli_error("temporary file: %s", strerror(errno));
        }
        s->f = s->spool;
        /* a full $TMPDIR is not a stdout error: say which file failed */
        snprintf(s->spool_name, sizeof s->spool_name, "%s (temporary file of the npy rows; set TMPDIR or use -o)", tmpl);
        s->name = s->spool_name;
    }
    if (format == FMT_NPY && !s->spool) {
        char h[NPY_HEADER];
        npy_header(h, 0, dim); /* rewritten with the count at the end */
        if (fwrite(h, 1, sizeof h, s->f) != sizeof h) return write_error(s);
    }
    return 0;
}

/* x[0..dim), finite, as text through buf (SS_FLOATS_TEXT_MAX(dim) bytes) */
static void write_text(FILE *f, const float *x, int dim, char sep, char *buf)
{
    size_t len;
    if (ss_floats_to_text(x, (size_t)dim, sep, buf, SS_FLOATS_TEXT_MAX(dim), &len) == SS_OK) fwrite(buf, 1, len, f);
}

static int sink_write(sink *s, const float *v, size_t n)
{
    int dim = s->dim;
    char *text = NULL; /* a vector as text (tsv, jsonl) */
    if (s->format == FMT_TSV || s->format == FMT_JSONL) {
        text = malloc(SS_FLOATS_TEXT_MAX(dim));
        if (!text) return cli_error("out of memory");
    }
    errno = 0;
    for (size_t i = 0; i < n; i++) {
        const float *x = v + i * (size_t)dim;
        for (int j = 0; j < dim; j++)
            if (!isfinite(x[j])) {
                free(text);
                return cli_error("the embedding of input line %zu is not finite (a broken model?)", s->count + i + 1);
            }
        switch (s->format) {
        case FMT_TSV:
            write_text(s->f, x, dim, '\t', text);
            putc('\n', s->f);
            break;
        case FMT_JSONL:
            fprintf(s->f, "{\"i\":%zu,\"embedding\":[", s->count + i);
            write_text(s->f, x, dim, ',', text);
            fputs("]}\n", s->f);
            break;
        default: /* npy rows and f32: little-endian float32 as in memory */
            if (fwrite(x, sizeof *x, (size_t)dim, s->f) != (size_t)dim) return write_error(s);
        }
    }
    free(text);
    s->count += n;
    if (ferror(s->f)) return write_error(s);
    return 0;
}

static int sink_close(sink *s, int failed)
{
    int rc = failed;
    if (!rc && s->format == FMT_NPY) {
        char h[NPY_HEADER];
        npy_header(h, s->count, s->dim);
        errno = 0;
        if (!s->spool) {
            if (fseek(s->f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, s->f) != sizeof h) rc = write_error(s);
        } else {
            /* header, then the spooled rows (all of them spooled first) */
            if (fflush(s->spool) != 0 || fseek(s->spool, 0, SEEK_SET) != 0) rc = write_error(s);
            s->name = s->out_name;
            if (!rc && fwrite(h, 1, sizeof h, s->out) != sizeof h) rc = write_error(s);
            char buf[1 << 16];
            size_t k;
            while (!rc && (k = fread(buf, 1, sizeof buf, s->spool)) > 0)
                if (fwrite(buf, 1, k, s->out) != k) rc = write_error(s);
            if (!rc && ferror(s->spool)) rc = cli_error("temporary file: read error");
        }
    }
    if (s->spool) fclose(s->spool);
    s->spool = NULL;
    if (s->atomic) {
        if (rc) ss__atomic_abort(&s->a);
        else if ((rc = ss__atomic_commit(&s->a))) rc = cli_lib_error(rc);
        s->atomic = 0;
    }
    return rc;
}

/* ------------------------------------------------------------ input chunks */

typedef struct chunk {
    char *buf;
    size_t len, cap;
    size_t *off, *lens;
    const char **texts;
    size_t n;
    float *vecs; /* CHUNK_LINES x dim */
    float unknown[CHUNK_LINES];
    cli_unknown unk;
    cli_progress prog;
} chunk;

static int chunk_push(chunk *c, const char *line, size_t len)
{
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : 1 << 16;
        while (cap < c->len + len) cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (!nb) return cli_error("out of memory (a line of %zu bytes)", len);
        c->buf = nb;
        c->cap = cap;
    }
    if (len) memcpy(c->buf + c->len, line, len);
    c->off[c->n] = c->len;
    c->lens[c->n] = len;
    c->len += len;
    c->n++;
    return 0;
}

static int chunk_flush(chunk *c, ss_model *m, int batch, sink *s)
{
    if (!c->n) return 0;
    for (size_t i = 0; i < c->n; i++) c->texts[i] = c->buf + c->off[i];
    int rc = ss_embed_ex(m, c->texts, c->lens, c->n, batch, c->vecs, c->unknown);
    if (rc) return cli_lib_error(rc);
    cli_unknown_check(&c->unk, c->unknown, c->n, "input line", (long long)s->count + 1);
    rc = sink_write(s, c->vecs, c->n);
    double t = cli_progress_elapsed(&c->prog);
    cli_progress_draw(&c->prog, 0, "embedded %zu line%s, %.0f lines/s", s->count, s->count == 1 ? "" : "s",
                      t > 0 ? (double)s->count / t : 0.0);
    c->n = 0;
    c->len = 0;
    return rc;
}

static int embed_file(const char *path, chunk *c, ss_model *m, int batch, sink *s)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return cli_lib_error(rc);
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        if ((rc = chunk_push(c, line, len))) break;
        /* a pipe with nothing more yet: answer what came (a coprocess waits) */
        int idle = !ss__lines_ready(r);
        if (c->n == CHUNK_LINES || c->len >= CHUNK_BYTES || idle) {
            if ((rc = chunk_flush(c, m, batch, s))) break;
            if (idle && !s->spool && fflush(s->f) != 0) {
                rc = write_error(s);
                break;
            }
        }
    }
    if (rc > 0) rc = cli_lib_error(rc); /* a read error: "file:line: ..." */
    ss__lines_close(r);
    return rc;
}

/* ------------------------------------------------------------ command */

int cmd_embed(int argc, char **argv);
int cmd_embed(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, 'o'},  {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {"quiet", no_argument, 0, 'q'},         {"precision", required_argument, 0, 'p'},
        {0, 0, 0, 0}};
    static const char *const fmt_names[] = {"tsv", "jsonl", "npy", "f32"};
    const char *model_path = NULL, *out = NULL;
    int format = FMT_TSV, c, quiet = 0, prec = -1;
    long batch = 0, threads = 0;
    while ((c = getopt_long(argc, argv, "m:f:o:b:t:p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'o': out = optarg; break;
        case 'f':
            format = -1;
            for (int i = 0; i < 4; i++)
                if (!strcmp(optarg, fmt_names[i])) format = i;
            if (format < 0) {
                cli_error("--format: '%s' is not tsv, jsonl, npy or f32", optarg);
                return 2;
            }
            break;
        case 'b':
            if (cli_int("--batch", optarg, 1, 65536, &batch)) return 2;
            break;
        case 'p':
            if ((prec = ss_precision_kind(optarg)) < 0) {
                cli_error("--precision: '%s' is not f32, bf16 or int8", optarg);
                return 2;
            }
            break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case 'h': return cli_usage(embed_usage, 0);
        default: return cli_usage(embed_usage, 1);
        }
    }
    if (optind == argc && cli_stdin_is_tty()) return cli_usage(embed_usage, 0);
    if ((format == FMT_NPY || format == FMT_F32) && (!out || !strcmp(out, "-")) && isatty(STDOUT_FILENO)) {
        cli_error("not writing binary %s to a terminal: redirect stdout or use -o FILE", fmt_names[format]);
        return 2;
    }
    /* every input must be readable before any vector is written */
    for (int i = optind; i < argc; i++)
        if (strcmp(argv[i], "-") != 0 && access(argv[i], R_OK) != 0)
            return cli_error("%s: %s", argv[i], strerror(errno));
    if (out && cli_output_not_input("embed", out, (const char *const *)argv + optind, argc - optind)) return 2;
    if (out && cli_same_file(out, model_path)) {
        cli_error("embed: the output %s is the model: choose another output", out);
        return 2;
    }
    if (threads) ss_set_threads((int)threads);

    char *mp = cli_model_path(model_path, NULL);
    if (!mp) return 1;
    ss_model *m;
    int rc = ss_model_load(mp, &m);
    free(mp);
    if (!rc && prec >= 0 && (rc = ss_model_set_precision(m, prec))) ss_model_free(m);
    if (rc) return cli_lib_error(rc);
    int dim = ss_model_dim(m);

    chunk ch = {0};
    cli_progress_init(&ch.prog, quiet);
    ch.off = malloc(CHUNK_LINES * sizeof *ch.off);
    ch.lens = malloc(CHUNK_LINES * sizeof *ch.lens);
    ch.texts = malloc(CHUNK_LINES * sizeof *ch.texts);
    ch.vecs = malloc(CHUNK_LINES * (size_t)dim * sizeof *ch.vecs);
    sink s;
    if (!ch.off || !ch.lens || !ch.texts || !ch.vecs) rc = cli_error("out of memory");
    else if ((rc = sink_open(&s, out, format, dim))) {
        if (s.spool) fclose(s.spool);
        if (s.atomic) ss__atomic_abort(&s.a);
    } else {
        if (optind == argc) rc = embed_file("-", &ch, m, (int)batch, &s);
        for (int i = optind; i < argc && !rc; i++) rc = embed_file(argv[i], &ch, m, (int)batch, &s);
        if (!rc) rc = chunk_flush(&ch, m, (int)batch, &s);
        rc = sink_close(&s, rc);
        cli_progress_end(&ch.prog);
        cli_unknown_summary(&ch.unk, "input lines");
        if (!rc && out && strcmp(out, "-") != 0)
            fprintf(stderr, "semsearch: wrote %zu vector%s of %d floats to %s\n", s.count, s.count == 1 ? "" : "s", dim,
                    out);
    }
    free(ch.buf);
    free(ch.off);
    free(ch.lens);
    free(ch.texts);
    free(ch.vecs);
    ss_model_free(m);
    return rc;
}
