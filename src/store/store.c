/* store.c: the SQLite database of a store: schema, the model it records,
 * adding and deleting documents with their vectors (see docs/schema.md).
 *
 * Vectors live in blocks of SS_BLOCK_SIZE rows (one BLOB per block and
 * representation) so that reading a million of them is a few thousand
 * sequential BLOB reads, not a million row lookups. A block is created full
 * of zeros and filled in place with incremental BLOB writes, so appending a
 * batch rewrites only the pages it touches. Every statement is constant SQL
 * with bound values. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "store/hybrid.h"
#include "store/search.h"
#include "store/store.h"

/* how long a writer waits for another one (SQLite's busy timeout, and the
 * retries of what SQLite does not wait for) */
#define SS_BUSY_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ helpers */

int ss__store_sqlerr(ss_store *s, int rc, const char *what)
{
    const char *path = s && s->path ? s->path : "database";
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOMEM: return ss__fail(SS_ERR_NOMEM, "%s: out of memory", path);
    case SQLITE_FULL: return ss__fail(SS_ERR_IO, "%s: %s: database or disk is full", path, what);
    case SQLITE_READONLY: return ss__fail(SS_ERR_IO, "%s: %s: the database is read-only", path, what);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: {
        /* "disk I/O error" alone hides the cause: a full disk when the -shm
         * or -wal file cannot grow (ENOSPC), a bad disk (EIO), ... */
        int e = s && s->db ? sqlite3_system_errno(s->db) : 0;
        if (e) return ss__fail(SS_ERR_IO, "%s: %s: %s: %s", path, what, msg, strerror(e));
        return ss__fail(SS_ERR_IO, "%s: %s: %s", path, what, msg);
    }
    case SQLITE_PERM: return ss__fail(SS_ERR_IO, "%s: %s: %s", path, what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ss__fail(SS_ERR_IO, "%s: %s: the database is locked by another process", path, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ss__fail(SS_ERR_FORMAT, "%s: %s: %s", path, what, msg);
    case SQLITE_INTERRUPT: return ss__fail(SS_ERR_INTERRUPTED, "%s: %s: interrupted", path, what);
    default: return ss__fail(SS_ERR_SQL, "%s: %s: %s", path, what, msg);
    }
}

int ss__store_prepare(ss_store *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? SS_OK : ss__store_sqlerr(s, rc, "prepare");
}

int ss__store_exec(ss_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? SS_OK : ss__store_sqlerr(s, rc, sql);
}

/* Runs a one-value query (constant SQL, no parameters) into *v. */
static int query_int(ss_store *s, const char *sql, int64_t *v)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, sql, &st);
    if (rc) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) *v = sqlite3_column_int64(st, 0);
    else if (r == SQLITE_DONE) *v = 0;
    else rc = ss__store_sqlerr(s, r, "read");
    sqlite3_finalize(st);
    return rc;
}

int64_t ss__text_hash(const char *text, size_t len)
{
    /* FNV-1a, then a murmur3 finalizer to spread the bits; equal hashes are
     * confirmed by comparing the texts, so collisions cost time, not data */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (int64_t)h;
}

static void rollback(ss_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int commit(ss_store *s)
{
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int e = ss__store_sqlerr(s, rc, "commit");
        rollback(s);
        return e;
    }
    return SS_OK;
}

/* ------------------------------------------------------------------- schema */

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE documents("
    " id INTEGER PRIMARY KEY,"
    " text TEXT NOT NULL,"
    " hash INTEGER NOT NULL,"
    " source TEXT,"
    " ext_id TEXT,"
    " meta TEXT CHECK (meta IS NULL OR json_valid(meta)),"
    " block INTEGER NOT NULL,"
    " slot INTEGER NOT NULL);"
    "CREATE INDEX documents_hash ON documents(hash);"
    "CREATE INDEX documents_ext_id ON documents(ext_id) WHERE ext_id IS NOT NULL;"
    "CREATE INDEX documents_source ON documents(source) WHERE source IS NOT NULL;"
    "CREATE TABLE blocks(id INTEGER PRIMARY KEY, ids BLOB NOT NULL);"
    "CREATE TABLE vectors_f32(block INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE vectors_i8(block INTEGER PRIMARY KEY, scales BLOB NOT NULL, codes BLOB NOT NULL);";

/* The full-text index is kept in step by the statements that add and delete
 * documents, not by triggers: a trigger makes every INSERT a multi-table
 * write, which costs a statement journal of every page it touches. */
#define FTS_SQL(args) "CREATE VIRTUAL TABLE documents_fts USING fts5(text, content='documents', content_rowid='id'" args ");"
static const char fts_sql_stem[] = FTS_SQL(SS__FTS_ARGS_STEM);
static const char fts_sql_plain[] = FTS_SQL(SS__FTS_ARGS_PLAIN);

static int set_meta(ss_store *s, const char *key, const char *text, int64_t num, int is_num)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (is_num) sqlite3_bind_int64(st, 2, num);
    else sqlite3_bind_text(st, 2, text ? text : "", -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? SS_OK : ss__store_sqlerr(s, r, "write meta");
}

static int create_schema(ss_store *s, int stem)
{
    /* page size before the first table: 64 KiB pages make a 1 MB block a
     * chain of 16 pages instead of 256 */
    int rc = ss__store_exec(s, "PRAGMA page_size=65536");
    if (rc) return rc;
    /* Switching to WAL upgrades a read lock to a write lock, and for that
     * SQLite answers SQLITE_BUSY at once rather than call the busy handler
     * (waiting could deadlock): two processes creating one database at the
     * same moment meet it. Retry for as long as the busy timeout would. */
    int r;
    for (int ms = 0;; ms += 5) {
        r = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if ((r & 0xff) != SQLITE_BUSY || ms >= SS_BUSY_TIMEOUT_MS) break;
        sqlite3_sleep(5);
    }
    if (r != SQLITE_OK) return ss__store_sqlerr(s, r, "PRAGMA journal_mode=WAL");
    rc = ss__store_exec(s, "BEGIN IMMEDIATE");
    if (rc) return rc;
    int64_t ntab = 0;
    rc = query_int(s, "SELECT count(*) FROM sqlite_schema", &ntab);
    if (!rc && ntab == 0) { /* another process may have created it meanwhile */
        char ver[32];
        snprintf(ver, sizeof ver, "%s", SS_VERSION);
        rc = ss__store_exec(s, schema_sql);
        if (!rc) rc = ss__store_exec(s, stem ? fts_sql_stem : fts_sql_plain);
        if (!rc) rc = set_meta(s, "block_size", NULL, SS_BLOCK_SIZE, 1);
        if (!rc) rc = set_meta(s, "created_by", ver, 0, 0);
        if (!rc) rc = ss__store_exec(s, "PRAGMA user_version=1");
        char app[64]; /* a constant, not user text */
        snprintf(app, sizeof app, "PRAGMA application_id=%d", SS_APPLICATION_ID);
        if (!rc) rc = ss__store_exec(s, app);
    }
    if (rc) {
        rollback(s);
        return rc;
    }
    return commit(s);
}

static char *column_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return ss__strdup(t ? (const char *)t : "");
}

int ss__store_read_meta(ss_store *s)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, "SELECT key, value FROM meta", &st);
    if (rc) return rc;
    char *name = NULL, *fp = NULL, *path = NULL;
    int dim = 0, bs = 0, r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        if (!k) continue;
        char **dst = !strcmp(k, "model_name") ? &name : !strcmp(k, "model_fingerprint") ? &fp
                   : !strcmp(k, "model_path") ? &path : NULL;
        if (dst) {
            ss_free(*dst);
            if (!(*dst = column_dup(st, 1))) r = SQLITE_NOMEM;
        } else if (!strcmp(k, "dim")) dim = sqlite3_column_int(st, 1);
        else if (!strcmp(k, "block_size")) bs = sqlite3_column_int(st, 1);
        if (r == SQLITE_NOMEM) break;
    }
    sqlite3_finalize(st);
    /* no model recorded yet: empty strings, never NULL */
    if (r == SQLITE_DONE && ((!name && !(name = ss__strdup(""))) || (!fp && !(fp = ss__strdup(""))) ||
                             (!path && !(path = ss__strdup("")))))
        r = SQLITE_NOMEM;
    if (r != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "read meta");
    else if (bs <= 0 || bs > (1 << 20) || dim < 0 || dim > (1 << 16))
        rc = ss__fail(SS_ERR_FORMAT, "%s: invalid meta table (block_size %d, dim %d)", s->path, bs, dim);
    if (rc) {
        ss_free(name);
        ss_free(fp);
        ss_free(path);
        return rc;
    }
    ss_free(s->model_name);
    ss_free(s->model_fp);
    ss_free(s->model_path);
    s->model_name = name;
    s->model_fp = fp;
    s->model_path = path;
    s->dim = fp && *fp ? dim : 0;
    s->block_size = bs;
    s->pending = 0;
    return SS_OK;
}

/* --------------------------------------------------------------------- open */

/* The application id, schema version and number of tables, read by one
 * statement and so from one snapshot: another process may be creating the
 * schema meanwhile, and separate reads could see its application id before
 * its commit and its tables after ("not a semsearch database"). */
static int read_header(ss_store *s, int64_t *app, int64_t *ver, int64_t *ntab)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s,
                               "SELECT (SELECT application_id FROM pragma_application_id), "
                               "(SELECT user_version FROM pragma_user_version), "
                               "(SELECT count(*) FROM sqlite_schema)",
                               &st);
    if (rc) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *app = sqlite3_column_int64(st, 0);
        *ver = sqlite3_column_int64(st, 1);
        *ntab = sqlite3_column_int64(st, 2);
    } else {
        rc = ss__store_sqlerr(s, r, "read");
    }
    sqlite3_finalize(st);
    return rc;
}

static int check_schema(ss_store *s, int flags)
{
    int64_t app = 0, ver = 0, ntab = 0;
    int rc = read_header(s, &app, &ver, &ntab);
    if (rc) return rc;
    if (ntab == 0 && app == 0) {
        if (s->readonly) return ss__fail(SS_ERR_FORMAT, "%s: empty database (nothing indexed yet)", s->path);
        rc = create_schema(s, !(flags & SS_STORE_NO_STEM));
        if (!rc) rc = read_header(s, &app, &ver, &ntab);
        if (rc) return rc;
    }
    if (app != SS_APPLICATION_ID)
        return ss__fail(SS_ERR_FORMAT, "%s: not a semsearch database", s->path);
    if (ver > SS_SCHEMA_VERSION)
        return ss__fail(SS_ERR_FORMAT,
                        "%s: database schema version %lld is newer than this semsearch supports (%d); "
                        "upgrade semsearch",
                        s->path, (long long)ver, SS_SCHEMA_VERSION);
    if (ver < 1) return ss__fail(SS_ERR_FORMAT, "%s: invalid schema version %lld", s->path, (long long)ver);
    int64_t fts = 0;
    rc = query_int(s, "SELECT count(*) FROM sqlite_schema WHERE name = 'documents_fts'", &fts);
    s->has_fts = fts > 0;
    /* the tokenizer is in the table's own CREATE statement: databases made
     * before stemming existed read as unstemmed, and stay so */
    int64_t stem = 0;
    if (!rc && s->has_fts)
        rc = query_int(s, "SELECT count(*) FROM sqlite_schema WHERE name = 'documents_fts' AND sql LIKE '%porter%'",
                       &stem);
    s->fts_stem = stem > 0;
    if (!rc && (flags & SS_STORE_NO_STEM) && s->fts_stem)
        return ss__fail(SS_ERR_ARG,
                        "%s: its full-text index stems English words (the database was made so); not stemming "
                        "applies to a new database only",
                        s->path);
    return rc;
}

/* Whether the directory holding path accepts new files (the -wal/-shm). */
static int dir_writable(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return access(".", W_OK) == 0;
    if (slash == path) return access("/", W_OK) == 0;
    char *dir = ss__malloc((size_t)(slash - path) + 1);
    if (!dir) return 1;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = 0;
    int w = access(dir, W_OK) == 0;
    ss_free(dir);
    return w;
}

/* "file:PATH?immutable=1", with the characters a URI path reserves escaped. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = ss__malloc(3 * n + 32), *o = u;
    if (!u) return NULL;
    o += sprintf(o, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p >= 0x7f) o += sprintf(o, "%%%02X", *p);
        else *o++ = (char)*p;
    }
    strcpy(o, "?immutable=1");
    return u;
}

int ss_store_open(const char *path, int flags, ss_store **out)
{
    if (!out) return ss__fail(SS_ERR_ARG, "ss_store_open: NULL out");
    *out = NULL;
    if (!path || !*path) return ss__fail(SS_ERR_ARG, "ss_store_open: no path");
    /* A database is a file path. SQLite would take "file:..." as a URI
     * (mode=memory: nothing written; and stat() saw another name than SQLite
     * opened) and ":memory:" as no file at all: refused, both ways. */
    if (!strncmp(path, "file:", 5) || !strcmp(path, ":memory:"))
        return ss__fail(SS_ERR_ARG,
                        "%s: SQLite URIs and :memory: are not supported: give a file path (./%s for a file of "
                        "that name)",
                        path, path);
    int ro = (flags & SS_STORE_READONLY) != 0;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && (!(flags & SS_STORE_CREATE) || ro))
            return ss__fail(SS_ERR_IO, "%s: no such database", path);
        if (errno != ENOENT) return ss__fail(SS_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        return ss__fail(SS_ERR_IO, "%s: not a regular file", path);
    }
    ss_store *s = ss__calloc(1, sizeof *s);
    if (!s || !(s->path = ss__strdup(path))) {
        ss_free(s);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    s->readonly = ro;
    int oflags = (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (flags & SS_STORE_CREATE ? SQLITE_OPEN_CREATE : 0)) |
                 SQLITE_OPEN_NOMUTEX;
    int r = sqlite3_open_v2(path, &s->db, oflags, NULL);
    int rc = SS_OK;
    if (r != SQLITE_OK) {
        rc = s->db ? ss__store_sqlerr(s, r, "open") : ss__fail(SS_ERR_NOMEM, "out of memory");
    } else {
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, SS_BUSY_TIMEOUT_MS);
        if (!ro && sqlite3_db_readonly(s->db, "main") == 1)
            rc = ss__fail(SS_ERR_IO, "%s: the database is read-only", path);
    }
    if (!rc) rc = check_schema(s, flags);
    /* a WAL database in a directory nobody may write (a read-only mount, a
     * shared archive) cannot get its -shm file: read it as immutable */
    /* (SQLITE_CANTOPEN when the -shm cannot be made, SQLITE_READONLY when
     * it cannot be initialised: a read-only file in a read-only directory) */
    int prim = s->db ? sqlite3_extended_errcode(s->db) & 0xff : 0;
    if (rc && ro && s->db && (prim == SQLITE_CANTOPEN || prim == SQLITE_READONLY) && !dir_writable(path)) {
        sqlite3_close_v2(s->db);
        s->db = NULL;
        char *uri = immutable_uri(path);
        if (!uri) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        else {
            r = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
            ss_free(uri);
            rc = r == SQLITE_OK ? SS_OK : s->db ? ss__store_sqlerr(s, r, "open") : ss__fail(SS_ERR_NOMEM, "out of memory");
            if (!rc) {
                sqlite3_extended_result_codes(s->db, 1);
                rc = check_schema(s, flags);
            }
        }
    }
    /* durable at every commit against a crash of the process; WAL keeps
     * readers going while a writer appends */
    if (!rc && !ro) rc = ss__store_exec(s, "PRAGMA synchronous=NORMAL");
    /* a write transaction's pages stay in memory instead of spilling to the
     * WAL again and again (64 MiB) */
    if (!rc) rc = ss__store_exec(s, "PRAGMA cache_size=-65536");
    /* readers map the file: reading the vector blocks is then one copy, not
     * a read() into SQLite's cache and a copy out of it (SQLite caps the
     * mapping at its compile-time maximum, 2 GB on Debian) */
    if (!rc && ro) rc = ss__store_exec(s, "PRAGMA mmap_size=1099511627776");
    if (!rc) rc = ss__store_read_meta(s);
    if (rc) {
        ss_store_close(s);
        return rc;
    }
    *out = s;
    ss__clear_error();
    return SS_OK;
}

void ss_store_close(ss_store *s)
{
    if (!s) return;
    ss__vecmem_free(&s->mem);
    if (s->fetch_blob) sqlite3_blob_close(s->fetch_blob);
    if (s->db) sqlite3_close_v2(s->db);
    ss_free(s->model_name);
    ss_free(s->model_fp);
    ss_free(s->model_path);
    ss_free(s->path);
    ss_free(s);
}

/* -------------------------------------------------------------------- model */

int ss_store_get_model(ss_store *s, ss_store_model *m)
{
    if (!s || !m) return ss__fail(SS_ERR_ARG, "ss_store_get_model: NULL argument");
    m->name = s->model_name ? s->model_name : "";
    m->fingerprint = s->model_fp ? s->model_fp : "";
    m->path = s->model_path ? s->model_path : "";
    m->dim = s->dim;
    return SS_OK;
}

static int mismatch(ss_store *s, const ss_store_model *m)
{
    return ss__fail(SS_ERR_MODEL,
                    "%s: the database holds vectors of model '%s' (fingerprint %.16s, dim %d), "
                    "not of model '%s' (fingerprint %.16s, dim %d); use that model, or re-embed "
                    "everything with the new one (semsearch index --reembed)",
                    s->path, s->model_name, s->model_fp, s->dim, m->name ? m->name : "?",
                    m->fingerprint, m->dim);
}

int ss_store_use_model(ss_store *s, const ss_store_model *m)
{
    if (!s || !m || !m->fingerprint || !*m->fingerprint)
        return ss__fail(SS_ERR_ARG, "ss_store_use_model: no model fingerprint");
    if (m->dim <= 0 || m->dim > 65536) return ss__fail(SS_ERR_ARG, "ss_store_use_model: dim %d", m->dim);
    int rc = ss__store_read_meta(s); /* another process may have recorded one */
    if (rc) return rc;
    if (s->model_fp && *s->model_fp) {
        if (strcmp(s->model_fp, m->fingerprint) || s->dim != m->dim) return mismatch(s, m);
        return SS_OK;
    }
    char *name = ss__strdup(m->name ? m->name : ""), *fp = ss__strdup(m->fingerprint),
         *path = ss__strdup(m->path ? m->path : "");
    if (!name || !fp || !path) {
        ss_free(name);
        ss_free(fp);
        ss_free(path);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    ss_free(s->model_name);
    ss_free(s->model_fp);
    ss_free(s->model_path);
    s->model_name = name;
    s->model_fp = fp;
    s->model_path = path;
    s->dim = m->dim;
    s->pending = 1;
    return SS_OK;
}

/* Inside a write transaction: records a pending model, or checks that no
 * other process recorded a different one since ss_store_use_model. */
static int record_model(ss_store *s)
{
    if (!s->pending) return SS_OK;
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, "SELECT value FROM meta WHERE key = 'model_fingerprint'", &st);
    if (rc) return rc;
    int r = sqlite3_step(st);
    const char *had = r == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int other = had && *had && strcmp(had, s->model_fp) != 0;
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return ss__store_sqlerr(s, r, "read meta");
    if (other) {
        ss_store_model m = {s->model_name, s->model_fp, s->model_path, s->dim};
        char *n = ss__strdup(m.name), *f = ss__strdup(m.fingerprint);
        if (!n || !f) {
            ss_free(n);
            ss_free(f);
            return ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        m.name = n;
        m.fingerprint = f;
        rc = ss__store_read_meta(s);
        if (!rc) rc = mismatch(s, &m);
        ss_free(n);
        ss_free(f);
        return rc;
    }
    rc = set_meta(s, "model_name", s->model_name, 0, 0);
    if (!rc) rc = set_meta(s, "model_fingerprint", s->model_fp, 0, 0);
    if (!rc) rc = set_meta(s, "model_path", s->model_path, 0, 0);
    if (!rc) rc = set_meta(s, "dim", NULL, s->dim, 1);
    return rc;
}

/* ------------------------------------------------------------------- adding */

/* Text already stored? (*found = its doc id, or 0) */
static int find_text(ss_store *s, sqlite3_stmt *st, const char *text, size_t len, int64_t *found)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, ss__text_hash(text, len));
    sqlite3_bind_text(st, 2, text, (int)len, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *found = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? SS_OK : ss__store_sqlerr(s, r, "look up text");
}

#define FIND_SQL "SELECT id FROM documents WHERE hash = ?1 AND text = ?2 LIMIT 1"
/* The next document number: above every number ever given (meta next_doc,
 * kept by add and delete), so that a number is never reused: a stale number
 * in a user's hands names nothing rather than another text. */
#define NEXT_DOC_SQL                                                                                             \
    "max(coalesce((SELECT value FROM meta WHERE key = 'next_doc'), 1), "                                        \
    "coalesce((SELECT max(id) FROM documents), 0) + 1)"

static int check_doc(const ss_doc *d, size_t i)
{
    if (!d->text) return ss__fail(SS_ERR_ARG, "document %zu: no text", i + 1);
    if (d->len == 0) return ss__fail(SS_ERR_ARG, "document %zu: empty text", i + 1);
    if (d->len > 0x7fffffff) return ss__fail(SS_ERR_RANGE, "document %zu: text too long", i + 1);
    return SS_OK;
}

int ss_store_filter_new(ss_store *s, const ss_doc *docs, size_t n, unsigned char *is_new)
{
    if (!s || (n && (!docs || !is_new))) return ss__fail(SS_ERR_ARG, "ss_store_filter_new: NULL argument");
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, FIND_SQL, &st);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        is_new[i] = 0;
        if (!docs[i].text || !docs[i].len || docs[i].len > 0x7fffffff) {
            is_new[i] = 1; /* let ss_store_add report it */
            continue;
        }
        int64_t found;
        rc = find_text(s, st, docs[i].text, docs[i].len, &found);
        if (rc || found) continue;
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = is_new[j] && docs[j].len == docs[i].len && docs[j].text &&
                  !memcmp(docs[j].text, docs[i].text, docs[i].len);
        is_new[i] = !dup;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Rows appended to one block, written with incremental BLOB I/O. */
typedef struct run {
    int64_t block;
    int start, n;
    int64_t *ids;
    float *f32, *scales;
    uint8_t *codes;
} run;

static int blob_put(ss_store *s, const char *table, const char *col, int64_t row, const void *p, size_t n,
                    size_t off)
{
    sqlite3_blob *b;
    int r = sqlite3_blob_open(s->db, "main", table, col, row, 1, &b);
    if (r != SQLITE_OK) return ss__store_sqlerr(s, r, "open vector block");
    if ((size_t)sqlite3_blob_bytes(b) < off + n) {
        sqlite3_blob_close(b);
        return ss__fail(SS_ERR_FORMAT, "%s: vector block %lld of %s is too short", s->path, (long long)row, table);
    }
    r = sqlite3_blob_write(b, p, (int)n, (int)off);
    int r2 = sqlite3_blob_close(b);
    if (r == SQLITE_OK) r = r2;
    return r == SQLITE_OK ? SS_OK : ss__store_sqlerr(s, r, "write vector block");
}

static int flush_run(ss_store *s, run *u)
{
    if (u->n == 0) return SS_OK;
    size_t d = (size_t)s->dim, st = (size_t)u->start, n = (size_t)u->n;
    int rc = blob_put(s, "blocks", "ids", u->block, u->ids, n * 8, st * 8);
    if (!rc) rc = blob_put(s, "vectors_f32", "data", u->block, u->f32, n * d * 4, st * d * 4);
    if (!rc) rc = blob_put(s, "vectors_i8", "scales", u->block, u->scales, n * 4, st * 4);
    if (!rc) rc = blob_put(s, "vectors_i8", "codes", u->block, u->codes, n * d, st * d);
    u->start += u->n;
    u->n = 0;
    return rc;
}

/* The block being filled and its next free slot (after its last used one). */
static int tail_block(ss_store *s, int64_t *block, int *fill)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, "SELECT id, ids FROM blocks ORDER BY id DESC LIMIT 1", &st);
    if (rc) return rc;
    *block = 0;
    *fill = s->block_size;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *block = sqlite3_column_int64(st, 0);
        const unsigned char *p = sqlite3_column_blob(st, 1);
        int bytes = sqlite3_column_bytes(st, 1);
        if (bytes != s->block_size * 8) {
            rc = ss__fail(SS_ERR_FORMAT, "%s: block %lld has %d bytes of ids, not %d", s->path,
                          (long long)*block, bytes, s->block_size * 8);
        } else {
            int f = s->block_size;
            while (f > 0) {
                int64_t v;
                memcpy(&v, p + (size_t)(f - 1) * 8, 8);
                if (v) break;
                f--;
            }
            *fill = f;
        }
    } else if (r != SQLITE_DONE) {
        rc = ss__store_sqlerr(s, r, "read blocks");
    }
    sqlite3_finalize(st);
    return rc;
}

static int new_block(ss_store *s, int64_t *block)
{
    sqlite3_stmt *st;
    size_t bs = (size_t)s->block_size, d = (size_t)s->dim;
    int rc = ss__store_prepare(s, "INSERT INTO blocks(ids) VALUES (zeroblob(?1))", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(bs * 8));
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return ss__store_sqlerr(s, r, "add a vector block");
    *block = sqlite3_last_insert_rowid(s->db);
    rc = ss__store_prepare(s, "INSERT INTO vectors_f32(block, data) VALUES (?1, zeroblob(?2))", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, *block);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(bs * d * 4));
    r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return ss__store_sqlerr(s, r, "add a vector block");
    rc = ss__store_prepare(s, "INSERT INTO vectors_i8(block, scales, codes) VALUES (?1, zeroblob(?2), zeroblob(?3))", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, *block);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(bs * 4));
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(bs * d));
    r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? SS_OK : ss__store_sqlerr(s, r, "add a vector block");
}

/* An appender: places rows in blocks, buffering each block's run. */
typedef struct appender {
    run u;
    int fill;
    sqlite3_stmt *st_slot; /* UPDATE documents SET block, slot (re-embedding) */
} appender;

/* rows: how many rows will be appended at most. A run never holds more than
 * one block's rows, nor more than that: a damaged block size or dim in the
 * meta table then costs no more memory than the caller's vectors (fuzz
 * finding: 4 GB asked for by a 10 KB file). */
static int appender_init(ss_store *s, appender *a, int fresh, size_t rows)
{
    memset(a, 0, sizeof *a);
    size_t bs = (size_t)s->block_size, d = (size_t)s->dim, r = SS_MAX(SS_MIN(bs, rows), 1);
    a->u.ids = ss__malloc(r * 8);
    a->u.f32 = ss__malloc(r * d * 4);
    a->u.scales = ss__malloc(r * 4);
    a->u.codes = ss__malloc(r * d);
    if (!a->u.ids || !a->u.f32 || !a->u.scales || !a->u.codes) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (fresh) {
        a->fill = s->block_size;
        return SS_OK;
    }
    int rc = tail_block(s, &a->u.block, &a->fill);
    a->u.start = a->fill;
    return rc;
}

static void appender_free(appender *a)
{
    ss_free(a->u.ids);
    ss_free(a->u.f32);
    ss_free(a->u.scales);
    ss_free(a->u.codes);
}

/* Reserves the next slot: *block, *slot. */
static int appender_slot(ss_store *s, appender *a, int64_t *block, int *slot)
{
    if (a->fill >= s->block_size) {
        int rc = flush_run(s, &a->u);
        if (!rc) rc = new_block(s, &a->u.block);
        if (rc) return rc;
        a->fill = 0;
        a->u.start = 0;
    }
    *block = a->u.block;
    *slot = a->fill;
    return SS_OK;
}

/* Puts a normalized vector in the reserved slot. */
static void appender_put(ss_store *s, appender *a, int64_t id, const float *x)
{
    size_t d = (size_t)s->dim, i = (size_t)a->u.n;
    a->u.ids[i] = id; /* little-endian int64 on the platforms we build for */
    memcpy(a->u.f32 + i * d, x, d * 4);
    ss__quantize_i8(x, s->dim, a->u.codes + i * d, &a->u.scales[i]);
    a->u.n++;
    a->fill++;
}

/* x / |x| into out; SS_ERR_NUMERIC for a zero or non-finite vector. */
static int normalized(const float *x, int d, float *out, size_t which)
{
    double ss = 0;
    for (int j = 0; j < d; j++) {
        if (!isfinite(x[j])) return ss__fail(SS_ERR_NUMERIC, "vector %zu: not a finite number", which + 1);
        ss += (double)x[j] * x[j];
    }
    if (!(ss > 0)) return ss__fail(SS_ERR_NUMERIC, "vector %zu: zero vector", which + 1);
    double inv = 1.0 / sqrt(ss); /* in double: denormal vectors (1/|x| beyond float) */
    for (int j = 0; j < d; j++) out[j] = (float)((double)x[j] * inv);
    return SS_OK;
}

static int writable(ss_store *s)
{
    if (s->readonly) return ss__fail(SS_ERR_ARG, "%s: opened read-only", s->path);
    return SS_OK;
}

int ss__store_has_passages(ss_store *s, int *yes)
{
    int64_t v = 0;
    int rc = query_int(s, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'passages'", &v);
    *yes = v > 0;
    return rc;
}

/* Made by the first addition of a document split into passages (inside its
 * transaction): a database of short texts stays schema version 1. */
static const char passages_sql[] =
    "CREATE TABLE IF NOT EXISTS passages("
    " doc INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " start INTEGER NOT NULL,"
    " len INTEGER NOT NULL,"
    " block INTEGER NOT NULL,"
    " slot INTEGER NOT NULL,"
    " PRIMARY KEY (doc, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS passages_slot ON passages(block, slot);"
    "PRAGMA user_version=2;";

int ss_store_add(ss_store *s, const ss_doc *docs, const float *vecs, size_t n, size_t *added)
{
    if (added) *added = 0;
    if (!s || (n && (!docs || !vecs))) return ss__fail(SS_ERR_ARG, "ss_store_add: NULL argument");
    return ss_store_add_passages(s, docs, n, NULL, vecs, n, added);
}

int ss_store_add_passages(ss_store *s, const ss_doc *docs, size_t n, const ss_passage *pass, const float *vecs,
                          size_t np, size_t *added)
{
    if (added) *added = 0;
    if (!s || (n && (!docs || !vecs))) return ss__fail(SS_ERR_ARG, "ss_store_add_passages: NULL argument");
    if (pass ? np < n : np != n)
        return ss__fail(SS_ERR_ARG, "ss_store_add_passages: %zu passages for %zu documents", np, n);
    int rc = writable(s);
    if (rc) return rc;
    if (!s->dim) return ss__fail(SS_ERR_ARG, "%s: no model declared (ss_store_use_model)", s->path);
    for (size_t i = 0; i < n; i++)
        if ((rc = check_doc(&docs[i], i))) return rc;
    /* passages in document order, each document at least one, each inside
     * its text */
    int split = 0;
    for (size_t i = 0, p = 0; pass && i < n; i++) {
        size_t first = p;
        for (; p < np && pass[p].doc == i; p++)
            if (pass[p].len == 0 || pass[p].start > docs[i].len || pass[p].len > docs[i].len - pass[p].start)
                return ss__fail(SS_ERR_ARG, "document %zu: passage %zu is not inside its text", i + 1, p - first + 1);
        if (p == first) return ss__fail(SS_ERR_ARG, "document %zu: no passage (passages must be in document order)", i + 1);
        if (p - first > 1) split = 1;
        if (i == n - 1 && p != np) return ss__fail(SS_ERR_ARG, "passage %zu: no such document", p + 1);
    }
    if (n == 0) return SS_OK;
    size_t d = (size_t)s->dim;
    float *x = ss__malloc(d * sizeof *x);
    if (!x) return ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < np && !rc; i++) rc = normalized(vecs + i * d, s->dim, x, i);
    if (rc) {
        ss_free(x);
        return rc;
    }
    appender a;
    memset(&a, 0, sizeof a);
    sqlite3_stmt *find = NULL, *ins = NULL, *fts = NULL, *pins = NULL;
    size_t count = 0;
    rc = ss__store_exec(s, "BEGIN IMMEDIATE");
    if (rc) {
        ss_free(x);
        return rc;
    }
    rc = record_model(s);
    if (!rc && split) rc = ss__store_exec(s, passages_sql);
    if (!rc && split)
        rc = ss__store_prepare(s, "INSERT INTO passages(doc, seq, start, len, block, slot) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                               &pins);
    if (!rc) rc = appender_init(s, &a, 0, np);
    if (!rc) rc = ss__store_prepare(s, FIND_SQL, &find);
    if (!rc)
        rc = ss__store_prepare(s,
                               "INSERT INTO documents(text, hash, source, ext_id, meta, block, slot, id) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                               &ins);
    int64_t next_doc = 0;
    if (!rc) rc = query_int(s, "SELECT " NEXT_DOC_SQL, &next_doc);
    if (!rc && s->has_fts)
        rc = ss__store_prepare(s, "INSERT INTO documents_fts(rowid, text) VALUES (?1, ?2)", &fts);
    size_t p0 = 0, p1 = 0; /* the passages of document i: [p0, p1) */
    for (size_t i = 0; i < n && !rc; i++, p0 = p1) {
        const ss_doc *dc = &docs[i];
        p1 = p0 + 1;
        while (pass && p1 < np && pass[p1].doc == i) p1++;
        int64_t found;
        rc = find_text(s, find, dc->text, dc->len, &found);
        if (rc || found) continue;
        int64_t block;
        int slot;
        rc = appender_slot(s, &a, &block, &slot);
        if (rc) break;
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, dc->text, (int)dc->len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, ss__text_hash(dc->text, dc->len));
        if (dc->source) sqlite3_bind_text(ins, 3, dc->source, -1, SQLITE_STATIC);
        else sqlite3_bind_null(ins, 3);
        if (dc->id) sqlite3_bind_text(ins, 4, dc->id, -1, SQLITE_STATIC);
        else sqlite3_bind_null(ins, 4);
        if (dc->meta) sqlite3_bind_text(ins, 5, dc->meta, -1, SQLITE_STATIC);
        else sqlite3_bind_null(ins, 5);
        sqlite3_bind_int64(ins, 6, block);
        sqlite3_bind_int(ins, 7, slot);
        sqlite3_bind_int64(ins, 8, next_doc);
        int r = sqlite3_step(ins);
        if (r == SQLITE_CONSTRAINT_CHECK) {
            rc = ss__fail(SS_ERR_FORMAT, "document %zu: metadata is not valid JSON", i + 1);
            break;
        }
        if (r != SQLITE_DONE) {
            rc = ss__store_sqlerr(s, r, "add a document");
            break;
        }
        int64_t id = sqlite3_last_insert_rowid(s->db);
        if (fts) {
            sqlite3_reset(fts);
            sqlite3_bind_int64(fts, 1, id);
            sqlite3_bind_text(fts, 2, dc->text, (int)dc->len, SQLITE_STATIC);
            if ((r = sqlite3_step(fts)) != SQLITE_DONE) {
                rc = ss__store_sqlerr(s, r, "index a document's words");
                break;
            }
        }
        /* the first passage's vector is the document's slot; the others
         * get slots of their own, named in passages with their bytes */
        for (size_t p = p0; p < p1 && !rc; p++) {
            if (p > p0) rc = appender_slot(s, &a, &block, &slot);
            if (rc) break;
            normalized(vecs + p * d, s->dim, x, p);
            appender_put(s, &a, id, x);
            if (p1 - p0 < 2) break;
            sqlite3_reset(pins);
            sqlite3_bind_int64(pins, 1, id);
            sqlite3_bind_int64(pins, 2, (int64_t)(p - p0));
            sqlite3_bind_int64(pins, 3, (int64_t)pass[p].start);
            sqlite3_bind_int64(pins, 4, (int64_t)pass[p].len);
            sqlite3_bind_int64(pins, 5, block);
            sqlite3_bind_int(pins, 6, slot);
            if ((r = sqlite3_step(pins)) != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "add a passage");
        }
        if (rc) break;
        count++;
        next_doc = id + 1;
    }
    if (!rc) rc = flush_run(s, &a.u);
    if (!rc && count) rc = set_meta(s, "next_doc", NULL, next_doc, 1);
    sqlite3_finalize(find);
    sqlite3_finalize(ins);
    sqlite3_finalize(fts);
    sqlite3_finalize(pins);
    appender_free(&a);
    ss_free(x);
    if (!rc) rc = commit(s);
    else rollback(s);
    s->generation++;
    if (rc) return rc; /* rolled back; a declared model stays pending */
    s->pending = 0;
    if (added) *added = count;
    return SS_OK;
}

/* ----------------------------------------------------------------- deleting */

static int delete_where(ss_store *s, sqlite3_stmt *sel, size_t *deleted)
{
    sqlite3_stmt *del = NULL, *fts = NULL, *psel = NULL, *pdel = NULL;
    sqlite3_blob *b = NULL;
    size_t count = 0;
    int split = 0;
    int rc = ss__store_has_passages(s, &split);
    if (!rc) rc = ss__store_prepare(s, "DELETE FROM documents WHERE id = ?1", &del);
    /* a long document's other passages hold slots too */
    if (!rc && split) rc = ss__store_prepare(s, "SELECT block, slot FROM passages WHERE doc = ?1 AND seq > 0", &psel);
    if (!rc && split) rc = ss__store_prepare(s, "DELETE FROM passages WHERE doc = ?1", &pdel);
    if (!rc && s->has_fts)
        rc = ss__store_prepare(s,
                               "INSERT INTO documents_fts(documents_fts, rowid, text) "
                               "SELECT 'delete', id, text FROM documents WHERE id = ?1",
                               &fts);
    /* collect first: deleting while stepping the same table is not allowed */
    int64_t *rows = NULL;
    size_t nrows = 0, cap = 0;
    int r;
    while (!rc && (r = sqlite3_step(sel)) == SQLITE_ROW) {
        if (nrows + 3 > cap) {
            size_t nc = cap ? cap * 2 : 48;
            int64_t *p = ss__realloc(rows, nc * sizeof *p);
            if (!p) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                break;
            }
            rows = p;
            cap = nc;
        }
        rows[nrows++] = sqlite3_column_int64(sel, 0);
        rows[nrows++] = sqlite3_column_int64(sel, 1);
        rows[nrows++] = sqlite3_column_int64(sel, 2);
    }
    if (!rc && r != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "find documents");
    static const int64_t zero = 0;
    for (size_t i = 0; i + 2 < nrows && !rc; i += 3) {
        int64_t id = rows[i], block = rows[i + 1], slot = rows[i + 2];
        if (slot < 0 || slot >= s->block_size) {
            rc = ss__fail(SS_ERR_FORMAT, "%s: document %lld has slot %lld", s->path, (long long)id, (long long)slot);
            break;
        }
        r = b ? sqlite3_blob_reopen(b, block) : sqlite3_blob_open(s->db, "main", "blocks", "ids", block, 1, &b);
        if (r == SQLITE_OK) r = sqlite3_blob_write(b, &zero, 8, (int)(slot * 8));
        if (r != SQLITE_OK) {
            rc = ss__store_sqlerr(s, r, "free a vector slot");
            break;
        }
        if (psel) {
            sqlite3_reset(psel);
            sqlite3_bind_int64(psel, 1, id);
            while (r == SQLITE_OK && (r = sqlite3_step(psel)) == SQLITE_ROW) {
                int64_t pb = sqlite3_column_int64(psel, 0), ps = sqlite3_column_int64(psel, 1);
                if (ps < 0 || ps >= s->block_size) {
                    r = SQLITE_CORRUPT;
                    break;
                }
                r = sqlite3_blob_reopen(b, pb);
                if (r == SQLITE_OK) r = sqlite3_blob_write(b, &zero, 8, (int)(ps * 8));
            }
            sqlite3_reset(psel);
            if (r == SQLITE_DONE) {
                sqlite3_reset(pdel);
                sqlite3_bind_int64(pdel, 1, id);
                r = sqlite3_step(pdel);
            }
            if (r != SQLITE_DONE) {
                rc = ss__store_sqlerr(s, r, "free a passage's vector slot");
                break;
            }
        }
        if (fts) { /* the words of the text about to go */
            sqlite3_reset(fts);
            sqlite3_bind_int64(fts, 1, id);
            if ((r = sqlite3_step(fts)) != SQLITE_DONE) {
                rc = ss__store_sqlerr(s, r, "unindex a document's words");
                break;
            }
        }
        sqlite3_reset(del);
        sqlite3_bind_int64(del, 1, id);
        r = sqlite3_step(del);
        if (r != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "delete a document");
        else count++;
    }
    if (b) sqlite3_blob_close(b);
    sqlite3_finalize(del);
    sqlite3_finalize(fts);
    sqlite3_finalize(psel);
    sqlite3_finalize(pdel);
    ss_free(rows);
    *deleted = count;
    return rc;
}

/* Deletes, in one transaction, what sel selects: once as bound, or (ids)
 * once per id bound as ?1. Finalizes sel. */
static int delete_run(ss_store *s, sqlite3_stmt *sel, const char *const *ids, size_t n, size_t *deleted)
{
    size_t count = 0;
    int rc = ss__store_exec(s, "BEGIN IMMEDIATE");
    /* the high-water mark first: deleting the last document must not give
     * its number to the next one (databases from before the mark get it here) */
    if (!rc) rc = ss__store_exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_doc', " NEXT_DOC_SQL ")");
    if (!ids && !rc) rc = delete_where(s, sel, &count);
    for (size_t i = 0; ids && i < n && !rc; i++) {
        size_t c = 0;
        sqlite3_reset(sel);
        sqlite3_bind_text(sel, 1, ids[i], -1, SQLITE_STATIC);
        rc = delete_where(s, sel, &c);
        count += c;
    }
    sqlite3_finalize(sel);
    /* all of it or, on any error (a full disk), none */
    if (!rc) rc = commit(s);
    else rollback(s);
    s->generation++;
    if (deleted) *deleted = rc ? 0 : count;
    return rc;
}

int ss_store_delete(ss_store *s, const char *id, size_t *deleted)
{
    if (deleted) *deleted = 0;
    if (!s || !id) return ss__fail(SS_ERR_ARG, "ss_store_delete: NULL argument");
    return ss_store_delete_ids(s, &id, 1, deleted);
}

int ss_store_delete_ids(ss_store *s, const char *const *ids, size_t n, size_t *deleted)
{
    if (deleted) *deleted = 0;
    if (!s || (n && !ids)) return ss__fail(SS_ERR_ARG, "ss_store_delete_ids: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!ids[i]) return ss__fail(SS_ERR_ARG, "ss_store_delete_ids: ids[%zu] is NULL", i);
    int rc = writable(s);
    if (rc) return rc;
    sqlite3_stmt *sel;
    rc = ss__store_prepare(s, "SELECT id, block, slot FROM documents WHERE ext_id = ?1", &sel);
    if (rc) return rc;
    return delete_run(s, sel, ids, n, deleted);
}

int ss_store_delete_doc(ss_store *s, int64_t doc, size_t *deleted)
{
    if (deleted) *deleted = 0;
    if (!s) return ss__fail(SS_ERR_ARG, "ss_store_delete_doc: NULL store");
    int rc = writable(s);
    if (rc) return rc;
    sqlite3_stmt *sel;
    rc = ss__store_prepare(s, "SELECT id, block, slot FROM documents WHERE id = ?1", &sel);
    if (rc) return rc;
    sqlite3_bind_int64(sel, 1, doc);
    return delete_run(s, sel, NULL, 0, deleted);
}

int ss_store_delete_source(ss_store *s, const char *source, size_t *deleted)
{
    if (deleted) *deleted = 0;
    if (!s || !source) return ss__fail(SS_ERR_ARG, "ss_store_delete_source: NULL argument");
    int rc = writable(s);
    if (rc) return rc;
    sqlite3_stmt *sel;
    rc = ss__store_prepare(s, "SELECT id, block, slot FROM documents WHERE source = ?1", &sel);
    if (rc) return rc;
    sqlite3_bind_text(sel, 1, source, -1, SQLITE_STATIC);
    return delete_run(s, sel, NULL, 0, deleted);
}

/* --------------------------------------------------------------- re-embedding */

/* One vector of a re-embedding: a document, or one of its passages. */
typedef struct rerow {
    int64_t doc, seq, start, len; /* len -1: the whole text */
} rerow;

int ss_store_reembed(ss_store *s, const ss_store_model *m, ss_store_embed_fn embed, void *ctx, size_t batch)
{
    if (!s || !m || !embed || !m->fingerprint || !*m->fingerprint || m->dim <= 0 || m->dim > 65536)
        return ss__fail(SS_ERR_ARG, "ss_store_reembed: invalid arguments");
    int rc = writable(s);
    if (rc) return rc;
    if (batch == 0) batch = 256;
    rc = ss__store_exec(s, "BEGIN IMMEDIATE");
    if (rc) return rc;
    /* the new model, recorded in this same transaction */
    char *name = ss__strdup(m->name ? m->name : ""), *fp = ss__strdup(m->fingerprint),
         *path = ss__strdup(m->path ? m->path : "");
    rerow *rows = NULL;
    int64_t count = 0;
    size_t cap = 0;
    int split = 0;
    char **texts = ss__calloc(batch, sizeof *texts);
    size_t *lens = ss__calloc(batch, sizeof *lens);
    float *vecs = ss__malloc(batch * (size_t)m->dim * sizeof *vecs), *x = ss__malloc((size_t)m->dim * sizeof *x);
    sqlite3_stmt *get = NULL, *upd = NULL, *pupd = NULL;
    appender a;
    memset(&a, 0, sizeof a);
    if (!name || !fp || !path || !texts || !lens || !vecs || !x) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) rc = ss__store_has_passages(s, &split);
    if (!rc) {
        /* every vector: a document's, or each of its passages (their bytes
         * kept as they were split) */
        sqlite3_stmt *st;
        rc = ss__store_prepare(s,
                               split ? "SELECT d.id, coalesce(p.seq, 0), coalesce(p.start, 0), coalesce(p.len, -1) "
                                       "FROM documents d LEFT JOIN passages p ON p.doc = d.id ORDER BY d.id, p.seq"
                                     : "SELECT id, 0, 0, -1 FROM documents ORDER BY id",
                               &st);
        int r = SQLITE_DONE;
        while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
            if ((size_t)count == cap) {
                size_t nc = cap ? 2 * cap : 1024;
                rerow *q = ss__realloc(rows, nc * sizeof *q);
                if (!q) {
                    rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                    break;
                }
                rows = q;
                cap = nc;
            }
            rows[count++] = (rerow){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                    sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3)};
        }
        if (!rc && r != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "read documents");
        sqlite3_finalize(st);
    }
    if (!rc) rc = ss__store_exec(s, "DELETE FROM blocks; DELETE FROM vectors_f32; DELETE FROM vectors_i8;");
    if (!rc) {
        ss_free(s->model_name);
        ss_free(s->model_fp);
        ss_free(s->model_path);
        s->model_name = name;
        s->model_fp = fp;
        s->model_path = path;
        name = fp = path = NULL;
        s->dim = m->dim;
        s->pending = 1;
        rc = set_meta(s, "model_fingerprint", "", 0, 0); /* so record_model sees no other model */
        if (!rc) rc = record_model(s);
    }
    if (!rc) rc = appender_init(s, &a, 1, (size_t)count);
    if (!rc) rc = ss__store_prepare(s, "SELECT text FROM documents WHERE id = ?1", &get);
    if (!rc) rc = ss__store_prepare(s, "UPDATE documents SET block = ?2, slot = ?3 WHERE id = ?1", &upd);
    if (!rc && split)
        rc = ss__store_prepare(s, "UPDATE passages SET block = ?3, slot = ?4 WHERE doc = ?1 AND seq = ?2", &pupd);
    for (int64_t i0 = 0; i0 < count && !rc; i0 += (int64_t)batch) {
        size_t nb = (size_t)SS_MIN((int64_t)batch, count - i0);
        for (size_t j = 0; j < nb && !rc; j++) {
            const rerow *w = &rows[i0 + (int64_t)j];
            sqlite3_reset(get);
            sqlite3_bind_int64(get, 1, w->doc);
            int r = sqlite3_step(get);
            if (r != SQLITE_ROW) {
                rc = ss__store_sqlerr(s, r == SQLITE_DONE ? SQLITE_CORRUPT : r, "read a document");
                break;
            }
            ss_free(texts[j]);
            const char *t = (const char *)sqlite3_column_text(get, 0);
            size_t tl = (size_t)sqlite3_column_bytes(get, 0), st0 = 0, len = tl;
            if (w->len >= 0) {
                if (w->start < 0 || (size_t)w->start > tl || w->len == 0 || (size_t)w->len > tl - (size_t)w->start) {
                    rc = ss__fail(SS_ERR_FORMAT, "%s: passage %lld of document %lld is not inside its text", s->path,
                                  (long long)w->seq, (long long)w->doc);
                    break;
                }
                st0 = (size_t)w->start;
                len = (size_t)w->len;
            }
            lens[j] = len;
            if (!(texts[j] = ss__strndup(t ? t + st0 : "", t ? len : 0))) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        }
        if (!rc) rc = embed(ctx, (const char *const *)texts, lens, nb, vecs);
        for (size_t j = 0; j < nb && !rc; j++) {
            const rerow *w = &rows[i0 + (int64_t)j];
            rc = normalized(vecs + j * (size_t)m->dim, m->dim, x, (size_t)i0 + j);
            int64_t block;
            int slot;
            if (!rc) rc = appender_slot(s, &a, &block, &slot);
            if (rc) break;
            int r = SQLITE_DONE;
            if (w->seq == 0) {
                sqlite3_reset(upd);
                sqlite3_bind_int64(upd, 1, w->doc);
                sqlite3_bind_int64(upd, 2, block);
                sqlite3_bind_int(upd, 3, slot);
                r = sqlite3_step(upd);
            }
            if (r == SQLITE_DONE && w->len >= 0) {
                sqlite3_reset(pupd);
                sqlite3_bind_int64(pupd, 1, w->doc);
                sqlite3_bind_int64(pupd, 2, w->seq);
                sqlite3_bind_int64(pupd, 3, block);
                sqlite3_bind_int(pupd, 4, slot);
                r = sqlite3_step(pupd);
            }
            if (r != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "move a document");
            else appender_put(s, &a, w->doc, x);
        }
    }
    if (!rc) rc = flush_run(s, &a.u);
    sqlite3_finalize(get);
    sqlite3_finalize(upd);
    sqlite3_finalize(pupd);
    appender_free(&a);
    for (size_t j = 0; texts && j < batch; j++) ss_free(texts[j]);
    ss_free(texts);
    ss_free(lens);
    ss_free(vecs);
    ss_free(x);
    ss_free(rows);
    ss_free(name);
    ss_free(fp);
    ss_free(path);
    if (!rc) rc = commit(s);
    else rollback(s);
    s->generation++;
    if (rc) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", ss_errmsg());
        (void)ss__store_read_meta(s);
        return ss__fail(rc, "%s", saved);
    }
    s->pending = 0;
    return SS_OK;
}

/* ------------------------------------------------------------ reading back */

int ss_store_get(ss_store *s, int64_t doc, ss_store_doc *out)
{
    if (!s || !out) return ss__fail(SS_ERR_ARG, "ss_store_get: NULL argument");
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, "SELECT text, ext_id, source, meta FROM documents WHERE id = ?1", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, doc);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        out->doc = doc;
        char **f[4] = {&out->text, &out->id, &out->source, &out->meta};
        for (int i = 0; i < 4 && !rc; i++) {
            if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                /* NOT NULL in the schema: only a damaged file has none */
                if (i == 0) rc = ss__fail(SS_ERR_FORMAT, "%s: document %lld has no text", s->path, (long long)doc);
                continue;
            }
            const char *t = (const char *)sqlite3_column_text(st, i);
            *f[i] = ss__strndup(t ? t : "", (size_t)sqlite3_column_bytes(st, i));
            if (!*f[i]) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
        }
    } else if (r == SQLITE_DONE) {
        rc = ss__fail(SS_ERR_RANGE, "%s: no document %lld", s->path, (long long)doc);
    } else {
        rc = ss__store_sqlerr(s, r, "read a document");
    }
    sqlite3_finalize(st);
    if (rc) ss_store_doc_clear(out);
    return rc;
}

int ss_store_get_passage(ss_store *s, int64_t doc, int passage, size_t *start, size_t *len)
{
    if (!s || !start || !len) return ss__fail(SS_ERR_ARG, "ss_store_get_passage: NULL argument");
    *start = *len = 0;
    int split = 0, rc = ss__store_has_passages(s, &split);
    if (rc) return rc;
    sqlite3_stmt *st;
    rc = ss__store_prepare(s,
                           split ? "SELECT length(CAST(d.text AS BLOB)), p.start, p.len FROM documents d "
                                   "LEFT JOIN passages p ON p.doc = d.id AND p.seq = ?2 WHERE d.id = ?1"
                                 : "SELECT length(CAST(text AS BLOB)), NULL, NULL FROM documents WHERE id = ?1",
                           &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, doc);
    if (split) sqlite3_bind_int(st, 2, passage);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        int64_t tl = sqlite3_column_int64(st, 0), ps = sqlite3_column_int64(st, 1), pl = sqlite3_column_int64(st, 2);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) { /* not split: passage 0 is the text */
            if (passage == 0) *len = (size_t)tl;
            else rc = ss__fail(SS_ERR_RANGE, "%s: document %lld has no passage %d", s->path, (long long)doc, passage);
        } else if (ps < 0 || pl <= 0 || ps > tl || pl > tl - ps) {
            rc = ss__fail(SS_ERR_FORMAT, "%s: passage %d of document %lld is not inside its text", s->path, passage,
                          (long long)doc);
        } else {
            *start = (size_t)ps;
            *len = (size_t)pl;
        }
    } else if (r == SQLITE_DONE) {
        rc = ss__fail(SS_ERR_RANGE, "%s: no document %lld", s->path, (long long)doc);
    } else {
        rc = ss__store_sqlerr(s, r, "read a passage");
    }
    sqlite3_finalize(st);
    return rc;
}

void ss_store_doc_clear(ss_store_doc *d)
{
    if (!d) return;
    ss_free(d->text);
    ss_free(d->id);
    ss_free(d->source);
    ss_free(d->meta);
    memset(d, 0, sizeof *d);
}

int ss_store_sources(ss_store *s, ss_store_source **sources, size_t *n)
{
    if (!s || !sources || !n) return ss__fail(SS_ERR_ARG, "ss_store_sources: NULL argument");
    *sources = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    /* two passes in one read transaction: the sizes, then the block */
    int rc = ss__store_exec(s, "BEGIN");
    if (rc) return rc;
    rc = ss__store_prepare(s,
                           "SELECT source, count(*) FROM documents GROUP BY source "
                           "ORDER BY source IS NULL, source",
                           &st);
    size_t count = 0, bytes = 0;
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        count++;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) bytes += (size_t)sqlite3_column_bytes(st, 0) + 1;
    }
    if (!rc && r != SQLITE_DONE) rc = ss__store_sqlerr(s, r, "read sources");
    ss_store_source *out = NULL;
    if (!rc && !(out = ss__malloc((count ? count : 1) * sizeof *out + bytes + 1)))
        rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc) {
        sqlite3_reset(st);
        char *text = (char *)(out + (count ? count : 1));
        size_t i = 0, used = 0;
        while (i < count && (r = sqlite3_step(st)) == SQLITE_ROW) {
            out[i].documents = sqlite3_column_int64(st, 1);
            out[i].name = NULL;
            if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
                const char *t = (const char *)sqlite3_column_text(st, 0);
                size_t l = (size_t)sqlite3_column_bytes(st, 0);
                if (used + l + 1 > bytes) break; /* cannot change within the transaction */
                memcpy(text + used, t ? t : "", l);
                text[used + l] = 0;
                out[i].name = text + used;
                used += l + 1;
            }
            i++;
        }
        if (i != count) rc = r == SQLITE_ROW || r == SQLITE_DONE ? ss__fail(SS_ERR_FORMAT, "%s: sources changed while read", s->path)
                                                                 : ss__store_sqlerr(s, r, "read sources");
    }
    if (st) sqlite3_finalize(st);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc) {
        ss_free(out);
        return rc;
    }
    *sources = out;
    *n = count;
    return SS_OK;
}

static int64_t file_size(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = ss__malloc(n);
    if (!p) return 0;
    snprintf(p, n, "%s%s", path, suffix);
    struct stat sb;
    int64_t v = stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
    ss_free(p);
    return v;
}

int ss_store_stats_get(ss_store *s, ss_store_stats *st)
{
    if (!s || !st) return ss__fail(SS_ERR_ARG, "ss_store_stats_get: NULL argument");
    memset(st, 0, sizeof *st);
    int rc = ss__store_exec(s, "BEGIN");
    if (rc) return rc;
    int64_t v = 0;
    if (!s->pending) rc = ss__store_read_meta(s);
    if (!rc) rc = query_int(s, "PRAGMA user_version", &v);
    st->schema_version = (int)v;
    if (!rc) rc = query_int(s, "SELECT count(*) FROM documents", &st->documents);
    if (!rc) rc = query_int(s, "SELECT count(DISTINCT source) FROM documents", &st->sources);
    if (!rc) rc = query_int(s, "SELECT count(*) FROM blocks", &st->blocks);
    int split = 0;
    if (!rc) rc = ss__store_has_passages(s, &split);
    if (!rc && split) rc = query_int(s, "SELECT count(*) FROM passages WHERE seq > 0", &st->passages);
    if (!rc)
        rc = query_int(s,
                       "SELECT coalesce(sum(length(data)), 0) + "
                       "(SELECT coalesce(sum(length(scales) + length(codes)), 0) FROM vectors_i8) "
                       "FROM vectors_f32",
                       &st->vector_bytes);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    st->dim = s->dim;
    st->block_size = s->block_size;
    st->free_slots = st->blocks * s->block_size - st->documents - st->passages;
    st->file_bytes = file_size(s->path, "") + file_size(s->path, "-wal");
    st->has_fts = s->has_fts;
    st->fts_stem = s->fts_stem;
    return rc;
}
