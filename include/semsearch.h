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
    SS_NORM_DEFAULT = SS_NORM_NFKC
};

/* Normalizes UTF-8 text: invalid bytes become U+FFFD, control characters
 * (including NUL) are dropped, runs of whitespace become one space, leading
 * and trailing whitespace is trimmed, then NFKC (and case folding). The result
 * is NUL-terminated and released with ss_free(). */
SS_API SS_NODISCARD int ss_normalize(const char *text, size_t len, int flags,
                                     char **out, size_t *out_len);

/* ---------------------------------------------------------------- tokenizer */

typedef struct ss_tokenizer ss_tokenizer;

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
} ss_tokenizer_train_opts;

SS_API void ss_tokenizer_train_opts_init(ss_tokenizer_train_opts *o);
/* Trains a SentencePiece model with ids pad=0, unk=1, bos(cls)=2, eos(sep)=3. */
SS_API SS_NODISCARD int ss_tokenizer_train(const ss_tokenizer_train_opts *o);

/* -------------------------------------------------------------------- model */

typedef struct ss_model ss_model;

enum { SS_POOL_MEAN = 0, SS_POOL_CLS = 1, SS_POOL_MAX = 2 };
enum { SS_DTYPE_F32 = 0, SS_DTYPE_F16 = 1 };

typedef struct ss_config {
    int vocab_size; /* taken from the tokenizer */
    int max_len;    /* positions, default 128 */
    int d_model;    /* default 256 */
    int n_layers;   /* default 4 */
    int n_heads;    /* default 4 */
    int d_ff;       /* default 1024 */
    int pooling;    /* SS_POOL_*, default mean */
    float dropout;  /* training only, default 0.1 */
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
SS_API void ss_model_config(const ss_model *m, ss_config *c);
SS_API int ss_model_dim(const ss_model *m);
SS_API size_t ss_model_num_params(const ss_model *m);
/* The model's tokenizer (owned by the model). */
SS_API ss_tokenizer *ss_model_tokenizer(ss_model *m);
/* Hex SHA-256 of the file the model was loaded from ("" for a new model). */
SS_API const char *ss_model_fingerprint(const ss_model *m);

/* Embeds n texts into out (n x dim floats, L2-normalized), in input order.
 * batch_size 0 chooses one. */
SS_API SS_NODISCARD int ss_embed(ss_model *m, const char *const *texts, const size_t *lens,
                                 size_t n, int batch_size, float *out);

/* ---------------------------------------------------------------- evaluation */

/* Correlations (in [-1,1]); SS_ERR_RANGE when n < 2 or a side is constant. */
SS_API SS_NODISCARD int ss_eval_pearson(const double *x, const double *y, size_t n, double *r);
SS_API SS_NODISCARD int ss_eval_spearman(const double *x, const double *y, size_t n, double *rho);

#ifdef __cplusplus
}
#endif
#endif /* SEMSEARCH_H */
