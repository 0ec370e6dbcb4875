/* docinput.c: lines, TSV columns and JSONL fields into documents. JSON is
 * parsed by SQLite's JSON functions on a private :memory: connection. */
#include "config.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "text/docinput.h"

struct ss__docin {
    int format, text_col, id_col;
    char *text_field, *id_field; /* JSONL: the names, for messages */
    char *tpath, *ipath;         /* their JSON paths $."name" (ipath NULL: no id) */
    sqlite3 *db;
    sqlite3_stmt *st;
};

/* A JSON path for a field name: $."name" (names with a quote or a backslash
 * are refused: NULL, as when out of memory). */
static char *json_path(const char *name)
{
    if (strchr(name, '"') || strchr(name, '\\')) return NULL;
    size_t n = strlen(name) + 5;
    char *p = ss__malloc(n);
    if (p) snprintf(p, n, "$.\"%s\"", name);
    return p;
}

void ss__docin_free(ss__docin *d)
{
    if (!d) return;
    if (d->st) sqlite3_finalize(d->st);
    if (d->db) sqlite3_close(d->db);
    ss_free(d->text_field);
    ss_free(d->id_field);
    ss_free(d->tpath);
    ss_free(d->ipath);
    ss_free(d);
}

int ss__docin_new(int format, int text_col, int id_col, const char *text_field, const char *id_field,
                  ss__docin **out)
{
    *out = NULL;
    if (format != SS__DOCIN_LINES && format != SS__DOCIN_TSV && format != SS__DOCIN_JSONL)
        return ss__fail(SS_ERR_ARG, "unknown input format %d", format);
    if (format == SS__DOCIN_TSV && (text_col < 1 || id_col < 0))
        return ss__fail(SS_ERR_ARG, "TSV input: invalid columns %d and %d", text_col, id_col);
    if (format == SS__DOCIN_JSONL && !text_field) return ss__fail(SS_ERR_ARG, "JSONL input: no text field");
    ss__docin *d = ss__calloc(1, sizeof *d);
    if (!d) return ss__fail(SS_ERR_NOMEM, "out of memory");
    d->format = format;
    d->text_col = text_col;
    d->id_col = id_col;
    if (format != SS__DOCIN_JSONL) {
        *out = d;
        return SS_OK;
    }
    int rc = SS_OK;
    if (strchr(text_field, '"') || strchr(text_field, '\\') ||
        (id_field && (strchr(id_field, '"') || strchr(id_field, '\\'))))
        rc = ss__fail(SS_ERR_ARG, "--text-field/--id-field: a field name with a quote or backslash is not supported");
    else if (!(d->text_field = ss__strdup(text_field)) || !(d->tpath = json_path(text_field)) ||
             (id_field && (!(d->id_field = ss__strdup(id_field)) || !(d->ipath = json_path(id_field)))))
        rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc && sqlite3_open_v2(":memory:", &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        rc = ss__fail(SS_ERR_SQL, "cannot open SQLite for JSON parsing");
    /* ?1 the line, ?2 the text path, ?3 the id path (or NULL); the last
     * column is the id's JSON text: an integer id as written (json_extract
     * would turn one beyond int64 into a real, 1.23456789012346e+19) */
    static const char sql[] =
        "SELECT json_valid(?1), json_type(?1), json_type(?1, ?2), json_extract(?1, ?2), "
        "json_type(?1, ?3), json_extract(?1, ?3), "
        "CASE WHEN ?3 IS NULL THEN json_remove(?1, ?2) ELSE json_remove(?1, ?2, ?3) END, "
        "CASE WHEN ?3 IS NULL THEN NULL ELSE ?1 -> ?3 END";
    if (!rc && sqlite3_prepare_v2(d->db, sql, -1, &d->st, NULL) != SQLITE_OK)
        rc = ss__fail(SS_ERR_SQL, "SQLite JSON: %s", sqlite3_errmsg(d->db));
    if (rc) {
        ss__docin_free(d);
        return rc;
    }
    *out = d;
    return SS_OK;
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

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

/* A copy of line without its \u0000 escapes (NULL when it has none, or out
 * of memory: *nomem). SQLite's JSON functions cut a string at a \u0000 ("nul
 * \u0000 char" became "nul "); the rule for text is: drop NUL, keep the rest.
 * A backslash is only ever inside a string in valid JSON, and an escaped
 * backslash (\\u0000) is skipped as a pair. */
static char *drop_nul_escapes(const char *line, size_t len, size_t *out_len, int *nomem)
{
    *nomem = 0;
    int any = 0;
    for (size_t i = 0; i + 1 < len && !any; i++) {
        if (line[i] != '\\') continue;
        if (line[i + 1] == 'u' && i + 6 <= len && !memcmp(line + i + 2, "0000", 4)) any = 1;
        i++;
    }
    if (!any) return NULL;
    char *c = ss__malloc(len ? len : 1);
    if (!c) {
        *nomem = 1;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (line[i] == '\\' && i + 1 < len) {
            if (line[i + 1] == 'u' && i + 6 <= len && !memcmp(line + i + 2, "0000", 4)) {
                i += 6;
                continue;
            }
            c[k++] = line[i++];
        }
        c[k++] = line[i++];
    }
    *out_len = k;
    return c;
}

static int jsonl_line(ss__docin *d, const char *line, size_t len, const char *name, long no, ss__docin_doc *doc)
{
    sqlite3_stmt *st = d->st;
    if (len > INT_MAX) return ss__fail(SS_ERR_FORMAT, "%s:%ld: line too long", name, no);
    int nomem;
    size_t clen = 0;
    char *clean = drop_nul_escapes(line, len, &clen, &nomem);
    if (nomem) return ss__fail(SS_ERR_NOMEM, "out of memory");
    if (clean) sqlite3_bind_text(st, 1, clean, (int)clen, ss_free);
    else sqlite3_bind_text(st, 1, line, (int)len, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, d->tpath, -1, SQLITE_STATIC);
    if (d->ipath) sqlite3_bind_text(st, 3, d->ipath, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 3);
    if (sqlite3_step(st) != SQLITE_ROW) /* SQLite's JSON functions raise "malformed JSON" */
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: not a JSON object (%s)", name, no, sqlite3_errmsg(d->db));
    if (!sqlite3_column_int(st, 0) || strcmp(col_text(st, 1), "object"))
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: not a JSON object", name, no);
    if (sqlite3_column_type(st, 2) == SQLITE_NULL)
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: no \"%s\" field", name, no, d->text_field);
    if (strcmp(col_text(st, 2), "text"))
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: field \"%s\" is not a string", name, no, d->text_field);
    if (d->ipath && sqlite3_column_type(st, 4) == SQLITE_NULL)
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: no \"%s\" field", name, no, d->id_field);
    if (d->ipath && strcmp(col_text(st, 4), "text") && strcmp(col_text(st, 4), "integer"))
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: field \"%s\" is not a string or an integer", name, no,
                        d->id_field);
    const char *text = (const char *)sqlite3_column_text(st, 3);
    size_t tlen = (size_t)sqlite3_column_bytes(st, 3);
    if (!text) {
        if (sqlite3_errcode(d->db) == SQLITE_NOMEM) return ss__fail(SS_ERR_NOMEM, "out of memory");
        text = "", tlen = 0;
    }
    const char *id = NULL;
    size_t idlen = 0;
    if (d->ipath) {
        int col = strcmp(col_text(st, 4), "integer") ? 5 : 7;
        id = (const char *)sqlite3_column_text(st, col);
        idlen = id ? (size_t)sqlite3_column_bytes(st, col) : 0;
    }
    const char *meta = (const char *)sqlite3_column_text(st, 6);
    if (meta && !strcmp(meta, "{}")) meta = NULL;
    if (blank(text, tlen)) return 0;
    *doc = (ss__docin_doc){text, tlen, id, idlen, meta};
    return 1;
}

int ss__docin_parse(ss__docin *d, const char *line, size_t len, const char *name, long lineno,
                    ss__docin_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    if (d->st) { /* the previous line's values are released here */
        sqlite3_reset(d->st);
        sqlite3_clear_bindings(d->st);
    }
    if (blank(line, len)) return 0;
    if (d->format == SS__DOCIN_JSONL) return jsonl_line(d, line, len, name, lineno, doc);
    if (d->format == SS__DOCIN_LINES) {
        *doc = (ss__docin_doc){line, len, NULL, 0, NULL};
        return 1;
    }
    const char *t, *id = NULL;
    size_t tl, il = 0;
    if (tsv_field(line, len, d->text_col, &t, &tl))
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: no column %d", name, lineno, d->text_col);
    if (d->id_col && tsv_field(line, len, d->id_col, &id, &il))
        return ss__fail(SS_ERR_FORMAT, "%s:%ld: no column %d", name, lineno, d->id_col);
    if (blank(t, tl)) return 0;
    *doc = (ss__docin_doc){t, tl, id, il, NULL};
    return 1;
}
