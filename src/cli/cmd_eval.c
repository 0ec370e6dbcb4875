/* cmd_eval.c: `semsearch eval`: STS, pair classification and retrieval
 * metrics of a model, and of a TF-IDF baseline on the same data. Every file
 * is evaluated before anything is printed, so a bad line in the last file
 * leaves no half report on stdout. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "semsearch.h"
#include "cli.h"
#include "base/textio.h"
#include "eval/svg.h"


static const char eval_usage[] =
    "usage: semsearch eval [-m MODEL] [--task sts|pairs|retrieval] [--json] [--baseline]\n"
    "                      [--baseline-only] [--plot FILE.svg] [--runs PREFIX] [--no-stem] FILE...\n"
    "\n"
    "Scores sentence pairs or groups by the cosine similarity of their embeddings and\n"
    "reports how well that matches the data. The task comes from the file name:\n"
    "  *.scored.tsv   s1 TAB s2 TAB score  STS: Spearman and Pearson correlation (x100)\n"
    "  *.labeled.tsv  s1 TAB s2 TAB 0|1    pair classification: accuracy, F1, precision,\n"
    "                                      recall (at their best thresholds), AP, AUC\n"
    "  *.groups.tsv   text TAB text...     retrieval: the first text of a line queries all\n"
    "                                      texts; the rest of its line is relevant:\n"
    "                                      recall@1/5/10, MRR@10, nDCG@10\n"
    "  NAME           NAME.queries.tsv (qid TAB text), NAME.corpus.tsv (docid TAB text),\n"
    "                 NAME.qrels.tsv (qid TAB docid TAB relevance), named by NAME or any\n"
    "                 of the three; or a BEIR directory (corpus.jsonl, queries.jsonl,\n"
    "                 qrels/test.tsv or qrels/dev.tsv): retrieval as BEIR measures it,\n"
    "                 model, BM25 and hybrid side by side: nDCG@10, recall@10/100,\n"
    "                 MRR@10, MAP@100 (a hit with the query's own id is ignored)\n"
    "(.gz accepted). Text tables show x100, --json the raw values.\n"
    "\n"
    "  -m, --model PATH     model (default: the shipped " CLI_DEFAULT_MODEL ")\n"
    "      --task TASK      sts, pairs or retrieval, whatever the file names say\n"
    "  -j, --json           one JSON object per file instead of the table\n"
    "  -t, --threads N      threads (default: SEMSEARCH_THREADS or all cores)\n"
    "      --baseline       add a TF-IDF bag-of-words cosine baseline on the same data\n"
    "                       (queries/corpus/qrels retrieval always shows BM25 and hybrid)\n"
    "  -B, --baseline-only  the TF-IDF (or BM25) baseline alone: no model needed\n"
    "  -p, --plot FILE.svg  draw the ROC curve (pairs), score scatter (sts) or\n"
    "                       recall@k curve (retrieval: k to 10, or to 100 for\n"
    "                       queries/corpus/qrels) of the one input file\n"
    "  -r, --runs PREFIX    queries/corpus/qrels: write each system's top 100 of every\n"
    "                       scored query as a TREC run, PREFIX.SYSTEM.trec (qid Q0\n"
    "                       docid rank score run), for per-query analysis or trec_eval\n"
    "      --no-stem        BM25 and hybrid over words as written, as in a database made\n"
    "                       with index --no-stem (default: English stemming, as index)\n"
    "      --align W        queries/corpus/qrels: the model's top 100 rescored as\n"
    "                       cosine + W x the soft alignment of word pieces, as query\n"
    "                       --align (default: query's, 0.25 for a static model, else 0)\n"
    "  FILE                 data files ('-': stdin, with --task)\n";

static const char *const sys_name[SS_EVAL_NSYS] = {"model", "tf-idf"};
static const char *const sys_key[SS_EVAL_NSYS] = {"model", "tfidf"};
static const char *const task_name[] = {"", "sts", "pairs", "retrieval", "retrieval"};
/* queries/corpus/qrels retrieval */
static const char *const ir_name[SS_EVAL_IR_NSYS] = {"model", "bm25", "hybrid"};

typedef struct {
    const char *path;
    ss_eval_file_result e;
    double plot_ylo; /* lowest y of the STS scatter so far */
    /* SS_EVAL_TASK_IR */
    ss__atomic runs[SS_EVAL_IR_NSYS]; /* --runs files, committed when every file is done */
    int runs_open[SS_EVAL_IR_NSYS];
    int no_stem; /* BM25 over unstemmed words (--no-stem) */
} result;

/* Adds one system's data to the plot of the file. */
static int plot_pairs(ss__plot *plot, int sys, result *r)
{
    char label[96];
    const ss_eval_curve *c = &r->e.curve[sys];
    if (r->e.task == SS_EVAL_TASK_STS) {
        snprintf(label, sizeof label, "%s (Spearman %.1f)", sys_name[sys], 100 * r->e.spearman[sys]);
        /* cosines: up to 1, down to 0 or below (never above 1 but for rounding) */
        for (size_t i = 0; i < c->n; i++)
            if (c->y[i] < r->plot_ylo) r->plot_ylo = floor(c->y[i] * 5) / 5;
        ss__plot_yrange(plot, r->plot_ylo, 1);
        return ss__plot_add(plot, label, c->x, c->y, c->n, SS__PLOT_POINTS);
    }
    snprintf(label, sizeof label, "%s (AUC %.3f)", sys_name[sys], r->e.pairs[sys].auc);
    return ss__plot_add(plot, label, c->x, c->y, c->n, SS__PLOT_LINE);
}

static int new_plot(ss_eval_task task, const char *path, ss__plot **plot)
{
    char title[512];
    size_t n = strlen(path), b;
    while (n > 1 && path[n - 1] == '/') n--; /* a directory given as "dir/" */
    for (b = n; b > 0 && path[b - 1] != '/'; b--) {}
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(n - b < sizeof base - 1 ? n - b : sizeof base - 1), path + b);
    int rc;
    if (task == SS_EVAL_TASK_STS) {
        snprintf(title, sizeof title, "Similarity vs gold score: %s", base);
        rc = ss__plot_new(title, "gold score", "cosine similarity", plot);
        if (!rc) ss__plot_legend(*plot, SS__LEGEND_LOWER_RIGHT);
    } else if (task == SS_EVAL_TASK_PAIRS) {
        snprintf(title, sizeof title, "ROC curve: %s", base);
        rc = ss__plot_new(title, "false positive rate", "true positive rate", plot);
        if (!rc) {
            ss__plot_xrange(*plot, 0, 1);
            ss__plot_yrange(*plot, 0, 1);
            ss__plot_legend(*plot, SS__LEGEND_LOWER_RIGHT);
            static const double d[2] = {0, 1};
            rc = ss__plot_add(*plot, "chance", d, d, 2, SS__PLOT_LINE | SS__PLOT_DASHED | SS__PLOT_GRAY);
        }
    } else if (task == SS_EVAL_TASK_IR) {
        snprintf(title, sizeof title, "Recall@k: %s", base);
        rc = ss__plot_new(title, "k (documents retrieved)", "recall@k", plot);
        if (!rc) {
            ss__plot_xrange(*plot, 0, SS_EVAL_IR_DEPTH);
            ss__plot_xstep(*plot, 10);
            ss__plot_yrange(*plot, 0, 1);
            ss__plot_legend(*plot, SS__LEGEND_LOWER_RIGHT);
        }
    } else {
        snprintf(title, sizeof title, "Recall@k: %s", base);
        rc = ss__plot_new(title, "k (documents retrieved)", "recall@k", plot);
        if (!rc) {
            ss__plot_xrange(*plot, 0.5, 10.5);
            ss__plot_xstep(*plot, 1);
            ss__plot_yrange(*plot, 0, 1);
            ss__plot_legend(*plot, SS__LEGEND_UPPER_LEFT);
        }
    }
    return rc;
}

typedef struct {
    const result *r; /* the name is set before the first call */
    double last;
    int drawn;
} progress_ctx;

/* "NAME: step done/total" redrawn on a terminal's stderr, 5 times a second. */
static void ir_progress(void *ctx, const char *step, size_t done, size_t total)
{
    progress_ctx *p = ctx;
    double t = cli_now();
    if (done < total && done > 0 && t - p->last < 0.2) return;
    p->last = t;
    p->drawn = 1;
    fprintf(stderr, "\r%s: %s %zu/%zu\033[K", p->r->e.name, step, done, total);
}

typedef struct {
    result *r;
    const char *runs; /* --runs PREFIX, or NULL */
    int with_model;
    int reported;     /* the failure is on stderr already */
    int failed_sys;   /* a run file that failed to write, or -1 */
    int err;          /* its errno */
} runs_ctx;

/* Opens the --runs files once the data set is known to load. */
static int open_runs(void *ctx, const ss_eval_file_result *e)
{
    (void)e;
    runs_ctx *c = ctx;
    for (int s = 0; s < SS_EVAL_IR_NSYS && c->runs; s++) {
        if (!c->with_model && s != SS_EVAL_IR_BM25) continue;
        char fn[4096];
        snprintf(fn, sizeof fn, "%s.%s.trec", c->runs, ir_name[s]);
        int rc = ss__atomic_open(&c->r->runs[s], fn);
        if (rc) {
            cli_lib_error(rc);
            c->reported = 1;
            return rc;
        }
        c->r->runs_open[s] = 1;
    }
    return SS_OK;
}

/* A TREC run line per hit: qid Q0 docid rank score run-name. */
static int write_run(void *ctx, int sys, const char *qid, const char *const *docids, const double *scores,
                     size_t n)
{
    runs_ctx *c = ctx;
    FILE *f = c->r->runs[sys].f;
    for (size_t i = 0; i < n; i++)
        if (fprintf(f, "%s Q0 %s %zu %.9g semsearch-%s\n", qid, docids[i], i + 1, scores[i], ir_name[sys]) < 0) {
            c->failed_sys = sys;
            c->err = errno;
            return SS_ERR_IO;
        }
    return SS_OK;
}

static void runs_close(result *r, int commit, int *rc)
{
    for (int s = 0; s < SS_EVAL_IR_NSYS; s++) {
        if (!r->runs_open[s]) continue;
        r->runs_open[s] = 0;
        if (commit && !*rc) {
            int e = ss__atomic_commit(&r->runs[s]);
            if (e) *rc = cli_lib_error(e);
        } else ss__atomic_abort(&r->runs[s]);
    }
}

/* Adds the systems of a file to its plot. */
static int plot_file(ss__plot *plot, result *r)
{
    const ss_eval_file_result *e = &r->e;
    int rc = SS_OK;
    char label[96];
    if (e->task == SS_EVAL_TASK_IR) {
        double ks[SS_EVAL_IR_DEPTH];
        for (int k = 0; k < SS_EVAL_IR_DEPTH; k++) ks[k] = k + 1;
        for (int s = 0; s < SS_EVAL_IR_NSYS && !rc; s++) {
            if (!e->ir_has[s]) continue;
            snprintf(label, sizeof label, "%s (nDCG@10 %.1f, recall@100 %.1f)", ir_name[s],
                     100 * e->ir[s].ndcg_at_10, 100 * e->ir[s].recall_at_100);
            rc = ss__plot_add(plot, label, ks, e->ir[s].recall_curve, SS_EVAL_IR_DEPTH, SS__PLOT_LINE);
        }
        return rc;
    }
    for (int s = 0; s < SS_EVAL_NSYS && !rc; s++) {
        if (!e->has[s]) continue;
        if (e->task == SS_EVAL_TASK_GROUPS) {
            snprintf(label, sizeof label, "%s (nDCG@10 %.1f)", sys_name[s], 100 * e->retrieval[s].ndcg_at_10);
            rc = ss__plot_add(plot, label, e->curve[s].x, e->curve[s].y, e->curve[s].n,
                              SS__PLOT_LINE | SS__PLOT_POINTS);
        } else rc = plot_pairs(plot, s, r);
    }
    return rc;
}

/* Evaluates one file with every system asked for; adds to plot if any. */
static int eval_file(const char *path, ss_eval_task task, ss_model *model, int baseline, int no_stem,
                     double align, ss__plot *plot, const char *runs, result *r)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->no_stem = no_stem;
    ss_eval_file_options o;
    ss_eval_file_options_init(&o);
    o.task = task;
    o.baseline = baseline;
    o.curves = plot != NULL;
    o.no_stem = no_stem;
    o.align = (float)align;
    progress_ctx pc = {r, 0, 0};
    runs_ctx rctx = {r, runs, model != NULL, 0, -1, 0};
    if (task == SS_EVAL_TASK_IR) {
        o.progress = isatty(STDERR_FILENO) ? ir_progress : NULL;
        o.progress_ctx = &pc;
        o.loaded = open_runs;
        o.run = runs ? write_run : NULL;
        o.run_ctx = &rctx;
    }
    int rc = ss_eval_file(model, path, &o, &r->e);
    if (pc.drawn) fputs("\r\033[K", stderr);
    if (rc && rctx.failed_sys >= 0)
        cli_error("%s: %s: %s", r->e.name, r->runs[rctx.failed_sys].path, strerror(rctx.err));
    else if (rc && !rctx.reported) cli_lib_error(rc);
    if (!rc && plot && (rc = plot_file(plot, r))) cli_lib_error(rc);
    if (rc) runs_close(r, 0, &rc);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ output */

/* The fusion of query --hybrid's defaults, in words. */
static const char *fusion_desc(void)
{
    static char buf[160];
    ss_store_query_opts qo;
    ss_store_query_opts_init(&qo);
    if (qo.fusion == SS_FUSION_CONVEX)
        snprintf(buf, sizeof buf, "%.2g x cosine + %.2g x BM25, each min-max scaled,", (double)qo.alpha,
                 1 - (double)qo.alpha);
    else snprintf(buf, sizeof buf, "reciprocal rank fusion, k %d,", qo.rrf_k);
    return buf;
}

static void print_text(const result *r)
{
    if (r->e.task == SS_EVAL_TASK_STS) {
        printf("%s: STS, %zu pairs: correlation x100 of cosine similarity with the gold score\n", r->path, r->e.n);
        printf("%-8s %10s %10s\n", "system", "spearman", "pearson");
        for (int s = 0; s < SS_EVAL_NSYS; s++)
            if (r->e.has[s]) printf("%-8s %10.2f %10.2f\n", sys_name[s], 100 * r->e.spearman[s], 100 * r->e.pearson[s]);
    } else if (r->e.task == SS_EVAL_TASK_PAIRS) {
        printf("%s: pair classification, %zu pairs (%zu labeled 1): x100, thresholds on cosine\n", r->path,
               r->e.n, r->e.n_positive);
        printf("%-8s %10s %10s %10s %10s %10s %10s %10s %10s\n", "system", "accuracy", "acc_thresh", "f1",
               "precision", "recall", "f1_thresh", "ap", "auc");
        for (int s = 0; s < SS_EVAL_NSYS; s++) {
            if (!r->e.has[s]) continue;
            const ss_eval_pairs *e = &r->e.pairs[s];
            printf("%-8s %10.2f %10.4f %10.2f %10.2f %10.2f %10.4f %10.2f %10.2f\n", sys_name[s], 100 * e->accuracy,
                   e->accuracy_threshold, 100 * e->f1, 100 * e->precision, 100 * e->recall, e->f1_threshold,
                   100 * e->average_precision, 100 * e->auc);
        }
        printf("(accuracy at the threshold of best accuracy, acc_thresh; f1, precision and recall at the\n"
               " threshold of best F1, f1_thresh; a pair is predicted 1 when its cosine >= the threshold)\n");
    } else if (r->e.task == SS_EVAL_TASK_IR) {
        printf("%s: retrieval, %zu queries over %zu documents (%zu judgements; %zu queries scored", r->e.name,
               r->e.n, r->e.n_documents, r->e.n_judgements, r->e.n_scored);
        if (r->e.n_unjudged) printf(", %zu without judgements skipped", r->e.n_unjudged);
        if (r->e.n_no_relevant) printf(", %zu without a relevant one skipped", r->e.n_no_relevant);
        printf("): x100\n");
        printf("%-8s %10s %10s %10s %10s %10s\n", "system", "ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100");
        for (int s = 0; s < SS_EVAL_IR_NSYS; s++) {
            if (!r->e.ir_has[s]) continue;
            const ss_eval_ir_metrics *e = &r->e.ir[s];
            printf("%-8s %10.2f %10.2f %10.2f %10.2f %10.2f\n", ir_name[s], 100 * e->ndcg_at_10, 100 * e->recall_at_10,
                   100 * e->recall_at_100, 100 * e->mrr_at_10, 100 * e->map_at_100);
        }
        if (r->e.align > 0)
            printf("(model: exact cosine, its top %d rescored as cosine + %.2g x soft alignment of word pieces;\n ",
                   r->e.hybrid_depth, (double)r->e.align);
        else printf("(model: exact cosine; ");
        printf("bm25: SQLite FTS5 bm25(), k1 %.1f, b %.2f, %s words joined by OR;\n"
               " hybrid: %s of the top %d of both, as query --hybrid;\n"
               " a hit with the query's own id is ignored)\n",
               1.2, 0.75, r->no_stem ? "unicode61" : "porter-stemmed unicode61", fusion_desc(), r->e.hybrid_depth);
    } else {
        printf("%s: retrieval, %zu quer%s over %zu texts: x100\n", r->path, r->e.n, r->e.n == 1 ? "y" : "ies", r->e.n_texts);
        printf("%-8s %10s %10s %10s %10s %10s\n", "system", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10");
        for (int s = 0; s < SS_EVAL_NSYS; s++) {
            if (!r->e.has[s]) continue;
            const ss_eval_retrieval *e = &r->e.retrieval[s];
            printf("%-8s %10.2f %10.2f %10.2f %10.2f %10.2f\n", sys_name[s], 100 * e->recall_at_1, 100 * e->recall_at_5,
                   100 * e->recall_at_10, 100 * e->mrr_at_10, 100 * e->ndcg_at_10);
        }
    }
}

static void print_json(const result *r, const char *model_path)
{
    ss_store_query_opts qo;
    ss_store_query_opts_init(&qo);
    printf("{\"file\":");
    cli_json_string(r->path, strlen(r->path));
    printf(",\"task\":\"%s\"", task_name[r->e.task]);
    if (r->e.task == SS_EVAL_TASK_IR) {
        printf(",\"layout\":\"%s\",\"name\":", r->e.beir ? "beir" : "tsv");
        cli_json_string(r->e.name, strlen(r->e.name));
        printf(",\"queries\":%zu,\"documents\":%zu,\"judgements\":%zu,\"scored\":%zu,"
               "\"skipped_unjudged\":%zu,\"skipped_no_relevant\":%zu",
               r->e.n, r->e.n_documents, r->e.n_judgements, r->e.n_scored, r->e.n_unjudged, r->e.n_no_relevant);
        printf(",\"settings\":{\"bm25\":\"fts5 bm25()\",\"tokenizer\":\"%s\",\"k1\":1.2,\"b\":0.75,"
               "\"fusion\":\"%s\",\"alpha\":%g,\"rrf_k\":%d,\"hybrid_depth\":%d,\"align\":%g,"
               "\"ignore_identical_ids\":true}",
               cli_fts_tokenizer(!r->no_stem), qo.fusion == SS_FUSION_CONVEX ? "convex" : "rrf", (double)qo.alpha, qo.rrf_k,
               r->e.hybrid_depth, (double)r->e.align);
        if (model_path) {
            printf(",\"model_file\":");
            cli_json_string(model_path, strlen(model_path));
        }
        for (int s = 0; s < SS_EVAL_IR_NSYS; s++) {
            if (!r->e.ir_has[s]) continue;
            const ss_eval_ir_metrics *e = &r->e.ir[s];
            printf(",\"%s\":{\"ndcg_at_10\":%.10g,\"recall_at_10\":%.10g,\"recall_at_100\":%.10g,"
                   "\"mrr_at_10\":%.10g,\"map_at_100\":%.10g,\"seconds\":%.3f}",
                   ir_name[s], e->ndcg_at_10, e->recall_at_10, e->recall_at_100, e->mrr_at_10, e->map_at_100,
                   e->seconds);
        }
        printf("}\n");
        return;
    }
    if (r->e.task == SS_EVAL_TASK_GROUPS) printf(",\"queries\":%zu,\"texts\":%zu", r->e.n, r->e.n_texts);
    else if (r->e.task == SS_EVAL_TASK_PAIRS) printf(",\"pairs\":%zu,\"positive\":%zu", r->e.n, r->e.n_positive);
    else printf(",\"pairs\":%zu", r->e.n);
    if (model_path) {
        printf(",\"model_file\":");
        cli_json_string(model_path, strlen(model_path));
    }
    for (int s = 0; s < SS_EVAL_NSYS; s++) {
        if (!r->e.has[s]) continue;
        printf(",\"%s\":{", sys_key[s]);
        if (r->e.task == SS_EVAL_TASK_STS) {
            printf("\"spearman\":%.10g,\"pearson\":%.10g", r->e.spearman[s], r->e.pearson[s]);
        } else if (r->e.task == SS_EVAL_TASK_PAIRS) {
            const ss_eval_pairs *e = &r->e.pairs[s];
            printf("\"accuracy\":%.10g,\"accuracy_threshold\":%.10g,\"f1\":%.10g,\"precision\":%.10g,"
                   "\"recall\":%.10g,\"f1_threshold\":%.10g,\"average_precision\":%.10g,\"auc\":%.10g",
                   e->accuracy, e->accuracy_threshold, e->f1, e->precision, e->recall, e->f1_threshold,
                   e->average_precision, e->auc);
        } else {
            const ss_eval_retrieval *e = &r->e.retrieval[s];
            printf("\"recall_at_1\":%.10g,\"recall_at_5\":%.10g,\"recall_at_10\":%.10g,\"mrr_at_10\":%.10g,"
                   "\"ndcg_at_10\":%.10g",
                   e->recall_at_1, e->recall_at_5, e->recall_at_10, e->mrr_at_10, e->ndcg_at_10);
        }
        putchar('}');
    }
    printf("}\n");
}

/* ------------------------------------------------------------------ command */

typedef struct {
    const char *model_path, *plot_path, *runs;
    int json, baseline, no_stem;
    double align; /* < 0: the model's default */
    char **files;
    int nfiles;
    ss_eval_task *tasks; /* (nfiles) */
} eval_args;

/* The task of every file, and the checks of --plot and --runs against the
 * files: 0, or the exit status after a message (a->tasks then NULL). */
static int file_tasks(eval_args *a, ss_eval_task forced)
{
    ss_eval_task *tasks = calloc((size_t)a->nfiles, sizeof *tasks);
    if (!tasks) return cli_error("out of memory");
    int rc = 0;
    for (int i = 0; i < a->nfiles && !rc; i++) {
        int e = ss_eval_task_of(a->files[i], forced, &tasks[i]);
        if (e) rc = cli_lib_error(e);
        else if (!tasks[i]) {
            cli_error("%s: cannot tell the task from the name (expected *.scored.tsv, *.labeled.tsv, "
                      "*.groups.tsv, NAME.queries.tsv or a BEIR directory): use --task",
                      strcmp(a->files[i], "-") ? a->files[i] : "<stdin>");
            rc = 2;
        }
    }
    const char *plot_path = a->plot_path;
    if (!rc && plot_path &&
        (cli_output_not_input("eval --plot", plot_path, (const char *const *)a->files, a->nfiles) ||
         cli_same_file(plot_path, a->model_path))) {
        if (cli_same_file(plot_path, a->model_path)) cli_error("eval --plot: the output %s is the model", plot_path);
        rc = 2;
    }
    int n_ir = 0;
    for (int i = 0; i < a->nfiles && !rc; i++) n_ir += tasks[i] == SS_EVAL_TASK_IR;
    if (!rc && a->runs && n_ir != 1) {
        cli_error("--runs writes the runs of one queries/corpus/qrels data set: give exactly one (got %d)", n_ir);
        rc = 2;
    }
    if (rc) free(tasks);
    else a->tasks = tasks;
    return rc;
}

/* Evaluates every file (model NULL: the baselines alone), writes the plot
 * and the runs, then prints every report: the exit status. */
static int eval_files(const eval_args *a, ss_model *model)
{
    int nfiles = a->nfiles;
    result *res = calloc((size_t)nfiles, sizeof *res);
    ss__plot *plot = NULL;
    int rc = res ? 0 : cli_error("out of memory");
    if (!rc && a->plot_path && (rc = new_plot(a->tasks[0], a->files[0], &plot))) rc = cli_lib_error(rc);
    cli_progress prog;
    cli_progress_init(&prog, 0);
    for (int i = 0; i < nfiles && !rc; i++) {
        /* each file named as it starts (a large one takes minutes) */
        cli_progress_draw(&prog, 1, "eval: %s (file %d of %d, %.0f s so far)", a->files[i], i + 1, nfiles,
                          cli_progress_elapsed(&prog));
        rc = eval_file(a->files[i], a->tasks[i], model, a->baseline, a->no_stem, a->align, plot, a->runs, &res[i]);
    }
    cli_progress_end(&prog);
    if (!rc && plot && (rc = ss__plot_write(plot, a->plot_path))) rc = cli_lib_error(rc);
    for (int i = 0; res && i < nfiles; i++) runs_close(&res[i], 1, &rc); /* whole, or none */
    if (!rc)
        for (int i = 0; i < nfiles; i++) {
            if (a->json) print_json(&res[i], model ? a->model_path : NULL);
            else {
                if (i) putchar('\n');
                print_text(&res[i]);
            }
        }
    ss__plot_free(plot);
    for (int i = 0; res && i < nfiles; i++) ss_eval_file_result_free(&res[i].e);
    free(res);
    return rc;
}

int cmd_eval(int argc, char **argv);
int cmd_eval(int argc, char **argv)
{
    /* -t is --threads and -b --batch in every command: -t TASK and -b
     * (--baseline) are kept one release, with a warning */
    enum { O_TASK = 256, O_BASELINE, O_THREADS, O_NO_STEM, O_ALIGN };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"task", required_argument, 0, O_TASK},
        {"json", no_argument, 0, 'j'},          {"baseline", no_argument, 0, O_BASELINE},
        {"threads", required_argument, 0, O_THREADS},
        {"baseline-only", no_argument, 0, 'B'}, {"plot", required_argument, 0, 'p'},
        {"runs", required_argument, 0, 'r'},    {"help", no_argument, 0, 'h'},
        {"no-stem", no_argument, 0, O_NO_STEM}, {"align", required_argument, 0, O_ALIGN},
        {0, 0, 0, 0}};
    const char *model_path = NULL, *plot_path = NULL, *runs = NULL;
    ss_eval_task forced = SS_EVAL_TASK_NONE;
    int json = 0, baseline = 0, baseline_only = 0, no_stem = 0, c;
    double align = -1;
    while ((c = getopt_long(argc, argv, "m:t:jbBp:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 't':
            if (!cli_is_number(optarg)) {
                cli_deprecated("eval", "-t TASK", "--task TASK", "-t is --threads");
                goto task;
            }
            /* fall through */
        case O_THREADS: {
            long v;
            if (cli_int("--threads", optarg, 1, 1024, &v)) return 2;
            ss_set_threads((int)v);
            break;
        }
        case O_TASK:
        task:
            if (!strcmp(optarg, "sts")) forced = SS_EVAL_TASK_STS;
            else if (!strcmp(optarg, "pairs")) forced = SS_EVAL_TASK_PAIRS;
            else if (!strcmp(optarg, "retrieval")) forced = SS_EVAL_TASK_GROUPS;
            else {
                cli_error("--task: '%s' is not sts, pairs or retrieval", optarg);
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'b': cli_deprecated("eval", "-b", "--baseline", "-b is --batch"); /* fall through */
        case O_BASELINE: baseline = 1; break;
        case 'B': baseline = baseline_only = 1; break;
        case 'p': plot_path = optarg; break;
        case 'r': runs = optarg; break;
        case O_NO_STEM: no_stem = 1; break;
        case O_ALIGN:
            if (cli_double("--align", optarg, 0, 100, &align)) return 2;
            break;
        case 'h': return cli_usage(eval_usage, 0);
        default: return cli_usage(eval_usage, 1);
        }
    }
    if (optind == argc && cli_stdin_is_tty()) return cli_usage(eval_usage, 0);
    if (baseline_only && model_path) {
        cli_error("--baseline-only uses no model: drop -m, or use --baseline");
        return 2;
    }
    static char *stdin_only[] = {"-", NULL};
    char **files = optind < argc ? argv + optind : stdin_only;
    int nfiles = optind < argc ? argc - optind : 1;
    if (plot_path && nfiles != 1) {
        cli_error("--plot draws one file: give exactly one FILE");
        return 2;
    }
    eval_args a = {model_path, plot_path, runs, json, baseline, no_stem, align, files, nfiles, NULL};
    int rc = file_tasks(&a, forced);
    if (rc) return rc;

    ss_model *model = NULL;
    char *def = NULL;
    if (!baseline_only) {
        def = cli_model_path(model_path, "--baseline-only evaluates the TF-IDF baseline without a model");
        if (!def) {
            free(a.tasks);
            return 1;
        }
        a.model_path = def;
        if ((rc = ss_model_load(def, &model))) {
            free(def);
            free(a.tasks);
            return cli_lib_error(rc);
        }
    }
    rc = eval_files(&a, model);
    free(a.tasks);
    ss_model_free(model);
    free(def);
    return rc;
}
