/* serve.h: `semsearch serve`: embeddings and search over HTTP
 * (libmicrohttpd), OpenAI-compatible, batched under load. The server uses
 * the public API of libsemsearch only. */
#ifndef SS_SERVE_H
#define SS_SERVE_H

#include <stddef.h>

typedef struct serve_opts {
    const char *host;     /* address to listen on (default 127.0.0.1) */
    int port;             /* 0: any free port (printed) */
    const char *model;    /* NULL: the database's model, else the shipped one */
    const char *db;       /* NULL: no /search */
    const char *const *more_dbs; /* further databases searched with db as one
                                    collection (ss_store_query_many) */
    int n_more_dbs;
    const char *api_key;  /* NULL: none (then only a loopback address is allowed) */
    int workers;          /* encoder workers */
    int quiet;            /* no log line per request */
    int allow_write;      /* POST and DELETE /documents (needs db) */
    int passage_tokens;   /* POST /documents: passages of a long text (0: the window) */
    int passage_overlap;  /* tokens consecutive passages share (-1: as index) */
    int no_passages;      /* 1: a long text is cut at the window, not split */
    size_t max_body;      /* bytes of a request body (413 beyond) */
    size_t max_inputs;    /* texts (or queries) per request */
    size_t max_text;      /* bytes per text */
    int max_k;            /* hits per query at most */
    int max_conns;        /* open connections at most */
    int timeout;          /* seconds a connection may stay idle */
    size_t batch_tokens;  /* token budget of one encoder call */
    int batch_wait_us;    /* wait for requests to join a batch */
    size_t max_queue;     /* requests waiting for an encoder at most (503 beyond) */
    float align;          /* /search's alignment weight (ss_store_query_opts.align);
                             < 0: the model's (ss_model_align_weight) */
} serve_opts;

void serve_opts_init(serve_opts *o);
/* Runs until SIGTERM or SIGINT, then finishes the requests in flight.
 * Returns the exit code: 0, 1 (an error, printed), 2 (bad options, printed). */
int serve_run(const serve_opts *o);

/* The same server without a listening socket, for the request fuzzer:
 * serve_connect hands it one end of a connected stream socket (a
 * socketpair), which it serves as a loopback client's; serve_stop finishes
 * the requests in flight and frees it. serve_start_unbound returns 0 or an
 * exit status after a message. */
typedef struct serve_server serve_server;
int serve_start_unbound(const serve_opts *o, serve_server **out);
int serve_connect(serve_server *s, int fd);
void serve_stop(serve_server *s);

#endif
