/* cmd_train.c: `semsearch train`: contrastive training of an encoder from
 * the shell. The loop is ss_train_run (semsearch.h); this file parses
 * options, loads the data and the model, shows progress, writes the
 * metrics file and the plot, and turns Ctrl-C into a checkpoint. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/textio.h"
#include "cli.h"
#include "eval/svg.h"
#include "semsearch.h"

static const char train_usage[] =
    "usage: semsearch train -o MODEL.gguf --data FILE[:WEIGHT]... [options]\n"
    "\n"
    "Trains a sentence encoder contrastively: the two texts of a positive pair should\n"
    "embed close together, apart from the other texts of the batch (in-batch negatives).\n"
    "Data (by file name, .gz accepted):\n"
    "  *.groups.tsv   paraphrase groups: each step uses one pair of a line\n"
    "  *.scored.tsv   pairs scoring --min-score or more are positives (--loss cosent:\n"
    "                 every pair, ranked by its score)\n"
    "  *.labeled.tsv  pairs labeled 1 are positives\n"
    "  *.triplets.tsv anchor TAB positive TAB hard negative: the negative joins\n"
    "                 the batch's negatives (--loss infonce)\n"
    "  *.paragraphs.tsv  documents: doc_id TAB title TAB section TAB paragraph;\n"
    "  *.docs.txt     documents as text: a blank line ends one, a line a paragraph\n"
    "  DIRECTORY      every file under it is a document (blank lines between\n"
    "                 paragraphs, Markdown '# headings' as title and sections)\n"
    "                 Documents make their pairs on the fly (--doc-pairs).\n"
    "  other, or '-'  plain text, one sentence a line: the positive is the sentence\n"
    "                 itself seen through other dropout (SimCSE), or an --aug-* view\n"
    "A batch never holds two texts of one group, nor one text twice.\n"
    "\n"
    "Model:\n"
    "  -o, --output PATH        the trained model (written at the end)\n"
    "  -i, --init PATH          start from this model (fine-tuning)\n"
    "      --init-embeddings M  new model: token and position embeddings (and the\n"
    "                           output norm) from model M, e.g. a static one\n"
    "                           (--layers 0); its tokenizer unless -v is given.\n"
    "                           The blocks start as the identity: the new model\n"
    "                           begins computing what M computes\n"
    "  -r, --resume CKPT        continue an interrupted run exactly (same options)\n"
    "  -v, --vocab PATH         new model: SentencePiece model, or a model file whose\n"
    "                           tokenizer to use (default: the shipped " CLI_DEFAULT_VOCAB ")\n"
    "      --d-model N          new model: width (default 256)\n"
    "      --layers N           new model: transformer blocks (default 4)\n"
    "      --heads N            new model: attention heads (default 4)\n"
    "      --ffn N              new model: feed-forward width (default 1024)\n"
    "      --pooling P          new model: mean, cls, max or meanmax (default mean)\n"
    "      --no-out-norm        new model: no LayerNorm before pooling (token vectors\n"
    "                           keep their norms as weights: a static model)\n"
    "  -c, --casefold           new model: fold case before tokenizing\n"
    "      --split-punct        new model: punctuation and symbols as words of their\n"
    "                           own before tokenizing (\"(#guns)\" -> \"( # guns )\")\n"
    "      --max-len N          tokens per text (new model: its positions, default 128)\n"
    "      --dropout P          dropout while training (default: the model's, 0.1 if new)\n"
    "      --f16                write the model(s) with f16 weights (half the size)\n"
    "      --bf16               bf16 matrix products (f32 accumulation, f32 weights\n"
    "                           and optimizer state): faster on CPUs with AVX-512\n"
    "                           BF16; elsewhere (or SEMSEARCH_ISA=f32) it runs f32\n"
    "Data:\n"
    "  -d, --data FILE[:W]      training data (repeatable); W weights it (default 1):\n"
    "                           an epoch uses round(W x lines) examples of the file\n"
    "      --min-score S        positives of *.scored.tsv: score >= S (not with cosent)\n"
    "      --skip-bad           skip malformed lines (counted) instead of stopping\n"
    "      --aug-delete P       plain text: delete each word with probability P\n"
    "      --aug-crop R         plain text: cut up to R of the words, keeping a span\n"
    "      --aug-swap P         plain text: swap neighbouring words with probability P\n"
"      --doc-pairs SPEC     documents: kinds of pairs and their odds (default\n"
    "                           title:1,section:1,ict:1,crop:1): title = (title,\n"
    "                           paragraph), section = (title: heading, paragraph),\n"
    "                           ict = (a sentence, the rest of its paragraph),\n"
    "                           crop = two random spans of a paragraph\n"
    "      --curriculum K       order the first epoch easy to hard: length or overlap\n"
    "Optimization:\n"
    "  -b, --batch-size N       pairs per step (default 64)\n"
    "  -e, --epochs X           passes over the data (default 1)\n"
    "  -n, --steps N            steps instead of --epochs\n"
    "      --grad-cache N       embed and back-propagate at most N texts at a time\n"
    "                           (GradCache): large batches in bounded memory, the\n"
    "                           same gradients (dropout drawn per chunk); infonce\n"
    "  mpirun -np N semsearch train ...  data parallelism (an MPI build): each process\n"
    "                           embeds a slice of every batch, the loss is the whole\n"
    "                           batch's, gradients are summed; process 0 writes\n"
    "      --lr X               peak learning rate (default 5e-4)\n"
    "      --min-lr X           learning rate at the end of the decay (default 0)\n"
    "      --warmup N|P%        warmup steps, or a share of the run (default 5%)\n"
    "      --schedule S         cosine, linear or constant after warmup (default cosine)\n"
    "      --weight-decay X     AdamW decoupled weight decay (default 0.01)\n"
    "      --grad-clip X        clip the gradient norm to X, 0 = off (default 1)\n"
    "      --embedding-lr F     the token and position embeddings learn at F x the\n"
    "                           learning rate (default 1); 0 freezes them, e.g. to\n"
    "                           train blocks on a static stage, keeping its table\n"
    "      --loss L             infonce, ntxent, triplet or cosent (default infonce);\n"
    "                           cosent ranks graded pairs (*.scored.tsv, *.labeled.tsv as\n"
    "                           0/1: every pair with its score): a pair scored above\n"
    "                           another of the same file should have the higher cosine;\n"
    "                           pairs of groups and text files add InfoNCE among them\n"
    "      --temperature T      InfoNCE/NT-Xent temperature (default 0.05)\n"
    "      --learn-temperature  train the temperature too (starting at T)\n"
    "      --margin M           triplet margin on cosine (default 0.2)\n"
    "      --cosent-scale X     cosent: scale of cosine differences (default 20)\n"
    "      --seed N             data order, dropout and new weights (default 42)\n"
    "  -t, --threads N          threads (default: all cores)\n"
    "Checkpoints and evaluation:\n"
    "      --checkpoint PATH    (default: MODEL.ckpt.gguf beside -o)\n"
    "      --save-every N       checkpoint every N steps, 0 = only at the end (default 1000)\n"
    "      --stop-at N          stop after step N with a checkpoint (continue with --resume)\n"
    "      --eval FILE          dev set (*.scored.tsv): Spearman every --eval-every steps;\n"
    "                           the best model goes to MODEL.best.gguf beside -o\n"
    "      --eval-every N       (default 500; 0 = only at the end)\n"
    "      --metrics FILE.csv   one line per step: loss, learning rate, dev score...\n"
    "      --plot FILE.svg      the loss and dev score against steps\n"
    "  -q, --quiet              no progress, only errors and the final line\n"
    "\n"
    "Ctrl-C saves a checkpoint and stops (exit 130); a second Ctrl-C stops at once.\n";

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    if (stop_flag) { /* second time: the default action, now */
        ss__atomic_unlink_live(); /* not a half-written checkpoint left behind */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_flag = sig;
}

/* ------------------------------------------------------------ progress */

typedef struct view {
    int tty, quiet;
    int64_t first_step; /* the step before this run's first (-1 until known) */
    int64_t log_every;
    int64_t epochs; /* the epochs shown: those asked for, else estimated once */
    double last_draw;
    int line_open; /* a live line is on the terminal */
    FILE *csv;
    const char *csv_path;
    int64_t csv_rows, csv_dev;
    int csv_error;
} view;

static void clear_line(view *v)
{
    if (v->line_open) {
        fputs("\r\033[K", stderr);
        v->line_open = 0;
    }
}

static void on_log(void *ctx, const char *msg)
{
    view *v = ctx;
    if (v->quiet) return;
    clear_line(v);
    fprintf(stderr, "semsearch: %s\n", msg);
}

static const char *hms(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "?");
        return buf;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

/* Appends the history rows not yet in the metrics file (after a resume,
 * the first call writes the rows of the interrupted run too). */
static void write_csv(view *v, const ss_train_history *h)
{
    if (!v->csv_path || v->csv_error) return;
    if (!v->csv) { /* opened at the first step: a run that never starts leaves no file */
        v->csv = fopen(v->csv_path, "w");
        if (!v->csv) {
            v->csv_error = errno;
            cli_error("%s: %s (metrics not written)", v->csv_path, strerror(errno));
            return;
        }
        fputs("step,epoch,loss,lr,grad_norm,temperature,seconds,dev_spearman\n", v->csv);
    }
    for (; v->csv_rows < h->n; v->csv_rows++) {
        int64_t i = v->csv_rows, step = i + 1;
        fprintf(v->csv, "%lld,%d,%.6g,%.6g,%.6g,%.6g,%.3f,", (long long)step, h->epoch[i] + 1, (double)h->loss[i],
                (double)h->lr[i], (double)h->grad_norm[i], (double)h->temp[i], h->seconds[i]);
        while (v->csv_dev < h->n_dev && h->dev_step[v->csv_dev] < step) v->csv_dev++;
        if (v->csv_dev < h->n_dev && h->dev_step[v->csv_dev] == step) fprintf(v->csv, "%.6f", h->dev_score[v->csv_dev]);
        fputc('\n', v->csv);
    }
    if (fflush(v->csv) != 0 || ferror(v->csv)) {
        v->csv_error = errno ? errno : EIO;
        cli_error("%s: write error: %s (metrics no longer written)", v->csv_path, strerror(v->csv_error));
    }
}

static void on_progress(void *ctx, const ss_train_progress *p)
{
    view *v = ctx;
    if (v->first_step < 0) v->first_step = p->step - 1;
    write_csv(v, p->hist);
    if (v->quiet) return;
    if (v->log_every == 0) v->log_every = p->total >= 200 ? p->total / 100 : 10; /* ~100 log lines a run */
    char eta[32], dev[64] = "";
    if (p->best_step >= 0) snprintf(dev, sizeof dev, "  dev %.4f (best %.4f)", p->dev ? p->dev_score : p->best_score, p->best_score);
    /* epochs differ a little in batches (document pairs are drawn anew), so
     * the count is fixed once, not re-estimated from each epoch's plan: a run
     * of -e 4 shows x/4, and x/5 only in a last few steps that spill over */
    if (v->epochs <= 0)
        v->epochs = p->n_batches ? (p->total + (int64_t)p->n_batches - 1) / (int64_t)p->n_batches : 1;
    int64_t epochs = p->epoch + 1 > v->epochs ? p->epoch + 1 : v->epochs;
    if (v->tty) {
        double t = cli_now();
        if (!p->dev && p->step != p->total && t - v->last_draw < 0.2) return;
        v->last_draw = t;
        fprintf(stderr, "\r\033[Kepoch %lld/%lld  step %lld/%lld  loss %.4f  lr %.2e  %.0f pairs/s  ETA %s%s",
                (long long)p->epoch + 1, (long long)epochs, (long long)p->step, (long long)p->total, p->loss, p->lr,
                p->pairs_per_s, hms(p->eta, eta, sizeof eta), dev);
        v->line_open = 1;
        if (p->step == p->total) clear_line(v);
        fflush(stderr);
    } else if (p->dev || p->step % v->log_every == 0 || p->step == p->total || p->step == 1) {
        fprintf(stderr, "semsearch: epoch %lld/%lld step %lld/%lld loss %.4f lr %.3g grad %.3g %.0f pairs/s ETA %s%s\n",
                (long long)p->epoch + 1, (long long)epochs, (long long)p->step, (long long)p->total, p->loss, p->lr,
                p->grad_norm, p->pairs_per_s, hms(p->eta, eta, sizeof eta), dev);
    }
}

/* ------------------------------------------------------------ helpers */

/* PATH.gguf -> PATH<suffix> (e.g. ".ckpt.gguf"); malloc'd. */
static char *beside(const char *out, const char *suffix)
{
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf")) n -= 5;
    char *p = malloc(n + strlen(suffix) + 1);
    if (p) {
        memcpy(p, out, n);
        strcpy(p + n, suffix);
    }
    return p;
}

/* Whether msg is an error about path ("PATH: ..."). */
static int about(const char *msg, const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n && !strncmp(msg, path, n) && msg[n] == ':';
}

/* "FILE:W" -> weight W when the text after the last ':' is a number. */
static int split_weight(char *arg, double *w)
{
    *w = 1;
    char *c = strrchr(arg, ':');
    if (!c || c == arg) return 0;
    char *end;
    errno = 0;
    double v = strtod(c + 1, &end);
    if (c[1] == '\0' || *end || errno) return 0; /* part of the file name */
    if (!(v > 0) || !isfinite(v)) return cli_error("--data %s: the weight must be a positive number", arg);
    *c = '\0';
    *w = v;
    return 0;
}

static int write_plot(const char *path, const char *title, const ss_train_history *h)
{
    ss__plot *p;
    int rc = ss__plot_new(title, "step", "loss / dev Spearman", &p);
    if (rc) return cli_lib_error(SS_ERR);
    ss__plot_legend(p, SS__LEGEND_UPPER_RIGHT);
    size_t n = (size_t)h->n;
    double *x = malloc(sizeof *x * (n ? n : 1)), *y = malloc(sizeof *y * (n ? n : 1)),
           *s = malloc(sizeof *s * (n ? n : 1));
    int nomem = !x || !y || !s; /* the command's, not the library's: no message there */
    if (nomem) rc = SS_ERR_NOMEM;
    if (!rc && n) {
        /* raw loss in gray, an exponential moving average on top (bias
         * corrected as in Adam, so that the first steps are plain means) */
        double ema = 0, a = n > 50 ? 0.05 : 0.3, decay = 1;
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)(i + 1);
            y[i] = h->loss[i];
            ema = (1 - a) * ema + a * y[i];
            decay *= 1 - a;
            s[i] = ema / (1 - decay);
        }
        rc = ss__plot_add(p, "loss", x, y, n, SS__PLOT_LINE | SS__PLOT_GRAY);
        if (!rc) rc = ss__plot_add(p, "loss (smoothed)", x, s, n, SS__PLOT_LINE);
    }
    if (!rc && h->n_dev) {
        double *dx = malloc(sizeof *dx * (size_t)h->n_dev);
        if (!dx) rc = SS_ERR_NOMEM, nomem = 1;
        for (int64_t i = 0; !rc && i < h->n_dev; i++) dx[i] = (double)h->dev_step[i];
        if (!rc) rc = ss__plot_add(p, "dev Spearman", dx, h->dev_score, (size_t)h->n_dev, SS__PLOT_LINE | SS__PLOT_POINTS);
        free(dx);
    }
    if (!rc) rc = ss__plot_write(p, path);
    free(x);
    free(y);
    free(s);
    ss__plot_free(p);
    if (!rc) return 0;
    return nomem ? cli_error("out of memory") : cli_lib_error(SS_ERR);
}

/* Loads the --data files (FILE or FILE:WEIGHT) into *out, with a line on
 * each unless quiet; *has_text: one of them is plain text. */
static int load_data(char **data, int n_data, const ss_trainset_options *lo, int quiet, ss_trainset **out,
                     int *has_text)
{
    int rc = ss_trainset_new(out);
    if (rc) return cli_lib_error(rc);
    ss_trainset *ts = *out;
    for (int i = 0; i < n_data; i++) {
        double w;
        if (split_weight(data[i], &w)) return 1;
        ss_trainset_source src, *s = &src;
        if ((rc = ss_trainset_add_file(ts, data[i], w, lo)) ||
            (rc = ss_trainset_get_source(ts, ss_trainset_n_sources(ts) - 1, s)))
            return cli_lib_error(rc);
        if (s->kind == SS_SOURCE_TEXT) *has_text = 1;
        if (!quiet)
            fprintf(stderr, "semsearch: %s: %zu %s from %ld lines (%ld not used), weight %g\n", s->name, s->examples,
                    s->kind == SS_SOURCE_TEXT     ? "sentences"
                    : s->kind == SS_SOURCE_GROUPS ? "groups"
                    : s->kind == SS_SOURCE_DOCS   ? "documents"
                    : s->kind == SS_SOURCE_TRIPLETS ? "triplets"
                                                  : "pairs", s->lines,
                    s->skipped, s->weight);
        if (s->skipped_bad) {
            fprintf(stderr, "semsearch: %s: skipped %ld malformed line%s (the first: %s)\n", s->name, s->skipped_bad,
                    s->skipped_bad == 1 ? "" : "s", s->first_bad ? s->first_bad : "?");
        }
    }
    return 0;
}

/* No output may be an input (the run would replace its own data), and every
 * output can be created: better now than after hours of training. */
static int check_outputs(const char *const *outs, size_t n_outs, char **data, int n_data, const char *eval_path,
                         const char *vocab)
{
    for (size_t i = 0; i < n_outs; i++) {
        if (!outs[i]) continue;
        for (int j = 0; j <= n_data; j++) {
            const char *in = j < n_data ? data[j] : eval_path;
            char *plain = in ? strdup(in) : NULL, *colon = plain ? strrchr(plain, ':') : NULL;
            if (colon) *colon = '\0'; /* FILE:WEIGHT */
            int same = cli_same_file(outs[i], in) || (colon && cli_same_file(outs[i], plain));
            free(plain);
            if (same) return cli_error("train: the output %s is the input %s: choose another output", outs[i], in);
        }
        if (cli_same_file(outs[i], vocab))
            return cli_error("train: the output %s is the vocabulary %s: choose another output", outs[i], vocab);
    }
    for (size_t i = 0; i < n_outs; i++) {
        if (!outs[i]) continue;
        int rc = ss__atomic_check(outs[i]);
        if (rc) return cli_lib_error(rc);
    }
    return 0;
}

/* The last line of a run: what was written, or the error (with, after a
 * failed save, the checkpoint to resume from); the exit code. */
static int report_end(int rc, const char *msg, const ss_train_result *res, const ss_train_options *o,
                      const char *resume, const char *best)
{
    if (rc == SS_OK) {
        char extra[256] = "";
        if (res->best_step >= 0)
            snprintf(extra, sizeof extra, "; dev Spearman %.4f at the end, best %.4f at step %lld (%s)", res->last_score,
                     res->best_score, (long long)res->best_step, best);
        fprintf(stderr, "semsearch: wrote %s (%lld steps, last loss %.4f%s)\n", o->output, (long long)res->steps,
                res->last_loss, extra);
        return 0;
    } else if (rc == SS_ERR_INTERRUPTED) {
        cli_error("%s", msg);
        return stop_flag ? 128 + (int)stop_flag : 0; /* --stop-at is a stop as asked */
    } else {
        cli_error("%s", msg);
        /* a failed save (a full disk) replaced nothing: name what to resume from */
        const char *from = res->saved_step >= 0 ? o->checkpoint : resume;
        if (rc == SS_ERR_IO && from && (about(msg, o->output) || about(msg, o->checkpoint) || about(msg, best))) {
            char step[64] = "";
            if (res->saved_step >= 0) snprintf(step, sizeof step, " (step %lld)", (long long)res->saved_step);
            fprintf(stderr, "semsearch: the checkpoint %s%s is intact: once there is space, resume with --resume %s\n",
                    from, step, from);
        }
        return 1;
    }
}

/* The model of --init or --resume, with --max-len (at most its positions)
 * and --dropout applied. */
static int load_model(const char *path, const ss_config *cfg, int max_len_given, int dropout_given, int *max_len,
                      ss_model **model)
{
    int rc = ss_model_load(path, model);
    if (rc) return cli_lib_error(rc);
    ss_config mc;
    ss_model_config(*model, &mc);
    if (max_len_given) {
        if (cfg->max_len > mc.max_len)
            return cli_error("--max-len %d: the model has %d positions", cfg->max_len, mc.max_len);
        *max_len = cfg->max_len;
    }
    if (dropout_given && (rc = ss_model_set_dropout(*model, cfg->dropout))) return cli_lib_error(rc);
    return 0;
}

/* A new model of shape cfg on the tokenizer of vocab (a .model file, or the
 * model file whose tokenizer it takes; default: the shipped one), from the
 * embeddings of init_emb if given (its width and positions unless given).
 * *tok and *emb_src are the caller's to free, as *model. */
static int new_model(ss_config *cfg, const char *vocab, int norm, const char *init_emb, int dim_given,
                     int max_len_given, uint64_t seed, ss_tokenizer **tok, ss_model **emb_src, ss_model **model)
{
    char *def = NULL;
    if (!vocab && !(vocab = def = cli_data_path(CLI_DEFAULT_VOCAB)))
        return cli_error("no --vocab given and the shipped %s was not found (set SEMSEARCH_DATA)", CLI_DEFAULT_VOCAB);
    int rc = ss_tokenizer_load(vocab, tok); /* a SentencePiece .model or a model file */
    free(def);
    if (rc) return cli_lib_error(rc);
    if (norm) ss_tokenizer_set_norm(*tok, ss_tokenizer_get_norm(*tok) | norm); /* SS_NORM_* added */
    if (init_emb) {
        /* the width and positions of the embeddings, unless given */
        if ((rc = ss_model_load(init_emb, emb_src))) return cli_error("--init-embeddings %s: %s", init_emb, ss_errmsg());
        ss_config ec;
        ss_model_config(*emb_src, &ec);
        if (!dim_given) cfg->d_model = ec.d_model;
        if (!max_len_given) cfg->max_len = ec.max_len;
    }
    if (cfg->d_model % cfg->n_heads)
        return cli_error("--heads %d does not divide --d-model %d", cfg->n_heads, cfg->d_model);
    cfg->vocab_size = ss_tokenizer_vocab_size(*tok);
    if ((rc = ss_model_init(cfg, *tok, seed, model))) return cli_lib_error(rc);
    if (*emb_src && (ss_model_copy_embeddings(*model, *emb_src) || ss_model_identity_blocks(*model)))
        return cli_error("--init-embeddings %s: %s", init_emb, ss_errmsg());
    return 0;
}

/* ------------------------------------------------------------ the command */

enum {
    O_DIM = 256, O_LAYERS, O_HEADS, O_FF, O_POOLING, O_MAXLEN, O_DROPOUT, O_F16, O_MINSCORE, O_SKIPBAD,
    O_AUGDEL, O_AUGCROP, O_AUGSWAP, O_CURRIC, O_LR, O_MINLR, O_WARMUP, O_SCHED, O_WD, O_CLIP, O_EMBLR, O_LOSS, O_TEMP,
    O_LEARNT, O_MARGIN, O_DOCPAIRS, O_INITEMB, O_GRADCACHE, O_NONORM, O_COSENT_SCALE, O_SEED, O_CKPT, O_SAVE, O_STOPAT, O_EVAL, O_EVALEVERY, O_METRICS, O_PLOT,
    O_BF16, O_SPLITPUNCT
};

static const struct option train_opts[] = {
    {"output", required_argument, 0, 'o'},     {"init", required_argument, 0, 'i'},
    {"resume", required_argument, 0, 'r'},     {"vocab", required_argument, 0, 'v'},
    {"d-model", required_argument, 0, O_DIM},  {"layers", required_argument, 0, O_LAYERS},
    {"heads", required_argument, 0, O_HEADS},  {"ffn", required_argument, 0, O_FF},
    {"casefold", no_argument, 0, 'c'},        {"split-punct", no_argument, 0, O_SPLITPUNCT},
    {"pooling", required_argument, 0, O_POOLING}, {"max-len", required_argument, 0, O_MAXLEN},
    {"dropout", required_argument, 0, O_DROPOUT}, {"f16", no_argument, 0, O_F16},
    {"bf16", no_argument, 0, O_BF16},
    {"data", required_argument, 0, 'd'},       {"min-score", required_argument, 0, O_MINSCORE},
    {"skip-bad", no_argument, 0, O_SKIPBAD},   {"aug-delete", required_argument, 0, O_AUGDEL},
    {"aug-crop", required_argument, 0, O_AUGCROP}, {"aug-swap", required_argument, 0, O_AUGSWAP},
    {"curriculum", required_argument, 0, O_CURRIC}, {"doc-pairs", required_argument, 0, O_DOCPAIRS},
    {"init-embeddings", required_argument, 0, O_INITEMB}, {"grad-cache", required_argument, 0, O_GRADCACHE},
    {"no-out-norm", no_argument, 0, O_NONORM}, {"batch-size", required_argument, 0, 'b'},
    {"epochs", required_argument, 0, 'e'},     {"steps", required_argument, 0, 'n'},
    {"lr", required_argument, 0, O_LR},        {"min-lr", required_argument, 0, O_MINLR},
    {"warmup", required_argument, 0, O_WARMUP}, {"schedule", required_argument, 0, O_SCHED},
    {"weight-decay", required_argument, 0, O_WD}, {"grad-clip", required_argument, 0, O_CLIP},
    {"embedding-lr", required_argument, 0, O_EMBLR},
    {"loss", required_argument, 0, O_LOSS},    {"temperature", required_argument, 0, O_TEMP},
    {"learn-temperature", no_argument, 0, O_LEARNT}, {"margin", required_argument, 0, O_MARGIN},
    {"cosent-scale", required_argument, 0, O_COSENT_SCALE},
    {"seed", required_argument, 0, O_SEED},    {"threads", required_argument, 0, 't'},
    {"checkpoint", required_argument, 0, O_CKPT}, {"save-every", required_argument, 0, O_SAVE},
    {"stop-at", required_argument, 0, O_STOPAT}, {"eval", required_argument, 0, O_EVAL},
    {"eval-every", required_argument, 0, O_EVALEVERY}, {"metrics", required_argument, 0, O_METRICS},
    {"plot", required_argument, 0, O_PLOT},    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};

/* What the command line asks for: the library's options as far as they
 * go, and what the command does itself (the model, the data, the outputs). */
typedef struct train_args {
    ss_train_options o;
    ss_config cfg; /* a new model's shape; --max-len and --dropout for any */
    ss_trainset_options lo;
    const char *init, *resume, *vocab, *init_emb, *metrics, *plot;
    char **data; /* the --data files and the operands, n_data of them */
    int n_data, quiet, norm, threads;
    int shape_given, dropout_given, max_len_given, dim_given;
} train_args;

/* The option functions return GO_ON, or the command's exit code. */
enum { GO_ON = -1, BAD_VALUE = 2 /* the message said what is wrong: one line, as in the other commands */ };

static int set_pooling(ss_config *cfg, const char *arg)
{
    return cli_pooling(arg, &cfg->pooling) ? BAD_VALUE : GO_ON;
}

static int set_curriculum(ss_train_options *o, const char *arg)
{
    if (!strcmp(arg, "length")) o->curriculum = SS_CURRIC_LENGTH;
    else if (!strcmp(arg, "overlap")) o->curriculum = SS_CURRIC_OVERLAP;
    else if (!strcmp(arg, "none")) o->curriculum = SS_CURRIC_NONE;
    else {
        cli_error("--curriculum: '%s' is not length or overlap", arg);
        return BAD_VALUE;
    }
    return GO_ON;
}

/* --warmup N (steps) or P% (a share of the run) */
static int set_warmup(ss_train_options *o, char *arg)
{
    size_t n = strlen(arg);
    if (n > 1 && arg[n - 1] == '%') {
        double d;
        arg[n - 1] = '\0';
        if (cli_double("--warmup", arg, 0, 100, &d)) return BAD_VALUE;
        o->warmup_frac = d;
        o->warmup_frac /= 100;
        o->warmup_steps = -1;
    } else {
        long v;
        if (cli_int("--warmup", arg, 0, 1L << 40, &v)) return BAD_VALUE;
        o->warmup_steps = v;
    }
    return GO_ON;
}

/* One option c with its argument arg (getopt's optarg). */
static int set_option(train_args *a, int c, char *arg)
{
    ss_train_options *o = &a->o;
    ss_config *cfg = &a->cfg;
    long v;
    double d;
#define INT_OPT(name, lo_, hi_, dst)                                                                             \
    do {                                                                                                         \
        if (cli_int(name, arg, lo_, hi_, &v)) return BAD_VALUE;                                                  \
        dst = v;                                                                                                 \
    } while (0)
#define DBL_OPT(name, lo_, hi_, dst)                                                                             \
    do {                                                                                                         \
        if (cli_double(name, arg, lo_, hi_, &d)) return BAD_VALUE;                                               \
        dst = d;                                                                                                 \
    } while (0)
    switch (c) {
    case 'o': o->output = arg; break;
    case 'i': a->init = arg; break;
    case O_INITEMB: a->init_emb = arg; break;
    case O_NONORM: cfg->no_out_norm = 1; a->shape_given = 1; break;
    case O_GRADCACHE: INT_OPT("--grad-cache", 1, 1 << 20, o->grad_cache); break;
    case 'r': a->resume = arg; break;
    case 'v': a->vocab = arg; a->shape_given = 1; break;
    case 'c': a->norm |= SS_NORM_CASEFOLD; a->shape_given = 1; break;
    case O_SPLITPUNCT: a->norm |= SS_NORM_SPLIT_PUNCT; a->shape_given = 1; break;
    case O_DIM: INT_OPT("--d-model", 1, 65536, cfg->d_model); a->shape_given = a->dim_given = 1; break;
    case O_LAYERS: INT_OPT("--layers", 0, 1024, cfg->n_layers); a->shape_given = 1; break;
    case O_HEADS: INT_OPT("--heads", 1, 65536, cfg->n_heads); a->shape_given = 1; break;
    case O_FF: INT_OPT("--ffn", 1, 1 << 20, cfg->d_ff); a->shape_given = 1; break;
    case O_POOLING: a->shape_given = 1; return set_pooling(cfg, arg);
    case O_MAXLEN: INT_OPT("--max-len", 3, 65536, cfg->max_len); a->max_len_given = 1; break;
    case O_DROPOUT: DBL_OPT("--dropout", 0, 0.9, cfg->dropout); a->dropout_given = 1; break;
    case O_F16: o->dtype = SS_DTYPE_F16; break;
    case O_BF16: o->precision = SS_MATMUL_BF16; break;
    case 'd': a->data[a->n_data++] = arg; break;
    case O_MINSCORE: DBL_OPT("--min-score", -1e300, 1e300, a->lo.min_score); a->lo.has_min_score = 1; break;
    case O_SKIPBAD: a->lo.skip_bad = 1; break;
    case O_AUGDEL: DBL_OPT("--aug-delete", 0, 1, o->aug_delete); break;
    case O_AUGCROP: DBL_OPT("--aug-crop", 0, 1, o->aug_crop); break;
    case O_AUGSWAP: DBL_OPT("--aug-swap", 0, 1, o->aug_swap); break;
    case O_DOCPAIRS:
        if (ss_train_check_doc_pairs(arg)) {
            cli_error("--doc-pairs: %s", ss_errmsg());
            return BAD_VALUE;
        }
        o->doc_pairs = arg;
        break;
    case O_CURRIC: return set_curriculum(o, arg);
    case 'b': INT_OPT("--batch-size", 2, 1 << 16, o->batch_size); break;
    case 'e': DBL_OPT("--epochs", 1e-9, 1e6, o->epochs); break;
    case 'n': INT_OPT("--steps", 1, 1L << 40, o->steps); break;
    case O_LR: DBL_OPT("--lr", 0, 1e9, o->lr); break;
    case O_MINLR: DBL_OPT("--min-lr", 0, 1e9, o->min_lr); break;
    case O_WARMUP: return set_warmup(o, arg);
    case O_SCHED:
        if ((o->schedule = ss_train_schedule_kind(arg)) < 0) {
            cli_error("--schedule: '%s' is not cosine, linear or constant", arg);
            return BAD_VALUE;
        }
        break;
    case O_WD: DBL_OPT("--weight-decay", 0, 10, o->weight_decay); break;
    case O_CLIP: DBL_OPT("--grad-clip", 0, 1e9, o->grad_clip); break;
    case O_EMBLR: DBL_OPT("--embedding-lr", 0, 1e3, o->embedding_lr); break;
    case O_LOSS:
        if ((o->loss = ss_train_loss_kind(arg)) < 0) {
            cli_error("--loss: '%s' is not infonce, ntxent, triplet or cosent", arg);
            return BAD_VALUE;
        }
        break;
    case O_TEMP: DBL_OPT("--temperature", 1e-4, 100, o->temperature); break;
    case O_LEARNT: o->learn_temperature = 1; break;
    case O_MARGIN: DBL_OPT("--margin", 0, 2, o->margin); break;
    case O_COSENT_SCALE: DBL_OPT("--cosent-scale", 1e-3, 1e4, o->cosent_scale); break;
    case O_SEED: INT_OPT("--seed", 0, 0x7fffffffL, o->seed); break;
    case 't': INT_OPT("--threads", 1, 1024, a->threads); break;
    case O_CKPT: o->checkpoint = arg; break;
    case O_SAVE: INT_OPT("--save-every", 0, 1L << 40, o->save_every); break;
    case O_STOPAT: INT_OPT("--stop-at", 1, 1L << 40, o->stop_at); break;
    case O_EVAL: o->eval_path = arg; break;
    case O_EVALEVERY: INT_OPT("--eval-every", 0, 1L << 40, o->eval_every); break;
    case O_METRICS: a->metrics = arg; break;
    case O_PLOT: a->plot = arg; break;
    case 'q': a->quiet = 1; break;
    case 'h': return cli_usage(train_usage, 0);
    default: return cli_usage(train_usage, 1);
    }
#undef INT_OPT
#undef DBL_OPT
    return GO_ON;
}

/* The command line into *a (a->data is the caller's to free, also on
 * failure); GO_ON, or the exit code (of --help, a bad value...). */
static int parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    ss_train_options_init(&a->o);
    ss_config_init(&a->cfg);
    ss_trainset_options_init(&a->lo);
    a->data = calloc((size_t)argc + 1, sizeof *a->data);
    if (!a->data) return cli_error("out of memory");
    int c, rc;
    while ((c = getopt_long(argc, argv, "o:i:r:v:cd:b:e:n:t:qh", train_opts, NULL)) != -1)
        if ((rc = set_option(a, c, optarg)) != GO_ON) return rc;
    for (int i = optind; i < argc; i++) a->data[a->n_data++] = argv[i];
    if (argc == 1) return cli_usage(train_usage, 0);
    return GO_ON;
}

/* Options that do not go together, with what follows from the others
 * (--init-embeddings' tokenizer, cosent's graded pairs): 0, or 1 when the
 * message said what is wrong. */
static int check_args(train_args *a)
{
    const ss_train_options *o = &a->o;
    if (!o->output) return cli_error("train: no --output given");
    if (a->n_data == 0) return cli_error("train: no --data given: nothing to train on");
    if (a->init && a->resume)
        return cli_error("train: --init and --resume exclude each other (a checkpoint holds its model)");
    if ((a->init || a->resume) && a->init_emb)
        return cli_error("train: --init-embeddings starts a new model; not with %s", a->init ? "--init" : "--resume");
    if (a->init_emb && !a->vocab) a->vocab = a->init_emb; /* its tokenizer */
    if ((a->init || a->resume) && a->shape_given)
        return cli_error("train: --vocab, --d-model, --layers, --heads, --ffn, --pooling, --casefold and --split-punct make a new "
                         "model; not with %s",
                         a->init ? "--init" : "--resume");
    if (o->learn_temperature && (o->loss == SS_LOSS_TRIPLET || o->loss == SS_LOSS_COSENT))
        return cli_error("train: the %s loss has no temperature to learn",
                         o->loss == SS_LOSS_TRIPLET ? "triplet" : "cosent");
    if (o->loss == SS_LOSS_COSENT) {
        /* every pair of a scored file is used, with its score: no threshold */
        if (a->lo.has_min_score)
            return cli_error("train: --min-score does not apply to --loss cosent (it uses every pair with its score)");
        a->lo.graded = 1;
    }
    int stdin_uses = 0;
    for (int i = 0; i < a->n_data; i++) stdin_uses += !strcmp(a->data[i], "-") || !strncmp(a->data[i], "-:", 2);
    if (stdin_uses > 1) return cli_error("train: stdin ('-') can be read only once");
    if (o->min_lr > o->lr)
        return cli_error("train: --min-lr %g is above the peak --lr %g (the schedule decays from --lr to --min-lr)",
                         o->min_lr, o->lr);
    return 0;
}

/* What a run holds; freed by run(). */
typedef struct train_run {
    char *ckpt, *best; /* o.checkpoint and o.best */
    ss_trainset *ts;
    ss_model *model, *emb_src;
    ss_tokenizer *tok;
    view vw;
} train_run;

/* The checkpoint (beside -o unless given) and the best model (beside -o,
 * with --eval); no output is an input, every one can be written. */
static int plan_outputs(train_args *a, train_run *r)
{
    ss_train_options *o = &a->o;
    int user_ckpt = o->checkpoint != NULL;
    r->ckpt = o->checkpoint ? strdup(o->checkpoint) : beside(o->output, ".ckpt.gguf");
    r->best = o->eval_path ? beside(o->output, ".best.gguf") : NULL;
    if (!r->ckpt || (o->eval_path && !r->best)) return cli_error("out of memory");
    o->checkpoint = r->ckpt;
    o->best = r->best;
    if (!strcmp(r->ckpt, o->output) || cli_same_file(r->ckpt, o->output))
        return cli_error("train: the checkpoint and the output are the same file '%s'", r->ckpt);
    /* -o /dev/null or a FIFO is written in place; files "beside" it would
     * be made in /dev */
    struct stat ost;
    if (stat(o->output, &ost) == 0 && !S_ISREG(ost.st_mode) && !S_ISDIR(ost.st_mode) &&
        (!user_ckpt || o->eval_path))
        return cli_error("train: -o %s is not a regular file: %s", o->output,
                         o->eval_path ? "--eval writes the best model beside -o; give a file"
                                      : "give the checkpoint's path with --checkpoint");
    const char *outs[] = {o->output, o->checkpoint, o->best, a->plot, a->metrics};
    return check_outputs(outs, sizeof outs / sizeof *outs, a->data, a->n_data, o->eval_path, a->vocab);
}

/* The data first (a bad line should not wait for a model to load), then
 * the model; unless quiet, a line on what is trained. */
static int load_inputs(train_args *a, train_run *r)
{
    ss_train_options *o = &a->o;
    int has_text = 0, rc;
    if ((rc = load_data(a->data, a->n_data, &a->lo, a->quiet, &r->ts, &has_text))) return rc;
    if (a->resume || a->init)
        rc = load_model(a->resume ? a->resume : a->init, &a->cfg, a->max_len_given, a->dropout_given, &o->max_len,
                        &r->model);
    else
        rc = new_model(&a->cfg, a->vocab, a->norm, a->init_emb, a->dim_given, a->max_len_given, o->seed, &r->tok,
                       &r->emb_src, &r->model);
    if (rc) return rc;
    ss_config mc;
    ss_model_config(r->model, &mc);
    if (has_text && !(mc.dropout > 0) && !(o->aug_delete > 0 || o->aug_crop > 0 || o->aug_swap > 0))
        fprintf(stderr, "semsearch: warning: plain text with no dropout and no --aug-*: both views of a sentence "
                        "are the same\n");
    if (!a->quiet)
        fprintf(stderr, "semsearch: %s model: %zu parameters (dim %d, %d layers, %d heads, ff %d, %d positions), "
                        "%u texts, loss %s, batch %d, %d threads\n",
                a->resume ? "resumed" : a->init ? "initial" : "new",
                ss_model_num_params(r->model), mc.d_model, mc.n_layers, mc.n_heads, mc.d_ff, mc.max_len,
                (unsigned)ss_trainset_n_texts(r->ts), ss_train_loss_name(o->loss), o->batch_size, ss_get_threads());
    return 0;
}

/* ss_train_run with SIGINT and SIGTERM caught by on_signal (a checkpoint,
 * then a stop), the previous handlers back afterwards. A signal ignored by
 * whoever started us (a background job of a script) stays ignored. */
static int run_catching_signals(ss_model *model, const ss_trainset *ts, const ss_train_options *o,
                                const char *resume, ss_train_result *res)
{
    if (o->precision == SS_MATMUL_BF16 && !ss_precision_supported(SS_MATMUL_BF16))
        fprintf(stderr, "semsearch: note: --bf16: this CPU or build has no bf16 products; training runs in f32\n");
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
    if (old_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, NULL);
    int rc = ss_train_run(model, ts, o, resume, res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

/* The run, then the metrics, the plot and the last line; the exit code. */
static int train(train_args *a, train_run *r)
{
    ss_train_options *o = &a->o;
    o->on_progress = on_progress;
    o->on_log = on_log;
    o->ctx = &r->vw;
    o->stop = &stop_flag;
    ss_train_result res;
    int rc = run_catching_signals(r->model, r->ts, o, a->resume, &res);
    clear_line(&r->vw);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ss_errmsg());
    write_csv(&r->vw, &res.hist);
    int plot_failed = 0;
    if (a->plot && res.hist.n > 0) {
        char title[512];
        snprintf(title, sizeof title, "semsearch train: %s", o->output);
        plot_failed = write_plot(a->plot, title, &res.hist);
    }
    /* the other processes of a run that ended as one have nothing to add */
    int exit_code;
    if (ss_dist_rank(o->dist) != 0 && (rc == SS_OK || rc == SS_ERR_INTERRUPTED))
        exit_code = rc == SS_OK || !stop_flag ? 0 : 128 + (int)stop_flag;
    else exit_code = report_end(rc, msg, &res, o, a->resume, r->best);
    int64_t steps = r->vw.first_step >= 0 ? res.steps - r->vw.first_step : 0;
    if (ss_dist_size(o->dist) > 1 && !a->quiet && steps > 0)
        fprintf(stderr, "semsearch: %d processes: %.3f s in MPI collectives, %.2f ms a step, of which the gradient "
                        "allreduce %.2f ms and waiting for the slowest process %.2f ms (process 0)\n",
                ss_dist_size(o->dist), res.comm_seconds, 1e3 * res.comm_seconds / (double)steps,
                1e3 * res.allreduce_seconds / (double)steps, 1e3 * res.wait_seconds / (double)steps);
    /* the model is written, but an asked-for output is not (reported above) */
    if (exit_code == 0 && (r->vw.csv_error || plot_failed)) exit_code = 1;
    ss_train_result_free(&res);
    return exit_code;
}

/* Checked arguments to a trained model; the exit code. */
static int run(train_args *a)
{
    train_run r;
    memset(&r, 0, sizeof r);
    r.vw.quiet = a->quiet;
    r.vw.first_step = -1;
    if (a->o.steps == 0) r.vw.epochs = (int64_t)ceil(a->o.epochs);
    r.vw.tty = isatty(STDERR_FILENO);
    int rc = plan_outputs(a, &r);
    if (!rc) {
        r.vw.csv_path = a->metrics;
        rc = load_inputs(a, &r);
    }
    if (!rc) rc = train(a, &r);
    if (r.vw.csv && fclose(r.vw.csv) != 0 && rc == 0)
        rc = cli_error("%s: write error: %s", a->metrics, strerror(errno));
    ss_model_free(r.model);
    ss_model_free(r.emb_src);
    ss_tokenizer_free(r.tok);
    ss_trainset_free(r.ts);
    free(r.ckpt);
    free(r.best);
    return rc;
}

/* Under mpirun -np N (N > 1): the run's processes (data parallelism). Only
 * process 0 talks and writes the metrics and the plot; without --threads or
 * SEMSEARCH_THREADS the cores are shared among the processes of a machine.
 * GO_ON, or an exit code. */
static int join_processes(train_args *a, ss_dist **dist)
{
    int rank, size;
    if (!cli_mpi_rank(&rank, &size) || size < 2) return GO_ON;
    for (int i = 0; i < a->n_data; i++)
        if (!strcmp(a->data[i], "-") || !strncmp(a->data[i], "-:", 2))
            return cli_error("train: --data -: under mpirun only process 0 reads stdin; give a file (every "
                             "process reads it)") ? 2 : 2;
    if (!ss_dist_available())
        return cli_error("train: started by mpirun with %d processes, but this semsearch was built without MPI "
                         "(configure --with-mpi): each would train alone", size) ? 2 : 2;
    int rc = ss_dist_open(dist);
    if (rc) return cli_lib_error(rc);
    a->o.dist = *dist;
    if (ss_dist_rank(*dist) != 0) {
        a->quiet = 1;
        a->metrics = NULL;
        a->plot = NULL;
    }
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!a->threads && !getenv("SEMSEARCH_THREADS") && local && cli_is_number(local) && atol(local) > 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        a->threads = (int)(cores / atol(local) > 0 ? cores / atol(local) : 1);
    }
    return GO_ON;
}

int cmd_train(int argc, char **argv);
int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == GO_ON && check_args(&a)) rc = cli_usage(train_usage, 1);
    ss_dist *dist = NULL;
    if (rc == GO_ON) rc = join_processes(&a, &dist);
    if (rc == GO_ON) {
        if (a.threads) ss_set_threads(a.threads);
        rc = run(&a);
    }
    free(a.data);
    /* a process that failed alone leaves without MPI_Finalize: mpirun then
     * ends the others (and says which process failed) instead of hanging */
    if (dist && (rc == 0 || rc >= 128)) ss_dist_close(dist);
    return rc;
}
