/* cli.h: what every `semsearch` command shares: error reporting, option
 * value parsing, finding shipped data files, checked output. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include <stdio.h>
#include <stddef.h>

#include "semsearch.h"

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* A command: argc/argv start at the command's name. Returns the exit code. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

/* "semsearch: <message>" on stderr; returns 1 (the exit code for errors). */
int cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Reports a library failure: "semsearch: <ss_errmsg()>"; returns 1. */
int cli_lib_error(int rc);
/* Parses an integer/double option value within [lo, hi]; on error prints
 * "semsearch: --opt: ..." and returns -1. */
int cli_int(const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *opt, const char *s, double lo, double hi, double *out);
/* A --pooling value (a name of ss_pooling_name) into *out (SS_POOL_*); else
 * "semsearch: --pooling: ..." and -1. */
int cli_pooling(const char *s, int *out);
/* Usage text to stdout (when asked for) or stderr (on misuse). */
int cli_usage(const char *text, int to_stderr);
/* True when the command has no input but a terminal: it should print usage. */
int cli_stdin_is_tty(void);
/* Finds a shipped data file ("vocab/en-16k.model"): $SEMSEARCH_DATA, then
 * beside the executable (an in-tree build), then the installed data dir.
 * Returns a malloc'd path or NULL. */
char *cli_data_path(const char *rel);
/* Where cli_data_path looked, for a message ("looked for REL under ..."). */
const char *cli_data_where(const char *rel);
/* Flushes stdout; reports a write error (full disk, closed pipe). */
int cli_finish_stdout(int rc);

/* Counts texts that are mostly unknown to the vocabulary (ss_embed_ex's
 * share >= 0.5) and warns, for the first few, "WHAT: NN% of the text is
 * unknown to the vocabulary ..."; cli_unknown_summary() tells the rest. */
typedef struct cli_unknown {
    long long n;
    int shown;
} cli_unknown;
void cli_unknown_check(cli_unknown *u, const float *share, size_t n, const char *what, long long first_no);
void cli_unknown_summary(const cli_unknown *u, const char *things);

/* Whether a and b name one existing regular file (links and hard links
 * included; "-" is never a file). */
int cli_same_file(const char *a, const char *b);
/* Refuses an output that is one of the inputs (it would be replaced by the
 * command's output): prints "CMD: the output ... is the input ..." and
 * returns 2, else 0. */
int cli_output_not_input(const char *cmd, const char *out, const char *const *inputs, int n);

/* An old option spelling, kept one release: "semsearch: warning: CMD OLD
 * is deprecated: use NEW (-X means the same in every command: WHY)". */
void cli_deprecated(const char *cmd, const char *old, const char *use, const char *why);
/* Whether s is a whole number (an option value that cannot be a name). */
int cli_is_number(const char *s);

/* 1 when started by an MPI launcher (mpirun of Open MPI, MPICH's hydra),
 * with this process's rank and the number of processes, read from the
 * launcher's environment: `index` shards without linking MPI. */
int cli_mpi_rank(int *rank, int *size);

/* The CLI's clock: seconds on the monotonic clock (for durations). */
double cli_now(void);

/* A progress line on stderr, only when stderr is a terminal (and not
 * quiet): "\rsemsearch: <text>" redrawn at most 5 times a second (the first
 * call always draws), erased by cli_progress_end so that what follows
 * starts on a clean line. */
typedef struct cli_progress {
    int on, drawn;
    double t0, last;
} cli_progress;
void cli_progress_init(cli_progress *p, int quiet);
void cli_progress_draw(cli_progress *p, int force, const char *fmt, ...) CLI_PRINTF(3, 4);
/* Seconds since cli_progress_init. */
double cli_progress_elapsed(const cli_progress *p);
void cli_progress_end(cli_progress *p);

/* The one JSON string writer: text as a quoted JSON string on stdout,
 * invalid UTF-8 as U+FFFD, '"' '\\' and \n \r \t as two-character escapes,
 * other C0 controls and DEL as \u00XX. */
void cli_json_string(const char *s, size_t len);
/* The FTS5 tokenizer of a full-text index, as info and eval --json name it. */
const char *cli_fts_tokenizer(int stem);

#define CLI_DEFAULT_VOCAB "vocab/en-16k.model"
#define CLI_DEFAULT_MODEL "models/en-base.gguf"

/* The model a command uses: a copy of path when given, else the shipped
 * default model. NULL (after printing why, with hint appended when not
 * NULL) when there is none. free() the result. */
char *cli_model_path(const char *path, const char *hint);

/* The tokenizer of path (a SentencePiece .model or a model file: its
 * embedded tokenizer), or of the shipped default vocabulary when path is
 * NULL. On failure prints why ("no OPT given and the shipped ... was not
 * found (...): pass OPT", or the library's message) and returns 1. */
int cli_tokenizer(const char *path, const char *opt, ss_tokenizer **tok);

#endif
