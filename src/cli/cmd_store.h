/* cmd_store.h: what `index`, `query`, `info` and `delete` share. */
#ifndef SS_CMD_STORE_H
#define SS_CMD_STORE_H

#include "semsearch.h"

#define CLI_DEFAULT_DB "semsearch.db"

/* A loaded model and how a database records it. */
typedef struct store_model {
    ss_model *model;
    ss_store_model info; /* strings below */
    char *name, *path;
} store_model;

/* Loads -m PATH, else the model the database records (when that file still
 * exists), else the shipped default. Prints the error itself (returns 1). */
int store_model_load(ss_store *s, const char *path, store_model *out);
void store_model_free(store_model *m);

/* The id `query` prints and `delete --id` takes: a document's external id,
 * or "#N" (its number) for one without; an external id that starts with '#'
 * gets one more '#' in front, so that the two never meet. malloc'd. */
char *store_id_text(const ss_store_doc *d);
/* The reverse: "#N" is document number N (*doc = N, *ext = NULL); "##..."
 * is the external id "#..."; anything else is an external id. 0, or -1 for
 * "#" followed by something that is not a number. */
int store_id_parse(const char *arg, int64_t *doc, const char **ext);

/* A source name as stored: a path's "./" and "/./" parts and repeated
 * slashes dropped, so that `index x` and `index ./x` name one source (and
 * query/delete --source ./x find it). malloc'd; NULL for NULL or out of
 * memory (an error printed). */
char *store_source_name(const char *name);
/* Prints "semsearch: CMD: no source 'NAME' in DB (its sources: ...)" when
 * the database has no document of source NAME, and returns 1; 0 when it
 * has some. */
int store_source_check(ss_store *s, const char *cmd, const char *db, const char *name);

/* Writes text for a TSV field: tab, CR and LF become spaces; on a
 * terminal other control characters are written as \xHH (C1: \u00HH). */
void store_tsv_field(const char *s, size_t len);

#endif
