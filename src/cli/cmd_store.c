/* cmd_store.c: `semsearch info` and `semsearch delete`, and the helpers the
 * store commands share (choosing and checking the model, output escaping). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"
#include "base/textio.h"

/* ------------------------------------------------------------------ model */

int store_model_load(ss_store *s, const char *path, store_model *out)
{
    memset(out, 0, sizeof *out);
    char *def = NULL;
    if (!path) {
        /* the recorded model while its file exists, else the shipped one:
         * the library's policy, which the SQLite extension follows too */
        ss_store_model rec;
        const char *recorded = s && ss_store_get_model(s, &rec) == SS_OK ? rec.path : NULL;
        char *lib = NULL;
        if (ss_store_model_path(recorded, &lib) != SS_OK)
            return cli_error("no -m given: %s: pass -m MODEL", ss_errmsg());
        def = strdup(lib);
        ss_free(lib);
        if (!def) return cli_error("out of memory");
        path = def;
    }
    int rc = ss_model_load(path, &out->model);
    if (rc) {
        free(def);
        return cli_lib_error(rc);
    }
    char abs[PATH_MAX];
    const char *slash = strrchr(path, '/');
    out->name = strdup(slash ? slash + 1 : path);
    out->path = strdup(realpath(path, abs) ? abs : path);
    free(def);
    if (!out->name || !out->path) {
        store_model_free(out);
        return cli_error("out of memory");
    }
    out->info.name = out->name;
    out->info.path = out->path;
    out->info.fingerprint = ss_model_fingerprint(out->model);
    out->info.dim = ss_model_dim(out->model);
    if (s && (rc = ss_store_use_model(s, &out->info))) {
        store_model_free(out);
        return cli_lib_error(rc);
    }
    return 0;
}

void store_model_free(store_model *m)
{
    ss_model_free(m->model);
    free(m->name);
    free(m->path);
    memset(m, 0, sizeof *m);
}

/* --------------------------------------------------------------- sources */

char *store_source_name(const char *name)
{
    if (!name) return NULL;
    char *o = malloc(strlen(name) + 1);
    if (!o) {
        cli_error("out of memory");
        return NULL;
    }
    const char *p = name;
    size_t k = 0;
    while (p[0] == '.' && p[1] == '/') { /* leading ./ (and .//) */
        p += 2;
        while (*p == '/') p++;
    }
    if (!*p) p = name; /* "./" alone: keep it */
    for (; *p; p++) {
        if (*p == '/' && k > 0 && o[k - 1] == '/') continue;         /* a//b */
        if (*p == '.' && k > 0 && o[k - 1] == '/' && p[1] == '/') { /* a/./b */
            p++;
            continue;
        }
        o[k++] = *p;
    }
    o[k] = 0;
    return o;
}

int store_source_check(ss_store *s, const char *cmd, const char *db, const char *name)
{
    ss_store_source *src = NULL;
    size_t n = 0;
    if (ss_store_sources(s, &src, &n) != SS_OK) return 0; /* the search will say what is wrong */
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) found = src[i].name && !strcmp(src[i].name, name);
    if (!found) {
        fflush(stdout);
        fprintf(stderr, "semsearch: %s: no source '%s' in %s", cmd, name, db);
        size_t shown = 0;
        for (size_t i = 0; i < n && shown < 5; i++) {
            if (!src[i].name) continue;
            fprintf(stderr, "%s'%s'", shown ? ", " : " (its sources: ", src[i].name);
            shown++;
        }
        size_t named = n && !src[n - 1].name ? n - 1 : n;
        if (named > shown) fprintf(stderr, " and %zu more; 'semsearch info --sources' lists them", named - shown);
        fputs(shown ? ")\n" : " (no document has a source)\n", stderr);
    }
    ss_free(src);
    return !found;
}

/* ---------------------------------------------------------------- output */

void store_tsv_field(const char *s, size_t len)
{
    /* on a terminal, a document's control characters are shown, not obeyed
     * (an ESC sequence in a text could recolour, retitle or clear it): C0,
     * DEL and the C1 controls (U+0080..U+009F) as \xHH / \u00HH; a pipe
     * gets the text as stored */
    static int tty = -1;
    if (tty < 0) tty = isatty(STDOUT_FILENO);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t' || c == '\n' || c == '\r') putchar(' ');
        else if (tty && (c < 0x20 || c == 0x7f)) printf("\\x%02x", c);
        else if (tty && c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            printf("\\u%04x", (unsigned char)s[++i]);
        else putchar(c);
    }
}

/* -------------------------------------------------------------------- ids */

char *store_id_text(const ss_store_doc *d)
{
    char *t;
    if (!d->id) {
        t = malloc(24);
        if (t) snprintf(t, 24, "#%lld", (long long)d->doc);
        return t;
    }
    size_t n = strlen(d->id), hash = d->id[0] == '#';
    if (!(t = malloc(n + hash + 1))) return NULL;
    t[0] = '#';
    memcpy(t + hash, d->id, n + 1);
    return t;
}

int store_id_parse(const char *arg, int64_t *doc, const char **ext)
{
    *doc = 0;
    *ext = NULL;
    if (arg[0] != '#') {
        *ext = arg;
        return 0;
    }
    if (arg[1] == '#') {
        *ext = arg + 1;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(arg + 1, &end, 10);
    if (errno || end == arg + 1 || *end || v <= 0) return -1;
    *doc = v;
    return 0;
}

/* ------------------------------------------------------------------ info */

static const char info_usage[] =
    "usage: semsearch info [-d DB] [--json] [--sources]\n"
    "\n"
    "Describes a database: documents, sources, the model its vectors come\n"
    "from, vector blocks and sizes. One 'key<TAB>value' line each (or --json).\n"
    "\n"
    "  -d, --db PATH   database (default " CLI_DEFAULT_DB ")\n"
    "  -j, --json      one JSON object\n"
    "  -s, --sources   the sources instead: 'source<TAB>documents' a line, by\n"
    "                  name (documents without a source: an empty name, last)\n";

static int print_sources(ss_store *s, int json)
{
    ss_store_source *src;
    size_t n;
    int rc = ss_store_sources(s, &src, &n);
    if (rc) return cli_lib_error(rc);
    if (json) putchar('[');
    for (size_t i = 0; i < n; i++) {
        const char *name = src[i].name;
        if (json) {
            printf("%s{\"source\":", i ? "," : "");
            if (name) cli_json_string(name, strlen(name));
            else fputs("null", stdout);
            printf(",\"documents\":%lld}", (long long)src[i].documents);
        } else {
            if (name) store_tsv_field(name, strlen(name));
            printf("\t%lld\n", (long long)src[i].documents);
        }
    }
    if (json) puts("]");
    ss_free(src);
    return 0;
}

int cmd_info(int argc, char **argv);
int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
        {"sources", no_argument, 0, 's'}, {0, 0, 0, 0}};
    const char *db = CLI_DEFAULT_DB;
    int json = 0, c, sources = 0;
    while ((c = getopt_long(argc, argv, "d:jsh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 's': sources = 1; break;
        case 'j': json = 1; break;
        case 'h': return cli_usage(info_usage, 0);
        default: return cli_usage(info_usage, 1);
        }
    }
    if (optind < argc) {
        cli_error("info: unexpected argument '%s'", argv[optind]);
        return cli_usage(info_usage, 1);
    }
    if (argc == 1 && access(db, F_OK) != 0) return cli_usage(info_usage, 0); /* bare, nothing here */
    ss_store *s;
    int rc = ss_store_open(db, SS_STORE_READONLY, &s);
    if (rc) return cli_lib_error(rc);
    if (sources) {
        rc = print_sources(s, json);
        ss_store_close(s);
        return rc;
    }
    ss_store_stats st;
    ss_store_model m;
    rc = ss_store_stats_get(s, &st);
    if (!rc) rc = ss_store_get_model(s, &m);
    if (rc) {
        rc = cli_lib_error(rc);
        ss_store_close(s);
        return rc;
    }
    const char *keys[] = {"database", "model", "model_fingerprint", "model_path"};
    const char *vals[] = {db, m.name, m.fingerprint, m.path};
    const char *nkeys[] = {"schema_version", "documents", "passages", "sources", "dim", "blocks", "block_size",
                           "free_slots", "vector_bytes", "file_bytes"};
    int64_t nvals[] = {st.schema_version, st.documents, st.passages, st.sources, st.dim, st.blocks, st.block_size,
                       st.free_slots, st.vector_bytes, st.file_bytes};
    if (json) putchar('{');
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (json) {
            printf("%s\"%s\":", i ? "," : "", keys[i]);
            cli_json_string(vals[i], strlen(vals[i]));
        } else {
            printf("%s\t", keys[i]);
            store_tsv_field(vals[i], strlen(vals[i]));
            putchar('\n');
        }
    }
    for (size_t i = 0; i < sizeof nkeys / sizeof *nkeys; i++)
        printf(json ? ",\"%s\":%lld" : "%s\t%lld\n", nkeys[i], (long long)nvals[i]);
    printf(json ? ",\"fts\":%s" : "fts\t%s\n", st.has_fts ? (json ? "true" : "yes") : (json ? "false" : "no"));
    if (st.has_fts) printf(json ? ",\"fts_tokenizer\":\"%s\"" : "fts_tokenizer\t%s\n", cli_fts_tokenizer(st.fts_stem));
    if (json) printf("}\n");
    ss_store_close(s);
    return 0;
}

/* ---------------------------------------------------------------- delete */

static const char delete_usage[] =
    "usage: semsearch delete [-d DB] (--id ID | --source NAME)...\n"
    "\n"
    "Deletes documents and their vectors: by id (the id `semsearch query`\n"
    "prints: the external id, or #N, the number of a document without one; an\n"
    "external id starting with '#' is written with one more '#') or every\n"
    "document of a source. Prints how many were deleted; unknown ids are\n"
    "reported but are not an error.\n"
    "\n"
    "  -d, --db PATH        database (default " CLI_DEFAULT_DB ")\n"
    "  -i, --id ID          a document id (repeatable; '-' reads ids from stdin, one a line)\n"
    "  -s, --source NAME    every document of this source (repeatable)\n";

static const char *db_name; /* for messages */

static int delete_one(ss_store *s, const char *id, int is_source, size_t *total)
{
    size_t n = 0;
    int64_t doc = 0;
    const char *ext = id;
    if (!is_source && store_id_parse(id, &doc, &ext))
        return cli_error("delete: --id '%s': '#' and a document number expected (as query prints it)", id);
    char *src = is_source ? store_source_name(id) : NULL;
    if (is_source && !src) return 1;
    int rc = is_source ? ss_store_delete_source(s, src, &n) : ext ? ss_store_delete(s, ext, &n)
                                                                  : ss_store_delete_doc(s, doc, &n);
    free(src);
    if (rc) return cli_lib_error(rc);
    if (!n && !is_source && ext) {
        /* the old habit: a bare number for a document without an external id */
        char *e;
        long long v = strtoll(ext, &e, 10);
        ss_store_doc d;
        if (*ext && !*e && v > 0 && ss_store_get(s, v, &d) == SS_OK) {
            fprintf(stderr, "semsearch: delete: no document with id '%s' (document number %lld is written #%lld)\n",
                    id, v, v);
            ss_store_doc_clear(&d);
            return 0;
        }
    }
    if (!n && is_source) { /* which sources there are */
        src = store_source_name(id);
        if (src && !store_source_check(s, "delete", db_name, src)) fprintf(stderr, "semsearch: delete: no document with source '%s'\n", id);
        free(src);
    } else if (!n) fprintf(stderr, "semsearch: delete: no document with id '%s'\n", id);
    *total += n;
    return 0;
}

int cmd_delete(int argc, char **argv);
int cmd_delete(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"id", required_argument, 0, 'i'},
                                         {"source", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = CLI_DEFAULT_DB;
    int c, nwhat = 0;
    while ((c = getopt_long(argc, argv, "d:i:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'i':
        case 's': nwhat++; break;
        case 'h': return cli_usage(delete_usage, 0);
        default: return cli_usage(delete_usage, 1);
        }
    }
    if (optind < argc) {
        cli_error("delete: unexpected argument '%s'", argv[optind]);
        return cli_usage(delete_usage, 1);
    }
    if (!nwhat) {
        if (argc == 1) return cli_usage(delete_usage, 0);
        cli_error("delete: no --id or --source given");
        return cli_usage(delete_usage, 1);
    }
    ss_store *s;
    int rc = ss_store_open(db, 0, &s);
    if (rc) return cli_lib_error(rc);
    db_name = db;
    size_t total = 0;
    optind = 0; /* second pass, in the order given */
    while (!rc && (c = getopt_long(argc, argv, "d:i:s:h", opts, NULL)) != -1) {
        if (c == 's') rc = delete_one(s, optarg, 1, &total);
        else if (c == 'i' && strcmp(optarg, "-") != 0) rc = delete_one(s, optarg, 0, &total);
        else if (c == 'i') { /* ids from stdin, one a line (the line reader: bounded lines) */
            ss__lines *r;
            const char *line;
            size_t n;
            if ((rc = ss__lines_open("-", &r))) {
                rc = cli_lib_error(rc);
                break;
            }
            while (!rc && (rc = ss__lines_next(r, &line, &n)) == SS__LINE) {
                rc = 0;
                char *id = n ? strndup(line, n) : NULL;
                if (n && !id) rc = cli_error("out of memory");
                else if (n) rc = delete_one(s, id, 0, &total);
                free(id);
            }
            if (rc > 0) rc = cli_lib_error(rc);
            ss__lines_close(r);
        }
    }
    ss_store_close(s);
    if (!rc) fprintf(stderr, "semsearch: deleted %zu document%s from %s\n", total, total == 1 ? "" : "s", db);
    return rc;
}
