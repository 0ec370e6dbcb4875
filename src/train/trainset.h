/* trainset.h: the training data of `semsearch train` in memory, and the
 * order in which it is fed to the model.
 *
 * Every text is stored once (interned), so that "the same text" is one id
 * whatever file it came from. An example is a set of texts that mean the same
 * thing: a paraphrase group (2+ texts), a positive pair (2 texts), or a lone
 * sentence (1 text, its positive is made by augmentation and dropout).
 *
 * An epoch plan is a pure function of (data, seed, epoch, batch size): the
 * trainer can recompute the plan of any epoch after a resume, so a checkpoint
 * only needs the epoch and the batch index. The batches of a plan obey:
 *  - no text occurs twice in a batch, and no two examples of a batch share a
 *    text (counting every text of a group, not only the chosen pair): a
 *    paraphrase is never used as a negative;
 *  - every example is used once per epoch (times its source's weight);
 *  - examples of similar length are batched together (less padding). */
#ifndef SS_TRAINSET_H
#define SS_TRAINSET_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"

/* ------------------------------------------------------------------ rng */

/* Random numbers come from rng.h (xoshiro256**, state uint64_t[4]): the
 * data order must not depend on libc's rand. */
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t ss__rand_below(uint64_t s[4], uint64_t n);
/* A seed derived from two values (seed and epoch, batch index, ...). */
static inline uint64_t ss__seed_mix(uint64_t a, uint64_t b)
{
    return ss__mix64(a ^ ss__mix64(b + 0x9e3779b97f4a7c15ULL));
}

/* -------------------------------------------------------------- the data */

/* DOCS: documents (trainset_docs.c); each epoch makes one positive pair per
 * document use on the fly from its title, headings and paragraphs (docpairs.h).
 * TRIPLETS: (anchor, positive, hard negative); the negative joins the batch's
 * in-batch negatives. */
enum { SS__SRC_TEXT = 0, SS__SRC_GROUPS = 1, SS__SRC_PAIRS = 2, SS__SRC_DOCS = 3, SS__SRC_TRIPLETS = 4 };

/* The form of an example (ss__trainset.form): members are the texts of a
 * group (PLAIN), a document's paragraphs (DOC), its title then paragraphs
 * (DOC_TITLED), or anchor, positive, negative (TRIPLET). */
enum { SS__FORM_PLAIN = 0, SS__FORM_DOC = 1, SS__FORM_DOC_TITLED = 2, SS__FORM_TRIPLET = 3 };

/* "no text" in the per-member section ids of documents */
#define SS__NO_TEXT UINT32_MAX

typedef struct ss__source {
    char *name;       /* file name as given */
    int kind;         /* SS__SRC_* */
    double weight;    /* examples per epoch = round(weight x n_examples) */
    size_t first, n;  /* its examples: [first, first + n) */
    long lines;       /* lines read */
    long skipped_bad; /* malformed lines skipped (--skip-bad) */
    long skipped;     /* well-formed lines not used: below --min-score,
                         label 0, fewer than 2 distinct texts, empty, or
                         a plain-text sentence seen before */
    char *first_bad;  /* message of the first skipped malformed line */
} ss__source;

typedef struct ss__trainset {
    /* texts: NUL-terminated, in one pool, found by offset */
    char *pool;
    size_t pool_len, pool_cap;
    size_t *text_off;
    uint32_t *text_len;
    uint8_t *lone; /* 1: the text is already a lone-sentence example */
    uint32_t n_texts, texts_cap;
    uint32_t *hash; /* open addressing: text id + 1, 0 = empty */
    size_t hash_cap;
    /* examples: members[ex_off[i] .. ex_off[i+1]) are text ids */
    uint32_t *members;
    size_t n_members, members_cap;
    size_t *ex_off; /* n_examples + 1 */
    size_t n_examples, ex_cap;
    double *score; /* the gold score of each pair (graded data, ss__load_opts.graded):
                      read with ss__trainset_score */
    size_t score_cap;
    /* form[ex]: SS__FORM_* of each example (NULL, or shorter than the
     * examples: PLAIN); sect[j] is the section heading (text id) of document
     * paragraph member j, or SS__NO_TEXT (NULL until a document is added). */
    uint8_t *form;
    size_t form_cap;
    uint32_t *sect;
    size_t sect_cap;
    ss__source *src;
    int n_src;
    uint64_t fingerprint; /* hash of the texts and structure, for resume checks */
} ss__trainset;

int ss__trainset_new(ss__trainset **out);
void ss__trainset_free(ss__trainset *ts);

/* Starts a source; examples added next belong to it. */
int ss__trainset_begin_source(ss__trainset *ts, const char *name, int kind, double weight);
/* Adds one example of the current source: texts are interned, duplicates
 * within the example dropped. A group or pair left with fewer than 2
 * distinct texts, or an empty text, is not added (*added = 0, counted in
 * the source's `skipped`), nor a lone sentence that already is one. */
int ss__trainset_add(ss__trainset *ts, const char *const *texts, const size_t *lens, int n,
                     int *added);

/* Adds one document of the current source (kind SS__SRC_DOCS): an optional
 * title (NULL or empty: none) and n paragraphs, each with an optional section
 * heading (sects NULL, or sects[i] NULL/empty: none). Empty and repeated
 * paragraphs are dropped; a document left with no paragraph is not added. */
int ss__trainset_add_doc(ss__trainset *ts, const char *title, size_t tlen, const char *const *paras,
                         const size_t *plens, const char *const *sects, const size_t *slens, int n, int *added);
/* Adds one triplet (anchor, positive, negative) of the current source: all
 * three must be non-empty and different (else skipped, *added = 0). */
int ss__trainset_add_triplet(ss__trainset *ts, const char *const *texts, const size_t *lens, int *added);
static inline int ss__trainset_form(const ss__trainset *ts, size_t ex)
{
    return ts->form && ex < ts->form_cap ? ts->form[ex] : SS__FORM_PLAIN;
}
/* 1 if example ex is a document. */
static inline int ss__trainset_is_doc(const ss__trainset *ts, size_t ex)
{
    int f = ss__trainset_form(ts, ex);
    return f == SS__FORM_DOC || f == SS__FORM_DOC_TITLED;
}

/* Gives the example added last (*added = 1) a score (for the cosent loss). */
int ss__trainset_set_score(ss__trainset *ts, double score);
/* The score of an example, NaN if it has none. */
static inline double ss__trainset_score(const ss__trainset *ts, size_t ex)
{
    return ts->score && ex < ts->score_cap ? ts->score[ex] : (double)NAN;
}
/* The source (index into ts->src) an example belongs to. */
int ss__trainset_source_of(const ss__trainset *ts, size_t ex);

static inline const char *ss__trainset_text(const ss__trainset *ts, uint32_t id)
{
    return ts->pool + ts->text_off[id];
}
static inline size_t ss__trainset_ex_size(const ss__trainset *ts, size_t ex)
{
    return ts->ex_off[ex + 1] - ts->ex_off[ex];
}

/* ------------------------------------------------------------- loading */

typedef struct ss__load_opts {
    double min_score; /* *.scored.tsv: pairs with score >= min_score are positives */
    int has_min_score;
    int skip_bad;     /* skip malformed lines (counted) instead of failing */
    int graded;       /* graded pairs (the cosent loss): every pair of a *.scored.tsv
                         file with its score, of a *.labeled.tsv file with its 0/1
                         label as score (min_score is not used); groups and text
                         as without (examples with no score) */
} ss__load_opts;

/* Loads one --data file. The kind comes from the name: *.groups.tsv,
 * *.scored.tsv (needs has_min_score), *.labeled.tsv (label-1 pairs); any
 * other name (.txt, .gz, "-") is plain text, one sentence a line. With
 * o->graded, every pair of scored and labeled files, with its score. */
int ss__trainset_load(ss__trainset *ts, const char *path, double weight, const ss__load_opts *o);

/* Documents (trainset_docs.c), chosen by ss__trainset_load for:
 *   *.paragraphs.tsv[.gz]  doc_id TAB title TAB section TAB paragraph, the
 *                          lines of a document consecutive, in order;
 *   *.docs.txt[.gz]        plain text: a blank line ends a document, each
 *                          line is a paragraph, a line "# T" a heading (the
 *                          first of a document its title);
 *   a directory            every regular file under it (sorted, hidden ones
 *                          skipped) is one document: blank lines separate
 *                          paragraphs, lines of a paragraph are joined, and
 *                          Markdown headings ("# T") give title and sections. */
int ss__trainset_is_docs_path(const char *path);
int ss__trainset_load_docs(ss__trainset *ts, const char *path, double weight, const ss__load_opts *o);

/* ------------------------------------------------------------ the order */

/* RANDOM: no curriculum and no length bucketing either: every batch a
 * random set (the cosent loss ranks the pairs of a batch against each other:
 * pairs of all lengths should meet). */
enum { SS__CURRIC_NONE = 0, SS__CURRIC_LENGTH = 1, SS__CURRIC_OVERLAP = 2, SS__CURRIC_RANDOM = 3 };

typedef struct ss__plan_item {
    uint32_t ex;   /* example */
    uint32_t a, b; /* text ids of the two sides (a == b for a lone sentence) */
} ss__plan_item;

typedef struct ss__plan {
    ss__plan_item *items;
    size_t n_items;
    size_t *start; /* batch i is items[start[i] .. start[i+1]) */
    size_t n_batches;
    size_t dropped; /* examples that fitted in no batch of 2 or more */
} ss__plan;

/* The plan of one epoch. curriculum orders the batches of epoch 0 from easy
 * to hard (short first, or high word overlap first) instead of randomly, or
 * (RANDOM) turns off length bucketing. */
int ss__trainset_plan(const ss__trainset *ts, uint64_t seed, int64_t epoch, int batch_size,
                      int curriculum, ss__plan *out);
void ss__plan_free(ss__plan *p);

#endif
