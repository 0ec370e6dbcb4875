/* cmd_index.c: `semsearch index`: documents from lines, TSV or JSONL into a
 * database, embedded in batches, each batch one transaction. The pipeline
 * is the library's (ss_indexer); the command parses the options, chooses
 * the model, and draws the progress and the messages. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"

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
    "      --shard I/N        add only shard I (0 to N-1) of the input: the texts\n"
    "                         whose hash modulo N is I, so that N runs make N\n"
    "                         disjoint databases that `query -d ... -d ...`\n"
    "                         searches as one. Under `mpirun -np N` the default\n"
    "                         is the process's rank of N. %r in DB becomes I\n"
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
    "      --no-stem          a new database's full-text index (BM25, query --hybrid)\n"
    "                         keeps words as written, for text not in English\n"
    "                         (default: English stemming, so 'runs' finds 'running')\n"
    "  -q, --quiet            no progress display\n"
    "  -t, --threads N        threads (default: SEMSEARCH_THREADS or all cores)\n"
    "  FILE                   input files ('-' or none: stdin; .gz is read as gzip)\n";

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

/* The command's side of a run: the library's indexer, and what the
 * progress display and the messages need. */
typedef struct indexer {
    ss_store *store;
    store_model sm;
    ss_index_options o;
    ss_indexer *ix;
    cli_unknown unk;
    long long lines;          /* --reembed: vectors so far */
    long long cut_shown;
    int progress;
    double t0, last_draw;
} indexer;

static void draw(indexer *x, const ss_index_stats *st, int final)
{
    if (!x->progress) return;
    double t = cli_now();
    if (!final && t - x->last_draw < 0.2) return;
    x->last_draw = t;
    double rate = st->lines / (t - x->t0 > 1e-9 ? t - x->t0 : 1e-9);
    if (st->bytes_total > 0) {
        int w = 24, fill = (int)(w * (double)st->bytes_done / (double)st->bytes_total);
        if (fill > w) fill = w;
        fprintf(stderr, "\r[%.*s%*s] %3d%% ", fill, "########################", w - fill, "",
                (int)(100.0 * (double)st->bytes_done / (double)st->bytes_total));
    } else {
        fputc('\r', stderr);
    }
    fprintf(stderr, "%lld lines, %lld added, %lld already stored, ", st->lines, st->added, st->dups);
    if (x->o.nshards > 1) fprintf(stderr, "%lld for other shards, ", st->other_shard);
    fprintf(stderr, "%.0f lines/s\033[K", rate);
    if (final) fputc('\n', stderr);
}

/* ss_indexer's callbacks: after each committed batch (Ctrl-C's message,
 * the progress), a text cut to the window (the first three told), the
 * unknown-vocabulary share of each embedded text. */
static void on_batch(void *ctx, const ss_index_stats *st)
{
    indexer *x = ctx;
    interrupt_message(INT_ADD_MSG, st->added);
    draw(x, st, 0);
}

static void on_cut(void *ctx, const char *file, long long line, long tokens, int window)
{
    indexer *x = ctx;
    if (x->cut_shown >= 3) return;
    x->cut_shown++;
    fflush(stdout);
    if (x->progress) fputs("\r\033[K", stderr);
    fprintf(stderr, "semsearch: warning: %s:%lld: a text of %ld tokens is cut to the model's window of %d "
                    "(--no-passages)\n", file, line, tokens, window);
}

static void on_unknown(void *ctx, const float *share, size_t n)
{
    indexer *x = ctx;
    cli_unknown_check(&x->unk, share, n, "a document", 0);
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
    rc = ss_store_reembed(x->store, &x->sm.info, reembed_fn, x, x->o.batch);
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

/* The passage sizes against the model's window; 1 (message printed) when
 * --passage-tokens exceeds it. */
static int check_window(indexer *x)
{
    int window = ss_model_window(x->sm.model);
    if (x->o.passage_tokens > window) {
        cli_error("index: --passage-tokens %d is more than the model's window of %d tokens", x->o.passage_tokens,
                  window);
        return 1;
    }
    return 0;
}

/* The options that exclude each other; 1 (message printed) when some do. */
static int check_options(const ss_index_options *o, long ptokens, long poverlap)
{
    if ((o->text_column || o->id_column) && (o->text_field || o->id_field)) {
        cli_error("index: TSV columns and JSONL fields cannot be mixed");
        return 1;
    }
    if (o->id_column && !o->text_column) {
        cli_error("index: --id-column needs --text-column");
        return 1;
    }
    if (o->id_field && !o->text_field) {
        cli_error("index: --id-field needs --text-field");
        return 1;
    }
    if (ptokens && poverlap >= ptokens) {
        cli_error("index: --passage-overlap %ld must be less than --passage-tokens %ld", poverlap, ptokens);
        return 1;
    }
    if (!o->split && (ptokens || poverlap >= 0)) {
        cli_error("index: --no-passages with --passage-tokens or --passage-overlap");
        return 1;
    }
    return 0;
}

/* The summary on stderr: lines, added, already stored, empty; texts cut
 * or split. */
static void report(indexer *x, int rc, int re, const char *db)
{
    ss_index_stats st;
    ss_indexer_stats(x->ix, &st);
    st.lines += x->lines; /* without an indexer (it failed to open): none */
    if (st.lines || !re) draw(x, &st, 1);
    if (!rc && (st.lines || !re)) {
        ss_store_stats ss;
        long long total = ss_store_stats_get(x->store, &ss) == SS_OK ? (long long)ss.documents : -1;
        char shard[96] = "";
        if (x->o.nshards > 1)
            snprintf(shard, sizeof shard, ", %lld for other shards (this is shard %d/%d)", st.other_shard, x->o.shard,
                     x->o.nshards);
        fprintf(stderr, "semsearch: %lld line%s: %lld added, %lld already stored, %lld empty%s; %s has %lld document%s\n",
                st.lines, st.lines == 1 ? "" : "s", st.added, st.dups, st.empty, shard, db, total,
                total == 1 ? "" : "s");
    }
    if (st.cut > x->cut_shown)
        fprintf(stderr, "semsearch: warning: %lld texts in all were cut to the model's window\n", st.cut);
    if (!rc && st.split_docs)
        fprintf(stderr, "semsearch: %lld long text%s split into %lld passages of at most %d tokens\n", st.split_docs,
                st.split_docs == 1 ? "" : "s", st.passages, st.passage_tokens);
}

/* The inputs, each file its own source (unless --source), stdin without
 * any (unless --reembed alone). */
static int index_inputs(indexer *x, char **files, int n, const char *source, int re)
{
    int rc = 0;
    if (n == 0 && !re) {
        char *name = store_source_name(source);
        if (!name && source) rc = 1;
        if (!rc && (rc = ss_indexer_add_file(x->ix, "-", name))) rc = cli_lib_error(rc);
        free(name);
    }
    for (int i = 0; i < n && !rc; i++) {
        int is_stdin = !strcmp(files[i], "-");
        /* ./x and x: one source */
        char *name = store_source_name(source ? source : is_stdin ? NULL : files[i]);
        if (!name && (source || !is_stdin)) rc = 1;
        if (!rc && (rc = ss_indexer_add_file(x->ix, files[i], name))) rc = cli_lib_error(rc);
        free(name);
    }
    return rc;
}

/* DB with "%r" replaced by the shard number; each of several shards needs
 * its own database, so a sharded run's DB must say where its shard goes. */
static int shard_db_name(const char *db, int shard, int nshards, char *out, size_t cap)
{
    const char *p = strstr(db, "%r");
    int n = p ? snprintf(out, cap, "%.*s%d%s", (int)(p - db), db, shard, p + 2) : snprintf(out, cap, "%s", db);
    if (n < 0 || (size_t)n >= cap) return cli_error("-d: path too long") ? 2 : 2;
    if (p && strstr(p + 2, "%r")) return cli_error("-d: '%s' has %%r twice", db) ? 2 : 2;
    int rank, size;
    if (!p && nshards > 1 && cli_mpi_rank(&rank, &size) && size > 1)
        return cli_error("under mpirun each of the %d processes writes its own shard: put %%r (the rank) in -d, "
                         "e.g. -d shard%%r.db", size) ? 2 : 2;
    return 0;
}

int cmd_index(int argc, char **argv);
int cmd_index(int argc, char **argv)
{
    enum { O_TEXTCOL = 256, O_IDCOL, O_TEXTFIELD, O_IDFIELD, O_REEMBED, O_PTOKENS, O_POVERLAP, O_NOPASS, O_SHARD, O_NOSTEM };
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
                                         {"shard", required_argument, 0, O_SHARD},
                                         {"no-stem", no_argument, 0, O_NOSTEM},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = CLI_DEFAULT_DB, *model_path = NULL, *source = NULL;
    indexer x;
    memset(&x, 0, sizeof x);
    ss_index_options_init(&x.o);
    int c, quiet = 0, re = 0, shard_given = 0, no_stem = 0;
    long v, ptokens = 0, poverlap = -1;
    while ((c = getopt_long(argc, argv, "d:m:s:b:qt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'm': model_path = optarg; break;
        case 's': source = optarg; break;
        case O_TEXTCOL:
            if (cli_int("--text-column", optarg, 1, 100000, &v)) return 2;
            x.o.text_column = (int)v;
            break;
        case O_IDCOL:
            if (cli_int("--id-column", optarg, 1, 100000, &v)) return 2;
            x.o.id_column = (int)v;
            break;
        case O_TEXTFIELD: x.o.text_field = optarg; break;
        case O_IDFIELD: x.o.id_field = optarg; break;
        case 'b':
            if (cli_int("--batch", optarg, 1, 65536, &v)) return 2;
            x.o.batch = (size_t)v;
            break;
        case O_REEMBED: re = 1; break;
        case O_PTOKENS:
            if (cli_int("--passage-tokens", optarg, 1, 65536, &ptokens)) return 2;
            break;
        case O_POVERLAP:
            if (cli_int("--passage-overlap", optarg, 0, 65535, &poverlap)) return 2;
            break;
        case O_NOPASS: x.o.split = 0; break;
        case O_SHARD: {
            char *end;
            long i = strtol(optarg, &end, 10), n = *end == '/' ? strtol(end + 1, &end, 10) : -1;
            if (*end || !strchr(optarg, '/') || n < 1 || n > 65536 || i < 0 || i >= n)
                return cli_error("--shard: '%s' is not I/N with 0 <= I < N", optarg) ? 2 : 2;
            x.o.shard = (int)i;
            x.o.nshards = (int)n;
            shard_given = 1;
            break;
        }
        case O_NOSTEM: no_stem = 1; break;
        case 'q': quiet = 1; break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &v)) return 2;
            ss_set_threads((int)v);
            break;
        case 'h': return cli_usage(index_usage, 0);
        default: return cli_usage(index_usage, 1);
        }
    }
    if (check_options(&x.o, ptokens, poverlap)) return 2;
    /* under mpirun: this process's shard, unless told */
    int rank, size;
    if (!shard_given && cli_mpi_rank(&rank, &size) && size > 1) {
        x.o.shard = rank;
        x.o.nshards = size;
    }
    char dbname[4096];
    if (shard_db_name(db, x.o.shard, x.o.nshards, dbname, sizeof dbname)) return 2;
    db = dbname;
    if (re && x.o.nshards > 1) return cli_error("--reembed works on a whole database, not a shard") ? 2 : 2;
    x.o.format = x.o.text_field ? SS_INDEX_JSONL : x.o.text_column ? SS_INDEX_TSV : SS_INDEX_LINES;
    x.o.passage_tokens = (int)ptokens;
    x.o.passage_overlap = (int)poverlap;
    x.o.on_batch = on_batch;
    x.o.on_cut = on_cut;
    x.o.on_unknown = on_unknown;
    x.o.ctx = &x;
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
    if (preload && check_window(&x)) {
        store_model_free(&x.sm);
        return 2;
    }
    int rc = ss_store_open(db, SS_STORE_CREATE | (no_stem ? SS_STORE_NO_STEM : 0), &x.store);
    if (rc) {
        store_model_free(&x.sm);
        return cli_lib_error(rc);
    }
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
    if (!rc && !preload) rc = check_window(&x) ? 2 : 0;
    if (!rc && (rc = ss_indexer_open(x.store, x.sm.model, &x.o, &x.ix))) rc = cli_lib_error(rc);
    x.t0 = cli_now();
    if (!rc) rc = index_inputs(&x, argv + optind, argc - optind, source, re);
    sigaction(SIGINT, &old_int, NULL);
    report(&x, rc, re, db);
    cli_unknown_summary(&x.unk, "documents");
    ss_indexer_free(x.ix);
    store_model_free(&x.sm);
    ss_store_close(x.store);
    return rc;
}
