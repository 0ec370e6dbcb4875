/* sqlite_ext.c: semsearch as a SQLite loadable extension (semsearch.so).
 *
 *   .load semsearch                      -- or select load_extension('semsearch')
 *   select semsearch_model('en-base.gguf');          -- optional, see below
 *   select * from semsearch_search('a dog on a beach', 5);
 *   select semsearch_cosine(semsearch_embed('a'), semsearch_embed('b'));
 *
 * The model: the one given to semsearch_model(PATH) on this connection, else
 * the model file the database records (ss_store_get_model; written by
 * `semsearch index`), else (that file gone) the shipped model
 * (ss_store_model_path: the one policy, shared with the command), loaded at
 * first use or by semsearch_model(). semsearch_search checks that the
 * model is the one the database was indexed with.
 *
 * semsearch_search reads the vectors through its own read-only connection to
 * the same file (the library's store), so it sees what is committed, not
 * changes pending in a transaction of the calling connection. This works when
 * the host and the extension use the same SQLite library (Debian's sqlite3
 * shell and Python do). Host calls go through sqlite3_api, as an extension's
 * must. */
#include "config.h"

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "semsearch.h"

typedef struct ext {
    sqlite3 *db;
    ss_model *model;
    char *model_path;
    ss_store *store;
} ext;

static void ext_free(void *p)
{
    ext *x = p;
    if (!x) return;
    ss_model_free(x->model);
    ss_store_close(x->store);
    sqlite3_free(x->model_path);
    sqlite3_free(x);
}

static int load_model(ext *x, const char *path, char **err)
{
    ss_model *m;
    int rc = ss_model_load(path, &m);
    if (rc) {
        *err = sqlite3_mprintf("semsearch: %s", ss_errmsg());
        return SQLITE_ERROR;
    }
    char *p = sqlite3_mprintf("%s", path);
    if (!p) {
        ss_model_free(m);
        return SQLITE_NOMEM;
    }
    ss_model_free(x->model);
    sqlite3_free(x->model_path);
    x->model = m;
    x->model_path = p;
    return SQLITE_OK;
}

/* The library's read-only store on the main database file (opened once):
 * what is committed, through the library, never raw SQL on the host's
 * connection. */
static int open_store(ext *x, const char **why)
{
    if (x->store) return SS_OK;
    const char *file = sqlite3_db_filename(x->db, "main");
    if (!file || !*file) {
        *why = "the main database is not a file";
        return SS_ERR_ARG;
    }
    int rc = ss_store_open(file, SS_STORE_READONLY, &x->store);
    if (rc) *why = ss_errmsg();
    return rc;
}

/* The connection's model: set by semsearch_model(), else the database's. */
static int get_model(ext *x, char **err)
{
    if (x->model) return SQLITE_OK;
    const char *why;
    ss_store_model rec;
    const char *path = open_store(x, &why) == SS_OK && ss_store_get_model(x->store, &rec) == SS_OK ? rec.path : NULL;
    /* the recorded file, or when it is gone (moved, another machine) or the
     * database records none the shipped model: the command's policy, one
     * library call; semsearch_search still checks the fingerprint */
    char *use = NULL;
    int src = ss_store_model_path(path, &use);
    if (src) {
        *err = sqlite3_mprintf("semsearch: no model: %s; call semsearch_model('PATH') first", ss_errmsg());
        return *err ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    int rc = load_model(x, use, err);
    ss_free(use);
    return rc;
}

static void fail(sqlite3_context *ctx, int rc, char *err)
{
    if (err) {
        sqlite3_result_error(ctx, err, -1);
        sqlite3_free(err);
    } else if (rc == SQLITE_NOMEM) {
        sqlite3_result_error_nomem(ctx);
    } else {
        sqlite3_result_error(ctx, "semsearch: error", -1);
    }
}

/* semsearch_model(PATH): loads a model for this connection; returns its
 * fingerprint. semsearch_model(): the path of the model in use (loaded now
 * if not yet: the one the database records, else the shipped one). */
static void fn_model(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    ext *x = sqlite3_user_data(ctx);
    if (argc == 0) {
        char *err = NULL;
        int rc = get_model(x, &err);
        if (rc) return fail(ctx, rc, err);
        sqlite3_result_text(ctx, x->model_path, -1, SQLITE_TRANSIENT);
        return;
    }
    const char *path = (const char *)sqlite3_value_text(argv[0]);
    if (!path) {
        sqlite3_result_error(ctx, "semsearch_model: NULL path", -1);
        return;
    }
    char *err = NULL;
    int rc = load_model(x, path, &err);
    if (rc) return fail(ctx, rc, err);
    sqlite3_result_text(ctx, ss_model_fingerprint(x->model), -1, SQLITE_TRANSIENT);
}

/* semsearch_embed(TEXT): the L2-normalized vector, a BLOB of float32. */
static void fn_embed(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    ext *x = sqlite3_user_data(ctx);
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    char *err = NULL;
    int rc = get_model(x, &err);
    if (rc) return fail(ctx, rc, err);
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    size_t len = (size_t)sqlite3_value_bytes(argv[0]);
    int dim = ss_model_dim(x->model);
    float *v = sqlite3_malloc64((sqlite3_uint64)dim * sizeof *v);
    if (!v) return sqlite3_result_error_nomem(ctx);
    const char *texts[1] = {t ? t : ""};
    if (ss_embed(x->model, texts, &len, 1, 0, v) != SS_OK) {
        sqlite3_free(v);
        err = sqlite3_mprintf("semsearch_embed: %s", ss_errmsg());
        return fail(ctx, SQLITE_ERROR, err);
    }
    sqlite3_result_blob(ctx, v, dim * (int)sizeof *v, sqlite3_free);
}

/* semsearch_cosine(A, B): cosine similarity of two float32 BLOBs. */
static void fn_cosine(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const float *a = sqlite3_value_blob(argv[0]);
    int na = sqlite3_value_bytes(argv[0]);
    const float *b = sqlite3_value_blob(argv[1]);
    int nb = sqlite3_value_bytes(argv[1]);
    if (na != nb || na == 0 || na % 4) {
        sqlite3_result_error(ctx, "semsearch_cosine: two float32 vectors of the same length are needed", -1);
        return;
    }
    double dot = 0, aa = 0, bb = 0;
    for (int i = 0; i < na / 4; i++) {
        float u, w; /* BLOBs may be unaligned */
        memcpy(&u, (const char *)a + 4 * i, 4);
        memcpy(&w, (const char *)b + 4 * i, 4);
        dot += (double)u * w;
        aa += (double)u * u;
        bb += (double)w * w;
    }
    if (!(aa > 0 && bb > 0) || !isfinite(dot)) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_double(ctx, dot / sqrt(aa * bb));
}

/* ------------------------------------------------ semsearch_search(query, k) */

enum { COL_RANK, COL_SCORE, COL_DOC, COL_ID, COL_TEXT, COL_SOURCE, COL_QUERY, COL_K };

typedef struct vtab {
    sqlite3_vtab base;
    ext *x;
} vtab;

typedef struct cursor {
    sqlite3_vtab_cursor base;
    int n, i;
    ss_hit *hits;
    ss_store_doc *docs;
} cursor;

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)argc;
    (void)argv;
    (void)err;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(rank INTEGER, score REAL, doc INTEGER, id TEXT, text TEXT, "
                                      "source TEXT, query HIDDEN, k HIDDEN)");
    if (rc) return rc;
    vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->x = aux;
    *out = &v->base;
    return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int vt_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    int qi = -1, ki = -1;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        if (c->iColumn == COL_QUERY) {
            if (!c->usable) return SQLITE_CONSTRAINT;
            qi = i;
        } else if (c->iColumn == COL_K) {
            if (!c->usable) return SQLITE_CONSTRAINT;
            ki = i;
        }
    }
    if (qi < 0) {
        /* without a query there is nothing to search: refuse this plan */
        info->estimatedCost = 1e30;
        return SQLITE_CONSTRAINT;
    }
    info->aConstraintUsage[qi].argvIndex = 1;
    info->aConstraintUsage[qi].omit = 1;
    if (ki >= 0) {
        info->aConstraintUsage[ki].argvIndex = 2;
        info->aConstraintUsage[ki].omit = 1;
    }
    info->idxNum = ki >= 0;
    info->estimatedCost = 1000;
    if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_RANK && !info->aOrderBy[0].desc)
        info->orderByConsumed = 1; /* rows come out by rank */
    return SQLITE_OK;
}

static int vt_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_clear(cursor *c)
{
    for (int i = 0; i < c->n; i++) ss_store_doc_clear(&c->docs[i]);
    sqlite3_free(c->docs);
    sqlite3_free(c->hits);
    c->docs = NULL;
    c->hits = NULL;
    c->n = c->i = 0;
}

static int vt_close(sqlite3_vtab_cursor *cur)
{
    cursor_clear((cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int vt_error(sqlite3_vtab_cursor *cur, const char *what)
{
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf("semsearch_search: %s", what);
    return SQLITE_ERROR;
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv)
{
    (void)idxStr;
    cursor *c = (cursor *)cur;
    ext *x = ((vtab *)cur->pVtab)->x;
    cursor_clear(c);
    if (argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) return SQLITE_OK; /* no query: no rows */
    sqlite3_int64 k = idxNum && argc >= 2 ? sqlite3_value_int64(argv[1]) : 10;
    if (k <= 0 || k > 100000) return vt_error(cur, "k must be in [1, 100000]");
    const char *why;
    if (open_store(x, &why) != SS_OK) return vt_error(cur, why);
    ss_store_model sm;
    if (ss_store_get_model(x->store, &sm) != SS_OK) return vt_error(cur, ss_errmsg());
    float *q = NULL;
    int dim = 0;
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) { /* a vector given directly */
        dim = sqlite3_value_bytes(argv[0]) / 4;
        if (sqlite3_value_bytes(argv[0]) % 4 || dim != sm.dim)
            return vt_error(cur, "a query vector must be a float32 BLOB of the database's dimension");
        if (!(q = sqlite3_malloc64((sqlite3_uint64)dim * 4))) return SQLITE_NOMEM;
        memcpy(q, sqlite3_value_blob(argv[0]), (size_t)dim * 4);
    } else {
        char *err = NULL;
        int rc = get_model(x, &err);
        if (rc) {
            int e = vt_error(cur, err ? err : "no model");
            sqlite3_free(err);
            return e;
        }
        ss_store_model mine = {"", ss_model_fingerprint(x->model), x->model_path, ss_model_dim(x->model)};
        const char *slash = strrchr(x->model_path, '/');
        mine.name = slash ? slash + 1 : x->model_path;
        if (ss_store_use_model(x->store, &mine) != SS_OK) return vt_error(cur, ss_errmsg());
        dim = mine.dim;
        const char *t = (const char *)sqlite3_value_text(argv[0]);
        size_t len = (size_t)sqlite3_value_bytes(argv[0]);
        const char *texts[1] = {t ? t : ""};
        if (!(q = sqlite3_malloc64((sqlite3_uint64)dim * 4))) return SQLITE_NOMEM;
        if (ss_embed(x->model, texts, &len, 1, 0, q) != SS_OK) {
            sqlite3_free(q);
            return vt_error(cur, ss_errmsg());
        }
    }
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = (int)k;
    c->hits = sqlite3_malloc64((sqlite3_uint64)k * sizeof *c->hits);
    if (!c->hits) {
        sqlite3_free(q);
        return SQLITE_NOMEM;
    }
    int n = 0;
    int rc = ss_store_query(x->store, q, 1, &o, c->hits, &n);
    sqlite3_free(q);
    if (rc) return vt_error(cur, ss_errmsg());
    c->docs = sqlite3_malloc64((sqlite3_uint64)(n ? n : 1) * sizeof *c->docs);
    if (!c->docs) return SQLITE_NOMEM;
    memset(c->docs, 0, (size_t)(n ? n : 1) * sizeof *c->docs);
    int got = 0;
    for (int i = 0; i < n; i++) {
        if (ss_store_get(x->store, c->hits[i].doc, &c->docs[got]) != SS_OK) continue;
        c->hits[got++] = c->hits[i];
    }
    c->n = got;
    c->i = 0;
    return SQLITE_OK;
}

static int vt_next(sqlite3_vtab_cursor *cur)
{
    ((cursor *)cur)->i++;
    return SQLITE_OK;
}

static int vt_eof(sqlite3_vtab_cursor *cur)
{
    cursor *c = (cursor *)cur;
    return c->i >= c->n;
}

static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    cursor *c = (cursor *)cur;
    const ss_store_doc *d = &c->docs[c->i];
    switch (col) {
    case COL_RANK: sqlite3_result_int(ctx, c->i + 1); break;
    case COL_SCORE: sqlite3_result_double(ctx, c->hits[c->i].score); break;
    case COL_DOC: sqlite3_result_int64(ctx, d->doc); break;
    case COL_ID:
        if (d->id) sqlite3_result_text(ctx, d->id, -1, SQLITE_TRANSIENT);
        else sqlite3_result_text(ctx, sqlite3_mprintf("%lld", (long long)d->doc), -1, sqlite3_free);
        break;
    case COL_TEXT: sqlite3_result_text(ctx, d->text, -1, SQLITE_TRANSIENT); break;
    case COL_SOURCE:
        if (d->source) sqlite3_result_text(ctx, d->source, -1, SQLITE_TRANSIENT);
        else sqlite3_result_null(ctx);
        break;
    default: sqlite3_result_null(ctx); break;
    }
    return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    cursor *c = (cursor *)cur;
    *rowid = c->docs[c->i].doc;
    return SQLITE_OK;
}

static sqlite3_module search_module = {
    0, NULL /* eponymous only */, vt_connect, vt_best_index, vt_disconnect, NULL, vt_open, vt_close,
    vt_filter, vt_next, vt_eof, vt_column, vt_rowid, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL};

__attribute__((visibility("default"))) int sqlite3_semsearch_init(sqlite3 *db, char **err,
                                                                  const sqlite3_api_routines *api);
__attribute__((visibility("default"))) int sqlite3_semsearch_init(sqlite3 *db, char **err,
                                                                  const sqlite3_api_routines *api)
{
    SQLITE_EXTENSION_INIT2(api);
    ext *x = sqlite3_malloc(sizeof *x);
    if (!x) return SQLITE_NOMEM;
    memset(x, 0, sizeof *x);
    x->db = db;
    int flags = SQLITE_UTF8;
    /* the module owns x (freed when the connection closes); the functions share it */
    int rc = sqlite3_create_module_v2(db, "semsearch_search", &search_module, x, ext_free);
    if (rc == SQLITE_OK) rc = sqlite3_create_function(db, "semsearch_model", 1, flags, x, fn_model, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function(db, "semsearch_model", 0, flags, x, fn_model, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function(db, "semsearch_embed", 1, flags, x, fn_embed, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "semsearch_cosine", 2, flags | SQLITE_DETERMINISTIC, x, fn_cosine, NULL, NULL);
    if (rc != SQLITE_OK && err) *err = sqlite3_mprintf("semsearch: cannot register functions");
    return rc;
}
