/* cmd_model.c: `semsearch model init` (a randomly initialized model, so that
 * every command can be tried before a trained model exists) and
 * `semsearch model info` (what a model file holds). */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char init_usage[] =
    "usage: semsearch model init [-v VOCAB] [options] -o FILE\n"
    "\n"
    "Writes a randomly initialized encoder (weights ~ N(0, 0.02), LayerNorm 1,\n"
    "biases 0) with its tokenizer embedded: a model file every command accepts,\n"
    "and the starting point of `semsearch train`.\n"
    "\n"
    "  -v, --vocab PATH     SentencePiece model, or a model file whose tokenizer to\n"
    "                       reuse (default: the shipped " CLI_DEFAULT_VOCAB ")\n"
    "  -o, --output FILE    model file to write (written whole or not at all)\n"
    "      --d-model N      width (default 256)\n"
    "      --layers N       transformer blocks (default 4)\n"
    "      --heads N        attention heads, dividing --d-model (default 4)\n"
    "      --ffn N          feed-forward width (default 1024)\n"
    "      --max-len N      positions: longer inputs are truncated (default 128)\n"
    "      --pooling P      mean, cls, max or meanmax (default mean)\n"
    "      --dropout X      dropout used in training (default 0.1)\n"
    "      --no-out-norm    no LayerNorm before pooling: token vectors keep their\n"
    "                       norms as weights (for a static model, --layers 0)\n"
    "  -c, --casefold       fold case before tokenizing (stored in the model)\n"
    "      --split-punct    punctuation and symbols as words of their own before\n"
    "                       tokenizing (stored in the model)\n"
    "      --seed N         random seed (default 42)\n"
    "      --f16            store weights as 16-bit floats (half the size)\n";

static const char info_usage[] =
    "usage: semsearch model info [-m MODEL] [--json]\n"
    "\n"
    "Checks a model file completely (every tensor, shape and value) and prints\n"
    "what it holds as key<TAB>value lines: hyperparameters, parameter count,\n"
    "tensor type, file size, SHA-256 fingerprint, tokenizer, the precision of\n"
    "the matrix products (precision: asked for; precision_used: after the\n"
    "fallback to f32 on a CPU without bf16/VNNI), then one line per tensor:\n"
    "tensor.NAME<TAB>TYPE (f32, f16, q8_row) SHAPE BYTES.\n"
    "\n"
    "  -m, --model PATH   model file (default: the shipped " CLI_DEFAULT_MODEL ")\n"
    "  -j, --json         one JSON object instead\n";


static int model_init(int argc, char **argv)
{
    enum { O_DMODEL = 256, O_LAYERS, O_HEADS, O_FFN, O_MAXLEN, O_POOL, O_DROPOUT, O_SEED, O_F16, O_NONORM, O_SPLITPUNCT };
    static const struct option opts[] = {
        {"vocab", required_argument, 0, 'v'},   {"output", required_argument, 0, 'o'},
        {"d-model", required_argument, 0, O_DMODEL}, {"layers", required_argument, 0, O_LAYERS},
        {"heads", required_argument, 0, O_HEADS},    {"ffn", required_argument, 0, O_FFN},
        {"max-len", required_argument, 0, O_MAXLEN}, {"pooling", required_argument, 0, O_POOL},
        {"dropout", required_argument, 0, O_DROPOUT}, {"casefold", no_argument, 0, 'c'},
        {"split-punct", no_argument, 0, O_SPLITPUNCT},
        {"seed", required_argument, 0, O_SEED},      {"f16", no_argument, 0, O_F16},
        {"no-out-norm", no_argument, 0, O_NONORM},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    ss_config cfg;
    ss_config_init(&cfg);
    const char *vocab = NULL, *out = NULL;
    long v, seed = 42;
    double d;
    int f16 = 0, norm = 0, c, bad = 0;
    while ((c = getopt_long(argc, argv, "v:o:ch", opts, NULL)) != -1) {
        switch (c) {
        case 'v': vocab = optarg; break;
        case 'o': out = optarg; break;
        case 'c': norm |= SS_NORM_CASEFOLD; break;
        case O_SPLITPUNCT: norm |= SS_NORM_SPLIT_PUNCT; break;
        case O_DMODEL: bad = cli_int("--d-model", optarg, 1, 65536, &v); cfg.d_model = (int)v; break;
        case O_LAYERS: bad = cli_int("--layers", optarg, 0, 1024, &v); cfg.n_layers = (int)v; break;
        case O_HEADS: bad = cli_int("--heads", optarg, 1, 65536, &v); cfg.n_heads = (int)v; break;
        case O_FFN: bad = cli_int("--ffn", optarg, 1, 1 << 20, &v); cfg.d_ff = (int)v; break;
        case O_MAXLEN: bad = cli_int("--max-len", optarg, 3, 65536, &v); cfg.max_len = (int)v; break;
        case O_SEED: bad = cli_int("--seed", optarg, 0, LONG_MAX, &seed); break;
        case O_F16: f16 = 1; break;
        case O_NONORM: cfg.no_out_norm = 1; break;
        case O_DROPOUT:
            bad = cli_double("--dropout", optarg, 0.0, 0.99, &d);
            cfg.dropout = (float)d;
            break;
        case O_POOL:
            bad = cli_pooling(optarg, &cfg.pooling);
            break;
        case 'h': return cli_usage(init_usage, 0);
        default: return cli_usage(init_usage, 1);
        }
        if (bad) return 2;
    }
    if (optind < argc) {
        cli_error("model init: unexpected argument '%s'", argv[optind]);
        return cli_usage(init_usage, 1);
    }
    if (!out) {
        if (argc == 1) return cli_usage(init_usage, 0);
        cli_error("model init: no --output given");
        return cli_usage(init_usage, 1);
    }
    if (cfg.d_model % cfg.n_heads) {
        cli_error("--heads %d does not divide --d-model %d", cfg.n_heads, cfg.d_model);
        return 2;
    }
    if (cli_same_file(out, vocab)) {
        cli_error("model init: the output %s is the vocabulary: choose another output", out);
        return 2;
    }
    ss_tokenizer *tok;
    if (cli_tokenizer(vocab, "-v", &tok)) return 1;
    if (norm) ss_tokenizer_set_norm(tok, ss_tokenizer_get_norm(tok) | norm);
    ss_model *m;
    int rc = ss_model_init(&cfg, tok, (uint64_t)seed, &m);
    ss_tokenizer_free(tok);
    if (rc) return cli_lib_error(rc);
    rc = ss_model_save(m, out, f16 ? SS_DTYPE_F16 : SS_DTYPE_F32);
    size_t np = ss_model_num_params(m);
    ss_model_free(m);
    if (rc) return cli_lib_error(rc);
    fprintf(stderr, "semsearch: wrote %s (%zu parameters, %s)\n", out, np, f16 ? "f16" : "f32");
    return 0;
}

/* ------------------------------------------------------------------ info */

/* One field, as "key\tvalue" or as a JSON member (numbers unquoted). */
static void field(int json, int *first, const char *key, int is_num, const char *fmt, ...) CLI_PRINTF(5, 6);
static void field(int json, int *first, const char *key, int is_num, const char *fmt, ...)
{
    char val[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (!json) {
        printf("%s\t%s\n", key, val);
        return;
    }
    printf("%s\"%s\":", *first ? "{" : ",", key);
    *first = 0;
    if (is_num) fputs(val, stdout);
    else cli_json_string(val, strlen(val));
}

static int model_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *path = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "m:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'j': json = 1; break;
        case 'h': return cli_usage(info_usage, 0);
        default: return cli_usage(info_usage, 1);
        }
    }
    if (optind < argc) {
        cli_error("model info: unexpected argument '%s' (the model is given with -m)", argv[optind]);
        return cli_usage(info_usage, 1);
    }
    char *def = cli_model_path(path, NULL);
    if (!def) return 1;
    path = def;
    ss_model *m = NULL;
    ss_model_file_info fi;
    int rc = ss_model_load(path, &m); /* checks everything */
    if (!rc) rc = ss_model_file_info_get(path, &fi);
    if (rc) {
        free(def);
        ss_model_free(m);
        return cli_lib_error(rc);
    }
    ss_config cfg;
    ss_model_config(m, &cfg);
    ss_tokenizer *tok = ss_model_tokenizer(m);
    size_t spm_len;
    (void)ss_tokenizer_bytes(tok, &spm_len);

    int first = 1;
    field(json, &first, "path", 0, "%s", path);
    field(json, &first, "file_size", 1, "%" PRIu64, fi.file_size);
    field(json, &first, "fingerprint", 0, "%s", ss_model_fingerprint(m));
    field(json, &first, "format", 0, "GGUF v%d", fi.gguf_version);
    field(json, &first, "architecture", 0, "%s", fi.architecture);
    field(json, &first, "name", 0, "%s", fi.name ? fi.name : "");
    field(json, &first, "dtype", 0, "%s", fi.dtype);
    field(json, &first, "precision", 0, "%s", ss_precision_name(ss_model_precision(m)));
    field(json, &first, "precision_used", 0, "%s", ss_precision_name(ss_model_effective_precision(m)));
    field(json, &first, "params", 1, "%zu", ss_model_num_params(m));
    field(json, &first, "tensors", 1, "%zu", fi.tensors);
    field(json, &first, "vocab_size", 1, "%d", cfg.vocab_size);
    field(json, &first, "max_len", 1, "%d", cfg.max_len);
    field(json, &first, "d_model", 1, "%d", cfg.d_model);
    field(json, &first, "n_layers", 1, "%d", cfg.n_layers);
    field(json, &first, "n_heads", 1, "%d", cfg.n_heads);
    field(json, &first, "d_ff", 1, "%d", cfg.d_ff);
    field(json, &first, "pooling", 0, "%s", ss_pooling_name(cfg.pooling));
    field(json, &first, "dropout", 1, "%g", (double)cfg.dropout);
    field(json, &first, "output_norm", 0, "%s", cfg.no_out_norm ? "none" : "layernorm");
    field(json, &first, "embedding_dim", 1, "%d", ss_model_dim(m));
    field(json, &first, "tokenizer", 0, "sentencepiece (embedded, %zu bytes)", spm_len);
    field(json, &first, "tokenizer_vocab_size", 1, "%d", ss_tokenizer_vocab_size(tok));
    int nf = ss_tokenizer_get_norm(tok);
    field(json, &first, "normalization", 0, "%s%s%s", nf & SS_NORM_NFKC ? "nfkc" : "nfc",
          nf & SS_NORM_CASEFOLD ? "+casefold" : "", nf & SS_NORM_SPLIT_PUNCT ? "+split-punct" : "");
    /* each tensor: "tensor.NAME<TAB>TYPE SHAPE BYTES" lines, or a
     * "tensor_list" array of objects */
    if (json) printf(",\"tensor_list\":[");
    for (size_t i = 0; i < fi.tensors; i++) {
        const ss_model_tensor *t = &fi.tensor[i];
        char shape[128];
        size_t k = 0;
        shape[0] = '\0';
        for (int d = 0; d < t->ndim && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%" PRId64, d ? "x" : "", t->shape[d]);
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_string(t->name, strlen(t->name));
            printf(",\"type\":\"%s\",\"shape\":\"%s\",\"bytes\":%" PRIu64 "}", t->type, shape, t->bytes);
        } else {
            printf("tensor.%s\t%s %s %" PRIu64 "\n", t->name, t->type, shape, t->bytes);
        }
    }
    if (json) printf("]}\n");
    ss_model_file_info_clear(&fi);
    ss_model_free(m);
    free(def);
    return 0;
}

static const char convert_usage[] =
    "usage: semsearch model convert -m MODEL [--f16 | --f32 | --int8] [--pooling P] -o FILE\n"
    "\n"
    "Rewrites a model (or a training checkpoint: only the model is kept) with f16,\n"
    "f32 or int8 weights, or another pooling. The output is written whole or not\n"
    "at all.\n"
    "\n"
    "  -m, --model PATH   model to read (required)\n"
    "      --f16          store the weights as f16 (the default; half the size)\n"
    "      --f32          store the weights as f32\n"
    "      --int8         store the matrices (token and position tables, the\n"
    "                     blocks' weights) as int8 with a scale per row (q8_row,\n"
    "                     about a quarter of f32), the rest f32. Commands run\n"
    "                     such a model with int8 matrix products (VNNI)\n"
    "      --pooling P    pool the token vectors by mean, cls, max or meanmax (the\n"
    "                     mean and the max side by side, each normalized: vectors\n"
    "                     twice as long). Pooling has no weights: any model can\n"
    "                     change it, and a mean-trained static model gains from\n"
    "                     meanmax (models/README.md)\n"
    "  -o, --output PATH  model to write (required)\n";

static int model_convert(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"output", required_argument, 0, 'o'},
                                         {"f16", no_argument, 0, 'H'},
                                         {"f32", no_argument, 0, 'F'},
                                         {"int8", no_argument, 0, 'I'},
                                         {"pooling", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *in = NULL, *out = NULL;
    int dtype = SS_DTYPE_F16, c, pooling = -1;
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': in = optarg; break;
        case 'o': out = optarg; break;
        case 'H': dtype = SS_DTYPE_F16; break;
        case 'F': dtype = SS_DTYPE_F32; break;
        case 'I': dtype = SS_DTYPE_INT8; break;
        case 'P':
            if (cli_pooling(optarg, &pooling)) return 2;
            break;
        case 'h': return cli_usage(convert_usage, 0);
        default: return cli_usage(convert_usage, 1);
        }
    }
    if (argc == 1) return cli_usage(convert_usage, 0);
    if (!in || !out || optind < argc) {
        cli_error(!in ? "model convert: no -m given" : !out ? "model convert: no -o given"
                                                             : "model convert: unexpected argument");
        return cli_usage(convert_usage, 1);
    }
    ss_model *m;
    int rc = ss_model_load(in, &m);
    if (rc) return cli_lib_error(rc);
    if (pooling >= 0) rc = ss_model_set_pooling(m, pooling);
    if (!rc) rc = ss_model_save(m, out, dtype);
    int dim = ss_model_dim(m);
    ss_model_free(m);
    if (rc) return cli_lib_error(rc);
    fprintf(stderr, "semsearch: wrote %s (%s, %d-dimensional vectors)\n", out,
            dtype == SS_DTYPE_F16 ? "f16" : dtype == SS_DTYPE_INT8 ? "int8" : "f32", dim);
    return 0;
}

static const char mix_usage[] =
    "usage: semsearch model mix -m A -m B [-w W] [--f16 | --f32] -o FILE\n"
    "\n"
    "Averages two models' weights: (1 - W) A + W B (\"model soups\"; WiSE-FT).\n"
    "It pays between runs from one starting point, such as a model fine-tuned on\n"
    "one task and the model it started from: the mix keeps much of the task's gain\n"
    "and of what the start did well elsewhere. The models must have the same shape\n"
    "and tokenizer. The output is written whole or not at all.\n"
    "\n"
    "  -m, --model PATH   a model (give two; a training checkpoint works too)\n"
    "  -w, --weight W     the share of the second model, 0 to 1 (default 0.5)\n"
    "      --f16          store the weights as f16 (the default)\n"
    "      --f32          store the weights as f32\n"
    "  -o, --output PATH  model to write (required)\n";

static int model_mix(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"weight", required_argument, 0, 'w'},
                                         {"output", required_argument, 0, 'o'},
                                         {"f16", no_argument, 0, 'H'},
                                         {"f32", no_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *in[2] = {NULL, NULL}, *out = NULL;
    int n_in = 0, dtype = SS_DTYPE_F16, c;
    double w = 0.5;
    while ((c = getopt_long(argc, argv, "m:w:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_in == 2) {
                cli_error("model mix: more than two -m given");
                return cli_usage(mix_usage, 1);
            }
            in[n_in++] = optarg;
            break;
        case 'w':
            if (cli_double("--weight", optarg, 0, 1, &w)) return 2;
            break;
        case 'o': out = optarg; break;
        case 'H': dtype = SS_DTYPE_F16; break;
        case 'F': dtype = SS_DTYPE_F32; break;
        case 'h': return cli_usage(mix_usage, 0);
        default: return cli_usage(mix_usage, 1);
        }
    }
    if (argc == 1) return cli_usage(mix_usage, 0);
    if (n_in < 2 || !out || optind < argc) {
        cli_error(n_in < 2 ? "model mix: give two models (-m A -m B)" : !out ? "model mix: no -o given"
                                                                          : "model mix: unexpected argument");
        return cli_usage(mix_usage, 1);
    }
    ss_model *a = NULL, *b = NULL;
    const char *const ins[2] = {in[0], in[1]};
    if (cli_output_not_input("model mix", out, ins, 2)) return 2;
    int rc = ss_model_load(in[0], &a);
    if (!rc) rc = ss_model_load(in[1], &b);
    if (rc) {
        ss_model_free(a);
        return cli_lib_error(rc);
    }
    if ((rc = ss_model_mix(a, b, (float)w))) {
        cli_error("model mix: %s and %s: %s", in[0], in[1], ss_errmsg());
    } else if ((rc = ss_model_save(a, out, dtype))) {
        cli_lib_error(rc);
    }
    ss_model_free(a);
    ss_model_free(b);
    if (rc) return 1;
    fprintf(stderr, "semsearch: wrote %s (%.3g of %s, %.3g of %s; %s)\n", out, 1 - w, in[0], w, in[1],
            dtype == SS_DTYPE_F16 ? "f16" : "f32");
    return 0;
}

int cmd_model(int argc, char **argv);
int cmd_model(int argc, char **argv)
{
    static const char usage[] = "usage: semsearch model init [options] -o FILE\n"
                                "       semsearch model info [-m MODEL] [--json]\n"
                                "       semsearch model convert -m MODEL [--f16 | --f32 | --int8] [--pooling P] -o FILE\n"
                                "       semsearch model mix -m A -m B [-w W] -o FILE\n"
                                "('semsearch model init --help' describes the options)\n";
    /* getopt's messages start with argv[0]: "semsearch: model init: ..." */
    static char name[64];
    int (*sub)(int, char **) = NULL;
    if (argc >= 2 && !strcmp(argv[1], "init")) sub = model_init;
    else if (argc >= 2 && !strcmp(argv[1], "info")) sub = model_info;
    else if (argc >= 2 && !strcmp(argv[1], "convert")) sub = model_convert;
    else if (argc >= 2 && !strcmp(argv[1], "mix")) sub = model_mix;
    if (sub) {
        snprintf(name, sizeof name, "semsearch: model %s", argv[1]);
        argv[1] = name;
        return sub(argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return cli_usage(usage, 0);
    if (argc >= 2) cli_error("model: unknown subcommand '%s'", argv[1]);
    return cli_usage(usage, 1);
}
