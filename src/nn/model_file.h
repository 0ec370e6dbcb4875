/* model_file.h: ss_model <-> GGUF, in pieces that a training checkpoint can
 * reuse (a checkpoint is a model file plus extra tensors and keys, so that
 * ss_model_load also reads a checkpoint).
 *
 * Keys (all written by ss__model_file_add):
 *   general.architecture            string "semsearch"
 *   general.name                    string "semsearch-d<d_model>-l<layers>"
 *   general.file_type               u32 0 = all f32, 1 = f16 tensors
 *   semsearch.vocab_size            u32
 *   semsearch.context_length        u32 (max_len: positions)
 *   semsearch.embedding_length      u32 (d_model)
 *   semsearch.block_count           u32
 *   semsearch.attention.head_count  u32
 *   semsearch.feed_forward_length   u32
 *   semsearch.attention.layer_norm_epsilon  f32 (checked against this build)
 *   semsearch.pooling               string "mean" | "cls" | "max"
 *   semsearch.dropout               f32 (training only)
 *   tokenizer.ggml.model            string "semsearch-spm"
 *   tokenizer.semsearch.spm         u8 array: the SentencePiece model proto
 *   tokenizer.semsearch.norm_flags  u32: SS_NORM_* applied before SentencePiece
 * Tensors: exactly ss__model_tensors(cfg), names, shapes and order. */
#ifndef SS_MODEL_FILE_H
#define SS_MODEL_FILE_H

#include "nn/gguf.h"
#include "text/tokenizer.h"
#include "semsearch.h"

#define SS_MODEL_ARCH "semsearch"
#define SS_MODEL_TOKENIZER_KIND "semsearch-spm"

/* Adds the model's keys and tensors to w; the tensors point into m->params,
 * which must stay unchanged until ss__gguf_write. dtype: SS_DTYPE_F32/F16.
 * SS_ERR_NUMERIC if a parameter is NaN/Inf (or beyond the f16 range). */
int ss__model_file_add(ss__gguf_writer *w, const ss_model *m, int dtype);
/* Builds a model from an open file: keys, tokenizer, every tensor (f32 or
 * f16) checked for name, shape and finite values; fingerprint = SHA-256 of
 * the whole file. Extra keys and tensors are ignored. */
int ss__model_file_read(const ss__gguf *g, ss_model **out);
/* ss_tokenizer_load (semsearch.h) is defined in model_file.c: a
 * SentencePiece model or a model file's tokenizer, told by the GGUF magic. */
/* Hex SHA-256 (64 chars + NUL) of a buffer. */
int ss__sha256_hex(const void *data, size_t len, char out[65]);

#endif
