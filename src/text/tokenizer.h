/* tokenizer.h: internal entry points of the tokenizer (ss_tokenizer_* are
 * public, in semsearch.h). */
#ifndef SS_TEXT_TOKENIZER_H
#define SS_TEXT_TOKENIZER_H

#include <stdint.h>

#include "semsearch.h"

/* A SentencePiece model from an open regular file of size bytes; larger
 * than SS__TOKENIZER_MAX is refused before reading. */
#define SS__TOKENIZER_MAX ((uint64_t)64 << 20)
int ss__tokenizer_load_fd(int fd, uint64_t size, const char *path, ss_tokenizer **out);
/* ss_tokenizer_load itself is in nn/model_file.c: it also reads the
 * tokenizer of a model file, which is nn's format. */

#endif
