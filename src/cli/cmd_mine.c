/* cmd_mine.c: `semsearch mine`, hard negatives for training data. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/textio.h"
#include "cli.h"
#include "semsearch.h"

static const char mine_usage[] =
    "usage: semsearch mine [-m MODEL] [-o OUT.triplets.tsv] [options] FILE...\n"
    "\n"
    "Finds a hard negative for each training example: a text of the input that the\n"
    "model ranks close to the example's first text (the anchor) but that belongs to\n"
    "another example. Writes anchor TAB positive TAB negative lines, a training file\n"
    "for `semsearch train --data OUT.triplets.tsv`. Input (as for train, .gz accepted):\n"
    "  *.groups.tsv   the first text is the anchor, the second the positive; the\n"
    "                 group's other texts are never its negatives\n"
    "  *.scored.tsv   pairs scoring --min-score or more;  *.labeled.tsv  label 1\n"
    "  *.triplets.tsv its anchor and positive, with a new negative\n"
    "Every text of every input file is a candidate; the search is exact cosine.\n"
    "\n"
    "  -m, --model PATH     model (default: the shipped " CLI_DEFAULT_MODEL ")\n"
    "  -o, --output PATH    triplets file (default: stdout; written whole or not at all)\n"
    "      --skip N         ranks skipped at the top, which are often unlabeled\n"
    "                       paraphrases (default 3)\n"
    "      --range N        the negative is drawn at random from the next N ranks\n"
    "                       (default 20)\n"
    "      --min-score S    *.scored.tsv: pairs scoring S or more are positives\n"
    "      --seed N         which of the candidates is drawn (default 42)\n"
    "  -t, --threads N      threads (default: SEMSEARCH_THREADS or all cores)\n"
    "  -q, --quiet          no progress display\n";

static void progress(void *ctx, const char *stage, size_t done, size_t total)
{
    if (!*(int *)ctx) return;
    fprintf(stderr, "\rsemsearch: mine: %s %zu of %zu%s", stage, done, total, done == total ? "\n" : "");
}

/* One field of the output: tabs and newlines inside a text would break the
 * line format, so they become spaces. */
static int put_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fputc(s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], f) == EOF) return -1;
    return 0;
}

int cmd_mine(int argc, char **argv);
int cmd_mine(int argc, char **argv)
{
    enum { O_SKIP = 256, O_RANGE, O_MINSCORE, O_SEED };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},    {"output", required_argument, 0, 'o'},
        {"skip", required_argument, 0, O_SKIP},  {"range", required_argument, 0, O_RANGE},
        {"min-score", required_argument, 0, O_MINSCORE}, {"seed", required_argument, 0, O_SEED},
        {"threads", required_argument, 0, 't'},  {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *model_path = NULL, *out_path = NULL;
    ss_mine_options mo;
    ss_mine_options_init(&mo);
    ss_trainset_options lo;
    ss_trainset_options_init(&lo);
    long v;
    double d;
    int c, quiet = 0;
    long threads = 0;
    while ((c = getopt_long(argc, argv, "m:o:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'o': out_path = optarg; break;
        case O_SKIP:
            if (cli_int("--skip", optarg, 0, 1000000, &v)) return 2;
            mo.skip = (int)v;
            break;
        case O_RANGE:
            if (cli_int("--range", optarg, 1, 1000000, &v)) return 2;
            mo.range = (int)v;
            break;
        case O_MINSCORE:
            if (cli_double("--min-score", optarg, -1e300, 1e300, &d)) return 2;
            lo.min_score = d;
            lo.has_min_score = 1;
            break;
        case O_SEED:
            if (cli_int("--seed", optarg, 0, 0x7fffffffL, &v)) return 2;
            mo.seed = (uint64_t)v;
            break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case 'q': quiet = 1; break;
        case 'h': return cli_usage(mine_usage, 0);
        default: return cli_usage(mine_usage, 1) ? 2 : 2;
        }
    }
    if (optind >= argc) {
        cli_error("mine: no input file");
        return cli_usage(mine_usage, 1) ? 2 : 2;
    }
    if (threads) ss_set_threads((int)threads);
    int show = !quiet && isatty(STDERR_FILENO);
    mo.on_progress = progress;
    mo.ctx = &show;

    int rc = 0;
    ss_trainset *ts = NULL;
    ss_model *m = NULL;
    ss_triplet *trip = NULL;
    size_t n_trip = 0;
    char *mp = NULL;
    ss__atomic a;
    int have_atomic = 0;
    FILE *f = stdout;
    if ((rc = ss_trainset_new(&ts))) goto lib_error;
    for (int i = optind; i < argc; i++) {
        if (ss_trainset_is_docs_path(argv[i])) {
            rc = cli_error("mine: %s: documents have no fixed pairs to mine for (use pairs, groups or triplets)",
                           argv[i]);
            goto out;
        }
        if ((rc = ss_trainset_add_file(ts, argv[i], 1, &lo))) goto lib_error;
        ss_trainset_source src;
        if ((rc = ss_trainset_get_source(ts, ss_trainset_n_sources(ts) - 1, &src))) goto lib_error;
        if (src.kind == SS_SOURCE_TEXT) {
            rc = cli_error("mine: %s: plain text has no pairs (use *.groups.tsv, *.scored.tsv, *.labeled.tsv or "
                           "*.triplets.tsv)", argv[i]);
            goto out;
        }
    }
    if (!(mp = cli_model_path(model_path, NULL))) {
        rc = 1;
        goto out;
    }
    if ((rc = ss_model_load(mp, &m))) goto lib_error;
    if ((rc = ss_mine_negatives(m, ts, &mo, &trip, &n_trip))) goto lib_error;
    if (out_path) {
        if ((rc = ss__atomic_open(&a, out_path))) goto lib_error;
        have_atomic = 1;
        f = a.f;
    }
    size_t written = 0;
    for (size_t e = 0; e < n_trip; e++) {
        const ss_triplet *t = &trip[e];
        if (put_text(f, t->anchor, t->anchor_len) || fputc('\t', f) == EOF ||
            put_text(f, t->positive, t->positive_len) || fputc('\t', f) == EOF ||
            put_text(f, t->negative, t->negative_len) || fputc('\n', f) == EOF)
            break;
        written++;
    }
    if (have_atomic) {
        have_atomic = 0;
        if ((rc = ss__atomic_commit(&a))) goto lib_error;
    } else {
        rc = cli_finish_stdout(0);
        if (rc) goto out;
    }
    if (!quiet)
        fprintf(stderr, "semsearch: mine: %zu triplets from %zu examples over %u texts%s%s\n", written,
                ss_trainset_n_examples(ts), (unsigned)ss_trainset_n_texts(ts), out_path ? " -> " : "", out_path ? out_path : "");
    goto out;
lib_error:
    rc = cli_lib_error(rc);
out:
    if (have_atomic) ss__atomic_abort(&a);
    ss_free(trip);
    free(mp);
    ss_model_free(m);
    ss_trainset_free(ts);
    return rc;
}
