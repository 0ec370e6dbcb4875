/* fuzz_datafile.c: every reader of training, evaluation and index input on
 * arbitrary bytes: the TSV data formats (datafile.h: the row iterator, the
 * pair and group loaders), the training-set loader and its epoch plan, the
 * whole-file evaluations (TF-IDF baseline or a tiny random model), and the
 * line, TSV and JSONL documents of `semsearch index` (docinput.h).
 *
 * Input: byte 0 picks the reader and options, byte 1 is a parameter (TSV
 * columns, JSONL field names, batch size), the rest is the file (gzip-
 * compressed by this target when byte 0 asks for it, so that the readers
 * also see real gzip streams).
 *
 * Invariants: a reader returns rows or a status with a message, never
 * crashes or leaks; rows have the documented shape; the loaders agree with
 * the iterator; plain text loses no line; metrics are finite and in range;
 * an epoch plan never puts a text twice in a batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/common.h"
#include "text/datafile.h"
#include "text/docinput.h"
#include "eval/evalfile.h"
#include "fuzz.h"
#include "base/textio.h"
#include "train/trainset.h"

/* A broken invariant: say which, then crash so the fuzzer keeps the input. */
static void fail(const char *what)
{
    fprintf(stderr, "fuzz_datafile: %s: %s\n", what, ss_errmsg());
    abort();
}

static char dir[64];
static ss_model *model;
static int model_tried;

static void cleanup(void)
{
    ss_model_free(model);
    model = NULL;
    if (dir[0]) rmdir(dir);
}

static void init_once(void)
{
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "/tmp/ss-fuzz-datafile-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("fuzz_datafile: mkdtemp");
        abort();
    }
    atexit(cleanup);
    ss_set_threads(1);
}

/* A tiny random model around the shipped vocabulary, made at first use. */
static ss_model *tiny_model(void)
{
    if (model_tried) return model;
    model_tried = 1;
    if (fuzz_tiny_model(11, &model) != SS_OK) fail("cannot make a tiny model");
    return model;
}

/* The payload as a gzip stream (malloc'd), or NULL. */
static unsigned char *gzip(const uint8_t *data, size_t size, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, size) + 64;
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

/* Non-blank lines of the payload, counted independently of the reader
 * (a line ends at LF; one CR before it is not part of it). */
static long count_text_lines(const char *p, size_t n)
{
    long count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '\n') continue;
        if (i == n && start == n) break; /* no line after the last LF */
        size_t len = i - start;
        if (i < n && len > 0 && p[start + len - 1] == '\r') len--;
        if (!blank(p + start, len)) count++;
        start = i + 1;
    }
    return count;
}

/* A status of a reader that failed: a code with a message. */
static void check_failure(int rc, const char *what)
{
    if (rc == SS_OK || rc == 1) return;
    if (rc != SS_ERR_FORMAT && rc != SS_ERR_IO && rc != SS_ERR_RANGE && rc != SS_ERR_NUMERIC && rc != SS_ERR_ARG)
        fail(what);
    if (!*ss_errmsg()) fail("an error without a message");
}

typedef struct scan {
    int rc;         /* 0 at the end, or the error */
    size_t rows, texts;
} scan;

/* Every row of a file through the iterator, checked. */
static scan iterate(const char *path, ss__data_kind kind)
{
    scan sc = {0, 0, 0};
    ss__data_reader *r;
    if (ss__data_open(path, kind, &r) != SS_OK) fail("an existing file does not open");
    ss__data_row row;
    long last = 0;
    int rc;
    while ((rc = ss__data_next(r, &row)) == SS__LINE) {
        if (row.lineno <= last) fail("line numbers do not increase");
        last = row.lineno;
        size_t want_lo = kind == SS__DATA_TEXT ? 1 : 2, want_hi = kind == SS__DATA_GROUPS ? (size_t)-1 : want_lo;
        if (row.n < want_lo || row.n > want_hi) fail("a row with the wrong number of texts");
        for (size_t i = 0; i < row.n; i++) {
            if (row.text[i][row.len[i]] != '\0') fail("a text is not NUL-terminated");
            if (blank(row.text[i], row.len[i])) fail("a blank text");
            if (memchr(row.text[i], '\n', row.len[i])) fail("a newline inside a text");
            if (kind != SS__DATA_TEXT && memchr(row.text[i], '\t', row.len[i])) fail("a tab inside a field");
        }
        if (kind == SS__DATA_LABELED && row.value != 0 && row.value != 1) fail("a label that is not 0 or 1");
        if (kind == SS__DATA_SCORED && !isfinite(row.value)) fail("a score that is not finite");
        if ((kind == SS__DATA_TEXT || kind == SS__DATA_GROUPS) && row.value != 0) fail("a value in a text row");
        sc.rows++;
        sc.texts += row.n;
    }
    check_failure(rc, "the iterator failed with an unexpected status");
    sc.rc = rc;
    ss__data_close(r);
    return sc;
}

static void load_pairs(const char *path, ss__data_kind kind)
{
    scan sc = iterate(path, kind);
    ss__pairs p;
    int rc = ss__pairs_load(path, kind, &p);
    check_failure(rc, "ss__pairs_load failed with an unexpected status");
    if (sc.rc && rc != sc.rc) fail("the pair loader and the iterator disagree on an error");
    if (!sc.rc && sc.rows > 0 && rc) fail("the pair loader failed on a file the iterator reads");
    if (!sc.rc && sc.rows == 0 && rc != SS_ERR_FORMAT) fail("no pairs is not an error");
    if (rc) return;
    if (p.n != sc.rows) fail("the pair loader and the iterator count different pairs");
    for (size_t i = 0; i < p.n; i++) {
        if (p.a[i][p.alen[i]] || p.b[i][p.blen[i]]) fail("a pair text is not NUL-terminated");
        if (kind == SS__DATA_LABELED && p.value[i] != 0 && p.value[i] != 1) fail("a loaded label");
        if (!isfinite(p.value[i])) fail("a loaded score");
    }
    ss__pairs_free(&p);
}

static void load_groups(const char *path)
{
    scan sc = iterate(path, SS__DATA_GROUPS);
    ss__groups g;
    int rc = ss__groups_load(path, &g);
    check_failure(rc, "ss__groups_load failed with an unexpected status");
    if (sc.rc && rc != sc.rc) fail("the group loader and the iterator disagree on an error");
    if (!sc.rc && sc.rows > 0 && rc) fail("the group loader failed on a file the iterator reads");
    if (rc) return;
    if (g.n_groups != sc.rows || g.n_texts != sc.texts) fail("the group loader and the iterator disagree");
    if (g.start[0] != 0 || g.start[g.n_groups] != g.n_texts) fail("group bounds");
    for (size_t k = 0; k < g.n_groups; k++)
        if (g.start[k + 1] < g.start[k] + 2) fail("a group of fewer than 2 texts");
    for (size_t i = 0; i < g.n_texts; i++)
        if (g.text[i][g.len[i]]) fail("a group text is not NUL-terminated");
    ss__groups_free(&g);
}

static void train_load(const char *path, int opt, int param)
{
    ss__trainset *ts;
    if (ss__trainset_new(&ts) != SS_OK) fail("ss__trainset_new");
    ss__load_opts o;
    memset(&o, 0, sizeof o);
    o.skip_bad = (opt & 0x20) != 0;
    o.has_min_score = (opt & 0x40) == 0;
    o.min_score = (double)(param % 7) - 1.0;
    int rc = ss__trainset_load(ts, path, 1.0 + (param & 1), &o);
    check_failure(rc, "ss__trainset_load failed with an unexpected status");
    if (rc == SS_OK) {
        if (ts->n_src != 1 || ts->n_examples == 0 || ts->src[0].n != ts->n_examples) fail("loaded sources");
        for (size_t e = 0; e < ts->n_examples; e++) {
            size_t n = ss__trainset_ex_size(ts, e);
            if (n < 1) fail("an empty example");
            for (size_t i = ts->ex_off[e]; i < ts->ex_off[e + 1]; i++) {
                uint32_t t = ts->members[i];
                if (t >= ts->n_texts) fail("an example names a text that does not exist");
                if (strlen(ss__trainset_text(ts, t)) > ts->text_len[t]) fail("a text's length");
            }
        }
        ss__plan plan;
        int batch = 2 + (param >> 1) % 15, curric = (opt >> 6) & 3;
        rc = ss__trainset_plan(ts, (uint64_t)param, (opt & 0x80) ? 1 : 0, batch, curric > 2 ? 0 : curric, &plan);
        check_failure(rc, "ss__trainset_plan failed with an unexpected status");
        if (rc == SS_OK) {
            uint8_t *seen = calloc(ts->n_texts ? ts->n_texts : 1, 1);
            if (plan.start[0] != 0 || plan.start[plan.n_batches] != plan.n_items) fail("plan bounds");
            for (size_t b = 0; b < plan.n_batches; b++) {
                /* 2 .. batch_size, or one more: a lone leftover joins the batch before it */
                if (plan.start[b + 1] < plan.start[b] + 2 || plan.start[b + 1] - plan.start[b] > (size_t)batch + 1)
                    fail("a batch of the wrong size");
                for (size_t i = plan.start[b]; i < plan.start[b + 1]; i++) {
                    const ss__plan_item *it = &plan.items[i];
                    if (it->ex >= ts->n_examples || it->a >= ts->n_texts || it->b >= ts->n_texts)
                        fail("a plan item out of range");
                    if (seen[it->a] || (it->b != it->a && seen[it->b])) fail("a text twice in one batch");
                    seen[it->a] = seen[it->b] = 1;
                }
                for (size_t i = plan.start[b]; i < plan.start[b + 1]; i++)
                    seen[plan.items[i].a] = seen[plan.items[i].b] = 0;
            }
            free(seen);
            ss__plan_free(&plan);
        }
    }
    ss__trainset_free(ts);
}

static int in01(double v) { return isfinite(v) && v >= -1e-9 && v <= 1 + 1e-9; }

static void eval_file(const char *path, int which, int with_model)
{
    ss_model *m = with_model ? tiny_model() : NULL;
    int rc;
    if (which == 0) {
        double sp = 2, pe = 2;
        size_t n = 0;
        rc = ss_eval_sts_file(m, path, &sp, &pe, &n);
        if (rc == SS_OK && (!isfinite(sp) || !isfinite(pe) || fabs(sp) > 1 + 1e-9 || fabs(pe) > 1 + 1e-9 || n < 2))
            fail("STS metrics out of range");
    } else if (which == 1) {
        ss_eval_pairs e;
        rc = ss_eval_pairs_file(m, path, &e);
        if (rc == SS_OK && (!in01(e.accuracy) || !in01(e.f1) || !in01(e.precision) || !in01(e.recall) ||
                            !in01(e.average_precision) || !in01(e.auc) || e.n_positive > e.n))
            fail("pair metrics out of range");
    } else {
        ss_eval_retrieval e;
        rc = ss_eval_retrieval_file(m, path, &e);
        if (rc == SS_OK && (!in01(e.recall_at_1) || !in01(e.recall_at_5) || !in01(e.recall_at_10) ||
                            !in01(e.mrr_at_10) || !in01(e.ndcg_at_10) || e.recall_at_1 > e.recall_at_10 + 1e-9))
            fail("retrieval metrics out of range");
    }
    check_failure(rc, "an evaluation failed with an unexpected status");
}

static const char *const fields[] = {"text", "id", "body", "t", "", "a.b", "\xc3\xa9t\xc3\xa9", "[0]", "$", "q\"uote"};
#define NFIELDS (sizeof fields / sizeof *fields)

static void doc_input(const char *path, int format, int param)
{
    int tcol = 1 + param % 4, icol = (param >> 2) % 4;
    const char *tf = fields[param % NFIELDS], *idf = (param >> 4) % 4 ? fields[(param >> 4) % NFIELDS] : NULL;
    ss__docin *d;
    int rc = ss__docin_new(format, tcol, icol, tf, idf, &d);
    int quoted = format == SS__DOCIN_JSONL && (strchr(tf, '"') || (idf && strchr(idf, '"')));
    if (quoted) {
        if (rc != SS_ERR_ARG) fail("a field name with a quote is not refused");
        return;
    }
    if (rc) fail("ss__docin_new");
    ss__lines *r;
    if (ss__lines_open(path, &r) != SS_OK) fail("an existing file does not open");
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        ss__docin_doc doc;
        rc = ss__docin_parse(d, line, len, ss__lines_name(r), ss__lines_lineno(r), &doc);
        if (rc == 1) {
            if (!doc.text || doc.len == 0 || blank(doc.text, doc.len)) fail("a document without text");
            if (format == SS__DOCIN_LINES && (doc.text != line || doc.len != len)) fail("a line is not its text");
            if (format == SS__DOCIN_TSV && (memchr(doc.text, '\t', doc.len) || (doc.id && memchr(doc.id, '\t', doc.idlen))))
                fail("a TSV field with a tab");
            if (format != SS__DOCIN_JSONL && (doc.text < line || doc.text + doc.len > line + len)) fail("a field outside its line");
            if (doc.id && format == SS__DOCIN_TSV && icol == 0) fail("an id without an id column");
            if (doc.meta && (format != SS__DOCIN_JSONL || doc.meta[0] != '{' || !strcmp(doc.meta, "{}")))
                fail("metadata that is not a JSON object");
            volatile size_t touch = 0; /* every byte readable (ASan) */
            for (size_t i = 0; i < doc.len; i++) touch += (unsigned char)doc.text[i];
            for (size_t i = 0; doc.id && i < doc.idlen; i++) touch += (unsigned char)doc.id[i];
            if (doc.meta) touch += strlen(doc.meta);
            (void)touch;
        } else if (rc != 0) {
            if (rc != SS_ERR_FORMAT || !*ss_errmsg()) fail("a document line failed with an unexpected status");
        }
    }
    check_failure(rc, "the line reader failed with an unexpected status");
    ss__lines_close(r);
    ss__docin_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 2) return 0;
    int opt = data[0], param = data[1];
    const uint8_t *body = data + 2;
    size_t blen = size - 2;
    int mode = opt & 15, gz = (opt & 0x10) != 0;
    unsigned char *packed = NULL;
    if (gz) {
        size_t n;
        if (!(packed = gzip(body, blen, &n))) return 0;
        body = packed;
        blen = n;
    }
    static const char *const suffix[16] = {".txt", ".groups.tsv", ".scored.tsv", ".labeled.tsv",
                                           ".scored.tsv", ".labeled.tsv", ".groups.tsv",
                                           ".groups.tsv", ".scored.tsv", ".labeled.tsv", ".txt",
                                           ".scored.tsv", ".labeled.tsv", ".groups.tsv", ".tsv", ".jsonl"};
    char tmp[128], path[160];
    snprintf(tmp, sizeof tmp, "%s/in-XXXXXX", dir);
    int wrote = fuzz_write_temp(body, blen, tmp);
    free(packed);
    if (wrote) return 0;
    snprintf(path, sizeof path, "%s%s%s", tmp, suffix[mode], gz ? ".gz" : "");
    if (rename(tmp, path)) {
        unlink(tmp);
        return 0;
    }
    static const ss__data_kind kinds[4] = {SS__DATA_TEXT, SS__DATA_GROUPS, SS__DATA_SCORED, SS__DATA_LABELED};
    switch (mode) {
    case 0: case 1: case 2: case 3: {
        scan sc = iterate(path, kinds[mode]);
        if (mode == 0) {
            if (sc.rc) fail("plain text failed to read");
            if ((long)sc.rows != count_text_lines((const char *)data + 2, size - 2)) fail("plain text lost or made up lines");
        }
        break;
    }
    case 4: load_pairs(path, SS__DATA_SCORED); break;
    case 5: load_pairs(path, SS__DATA_LABELED); break;
    case 6: load_groups(path); break;
    case 7: case 8: case 9: case 10: train_load(path, opt, param); break;
    case 11: case 12: case 13: eval_file(path, mode - 11, (opt & 0x20) != 0); break;
    case 14: doc_input(path, (opt & 0x20) ? SS__DOCIN_LINES : SS__DOCIN_TSV, param); break;
    case 15: doc_input(path, SS__DOCIN_JSONL, param); break;
    }
    unlink(path);
    return 0;
}
