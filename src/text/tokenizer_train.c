/* tokenizer_train.c: training a SentencePiece model from text files, each
 * line normalized by utf8proc exactly as it will be at encoding time. */
#include "config.h"

#include <string.h>

#include "base/common.h"
#include "text/spm.h"
#include "base/textio.h"

void ss_tokenizer_train_opts_init(ss_tokenizer_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->vocab_size = 16000;
    o->model_type = SS_SPM_UNIGRAM;
    o->character_coverage = 0.9995;
    o->input_sentence_size = 2000000;
    o->norm_flags = SS_NORM_DEFAULT;
    o->seed = 42;
}

typedef struct feed {
    const ss_tokenizer_train_opts *o;
    int file;
    ss__lines *r;
    char *norm;
    long used;
} feed;

static int next_sentence(void *ctx, const char **s, size_t *len)
{
    feed *f = ctx;
    for (;;) {
        if (!f->r) {
            if (f->file >= f->o->n_inputs) {
                if (f->o->progress) f->o->progress(f->o->progress_ctx, "train", f->used);
                return 0;
            }
            int rc = ss__lines_open(f->o->inputs[f->file++], &f->r);
            if (rc) return -rc;
        }
        const char *line;
        size_t n;
        int rc = ss__lines_next(f->r, &line, &n);
        if (rc > 0) return -rc;
        if (rc == 0) {
            ss__lines_close(f->r);
            f->r = NULL;
            continue;
        }
        ss_free(f->norm);
        f->norm = NULL;
        size_t m;
        rc = ss_normalize(line, n, f->o->norm_flags & ~SS_NORM_CASEFOLD, &f->norm, &m);
        if (rc) return -rc;
        if (m == 0) continue; /* blank lines teach nothing */
        f->used++;
        if (f->o->progress && (f->used & 1023) == 1) f->o->progress(f->o->progress_ctx, "read", f->used);
        *s = f->norm;
        *len = m;
        return 1;
    }
}

int ss_tokenizer_train(const ss_tokenizer_train_opts *o)
{
    if (!o || !o->output || o->n_inputs <= 0 || !o->inputs)
        return ss__fail(SS_ERR_ARG, "tokenizer training needs input files and an output path");
    if (o->vocab_size < 8 || o->vocab_size > 1000000)
        return ss__fail(SS_ERR_RANGE, "vocabulary size %d out of range [8, 1000000]", o->vocab_size);
    if (!(o->character_coverage > 0.0 && o->character_coverage <= 1.0))
        return ss__fail(SS_ERR_RANGE, "character coverage %g out of range (0, 1]", o->character_coverage);
    ss__spm_train_args a = {
        .vocab_size = o->vocab_size,
        .bpe = o->model_type == SS_SPM_BPE,
        .casefold = (o->norm_flags & SS_NORM_CASEFOLD) != 0,
        .character_coverage = o->character_coverage,
        .input_sentence_size = o->input_sentence_size,
        .threads = o->threads > 0 ? o->threads : ss_get_threads(),
        .seed = o->seed,
    };
    feed f = {.o = o};
    char *model = NULL;
    size_t len = 0;
    int rc = ss__spm_train(&a, next_sentence, &f, &model, &len);
    long used = f.used;
    ss__lines_close(f.r);
    ss_free(f.norm);
    if (!rc && used == 0) rc = ss__fail(SS_ERR_FORMAT, "no text to train on (all inputs empty)");
    if (!rc) rc = ss__write_file_atomic(o->output, model, len);
    ss_free(model);
    return rc;
}
