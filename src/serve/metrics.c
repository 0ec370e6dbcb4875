/* metrics.c: counters behind one mutex, rendered in the Prometheus text
 * format (version 0.0.4): requests by route and status, a latency histogram
 * per route, encoder batch sizes (inputs and tokens), tokens embedded, the
 * queue depth and open connections. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/metrics.h"

static const char *const route_names[RT_COUNT] = {"/v1/embeddings", "/search", "/v1/models", "/health", "/metrics",
                                                  "/documents", "other"};
/* latency buckets (seconds) and batch-size buckets (inputs per encoder call) */
static const double lat_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_LAT (sizeof lat_le / sizeof *lat_le)
static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
#define N_BATCH (sizeof batch_le / sizeof *batch_le)
#define MAX_STATUS 16 /* distinct statuses counted per route */

static struct {
    pthread_mutex_t mu;
    struct {
        int status[MAX_STATUS];
        unsigned long long count[MAX_STATUS];
        unsigned long long lat[N_LAT], lat_n;
        double lat_sum;
    } r[RT_COUNT];
    unsigned long long batch[N_BATCH], batch_n, batch_inputs, tokens;
    long queue, conns;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

void metrics_init(void)
{
    pthread_mutex_lock(&M.mu);
    memset(M.r, 0, sizeof M.r);
    memset(M.batch, 0, sizeof M.batch);
    M.batch_n = M.batch_inputs = M.tokens = 0;
    M.queue = M.conns = 0;
    pthread_mutex_unlock(&M.mu);
}

const char *metrics_route_name(int route)
{
    return route >= 0 && route < RT_COUNT ? route_names[route] : "other";
}

void metrics_request(int route, int status, double seconds)
{
    if (route < 0 || route >= RT_COUNT) route = RT_OTHER;
    pthread_mutex_lock(&M.mu);
    int i;
    for (i = 0; i < MAX_STATUS && M.r[route].status[i] && M.r[route].status[i] != status; i++) {}
    if (i == MAX_STATUS) i = MAX_STATUS - 1; /* more statuses than slots: the last one takes them */
    M.r[route].status[i] = status;
    M.r[route].count[i]++;
    for (size_t b = 0; b < N_LAT; b++)
        if (seconds <= lat_le[b]) M.r[route].lat[b]++;
    M.r[route].lat_n++;
    M.r[route].lat_sum += seconds;
    pthread_mutex_unlock(&M.mu);
}

void metrics_batch(size_t inputs, size_t tokens)
{
    pthread_mutex_lock(&M.mu);
    for (size_t b = 0; b < N_BATCH; b++)
        if ((double)inputs <= batch_le[b]) M.batch[b]++;
    M.batch_n++;
    M.batch_inputs += inputs;
    M.tokens += tokens;
    pthread_mutex_unlock(&M.mu);
}

void metrics_queue_add(int delta)
{
    pthread_mutex_lock(&M.mu);
    M.queue += delta;
    pthread_mutex_unlock(&M.mu);
}

void metrics_conn_add(int delta)
{
    pthread_mutex_lock(&M.mu);
    M.conns += delta;
    pthread_mutex_unlock(&M.mu);
}

typedef struct buf {
    char *p;
    size_t len, cap;
    int failed;
} buf;

static void put(buf *b, const char *fmt, ...)
{
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)k + 1;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

char *metrics_render(size_t *len)
{
    buf b = {malloc(8192), 0, 8192, 0};
    if (!b.p) return NULL;
    b.p[0] = 0;
    pthread_mutex_lock(&M.mu);
    put(&b, "# HELP semsearch_requests_total HTTP requests answered, by route and status.\n"
            "# TYPE semsearch_requests_total counter\n");
    for (int r = 0; r < RT_COUNT; r++)
        for (int i = 0; i < MAX_STATUS && M.r[r].status[i]; i++)
            put(&b, "semsearch_requests_total{route=\"%s\",status=\"%d\"} %llu\n", route_names[r], M.r[r].status[i],
                M.r[r].count[i]);
    put(&b, "# HELP semsearch_request_duration_seconds Time from a request's headers to its answer.\n"
            "# TYPE semsearch_request_duration_seconds histogram\n");
    for (int r = 0; r < RT_COUNT; r++) {
        if (!M.r[r].lat_n) continue;
        for (size_t i = 0; i < N_LAT; i++)
            put(&b, "semsearch_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route_names[r],
                lat_le[i], M.r[r].lat[i]);
        put(&b, "semsearch_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route_names[r],
            M.r[r].lat_n);
        put(&b, "semsearch_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r], M.r[r].lat_sum);
        put(&b, "semsearch_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[r], M.r[r].lat_n);
    }
    put(&b, "# HELP semsearch_batch_inputs Texts per encoder call (requests arriving together share one).\n"
            "# TYPE semsearch_batch_inputs histogram\n");
    for (size_t i = 0; i < N_BATCH; i++)
        put(&b, "semsearch_batch_inputs_bucket{le=\"%g\"} %llu\n", batch_le[i], M.batch[i]);
    put(&b, "semsearch_batch_inputs_bucket{le=\"+Inf\"} %llu\n", M.batch_n);
    put(&b, "semsearch_batch_inputs_sum %llu\nsemsearch_batch_inputs_count %llu\n", M.batch_inputs, M.batch_n);
    put(&b, "# HELP semsearch_tokens_embedded_total Tokens the encoder embedded (after truncation).\n"
            "# TYPE semsearch_tokens_embedded_total counter\nsemsearch_tokens_embedded_total %llu\n",
        M.tokens);
    put(&b, "# HELP semsearch_queue_depth Requests waiting for an encoder worker.\n"
            "# TYPE semsearch_queue_depth gauge\nsemsearch_queue_depth %ld\n",
        M.queue);
    put(&b, "# HELP semsearch_connections Open HTTP connections.\n"
            "# TYPE semsearch_connections gauge\nsemsearch_connections %ld\n",
        M.conns);
    pthread_mutex_unlock(&M.mu);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
