/* batcher.c: the job queue and the encoder workers (see batcher.h). Only
 * the public API of libsemsearch is used, as any application would. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "semsearch.h"
#include "serve/batcher.h"
#include "serve/metrics.h"

typedef struct worker {
    struct batcher *b;
    pthread_t thread;
    int started;
    ss_model *model;
    ss_store *store;   /* the first database (NULL: none) */
    ss_store **stores; /* all of them: store, then more_dbs */
    int ns;
    /* the batch being embedded */
    const char **texts;
    size_t *lens;
    float *vecs, *unknown;
    size_t cap;
} worker;

struct batcher {
    batcher_opts o;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* a job was queued, or stop */
    job *head, *tail;
    size_t queued;
    long arriving; /* requests announced (batcher_expect) and not queued yet */
    int stop;
    worker *w;
    int n_workers;
    int dim, max_len, extra, has_fts;
    float align; /* the default alignment weight of a search */
    char model_name[256];
    char *model_path, *model_abs;
};

/* ------------------------------------------------------------ tokens */

/* Tokens each text of j gets (after truncation to the model's window) and
 * whether it was truncated; j->ntok is the sum. */
static int count_tokens(batcher *b, worker *w, job *j)
{
    ss_tokenizer *tok = ss_model_tokenizer(w->model);
    int room = b->max_len - b->extra;
    j->ntok = 0;
    for (size_t i = 0; i < j->n; i++) {
        int32_t *ids = NULL;
        size_t k = 0;
        int rc = ss_tokenizer_encode(tok, j->texts[i], j->lens[i], &ids, &k);
        ss_free(ids);
        if (rc) {
            snprintf(j->msg, sizeof j->msg, "input %zu: %s", i, ss_errmsg());
            return j->status = 500;
        }
        int t = (int)(k < (size_t)room ? k : (size_t)room) + b->extra;
        if (j->tokens) j->tokens[i] = t;
        if (j->truncated) j->truncated[i] = k > (size_t)room;
        j->ntok += (size_t)t;
    }
    return 0;
}

/* ------------------------------------------------------------ search */

/* A JSON string of text; text that is not valid UTF-8 (jansson refuses it)
 * is repaired the library's way (ss_normalize: invalid bytes become U+FFFD). */
static json_t *json_text(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j) return j;
    char *fixed = NULL;
    size_t fl = 0;
    if (ss_normalize(s, len, 0, &fixed, &fl) == SS_OK) j = json_stringn(fixed, fl);
    ss_free(fixed);
    return j ? j : json_string("");
}

static json_t *doc_hit(ss_store *s, const char *db, const ss_hit *h, int rank)
{
    ss_store_doc d;
    if (ss_store_get(s, h->doc, &d) != SS_OK) return NULL; /* deleted meanwhile */
    size_t tl = strlen(d.text), ps = 0, pl = tl;
    if (ss_store_get_passage(s, h->doc, h->passage, &ps, &pl) != SS_OK || ps > tl || pl > tl - ps) {
        ps = 0;
        pl = tl;
    }
    /* the fields and the order of `semsearch query --json` */
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(rank));
    json_object_set_new(o, "score", json_real(h->score));
    json_object_set_new(o, "id", d.id ? json_text(d.id, strlen(d.id)) : json_null());
    json_object_set_new(o, "doc", json_integer((json_int_t)d.doc));
    if (db) json_object_set_new(o, "db", json_text(db, strlen(db))); /* several databases */
    json_object_set_new(o, "text", json_text(d.text, tl));
    if (d.source) json_object_set_new(o, "source", json_text(d.source, strlen(d.source)));
    if (d.meta) {
        json_t *m = json_loads(d.meta, JSON_DECODE_ANY, NULL);
        json_object_set_new(o, "meta", m ? m : json_string(d.meta));
    }
    if (pl < tl) {
        json_t *p = json_object();
        json_object_set_new(p, "number", json_integer(h->passage));
        json_object_set_new(p, "start", json_integer((json_int_t)ps));
        json_object_set_new(p, "length", json_integer((json_int_t)pl));
        json_object_set_new(o, "passage", p);
    }
    ss_store_doc_clear(&d);
    return o;
}

static void search_job(batcher *b, worker *w, job *j, const float *q)
{
    if (!w->store) {
        snprintf(j->msg, sizeof j->msg, "no database: start the server with -d DB to search");
        j->status = 400;
        return;
    }
    if (j->source) {
        int found = 0;
        for (int d = 0; d < w->ns && !found; d++) {
            ss_store_source *src = NULL;
            size_t n = 0;
            if (ss_store_sources(w->stores[d], &src, &n) == SS_OK) {
                for (size_t i = 0; i < n && !found; i++) found = src[i].name && !strcmp(src[i].name, j->source);
            } else {
                found = 1; /* the search will say what is wrong */
            }
            ss_free(src);
        }
        if (!found) {
            snprintf(j->msg, sizeof j->msg, "no source '%.200s' in the database%s", j->source, w->ns > 1 ? "s" : "");
            j->status = 400;
            return;
        }
    }
    ss_store_query_opts o;
    ss_store_query_opts_init(&o);
    o.k = j->k;
    o.min_score = j->min_score;
    o.source = j->source;
    o.hybrid = j->hybrid < 0 ? b->has_fts : j->hybrid;
    o.texts = j->texts;
    o.align = j->align < 0 ? b->align : j->align;
    o.align_model = w->model; /* this worker's: its own thread */
    size_t k = (size_t)j->k;
    ss_hit *hits = malloc(j->n * k * sizeof *hits);
    int *cnt = malloc(j->n * sizeof *cnt);
    int *which = w->ns > 1 ? malloc(j->n * k * sizeof *which) : NULL;
    if (!hits || !cnt || (w->ns > 1 && !which)) {
        free(hits);
        free(cnt);
        free(which);
        snprintf(j->msg, sizeof j->msg, "out of memory");
        j->status = 503;
        return;
    }
    int rc = w->ns > 1 ? ss_store_query_many(w->stores, (size_t)w->ns, q, j->n, &o, hits, which, cnt)
                       : ss_store_query(w->store, q, j->n, &o, hits, cnt);
    if (rc) {
        snprintf(j->msg, sizeof j->msg, "search: %s", ss_errmsg());
        j->status = rc == SS_ERR_ARG || rc == SS_ERR_RANGE ? 400 : 500;
    } else {
        j->results = json_array();
        for (size_t i = 0; i < j->n; i++) {
            json_t *r = json_object(), *list = json_array();
            json_object_set_new(r, "query", json_text(j->texts[i], j->lens[i]));
            int rank = 0;
            for (int h = 0; h < cnt[i]; h++) {
                int d = which ? which[i * k + (size_t)h] : 0;
                json_t *x = doc_hit(w->stores[d], which ? (d ? b->o.more_dbs[d - 1] : b->o.db) : NULL,
                                    hits + i * k + (size_t)h, rank + 1);
                if (x) {
                    rank++;
                    json_array_append_new(list, x);
                }
            }
            json_object_set_new(r, "results", list);
            json_array_append_new(j->results, r);
        }
    }
    free(hits);
    free(cnt);
    free(which);
}

/* ------------------------------------------------------------ workers */

static int grow(worker *w, size_t n, int dim)
{
    if (n <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    const char **t = realloc(w->texts, cap * sizeof *t);
    if (t) w->texts = t;
    size_t *l = realloc(w->lens, cap * sizeof *l);
    if (l) w->lens = l;
    float *v = realloc(w->vecs, cap * (size_t)dim * sizeof *v);
    if (v) w->vecs = v;
    float *u = realloc(w->unknown, cap * sizeof *u);
    if (u) w->unknown = u;
    if (!t || !l || !v || !u) return -1;
    w->cap = cap;
    return 0;
}

/* Wakes each job's caller, and only it: one condition for all jobs woke
 * every waiting connection thread per batch (32 clients: 6 futex calls per
 * request, #15). A job belongs to its caller once posted: not touched after. */
static void finish(job **batch, size_t nb)
{
    for (size_t i = 0; i < nb; i++) sem_post(&batch[i]->done);
}

static job *pop(batcher *b)
{
    job *j = b->head;
    if (j) {
        b->head = j->next;
        if (!b->head) b->tail = NULL;
        b->queued--;
        metrics_queue_add(-1);
    }
    return j;
}

static void push_front(batcher *b, job *j)
{
    j->next = b->head;
    b->head = j;
    if (!b->tail) b->tail = j;
    b->queued++;
    metrics_queue_add(1);
    pthread_cond_signal(&b->work);
}

static void *work(void *arg)
{
    worker *w = arg;
    batcher *b = w->b;
    size_t cap = 16, nb;
    job **batch = malloc(cap * sizeof *batch);
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->head && !b->stop) pthread_cond_wait(&b->work, &b->mu);
        job *j = pop(b);
        pthread_mutex_unlock(&b->mu);
        if (!j) break; /* stopping, and nothing left */
        if (!batch) { /* out of memory: answer it alone, failed */
            snprintf(j->msg, sizeof j->msg, "out of memory");
            j->status = 503;
            finish(&j, 1);
            batch = malloc(cap * sizeof *batch);
            continue;
        }
        nb = 0;
        size_t total = 0;
        if (!count_tokens(b, w, j)) {
            batch[nb++] = j;
            total = j->ntok;
        } else {
            finish(&j, 1);
        }
        /* more jobs, while they come within the wait and fit the budget */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)b->o.wait_us * 1000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (nb > 0 && total < b->o.max_tokens) {
            pthread_mutex_lock(&b->mu);
            /* wait only for requests on their way (headers in, body being
             * read): a lone client is not made to wait for company */
            while (!b->head && !b->stop && b->arriving > 0)
                if (pthread_cond_timedwait(&b->work, &b->mu, &until) == ETIMEDOUT) break;
            j = pop(b);
            pthread_mutex_unlock(&b->mu);
            if (!j) break;
            if (count_tokens(b, w, j)) {
                finish(&j, 1);
                continue;
            }
            if (total + j->ntok > b->o.max_tokens) { /* the next batch's first */
                pthread_mutex_lock(&b->mu);
                push_front(b, j);
                pthread_mutex_unlock(&b->mu);
                break;
            }
            if (nb == cap) {
                job **nbat = realloc(batch, 2 * cap * sizeof *batch);
                if (!nbat) {
                    pthread_mutex_lock(&b->mu);
                    push_front(b, j);
                    pthread_mutex_unlock(&b->mu);
                    break;
                }
                batch = nbat;
                cap *= 2;
            }
            batch[nb++] = j;
            total += j->ntok;
        }
        if (!nb) continue;
        /* one encoder call for every text of the batch */
        size_t n = 0;
        for (size_t i = 0; i < nb; i++) n += batch[i]->n;
        int rc = 0;
        if (grow(w, n, b->dim)) {
            rc = 1;
            for (size_t i = 0; i < nb; i++) {
                snprintf(batch[i]->msg, sizeof batch[i]->msg, "out of memory");
                batch[i]->status = 503;
            }
        }
        if (!rc) {
            size_t o = 0;
            for (size_t i = 0; i < nb; i++)
                for (size_t t = 0; t < batch[i]->n; t++, o++) {
                    w->texts[o] = batch[i]->texts[t];
                    w->lens[o] = batch[i]->lens[t];
                }
            if ((rc = ss_embed_ex(w->model, w->texts, w->lens, n, 0, w->vecs, w->unknown)) != SS_OK) {
                for (size_t i = 0; i < nb; i++) {
                    snprintf(batch[i]->msg, sizeof batch[i]->msg, "embedding failed: %s", ss_errmsg());
                    batch[i]->status = 500;
                }
            } else {
                metrics_batch(n, total);
            }
        }
        if (!rc) {
            size_t o = 0;
            for (size_t i = 0; i < nb; i++) {
                job *x = batch[i];
                const float *v = w->vecs + o * (size_t)b->dim;
                if (x->vecs) memcpy(x->vecs, v, x->n * (size_t)b->dim * sizeof *v);
                if (x->search) search_job(b, w, x, v);
                o += x->n;
            }
        }
        finish(batch, nb);
    }
    free(batch);
    return NULL;
}

/* ------------------------------------------------------------ start, stop */

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return 1;
}

int batcher_start(const batcher_opts *o, batcher **out, char *err, size_t errlen)
{
    *out = NULL;
    batcher *b = calloc(1, sizeof *b);
    if (!b) return fail(err, errlen, "out of memory");
    b->o = *o;
    if (b->o.workers < 1) b->o.workers = 1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    b->w = calloc((size_t)b->o.workers, sizeof *b->w);
    if (!b->w) {
        batcher_stop(b);
        return fail(err, errlen, "out of memory");
    }
    /* the model: -m, else the one the database records (while its file is
     * there), else the shipped one: the policy of `semsearch query` */
    char *lib = NULL;
    int rc = SS_OK;
    if (o->model) {
        b->model_path = strdup(o->model);
    } else {
        const char *recorded = NULL;
        ss_store *s = NULL;
        ss_store_model rec;
        if (o->db && (rc = ss_store_open(o->db, SS_STORE_READONLY, &s)) != SS_OK) {
            snprintf(err, errlen, "%s", ss_errmsg());
            batcher_stop(b);
            return 1;
        }
        if (s && ss_store_get_model(s, &rec) == SS_OK && rec.path && *rec.path) recorded = rec.path;
        rc = o->db ? ss_store_model_path(recorded, &lib) : ss_default_model_path(&lib);
        ss_store_close(s);
        if (rc) {
            snprintf(err, errlen, "no -m given: %s: pass -m MODEL", ss_errmsg());
            batcher_stop(b);
            return 1;
        }
        b->model_path = strdup(lib);
        ss_free(lib);
    }
    if (!b->model_path) {
        batcher_stop(b);
        return fail(err, errlen, "out of memory");
    }
    char abs[PATH_MAX];
    b->model_abs = strdup(realpath(b->model_path, abs) ? abs : b->model_path);
    const char *slash = strrchr(b->model_path, '/');
    snprintf(b->model_name, sizeof b->model_name, "%s", slash ? slash + 1 : b->model_path);
    for (int i = 0; i < b->o.workers; i++) {
        worker *w = &b->w[i];
        w->b = b;
        /* one copy of the weights: the other workers get handles on it */
        rc = i == 0 ? ss_model_load(b->model_path, &w->model) : ss_model_share(b->w[0].model, &w->model);
        if (rc != SS_OK) {
            snprintf(err, errlen, "%s", ss_errmsg());
            batcher_stop(b);
            return 1;
        }
        if (i == 0) {
            ss_config c;
            ss_model_config(w->model, &c);
            ss_tokenizer *tok = ss_model_tokenizer(w->model);
            b->dim = ss_model_dim(w->model);
            b->align = o->align < 0 ? ss_model_align_weight(w->model) : o->align;
            b->max_len = c.max_len;
            b->extra = (ss_tokenizer_bos_id(tok) >= 0) + (ss_tokenizer_eos_id(tok) >= 0);
        }
        if (o->db) {
            /* every database must hold vectors of the model (else an error naming both) */
            ss_store_model sm = {b->model_name, ss_model_fingerprint(w->model), b->model_abs, b->dim};
            if (!(w->stores = calloc((size_t)o->n_more_dbs + 1, sizeof *w->stores))) {
                batcher_stop(b);
                return fail(err, errlen, "out of memory");
            }
            if (i == 0) b->has_fts = 1;
            for (int d = 0; d <= o->n_more_dbs; d++) {
                const char *path = d ? o->more_dbs[d - 1] : o->db;
                if ((rc = ss_store_open(path, SS_STORE_READONLY, &w->stores[d])) != SS_OK ||
                    (rc = ss_store_use_model(w->stores[d], &sm)) != SS_OK) {
                    snprintf(err, errlen, "%s", ss_errmsg());
                    if (w->stores[d]) w->ns = d + 1;
                    batcher_stop(b);
                    return 1;
                }
                w->ns = d + 1;
                /* hybrid by default only where every database can */
                ss_store_stats st;
                if (i == 0) b->has_fts &= ss_store_stats_get(w->stores[d], &st) == SS_OK && st.has_fts;
            }
            w->store = w->stores[0];
        }
    }
    for (int i = 0; i < b->o.workers; i++) {
        if (pthread_create(&b->w[i].thread, NULL, work, &b->w[i]) != 0) {
            batcher_stop(b);
            return fail(err, errlen, "cannot start a worker thread");
        }
        b->w[i].started = 1;
    }
    *out = b;
    return 0;
}

void batcher_run(batcher *b, job *j)
{
    j->status = 0;
    j->msg[0] = 0;
    j->next = NULL;
    pthread_mutex_lock(&b->mu);
    if (j->expected && *j->expected) {
        *j->expected = 0;
        b->arriving--;
    }
    if (b->stop || b->queued >= b->o.max_queue) {
        pthread_mutex_unlock(&b->mu);
        snprintf(j->msg, sizeof j->msg, "%s", b->stop ? "the server is stopping" : "too many requests waiting: retry later");
        j->status = 503;
        return;
    }
    sem_init(&j->done, 0, 0);
    if (b->tail) b->tail->next = j;
    else b->head = j;
    b->tail = j;
    b->queued++;
    metrics_queue_add(1);
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    while (sem_wait(&j->done) != 0) { /* EINTR: a signal, not the answer */
    }
    sem_destroy(&j->done);
}

void batcher_stop(batcher *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; b->w && i < b->o.workers; i++) {
        worker *w = &b->w[i];
        if (w->started) pthread_join(w->thread, NULL);
        ss_model_free(w->model);
        for (int d = 0; d < w->ns; d++) ss_store_close(w->stores[d]);
        free(w->stores);
        free(w->texts);
        free(w->lens);
        free(w->vecs);
        free(w->unknown);
    }
    free(b->w);
    free(b->model_path);
    free(b->model_abs);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    free(b);
}

int batcher_dim(const batcher *b) { return b->dim; }
int batcher_max_len(const batcher *b) { return b->max_len; }
int batcher_window(const batcher *b) { return ss_model_window(b->w[0].model); }
ss_tokenizer *batcher_tokenizer(const batcher *b) { return ss_model_tokenizer(b->w[0].model); }
const char *batcher_model_name(const batcher *b) { return b->model_name; }
int batcher_has_db(const batcher *b) { return b->w[0].store != NULL; }

void batcher_store_model(const batcher *b, ss_store_model *m)
{
    m->name = b->model_name;
    m->fingerprint = ss_model_fingerprint(b->w[0].model);
    m->path = b->model_abs;
    m->dim = b->dim;
}

void batcher_expect(batcher *b, int *flag)
{
    pthread_mutex_lock(&b->mu);
    if (!*flag) {
        *flag = 1;
        b->arriving++;
    }
    pthread_mutex_unlock(&b->mu);
}

void batcher_unexpect(batcher *b, int *flag)
{
    pthread_mutex_lock(&b->mu);
    if (*flag) {
        *flag = 0;
        b->arriving--;
        pthread_cond_broadcast(&b->work); /* a worker waiting for it waits no more */
    }
    pthread_mutex_unlock(&b->mu);
}
