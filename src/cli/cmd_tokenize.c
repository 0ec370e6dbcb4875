/* cmd_tokenize.c: `semsearch tokenize` and `semsearch tokenizer train`. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/textio.h"

static const char tokenize_usage[] =
    "usage: semsearch tokenize [-m MODEL] [--pieces] [--special] [--max-len N] [--casefold] [--split-punct] [FILE...]\n"
    "\n"
    "Normalizes each input line (NFKC) and splits it with SentencePiece; writes one\n"
    "line of space-separated token ids (or pieces) per input line, in order.\n"
    "\n"
    "  -m, --model PATH   SentencePiece model, or a semsearch model file (its\n"
    "                     tokenizer and normalization) (default: the shipped\n"
    "                     " CLI_DEFAULT_MODEL ", as every command reads text; without\n"
    "                     it the shipped " CLI_DEFAULT_VOCAB ")\n"
    "  -p, --pieces       write pieces instead of ids\n"
    "      --special      add [CLS] and [SEP] as the encoder sees them\n"
    "  -n, --max-len N    truncate to N tokens (default: no limit)\n"
    "  -c, --casefold     fold case before splitting\n"
    "      --split-punct  punctuation and symbols as words of their own first\n"
    "  FILE               input files ('-' or none: stdin; .gz is read as gzip)\n";

static int tokenize_stream(ss_tokenizer *tok, const char *path, int pieces, int special, long max_len)
{
    int bos = special ? ss_tokenizer_bos_id(tok) : -1, eos = special ? ss_tokenizer_eos_id(tok) : -1;
    long budget = max_len > 0 ? max_len - (bos >= 0) - (eos >= 0) : -1; /* -1: no limit */
    /* as the encoder's batches (ss_tokenizer_encode_batch): room for one token
     * besides [CLS] and [SEP] ("budget -1" read as no limit ignored --max-len 1) */
    if (max_len > 0 && budget < 1) {
        cli_error("--max-len %ld leaves no room for a token beside [CLS] and [SEP] (--special): at least %ld", max_len,
                  max_len - budget + 1);
        return 2;
    }
    ss__lines *r;
    int rc = ss__lines_open(path, &r);
    if (rc) return cli_lib_error(rc);
    const char *line;
    size_t len;
    while ((rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        int32_t *ids = NULL;
        char **ps = NULL;
        size_t n;
        rc = pieces ? ss_tokenizer_encode_pieces(tok, line, len, &ps, &n)
                    : ss_tokenizer_encode(tok, line, len, &ids, &n);
        if (rc) {
            cli_error("%s:%ld: %s", ss__lines_name(r), ss__lines_lineno(r), ss_errmsg());
            ss__lines_close(r);
            return 1;
        }
        if (budget > 0 && (long)n > budget) n = (size_t)budget;
        int first = 1;
        if (bos >= 0) {
            fputs(pieces ? ss_tokenizer_id_to_piece(tok, bos) : "", stdout);
            if (!pieces) printf("%d", bos);
            first = 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (!first) putchar(' ');
            first = 0;
            if (pieces) fputs(ps[i], stdout);
            else printf("%d", ids[i]);
        }
        if (eos >= 0) {
            if (!first) putchar(' ');
            if (pieces) fputs(ss_tokenizer_id_to_piece(tok, eos), stdout);
            else printf("%d", eos);
        }
        putchar('\n');
        ss_free(ids);
        ss_free(ps);
        /* a pipe with nothing more yet: let the reader have what is done */
        if (!ss__lines_ready(r)) fflush(stdout);
    }
    if (rc > 0) {
        cli_lib_error(rc);
        ss__lines_close(r);
        return 1;
    }
    ss__lines_close(r);
    return 0;
}

int cmd_tokenize(int argc, char **argv);
int cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"pieces", no_argument, 0, 'p'},
        {"special", no_argument, 0, 'S'},     {"max-len", required_argument, 0, 'n'},
        {"casefold", no_argument, 0, 'c'},    {"help", no_argument, 0, 'h'},
        {"split-punct", no_argument, 0, 'P'}, {0, 0, 0, 0}};
    const char *model = NULL;
    int pieces = 0, special = 0, norm = 0, c;
    long max_len = 0;
    while ((c = getopt_long(argc, argv, "m:psn:ch", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': pieces = 1; break;
        case 's': cli_deprecated("tokenize", "-s", "--special", "-s is --source"); /* fall through */
        case 'S': special = 1; break;
        case 'c': norm |= SS_NORM_CASEFOLD; break;
        case 'P': norm |= SS_NORM_SPLIT_PUNCT; break;
        case 'n':
            if (cli_int("--max-len", optarg, 1, 1 << 20, &max_len)) return 2;
            break;
        case 'h': return cli_usage(tokenize_usage, 0);
        default: return cli_usage(tokenize_usage, 1);
        }
    }
    if (optind == argc && cli_stdin_is_tty()) return cli_usage(tokenize_usage, 0);
    ss_tokenizer *tok;
    char *def = model ? NULL : cli_data_path(CLI_DEFAULT_MODEL); /* as embed reads text */
    int bad = cli_tokenizer(model ? model : def, "-m", &tok);
    free(def);
    if (bad) return 1;
    if (norm) ss_tokenizer_set_norm(tok, ss_tokenizer_get_norm(tok) | norm);
    int rc = 0;
    if (optind == argc) rc = tokenize_stream(tok, "-", pieces, special, max_len);
    for (int i = optind; i < argc && !rc; i++) rc = tokenize_stream(tok, argv[i], pieces, special, max_len);
    ss_tokenizer_free(tok);
    return rc;
}

/* ss_tokenizer_train's progress: sentences read, then the training. */
static void train_progress(void *ctx, const char *step, long n)
{
    cli_progress *p = ctx;
    if (!strcmp(step, "read")) cli_progress_draw(p, 0, "tokenizer train: read %ld sentence%s", n, n == 1 ? "" : "s");
    else cli_progress_draw(p, 1, "tokenizer train: training on %ld sentence%s (%.0f s so far; SentencePiece gives no "
                                 "further progress)", n, n == 1 ? "" : "s", cli_progress_elapsed(p));
}

static const char train_usage[] =
    "usage: semsearch tokenizer train -i FILE [-i FILE...] -o OUT.model [options]\n"
    "\n"
    "Trains a SentencePiece model on text files (one sentence or paragraph a line,\n"
    ".gz accepted, '-' for stdin), normalized exactly as at encoding time.\n"
    "Special ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3.\n"
    "\n"
    "  -i, --input FILE            training text (repeatable; also as plain arguments)\n"
    "  -o, --output PATH           model to write (written whole or not at all)\n"
    "      --vocab-size N          pieces in the vocabulary (default 16000)\n"
    "      --model-type TYPE       unigram or bpe (default unigram)\n"
    "      --character-coverage X  share of characters covered (default 0.9995)\n"
    "      --input-sentence-size N sentences sampled from the input (default 2000000, 0 = all)\n"
    "  -c, --casefold              an uncased model: it folds case itself when encoding\n"
    "      --split-punct           learn from text with punctuation and symbols split off\n"
    "                              words, for models made with --split-punct\n"
    "      --seed N                random seed (default 42)\n"
    "  -t, --threads N             threads (default: all cores)\n"
    "  -q, --quiet                 no progress line (drawn on stderr when it is a terminal)\n";

static int tokenizer_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},
        {"vocab-size", required_argument, 0, 'V'},
        {"model-type", required_argument, 0, 'M'},
        {"character-coverage", required_argument, 0, 'C'},
        {"input-sentence-size", required_argument, 0, 'S'},
        {"casefold", no_argument, 0, 'c'},
        {"split-punct", no_argument, 0, 'P'},
        {"seed", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {"quiet", no_argument, 0, 'q'},
        {0, 0, 0, 0}};
    ss_tokenizer_train_opts o;
    int quiet = 0;
    ss_tokenizer_train_opts_init(&o);
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) return cli_error("out of memory");
    int n = 0, c, rc = 0;
    long v;
    double d;
    while ((c = getopt_long(argc, argv, "i:o:v:t:cqh", opts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = 1; break;
        case 'i': inputs[n++] = optarg; break;
        case 'o': o.output = optarg; break;
        case 'v': /* -v is --vocab (a file) elsewhere: kept one release */
            cli_deprecated("tokenizer train", "-v N", "--vocab-size N", "-v is --vocab");
            /* fall through */
        case 'V':
            if (cli_int("--vocab-size", optarg, 8, 1000000, &v)) rc = 2;
            o.vocab_size = (int)v;
            break;
        case 't': /* -t is --threads; -t TYPE kept one release */
            if (cli_is_number(optarg)) {
                if (cli_int("--threads", optarg, 1, 1024, &v)) rc = 2;
                o.threads = (int)v;
                break;
            }
            cli_deprecated("tokenizer train", "-t TYPE", "--model-type TYPE", "-t is --threads");
            /* fall through */
        case 'M':
            if (!strcmp(optarg, "unigram")) o.model_type = SS_SPM_UNIGRAM;
            else if (!strcmp(optarg, "bpe")) o.model_type = SS_SPM_BPE;
            else rc = cli_error("--model-type: '%s' is not unigram or bpe", optarg) + 1;
            break;
        case 'C':
            if (cli_double("--character-coverage", optarg, 1e-6, 1.0, &d)) rc = 2;
            o.character_coverage = d;
            break;
        case 'S':
            if (cli_int("--input-sentence-size", optarg, 0, 1000000000L, &v)) rc = 2;
            o.input_sentence_size = v;
            break;
        case 'c': o.norm_flags |= SS_NORM_NFKC | SS_NORM_CASEFOLD; break;
        case 'P': o.norm_flags |= SS_NORM_SPLIT_PUNCT; break;
        case 'r':
            if (cli_int("--seed", optarg, 0, 0x7fffffffL, &v)) rc = 2;
            o.seed = (uint64_t)v;
            break;
        case 'T':
            if (cli_int("--threads", optarg, 1, 1024, &v)) rc = 2;
            o.threads = (int)v;
            break;
        case 'h': free(inputs); return cli_usage(train_usage, 0);
        default: free(inputs); return cli_usage(train_usage, 1);
        }
        if (rc) {
            free(inputs);
            return rc;
        }
    }
    for (int i = optind; i < argc; i++) inputs[n++] = argv[i];
    if (n == 0 || !o.output) {
        free(inputs);
        if (argc == 1) return cli_usage(train_usage, 0);
        cli_error(n == 0 ? "tokenizer train: no --input given" : "tokenizer train: no --output given");
        return cli_usage(train_usage, 1);
    }
    if ((rc = cli_output_not_input("tokenizer train", o.output, inputs, n))) {
        free(inputs);
        return rc;
    }
    o.inputs = inputs;
    o.n_inputs = n;
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    o.progress = train_progress;
    o.progress_ctx = &prog;
    rc = ss_tokenizer_train(&o);
    cli_progress_end(&prog);
    free(inputs);
    if (rc) return cli_lib_error(rc);
    fprintf(stderr, "semsearch: wrote %s\n", o.output);
    return 0;
}

int cmd_tokenizer(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv)
{
    static const char usage[] = "usage: semsearch tokenizer train [options]   (see 'semsearch tokenizer train --help')\n";
    if (argc >= 2 && !strcmp(argv[1], "train")) {
        static char name[] = "semsearch: tokenizer train"; /* getopt's messages start with argv[0] */
        argv[1] = name;
        return tokenizer_train(argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return cli_usage(usage, 0);
    if (argc >= 2) cli_error("tokenizer: unknown subcommand '%s'", argv[1]);
    return cli_usage(usage, 1);
}
