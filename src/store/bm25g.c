/* bm25g.c: BM25 over several stores' statistics (bm25g.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "base/common.h"
#include "store/bm25g.h"

/* The counts of one store: int64 rows, tokens, nphrase, df[nphrase]. */
static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx)
{
    (void)api, (void)fts;
    (*(int64_t *)ctx)++;
    return SQLITE_OK;
}

static void fts_stats(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                      sqlite3_value **val)
{
    (void)nval, (void)val;
    int64_t out[3 + SS__FTS_MAX_WORDS];
    sqlite3_int64 rows = 0, tokens = 0;
    int rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &tokens);
    int np = api->xPhraseCount(fts);
    if (np > SS__FTS_MAX_WORDS) np = SS__FTS_MAX_WORDS;
    out[0] = rows;
    out[1] = tokens;
    out[2] = np;
    for (int i = 0; i < np && rc == SQLITE_OK; i++) {
        out[3 + i] = 0;
        rc = api->xQueryPhrase(fts, i, &out[3 + i], count_row);
    }
    if (rc != SQLITE_OK) sqlite3_result_error_code(ctx, rc);
    else sqlite3_result_blob(ctx, out, (int)((3 + (size_t)np) * sizeof *out), SQLITE_TRANSIENT);
}

/* STATS: doubles avgdl, nphrase, idf[nphrase]. As fts5Bm25Function. */
static void bm25g(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                  sqlite3_value **val)
{
    const double k1 = 1.2, b = 0.75;
    if (nval < 1 || sqlite3_value_bytes(val[0]) < 2 * (int)sizeof(double)) {
        sqlite3_result_error(ctx, "ss_bm25g: no statistics", -1);
        return;
    }
    const double *g = sqlite3_value_blob(val[0]);
    int np = (int)g[1];
    if (np < 0 || np > SS__FTS_MAX_WORDS || np != api->xPhraseCount(fts) ||
        sqlite3_value_bytes(val[0]) != (int)((2 + (size_t)np) * sizeof(double))) {
        sqlite3_result_error(ctx, "ss_bm25g: statistics of another query", -1);
        return;
    }
    double avgdl = g[0], freq[SS__FTS_MAX_WORDS];
    for (int i = 0; i < np; i++) freq[i] = 0.0;
    int ninst = 0, rc = api->xInstCount(fts, &ninst);
    for (int i = 0; i < ninst && rc == SQLITE_OK; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK && ip >= 0 && ip < np) freq[ip] += 1.0; /* one column, weight 1 */
    }
    int ntok = 0;
    if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &ntok);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double D = (double)ntok, score = 0.0;
    for (int i = 0; i < np; i++)
        score += (g[2 + i] * ((freq[i] * (k1 + 1.0)) / (freq[i] + k1 * (1 - b + b * D / avgdl))));
    sqlite3_result_double(ctx, -1.0 * score);
}

/* The two functions on s's connection, once. */
static int ensure_functions(ss_store *s)
{
    if (s->bm25g_ready) return SS_OK;
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(s->db, "SELECT fts5(?1)", -1, &st, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (!api) return ss__fail(SS_ERR_SQL, "%s: SQLite has no FTS5 API", s->path);
    r = api->xCreateFunction(api, "ss_fts_stats", NULL, fts_stats, NULL);
    if (r == SQLITE_OK) r = api->xCreateFunction(api, "ss_bm25g", NULL, bm25g, NULL);
    if (r != SQLITE_OK) return ss__store_sqlerr(s, r, "full-text functions");
    s->bm25g_ready = 1;
    return SS_OK;
}

/* Runs a stats query (?1 the expression or none): adds its blob to *g. */
static int add_stats(ss_store *s, const char *sql, const char *expr, ss__bm25_stats *g, int *found)
{
    sqlite3_stmt *st;
    int rc = ss__store_prepare(s, sql, &st);
    if (rc) return rc;
    if (expr) sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *found = 0;
    if (r == SQLITE_ROW) {
        const int64_t *v = sqlite3_column_blob(st, 0);
        int bytes = sqlite3_column_bytes(st, 0);
        if (!v || bytes < 3 * (int)sizeof *v || v[2] < 0 || v[2] > SS__FTS_MAX_WORDS ||
            bytes != (int)((3 + (size_t)v[2]) * sizeof *v)) {
            rc = ss__fail(SS_ERR_SQL, "%s: full-text statistics of the wrong size", s->path);
        } else {
            *found = 1;
            g->rows += v[0];
            g->tokens += v[1];
            if (expr) {
                if (g->nphrase == 0) g->nphrase = (int)v[2];
                if (g->nphrase != (int)v[2])
                    rc = ss__fail(SS_ERR_SQL, "%s: the query has %d phrases here, %d elsewhere", s->path, (int)v[2],
                                  g->nphrase);
                for (int i = 0; !rc && i < g->nphrase; i++) g->df[i] += v[3 + i];
            }
        }
    } else if (r != SQLITE_DONE) {
        rc = ss__store_sqlerr(s, r, "full-text statistics");
    }
    sqlite3_finalize(st);
    return rc;
}

int ss__bm25g_stats(ss_store *s, const char *text, ss__bm25_stats *g)
{
    int rc = ensure_functions(s);
    if (rc || !text) return rc;
    char *expr = NULL;
    if ((rc = ss__fts_expr(text, &expr))) return rc;
    int found = 0;
    if (expr)
        rc = add_stats(s, "SELECT ss_fts_stats(documents_fts) FROM documents_fts WHERE documents_fts MATCH ?1 LIMIT 1",
                       expr, g, &found);
    /* no document has a word of the query: the store's size still counts */
    if (!rc && !found) rc = add_stats(s, "SELECT ss_fts_stats(documents_fts) FROM documents_fts LIMIT 1", NULL, g, &found);
    ss_free(expr);
    return rc;
}

int ss__bm25g_top(ss_store *s, const char *text, const char *source, const ss__bm25_stats *g, int n, int64_t *docs,
                  double *scores, int *got)
{
    *got = 0;
    if (!text || g->rows <= 0 || g->nphrase <= 0) return SS_OK; /* no word matches anywhere */
    int rc = ensure_functions(s);
    if (rc) return rc;
    double stats[2 + SS__FTS_MAX_WORDS];
    stats[0] = (double)g->tokens / (double)g->rows; /* as fts5Bm25GetData */
    stats[1] = g->nphrase;
    for (int i = 0; i < g->nphrase; i++) {
        double nhit = (double)g->df[i], idf = log(((double)g->rows - nhit + 0.5) / (nhit + 0.5));
        if (idf <= 0.0) idf = 1e-6;
        stats[2 + i] = idf;
    }
    sqlite3_stmt *st;
    rc = ss__store_prepare(s,
                           source ? "SELECT d.id, ss_bm25g(documents_fts, ?3) AS r FROM documents_fts f JOIN documents d "
                                    "ON d.id = f.rowid WHERE documents_fts MATCH ?1 AND d.source = ?4 ORDER BY r LIMIT ?2"
                                  : "SELECT rowid, ss_bm25g(documents_fts, ?3) AS r FROM documents_fts WHERE "
                                    "documents_fts MATCH ?1 ORDER BY r LIMIT ?2",
                           &st);
    if (rc) return rc;
    sqlite3_bind_blob(st, 3, stats, (int)((2 + (size_t)g->nphrase) * sizeof(double)), SQLITE_STATIC);
    if (source) sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
    int r;
    rc = ss__fts_top(st, text, n, docs, scores, got, &r);
    sqlite3_finalize(st);
    if (rc == SS_ERR_SQL) return ss__store_sqlerr(s, r, "full-text search");
    return rc;
}
