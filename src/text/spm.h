/* spm.h: the C face of SentencePiece (implemented in spm.cc, the project's
 * only C++ file). Every function catches every C++ exception and turns it
 * into a status code with a message (ss_errmsg). */
#ifndef SS_SPM_H
#define SS_SPM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ss__spm ss__spm;

int ss__spm_load(const void *bytes, size_t len, ss__spm **out);
void ss__spm_free(ss__spm *p);
/* The serialized model proto the processor was loaded from. */
const void *ss__spm_bytes(const ss__spm *p, size_t *len);

int ss__spm_vocab_size(const ss__spm *p);
int ss__spm_pad_id(const ss__spm *p);
int ss__spm_unk_id(const ss__spm *p);
int ss__spm_bos_id(const ss__spm *p);
int ss__spm_eos_id(const ss__spm *p);
const char *ss__spm_id_to_piece(const ss__spm *p, int id);
int ss__spm_piece_to_id(const ss__spm *p, const char *piece);

/* Text must already be normalized. Results are released with ss_free(). */
int ss__spm_encode(const ss__spm *p, const char *text, size_t len, int32_t **ids, size_t *n);
int ss__spm_encode_pieces(const ss__spm *p, const char *text, size_t len,
                          char ***pieces, size_t *n);
int ss__spm_decode(const ss__spm *p, const int32_t *ids, size_t n, char **text);

/* Training: sentences come from next(), which returns 1 and sets *s and *len to
 * a sentence, 0 at the end, or a negative SS_ERR code (its message set). */
typedef int (*ss__spm_next_fn)(void *ctx, const char **s, size_t *len);

typedef struct ss__spm_train_args {
    int vocab_size;
    int bpe; /* 0 unigram, 1 bpe */
    int casefold; /* the model itself folds case (nmt_nfkc_cf) */
    double character_coverage;
    long input_sentence_size;
    int threads;
    uint64_t seed;
} ss__spm_train_args;

/* On success *model is the serialized model proto (ss_free). */
int ss__spm_train(const ss__spm_train_args *a, ss__spm_next_fn next, void *ctx,
                  char **model, size_t *model_len);

#ifdef __cplusplus
}
#endif
#endif
