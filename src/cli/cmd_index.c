/* cmd_index.c: `semsearch index`: documents from lines, TSV or JSONL into a
 * database, embedded in batches, each batch one transaction.
 *
 * Texts already stored are found before embedding (by content), so a re-run
 * after an interruption, even kill -9, skips what was committed at the cost
 * of a lookup per line, and embeds and commits only the rest. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"
#include "text/docinput.h"
#include "base/textio.h"

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
    "      --passage-tokens N a text longer than the model's window is split into\n"
    "                         passages of at most N tokens, each with its vector\n"
    "                         (a query finds the document by its best passage);\n"
    "                         default: the model's window\n"
    "      --passage-overlap N tokens consecutive passages share (default 16,\n"
    "                         or a quarter of --passage-tokens when less)\n"
    "      --no-passages      one vector per text, cut at the model's window (with\n"
    "                         a warning for each text cut)\n"
    "      --reembed          first re-embed every stored document with MODEL (or\n"
    "                         without -m the model the database records),\n"
    "                         replacing all vectors (one transaction)\n"
    "  -q, --quiet            no progress display\n"
    "  -t, --threads N        threads (default: SEMSEARCH_THREADS or all cores)\n"
    "  FILE                   input files ('-' or none: stdin; .gz is read as gzip)\n";

enum { IN_LINES = SS__DOCIN_LINES, IN_TSV = SS__DOCIN_TSV, IN_JSONL = SS__DOCIN_JSONL };

typedef struct indexer {
    ss_store *store;
    store_model sm;
    int format, text_col, id_col;
    const char *text_field, *id_field;
    ss__docin *din;          /* lines, TSV or JSONL into documents */
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
    float *unknown;
    cli_unknown unk;
    /* passages: a text longer than the window is split (or cut: split 0) */
    int split, window, ptokens, poverlap;
    ss_tokenizer *tok;
    ss_passage *pass;
    const char **ptexts;
    size_t *plens, npass, pcap;
    struct unit { size_t start, end; int tok; } *units;
    size_t ucap;
    long long *docline;     /* input line of each document of the batch */
    const char *docfile;
    long long cut, cut_shown, split_docs, passages;
    const char *source;
    /* counts and progress */
    long long lines, added, dups, empty;
    int progress;
    double t0, last_draw;
    long long bytes_done, bytes_total; /* for the bar: -1 when unknown */
} indexer;

/* Ctrl-C: whole batches are committed (each one transaction), so the
 * default action loses nothing but the batch in progress; the handler only
 * says so, and how to continue, then dies of the signal as before. The
 * message is prepared outside the handler (two buffers, the one to print
 * switched atomically), so the handler calls write() alone. */
static char int_msg[2][512];
static volatile sig_atomic_t int_cur = -1;

static void on_interrupt(int sig)
{
    int c = int_cur;
    if (c >= 0) {
        ssize_t w = write(STDERR_FILENO, int_msg[c], strlen(int_msg[c]));
        (void)w;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void interrupt_message(const char *fmt, long long n)
{
    int next = int_cur == 0 ? 1 : 0;
    snprintf(int_msg[next], sizeof int_msg[next], fmt, n, n == 1 ? "" : "s");
    int_cur = next;
}

#define INT_ADD_MSG                                                                                                \
    "\nsemsearch: index interrupted: the %lld document%s added by this run are stored (in whole batches); run the " \
    "same command again to add the rest (texts already stored are skipped)\n"
#define INT_REEMBED_MSG                                                                                            \
    "\nsemsearch: index --reembed interrupted after %lld vector%s: nothing was changed (one transaction); run it " \
    "again\n"

static void draw(indexer *x, int final)
{
    if (!x->progress) return;
    double t = cli_now();
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

/* Tokens of a text (without the special tokens), -1 on failure. */
static long count_tokens(indexer *x, const char *t, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (ss_tokenizer_encode(x->tok, t, len, &ids, &n) != SS_OK) return -1;
    ss_free(ids);
    return (long)n;
}

/* Appends the units of text[start, end) (one word, or pieces of a word that
 * alone exceeds the window: halves at character boundaries) to units. */
static int word_units(indexer *x, const char *t, size_t start, size_t end, size_t *nu)
{
    long n = count_tokens(x, t + start, end - start);
    if (n < 0) return cli_lib_error(SS_ERR);
    if (n > x->ptokens) {
        size_t mid = start + (end - start) / 2;
        while (mid > start && ((unsigned char)t[mid] & 0xc0) == 0x80) mid--;
        if (mid > start) {
            int rc = word_units(x, t, start, mid, nu);
            return rc ? rc : word_units(x, t, mid, end, nu);
        }
    }
    if (*nu == x->ucap) {
        size_t nc = x->ucap ? 2 * x->ucap : 256;
        struct unit *u = realloc(x->units, nc * sizeof *u);
        if (!u) return cli_error("out of memory");
        x->units = u;
        x->ucap = nc;
    }
    x->units[(*nu)++] = (struct unit){start, end, (int)(n < x->ptokens ? n : x->ptokens)};
    return 0;
}

static int add_passage(indexer *x, size_t doc, const char *text, size_t start, size_t len)
{
    if (x->npass == x->pcap) {
        size_t nc = x->pcap ? 2 * x->pcap : 1024;
        ss_passage *p = realloc(x->pass, nc * sizeof *p);
        const char **t = p ? realloc(x->ptexts, nc * sizeof *t) : NULL;
        if (t) x->ptexts = t;
        size_t *l = t ? realloc(x->plens, nc * sizeof *l) : NULL;
        if (l) x->plens = l;
        if (p) x->pass = p;
        if (!p || !t || !l) return cli_error("out of memory");
        x->pcap = nc;
    }
    x->pass[x->npass] = (ss_passage){doc, start, len};
    x->ptexts[x->npass] = text + start;
    x->plens[x->npass] = len;
    x->npass++;
    return 0;
}

/* The passages of document `doc` (index among the batch's new documents):
 * the whole text when it fits the window; else windows of whole words of
 * at most ptokens tokens, each starting poverlap tokens before the end of
 * the one before. With --no-passages the text is cut, with a warning. */
static int split_doc(indexer *x, size_t doc, const char *t, size_t len, long long line)
{
    long n = len > (size_t)x->ptokens ? count_tokens(x, t, len) : 0;
    if (n < 0) return cli_lib_error(SS_ERR);
    if (n <= x->ptokens) return add_passage(x, doc, t, 0, len);
    if (!x->split) {
        x->cut++;
        if (x->cut_shown < 3) {
            x->cut_shown++;
            fflush(stdout);
            if (x->progress) fputs("\r\033[K", stderr);
            fprintf(stderr, "semsearch: warning: %s:%lld: a text of %ld tokens is cut to the model's window of %d "
                            "(--no-passages)\n", x->docfile ? x->docfile : "-", line, n, x->window);
        }
        return add_passage(x, doc, t, 0, len);
    }
    size_t nu = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && strchr(" \t\n\r\v\f", t[i]) && t[i]) i++;
        size_t w = i;
        while (i < len && !(strchr(" \t\n\r\v\f", t[i]) && t[i])) i++;
        if (i > w) {
            int rc = word_units(x, t, w, i, &nu);
            if (rc) return rc;
        }
    }
    if (nu == 0) return add_passage(x, doc, t, 0, len);
    x->split_docs++;
    for (size_t i = 0; i < nu;) {
        size_t j = i;
        long sum = 0;
        while (j < nu && sum + x->units[j].tok <= x->ptokens) sum += x->units[j++].tok;
        if (j == i) j = i + 1;
        int rc = add_passage(x, doc, t, x->units[i].start, x->units[j - 1].end - x->units[i].start);
        if (rc) return rc;
        x->passages++;
        if (j >= nu) break;
        size_t k = j;
        long o = 0;
        while (k - 1 > i && o + x->units[k - 1].tok <= x->poverlap) o += x->units[--k].tok;
        i = k;
    }
    return 0;
}

/* Embeds the new documents of the batch and commits them. */
static int flush(indexer *x)
{
    if (!x->n) return 0;
    int rc = ss_store_filter_new(x->store, x->docs, x->n, x->is_new);
    if (rc) return cli_lib_error(rc);
    size_t nn = 0;
    x->npass = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->is_new[i]) continue;
        x->fresh[nn] = x->docs[i];
        if ((rc = split_doc(x, nn, x->docs[i].text, x->docs[i].len, x->docline[i]))) return rc;
        nn++;
    }
    size_t added = 0;
    if (nn) {
        float *vecs = realloc(x->vecs, x->npass * (size_t)ss_model_dim(x->sm.model) * sizeof *vecs);
        float *unk = vecs ? realloc(x->unknown, x->npass * sizeof *unk) : NULL;
        if (vecs) x->vecs = vecs;
        if (unk) x->unknown = unk;
        if (!vecs || !unk) return cli_error("out of memory");
        rc = ss_embed_ex(x->sm.model, x->ptexts, x->plens, x->npass, 0, x->vecs, x->unknown);
        if (!rc) cli_unknown_check(&x->unk, x->unknown, x->npass, "a document", 0);
        if (!rc) rc = ss_store_add_passages(x->store, x->fresh, nn, x->pass, x->vecs, x->npass, &added);
        if (rc) return cli_lib_error(rc);
    }
    x->added += (long long)added;
    x->dups += (long long)(x->n - added);
    interrupt_message(INT_ADD_MSG, x->added);
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
    /* NUL bytes are dropped, the rest kept (as normalization does for the
     * vector): a stored text is a C string, and "nul \u0000 char" must not
     * be cut to "nul " */
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i]) o[0][k++] = text[i];
    o[0][k] = '\0';
    len = k;
    if (id) {
        size_t j = 0;
        for (size_t i = 0; i < idlen; i++)
            if (id[i]) o[1][j++] = id[i];
        o[1][j] = '\0';
        if (!j) {
            free(o[1]);
            o[1] = NULL;
        }
    }
    if (strspn(o[0], " \t\r\v\f") == len) { /* nothing but NUL bytes and blanks: a blank line */
        free(o[0]);
        free(o[1]);
        free(o[2]);
        o[0] = o[1] = o[2] = NULL;
        x->empty++;
        return 0;
    }
    x->docs[x->n] = (ss_doc){o[0], len, o[1], x->source, o[2]};
    x->docline[x->n] = x->lines;
    x->n++;
    return x->n == x->batch ? flush(x) : 0;
}

static int index_file(indexer *x, const char *path, const char *source)
{
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return cli_lib_error(rc);
    x->bytes_done = 0;
    x->bytes_total = ss__lines_size(r); /* from the open input: never opened twice */
    /* every document of a batch shares the source: flush at a file change */
    if ((rc = flush(x))) {
        ss__lines_close(r);
        return rc;
    }
    x->source = source;
    x->docfile = ss__lines_name(r);
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        x->lines++;
        x->bytes_done += (long long)len + 1;
        ss__docin_doc d;
        rc = ss__docin_parse(x->din, line, len, ss__lines_name(r), ss__lines_lineno(r), &d);
        if (rc == 0) x->empty++;
        else if (rc == 1) rc = push(x, d.text, d.len, d.id, d.idlen, d.meta);
        else rc = cli_lib_error(rc); /* "file:line: ..." */
        /* a pipe with nothing more yet: commit what came, so that a slow
         * producer's lines become searchable as they arrive */
        if (!rc && !ss__lines_ready(r)) rc = flush(x);
        if (rc) break;
    }
    if (rc > 0) rc = cli_lib_error(rc); /* a read error: "file:line: ..." */
    if (!rc) rc = flush(x);
    ss__lines_close(r);
    return rc;
}

/* ss_store_reembed's callback: the model's embedding, with progress. */
static int reembed_fn(void *ctx, const char *const *texts, const size_t *lens, size_t n, float *out)
{
    indexer *x = ctx;
    int rc = ss_embed(x->sm.model, texts, lens, n, 0, out);
    x->lines += (long long)n;
    interrupt_message(INT_REEMBED_MSG, x->lines);
    if (x->progress && cli_now() - x->last_draw >= 0.2) {
        x->last_draw = cli_now();
        fprintf(stderr, "\rre-embedded %lld documents\033[K", x->lines);
    }
    return rc;
}

static int reembed(indexer *x, const char *model_path)
{
    ss_store_model old;
    int rc = ss_store_get_model(x->store, &old);
    /* without -m: the model the database records (its file may have been
     * retrained in place), never silently the shipped one */
    char *rec = NULL;
    if (!model_path) {
        if (rc || !old.path[0])
            return cli_error("index --reembed: the database records no model: give -m MODEL");
        if (access(old.path, R_OK) != 0)
            return cli_error("index --reembed: the model the database records, %s, is not readable (%s): give -m MODEL",
                             old.path, strerror(errno));
        if (!(rec = strdup(old.path))) return cli_error("out of memory");
    }
    int lrc = store_model_load(NULL, model_path ? model_path : rec, &x->sm);
    free(rec);
    if (lrc) return 1;
    rc = ss_store_get_model(x->store, &old);
    fprintf(stderr, "semsearch: re-embedding %s with %s (was %s)\n", "every document", x->sm.name,
            !rc && old.name[0] ? old.name : "none");
    rc = ss_store_reembed(x->store, &x->sm.info, reembed_fn, x, x->batch);
    interrupt_message(INT_ADD_MSG, 0);
    if (x->progress) fputc('\n', stderr);
    if (rc) return cli_lib_error(rc);
    ss_store_stats st;
    long long docs = ss_store_stats_get(x->store, &st) == SS_OK ? (long long)st.documents : x->lines;
    if (docs == x->lines)
        fprintf(stderr, "semsearch: re-embedded %lld document%s\n", docs, docs == 1 ? "" : "s");
    else /* long documents: a vector per passage */
        fprintf(stderr, "semsearch: re-embedded %lld document%s (%lld vectors: their passages)\n", docs,
                docs == 1 ? "" : "s", x->lines);
    x->lines = 0;
    return 0;
}

/* The model's window (its positions less [CLS] and [SEP]) and the passage
 * sizes; 1 (message printed) when --passage-tokens exceeds the window. */
static int set_window(indexer *x, long ptokens, long poverlap)
{
    ss_config cfg;
    ss_model_config(x->sm.model, &cfg);
    x->tok = ss_model_tokenizer(x->sm.model);
    x->window = cfg.max_len - (ss_tokenizer_bos_id(x->tok) >= 0) - (ss_tokenizer_eos_id(x->tok) >= 0);
    if (x->window < 1) x->window = 1;
    if (ptokens > x->window) {
        cli_error("index: --passage-tokens %ld is more than the model's window of %d tokens", ptokens, x->window);
        return 1;
    }
    x->ptokens = ptokens ? (int)ptokens : x->window;
    x->poverlap = poverlap >= 0 ? (int)poverlap : (x->ptokens / 4 < 16 ? x->ptokens / 4 : 16);
    return 0;
}

int cmd_index(int argc, char **argv);
int cmd_index(int argc, char **argv)
{
    enum { O_TEXTCOL = 256, O_IDCOL, O_TEXTFIELD, O_IDFIELD, O_REEMBED, O_PTOKENS, O_POVERLAP, O_NOPASS };
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"model", required_argument, 0, 'm'},
                                         {"source", required_argument, 0, 's'},
                                         {"text-column", required_argument, 0, O_TEXTCOL},
                                         {"id-column", required_argument, 0, O_IDCOL},
                                         {"text-field", required_argument, 0, O_TEXTFIELD},
                                         {"id-field", required_argument, 0, O_IDFIELD},
                                         {"batch", required_argument, 0, 'b'},
                                         {"reembed", no_argument, 0, O_REEMBED},
                                         {"passage-tokens", required_argument, 0, O_PTOKENS},
                                         {"passage-overlap", required_argument, 0, O_POVERLAP},
                                         {"no-passages", no_argument, 0, O_NOPASS},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = CLI_DEFAULT_DB, *model_path = NULL, *source = NULL;
    indexer x;
    memset(&x, 0, sizeof x);
    x.batch = 256;
    int c, quiet = 0, re = 0;
    long v, ptokens = 0, poverlap = -1;
    x.split = 1;
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
        case O_PTOKENS:
            if (cli_int("--passage-tokens", optarg, 1, 65536, &ptokens)) return 2;
            break;
        case O_POVERLAP:
            if (cli_int("--passage-overlap", optarg, 0, 65535, &poverlap)) return 2;
            break;
        case O_NOPASS: x.split = 0; break;
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
    if (ptokens && poverlap >= ptokens) {
        cli_error("index: --passage-overlap %ld must be less than --passage-tokens %ld", poverlap, ptokens);
        return 2;
    }
    if (!x.split && (ptokens || poverlap >= 0)) {
        cli_error("index: --no-passages with --passage-tokens or --passage-overlap");
        return 2;
    }
    x.format = x.text_field ? IN_JSONL : x.text_col ? IN_TSV : IN_LINES;
    if (optind == argc && !re && cli_stdin_is_tty()) return cli_usage(index_usage, 0);
    for (int i = optind; i < argc; i++) { /* every input readable before the database is made */
        struct stat sb;
        if (strcmp(argv[i], "-") != 0 && access(argv[i], R_OK) != 0)
            return cli_error("%s: %s", argv[i], strerror(errno));
        if (strcmp(argv[i], "-") != 0 && stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            return cli_error("%s: is a directory", argv[i]);
    }
    x.progress = !quiet && isatty(STDERR_FILENO);

    /* the model before the database when it does not depend on it (-m
     * given, or no database yet: the shipped one), so that a model that
     * fails to load or a bad --passage-tokens leaves no new empty database */
    struct stat dbst;
    int preload = !re && (model_path || stat(db, &dbst) != 0);
    if (preload && store_model_load(NULL, model_path, &x.sm)) return 1;
    if (preload && set_window(&x, ptokens, poverlap)) {
        store_model_free(&x.sm);
        return 2;
    }
    int rc = ss_store_open(db, SS_STORE_CREATE, &x.store);
    if (rc) {
        store_model_free(&x.sm);
        return cli_lib_error(rc);
    }
    x.docs = calloc(x.batch, sizeof *x.docs);
    x.own = calloc(3 * x.batch, sizeof *x.own);
    x.is_new = calloc(x.batch, 1);
    x.texts = calloc(x.batch, sizeof *x.texts);
    x.lens = calloc(x.batch, sizeof *x.lens);
    x.fresh = calloc(x.batch, sizeof *x.fresh);
    x.unknown = calloc(x.batch, sizeof *x.unknown);
    x.docline = calloc(x.batch, sizeof *x.docline);
    if (!x.docs || !x.own || !x.is_new || !x.texts || !x.lens || !x.fresh || !x.unknown || !x.docline)
        rc = cli_error("out of memory");
    x.t0 = x.last_draw = cli_now();
    /* a signal ignored by whoever started us (a background job) stays so */
    struct sigaction sa, old_int;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, NULL, &old_int);
    interrupt_message(re ? INT_REEMBED_MSG : INT_ADD_MSG, 0);
    if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
    if (!rc && re) rc = reembed(&x, model_path);
    else if (!rc && preload && (rc = ss_store_use_model(x.store, &x.sm.info))) rc = cli_lib_error(rc);
    else if (!rc && !preload) rc = store_model_load(x.store, model_path, &x.sm);
    if (!rc && !preload) rc = set_window(&x, ptokens, poverlap) ? 2 : 0;
    if (!rc && (rc = ss__docin_new(x.format, x.text_col, x.id_col, x.text_field, x.id_field, &x.din)))
        rc = cli_lib_error(rc);
    x.t0 = cli_now();
    if (!rc && optind == argc && !re) {
        char *name = store_source_name(source);
        if (!name && source) rc = 1;
        if (!rc) rc = index_file(&x, "-", name);
        free(name);
    }
    for (int i = optind; i < argc && !rc; i++) {
        int is_stdin = !strcmp(argv[i], "-");
        /* ./x and x: one source */
        char *name = store_source_name(source ? source : is_stdin ? NULL : argv[i]);
        if (!name && (source || !is_stdin)) rc = 1;
        if (!rc) rc = index_file(&x, argv[i], name);
        free(name);
    }
    sigaction(SIGINT, &old_int, NULL);
    if (x.lines || !re) draw(&x, 1);
    if (!rc && (x.lines || !re)) {
        ss_store_stats st;
        long long total = ss_store_stats_get(x.store, &st) == SS_OK ? (long long)st.documents : -1;
        fprintf(stderr, "semsearch: %lld line%s: %lld added, %lld already stored, %lld empty; %s has %lld document%s\n",
                x.lines, x.lines == 1 ? "" : "s", x.added, x.dups, x.empty, db, total, total == 1 ? "" : "s");
    }
    if (x.cut > x.cut_shown)
        fprintf(stderr, "semsearch: warning: %lld texts in all were cut to the model's window\n", x.cut);
    if (!rc && x.split_docs)
        fprintf(stderr, "semsearch: %lld long text%s split into %lld passages of at most %d tokens\n", x.split_docs,
                x.split_docs == 1 ? "" : "s", x.passages, x.ptokens);
    cli_unknown_summary(&x.unk, "documents");
    if (x.own) batch_clear(&x);
    free(x.unknown);
    free(x.docline);
    free(x.pass);
    free(x.ptexts);
    free(x.plens);
    free(x.units);
    ss__docin_free(x.din);
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
