/* model.h: the internal layout of ss_model, shared by the encoder (encoder.c,
 * model.c) and the model file reader/writer (model_file.c, gguf.c).
 *
 * Parameters live in one contiguous float buffer; gradients and the AdamW
 * moments use the same layout. The order and shapes of the tensors in that
 * buffer are given by ss__model_tensors(), which is also the order and the
 * names of the tensors in the GGUF file. */
#ifndef SS_MODEL_H
#define SS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/quant.h"
#include "semsearch.h"

/* One tensor of the parameter buffer. shape[0] is the slowest-varying
 * dimension (row-major, as in C); GGUF writes dims in the reverse order. */
typedef struct ss__tensor_info {
    char name[48];   /* GGUF name, e.g. "blk.0.attn_qkv.weight" */
    int ndim;        /* 1 or 2 */
    int64_t shape[2];
    size_t offset;   /* in floats, from the start of the buffer */
    size_t numel;
} ss__tensor_info;

/* The tensor table for a config: *n entries, in buffer order (ss_free). */
int ss__model_tensors(const ss_config *c, ss__tensor_info **out, int *n);
/* Total number of floats in the parameter buffer. */
size_t ss__model_param_count(const ss_config *c);
/* Checks a config (sizes positive, d_model divisible by n_heads, ...). */
int ss__config_check(const ss_config *c);

struct ss_model {
    ss_config cfg;
    ss_tokenizer *tok;      /* owned */
    float *params;          /* ss__model_param_count(&cfg) floats, owned */
    size_t n_params;
    char fingerprint[65];   /* hex SHA-256 of the loaded file, "" if none */
    int prec;               /* SS_PREC_* asked for (ss_model_set_precision) */
    ss__q8 *q8;             /* SS_MATMUL_INT8's weights, SS__Q8_PER_BLOCK per block
                               (ss__q8_index), or NULL */
    ss__q8 wte_q8;          /* the token table of an int8 file, q NULL if none */
    int lazy;               /* SS__LAZY_*: parts of params not filled in yet
                               (an int8 file), held by q8 / wte_q8: their f32
                               pages are never touched unless something needs
                               them (ss__model_materialize) */
    void *runtime;          /* encoder scratch (activations, ...), owned by model.c */
    int *shares;            /* ss_model_share: the handles on these weights
                               (tokenizer, params, q8) alive, the last one
                               frees them; NULL: this handle alone */
};

/* SS_OK, or SS_ERR_ARG naming `what` when other handles share m's weights
 * (ss_model_share): what changes weights refuses a shared model. */
int ss__model_check_unshared(const ss_model *m, const char *what);

/* Fills m->q8 by quantizing the blocks' matrices of m->params (replacing any). */
int ss__model_quantize(ss_model *m);
/* Frees m->q8 (after filling params in): once the parameters change
 * (training) it would be stale. */
void ss__model_drop_quant(ss_model *m);
/* Fills the blocks' matrices of params from q8 if they are not yet (lazy):
 * everything that reads params calls it first (ss_embed in f32/bf16,
 * saving, training). */
void ss__model_materialize(ss_model *m);
enum { SS__LAZY_BLOCKS = 1, SS__LAZY_TOKENS = 2 };
/* Only the blocks' matrices (what f32/bf16 products read; the token table
 * is looked up in int8 alike). */
void ss__model_materialize_blocks(ss_model *m);
/* The shape (rows, cols) and offset in the parameter buffer of block l's
 * matrix which (SS__Q8_*). */
void ss__model_block_matrix(const ss_config *c, int l, int which, size_t *rows, size_t *cols, size_t *offset);

/* A model with a config and a tokenizer (taken over, even on failure; may be
 * NULL for tests), parameters allocated but not initialized. The file reader
 * fills params; ss_model_init initializes them randomly. Fails with
 * SS_ERR_MODEL when c->vocab_size differs from the tokenizer's. */
int ss__model_alloc(const ss_config *c, ss_tokenizer *tok, ss_model **out);
/* Random initialization of m->params from a seed (what ss_model_init does). */
void ss__model_init_params(ss_model *m, uint64_t seed);

/* Copies the token and position embeddings and the output LayerNorm of src
 * into dst (a new model to train from them: a static first stage, say).
 * Both need the same tokenizer and width; positions beyond the shorter of
 * the two are left as they are. */
int ss__model_copy_embeddings(ss_model *dst, const ss_model *src);
/* Every block the identity (see ss_model_identity_blocks). */
void ss__model_identity_blocks(ss_model *m);

#endif
