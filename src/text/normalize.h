/* normalize.h: text normalization with utf8proc (see ss_normalize). */
#ifndef SS_NORMALIZE_H
#define SS_NORMALIZE_H
#include <stddef.h>

/* Replaces every invalid UTF-8 sequence with U+FFFD; always succeeds unless
 * memory runs out. */
int ss__utf8_repair(const char *s, size_t len, char **out, size_t *out_len);

#endif
