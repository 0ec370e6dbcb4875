/* serve.c: the HTTP side of `semsearch serve`: routing, limits, the API
 * key, request and response JSON (jansson), logging and shutdown. The
 * embedding itself happens in the batcher's workers (batcher.c).
 *
 * libmicrohttpd runs one thread per connection (up to max_conns), so a
 * request may block while its job waits in the batcher: requests arriving
 * together then share one encoder call. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <microhttpd.h>

#include "semsearch.h"
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/serve.h"

void serve_opts_init(serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->workers = 1;
    o->max_body = (size_t)4 << 20;
    o->max_inputs = 2048;
    o->max_text = 64 * 1024;
    o->max_k = 1000;
    o->align = -1;
    o->max_conns = 64;
    o->timeout = 30;
    o->batch_tokens = 16384;
    o->batch_wait_us = 2000;
    o->max_queue = 1024;
    o->passage_overlap = -1;
}

typedef struct server {
    const serve_opts *o;
    batcher *b;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    long inflight; /* requests between their headers and their end */
    pthread_mutex_t wmu; /* the writer: one connection, one write at a time */
    ss_store *writer;    /* with --allow-write */
    int ptokens;         /* passage size of POST /documents */
} server;

typedef struct req {
    int route;
    double t0;
    char method[16];
    char url[160];
    char peer[64];
    char *body;
    size_t len, cap;
    int too_large;
    size_t discarded;
    int status;
    size_t inputs, tokens;
    int expected; /* announced to the batcher */
} req;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result send_text(struct MHD_Connection *c, req *r, int status, const char *type, char *text,
                                 size_t len)
{
    /* text is malloc'd; the response owns it */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route == RT_EMBEDDINGS || r->route == RT_SEARCH ? "POST"
                                : r->route == RT_DOCUMENTS                         ? "POST, DELETE"
                                                                                   : "GET, HEAD");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, req *r, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    if (!s) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        s = strdup(oom);
        status = 503;
        if (!s) return MHD_NO;
    }
    size_t len = strlen(s);
    s[len] = '\n'; /* json_dumps leaves room for the NUL only: write over it */
    return send_text(c, r, status, "application/json", s, len + 1);
}

/* {"error": {"message", "type", "param", "code"}}: OpenAI's error shape. */
static enum MHD_Result send_error(struct MHD_Connection *c, req *r, int status, const char *code, const char *fmt,
                                  ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *type = status == 401 ? "authentication_error"
                       : status == 404 ? "not_found_error"
                       : status == 403 ? "permission_error"
                       : status == 429 || status == 503 ? "overloaded_error"
                       : status >= 500 ? "server_error" : "invalid_request_error";
    json_t *e = json_pack("{s:{s:s,s:s,s:n,s:s?}}", "error", "message", msg, "type", type, "param", "code", code);
    if (!e) { /* a message jansson refused (it is ours, ASCII; only memory) */
        e = json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", "error", "type", type, "param", "code");
    }
    return send_json(c, r, status, e);
}

/* ------------------------------------------------------------ routes */

static int route_of(const char *url)
{
    if (!strcmp(url, "/v1/embeddings") || !strcmp(url, "/embeddings")) return RT_EMBEDDINGS;
    if (!strcmp(url, "/search") || !strcmp(url, "/v1/search")) return RT_SEARCH;
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) return RT_MODELS;
    if (!strcmp(url, "/health")) return RT_HEALTH;
    if (!strcmp(url, "/metrics")) return RT_METRICS;
    if (!strcmp(url, "/documents")) return RT_DOCUMENTS;
    return RT_OTHER;
}

/* Constant time in the key's length and contents: every byte of the key is
 * compared whatever the given one is. */
static int key_ok(const char *key, const char *given)
{
    size_t lk = strlen(key), lg = strlen(given);
    unsigned char d = lk != lg;
    for (size_t i = 0; i < lk; i++) d |= (unsigned char)(key[i] ^ (lg ? given[i % lg] : 0));
    return d == 0;
}

static int authorized(server *S, struct MHD_Connection *c)
{
    if (!S->o->api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ') h++;
    return key_ok(S->o->api_key, h);
}

/* ------------------------------------------------------------ request JSON */

/* Texts of "input" or "query": a string or a non-empty array of strings,
 * each non-empty, within the limits. Returns 0, or an HTTP status with msg. */
static int get_texts(server *S, json_t *v, const char *field, const char ***texts, size_t **lens, size_t *n,
                     int *single, char *msg, size_t msglen)
{
    const serve_opts *o = S->o;
    *texts = NULL;
    *lens = NULL;
    *n = 0;
    if (!v) {
        snprintf(msg, msglen, "'%s' is required: a string or an array of strings", field);
        return 400;
    }
    size_t k = json_is_array(v) ? json_array_size(v) : 1;
    *single = !json_is_array(v);
    if (!json_is_string(v) && !json_is_array(v)) {
        snprintf(msg, msglen, "'%s' must be a string or an array of strings", field);
        return 400;
    }
    if (k == 0) {
        snprintf(msg, msglen, "'%s' is an empty array: give at least one text", field);
        return 400;
    }
    if (k > o->max_inputs) {
        snprintf(msg, msglen, "'%s' has %zu texts; at most %zu per request", field, k, o->max_inputs);
        return 400;
    }
    *texts = malloc(k * sizeof **texts);
    *lens = malloc(k * sizeof **lens);
    if (!*texts || !*lens) {
        snprintf(msg, msglen, "out of memory");
        return 503;
    }
    for (size_t i = 0; i < k; i++) {
        json_t *t = *single ? v : json_array_get(v, i);
        if (!json_is_string(t)) {
            if (json_is_integer(t) || json_is_array(t))
                snprintf(msg, msglen, "'%s'[%zu] is not a string (token ids are not accepted: send the text)", field,
                         i);
            else snprintf(msg, msglen, "'%s'[%zu] is not a string", field, i);
            return 400;
        }
        const char *s = json_string_value(t);
        size_t len = json_string_length(t);
        size_t sp = 0;
        while (sp < len && strchr(" \t\r\n\v\f", s[sp]) && s[sp]) sp++;
        if (len == 0 || sp == len) {
            if (*single) snprintf(msg, msglen, "'%s' is empty", field);
            else snprintf(msg, msglen, "'%s'[%zu] is empty", field, i);
            return 400;
        }
        if (len > o->max_text) {
            snprintf(msg, msglen, "'%s'[%zu] has %zu bytes; at most %zu per text", field, i, len, o->max_text);
            return 400;
        }
        (*texts)[i] = s;
        (*lens)[i] = len;
    }
    *n = k;
    return 0;
}

static json_t *parse_body(req *r, char *msg, size_t msglen)
{
    json_error_t e;
    if (!r->len) {
        snprintf(msg, msglen, "the request has no body: send a JSON object");
        return NULL;
    }
    json_t *j = json_loadb(r->body, r->len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        snprintf(msg, msglen, "invalid JSON: %s (line %d, column %d)", e.text, e.line, e.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msglen, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* The /v1/embeddings answer, written straight into one buffer rather than
 * built from jansson values: one json_real per number, printed with "%.9g",
 * was 40% of serve's time under load (perf, #15). Written here are only
 * numbers (ss_floats_to_text) and base64 (OpenAI's encoding_format=base64:
 * little-endian float32 through OpenSSL's encoder; no character of either
 * needs escaping); the one string, the model's name, goes through jansson's
 * encoder. Returns 0 with *text (malloc'd) and *len, or the HTTP status of
 * a failure: 500 for a float answer with a NaN or an infinity (JSON cannot
 * carry them; ss_floats_to_text checks), 503 when out of memory. */
static int embeddings_json(const job *j, int dim, int b64mode, const char *model, size_t tokens, char **text,
                           size_t *len)
{
    int status = 503;
    json_t *js = json_string(model);
    char *name = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    size_t n = j->n, d = (size_t)dim;
    size_t per = b64mode ? (d * 4 + 2) / 3 * 4 + 2 : SS_FLOATS_TEXT_MAX(d) + 2;
    size_t cap = name ? 160 + strlen(name) + n * (per + 64) + n * 21 : 0;
    unsigned char *raw = b64mode ? malloc(d * 4 + 1) : NULL;
    char *out = name ? malloc(cap) : NULL, *p = out;
    if (!out || (b64mode && !raw) || d * 4 > INT_MAX) goto fail;
    p += sprintf(p, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        const float *x = j->vecs + i * d;
        p += sprintf(p, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        if (b64mode) {
            for (size_t k = 0; k < d; k++) { /* little-endian f32, as OpenAI's clients decode it */
                uint32_t u;
                memcpy(&u, x + k, 4);
                raw[4 * k] = (unsigned char)u;
                raw[4 * k + 1] = (unsigned char)(u >> 8);
                raw[4 * k + 2] = (unsigned char)(u >> 16);
                raw[4 * k + 3] = (unsigned char)(u >> 24);
            }
            *p++ = '"';
            p += EVP_EncodeBlock((unsigned char *)p, raw, (int)(d * 4));
            *p++ = '"';
        } else {
            size_t w;
            *p++ = '[';
            if (ss_floats_to_text(x, d, ',', p, SS_FLOATS_TEXT_MAX(d), &w)) {
                status = 500;
                goto fail;
            }
            p += w;
            *p++ = ']';
        }
        *p++ = '}';
    }
    p += sprintf(p, "],\"model\":%s,\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}", name, tokens, tokens);
    /* not OpenAI's: which inputs were cut to the model's window */
    int any = 0;
    for (size_t i = 0; i < n; i++)
        if (j->truncated[i]) p += sprintf(p, "%s%zu", any++ ? "," : ",\"truncated\":[", i);
    if (any) *p++ = ']';
    *p++ = '}';
    *p++ = '\n';
    *len = (size_t)(p - out);
    *text = out;
    free(name);
    free(raw);
    return 0;
fail:
    free(name);
    free(raw);
    free(out);
    return status;
}

/* ------------------------------------------------------------ handlers */

static enum MHD_Result do_embeddings(server *S, struct MHD_Connection *c, req *r)
{
    char msg[512];
    json_t *body = parse_body(r, msg, sizeof msg);
    if (!body) return send_error(c, r, 400, "invalid_json", "%s", msg);
    const char **texts = NULL;
    size_t *lens = NULL, n = 0;
    int single, st, b64mode = 0, dim = batcher_dim(S->b);
    json_t *v;
    enum MHD_Result ret;
    if ((st = get_texts(S, json_object_get(body, "input"), "input", &texts, &lens, &n, &single, msg, sizeof msg))) {
        ret = send_error(c, r, st, st == 400 ? "invalid_input" : NULL, "%s", msg);
        goto out;
    }
    if ((v = json_object_get(body, "model")) && !json_is_string(v) && !json_is_null(v)) {
        ret = send_error(c, r, 400, "invalid_model", "'model' must be a string");
        goto out;
    }
    if ((v = json_object_get(body, "encoding_format")) && !json_is_null(v)) {
        const char *f = json_string_value(v);
        if (f && !strcmp(f, "base64")) b64mode = 1;
        else if (!f || strcmp(f, "float") != 0) {
            ret = send_error(c, r, 400, "invalid_encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
            goto out;
        }
    }
    if ((v = json_object_get(body, "dimensions")) && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) != dim)) {
        ret = send_error(c, r, 400, "invalid_dimensions", "'dimensions': this model gives %d-dimensional vectors only", dim);
        goto out;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.n = n;
    j.texts = texts;
    j.lens = lens;
    j.vecs = malloc(n * (size_t)dim * sizeof *j.vecs);
    j.tokens = malloc(n * sizeof *j.tokens);
    j.truncated = malloc(n * sizeof *j.truncated);
    if (!j.vecs || !j.tokens || !j.truncated) {
        ret = send_error(c, r, 503, NULL, "out of memory");
    } else {
        r->inputs = n;
        j.expected = &r->expected;
        batcher_run(S->b, &j);
        if (j.status) {
            ret = send_error(c, r, j.status, NULL, "%s", j.msg);
        } else {
            size_t tokens = 0, len;
            for (size_t i = 0; i < n; i++) tokens += (size_t)j.tokens[i];
            r->tokens = tokens;
            char *text;
            int fail = embeddings_json(&j, dim, b64mode, batcher_model_name(S->b), tokens, &text, &len);
            ret = !fail         ? send_text(c, r, 200, "application/json", text, len)
                  : fail == 500 ? send_error(c, r, 500, NULL, "the model gave a value that is not a number")
                                : send_error(c, r, 503, NULL, "out of memory");
        }
    }
    free(j.vecs);
    free(j.tokens);
    free(j.truncated);
out:
    free(texts);
    free(lens);
    json_decref(body);
    return ret;
}

static enum MHD_Result do_search(server *S, struct MHD_Connection *c, req *r)
{
    char msg[512];
    json_t *body = parse_body(r, msg, sizeof msg);
    if (!body) return send_error(c, r, 400, "invalid_json", "%s", msg);
    const char **texts = NULL;
    size_t *lens = NULL, n = 0;
    int single, st;
    enum MHD_Result ret;
    job j;
    memset(&j, 0, sizeof j);
    j.k = 10;
    j.hybrid = -1;
    j.min_score = -INFINITY;
    j.align = -1;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (!strcmp(key, "query")) continue;
        if (!strcmp(key, "k")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > S->o->max_k) {
                ret = send_error(c, r, 400, "invalid_k", "'k' must be an integer from 1 to %d", S->o->max_k);
                goto out;
            }
            j.k = (int)json_integer_value(v);
        } else if (!strcmp(key, "hybrid")) {
            if (!json_is_boolean(v)) {
                ret = send_error(c, r, 400, "invalid_hybrid", "'hybrid' must be true or false");
                goto out;
            }
            j.hybrid = json_is_true(v);
        } else if (!strcmp(key, "source")) {
            if (!json_is_string(v) && !json_is_null(v)) {
                ret = send_error(c, r, 400, "invalid_source", "'source' must be a string");
                goto out;
            }
            j.source = json_string_value(v);
        } else if (!strcmp(key, "min_score")) {
            if (!json_is_number(v) && !json_is_null(v)) {
                ret = send_error(c, r, 400, "invalid_min_score", "'min_score' must be a number");
                goto out;
            }
            if (json_is_number(v)) j.min_score = (float)json_number_value(v);
        } else if (!strcmp(key, "align")) {
            if (!json_is_null(v) && (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= 100))) {
                ret = send_error(c, r, 400, "invalid_align", "'align' must be a number from 0 to 100");
                goto out;
            }
            if (json_is_number(v)) j.align = (float)json_number_value(v);
        } else {
            ret = send_error(c, r, 400, "unknown_field",
                             "unknown field '%.100s' (query, k, hybrid, source, min_score, align)", key);
            goto out;
        }
    }
    if (!batcher_has_db(S->b)) {
        ret = send_error(c, r, 400, "no_database", "no database: start the server with -d DB to search");
        goto out;
    }
    if ((st = get_texts(S, json_object_get(body, "query"), "query", &texts, &lens, &n, &single, msg, sizeof msg))) {
        ret = send_error(c, r, st, st == 400 ? "invalid_query" : NULL, "%s", msg);
        goto out;
    }
    j.search = 1;
    j.n = n;
    j.texts = texts;
    j.lens = lens;
    r->inputs = n;
    j.expected = &r->expected;
    batcher_run(S->b, &j);
    if (j.status) {
        ret = send_error(c, r, j.status, NULL, "%s", j.msg);
    } else if (single) {
        json_t *one = json_incref(json_array_get(j.results, 0));
        ret = send_json(c, r, 200, one);
    } else {
        ret = send_json(c, r, 200, json_pack("{s:O}", "queries", j.results));
    }
    json_decref(j.results);
out:
    free(texts);
    free(lens);
    json_decref(body);
    return ret;
}

static enum MHD_Result do_models(server *S, struct MHD_Connection *c, req *r)
{
    return send_json(c, r, 200,
                     json_pack("{s:s,s:[{s:s,s:s,s:i,s:s,s:i,s:i}]}", "object", "list", "data", "id",
                               batcher_model_name(S->b), "object", "model", "created", 0, "owned_by", "semsearch",
                               "dimensions", batcher_dim(S->b), "max_tokens", batcher_max_len(S->b)));
}

static enum MHD_Result do_metrics(struct MHD_Connection *c, req *r)
{
    size_t len = 0;
    char *t = metrics_render(&len);
    if (!t) return send_error(c, r, 503, NULL, "out of memory");
    return send_text(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", t, len);
}

/* The answer to a failed write: the client's fault (400), a full disk (507
 * Insufficient Storage: nothing was written, retry once there is room), or
 * the server's (500). */
static int write_status(int rc, const char *why)
{
    if (rc == SS_ERR_ARG || rc == SS_ERR_NUMERIC) return 400;
    if (strstr(why, "disk is full") || strstr(why, "No space left")) return 507;
    return 500;
}

/* POST /documents {"documents": [{"text", "id", "source", "meta"}]}: embeds
 * and adds them in one transaction, as `semsearch index` does: texts
 * already stored are skipped (before embedding), a text longer than the
 * model's window is split into passages of whole words, each with its own
 * vector (--no-passages: cut at the window instead, and counted). */
static enum MHD_Result do_add(server *S, struct MHD_Connection *c, req *r, json_t *body)
{
    json_t *list = json_object_get(body, "documents");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return send_error(c, r, 400, "invalid_documents", "'documents' must be a non-empty array of {\"text\", \"id\", \"source\", \"meta\"}");
    size_t n = json_array_size(list), i;
    if (n > S->o->max_inputs)
        return send_error(c, r, 400, "invalid_documents", "'documents' has %zu documents; at most %zu per request", n, S->o->max_inputs);
    int dim = batcher_dim(S->b);
    ss_doc *docs = calloc(n, sizeof *docs), *fresh = calloc(n, sizeof *fresh);
    char **metas = calloc(n, sizeof *metas);
    unsigned char *is_new = calloc(n, 1);
    ss_passage *pass = NULL;
    const char **texts = NULL;
    size_t *lens = NULL, np = 0, nn = 0, nsplit = 0, ncut = 0;
    job j;
    memset(&j, 0, sizeof j);
    enum MHD_Result ret = MHD_NO;
    int done = 0;
    if (!docs || !fresh || !metas || !is_new) {
        ret = send_error(c, r, 503, NULL, "out of memory");
        done = 1;
    }
    for (i = 0; i < n && !done; i++) {
        json_t *d = json_array_get(list, i), *t = json_object_get(d, "text"), *v;
        if (!json_is_object(d) || !json_is_string(t) || json_string_length(t) == 0) {
            ret = send_error(c, r, 400, "invalid_documents", "documents[%zu] must be an object with a non-empty \"text\" string", i);
            done = 1;
            break;
        }
        if (json_string_length(t) > S->o->max_text) {
            ret = send_error(c, r, 400, "invalid_documents", "documents[%zu] has %zu bytes; at most %zu per text", i, json_string_length(t), S->o->max_text);
            done = 1;
            break;
        }
        docs[i].text = json_string_value(t);
        docs[i].len = json_string_length(t);
        const char *key;
        json_object_foreach(d, key, v)
        {
            if (!strcmp(key, "text")) continue;
            if (!strcmp(key, "id") || !strcmp(key, "source")) {
                if (!json_is_string(v) && !json_is_null(v)) {
                    ret = send_error(c, r, 400, "invalid_documents", "documents[%zu].%s must be a string", i, key);
                    done = 1;
                    break;
                }
                if (key[0] == 'i') docs[i].id = json_string_value(v);
                else docs[i].source = json_string_value(v);
            } else if (!strcmp(key, "meta")) {
                if (!json_is_null(v) && !(metas[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))) {
                    ret = send_error(c, r, 503, NULL, "out of memory");
                    done = 1;
                    break;
                }
                docs[i].meta = metas[i];
            } else {
                ret = send_error(c, r, 400, "unknown_field", "documents[%zu]: unknown field '%.100s' (text, id, source, meta)", i, key);
                done = 1;
                break;
            }
        }
    }
    /* the texts not stored yet (a re-sent batch embeds nothing) */
    if (!done) {
        pthread_mutex_lock(&S->wmu);
        int rc = ss_store_filter_new(S->writer, docs, n, is_new);
        const char *why = rc ? ss_errmsg() : "";
        if (rc) ret = send_error(c, r, write_status(rc, why), NULL, "adding: %s", why);
        pthread_mutex_unlock(&S->wmu);
        done = rc != 0;
        for (i = 0; i < n && !done; i++)
            if (is_new[i]) fresh[nn++] = docs[i];
    }
    /* their passages: one per text that fits the window */
    size_t pcap = 0;
    for (i = 0; i < nn && !done; i++) {
        ss_passage *p = NULL;
        size_t k = 0;
        int rc = S->o->no_passages ? SS_OK
                                   : ss_split_passages(batcher_tokenizer(S->b), fresh[i].text, fresh[i].len, S->ptokens,
                                                       S->o->passage_overlap, i, &p, &k);
        if (!rc && S->o->no_passages) k = 1;
        if (!rc && np + k > pcap) {
            size_t nc = pcap ? 2 * pcap : 2 * nn;
            while (nc < np + k) nc *= 2;
            ss_passage *q = realloc(pass, nc * sizeof *q);
            const char **t = q ? realloc(texts, nc * sizeof *t) : NULL;
            size_t *l = t ? realloc(lens, nc * sizeof *l) : NULL;
            if (q) pass = q;
            if (t) texts = t;
            if (l) lens = l;
            if (!q || !t || !l) rc = SS_ERR_NOMEM;
            else pcap = nc;
        }
        for (size_t e = 0; !rc && e < k; e++) {
            pass[np] = p ? p[e] : (ss_passage){i, 0, fresh[i].len};
            texts[np] = fresh[i].text + pass[np].start;
            lens[np] = pass[np].len;
            np++;
        }
        if (k > 1) nsplit++;
        ss_free(p);
        if (rc) {
            ret = send_error(c, r, rc == SS_ERR_NOMEM ? 503 : 500, NULL, "documents[%zu]: %s", i,
                             rc == SS_ERR_NOMEM ? "out of memory" : ss_errmsg());
            done = 1;
        }
    }
    if (!done && np) {
        j.vecs = malloc(np * (size_t)dim * sizeof *j.vecs);
        j.tokens = malloc(np * sizeof *j.tokens);
        j.truncated = malloc(np * sizeof *j.truncated);
        if (!j.vecs || !j.tokens || !j.truncated) {
            ret = send_error(c, r, 503, NULL, "out of memory");
            done = 1;
        }
    }
    if (!done && np) {
        j.n = np;
        j.texts = texts;
        j.lens = lens;
        r->inputs = np;
        j.expected = &r->expected;
        batcher_run(S->b, &j);
        if (j.status) {
            ret = send_error(c, r, j.status, NULL, "%s", j.msg);
            done = 1;
        }
        for (i = 0; i < np && !done; i++) ncut += j.truncated[i] != 0;
    }
    if (!done) {
        size_t added = 0;
        int rc = SS_OK;
        pthread_mutex_lock(&S->wmu);
        if (nn) rc = ss_store_add_passages(S->writer, fresh, nn, pass, j.vecs, np, &added);
        const char *why = rc ? ss_errmsg() : "";
        if (rc) {
            int st = write_status(rc, why);
            ret = send_error(c, r, st, st == 507 ? "insufficient_storage" : NULL, "adding: %s", why);
        }
        pthread_mutex_unlock(&S->wmu);
        json_t *ans = rc ? NULL
                         : json_pack("{s:I,s:I,s:I,s:I}", "added", (json_int_t)added, "skipped", (json_int_t)(n - added),
                                     "split", (json_int_t)nsplit, "passages", (json_int_t)(nsplit ? np : 0));
        if (ans && S->o->no_passages) json_object_set_new(ans, "cut", json_integer((json_int_t)ncut));
        if (!rc) ret = send_json(c, r, 200, ans);
    }
    for (i = 0; metas && i < n; i++) free(metas[i]);
    free(metas);
    free(docs);
    free(fresh);
    free(is_new);
    free(pass);
    free(texts);
    free(lens);
    free(j.vecs);
    free(j.tokens);
    free(j.truncated);
    return ret;
}

/* DELETE /documents {"id": "X"} or {"ids": [...]} or {"source": "NAME"}. */
static enum MHD_Result do_delete(server *S, struct MHD_Connection *c, req *r, json_t *body)
{
    json_t *id = json_object_get(body, "id"), *ids = json_object_get(body, "ids"), *src = json_object_get(body, "source");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    if (strcmp(key, "id") && strcmp(key, "ids") && strcmp(key, "source"))
        return send_error(c, r, 400, "unknown_field", "unknown field '%.100s' (id, ids, source)", key);
    if ((id != NULL) + (ids != NULL) + (src != NULL) != 1 || (id && !json_is_string(id)) || (src && !json_is_string(src)) ||
        (ids && !json_is_array(ids)))
        return send_error(c, r, 400, "invalid_delete", "give one of \"id\": a string, \"ids\": an array of strings, \"source\": a string");
    size_t k = ids ? json_array_size(ids) : 1, total = 0;
    for (size_t i = 0; ids && i < k; i++)
        if (!json_is_string(json_array_get(ids, i))) return send_error(c, r, 400, "invalid_delete", "ids[%zu] is not a string", i);
    const char **list = src ? NULL : malloc((k ? k : 1) * sizeof *list);
    if (!src && !list) return send_error(c, r, 503, NULL, "out of memory");
    for (size_t i = 0; list && i < k; i++) list[i] = json_string_value(ids ? json_array_get(ids, i) : id);
    pthread_mutex_lock(&S->wmu);
    /* one transaction for the whole request: a failure partway (a full
     * disk) deletes nothing */
    int rc = src ? ss_store_delete_source(S->writer, json_string_value(src), &total)
                 : ss_store_delete_ids(S->writer, list, k, &total);
    free(list);
    enum MHD_Result ret;
    if (rc) {
        const char *why = ss_errmsg();
        int st = write_status(rc, why);
        ret = send_error(c, r, st, st == 507 ? "insufficient_storage" : NULL, "deleting: %s", why);
    }
    else ret = send_json(c, r, 200, json_pack("{s:I}", "deleted", (json_int_t)total));
    pthread_mutex_unlock(&S->wmu);
    return ret;
}

static enum MHD_Result do_documents(server *S, struct MHD_Connection *c, req *r)
{
    if (!S->writer) return send_error(c, r, 403, "writing_disabled", "writing is off: start the server with --allow-write -d DB");
    char msg[512];
    json_t *body = parse_body(r, msg, sizeof msg);
    if (!body) return send_error(c, r, 400, "invalid_json", "%s", msg);
    enum MHD_Result ret = strcmp(r->method, "DELETE") == 0 ? do_delete(S, c, r, body) : do_add(S, c, r, body);
    json_decref(body);
    return ret;
}

/* ------------------------------------------------------------ MHD callbacks */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    server *S = cls;
    req *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *con_cls = r;
        r->t0 = now();
        r->route = route_of(url);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->url, sizeof r->url, "%s", url);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->peer, sizeof r->peer);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->peer, sizeof r->peer);
        }
        if (!r->peer[0]) snprintf(r->peer, sizeof r->peer, "-");
        pthread_mutex_lock(&S->mu);
        S->inflight++;
        pthread_mutex_unlock(&S->mu);
        /* what can be answered from the headers alone is answered now */
        int post = r->route == RT_EMBEDDINGS || r->route == RT_SEARCH || r->route == RT_DOCUMENTS;
        if (r->route == RT_OTHER) return send_error(c, r, 404, "not_found", "no route %.100s %.100s (POST /v1/embeddings, POST /search, POST and DELETE /documents, GET /v1/models, GET /health, GET /metrics)", method, url);
        int del = r->route == RT_DOCUMENTS && !strcmp(method, "DELETE");
        if (post ? strcmp(method, "POST") != 0 && !del : strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return send_error(c, r, 405, "method_not_allowed", "%s %s: use %s", method, url,
                              r->route == RT_DOCUMENTS ? "POST or DELETE" : post ? "POST" : "GET");
        if (r->route != RT_HEALTH && !authorized(S, c))
            return send_error(c, r, 401, "invalid_api_key", "a valid API key is required: send 'Authorization: Bearer KEY'");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (post && cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || end == cl || v > S->o->max_body)
                return send_error(c, r, 413, "payload_too_large", "the request body is over %zu bytes", S->o->max_body);
        }
        if (post) batcher_expect(S->b, &r->expected);
        return MHD_YES;
    }
    if (r->status) { /* answered from the headers: the rest is ignored */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* a body without a Content-Length (chunked) can still grow past the
         * limit: its rest is read and dropped, then 413; a client that goes
         * on far beyond is disconnected */
        size_t k = *upload_size;
        *upload_size = 0;
        if (r->too_large || r->len + k > S->o->max_body) {
            r->too_large = 1;
            r->discarded += k;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return r->discarded > 16 * S->o->max_body ? MHD_NO : MHD_YES;
        }
        if (r->len + k + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + k + 1) cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb) return MHD_NO;
            r->body = nb;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload, k);
        r->len += k;
        return MHD_YES;
    }
    if (r->too_large)
        return send_error(c, r, 413, "payload_too_large", "the request body is over %zu bytes", S->o->max_body);
    switch (r->route) {
    case RT_EMBEDDINGS: return do_embeddings(S, c, r);
    case RT_SEARCH: return do_search(S, c, r);
    case RT_MODELS: return do_models(S, c, r);
    case RT_HEALTH: return send_json(c, r, 200, json_pack("{s:s}", "status", "ok"));
    case RT_METRICS: return do_metrics(c, r);
    case RT_DOCUMENTS: return do_documents(S, c, r);
    default: return send_error(c, r, 404, "not_found", "no such route");
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    server *S = cls;
    req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    batcher_unexpect(S->b, &r->expected);
    double dt = now() - r->t0;
    /* a client gone before its answer: 499, as nginx logs it */
    int status = r->status ? r->status : 499;
    metrics_request(r->route, status, dt);
    if (!S->o->quiet) {
        const char *how = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                          : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)"
                          : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? " (shutdown)"
                          : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT || toe == MHD_REQUEST_TERMINATED_READ_ERROR
                              ? " (client gone)"
                              : " (error)";
        char extra[64] = "";
        if (r->inputs) snprintf(extra, sizeof extra, " %zu input%s", r->inputs, r->inputs == 1 ? "" : "s");
        if (r->tokens) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %zu tokens", r->tokens);
        fprintf(stderr, "semsearch: %s \"%s %s\" %d %.1f ms%s%s\n", r->peer, r->method, r->url, status, dt * 1e3, extra,
                how);
    }
    free(r->body);
    free(r);
    pthread_mutex_lock(&S->mu);
    if (--S->inflight == 0) pthread_cond_broadcast(&S->idle);
    pthread_mutex_unlock(&S->mu);
}

static void conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode t)
{
    metrics_conn_add(t == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const serve_opts *o = cls;
    if (o->quiet) return;
    char m[512];
    vsnprintf(m, sizeof m, fmt, ap);
    size_t l = strlen(m);
    while (l && (m[l - 1] == '\n' || m[l - 1] == '\r')) m[--l] = 0;
    fprintf(stderr, "semsearch: http: %s\n", m);
}

/* ------------------------------------------------------------ run */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

/* The server's state, its writer and its batcher: 0, or an exit status
 * after a message (nothing left to free). */
static int server_setup(const serve_opts *o, server *S)
{
    if (o->allow_write && (!o->db || o->n_more_dbs)) {
        fprintf(stderr, "semsearch: serve: --allow-write needs -d DB, %s\n",
                o->db ? "one database (writes to shards would not know which one)" : "a database");
        return 2;
    }
    metrics_init();
    batcher_opts bo = {o->model, o->db, o->more_dbs, o->n_more_dbs, o->workers, o->batch_tokens, o->batch_wait_us,
                       o->max_queue, o->align};
    char err[1024];
    memset(S, 0, sizeof *S);
    S->o = o;
    if (o->allow_write && ss_store_open(o->db, SS_STORE_CREATE, &S->writer) != SS_OK) {
        fprintf(stderr, "semsearch: serve: %s\n", ss_errmsg());
        return 1;
    }
    if (batcher_start(&bo, &S->b, err, sizeof err)) {
        fprintf(stderr, "semsearch: serve: %s\n", err);
        ss_store_close(S->writer);
        return 1;
    }
    int window = batcher_window(S->b);
    S->ptokens = o->passage_tokens ? o->passage_tokens : window;
    if (o->passage_tokens > window || o->passage_overlap >= S->ptokens) {
        if (o->passage_tokens > window)
            fprintf(stderr, "semsearch: serve: --passage-tokens %d is more than the model's window of %d tokens\n",
                    o->passage_tokens, window);
        else
            fprintf(stderr, "semsearch: serve: --passage-overlap %d must be less than the passages' %d tokens\n",
                    o->passage_overlap, S->ptokens);
        ss_store_close(S->writer);
        batcher_stop(S->b);
        return 2;
    }
    if (S->writer) {
        ss_store_model sm;
        batcher_store_model(S->b, &sm);
        if (ss_store_use_model(S->writer, &sm) != SS_OK) {
            fprintf(stderr, "semsearch: serve: %s\n", ss_errmsg());
            ss_store_close(S->writer);
            batcher_stop(S->b);
            return 1;
        }
    }
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->idle, NULL);
    pthread_mutex_init(&S->wmu, NULL);
    return 0;
}

static void server_teardown(server *S)
{
    batcher_stop(S->b);
    ss_store_close(S->writer);
    pthread_mutex_destroy(&S->wmu);
    pthread_mutex_destroy(&S->mu);
    pthread_cond_destroy(&S->idle);
}

/* The requests in flight finish (30 s at most). */
static void server_drain(server *S)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&S->mu);
    while (S->inflight > 0)
        if (pthread_cond_timedwait(&S->idle, &S->mu, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&S->mu);
}

struct serve_server {
    server S;
    struct MHD_Daemon *d;
};

int serve_start_unbound(const serve_opts *o, serve_server **out)
{
    *out = NULL;
    serve_server *v = calloc(1, sizeof *v);
    if (!v) {
        fprintf(stderr, "semsearch: serve: out of memory\n");
        return 1;
    }
    int rc = server_setup(o, &v->S);
    if (rc) {
        free(v);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_AUTO | MHD_USE_NO_LISTEN_SOCKET;
    v->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, &v->S, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)o,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, &v->S, MHD_OPTION_NOTIFY_CONNECTION, conn_notify,
                            &v->S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout, MHD_OPTION_END);
    if (!v->d) {
        fprintf(stderr, "semsearch: serve: cannot start the HTTP daemon\n");
        server_teardown(&v->S);
        free(v);
        return 1;
    }
    *out = v;
    return 0;
}

int serve_connect(serve_server *v, int fd)
{
    struct sockaddr_in peer; /* what the log shows for it */
    memset(&peer, 0, sizeof peer);
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return MHD_add_connection(v->d, fd, (const struct sockaddr *)&peer, sizeof peer) == MHD_YES ? 0 : -1;
}

void serve_stop(serve_server *v)
{
    if (!v) return;
    MHD_quiesce_daemon(v->d);
    server_drain(&v->S);
    MHD_stop_daemon(v->d);
    server_teardown(&v->S);
    free(v);
}

int serve_run(const serve_opts *o)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int e = getaddrinfo(o->host, NULL, &hints, &ai);
    if (e || !ai) {
        fprintf(stderr, "semsearch: serve: --host %s: %s\n", o->host, e ? gai_strerror(e) : "no address");
        return 2;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (addr.ss_family == AF_INET) ((struct sockaddr_in *)(void *)&addr)->sin_port = htons((uint16_t)o->port);
    else ((struct sockaddr_in6 *)(void *)&addr)->sin6_port = htons((uint16_t)o->port);
    if (!o->api_key && !is_loopback((struct sockaddr *)&addr)) {
        fprintf(stderr, "semsearch: serve: refusing to listen on %s, not a loopback address, without an API key: "
                        "give --api-key KEY (or SEMSEARCH_API_KEY)\n", o->host);
        return 2;
    }

    /* SIGTERM and SIGINT are taken by sigwait below; every thread started
     * from here on has them (and SIGPIPE: a client gone) blocked */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);

    server S;
    int rc = server_setup(o, &S);
    if (rc) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, handle, &S, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)o,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, completed, &S, MHD_OPTION_NOTIFY_CONNECTION, conn_notify, &S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "semsearch: serve: cannot listen on %s port %d: %s\n", o->host, o->port,
                errno ? strerror(errno) : "failed");
        server_teardown(&S);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = di ? di->port : o->port;
    int v6 = addr.ss_family == AF_INET6;
    char shown[INET6_ADDRSTRLEN] = "";
    inet_ntop(addr.ss_family,
              v6 ? (void *)&((struct sockaddr_in6 *)(void *)&addr)->sin6_addr : (void *)&((struct sockaddr_in *)(void *)&addr)->sin_addr,
              shown, sizeof shown);
    fprintf(stderr, "semsearch: serving on http://%s%s%s:%d (model %s, %d-d%s%s)\n", v6 ? "[" : "", shown,
            v6 ? "]" : "", port, batcher_model_name(S.b), batcher_dim(S.b), o->db ? ", database " : "",
            o->db ? o->db : "");
    if (o->n_more_dbs) fprintf(stderr, "semsearch: searching %d databases as one collection\n", o->n_more_dbs + 1);
    fflush(stderr);

    int sig = 0;
    sigset_t wait_for;
    sigemptyset(&wait_for);
    sigaddset(&wait_for, SIGTERM);
    sigaddset(&wait_for, SIGINT);
    while (sigwait(&wait_for, &sig) != 0) {}
    if (!o->quiet) fprintf(stderr, "semsearch: %s: finishing the requests in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* no new connections; the requests in flight finish (30 s at most) */
    MHD_socket ls = MHD_quiesce_daemon(d);
    server_drain(&S);
    MHD_stop_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    server_teardown(&S);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!o->quiet) fprintf(stderr, "semsearch: stopped\n");
    return 0;
}
