/*
 * semsearch.h: the one public header of libsemsearch.
 *
 * Conventions (as in SQLite and zstd):
 *  - every name is ss_* / SS_*; handles are opaque;
 *  - calls that can fail return an int status: SS_OK (0) or an SS_ERR_* code;
 *  - the message of the last failure in the calling thread is ss_errmsg();
 *  - memory the library hands out is released with ss_free(); every *_free
 *    function accepts NULL;
 *  - the library never exits, aborts or prints: it returns codes.
 */
#ifndef SEMSEARCH_H
#define SEMSEARCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SS_API __attribute__((visibility("default")))
#define SS_NODISCARD __attribute__((warn_unused_result))
#else
#define SS_API
#define SS_NODISCARD
#endif

#define SS_VERSION "0.1.0"
#define SS_VERSION_NUMBER 1000 /* major*1000000 + minor*1000 + patch */

/* ------------------------------------------------------------------ errors */

enum {
    SS_OK = 0,
    SS_ERR = 1,           /* generic failure */
    SS_ERR_NOMEM = 2,     /* an allocation failed */
    SS_ERR_IO = 3,        /* a file could not be read or written */
    SS_ERR_FORMAT = 4,    /* malformed input: model file, data line, ... */
    SS_ERR_ARG = 5,       /* invalid argument */
    SS_ERR_TOKENIZER = 6, /* SentencePiece reported an error */
    SS_ERR_MODEL = 7,     /* model/tokenizer/database mismatch */
    SS_ERR_SQL = 8,       /* SQLite reported an error */
    SS_ERR_NUMERIC = 9,   /* NaN or Inf where a finite number is needed */
    SS_ERR_RANGE = 10,    /* a value or size out of its allowed range */
    SS_ERR_INTERRUPTED = 11
};

SS_API const char *ss_version(void);
SS_API int ss_version_number(void);
/* Message of the last failed call in this thread ("" if none). */
SS_API const char *ss_errmsg(void);
/* Static description of a status code. */
SS_API const char *ss_strerror(int code);
/* Releases memory returned by the library. NULL is fine. */
SS_API void ss_free(void *p);

/* Threads used by BLAS and OpenMP together (0 = all cores). Also read from
 * SEMSEARCH_THREADS at first use. Returns the number now in effect. */
SS_API int ss_set_threads(int n);
SS_API int ss_get_threads(void);

/* ------------------------------------------------------------ normalization */

enum {
    SS_NORM_NFKC = 1 << 0,     /* compatibility composition */
    SS_NORM_CASEFOLD = 1 << 1, /* Unicode case folding */
    SS_NORM_SPLIT_PUNCT = 1 << 2, /* punctuation and symbols become words of
                                     their own: "(#guns)" -> "( # guns )" */
    SS_NORM_DEFAULT = SS_NORM_NFKC
};

/* Normalizes UTF-8 text: invalid bytes become U+FFFD, control characters
 * (including NUL) are dropped, runs of whitespace become one space, leading
 * and trailing whitespace is trimmed, then NFKC (and case folding; and with
 * SS_NORM_SPLIT_PUNCT a space on both sides of every character of Unicode's
 * punctuation and symbol categories, so that a word after "#", "(" or a quote
 * is split as a word, not as the inside of one). The result is NUL-terminated
 * and released with ss_free(). */
SS_API SS_NODISCARD int ss_normalize(const char *text, size_t len, int flags,
                                     char **out, size_t *out_len);

/* ---------------------------------------------------------------- tokenizer */

typedef struct ss_tokenizer ss_tokenizer;

/* A tokenizer from a SentencePiece .model file or from a model file (GGUF,
 * a training checkpoint too: its embedded tokenizer with its normalization),
 * told by the file's first bytes. Only regular files are read. */
SS_API SS_NODISCARD int ss_tokenizer_load(const char *path, ss_tokenizer **out);
SS_API SS_NODISCARD int ss_tokenizer_load_bytes(const void *data, size_t len,
                                                ss_tokenizer **out);
SS_API void ss_tokenizer_free(ss_tokenizer *tok);
/* The serialized SentencePiece model (to embed it elsewhere); not a copy. */
SS_API const void *ss_tokenizer_bytes(const ss_tokenizer *tok, size_t *len);
/* Normalization flags applied before SentencePiece (default SS_NORM_DEFAULT). */
SS_API void ss_tokenizer_set_norm(ss_tokenizer *tok, int flags);
SS_API int ss_tokenizer_get_norm(const ss_tokenizer *tok);

SS_API int ss_tokenizer_vocab_size(const ss_tokenizer *tok);
SS_API int ss_tokenizer_pad_id(const ss_tokenizer *tok); /* -1 if none */
SS_API int ss_tokenizer_unk_id(const ss_tokenizer *tok);
SS_API int ss_tokenizer_bos_id(const ss_tokenizer *tok); /* -1 if none */
SS_API int ss_tokenizer_eos_id(const ss_tokenizer *tok); /* -1 if none */
/* Piece of an id (NULL if out of range); id of a piece (unk id if unknown). */
SS_API const char *ss_tokenizer_id_to_piece(const ss_tokenizer *tok, int id);
SS_API int ss_tokenizer_piece_to_id(const ss_tokenizer *tok, const char *piece);

/* Normalizes and encodes text into ids (*ids released with ss_free()). */
SS_API SS_NODISCARD int ss_tokenizer_encode(ss_tokenizer *tok, const char *text,
                                            size_t len, int32_t **ids, size_t *n);
/* Same, as pieces: *pieces is an array of n NUL-terminated strings, released
 * with one ss_free(*pieces) (strings live in the same block). */
SS_API SS_NODISCARD int ss_tokenizer_encode_pieces(ss_tokenizer *tok, const char *text,
                                                   size_t len, char ***pieces, size_t *n);
SS_API SS_NODISCARD int ss_tokenizer_decode(ss_tokenizer *tok, const int32_t *ids,
                                            size_t n, char **text);

/* A batch of token id sequences, padded to the longest one (not to max_len).
 * ids and mask are (B,T) row-major; mask is 1 on real tokens, 0 on padding. */
typedef struct ss_batch {
    int B, T;
    int32_t *ids;
    uint8_t *mask;
    int *lengths; /* (B) real tokens per row */
} ss_batch;

/* Encodes n texts, truncating each to max_len tokens (including bos/eos when
 * add_special is set), pads with the pad id (0 if the model has none). */
SS_API SS_NODISCARD int ss_tokenizer_encode_batch(ss_tokenizer *tok,
                                                  const char *const *texts, const size_t *lens,
                                                  int n, int max_len, int add_special,
                                                  ss_batch *out);
SS_API void ss_batch_free(ss_batch *b);

enum { SS_SPM_UNIGRAM = 0, SS_SPM_BPE = 1 };

typedef struct ss_tokenizer_train_opts {
    const char *const *inputs; /* text files (.gz accepted), one sentence a line */
    int n_inputs;
    const char *output;        /* model path to write (tmp + rename) */
    int vocab_size;            /* default 16000 */
    int model_type;            /* SS_SPM_UNIGRAM or SS_SPM_BPE */
    double character_coverage; /* default 0.9995 */
    long input_sentence_size;  /* sentences sampled, default 2000000, 0 = all */
    int norm_flags;            /* SS_NORM_DEFAULT; with SS_NORM_CASEFOLD the model
                                  itself folds case (SentencePiece nmt_nfkc_cf) */
    int threads;               /* 0 = ss_get_threads() */
    uint64_t seed;
    /* called (may be NULL) as sentences are read, step "read" with the
     * count so far, then once with step "train" when all are read and
     * SentencePiece trains (the long part, without further calls) */
    void (*progress)(void *ctx, const char *step, long sentences);
    void *progress_ctx;
} ss_tokenizer_train_opts;

SS_API void ss_tokenizer_train_opts_init(ss_tokenizer_train_opts *o);
/* Trains a SentencePiece model with ids pad=0, unk=1, bos(cls)=2, eos(sep)=3. */
SS_API SS_NODISCARD int ss_tokenizer_train(const ss_tokenizer_train_opts *o);

/* -------------------------------------------------------------------- model */

typedef struct ss_model ss_model;

/* SS_POOL_MEANMAX: the mean and the per-channel max of the token vectors,
 * each L2-normalized, side by side (vectors of 2 x d_model; their cosine is
 * the mean of the two cosines: "concatenated power means", Rueckle et al.
 * 2018). ss_model_dim() gives the vectors' length. */
enum { SS_POOL_MEAN = 0, SS_POOL_CLS = 1, SS_POOL_MAX = 2, SS_POOL_MEANMAX = 3 };
/* "mean", "cls", "max", "meanmax" (the names model files use), NULL for another value. */
SS_API const char *ss_pooling_name(int pooling);
/* SS_DTYPE_INT8: the matrices (token and position tables, the blocks'
 * weights) as int8 with a scale per row, the rest f32 (docs/design.md). */
enum { SS_DTYPE_F32 = 0, SS_DTYPE_F16 = 1, SS_DTYPE_INT8 = 2 };

typedef struct ss_config {
    int vocab_size; /* taken from the tokenizer */
    int max_len;    /* positions, default 128 */
    int d_model;    /* default 256 */
    int n_layers;   /* default 4 */
    int n_heads;    /* default 4 */
    int d_ff;       /* default 1024 */
    int pooling;    /* SS_POOL_*, default mean */
    float dropout;  /* training only, default 0.1 */
    int no_out_norm; /* 1: no LayerNorm before pooling, so token vectors keep
                        their norms as weights (a static model: n_layers 0,
                        an embedding bag); default 0 */
} ss_config;

SS_API void ss_config_init(ss_config *c);
/* A randomly initialized model around a tokenizer (the tokenizer's bytes are
 * copied into the model; tok stays the caller's). */
SS_API SS_NODISCARD int ss_model_init(const ss_config *c, const ss_tokenizer *tok,
                                      uint64_t seed, ss_model **out);
/* Loads a GGUF model file; checks magic, version, every shape and size. */
SS_API SS_NODISCARD int ss_model_load(const char *path, ss_model **out);
/* Writes a GGUF model file (temp file, then rename). */
SS_API SS_NODISCARD int ss_model_save(const ss_model *m, const char *path, int dtype);
SS_API void ss_model_free(ss_model *m);
/* Another handle on m's weights, for another thread: ss_embed on different
 * handles may run at once (each has its own scratch; the weights, int8
 * copies and tokenizer are shared, read-only). Freed with ss_model_free, in
 * any order: the last handle frees the weights. While handles share them,
 * what would change the weights (training, ss_model_mix, a new precision,
 * ss_model_copy_embeddings, ss_model_identity_blocks) is SS_ERR_ARG. What
 * ss_embed fills in on first use (the f32 table of an int8 file, int8
 * matrices) is filled in here. */
SS_API SS_NODISCARD int ss_model_share(ss_model *m, ss_model **out);
/* a's weights become (1 - w) a + w b, 0 <= w <= 1: weight averaging ("model
 * soups"; WiSE-FT). Meaningful between runs from one starting model, e.g. a
 * fine-tuned model and the model it was fine-tuned from, where it trades
 * the fine-tuned gains against what the start did well. Same shape, pooling
 * and tokenizer, else SS_ERR_MODEL and a is unchanged. */
SS_API SS_NODISCARD int ss_model_mix(ss_model *a, const ss_model *b, float w);
/* The shipped default model (models/en-base.gguf): looked for under
 * $SEMSEARCH_DATA, then beside the running program (its directory, the
 * parent, ../share/semsearch), then the installed data directory. *path is
 * malloc'd (ss_free); SS_ERR_IO with a message naming every place looked at
 * when there is none. */
SS_API SS_NODISCARD int ss_default_model_path(char **path);
/* The model to load for a database that records the model file `recorded`
 * (ss_store_model.path; NULL or "" for none): that file while it is
 * readable, else the shipped one (ss_default_model_path), whose fingerprint
 * ss_store_use_model then checks. The one policy of the semsearch command
 * and the SQLite extension. *path is malloc'd (ss_free); SS_ERR_IO naming
 * the recorded file and every place looked at when neither exists. */
SS_API SS_NODISCARD int ss_store_model_path(const char *recorded, char **path);
/* The precision of a model's matrix products in ss_embed (and of training's,
 * ss_train_options.precision): SS_MATMUL_F32; SS_MATMUL_BF16, bf16 products
 * with f32 accumulation; SS_MATMUL_INT8, int8 weights (those of an int8 model
 * file, else quantized on the spot) times activations quantized per row.
 * A model loads with SS_MATMUL_INT8 when its file has int8 weights, else
 * SS_MATMUL_F32; $SEMSEARCH_PRECISION (f32, bf16, int8) overrides that. On a
 * CPU without the instructions (AVX-512 BF16, VNNI), a build without oneDNN,
 * or with SEMSEARCH_ISA=f32, the products run in f32 instead (an int8
 * model's weights are then its int8 values in f32). */
enum { SS_MATMUL_F32 = 0, SS_MATMUL_BF16 = 1, SS_MATMUL_INT8 = 2 };
SS_API SS_NODISCARD int ss_model_set_precision(ss_model *m, int prec);
/* The precision set, and the one the products really run in (after the
 * fallback to f32). */
SS_API int ss_model_precision(const ss_model *m);
SS_API int ss_model_effective_precision(const ss_model *m);
/* "f32", "bf16", "int8" <-> SS_MATMUL_*; -1 / "?" when unknown */
SS_API int ss_precision_kind(const char *name);
SS_API const char *ss_precision_name(int prec);
/* 1 if prec runs on this CPU and build (else its products fall back to f32) */
SS_API int ss_precision_supported(int prec);

SS_API void ss_model_config(const ss_model *m, ss_config *c);
/* Changes how the model pools its token vectors (SS_POOL_*): pooling has no
 * weights, so a model trained with one can be run, measured or saved with
 * another (`semsearch model convert --pooling`). The vectors' length follows
 * (ss_model_dim). The fingerprint stays the loaded file's until saved. */
SS_API SS_NODISCARD int ss_model_set_pooling(ss_model *m, int pooling);
SS_API int ss_model_dim(const ss_model *m);
SS_API size_t ss_model_num_params(const ss_model *m);
/* The model's tokenizer (owned by the model). */
SS_API ss_tokenizer *ss_model_tokenizer(ss_model *m);
/* Hex SHA-256 of the file the model was loaded from ("" for a new model). */
SS_API const char *ss_model_fingerprint(const ss_model *m);

/* Embeds n texts into out (n x dim floats, L2-normalized), in input order.
 * A model's scratch buffers are reused: do not call ss_embed on one model
 * from two threads at once (load one model per thread). Programs using
 * OpenMP-built semsearch should run with OMP_WAIT_POLICY=PASSIVE (the
 * semsearch command sets it), else idle OpenMP threads slow BLAS down.
 * batch_size 0 chooses one (64). */
SS_API SS_NODISCARD int ss_embed(ss_model *m, const char *const *texts, const size_t *lens,
                                 size_t n, int batch_size, float *out);
/* The same, and unknown (n floats, may be NULL) receives for each text the
 * share of its characters (spaces aside) that the vocabulary does not know
 * ([UNK] pieces: a script it does not cover), from 0 to 1. A text that is
 * mostly unknown (share >= 0.5) has a vector blended, by its share, with a
 * hashed bag of its unknown characters and character pairs, so that two
 * texts of unknown scripts are alike only when they share characters (the
 * model sees every such text as the same [UNK]); a caller may warn that its
 * search is then only a character match. Known text is not affected. */
SS_API SS_NODISCARD int ss_embed_ex(ss_model *m, const char *const *texts, const size_t *lens,
                                    size_t n, int batch_size, float *out, float *unknown);

/* Soft term alignment of a query with each of n candidate texts, in [0, 1]
 * (1 when the candidate holds every piece of the query): the mean over the
 * query's pieces of each one's best cosine among a candidate's pieces, by
 * the rows of the model's token table, weighted by idf squared with the idf
 * taken over the n candidates themselves (src/nn/align.c). A rerank
 * signal: retrieval adds weight x alignment to the cosine of the top
 * candidates (ss_store_query_opts.align). lens may be NULL (NUL-terminated
 * texts); qlen is the query's length in bytes. A text or query without
 * pieces scores 0. Not on one model from two threads at once (as ss_embed). */
SS_API SS_NODISCARD int ss_model_align(ss_model *m, const char *query, size_t qlen,
                                       const char *const *texts, const size_t *lens, size_t n,
                                       float *scores);
/* The weight of the alignment that `semsearch query`, `eval` and `serve` use
 * by default with this model: 0.25 for a static model (no transformer
 * layer: the shipped kind, measured on Quora dev), 0 (none) otherwise, its
 * input table not being trained to compare pieces on their own. */
SS_API float ss_model_align_weight(const ss_model *m);

/* ---------------------------------------------------------------- evaluation */

/* Metrics take plain arrays; a NaN or infinite input is SS_ERR_NUMERIC, a
 * metric that is undefined on the data (constant scores, one class only, no
 * pairs) is SS_ERR_RANGE with a message; no call ever returns a NaN. */

/* Correlations (in [-1,1]); SS_ERR_RANGE when n < 2 or a side is constant.
 * Spearman is Pearson on ranks, tied values getting their average rank. */
SS_API SS_NODISCARD int ss_eval_pearson(const double *x, const double *y, size_t n, double *r);
SS_API SS_NODISCARD int ss_eval_spearman(const double *x, const double *y, size_t n, double *rho);

/* Pair classification. score[i]: similarity of pair i (higher = more alike);
 * label[i]: 1 for a paraphrase, 0 otherwise (other values: SS_ERR_ARG).
 * Pairs are predicted 1 when score >= threshold. */

/* Area under the ROC curve: the probability that a random positive scores
 * above a random negative, ties counting 1/2 (trapezoidal ROC area).
 * SS_ERR_RANGE unless both classes occur. */
SS_API SS_NODISCARD int ss_eval_auc(const double *score, const int *label, size_t n, double *auc);
/* Average precision: sum over distinct score thresholds t, from high to low,
 * of (recall(t) - recall(previous t)) * precision(t), tied scores taken
 * together (no interpolation; as scikit-learn). SS_ERR_RANGE without positives. */
SS_API SS_NODISCARD int ss_eval_average_precision(const double *score, const int *label,
                                                  size_t n, double *ap);
/* Best accuracy over every threshold (including "all 0" and "all 1"); the
 * threshold returned is midway between the two scores it separates (the
 * highest such threshold when several give the best accuracy). */
SS_API SS_NODISCARD int ss_eval_best_accuracy(const double *score, const int *label, size_t n,
                                              double *accuracy, double *threshold);
/* Best F1 over every threshold, with the precision and recall there (any
 * pointer but score, label and f1 may be NULL). SS_ERR_RANGE without positives. */
SS_API SS_NODISCARD int ss_eval_best_f1(const double *score, const int *label, size_t n,
                                        double *f1, double *precision, double *recall,
                                        double *threshold);

typedef struct ss_eval_pairs {
    size_t n, n_positive;
    double accuracy, accuracy_threshold;                 /* at the best-accuracy threshold */
    double f1, precision, recall, f1_threshold;          /* at the best-F1 threshold */
    double average_precision, auc;
} ss_eval_pairs;

/* All of the above at once. */
SS_API SS_NODISCARD int ss_eval_pair_classification(const double *score, const int *label,
                                                    size_t n, ss_eval_pairs *out);

/* Retrieval. Means over queries of: recall@k = relevant documents in the
 * top k / relevant documents of the query; MRR@10 = 1/rank of the first
 * relevant document in the top 10 (0 if none); nDCG@10 = DCG@10 / ideal
 * DCG@10 with binary gains and DCG = sum over ranks r of rel_r / log2(r + 1). */
typedef struct ss_eval_retrieval {
    size_t n_queries, n_docs;
    double recall_at_1, recall_at_5, recall_at_10, mrr_at_10, ndcg_at_10;
} ss_eval_retrieval;

/* From ranked lists: rel is (nq, k) row-major, rel[q*k + r] = 1 when the
 * document at rank r+1 of query q is relevant (k >= 10, or every document);
 * n_relevant[q] >= 1 is the query's number of relevant documents. */
SS_API SS_NODISCARD int ss_eval_ranked(const unsigned char *rel, size_t nq, size_t k,
                                       const size_t *n_relevant, ss_eval_retrieval *out);
/* From a similarity matrix sim (nq, nd), row-major: query q's relevant
 * documents are relevant[rel_start[q] .. rel_start[q+1]) (document indices);
 * skip (may be NULL) names one document per query left out of its ranking
 * (the query itself), or SIZE_MAX for none. Ties rank the non-relevant
 * documents first, so that tied scores never earn credit. */
SS_API SS_NODISCARD int ss_eval_retrieval_matrix(const float *sim, size_t nq, size_t nd,
                                                 const size_t *rel_start, const size_t *relevant,
                                                 const size_t *skip, ss_eval_retrieval *out);

/* Whole data files (formats of *.scored.tsv, *.labeled.tsv, *.groups.tsv,
 * whatever the file's name), scored by the cosine similarity of the model's
 * embeddings, or with m == NULL by the TF-IDF baseline (bag of words: NFKC +
 * case folding, words = runs of letters, digits and marks; tf = count, idf =
 * ln((1 + N) / (1 + df)) + 1 over the N texts of the file; cosine). Errors in
 * the file are SS_ERR_FORMAT "FILE:LINE: ...", an empty file "FILE: no pairs". */
SS_API SS_NODISCARD int ss_eval_sts_file(ss_model *m, const char *path, double *spearman,
                                         double *pearson, size_t *n);
SS_API SS_NODISCARD int ss_eval_pairs_file(ss_model *m, const char *path, ss_eval_pairs *out);
/* Each line is a group: its first text is a query, its other texts are the
 * query's relevant documents among all texts of the file but the query. */
SS_API SS_NODISCARD int ss_eval_retrieval_file(ss_model *m, const char *path,
                                               ss_eval_retrieval *out);

/* ------------------------------------------------------ evaluation of data */

/* What `semsearch eval` does with a data file, as one call. The task of a
 * file comes from its name (ss_eval_task_of): *.scored.tsv is STS,
 * *.labeled.tsv pair classification, *.groups.tsv retrieval within the file,
 * and a queries/corpus/qrels data set (NAME, NAME.queries.tsv,
 * NAME.corpus.tsv, NAME.qrels.tsv, each maybe .gz, or a BEIR directory with
 * corpus.jsonl, queries.jsonl and qrels/test.tsv or qrels/dev.tsv) is
 * retrieval as BEIR measures it: the model (exact cosine), BM25 (SQLite FTS5
 * bm25(), k1 1.2, b 0.75) and their hybrid fusion as ss_store_query's
 * defaults, scoring nDCG@10, recall@10/100, MRR@10 and MAP@100 over the
 * queries with a relevant judgement (a hit with the query's own id is
 * ignored). */
typedef enum ss_eval_task {
    SS_EVAL_TASK_NONE = 0, /* the name does not tell */
    SS_EVAL_TASK_STS,      /* *.scored.tsv */
    SS_EVAL_TASK_PAIRS,    /* *.labeled.tsv */
    SS_EVAL_TASK_GROUPS,   /* *.groups.tsv */
    SS_EVAL_TASK_IR        /* queries/corpus/qrels or BEIR */
} ss_eval_task;

/* The task of path: a queries/corpus/qrels data set (by name, or a directory
 * or file that exists) unless forced is another task than
 * SS_EVAL_TASK_GROUPS, else forced if not SS_EVAL_TASK_NONE, else what the
 * name says; *task is SS_EVAL_TASK_NONE when nothing tells. An error only
 * for a data set that cannot be used (a BEIR directory without qrels). */
SS_API SS_NODISCARD int ss_eval_task_of(const char *path, ss_eval_task forced, ss_eval_task *task);

/* Systems of the STS, pairs and groups tasks... */
enum { SS_EVAL_SYS_MODEL = 0, SS_EVAL_SYS_TFIDF, SS_EVAL_NSYS };
/* ...and of SS_EVAL_TASK_IR. */
enum { SS_EVAL_IR_MODEL = 0, SS_EVAL_IR_BM25, SS_EVAL_IR_HYBRID, SS_EVAL_IR_NSYS };
#define SS_EVAL_IR_DEPTH 100 /* ranks scored: recall@100, MAP@100, runs */

/* Progress of a long step of SS_EVAL_TASK_IR ("embedding", "searching",
 * "bm25"): done of total. */
typedef void (*ss_eval_progress_fn)(void *ctx, const char *step, size_t done, size_t total);
/* One ranking of SS_EVAL_TASK_IR: system sys's top documents for query qid,
 * docids[0..n) best first (at most SS_EVAL_IR_DEPTH, the query's own
 * document left out) with their scores (cosine; BM25, positive; the fused
 * score). A nonzero return stops the evaluation with that code. */
typedef int (*ss_eval_run_fn)(void *ctx, int sys, const char *qid, const char *const *docids,
                              const double *scores, size_t n);

struct ss_eval_file_result;

typedef struct ss_eval_file_options {
    ss_eval_task task; /* SS_EVAL_TASK_NONE: ss_eval_task_of(path, NONE) */
    int baseline;      /* STS, pairs, groups: also the TF-IDF baseline */
    int curves;        /* fill curve[] of the result (for plots) */
    /* SS_EVAL_TASK_IR only; any may be NULL: */
    ss_eval_progress_fn progress; /* called on the calling thread */
    void *progress_ctx;
    /* called once the data set is loaded (the result's counts and name are
     * set), before any system runs; a nonzero return stops with that code */
    int (*loaded)(void *ctx, const struct ss_eval_file_result *r);
    ss_eval_run_fn run; /* every ranking, in query order, on the calling thread */
    void *run_ctx;      /* for loaded and run */
    int no_stem;        /* BM25 (and hybrid) over unstemmed words, as in a
                           database made with SS_STORE_NO_STEM */
    float align;        /* the model's side reranked as ss_store_query_opts.align
                           (the hybrid fuses that side): its weight; < 0 (what
                           ss_eval_file_options_init sets) ss_model_align_weight(m),
                           as `semsearch query` does by default; 0 none */
} ss_eval_file_options;

SS_API void ss_eval_file_options_init(ss_eval_file_options *o);

typedef struct ss_eval_ir_metrics {
    size_t n_queries;
    double ndcg_at_10, recall_at_10, recall_at_100, mrr_at_10, map_at_100;
    double recall_curve[SS_EVAL_IR_DEPTH]; /* mean recall@k, k = 1..100 */
    double seconds;                        /* wall time (hybrid: the fusion alone) */
} ss_eval_ir_metrics;

/* A plot's data: STS gold score (x) vs similarity (y); pairs the ROC curve
 * (false vs true positive rate); groups recall@k for k = 1..10. */
typedef struct ss_eval_curve {
    double *x, *y;
    size_t n;
} ss_eval_curve;

typedef struct ss_eval_file_result {
    ss_eval_task task;
    size_t n;          /* pairs, groups (queries) or queries (IR: every line) */
    size_t n_positive; /* pairs with a nonzero value (labeled 1; STS: a nonzero score) */
    size_t n_texts;    /* groups: texts */
    /* STS, pairs, groups: has[s] for each system evaluated */
    int has[SS_EVAL_NSYS];
    double spearman[SS_EVAL_NSYS], pearson[SS_EVAL_NSYS];
    ss_eval_pairs pairs[SS_EVAL_NSYS];
    ss_eval_retrieval retrieval[SS_EVAL_NSYS];
    ss_eval_curve curve[SS_EVAL_NSYS]; /* with options.curves */
    /* SS_EVAL_TASK_IR */
    char *name; /* NAME or the directory */
    int beir;   /* 1: BEIR jsonl layout */
    size_t n_documents, n_judgements, n_scored, n_unjudged, n_no_relevant;
    int hybrid_depth; /* ranks of each system the hybrid fuses */
    float align;      /* the alignment weight of the model's side (0: none) */
    int ir_has[SS_EVAL_IR_NSYS];
    ss_eval_ir_metrics ir[SS_EVAL_IR_NSYS];
} ss_eval_file_result;

/* Evaluates the file with the model (may be NULL: no model system; IR then
 * runs BM25 alone) and with options.baseline the TF-IDF baseline. Errors
 * name the file ("FILE:LINE: ...", "FILE: ..."). *out is filled also on
 * failure as far as it got; release it with ss_eval_file_result_free. */
SS_API SS_NODISCARD int ss_eval_file(ss_model *m, const char *path, const ss_eval_file_options *o,
                                     ss_eval_file_result *out);
/* Releases what *r holds (r may be NULL) and zeroes it. */
SS_API void ss_eval_file_result_free(ss_eval_file_result *r);

/* ----------------------------------------------------------------- training */

/* Training data: files added by path and weight, every text stored once.
 * The kind of a file comes from its name: *.groups.tsv (paraphrase groups),
 * *.scored.tsv (pairs with a score, positives from min_score), *.labeled.tsv
 * (label-1 pairs), *.triplets.tsv (anchor, positive, hard negative),
 * *.paragraphs.tsv and *.docs.txt (documents), anything else plain text, one
 * sentence a line (.gz accepted everywhere). */
typedef struct ss__trainset ss_trainset;

enum { SS_SOURCE_TEXT = 0, SS_SOURCE_GROUPS = 1, SS_SOURCE_PAIRS = 2, SS_SOURCE_DOCS = 3,
       SS_SOURCE_TRIPLETS = 4 };

typedef struct ss_trainset_options {
    double min_score;  /* *.scored.tsv: pairs scoring min_score or more are positives */
    int has_min_score; /* 0: a *.scored.tsv file is refused */
    int skip_bad;      /* 1: malformed lines are skipped (counted), not an error */
    int graded;        /* 1: every pair of scored and labeled files with its score
                          (for the cosent loss) */
} ss_trainset_options;

SS_API void ss_trainset_options_init(ss_trainset_options *o);
SS_API SS_NODISCARD int ss_trainset_new(ss_trainset **out);
SS_API void ss_trainset_free(ss_trainset *ts);
/* Adds one file (o may be NULL: the defaults); its examples are used
 * round(weight x examples) times per epoch. */
SS_API SS_NODISCARD int ss_trainset_add_file(ss_trainset *ts, const char *path, double weight,
                                             const ss_trainset_options *o);
/* 1 if a file of this name is read as documents. */
SS_API int ss_trainset_is_docs_path(const char *path);

/* One added file, as loaded. */
typedef struct ss_trainset_source {
    const char *name;      /* the path as given */
    int kind;              /* SS_SOURCE_* */
    double weight;
    size_t examples;
    long lines;            /* lines read */
    long skipped_bad;      /* malformed lines skipped (skip_bad) */
    long skipped;          /* well-formed lines not used (below min_score, label 0,
                              fewer than 2 distinct texts, empty, repeated) */
    const char *first_bad; /* the message of the first malformed line skipped, or NULL */
} ss_trainset_source;

SS_API int ss_trainset_n_sources(const ss_trainset *ts);
/* Source i (0 <= i < ss_trainset_n_sources); the strings live as long as ts. */
SS_API SS_NODISCARD int ss_trainset_get_source(const ss_trainset *ts, int i, ss_trainset_source *out);
SS_API size_t ss_trainset_n_examples(const ss_trainset *ts);
SS_API size_t ss_trainset_n_texts(const ss_trainset *ts);

/* A model to train: the dropout rate training uses (0 <= rate < 1; saved with
 * the model), and the token and position embeddings and output LayerNorm of
 * src copied into dst (a new model to train from them: a static first stage,
 * say; same tokenizer and width, positions beyond the shorter of the two
 * left as they are). */
SS_API SS_NODISCARD int ss_model_set_dropout(ss_model *m, float rate);
SS_API SS_NODISCARD int ss_model_copy_embeddings(ss_model *dst, const ss_model *src);
/* Every transformer block of m made the identity (its attention and
 * feed-forward output projections zero), so m computes what its embeddings
 * alone compute: a model stacked on a static stage starts where it ended.
 * Training moves the projections from the first step. */
SS_API SS_NODISCARD int ss_model_identity_blocks(ss_model *m);

/* Training a model (fine-tuning whatever it holds) on a training set. A run
 * is resumable exactly: the data order, augmentation, dropout, the AdamW
 * moments and the step are in its checkpoint, so a resumed run takes
 * bit-for-bit the steps the uninterrupted run would have taken (with the
 * same number of threads). The library never prints: progress and log lines
 * go to the callbacks. */
enum { SS_LOSS_INFONCE = 0, SS_LOSS_NTXENT = 1, SS_LOSS_TRIPLET = 2, SS_LOSS_COSENT = 3 };
enum { SS_SCHED_COSINE = 0, SS_SCHED_LINEAR = 1, SS_SCHED_CONSTANT = 2 };
enum { SS_CURRIC_NONE = 0, SS_CURRIC_LENGTH = 1, SS_CURRIC_OVERLAP = 2 };

/* Data parallelism over MPI (mpirun -np N): the processes of one run. Each
 * process takes its slice of every global batch (the same batches as one
 * process), the embeddings of the batch are gathered so that every process
 * computes the loss of the whole batch (its in-batch and hard negatives),
 * the gradients are summed (MPI_Allreduce), and process 0 alone writes the
 * checkpoints and models and reports progress. The slices are embedded as
 * gradient caching's chunks are (ss_train_options.grad_cache, each with its
 * own dropout masks): a run of N processes equals the one-process run with
 * grad_cache = the slice size, up to the order of float sums, and a run
 * with grad_cache set equals the one-process run with the same grad_cache
 * whatever N. A checkpoint resumes with any number of processes. */
typedef struct ss__dist ss_dist;
/* 1 when the library was built with MPI (configure --with-mpi). */
SS_API int ss_dist_available(void);
/* Joins the processes of mpirun (MPI_Init unless the program did); without
 * MPI SS_ERR_ARG. Every process of the job calls it. */
SS_API SS_NODISCARD int ss_dist_open(ss_dist **out);
/* Leaves (MPI_Finalize when ss_dist_open initialized MPI): every process
 * calls it, once all have finished. A process that fails alone should exit
 * without it: the launcher then ends the others. */
SS_API void ss_dist_close(ss_dist *d);
SS_API int ss_dist_rank(const ss_dist *d); /* 0 for NULL */
SS_API int ss_dist_size(const ss_dist *d); /* 1 for NULL */

/* Everything recorded per step (kept in checkpoints: a resumed run still has
 * the whole curve). */
typedef struct ss_train_history {
    int64_t n, cap;                      /* steps recorded: row i is step i + 1 */
    float *loss, *lr, *grad_norm, *temp; /* (n) */
    double *seconds;                     /* (n) wall time since the start of the run */
    int32_t *epoch;                      /* (n) 0-based */
    int64_t n_dev, cap_dev;
    int64_t *dev_step;                   /* (n_dev) step after which the dev set was scored */
    double *dev_score;                   /* (n_dev) */
} ss_train_history;

typedef struct ss_train_progress {
    int64_t step, total; /* steps done (this one included), steps of the run */
    int64_t epoch;       /* 0-based */
    size_t batch, n_batches;
    double loss, lr, grad_norm, temperature;
    double pairs_per_s, seconds, eta; /* eta in seconds, < 0 if unknown */
    int dev;                          /* 1: the dev set was scored after this step */
    double dev_score, best_score;
    int64_t best_step;
    const ss_train_history *hist;
} ss_train_progress;

typedef struct ss_train_options {
    int batch_size;        /* pairs per step (default 64) */
    int64_t steps;         /* steps of the run; 0: epochs x batches of epoch 0 */
    double epochs;         /* when steps is 0 (default 1) */
    int max_len;           /* tokens per text, 0 = the model's max_len */
    int schedule;          /* SS_SCHED_* (default cosine) */
    double lr, min_lr;     /* peak and final learning rate (default 5e-4, 0) */
    double warmup_frac;    /* warmup = warmup_frac x steps when warmup_steps < 0 (default 0.05) */
    int64_t warmup_steps;  /* default -1 */
    int loss;              /* SS_LOSS_* (default infonce) */
    float temperature;     /* InfoNCE / NT-Xent temperature (initial, if learned; 0.05) */
    int learn_temperature; /* 1: the temperature is a trained parameter */
    float margin;          /* triplet margin on cosine (0.2) */
    float cosent_scale;    /* CoSENT lambda (20) */
    float weight_decay, beta1, beta2, eps, grad_clip; /* AdamW (0.01, 0.9, 0.999, 1e-8, clip 1) */
    float embedding_lr; /* the token and position embeddings' learning rate as a
                           fraction of lr (1); 0 freezes them, e.g. to train
                           blocks on a static stage without moving its table */
    int curriculum;        /* SS_CURRIC_* */
    double aug_delete, aug_crop, aug_swap; /* views of lone sentences (0: off) */
    const char *doc_pairs; /* pairs made from documents: "title:W,section:W,ict:W,crop:W"
                              (NULL: the default mix); see ss_train_check_doc_pairs */
    int grad_cache;        /* texts per forward/backward chunk (GradCache), 0 = off */
    uint64_t seed;         /* default 42 */

    const char *checkpoint; /* checkpoint path (required) */
    int64_t save_every;     /* 0: only at the end or when stopped (default 1000) */
    int64_t stop_at;        /* stop with a checkpoint after this step (0 = never) */
    const char *output;     /* final model (required) */
    const char *best;       /* best model by dev score (with eval_path) */
    int dtype;              /* SS_DTYPE_* of output and best */
    int precision;          /* SS_MATMUL_F32 (default) or SS_MATMUL_BF16: matrix
                               products in bf16, f32 accumulation, master weights
                               and AdamW state (f32 where bf16 is not supported).
                               Training computes from the f32 parameters: a model
                               loaded from an int8 file trains from its
                               dequantized weights and is f32 from then on */
    const char *eval_path;  /* *.scored.tsv dev set: Spearman every eval_every steps */
    int64_t eval_every;     /* 0: only at the end (default 500) */

    volatile sig_atomic_t *stop; /* becomes non-zero: checkpoint, SS_ERR_INTERRUPTED */
    void (*on_progress)(void *ctx, const ss_train_progress *p);
    void (*on_log)(void *ctx, const char *msg); /* both on process 0 only */
    void *ctx;
    ss_dist *dist;          /* the processes sharing the run (NULL: this one alone) */
} ss_train_options;

/* What a run did. */
typedef struct ss_train_result {
    int64_t steps;        /* steps done in total (resumed runs included) */
    int64_t saved_step;   /* step of the last checkpoint written, -1 if none */
    int64_t best_step;    /* -1 without evaluation */
    double best_score, last_score, last_loss;
    ss_train_history hist; /* the whole curve (ss_train_result_free) */
    double comm_seconds;   /* with dist: this process's time in the collectives of
                              the run (gathering embeddings, summing gradients,
                              the stop flag, the checkpoints' broadcasts)... */
    double allreduce_seconds; /* ...of which summing the gradients, */
    double wait_seconds;      /* and waiting for the slowest process before that */
} ss_train_result;

SS_API void ss_train_options_init(ss_train_options *o);
/* The loss of a name ("infonce", "ntxent", "triplet", "cosent"), the
 * schedule of a name ("cosine", "linear", "constant"): -1 if unknown. */
SS_API int ss_train_loss_kind(const char *name);
SS_API const char *ss_train_loss_name(int loss);
SS_API int ss_train_schedule_kind(const char *name);
/* SS_OK if spec is a valid doc_pairs value, else SS_ERR_ARG with a message. */
SS_API SS_NODISCARD int ss_train_check_doc_pairs(const char *spec);
/* Trains model on ts. With resume (a checkpoint path, or NULL) the optimizer
 * state, step and data position come from it, and model must be the one
 * loaded from it (ss_model_load reads a checkpoint as a model). SS_OK: the
 * run is complete and the output written; SS_ERR_INTERRUPTED: stopped by
 * *stop or stop_at (a checkpoint saved); SS_ERR_NUMERIC: the loss became
 * NaN/Inf (nothing written after the last good checkpoint). res is filled in
 * every case (release it with ss_train_result_free). */
SS_API SS_NODISCARD int ss_train_run(ss_model *model, const ss_trainset *ts, const ss_train_options *o,
                                     const char *resume, ss_train_result *res);
SS_API void ss_train_result_free(ss_train_result *res);

/* Hard negatives: for each example (its first text the anchor, the second
 * the positive), a text of the set that the model ranks close to the anchor
 * but that is no text of the example. Exact cosine over every text. */
typedef struct ss_mine_options {
    int skip;      /* ranks skipped after the example's own texts (default 3) */
    int range;     /* the negative is drawn from the next `range` ranks (default 20) */
    uint64_t seed; /* which of them (default 42) */
    /* progress: texts embedded, or anchors searched, of a total */
    void (*on_progress)(void *ctx, const char *stage, size_t done, size_t total);
    void *ctx;
} ss_mine_options;

typedef struct ss_triplet {
    const char *anchor, *positive, *negative; /* borrowed from the training set */
    size_t anchor_len, positive_len, negative_len;
} ss_triplet;

SS_API void ss_mine_options_init(ss_mine_options *o);
/* *out (ss_free) = the triplets, in the order of the examples; an example
 * without a negative (too few other texts) has none: *n <= examples. */
SS_API SS_NODISCARD int ss_mine_negatives(ss_model *m, const ss_trainset *ts, const ss_mine_options *o,
                                          ss_triplet **out, size_t *n);

/* -------------------------------------------------------------------- store */

/* A store is one SQLite file holding documents (text, source, external id,
 * metadata JSON), the vectors of one model, and the search over them (see
 * docs/schema.md). Several processes may use it at once: queries run while
 * another process indexes (WAL). A handle is for one thread at a time. */
typedef struct ss_store ss_store;

enum {
    SS_STORE_READONLY = 1 << 0, /* never write (query, info) */
    SS_STORE_CREATE = 1 << 1,   /* create the database when it is missing */
    /* a database created now gets a full-text index of words as written,
     * without the default English stemming (FTS5's porter tokenizer), for
     * text in other languages; opening a stemmed database so is SS_ERR_ARG */
    SS_STORE_NO_STEM = 1 << 2
};

/* Opens (and with SS_STORE_CREATE creates) a database. A missing file, a
 * file that is not a semsearch database or one of a newer schema version is
 * an error naming the path. path is a file path: SQLite URIs ("file:...")
 * and ":memory:" are SS_ERR_ARG. */
SS_API SS_NODISCARD int ss_store_open(const char *path, int flags, ss_store **out);
SS_API void ss_store_close(ss_store *s);

/* The model a database's vectors come from. */
typedef struct ss_store_model {
    const char *name;        /* e.g. the model's file name */
    const char *fingerprint; /* ss_model_fingerprint(): hex SHA-256 of the model file */
    const char *path;        /* where it was loaded from (a hint for the SQLite extension) */
    int dim;
} ss_store_model;

/* What the database records (fields "" and 0 when no model yet); the strings
 * belong to the store, valid until the next call on it. */
SS_API SS_NODISCARD int ss_store_get_model(ss_store *s, ss_store_model *m);
/* Declares the model about to add or query vectors. A database with no model
 * yet records it (written at the next ss_store_add); one recorded with
 * another fingerprint or dimension fails with SS_ERR_MODEL naming both: a
 * database never mixes the vectors of two models. */
SS_API SS_NODISCARD int ss_store_use_model(ss_store *s, const ss_store_model *m);

typedef struct ss_doc {
    const char *text; /* UTF-8 text, len bytes */
    size_t len;
    const char *id;     /* external id, or NULL */
    const char *source; /* source name (e.g. the input file), or NULL */
    const char *meta;   /* metadata as JSON text, or NULL */
} ss_doc;

/* Sets is_new[i] to 1 for the docs whose text is not stored yet (the first of
 * equal texts within the call only), so that only those get embedded. */
SS_API SS_NODISCARD int ss_store_filter_new(ss_store *s, const ss_doc *docs, size_t n,
                                            unsigned char *is_new);
/* Adds n docs with their vectors (n, dim) in one transaction: all or none.
 * Texts already stored (or repeated in the call) are skipped; vectors are
 * stored L2-normalized (a zero, NaN or infinite vector is SS_ERR_NUMERIC).
 * added (may be NULL) receives the number of new documents. */
SS_API SS_NODISCARD int ss_store_add(ss_store *s, const ss_doc *docs, const float *vecs, size_t n,
                                     size_t *added);
/* A document split into passages (a text longer than the model's window):
 * passage i covers bytes [start, start + len) of docs[doc].text and has its
 * own vector. */
typedef struct ss_passage {
    size_t doc;        /* index of its document in the call's docs */
    size_t start, len; /* bytes of that document's text */
} ss_passage;

/* ss_store_add with np >= n vectors: one per passage, passages[0..np) in
 * document order, every document at least one (its first passage's vector
 * is the document's). A query then scores a document by its best passage
 * and returns it once (ss_hit.passage says which). passages NULL: np == n,
 * one vector per whole document, as ss_store_add. */
SS_API SS_NODISCARD int ss_store_add_passages(ss_store *s, const ss_doc *docs, size_t n,
                                              const ss_passage *passages, const float *vecs,
                                              size_t np, size_t *added);
/* Deletes the documents whose external id is `id` (ss_doc.id: never a
 * document number, so that an external id "2" and document number 2 stay
 * apart), the document numbered doc, or all of a source. Document numbers
 * are never reused after a delete. */
SS_API SS_NODISCARD int ss_store_delete(ss_store *s, const char *id, size_t *deleted);
SS_API SS_NODISCARD int ss_store_delete_doc(ss_store *s, int64_t doc, size_t *deleted);
SS_API SS_NODISCARD int ss_store_delete_source(ss_store *s, const char *source, size_t *deleted);
/* Deletes the documents of every external id in ids[0..n) in one
 * transaction: all of them, or on an error none (*deleted = 0). An id that
 * matches nothing adds nothing; the same id twice deletes once. */
SS_API SS_NODISCARD int ss_store_delete_ids(ss_store *s, const char *const *ids, size_t n, size_t *deleted);

/* Re-embeds every document with another model, replacing all vectors and the
 * recorded model in one transaction (readers see the old or the new set).
 * embed(ctx, texts, lens, n, out) fills out (n, m->dim) and returns SS_OK. */
typedef int (*ss_store_embed_fn)(void *ctx, const char *const *texts, const size_t *lens,
                                 size_t n, float *out);
SS_API SS_NODISCARD int ss_store_reembed(ss_store *s, const ss_store_model *m,
                                         ss_store_embed_fn embed, void *ctx, size_t batch);

enum {
    SS_PREC_F32 = 0, /* exact: every stored vector scored in float */
    SS_PREC_INT8 = 1 /* int8 codes scanned, the best candidates rescored in float */
};

/* How hybrid search fuses the vector and the BM25 rankings. */
enum {
    SS_FUSION_CONVEX = 0, /* alpha x cosine + (1 - alpha) x BM25, each min-max
                             scaled over its candidates (default) */
    SS_FUSION_RRF = 1     /* reciprocal rank fusion: sum of 1 / (rrf_k + rank) */
};

typedef struct ss_store_query_opts {
    int k;                 /* hits per query (default 10) */
    float min_score;       /* drop hits below (default -INFINITY) */
    const char *source;    /* only documents of this source (default NULL: all) */
    int precision;         /* SS_PREC_* (default SS_PREC_F32) */
    int rerank;            /* int8 candidates rescored per query (default 0: max(4k, 64)) */
    const char *const *texts; /* with hybrid or align: the nq query texts */
    int hybrid;            /* fuse with FTS5 BM25 on texts (fusion, alpha, rrf_k) */
    int rrf_k;             /* RRF constant (default 60) */
    int fusion;            /* SS_FUSION_* (default SS_FUSION_CONVEX) */
    float alpha;           /* convex fusion: the weight of the vector side, in [0, 1]
                              (default 0.5) */
    int threads;           /* 0: ss_get_threads() */
    int once;              /* 1: SS_PREC_F32 vectors not in memory yet are read block by
                              block for this call and not kept (one pass through the
                              database's pages, no large allocation): for a process
                              that asks one query or one batch (default 0: load and keep) */
    float align;           /* > 0: the vector side's candidates (at least 100, as
                              hybrid takes them) are rescored as cosine + align x
                              ss_model_align(align_model, the query's text, their text
                              or passage) and re-sorted before the k best are kept or
                              fused; needs texts. Scores are then that sum. Default 0
                              (none); ss_model_align_weight gives a model's */
    ss_model *align_model; /* the model of the vectors, for align */
} ss_store_query_opts;

SS_API void ss_store_query_opts_init(ss_store_query_opts *o);

typedef struct ss_hit {
    int64_t doc; /* document number (ss_store_get) */
    float score; /* cosine similarity; with hybrid the fused score */
    int32_t passage; /* the document's best passage (ss_store_get_passage);
                        0 for a document stored whole */
} ss_hit;

/* Answers nq queries (nq, dim), L2-normalized by the call. hits is (nq, k),
 * best first (equal scores: smaller doc first), counts (nq) the hits found.
 * Vectors are read from the database at the first query and again after
 * another connection changed it. */
SS_API SS_NODISCARD int ss_store_query(ss_store *s, const float *q, size_t nq,
                                       const ss_store_query_opts *o, ss_hit *hits, int *counts);
/* ss_store_query over ns databases at once (the shards of one collection,
 * e.g. made by ss_index_options.shard): each is searched and their results
 * merged. hits (nq, k), best first, hits[i].doc a document of database
 * which[i] (which is (nq, k) too); equal scores rank the smaller document
 * number first, then the earlier database. Vector search is exact: the hits
 * and scores are those of one database holding every document of the ns.
 * So is hybrid search: every database scores BM25 with the statistics of
 * all of them together (document count, average length, each word's
 * document frequency), as one database would, and the fused scores are
 * that database's. Databases recording
 * different models are SS_ERR_MODEL naming both; one with no documents yet
 * adds nothing. */
SS_API SS_NODISCARD int ss_store_query_many(ss_store *const *stores, size_t ns, const float *q, size_t nq,
                                            const ss_store_query_opts *o, ss_hit *hits, int *which,
                                            int *counts);
/* Reads the vectors now (SS_PREC_F32 and/or SS_PREC_INT8 as a bit mask of
 * 1 << precision) instead of at the first query. */
SS_API SS_NODISCARD int ss_store_load(ss_store *s, int precisions);

typedef struct ss_store_doc {
    int64_t doc;
    char *text, *id, *source, *meta; /* id, source, meta may be NULL */
} ss_store_doc;

/* A document by number; SS_ERR_RANGE when there is none. Release with
 * ss_store_doc_clear. */
SS_API SS_NODISCARD int ss_store_get(ss_store *s, int64_t doc, ss_store_doc *out);
SS_API void ss_store_doc_clear(ss_store_doc *d);
/* The bytes of a document's text that passage number `passage` covers
 * (ss_hit.passage): for a document stored whole, passage 0 is all of it.
 * SS_ERR_RANGE when there is no such document or passage. */
SS_API SS_NODISCARD int ss_store_get_passage(ss_store *s, int64_t doc, int passage, size_t *start,
                                             size_t *len);

/* A source and how many documents it has. */
typedef struct ss_store_source {
    const char *name; /* NULL: the documents stored without a source */
    int64_t documents;
} ss_store_source;

/* Every source of the database, by name (documents without a source last);
 * *sources is one block, names included, released with one ss_free(). */
SS_API SS_NODISCARD int ss_store_sources(ss_store *s, ss_store_source **sources, size_t *n);

typedef struct ss_store_stats {
    int schema_version;
    int dim, block_size;
    int64_t documents, sources, blocks;
    int64_t free_slots;      /* vector slots holding no document: the unfilled rest
                                of the last block and the slots of deleted ones */
    int64_t file_bytes;      /* database file (and its WAL) */
    int64_t vector_bytes;    /* f32 and int8 vector blobs */
    int has_fts;
    int64_t passages;        /* vectors beyond each document's first: the further
                                passages of documents split into passages */
    int fts_stem;            /* the full-text index stems English words */
} ss_store_stats;

SS_API SS_NODISCARD int ss_store_stats_get(ss_store *s, ss_store_stats *st);

/* --------------------------------------------- utilities for programs (#12)
 * What the `semsearch` command needs beyond the calls above, public so that
 * it uses the library as any program would. */

/* Copies UTF-8 text, each byte that does not start a valid sequence replaced
 * by U+FFFD (EF BF BD); valid text comes back unchanged. The result is
 * NUL-terminated and released with ss_free(). */
SS_API SS_NODISCARD int ss_utf8_repair(const char *text, size_t len, char **out, size_t *out_len);

/* Writes the vector x[0..n) as text: the numbers separated by sep (',' for
 * the inside of a JSON array, '\t' for TSV), each the shortest decimal that
 * reads back as the very same float ("0.1", not "0.100000001"), in JSON's
 * number syntax. buf has room for cap bytes; SS_FLOATS_TEXT_MAX(n) always
 * suffices. No NUL is added; *len gets the length. SS_ERR_ARG for a NaN or
 * an infinity (JSON cannot carry them), or when cap is too small. */
#define SS_FLOATS_TEXT_MAX(n) ((size_t)(n) * 16)
SS_API SS_NODISCARD int ss_floats_to_text(const float *x, size_t n, char sep, char *buf, size_t cap, size_t *len);

/* One tensor of a model file. */
typedef struct ss_model_tensor {
    char name[64];    /* e.g. "blk.0.attn_qkv.weight" (cut at 63 bytes) */
    const char *type; /* "f32", "f16", "q8_row" (int8, a scale per row); static */
    int ndim;
    int64_t shape[4]; /* row-major: shape[0] is the slowest dimension */
    uint64_t bytes;   /* in the file */
} ss_model_tensor;

/* A model file as stored (semsearch model info), beyond ss_model_config: */
typedef struct ss_model_file_info {
    uint64_t file_size;       /* bytes */
    int gguf_version;         /* GGUF format version (3) */
    const char *architecture; /* general.architecture ("semsearch"); static */
    char *name;               /* general.name; NULL when the file has none */
    const char *dtype;        /* the type of every tensor ("f32", "f16"), or
                                 "mixed"; static */
    size_t tensors;           /* tensors in the file (a training checkpoint
                                 holds more than the model's) */
    ss_model_tensor *tensor;  /* each of them, in file order */
} ss_model_file_info;

/* Reads the header of a model file or checkpoint: no full check of the
 * model (ss_model_load does that). Release with ss_model_file_info_clear. */
SS_API SS_NODISCARD int ss_model_file_info_get(const char *path, ss_model_file_info *info);
SS_API void ss_model_file_info_clear(ss_model_file_info *info);

/* ---------------------------------------------------------------- indexing */

/* The index pipeline of `semsearch index`, for programs: documents from
 * texts or from files of lines, TSV or JSONL; the ones already stored found
 * by content and skipped; the rest embedded in batches, a text longer than
 * the model's window split into passages (or cut), each batch added to the
 * store in one transaction. The store must have the model declared
 * (ss_store_use_model). A re-run after an interruption adds only what is
 * missing. */
typedef struct ss_indexer ss_indexer;

enum { SS_INDEX_LINES = 0, SS_INDEX_TSV = 1, SS_INDEX_JSONL = 2 };

typedef struct ss_index_stats {
    long long lines;       /* input lines (and texts given) seen */
    long long added;       /* documents added */
    long long dups;        /* texts already stored (or repeated), skipped */
    long long empty;       /* blank lines or texts */
    long long cut;         /* texts cut to the window (split == 0) */
    long long split_docs;  /* texts split into passages */
    long long passages;    /* their passages */
    long long bytes_done;  /* of the file being read */
    long long bytes_total; /* its size, -1 when unknown (a pipe) */
    int window;            /* the model's window in tokens */
    int passage_tokens;    /* passage size in use */
    long long other_shard; /* texts left to the other shards (shard, nshards) */
} ss_index_stats;

typedef struct ss_index_options {
    size_t batch;         /* documents per batch and transaction (256) */
    int format;           /* SS_INDEX_*: the input of ss_indexer_add_file */
    int text_column;      /* TSV: the text's column (from 1) */
    int id_column;        /* TSV: the id's column, 0 for none */
    const char *text_field; /* JSONL: the text's field (the others are kept
                               as the document's metadata) */
    const char *id_field;   /* JSONL: the id's field, NULL for none */
    int split;            /* 1: long texts become passages (default); 0: cut */
    int passage_tokens;   /* 0: the model's window; more is SS_ERR_ARG */
    int passage_overlap;  /* tokens shared by consecutive passages; -1: 16,
                             or a quarter of passage_tokens when less */
    /* Sharding: with nshards > 1 only the texts of shard `shard` (0 <=
     * shard < nshards) are added, the others counted in other_shard. A
     * text's shard is a hash of its bytes modulo nshards, so that nshards
     * runs over the same input make disjoint databases whose union is the
     * one database one run would make (a repeated text falls in one shard,
     * stored once): ss_store_query_many searches them as one. */
    int shard, nshards;   /* default 0, 1: everything */
    /* Optional callbacks, all given ctx: after each committed batch; for
     * each text cut to the window (file "-" when not from a file); with the
     * unknown-vocabulary share of each embedded text (ss_embed_ex), before
     * its batch is added. */
    void (*on_batch)(void *ctx, const ss_index_stats *st);
    void (*on_cut)(void *ctx, const char *file, long long line, long tokens, int window);
    void (*on_unknown)(void *ctx, const float *share, size_t n);
    void *ctx;
} ss_index_options;

SS_API void ss_index_options_init(ss_index_options *o);
/* The tokens of one text the model sees: its positions less the special
 * tokens ([CLS], [SEP]); at least 1. */
SS_API int ss_model_window(const ss_model *m);
/* A text split into passages for a model: spans of whole words of at most
 * `tokens` tokens each (ss_model_window(m), or fewer), a word longer than
 * that alone cut at character boundaries; each passage starts up to
 * `overlap` tokens before the end of the one before (-1: 16, or a quarter
 * of `tokens` when less; it must be less than `tokens`). A text that fits
 * is one passage, the whole text. *out (ss_free) receives the *n passages
 * in order, each with .doc = doc, ready for ss_store_add_passages. What
 * ss_indexer does with a long text; tok is only read (safe to share
 * between threads). */
SS_API SS_NODISCARD int ss_split_passages(ss_tokenizer *tok, const char *text, size_t len, int tokens,
                                          int overlap, size_t doc, ss_passage **out, size_t *n);
/* An indexer adding to s with m (both used, not owned, until
 * ss_indexer_free). SS_ERR_ARG for bad options (passage_tokens beyond the
 * window, overlap not below it, fields on a TSV...). */
SS_API SS_NODISCARD int ss_indexer_open(ss_store *s, ss_model *m, const ss_index_options *o,
                                        ss_indexer **out);
/* One document (text copied; NUL bytes dropped; a blank text is counted as
 * empty). id (idlen bytes, 0: none) and meta (JSON text) may be NULL; the
 * source may be NULL. A full batch is embedded and committed, and so is
 * the batch before a change of source (a batch has one source). */
SS_API SS_NODISCARD int ss_indexer_add(ss_indexer *x, const char *text, size_t len, const char *id,
                                       size_t idlen, const char *meta, const char *source);
/* Every line of a file ("-": stdin; .gz read as gzip) in the options'
 * format, with that source (NULL: none). Commits what has come whenever a
 * pipe has nothing more yet. Errors name "FILE:LINE". */
SS_API SS_NODISCARD int ss_indexer_add_file(ss_indexer *x, const char *path, const char *source);
/* Embeds and commits the documents pending. */
SS_API SS_NODISCARD int ss_indexer_flush(ss_indexer *x);
SS_API void ss_indexer_stats(const ss_indexer *x, ss_index_stats *st);
/* Frees the indexer; documents not flushed are dropped. */
SS_API void ss_indexer_free(ss_indexer *x);

#ifdef __cplusplus
}
#endif
#endif /* SEMSEARCH_H */
