/* datafile.h: reading the project's data formats (see the data README):
 *   *.groups.tsv   2 or more tab-separated texts that mean the same thing
 *   *.scored.tsv   sentence1 TAB sentence2 TAB score (a finite number)
 *   *.labeled.tsv  sentence1 TAB sentence2 TAB 0 or 1
 *   *.triplets.tsv anchor TAB positive TAB hard negative
 *   anything else  plain text, one sentence a line (tabs are not split)
 * Every file may be gzip-compressed (read through ss__lines). Empty lines
 * are skipped; any other malformed line is an error "FILE:LINE: what". */
#ifndef SS_DATAFILE_H
#define SS_DATAFILE_H

#include <stddef.h>

#include "base/textio.h" /* SS__LINE */

typedef enum ss__data_kind {
    SS__DATA_UNKNOWN = 0, /* name says nothing (stdin, *.tsv, ...) */
    SS__DATA_TEXT,        /* *.txt, *.txt.gz: one text a line */
    SS__DATA_GROUPS,
    SS__DATA_SCORED,
    SS__DATA_LABELED,
    SS__DATA_TRIPLETS     /* *.triplets.tsv: anchor TAB positive TAB negative */
} ss__data_kind;

/* The kind a file name announces: the suffixes above, optionally followed by
 * ".gz". "-" and other names give SS__DATA_UNKNOWN. */
ss__data_kind ss__data_kind_from_name(const char *path);
/* "groups", "scored", "labeled", "triplets", "text" or "unknown". */
const char *ss__data_kind_name(ss__data_kind k);

/* ---------------------------------------------------------------- iterator */

typedef struct ss__data_reader ss__data_reader;

/* One line, split. Pointers stay valid until the next ss__data_next(). */
typedef struct ss__data_row {
    const char *const *text; /* the texts: 2+ (groups), 2 (scored/labeled), 3 (triplets), 1 (text) */
    const size_t *len;       /* their lengths in bytes (texts are also NUL-terminated) */
    size_t n;                /* number of texts */
    double value;            /* score (scored) or 0/1 (labeled); 0 otherwise */
    long lineno;             /* 1-based line number in the file */
} ss__data_row;

/* kind must be TEXT, GROUPS, SCORED, LABELED or TRIPLETS (use ss__data_kind_from_name
 * or the caller's choice). path "-" is stdin. */
int ss__data_open(const char *path, ss__data_kind kind, ss__data_reader **out);
/* SS__LINE (base/textio.h) and a row, 0 at the end, or an SS_ERR_* code with ss_errmsg() set to
 * "FILE:LINE: ...". After an error the reader may be closed only. */
int ss__data_next(ss__data_reader *r, ss__data_row *row);
/* The file name as messages show it ("<stdin>" for "-"). */
const char *ss__data_name(const ss__data_reader *r);
void ss__data_close(ss__data_reader *r);

/* ----------------------------------------------------------------- loaders */

/* Sentence pairs of a scored or labeled file, texts NUL-terminated in one
 * block. value[i] is the score or the 0/1 label of pair i. */
typedef struct ss__pairs {
    size_t n;
    const char **a, **b; /* (n) */
    size_t *alen, *blen; /* (n) */
    double *value;       /* (n) */
    char *pool;          /* owns the texts */
} ss__pairs;

/* Loads every pair; an empty file is SS_ERR_FORMAT "FILE: no pairs". */
int ss__pairs_load(const char *path, ss__data_kind kind, ss__pairs *out);
void ss__pairs_free(ss__pairs *p);

/* Groups: group g holds texts text[start[g] .. start[g+1]). */
typedef struct ss__groups {
    size_t n_groups, n_texts;
    const char **text; /* (n_texts) */
    size_t *len;       /* (n_texts) */
    size_t *start;     /* (n_groups + 1) */
    long *lineno;      /* (n_groups) line of each group, for messages */
    char *pool;
} ss__groups;

/* Loads every group; an empty file is SS_ERR_FORMAT "FILE: no groups". */
int ss__groups_load(const char *path, ss__groups *out);
void ss__groups_free(ss__groups *g);

#endif
