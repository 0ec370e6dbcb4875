/* metrics.h: the server's counters, rendered as Prometheus text (GET /metrics). */
#ifndef SS_SERVE_METRICS_H
#define SS_SERVE_METRICS_H

#include <stddef.h>

/* Routes counted apart (a request to anything else is "other"). */
enum { RT_EMBEDDINGS, RT_SEARCH, RT_MODELS, RT_HEALTH, RT_METRICS, RT_DOCUMENTS, RT_OTHER, RT_COUNT };

void metrics_init(void);
const char *metrics_route_name(int route);
/* One answered request: its route, HTTP status and seconds taken. */
void metrics_request(int route, int status, double seconds);
/* One encoder call: the inputs (texts) and tokens it embedded. */
void metrics_batch(size_t inputs, size_t tokens);
/* Jobs waiting for an encoder worker (a gauge, moved by the batcher). */
void metrics_queue_add(int delta);
/* Connections open now. */
void metrics_conn_add(int delta);
/* The Prometheus text exposition; malloc'd, NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
