/* indexer.c: the index pipeline (ss_indexer): documents from texts or from
 * lines, TSV or JSONL; the ones already stored found by content before
 * embedding; the rest embedded in batches, long texts split into passages
 * of whole words (or cut to the model's window), each batch added in one
 * transaction.
 *
 * Texts already stored are found before embedding (by content), so a re-run
 * after an interruption, even kill -9, skips what was committed at the cost
 * of a lookup per line, and embeds and commits only the rest. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/textio.h"
#include "store/store.h"
#include "text/docinput.h"

struct ss_indexer {
    ss_store *store;
    ss_model *model;
    ss_index_options o;
    ss__docin *din;          /* lines, TSV or JSONL into documents */
    size_t batch;
    /* the batch being built: owned copies */
    size_t n;
    ss_doc *docs;
    char **own;              /* 4 per doc: text, id, meta, source */
    unsigned char *is_new;
    ss_doc *fresh;
    float *vecs;
    float *unknown;
    /* passages: a text longer than the window is split (or cut: split 0) */
    int split, window, ptokens, poverlap;
    ss_tokenizer *tok;
    ss_passage *pass;
    const char **ptexts;
    size_t *plens, npass, pcap;
    long long *docline;     /* input line of each document of the batch */
    const char *docfile;
    ss_index_stats st;
};

void ss_index_options_init(ss_index_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->batch = 256;
    o->format = SS_INDEX_LINES;
    o->split = 1;
    o->passage_overlap = -1;
    o->nshards = 1;
}

int ss_model_window(const ss_model *m)
{
    if (!m) return 1;
    ss_config cfg;
    ss_model_config(m, &cfg);
    ss_tokenizer *tok = ss_model_tokenizer((ss_model *)m);
    int w = cfg.max_len - (ss_tokenizer_bos_id(tok) >= 0) - (ss_tokenizer_eos_id(tok) >= 0);
    return w < 1 ? 1 : w;
}

static void batch_clear(ss_indexer *x)
{
    for (size_t i = 0; i < 4 * x->n; i++) {
        ss_free(x->own[i]);
        x->own[i] = NULL;
    }
    x->n = 0;
}

/* *n: the tokens of a text (without the special tokens). */
static int count_tokens(ss_indexer *x, const char *t, size_t len, long *n)
{
    int32_t *ids = NULL;
    size_t k = 0;
    int rc = ss_tokenizer_encode(x->tok, t, len, &ids, &k);
    ss_free(ids);
    *n = (long)k;
    return rc;
}

static int add_passage(ss_indexer *x, size_t doc, const char *text, size_t start, size_t len)
{
    if (x->npass == x->pcap) {
        size_t nc = x->pcap ? 2 * x->pcap : 1024;
        ss_passage *p = ss__realloc(x->pass, nc * sizeof *p);
        const char **t = p ? ss__realloc(x->ptexts, nc * sizeof *t) : NULL;
        if (t) x->ptexts = t;
        size_t *l = t ? ss__realloc(x->plens, nc * sizeof *l) : NULL;
        if (l) x->plens = l;
        if (p) x->pass = p;
        if (!p || !t || !l) return ss__fail(SS_ERR_NOMEM, "out of memory");
        x->pcap = nc;
    }
    x->pass[x->npass] = (ss_passage){doc, start, len};
    x->ptexts[x->npass] = text + start;
    x->plens[x->npass] = len;
    x->npass++;
    return SS_OK;
}

/* The passages of document `doc` (index among the batch's new documents):
 * the whole text when it fits the window, else ss_split_passages'. Without
 * split the text is cut (on_cut told). */
static int split_doc(ss_indexer *x, size_t doc, const char *t, size_t len, long long line)
{
    if (!x->split) {
        long n = 0;
        int rc = len > (size_t)x->ptokens ? count_tokens(x, t, len, &n) : SS_OK;
        if (rc || n <= x->ptokens) return rc ? rc : add_passage(x, doc, t, 0, len);
        x->st.cut++;
        if (x->o.on_cut) x->o.on_cut(x->o.ctx, x->docfile ? x->docfile : "-", line, n, x->window);
        return add_passage(x, doc, t, 0, len);
    }
    ss_passage *p;
    size_t np;
    int rc = ss_split_passages(x->tok, t, len, x->ptokens, x->poverlap, doc, &p, &np);
    for (size_t i = 0; i < np && !rc; i++) rc = add_passage(x, doc, t, p[i].start, p[i].len);
    if (!rc && np > 1) {
        x->st.split_docs++;
        x->st.passages += (long long)np;
    }
    ss_free(p);
    return rc;
}

int ss_indexer_flush(ss_indexer *x)
{
    if (!x) return ss__fail(SS_ERR_ARG, "ss_indexer_flush: NULL indexer");
    if (!x->n) return SS_OK;
    int rc = ss_store_filter_new(x->store, x->docs, x->n, x->is_new);
    if (rc) return rc;
    size_t nn = 0;
    x->npass = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->is_new[i]) continue;
        x->fresh[nn] = x->docs[i];
        if ((rc = split_doc(x, nn, x->docs[i].text, x->docs[i].len, x->docline[i]))) return rc;
        nn++;
    }
    size_t added = 0;
    if (nn) {
        float *vecs = ss__realloc(x->vecs, x->npass * (size_t)ss_model_dim(x->model) * sizeof *vecs);
        float *unk = vecs ? ss__realloc(x->unknown, x->npass * sizeof *unk) : NULL;
        if (vecs) x->vecs = vecs;
        if (unk) x->unknown = unk;
        if (!vecs || !unk) return ss__fail(SS_ERR_NOMEM, "out of memory");
        rc = ss_embed_ex(x->model, x->ptexts, x->plens, x->npass, 0, x->vecs, x->unknown);
        if (!rc && x->o.on_unknown) x->o.on_unknown(x->o.ctx, x->unknown, x->npass);
        if (!rc) rc = ss_store_add_passages(x->store, x->fresh, nn, x->pass, x->vecs, x->npass, &added);
        if (rc) return rc;
    }
    x->st.added += (long long)added;
    x->st.dups += (long long)(x->n - added);
    batch_clear(x);
    if (x->o.on_batch) x->o.on_batch(x->o.ctx, &x->st);
    return SS_OK;
}

static char *copy_nonul(const char *s, size_t len, size_t *outlen)
{
    char *o = ss__malloc(len + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i]) o[k++] = s[i];
    o[k] = '\0';
    *outlen = k;
    return o;
}

/* One document into the batch (line: its input line, for messages). */
static int push(ss_indexer *x, const char *text, size_t len, const char *id, size_t idlen, const char *meta,
                const char *source)
{
    /* every document of a batch shares the source: flush at a change */
    if (x->n) {
        const char *prev = x->docs[x->n - 1].source;
        if ((prev == NULL) != (source == NULL) || (prev && strcmp(prev, source) != 0)) {
            int rc = ss_indexer_flush(x);
            if (rc) return rc;
        }
    }
    if (id && idlen == 0) id = NULL; /* an empty id is no id */
    char **o = x->own + 4 * x->n;
    size_t idl = 0;
    /* NUL bytes are dropped, the rest kept (as normalization does for the
     * vector): a stored text is a C string, and "nul \u0000 char" must not
     * be cut to "nul " */
    o[0] = copy_nonul(text, len, &len);
    o[1] = id ? copy_nonul(id, idlen, &idl) : NULL;
    o[2] = meta ? ss__strdup(meta) : NULL;
    o[3] = source ? ss__strdup(source) : NULL;
    if (!o[0] || (id && !o[1]) || (meta && !o[2]) || (source && !o[3])) {
        for (int i = 0; i < 4; i++) {
            ss_free(o[i]);
            o[i] = NULL;
        }
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    if (o[1] && !idl) {
        ss_free(o[1]);
        o[1] = NULL;
    }
    if (strspn(o[0], " \t\r\v\f") == len) { /* nothing but NUL bytes and blanks: a blank line */
        for (int i = 0; i < 4; i++) {
            ss_free(o[i]);
            o[i] = NULL;
        }
        x->st.empty++;
        return SS_OK;
    }
    /* by the text's bytes as stored: the key that finds it already stored */
    if (x->o.nshards > 1 && (uint64_t)ss__text_hash(o[0], len) % (uint64_t)x->o.nshards != (uint64_t)x->o.shard) {
        for (int i = 0; i < 4; i++) {
            ss_free(o[i]);
            o[i] = NULL;
        }
        x->st.other_shard++;
        return SS_OK;
    }
    x->docs[x->n] = (ss_doc){o[0], len, o[1], o[3], o[2]};
    x->docline[x->n] = x->st.lines;
    x->n++;
    return x->n == x->batch ? ss_indexer_flush(x) : SS_OK;
}

int ss_indexer_add(ss_indexer *x, const char *text, size_t len, const char *id, size_t idlen, const char *meta,
                   const char *source)
{
    if (!x || (!text && len)) return ss__fail(SS_ERR_ARG, "ss_indexer_add: NULL argument");
    x->st.lines++;
    return push(x, text ? text : "", len, id, idlen, meta, source);
}

int ss_indexer_add_file(ss_indexer *x, const char *path, const char *source)
{
    if (!x || !path) return ss__fail(SS_ERR_ARG, "ss_indexer_add_file: NULL argument");
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return rc;
    x->st.bytes_done = 0;
    x->st.bytes_total = ss__lines_size(r); /* from the open input: never opened twice */
    if ((rc = ss_indexer_flush(x))) {
        ss__lines_close(r);
        return rc;
    }
    x->docfile = ss__lines_name(r);
    const char *line;
    size_t len;
    int got;
    while ((got = ss__lines_next(r, &line, &len)) == SS__LINE) {
        x->st.lines++;
        x->st.bytes_done += (long long)len + 1;
        ss__docin_doc d;
        int p = ss__docin_parse(x->din, line, len, ss__lines_name(r), ss__lines_lineno(r), &d);
        if (p == 0) x->st.empty++;
        else if (p == 1) rc = push(x, d.text, d.len, d.id, d.idlen, d.meta, source);
        else rc = p; /* "file:line: ..." */
        /* a pipe with nothing more yet: commit what came, so that a slow
         * producer's lines become searchable as they arrive */
        if (!rc && !ss__lines_ready(r)) rc = ss_indexer_flush(x);
        if (rc) break;
    }
    if (!rc && got > 0) rc = got; /* a read error: "file:line: ..." */
    if (!rc) rc = ss_indexer_flush(x);
    x->docfile = NULL;
    ss__lines_close(r);
    return rc;
}

void ss_indexer_stats(const ss_indexer *x, ss_index_stats *st)
{
    if (!st) return;
    if (!x) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = x->st;
}

void ss_indexer_free(ss_indexer *x)
{
    if (!x) return;
    if (x->own) batch_clear(x);
    ss_free(x->unknown);
    ss_free(x->docline);
    ss_free(x->pass);
    ss_free(x->ptexts);
    ss_free(x->plens);
    ss__docin_free(x->din);
    ss_free(x->docs);
    ss_free(x->own);
    ss_free(x->is_new);
    ss_free(x->fresh);
    ss_free(x->vecs);
    ss_free(x);
}

int ss_indexer_open(ss_store *s, ss_model *m, const ss_index_options *opts, ss_indexer **out)
{
    if (!out) return ss__fail(SS_ERR_ARG, "ss_indexer_open: NULL out");
    *out = NULL;
    if (!s || !m) return ss__fail(SS_ERR_ARG, "ss_indexer_open: NULL store or model");
    ss_index_options o;
    if (opts) o = *opts;
    else ss_index_options_init(&o);
    if (o.batch < 1) return ss__fail(SS_ERR_ARG, "ss_indexer_open: batch must be at least 1");
    if (o.nshards < 1 || o.shard < 0 || o.shard >= o.nshards)
        return ss__fail(SS_ERR_ARG, "ss_indexer_open: shard %d of %d", o.shard, o.nshards);
    if (o.passage_tokens < 0) return ss__fail(SS_ERR_ARG, "ss_indexer_open: passage_tokens < 0");
    if (o.passage_tokens && o.passage_overlap >= o.passage_tokens)
        return ss__fail(SS_ERR_ARG, "ss_indexer_open: passage_overlap %d must be less than passage_tokens %d",
                        o.passage_overlap, o.passage_tokens);
    int window = ss_model_window(m);
    if (o.passage_tokens > window)
        return ss__fail(SS_ERR_ARG, "ss_indexer_open: passage_tokens %d is more than the model's window of %d tokens",
                        o.passage_tokens, window);
    ss_indexer *x = ss__calloc(1, sizeof *x);
    if (!x) return ss__fail(SS_ERR_NOMEM, "out of memory");
    x->store = s;
    x->model = m;
    x->o = o;
    x->o.text_field = x->o.id_field = NULL; /* not kept: used by ss__docin_new below */
    x->batch = o.batch;
    x->split = o.split != 0;
    x->tok = ss_model_tokenizer(m);
    x->window = window;
    x->ptokens = o.passage_tokens ? o.passage_tokens : window;
    x->poverlap = o.passage_overlap >= 0 ? o.passage_overlap : (x->ptokens / 4 < 16 ? x->ptokens / 4 : 16);
    x->st.window = window;
    x->st.passage_tokens = x->ptokens;
    x->st.bytes_total = -1;
    x->docs = ss__calloc(x->batch, sizeof *x->docs);
    x->own = ss__calloc(4 * x->batch, sizeof *x->own);
    x->is_new = ss__calloc(x->batch, 1);
    x->fresh = ss__calloc(x->batch, sizeof *x->fresh);
    x->docline = ss__calloc(x->batch, sizeof *x->docline);
    if (!x->docs || !x->own || !x->is_new || !x->fresh || !x->docline) {
        ss_indexer_free(x);
        return ss__fail(SS_ERR_NOMEM, "out of memory");
    }
    int format = o.format == SS_INDEX_JSONL ? SS__DOCIN_JSONL : o.format == SS_INDEX_TSV ? SS__DOCIN_TSV : SS__DOCIN_LINES;
    int rc = ss__docin_new(format, o.text_column, o.id_column, o.text_field, o.id_field, &x->din);
    if (rc) {
        ss_indexer_free(x);
        return rc;
    }
    *out = x;
    return SS_OK;
}
