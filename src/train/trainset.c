/* trainset.c: interned training texts, examples, and epoch plans (batches
 * with no shared text, bucketed by length). File parsing is trainset_load.c. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "train/trainset.h"

uint64_t ss__rand_below(uint64_t s[4], uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n; /* rejection sampling */
    uint64_t x;
    do x = ss__rng_next(s);
    while (x >= lim);
    return x % n;
}

/* -------------------------------------------------------------- the data */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return ss__seed_mix(h, n);
}

int ss__trainset_new(ss__trainset **out)
{
    *out = ss__calloc(1, sizeof **out);
    if (!*out) return ss__fail(SS_ERR_NOMEM, "out of memory");
    (*out)->fingerprint = 0x5e55ea7c4ULL;
    return SS_OK;
}

void ss__trainset_free(ss__trainset *ts)
{
    if (!ts) return;
    for (int i = 0; i < ts->n_src; i++) {
        ss_free(ts->src[i].name);
        ss_free(ts->src[i].first_bad);
    }
    ss_free(ts->src);
    ss_free(ts->pool);
    ss_free(ts->text_off);
    ss_free(ts->text_len);
    ss_free(ts->lone);
    ss_free(ts->hash);
    ss_free(ts->members);
    ss_free(ts->ex_off);
    ss_free(ts->score);
    ss_free(ts->form);
    ss_free(ts->sect);
    ss_free(ts);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return SS_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = ss__realloc(*p, nc * elem);
    if (!q) return ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
    *p = q;
    *cap = nc;
    return SS_OK;
}

static int rehash(ss__trainset *ts, size_t cap)
{
    uint32_t *h = ss__calloc(cap, sizeof *h);
    if (!h) return ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
    for (uint32_t id = 0; id < ts->n_texts; id++) {
        size_t i = hash_bytes(ts->pool + ts->text_off[id], ts->text_len[id]) & (cap - 1);
        while (h[i]) i = (i + 1) & (cap - 1);
        h[i] = id + 1;
    }
    ss_free(ts->hash);
    ts->hash = h;
    ts->hash_cap = cap;
    return SS_OK;
}

/* The id of a text, adding it if new. */
static int intern(ss__trainset *ts, const char *s, size_t n, uint32_t *id)
{
    if (n > UINT32_MAX - 1) return ss__fail(SS_ERR_RANGE, "a text of %zu bytes is too long", n);
    if ((size_t)ts->n_texts * 2 + 2 > ts->hash_cap) {
        int rc = rehash(ts, ts->hash_cap ? ts->hash_cap * 2 : 1024);
        if (rc) return rc;
    }
    uint64_t hv = hash_bytes(s, n);
    size_t i = hv & (ts->hash_cap - 1);
    while (ts->hash[i]) {
        uint32_t t = ts->hash[i] - 1;
        if (ts->text_len[t] == n && !memcmp(ts->pool + ts->text_off[t], s, n)) {
            *id = t;
            return SS_OK;
        }
        i = (i + 1) & (ts->hash_cap - 1);
    }
    if (ts->n_texts == UINT32_MAX - 1) return ss__fail(SS_ERR_RANGE, "too many texts");
    int rc = SS_OK;
    if (ts->n_texts == ts->texts_cap) {
        /* the per-text arrays grow together */
        size_t nc = ts->texts_cap ? (size_t)ts->texts_cap * 2 : 256;
        if (nc > UINT32_MAX) nc = UINT32_MAX;
        size_t *off = ss__realloc(ts->text_off, nc * sizeof *off);
        if (off) ts->text_off = off;
        uint32_t *len = off ? ss__realloc(ts->text_len, nc * sizeof *len) : NULL;
        if (len) ts->text_len = len;
        uint8_t *lone = len ? ss__realloc(ts->lone, nc) : NULL;
        if (lone) ts->lone = lone;
        if (!lone) return ss__fail(SS_ERR_NOMEM, "out of memory (training data)");
        ts->texts_cap = (uint32_t)nc;
    }
    if (!rc) rc = grow((void **)&ts->pool, &ts->pool_cap, ts->pool_len + n + 1, 1);
    if (rc) return rc;
    memcpy(ts->pool + ts->pool_len, s, n);
    ts->pool[ts->pool_len + n] = '\0';
    ts->text_off[ts->n_texts] = ts->pool_len;
    ts->text_len[ts->n_texts] = (uint32_t)n;
    ts->lone[ts->n_texts] = 0;
    ts->pool_len += n + 1;
    ts->hash[i] = ts->n_texts + 1;
    ts->fingerprint = ss__seed_mix(ts->fingerprint, hv);
    *id = ts->n_texts++;
    return SS_OK;
}

int ss__trainset_begin_source(ss__trainset *ts, const char *name, int kind, double weight)
{
    if (!(weight > 0) || !isfinite(weight))
        return ss__fail(SS_ERR_ARG, "%s: weight must be a positive number", name);
    ss__source *s = ss__realloc(ts->src, sizeof *s * (size_t)(ts->n_src + 1));
    if (!s) return ss__fail(SS_ERR_NOMEM, "out of memory");
    ts->src = s;
    s = &ts->src[ts->n_src];
    memset(s, 0, sizeof *s);
    s->name = ss__strdup(name);
    if (!s->name) return ss__fail(SS_ERR_NOMEM, "out of memory");
    s->kind = kind;
    s->weight = weight;
    s->first = ts->n_examples;
    ts->n_src++;
    uint64_t wbits;
    memcpy(&wbits, &weight, sizeof wbits);
    ts->fingerprint = ss__seed_mix(ss__seed_mix(ts->fingerprint, (uint64_t)kind + 1), wbits);
    return SS_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

int ss__trainset_add(ss__trainset *ts, const char *const *texts, const size_t *lens, int n, int *added)
{
    *added = 0;
    if (ts->n_src == 0) return ss__fail(SS_ERR_ARG, "ss__trainset_add: no source");
    ss__source *src = &ts->src[ts->n_src - 1];
    int rc = grow((void **)&ts->members, &ts->members_cap, ts->n_members + (size_t)n, sizeof *ts->members);
    if (!rc) rc = grow((void **)&ts->ex_off, &ts->ex_cap, ts->n_examples + 2, sizeof *ts->ex_off);
    if (rc) return rc;
    if (ts->n_examples == 0) ts->ex_off[0] = 0;
    size_t base = ts->n_members, k = 0;
    for (int i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]), b = 0;
        while (b < len && is_space(texts[i][b])) b++;
        if (b == len) {
            src->skipped++;
            return SS_OK; /* an empty side makes the whole example useless */
        }
    }
    for (int i = 0; i < n; i++) {
        /* surrounding white space does not make another text */
        const char *t = texts[i];
        size_t len = lens ? lens[i] : strlen(t);
        while (len > 0 && is_space(*t)) t++, len--;
        while (len > 0 && is_space(t[len - 1])) len--;
        uint32_t id = 0;
        rc = intern(ts, t, len, &id);
        if (rc) return rc;
        int dup = 0;
        for (size_t j = 0; j < k; j++) dup |= ts->members[base + j] == id;
        if (!dup) ts->members[base + k++] = id;
    }
    if (k == 0 || (src->kind != SS__SRC_TEXT && k < 2) ||
        (src->kind == SS__SRC_TEXT && ts->lone[ts->members[base]])) {
        src->skipped++; /* degenerate, or a sentence seen before */
        return SS_OK;
    }
    if (src->kind == SS__SRC_TEXT) ts->lone[ts->members[base]] = 1;
    for (size_t j = 0; j < k; j++) ts->fingerprint = ss__seed_mix(ts->fingerprint, ts->members[base + j]);
    ts->n_members += k;
    ts->ex_off[++ts->n_examples] = ts->n_members;
    src->n++;
    *added = 1;
    return SS_OK;
}

/* Room in form[] for one more example (new entries PLAIN). */
static int grow_form(ss__trainset *ts)
{
    if (ts->form_cap >= ts->n_examples + 1) return SS_OK;
    size_t old = ts->form_cap;
    int rc = grow((void **)&ts->form, &ts->form_cap, SS_MAX(ts->n_examples + 1, ts->ex_cap), 1);
    if (!rc) memset(ts->form + old, SS__FORM_PLAIN, ts->form_cap - old);
    return rc;
}

int ss__trainset_add_triplet(ss__trainset *ts, const char *const *texts, const size_t *lens, int *added)
{
    *added = 0;
    int rc = grow_form(ts);
    if (rc) return rc;
    size_t before = ts->n_members;
    if ((rc = ss__trainset_add(ts, texts, lens, 3, added)) || !*added) return rc;
    if (ts->n_members - before != 3) {
        /* two of the three were the same text: no triplet */
        ts->n_members = before;
        ts->n_examples--;
        ts->src[ts->n_src - 1].n--;
        ts->src[ts->n_src - 1].skipped++;
        *added = 0;
        return SS_OK;
    }
    if ((rc = grow_form(ts))) return rc;
    ts->form[ts->n_examples - 1] = SS__FORM_TRIPLET;
    ts->fingerprint = ss__seed_mix(ts->fingerprint, 0x7319ULL);
    return SS_OK;
}

int ss__trainset_add_doc(ss__trainset *ts, const char *title, size_t tlen, const char *const *paras,
                         const size_t *plens, const char *const *sects, const size_t *slens, int n, int *added)
{
    *added = 0;
    if (ts->n_src == 0) return ss__fail(SS_ERR_ARG, "ss__trainset_add_doc: no source");
    ss__source *src = &ts->src[ts->n_src - 1];
    size_t need = ts->n_members + (size_t)n + 1;
    int rc = grow((void **)&ts->members, &ts->members_cap, need, sizeof *ts->members);
    if (!rc) rc = grow((void **)&ts->ex_off, &ts->ex_cap, ts->n_examples + 2, sizeof *ts->ex_off);
    if (!rc && ts->sect_cap < need) {
        size_t old = ts->sect_cap;
        rc = grow((void **)&ts->sect, &ts->sect_cap, SS_MAX(need, ts->members_cap), sizeof *ts->sect);
        for (size_t j = old; !rc && j < ts->sect_cap; j++) ts->sect[j] = SS__NO_TEXT;
    }
    if (!rc) rc = grow_form(ts);
    if (rc) return rc;
    if (ts->n_examples == 0) ts->ex_off[0] = 0;
    size_t base = ts->n_members, k = 0;
    int has_title = 0;
    /* surrounding white space does not make another text */
#define TRIM(t, len)                                        \
    do {                                                    \
        while ((len) > 0 && is_space(*(t))) (t)++, (len)--; \
        while ((len) > 0 && is_space((t)[(len) - 1])) (len)--; \
    } while (0)
    if (title) {
        TRIM(title, tlen);
        if (tlen > 0) {
            uint32_t id;
            if ((rc = intern(ts, title, tlen, &id))) return rc;
            ts->members[base + k] = id;
            ts->sect[base + k] = SS__NO_TEXT;
            k++;
            has_title = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        const char *t = paras[i];
        size_t len = plens ? plens[i] : strlen(t);
        TRIM(t, len);
        if (len == 0) continue;
        uint32_t id, sid = SS__NO_TEXT;
        if ((rc = intern(ts, t, len, &id))) return rc;
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++) dup = ts->members[base + j] == id;
        if (dup) continue;
        if (sects && sects[i]) {
            const char *h = sects[i];
            size_t hl = slens ? slens[i] : strlen(h);
            TRIM(h, hl);
            if (hl > 0 && (rc = intern(ts, h, hl, &sid))) return rc;
        }
        ts->members[base + k] = id;
        ts->sect[base + k] = sid;
        k++;
    }
#undef TRIM
    if ((size_t)has_title == k) {
        src->skipped++; /* no paragraph */
        return SS_OK;
    }
    ts->fingerprint = ss__seed_mix(ts->fingerprint, 0xd0c0000ULL + (uint64_t)has_title);
    for (size_t j = 0; j < k; j++)
        ts->fingerprint = ss__seed_mix(ss__seed_mix(ts->fingerprint, ts->members[base + j]), ts->sect[base + j]);
    ts->form[ts->n_examples] = has_title ? SS__FORM_DOC_TITLED : SS__FORM_DOC;
    ts->n_members += k;
    ts->ex_off[++ts->n_examples] = ts->n_members;
    src->n++;
    *added = 1;
    return SS_OK;
}

int ss__trainset_set_score(ss__trainset *ts, double score)
{
    if (ts->n_examples == 0) return ss__fail(SS_ERR_ARG, "ss__trainset_set_score: no example");
    size_t old = ts->score ? ts->score_cap : 0;
    int rc = grow((void **)&ts->score, &ts->score_cap, ts->n_examples, sizeof *ts->score);
    if (rc) return rc;
    for (size_t i = old; i < ts->score_cap; i++) ts->score[i] = NAN; /* new entries: no score (yet) */
    ts->score[ts->n_examples - 1] = score;
    uint64_t bits;
    memcpy(&bits, &score, sizeof bits);
    ts->fingerprint = ss__seed_mix(ts->fingerprint, bits);
    return SS_OK;
}

int ss__trainset_source_of(const ss__trainset *ts, size_t ex)
{
    for (int s = 0; s < ts->n_src; s++)
        if (ex >= ts->src[s].first && ex < ts->src[s].first + ts->src[s].n) return s;
    return -1;
}

/* ------------------------------------------------------------ the order */

void ss__plan_free(ss__plan *p)
{
    if (!p) return;
    ss_free(p->items);
    ss_free(p->start);
    memset(p, 0, sizeof *p);
}

/* Word hashes of a text (bytes >= 0x80 count as letters), sorted, unique. */
static size_t word_set(const char *s, size_t n, uint64_t *w)
{
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && !(((unsigned char)s[i] >= 0x80) || (s[i] >= 'a' && s[i] <= 'z') ||
                          (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            i++;
        if (i >= n) break;
        uint64_t h = 0xcbf29ce484222325ULL;
        while (i < n && (((unsigned char)s[i] >= 0x80) || (s[i] >= 'a' && s[i] <= 'z') ||
                         (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) {
            char c = s[i++];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            h = (h ^ (unsigned char)c) * 0x100000001b3ULL;
        }
        w[k++] = h;
    }
    /* insertion sort: sentences are short */
    for (size_t a = 1; a < k; a++) {
        uint64_t x = w[a];
        size_t b = a;
        while (b > 0 && w[b - 1] > x) {
            w[b] = w[b - 1];
            b--;
        }
        w[b] = x;
    }
    size_t u = 0;
    for (size_t a = 0; a < k; a++)
        if (u == 0 || w[u - 1] != w[a]) w[u++] = w[a];
    return u;
}

/* 1 - Jaccard similarity of the word sets: 0 = same words (easy). */
static double word_distance(const ss__trainset *ts, uint32_t a, uint32_t b, uint64_t *wa, uint64_t *wb)
{
    if (a == b) return 0;
    size_t na = word_set(ss__trainset_text(ts, a), ts->text_len[a], wa);
    size_t nb = word_set(ss__trainset_text(ts, b), ts->text_len[b], wb);
    size_t i = 0, j = 0, inter = 0;
    while (i < na && j < nb) {
        if (wa[i] == wb[j]) inter++, i++, j++;
        else if (wa[i] < wb[j]) i++;
        else j++;
    }
    size_t uni = na + nb - inter;
    return uni ? 1.0 - (double)inter / (double)uni : 0.0;
}

typedef struct {
    uint64_t key;
    uint32_t pos;
} sortkey;

static int cmp_key(const void *x, const void *y)
{
    const sortkey *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* 1 if no text of example ex is stamped with batch id `cur`. */
static int fits(const ss__trainset *ts, const uint32_t *stamp, uint32_t ex, uint32_t cur)
{
    for (size_t j = ts->ex_off[ex]; j < ts->ex_off[ex + 1]; j++)
        if (stamp[ts->members[j]] == cur) return 0;
    return 1;
}

static void mark(const ss__trainset *ts, uint32_t *stamp, uint32_t ex, uint32_t cur)
{
    for (size_t j = ts->ex_off[ex]; j < ts->ex_off[ex + 1]; j++) stamp[ts->members[j]] = cur;
}

static int share_text(const ss__trainset *ts, uint32_t x, uint32_t y)
{
    for (size_t i = ts->ex_off[x]; i < ts->ex_off[x + 1]; i++)
        for (size_t j = ts->ex_off[y]; j < ts->ex_off[y + 1]; j++)
            if (ts->members[i] == ts->members[j]) return 1;
    return 0;
}

/* The examples' uses of an epoch (it[].ex, n of them): every example of a
 * source floor(weight) times, and a fresh random subset for the fraction. */
static size_t plan_uses(const ss__trainset *ts, uint64_t *rng, uint32_t *idx, ss__plan_item *it)
{
    size_t n = 0;
    for (int s = 0; s < ts->n_src; s++) {
        const ss__source *src = &ts->src[s];
        double w = src->weight, full = floor(w);
        for (long r = 0; r < (long)full; r++)
            for (size_t e = 0; e < src->n; e++) it[n++].ex = (uint32_t)(src->first + e);
        size_t part = (size_t)llround((w - full) * (double)src->n);
        /* a fresh random subset each epoch: partial Fisher-Yates */
        for (size_t e = 0; e < src->n; e++) idx[e] = (uint32_t)e;
        for (size_t e = 0; e < part; e++) {
            size_t j = e + (size_t)ss__rand_below(rng, src->n - e);
            uint32_t t = idx[e];
            idx[e] = idx[j];
            idx[j] = t;
            it[n++].ex = (uint32_t)(src->first + idx[e]);
        }
    }
    return n;
}

/* The pair of each use: two different texts of the example; then the uses
 * in random order. */
static void plan_pairs(const ss__trainset *ts, uint64_t *rng, ss__plan_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint32_t *m = ts->members + ts->ex_off[it[i].ex];
        size_t k = ss__trainset_ex_size(ts, it[i].ex);
        if (ss__trainset_is_doc(ts, it[i].ex)) {
            /* a document: one of its paragraphs; the pair is made from it
             * (and the title and heading) when the batch is built */
            size_t t = ss__trainset_form(ts, it[i].ex) == SS__FORM_DOC_TITLED;
            it[i].a = it[i].b = m[t + (size_t)ss__rand_below(rng, k - t)];
        } else if (ss__trainset_form(ts, it[i].ex) == SS__FORM_TRIPLET) {
            it[i].a = m[0]; /* the negative m[2] is found when the batch is built */
            it[i].b = m[1];
        } else if (k == 1) {
            it[i].a = it[i].b = m[0];
        } else {
            size_t x = (size_t)ss__rand_below(rng, k), y = (size_t)ss__rand_below(rng, k - 1);
            if (y >= x) y++;
            it[i].a = m[x];
            it[i].b = m[y];
        }
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ss__rand_below(rng, i);
        ss__plan_item t = it[i - 1];
        it[i - 1] = it[j];
        it[j] = t;
    }
}

/* The order batches are filled in: sort keys (length: bytes of both sides,
 * or word distance then length), sorted over the whole epoch with a
 * curriculum (curric), else in chunks of 64 batches: similar lengths meet,
 * yet the order stays random; no sort for SS__CURRIC_RANDOM. */
static void plan_order(const ss__trainset *ts, const ss__plan_item *it, size_t n, int curriculum, int curric,
                       int batch_size, uint64_t *wa, uint64_t *wb, sortkey *keys)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t len = (uint64_t)ts->text_len[it[i].a] + ts->text_len[it[i].b];
        keys[i].key = len;
        if (curric && curriculum == SS__CURRIC_OVERLAP) {
            double d = word_distance(ts, it[i].a, it[i].b, wa, wb);
            keys[i].key = ((uint64_t)llround(d * 1000000.0) << 32) | SS_MIN(len, (uint64_t)UINT32_MAX);
        }
        keys[i].pos = (uint32_t)i;
    }
    size_t chunk = curric ? n : (size_t)batch_size * 64;
    for (size_t c = 0; c < n && curriculum != SS__CURRIC_RANDOM; c += chunk)
        qsort(keys + c, SS_MIN(chunk, n - c), sizeof *keys, cmp_key);
}

/* Fills batches (ord, start: nb batches, *n_ord items) in key order; an
 * example that shares a text with the batch being filled waits (FIFO) for
 * the next one. A lone leftover joins the previous batch if it shares no text
 * with it, else it is dropped (counted in *dropped). Returns nb. */
static size_t plan_fill(const ss__trainset *ts, const ss__plan_item *it, size_t n, const sortkey *keys,
                        int batch_size, uint32_t *stamp, uint32_t *pend, ss__plan_item *ord, size_t *start,
                        size_t *n_ord, size_t *dropped)
{
    size_t nb = 0, no = 0, next = 0, np = 0;
    uint32_t cur = 0;
    while (next < n || np > 0) {
        cur++;
        size_t first = no, count = 0, keep = 0;
        for (size_t p = 0; p < np; p++) {
            uint32_t i = pend[p];
            if (count < (size_t)batch_size && fits(ts, stamp, it[i].ex, cur)) {
                mark(ts, stamp, it[i].ex, cur);
                ord[no++] = it[i];
                count++;
            } else {
                pend[keep++] = i;
            }
        }
        np = keep;
        while (count < (size_t)batch_size && next < n) {
            uint32_t i = keys[next++].pos;
            if (fits(ts, stamp, it[i].ex, cur)) {
                mark(ts, stamp, it[i].ex, cur);
                ord[no++] = it[i];
                count++;
            } else {
                pend[np++] = i;
            }
        }
        if (count >= 2) {
            start[nb++] = first;
            continue;
        }
        int joined = 0;
        if (count == 1 && nb > 0) {
            joined = 1;
            for (size_t q = start[nb - 1]; q < first && joined; q++)
                if (share_text(ts, ord[q].ex, ord[first].ex)) joined = 0;
        }
        if (!joined) {
            no = first;
            *dropped += count;
        }
    }
    start[nb] = no;
    *n_ord = no;
    return nb;
}

/* The batches in random order: the items of ord copied to dst batch by batch
 * in that order, *start replaced by the new starts. perm has room for nb
 * entries. */
static int plan_shuffle_batches(uint64_t *rng, const ss__plan_item *ord, size_t nb, size_t **start,
                                size_t *perm, ss__plan_item *dst)
{
    for (size_t b = 0; b < nb; b++) perm[b] = b;
    for (size_t b = nb; b > 1; b--) {
        size_t j = (size_t)ss__rand_below(rng, b), t = perm[b - 1];
        perm[b - 1] = perm[j];
        perm[j] = t;
    }
    size_t o = 0;
    size_t *ns = ss__malloc(sizeof *ns * (nb + 1));
    if (!ns) return ss__fail(SS_ERR_NOMEM, "out of memory (epoch plan)");
    for (size_t b = 0; b < nb; b++) {
        size_t s0 = (*start)[perm[b]], s1 = (*start)[perm[b] + 1];
        ns[b] = o;
        memcpy(dst + o, ord + s0, sizeof *dst * (s1 - s0));
        o += s1 - s0;
    }
    ns[nb] = o;
    ss_free(*start);
    *start = ns;
    return SS_OK;
}

int ss__trainset_plan(const ss__trainset *ts, uint64_t seed, int64_t epoch, int batch_size,
                      int curriculum, ss__plan *out)
{
    memset(out, 0, sizeof *out);
    if (batch_size < 2) return ss__fail(SS_ERR_ARG, "batch size must be at least 2");
    uint64_t rng[4];
    ss__rng_seed(rng, ss__seed_mix(ss__seed_mix(seed, 0x706c616eULL /* "plan" */), (uint64_t)epoch));

    /* How many times each source's examples are used this epoch. */
    size_t total = 0;
    for (int s = 0; s < ts->n_src; s++) {
        double w = ts->src[s].weight, full = floor(w);
        total += (size_t)full * ts->src[s].n + (size_t)llround((w - full) * (double)ts->src[s].n);
    }
    if (total > UINT32_MAX) return ss__fail(SS_ERR_RANGE, "too many training examples per epoch");
    if (total < 2) return ss__fail(SS_ERR_ARG, "not enough training examples (%zu) for one batch", total);

    ss__plan_item *it = ss__malloc(sizeof *it * total);
    sortkey *keys = ss__malloc(sizeof *keys * total);
    uint32_t *stamp = ss__calloc(ts->n_texts ? ts->n_texts : 1, sizeof *stamp);
    uint32_t *pend = ss__malloc(sizeof *pend * total);
    ss__plan_item *ord = ss__malloc(sizeof *ord * total);
    size_t *start = ss__malloc(sizeof *start * (total + 1));
    size_t maxsrc = 0, maxwords = 1;
    for (int s = 0; s < ts->n_src; s++) maxsrc = SS_MAX(maxsrc, ts->src[s].n);
    for (uint32_t t = 0; t < ts->n_texts; t++) maxwords = SS_MAX(maxwords, (size_t)ts->text_len[t] / 2 + 1);
    uint32_t *idx = ss__malloc(sizeof *idx * (maxsrc ? maxsrc : 1));
    uint64_t *wa = NULL, *wb = NULL;
    if (curriculum == SS__CURRIC_OVERLAP && epoch == 0) {
        wa = ss__malloc(sizeof *wa * maxwords);
        wb = ss__malloc(sizeof *wb * maxwords);
    }
    int rc = SS_OK;
    if (!it || !keys || !stamp || !pend || !ord || !start || !idx ||
        (curriculum == SS__CURRIC_OVERLAP && epoch == 0 && (!wa || !wb))) {
        rc = ss__fail(SS_ERR_NOMEM, "out of memory (epoch plan)");
        goto done;
    }

    size_t n = plan_uses(ts, rng, idx, it);
    plan_pairs(ts, rng, it, n);
    /* a curriculum orders epoch 0 only */
    int curric = (curriculum == SS__CURRIC_LENGTH || curriculum == SS__CURRIC_OVERLAP) && epoch == 0;
    plan_order(ts, it, n, curriculum, curric, batch_size, wa, wb, keys);
    size_t no;
    size_t nb = plan_fill(ts, it, n, keys, batch_size, stamp, pend, ord, start, &no, &out->dropped);
    if (!curric) {
        /* batches in random order; keys reused as the permutation: n >= nb
         * entries, each larger than a size_t */
        if ((rc = plan_shuffle_batches(rng, ord, nb, &start, (size_t *)keys, it))) goto done;
        ss__plan_item *t = ord;
        ord = it;
        it = t;
    }
    out->items = ord;
    out->n_items = no;
    out->start = start;
    out->n_batches = nb;
    ord = NULL;
    start = NULL;
done:
    ss_free(it);
    ss_free(keys);
    ss_free(stamp);
    ss_free(pend);
    ss_free(ord);
    ss_free(start);
    ss_free(idx);
    ss_free(wa);
    ss_free(wb);
    return rc;
}
