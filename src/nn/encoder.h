/* encoder.h: the whole transformer encoder, forward and backward.
 *
 *   x = dropout(token_embd[ids] + pos_embd[t])                    (B,T,C)
 *   per block:  x = x + dropout(attn_out(Attn(attn_qkv(LN1(x)))))  (pre-LN)
 *               x = x + dropout(ffn_down(GELU(ffn_up(LN2(x)))))
 *   y = L2normalize(pool(out_norm(x)))                             (B,D)
 *   (D = C; mean+max pooling: D = 2C, each half normalized, y / sqrt(2))
 *
 * Attention probabilities get dropout too. The padding of a batch is
 * dropped: the real tokens of all rows are packed into N rows (layers.h), so
 * a sentence costs the same whatever it is batched with. Activations needed
 * by backward live in one arena sized from the batch that grows when a
 * bigger batch comes. */
#ifndef SS_ENCODER_H
#define SS_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/quant.h"
#include "semsearch.h"

/* Offsets (in floats) of the tensors in the parameter buffer; the same
 * layout serves gradients and optimizer moments. Order = ss__model_tensors(). */
typedef struct ss__block_layout {
    size_t ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, upw, upb, downw, downb;
} ss__block_layout;

typedef struct ss__layout {
    size_t wte, wpe;      /* token_embd (V,C), pos_embd (L,C) */
    size_t blk0, blk_size; /* block l starts at blk0 + l * blk_size */
    ss__block_layout blk;  /* offsets within a block */
    size_t lnfw, lnfb;     /* out_norm */
    size_t total;
} ss__layout;

void ss__model_layout(const ss_config *c, ss__layout *L);

/* Dropout sites: one key per site derived from the step key. */
static inline uint64_t ss__site_embed(void) { return 0; }
static inline uint64_t ss__site_attn(int l) { return 1 + 3 * (uint64_t)l; }
static inline uint64_t ss__site_proj(int l) { return 2 + 3 * (uint64_t)l; }
static inline uint64_t ss__site_ffn(int l) { return 3 + 3 * (uint64_t)l; }

/* Checks a batch against a config: B, T >= 1, T <= max_len, the ids of real
 * tokens in the vocabulary, every row with at least one real token (mask[0]
 * real when pooling is CLS). */
int ss__batch_check(const ss_config *c, const ss_batch *b);

/* Packs the real tokens (mask 1) of a batch in order: ids and pos (their
 * positions) get N entries, len (B) the tokens of each row. Returns N. */
int ss__batch_pack(const ss_batch *b, int32_t *ids, int32_t *pos, int *len);

typedef struct ss__encoder ss__encoder;

/* A new encoder computes its matrix products in the precision last given
 * to ss__encoder_default_precision on this thread (SS_MATMUL_F32 at first):
 * ss_train_run sets SS_MATMUL_BF16 there for a bf16 run, so that the training
 * step's encoders compute in bf16 without knowing it. */
int ss__encoder_new(ss__encoder **out);
void ss__encoder_free(ss__encoder *e);
void ss__encoder_default_precision(int prec);
/* The precision of the matrix products of the next forwards and backwards
 * (SS_PREC_*, one that ss__lowp_supported; else f32 is used): bf16 with the
 * f32 parameters rounded at each product; int8 with q8 (ss__q8_index
 * layout, may be NULL: then f32). q8 must outlive the forwards. */
int ss__encoder_set_precision(ss__encoder *e, int prec, const ss__q8 *q8);
/* The token table as int8 (an int8 model file's, rows = vocabulary) for the
 * next forwards instead of the parameters' one, or NULL. */
void ss__encoder_set_token_table(ss__encoder *e, const ss__q8 *wte);

/* Runs the model (params in m->params) on a batch. train: keep what
 * backward needs; p: dropout probability (0 = none); key: dropout key.
 * *out points to the (B,D) embeddings inside the encoder, valid until the
 * next call. The batch is copied: it need not outlive the call. */
int ss__encoder_forward(ss__encoder *e, const ss_config *c, const float *params,
                        const ss_batch *b, int train, float p, uint64_t key, const float **out);
/* Backward of the last forward (which had train = 1): dout (B,D) is the
 * gradient of the loss wrt the embeddings; grads (parameter layout) +=. */
int ss__encoder_backward(ss__encoder *e, const ss_config *c, const float *params,
                         const float *dout, float *grads);

#endif
