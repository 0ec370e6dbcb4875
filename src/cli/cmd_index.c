/* cmd_index.c: `semsearch index`: documents from lines, TSV or JSONL into a
 * database, embedded in batches, each batch one transaction.
 *
 * Texts already stored are found before embedding (by content), so a re-run
 * after an interruption, even kill -9, skips what was committed at the cost
 * of a lookup per line, and embeds and commits only the rest. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"
#include "textio.h"

static const char index_usage[] =
    "usage: semsearch index [-d DB] [-m MODEL] [--source NAME] [options] [FILE...]\n"
    "\n"
    "Adds documents to a database (created when missing): one per input line,\n"
    "embedded with the model and committed in batches. A text already stored is\n"
    "skipped, so re-running after an interruption adds only what is missing.\n"
    "\n"
    "  -d, --db PATH          database (default " CLI_DEFAULT_DB ")\n"
    "  -m, --model PATH       model (default: the one the database records, else\n"
    "                         the shipped " CLI_DEFAULT_MODEL ")\n"
    "  -s, --source NAME      source name stored with the documents (default: the\n"
    "                         input file's name; none for stdin)\n"
    "      --text-column N    input is TSV: the text is column N (from 1)\n"
    "      --id-column N      TSV: column N is the document's id\n"
    "      --text-field NAME  input is JSONL: the text is this field (the other\n"
    "                         fields are kept as the document's metadata)\n"
    "      --id-field NAME    JSONL: this field is the document's id\n"
    "  -b, --batch N          documents per batch and transaction (default 256)\n"
    "      --reembed          first re-embed every stored document with MODEL,\n"
    "                         replacing all vectors (one transaction)\n"
    "  -q, --quiet            no progress display\n"
    "  -t, --threads N        threads (default: SEMSEARCH_THREADS or all cores)\n"
    "  FILE                   input files ('-' or none: stdin; .gz is read as gzip)\n";

enum { IN_LINES, IN_TSV, IN_JSONL };

typedef struct indexer {
    ss_store *store;
    store_model sm;
    int format, text_col, id_col;
    const char *text_field, *id_field;
    sqlite3 *json_db;        /* :memory:, for SQLite's JSON parser */
    sqlite3_stmt *json_st;
    size_t batch;
    /* the batch being built: owned copies */
    size_t n;
    ss_doc *docs;
    char **own;              /* 3 per doc: text, id, meta */
    unsigned char *is_new;
    const char **texts;
    size_t *lens;
    ss_doc *fresh;
    float *vecs;
    const char *source;
    /* counts and progress */
    long long lines, added, dups, empty;
    int progress;
    double t0, last_draw;
    long long bytes_done, bytes_total; /* for the bar: -1 when unknown */
} indexer;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void draw(indexer *x, int final)
{
    if (!x->progress) return;
    double t = now();
    if (!final && t - x->last_draw < 0.2) return;
    x->last_draw = t;
    double rate = x->lines / (t - x->t0 > 1e-9 ? t - x->t0 : 1e-9);
    if (x->bytes_total > 0) {
        int w = 24, fill = (int)(w * (double)x->bytes_done / (double)x->bytes_total);
        if (fill > w) fill = w;
        fprintf(stderr, "\r[%.*s%*s] %3d%% ", fill, "########################", w - fill, "",
                (int)(100.0 * (double)x->bytes_done / (double)x->bytes_total));
    } else {
        fputc('\r', stderr);
    }
    fprintf(stderr, "%lld lines, %lld added, %lld already stored, %.0f lines/s\033[K", x->lines, x->added, x->dups,
            rate);
    if (final) fputc('\n', stderr);
}

static void batch_clear(indexer *x)
{
    for (size_t i = 0; i < 3 * x->n; i++) {
        free(x->own[i]);
        x->own[i] = NULL;
    }
    x->n = 0;
}

/* Embeds the new documents of the batch and commits them. */
static int flush(indexer *x)
{
    if (!x->n) return 0;
    int rc = ss_store_filter_new(x->store, x->docs, x->n, x->is_new);
    if (rc) return cli_lib_error(rc);
    size_t nn = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->is_new[i]) continue;
        x->fresh[nn] = x->docs[i];
        x->texts[nn] = x->docs[i].text;
        x->lens[nn] = x->docs[i].len;
        nn++;
    }
    size_t added = 0;
    if (nn) {
        rc = ss_embed(x->sm.model, x->texts, x->lens, nn, 0, x->vecs);
        if (!rc) rc = ss_store_add(x->store, x->fresh, x->vecs, nn, &added);
        if (rc) return cli_lib_error(rc);
    }
    x->added += (long long)added;
    x->dups += (long long)(x->n - added);
    batch_clear(x);
    draw(x, 0);
    return 0;
}

static int push(indexer *x, const char *text, size_t len, const char *id, size_t idlen, const char *meta)
{
    if (id && idlen == 0) id = NULL; /* an empty id is no id */
    char **o = x->own + 3 * x->n;
    o[0] = malloc(len + 1);
    o[1] = id ? malloc(idlen + 1) : NULL;
    o[2] = meta ? strdup(meta) : NULL;
    if (!o[0] || (id && !o[1]) || (meta && !o[2])) return cli_error("out of memory");
    memcpy(o[0], text, len);
    o[0][len] = '\0';
    if (id) {
        memcpy(o[1], id, idlen);
        o[1][idlen] = '\0';
    }
    x->docs[x->n] = (ss_doc){o[0], len, o[1], x->source, o[2]};
    x->n++;
    return x->n == x->batch ? flush(x) : 0;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

/* Field n (from 1) of a TSV line. */
static int tsv_field(const char *line, size_t len, int n, const char **f, size_t *flen)
{
    const char *p = line, *end = line + len;
    for (int i = 1; i < n; i++) {
        const char *t = memchr(p, '\t', (size_t)(end - p));
        if (!t) return -1;
        p = t + 1;
    }
    const char *t = memchr(p, '\t', (size_t)(end - p));
    *f = p;
    *flen = (size_t)((t ? t : end) - p);
    return 0;
}

static int json_prepare(indexer *x)
{
    if (sqlite3_open_v2(":memory:", &x->json_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return cli_error("cannot open SQLite for JSON parsing");
    /* ?1 the line, ?2 the text path, ?3 the id path (or NULL) */
    const char *sql =
        "SELECT json_valid(?1), json_type(?1), json_type(?1, ?2), json_extract(?1, ?2), "
        "json_type(?1, ?3), json_extract(?1, ?3), "
        "CASE WHEN ?3 IS NULL THEN json_remove(?1, ?2) ELSE json_remove(?1, ?2, ?3) END";
    if (sqlite3_prepare_v2(x->json_db, sql, -1, &x->json_st, NULL) != SQLITE_OK)
        return cli_error("SQLite JSON: %s", sqlite3_errmsg(x->json_db));
    return 0;
}

/* A JSON path for a field name: $."name" (names with a quote are refused). */
static char *json_path(const char *name)
{
    if (strchr(name, '"') || strchr(name, '\\')) return NULL;
    size_t n = strlen(name) + 5;
    char *p = malloc(n);
    if (p) snprintf(p, n, "$.\"%s\"", name);
    return p;
}

static int jsonl_line(indexer *x, ss__lines *r, const char *line, size_t len, const char *tpath, const char *ipath)
{
    const char *name = ss__lines_name(r);
    long no = ss__lines_lineno(r);
    if (blank(line, len)) {
        x->empty++;
        return 0;
    }
    sqlite3_stmt *st = x->json_st;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, line, (int)len, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, tpath, -1, SQLITE_STATIC);
    if (ipath) sqlite3_bind_text(st, 3, ipath, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 3);
    int rc;
    if (sqlite3_step(st) != SQLITE_ROW) { /* SQLite's JSON functions raise "malformed JSON" */
        rc = cli_error("%s:%ld: not a JSON object (%s)", name, no, sqlite3_errmsg(x->json_db));
    } else if (!sqlite3_column_int(st, 0) ||
               strcmp((const char *)sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "",
                      "object")) {
        rc = cli_error("%s:%ld: not a JSON object", name, no);
    } else if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
        rc = cli_error("%s:%ld: no \"%s\" field", name, no, x->text_field);
    } else if (strcmp((const char *)sqlite3_column_text(st, 2), "text")) {
        rc = cli_error("%s:%ld: field \"%s\" is not a string", name, no, x->text_field);
    } else if (ipath && sqlite3_column_type(st, 4) == SQLITE_NULL) {
        rc = cli_error("%s:%ld: no \"%s\" field", name, no, x->id_field);
    } else if (ipath && strcmp((const char *)sqlite3_column_text(st, 4), "text") &&
               strcmp((const char *)sqlite3_column_text(st, 4), "integer")) {
        rc = cli_error("%s:%ld: field \"%s\" is not a string or an integer", name, no, x->id_field);
    } else {
        const char *text = (const char *)sqlite3_column_text(st, 3);
        size_t tlen = (size_t)sqlite3_column_bytes(st, 3);
        const char *id = ipath ? (const char *)sqlite3_column_text(st, 5) : NULL;
        size_t idlen = ipath ? (size_t)sqlite3_column_bytes(st, 5) : 0;
        const char *meta = (const char *)sqlite3_column_text(st, 6);
        if (meta && !strcmp(meta, "{}")) meta = NULL;
        if (blank(text, tlen)) {
            x->empty++;
            rc = 0;
        } else {
            rc = push(x, text, tlen, id, idlen, meta);
        }
    }
    sqlite3_reset(st);
    return rc;
}

static int index_file(indexer *x, const char *path, const char *source)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return cli_lib_error(rc);
    /* every document of a batch shares the source: flush at a file change */
    if ((rc = flush(x))) {
        ss__lines_close(r);
        return rc;
    }
    x->source = source;
    char *tpath = NULL, *ipath = NULL;
    if (x->format == IN_JSONL) {
        tpath = json_path(x->text_field);
        ipath = x->id_field ? json_path(x->id_field) : NULL;
        if (!tpath || (x->id_field && !ipath)) {
            ss__lines_close(r);
            free(tpath);
            free(ipath);
            return cli_error("--text-field/--id-field: a field name with a quote or backslash is not supported");
        }
    }
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == 1) {
        x->lines++;
        x->bytes_done += (long long)len + 1;
        if (x->format == IN_JSONL) {
            rc = jsonl_line(x, r, line, len, tpath, ipath);
        } else if (x->format == IN_TSV && blank(line, len)) {
            x->empty++;
            rc = 0;
        } else if (x->format == IN_TSV) {
            const char *t, *id = NULL;
            size_t tl, il = 0;
            if (tsv_field(line, len, x->text_col, &t, &tl) ||
                (x->id_col && tsv_field(line, len, x->id_col, &id, &il))) {
                rc = cli_error("%s:%ld: no column %d", ss__lines_name(r), ss__lines_lineno(r),
                               tsv_field(line, len, x->text_col, &t, &tl) ? x->text_col : x->id_col);
            } else if (blank(t, tl)) {
                x->empty++;
                rc = 0;
            } else {
                rc = push(x, t, tl, id, il, NULL);
            }
        } else if (blank(line, len)) {
            x->empty++;
            rc = 0;
        } else {
            rc = push(x, line, len, NULL, 0, NULL);
        }
        if (rc) break;
    }
    if (rc > 1) rc = cli_lib_error(rc); /* a read error: "file:line: ..." */
    if (!rc) rc = flush(x);
    ss__lines_close(r);
    free(tpath);
    free(ipath);
    return rc;
}

/* ss_store_reembed's callback: the model's embedding, with progress. */
static int reembed_fn(void *ctx, const char *const *texts, const size_t *lens, size_t n, float *out)
{
    indexer *x = ctx;
    int rc = ss_embed(x->sm.model, texts, lens, n, 0, out);
    x->lines += (long long)n;
    if (x->progress && now() - x->last_draw >= 0.2) {
        x->last_draw = now();
        fprintf(stderr, "\rre-embedded %lld documents\033[K", x->lines);
    }
    return rc;
}

static int reembed(indexer *x, const char *model_path)
{
    if (store_model_load(NULL, model_path, &x->sm)) return 1;
    ss_store_model old;
    int rc = ss_store_get_model(x->store, &old);
    fprintf(stderr, "semsearch: re-embedding %s with %s (was %s)\n", "every document", x->sm.name,
            !rc && old.name[0] ? old.name : "none");
    rc = ss_store_reembed(x->store, &x->sm.info, reembed_fn, x, x->batch);
    if (x->progress) fputc('\n', stderr);
    if (rc) return cli_lib_error(rc);
    fprintf(stderr, "semsearch: re-embedded %lld documents\n", x->lines);
    x->lines = 0;
    return 0;
}

int cmd_index(int argc, char **argv);
int cmd_index(int argc, char **argv)
{
    enum { O_TEXTCOL = 256, O_IDCOL, O_TEXTFIELD, O_IDFIELD, O_REEMBED };
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"model", required_argument, 0, 'm'},
                                         {"source", required_argument, 0, 's'},
                                         {"text-column", required_argument, 0, O_TEXTCOL},
                                         {"id-column", required_argument, 0, O_IDCOL},
                                         {"text-field", required_argument, 0, O_TEXTFIELD},
                                         {"id-field", required_argument, 0, O_IDFIELD},
                                         {"batch", required_argument, 0, 'b'},
                                         {"reembed", no_argument, 0, O_REEMBED},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = CLI_DEFAULT_DB, *model_path = NULL, *source = NULL;
    indexer x;
    memset(&x, 0, sizeof x);
    x.batch = 256;
    int c, quiet = 0, re = 0;
    long v;
    while ((c = getopt_long(argc, argv, "d:m:s:b:qt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'm': model_path = optarg; break;
        case 's': source = optarg; break;
        case O_TEXTCOL:
            if (cli_int("--text-column", optarg, 1, 100000, &v)) return 2;
            x.text_col = (int)v;
            break;
        case O_IDCOL:
            if (cli_int("--id-column", optarg, 1, 100000, &v)) return 2;
            x.id_col = (int)v;
            break;
        case O_TEXTFIELD: x.text_field = optarg; break;
        case O_IDFIELD: x.id_field = optarg; break;
        case 'b':
            if (cli_int("--batch", optarg, 1, 65536, &v)) return 2;
            x.batch = (size_t)v;
            break;
        case O_REEMBED: re = 1; break;
        case 'q': quiet = 1; break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &v)) return 2;
            ss_set_threads((int)v);
            break;
        case 'h': return cli_usage(index_usage, 0);
        default: return cli_usage(index_usage, 1);
        }
    }
    if ((x.text_col || x.id_col) && (x.text_field || x.id_field)) {
        cli_error("index: TSV columns and JSONL fields cannot be mixed");
        return 2;
    }
    if (x.id_col && !x.text_col) {
        cli_error("index: --id-column needs --text-column");
        return 2;
    }
    if (x.id_field && !x.text_field) {
        cli_error("index: --id-field needs --text-field");
        return 2;
    }
    x.format = x.text_field ? IN_JSONL : x.text_col ? IN_TSV : IN_LINES;
    if (optind == argc && !re && cli_stdin_is_tty()) return cli_usage(index_usage, 0);
    for (int i = optind; i < argc; i++) /* every input readable before anything is written */
        if (strcmp(argv[i], "-") != 0 && access(argv[i], R_OK) != 0)
            return cli_error("%s: %s", argv[i], strerror(errno));
    x.progress = !quiet && isatty(STDERR_FILENO);

    int rc = ss_store_open(db, SS_STORE_CREATE, &x.store);
    if (rc) return cli_lib_error(rc);
    x.docs = calloc(x.batch, sizeof *x.docs);
    x.own = calloc(3 * x.batch, sizeof *x.own);
    x.is_new = calloc(x.batch, 1);
    x.texts = calloc(x.batch, sizeof *x.texts);
    x.lens = calloc(x.batch, sizeof *x.lens);
    x.fresh = calloc(x.batch, sizeof *x.fresh);
    if (!x.docs || !x.own || !x.is_new || !x.texts || !x.lens || !x.fresh) rc = cli_error("out of memory");
    x.t0 = x.last_draw = now();
    if (!rc && re) rc = reembed(&x, model_path);
    else if (!rc) rc = store_model_load(x.store, model_path, &x.sm);
    if (!rc && !(x.vecs = malloc(x.batch * (size_t)ss_model_dim(x.sm.model) * sizeof *x.vecs)))
        rc = cli_error("out of memory");
    if (!rc && x.format == IN_JSONL) rc = json_prepare(&x);
    x.t0 = now();
    if (!rc && optind == argc && !re) {
        struct stat sb;
        x.bytes_total = fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) ? (long long)sb.st_size : -1;
        rc = index_file(&x, "-", source);
    }
    for (int i = optind; i < argc && !rc; i++) {
        int is_stdin = !strcmp(argv[i], "-");
        struct stat sb;
        x.bytes_done = 0;
        x.bytes_total = !is_stdin && stat(argv[i], &sb) == 0 ? (long long)sb.st_size : -1;
        FILE *f = is_stdin ? NULL : fopen(argv[i], "rb");
        if (f) { /* gzip: the size on disk says nothing of the lines */
            if (fgetc(f) == 0x1f && fgetc(f) == 0x8b) x.bytes_total = -1;
            fclose(f);
        }
        rc = index_file(&x, argv[i], source ? source : is_stdin ? NULL : argv[i]);
    }
    if (x.lines || !re) draw(&x, 1);
    if (!rc && (x.lines || !re)) {
        ss_store_stats st;
        long long total = ss_store_stats_get(x.store, &st) == SS_OK ? (long long)st.documents : -1;
        fprintf(stderr, "semsearch: %lld lines: %lld added, %lld already stored, %lld empty; %s has %lld documents\n",
                x.lines, x.added, x.dups, x.empty, db, total);
    }
    if (x.own) batch_clear(&x);
    if (x.json_st) sqlite3_finalize(x.json_st);
    if (x.json_db) sqlite3_close(x.json_db);
    free(x.docs);
    free(x.own);
    free(x.is_new);
    free(x.texts);
    free(x.lens);
    free(x.fresh);
    free(x.vecs);
    store_model_free(&x.sm);
    ss_store_close(x.store);
    return rc;
}
