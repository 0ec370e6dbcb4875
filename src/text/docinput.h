/* docinput.h: the documents of `semsearch index` input lines: a whole line,
 * one column of a TSV line, or one field of a JSONL object (its other fields
 * kept as the document's metadata). Split out of the command so that the
 * parsing is a library function the fuzz target tests/fuzz/fuzz_datafile.c
 * can reach. */
#ifndef SS_DOCINPUT_H
#define SS_DOCINPUT_H

#include <stddef.h>

enum { SS__DOCIN_LINES = 0, SS__DOCIN_TSV = 1, SS__DOCIN_JSONL = 2 };

typedef struct ss__docin ss__docin;

/* A parsed document: pointers valid until the next ss__docin_parse() or
 * ss__docin_free(). */
typedef struct ss__docin_doc {
    const char *text; /* not NUL-terminated in general: use len */
    size_t len;
    const char *id;   /* NULL when none; idlen bytes */
    size_t idlen;
    const char *meta; /* the other JSON fields as a JSON object text, or NULL */
} ss__docin_doc;

/* format SS__DOCIN_*. TSV: the text is column text_col (from 1), the id
 * column id_col (0: none). JSONL: the text is field text_field, the id field
 * id_field (NULL: none); a name with a quote or backslash is SS_ERR_ARG. */
int ss__docin_new(int format, int text_col, int id_col, const char *text_field, const char *id_field,
                  ss__docin **out);
/* One input line (name and lineno for messages): 1 and a document, 0 when the
 * line or its text is blank (nothing to index), or SS_ERR_FORMAT with
 * ss_errmsg() "NAME:LINE: what is wrong". */
int ss__docin_parse(ss__docin *d, const char *line, size_t len, const char *name, long lineno,
                    ss__docin_doc *doc);
void ss__docin_free(ss__docin *d);

#endif
