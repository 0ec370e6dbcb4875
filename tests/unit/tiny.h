/* tiny.h: the tiny model configuration the unit tests build models with
 * (8-d, one block, 16 positions over the shipped vocabulary): fast, and
 * enough to exercise every layer. */
#ifndef SS_TEST_TINY_H
#define SS_TEST_TINY_H
#include "semsearch.h"

static void tiny_config(ss_config *c, const ss_tokenizer *tok) __attribute__((unused));
static void tiny_config(ss_config *c, const ss_tokenizer *tok)
{
    ss_config_init(c);
    c->vocab_size = ss_tokenizer_vocab_size(tok);
    c->d_model = 8;
    c->n_layers = 1;
    c->n_heads = 2;
    c->d_ff = 16;
    c->max_len = 16;
}
#endif
