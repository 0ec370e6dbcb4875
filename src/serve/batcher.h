/* batcher.h: dynamic batching on a fixed pool of encoder workers.
 *
 * A request hands its texts over as one job and waits. A worker takes the
 * first waiting job, then every job that arrives within the batch wait
 * (a few milliseconds) while the batch stays within its token budget, and
 * embeds all their texts in one ss_embed_ex call. The workers share one
 * copy of the model's weights, each through its own handle (ss_model_share:
 * its own scratch buffers), and for /search each has its own read-only
 * handles on the databases (a store handle is for one thread at a time). */
#ifndef SS_SERVE_BATCHER_H
#define SS_SERVE_BATCHER_H

#include <semaphore.h>
#include <stddef.h>

#include <jansson.h>

#include "semsearch.h"

typedef struct batcher_opts {
    const char *model;  /* model file, or NULL: the database's, else the shipped one */
    const char *db;     /* database for /search, or NULL */
    const char *const *more_dbs; /* and these, searched with it as one collection */
    int n_more_dbs;
    int workers;        /* encoder workers (>= 1) */
    size_t max_tokens;  /* token budget of one encoder call */
    int wait_us;        /* how long a worker waits for more jobs to join a batch */
    size_t max_queue;   /* jobs waiting at most (more: 503) */
    float align;        /* search: the alignment weight; < 0 the model's */
} batcher_opts;

typedef struct job {
    /* in */
    int search;                /* 1: search the database with the vectors */
    size_t n;
    const char *const *texts;
    const size_t *lens;
    int k, hybrid;             /* search: hits per query; hybrid 1, 0, or -1 (the database's default) */
    float min_score;
    float align;               /* search: the alignment weight, < 0 the server's */
    const char *source;        /* search: NULL for all */
    /* out */
    float *vecs;               /* embed: (n, dim), the caller's */
    int *tokens;               /* (n) tokens embedded per text (after truncation), the caller's */
    int *truncated;            /* (n) 1 where the text was longer than the model's window, the caller's */
    json_t *results;           /* search: an array of n {"query","results"} objects */
    int status;                /* 0, or the HTTP status of a failure (with msg) */
    char msg[512];
    int *expected;             /* the flag given to batcher_expect, or NULL */
    /* the batcher's */
    sem_t done;                /* posted when the job is answered: only its own caller wakes */
    size_t ntok;
    struct job *next;
} job;

typedef struct batcher batcher;

/* Loads the model (and opens the database) once per worker, then starts the
 * workers. On failure a message is in err and the return is nonzero. */
int batcher_start(const batcher_opts *o, batcher **out, char *err, size_t errlen);
/* Queues a job and waits for it (j->status says how it went). */
void batcher_run(batcher *b, job *j);
/* A request that will bring a job (its headers are in): a worker that has
 * a batch waits (at most the batch wait) for such requests only. *flag is
 * the request's: set here, cleared when its job is queued (job.expected)
 * or by batcher_unexpect when it ends without one. */
void batcher_expect(batcher *b, int *flag);
void batcher_unexpect(batcher *b, int *flag);
/* Lets the workers finish what is queued, joins them, frees everything. */
void batcher_stop(batcher *b);

int batcher_dim(const batcher *b);
int batcher_max_len(const batcher *b);
/* The tokens of a text the model sees (ss_model_window). */
int batcher_window(const batcher *b);
/* The model's tokenizer, to split texts into passages: only read, so any
 * thread may use it. */
ss_tokenizer *batcher_tokenizer(const batcher *b);
const char *batcher_model_name(const batcher *b);
int batcher_has_db(const batcher *b);
/* The model as a database records it (strings owned by the batcher). */
void batcher_store_model(const batcher *b, ss_store_model *m);

#endif
