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

#include "cli.h"
#include "base/common.h"
#include "text/datafile.h"
#include "eval/eval.h"
#include "eval/eval_retrieval.h"
#include "eval/evalfile.h"
#include "store/hybrid.h"
#include "eval/svg.h"
#include "base/textio.h"


static const char eval_usage[] =
    "usage: semsearch eval [-m MODEL] [--task sts|pairs|retrieval] [--json] [--baseline]\n"
    "                      [--baseline-only] [--plot FILE.svg] [--runs PREFIX] FILE...\n"
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
    "  FILE                 data files ('-': stdin, with --task)\n";

enum { TASK_NONE = 0, TASK_STS, TASK_PAIRS, TASK_RETRIEVAL, TASK_IR };
enum { SYS_MODEL = 0, SYS_TFIDF = 1, N_SYS = 2 };
static const char *const sys_name[N_SYS] = {"model", "tf-idf"};
static const char *const sys_key[N_SYS] = {"model", "tfidf"};
static const char *const task_name[] = {"", "sts", "pairs", "retrieval", "retrieval"};
/* queries/corpus/qrels retrieval */
static const char *const ir_name[SS__IR_NSYS] = {"model", "bm25", "hybrid"};

typedef struct {
    const char *path;
    int task;
    size_t n, n_pos, n_texts; /* pairs (positives) or queries (texts) */
    int has[N_SYS];
    double spearman[N_SYS], pearson[N_SYS];
    ss_eval_pairs pc[N_SYS];
    ss_eval_retrieval rt[N_SYS];
    double plot_ylo; /* lowest y of the STS scatter so far */
    /* TASK_IR */
    char *ir_title;
    int ir_beir;
    ss__atomic runs[SS__IR_NSYS]; /* --runs files, committed when every file is done */
    int runs_open[SS__IR_NSYS];
    size_t ir_nd, ir_eval, ir_unjudged, ir_norel, ir_judgements;
    ss__ir_result ir;
} result;

static int task_of_name(const char *path, int forced)
{
    if (forced) return forced;
    switch (ss__data_kind_from_name(path)) {
    case SS__DATA_SCORED: return TASK_STS;
    case SS__DATA_LABELED: return TASK_PAIRS;
    case SS__DATA_GROUPS: return TASK_RETRIEVAL;
    default: return TASK_NONE;
    }
}

/* The task of a file: queries/corpus/qrels data (by name, or a directory)
 * unless another task is asked for, else what the name says. */
static int task_of(const char *path, int forced, int *task)
{
    *task = TASK_NONE;
    if (!forced || forced == TASK_RETRIEVAL) {
        int k = ss__data_kind_from_name(path);
        if (k == SS__DATA_UNKNOWN || k == SS__DATA_TEXT) {
            ss__ir_paths p;
            int rc = ss__ir_resolve(path, &p);
            ss__ir_paths_free(&p);
            if (rc == 1) {
                *task = TASK_IR;
                return SS_OK;
            }
            if (rc) return rc;
        }
    }
    *task = task_of_name(path, forced);
    return SS_OK;
}

/* Adds one system's data to the plot of the file. */
static int plot_pairs(ss__plot *plot, int task, int sys, const ss__pairs *p, const double *sim,
                      result *r)
{
    char label[96];
    if (task == TASK_STS) {
        snprintf(label, sizeof label, "%s (Spearman %.1f)", sys_name[sys], 100 * r->spearman[sys]);
        /* cosines: up to 1, down to 0 or below (never above 1 but for rounding) */
        for (size_t i = 0; i < p->n; i++)
            if (sim[i] < r->plot_ylo) r->plot_ylo = floor(sim[i] * 5) / 5;
        ss__plot_yrange(plot, r->plot_ylo, 1);
        return ss__plot_add(plot, label, p->value, sim, p->n, SS__PLOT_POINTS);
    }
    int *lab = malloc(p->n * sizeof *lab);
    if (!lab) return ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n; i++) lab[i] = p->value[i] != 0;
    double *fpr, *tpr;
    size_t np;
    int rc = ss__eval_roc(sim, lab, p->n, &fpr, &tpr, &np);
    free(lab);
    if (rc) return rc;
    snprintf(label, sizeof label, "%s (AUC %.3f)", sys_name[sys], r->pc[sys].auc);
    rc = ss__plot_add(plot, label, fpr, tpr, np, SS__PLOT_LINE);
    ss_free(fpr);
    ss_free(tpr);
    return rc;
}

static int new_plot(int task, const char *path, ss__plot **plot)
{
    char title[512];
    size_t n = strlen(path), b;
    while (n > 1 && path[n - 1] == '/') n--; /* a directory given as "dir/" */
    for (b = n; b > 0 && path[b - 1] != '/'; b--) {}
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)SS_MIN(n - b, sizeof base - 1), path + b);
    int rc;
    if (task == TASK_STS) {
        snprintf(title, sizeof title, "Similarity vs gold score: %s", base);
        rc = ss__plot_new(title, "gold score", "cosine similarity", plot);
        if (!rc) ss__plot_legend(*plot, SS__LEGEND_LOWER_RIGHT);
    } else if (task == TASK_PAIRS) {
        snprintf(title, sizeof title, "ROC curve: %s", base);
        rc = ss__plot_new(title, "false positive rate", "true positive rate", plot);
        if (!rc) {
            ss__plot_xrange(*plot, 0, 1);
            ss__plot_yrange(*plot, 0, 1);
            ss__plot_legend(*plot, SS__LEGEND_LOWER_RIGHT);
            static const double d[2] = {0, 1};
            rc = ss__plot_add(*plot, "chance", d, d, 2, SS__PLOT_LINE | SS__PLOT_DASHED | SS__PLOT_GRAY);
        }
    } else if (task == TASK_IR) {
        snprintf(title, sizeof title, "Recall@k: %s", base);
        rc = ss__plot_new(title, "k (documents retrieved)", "recall@k", plot);
        if (!rc) {
            ss__plot_xrange(*plot, 0, SS__IR_DEPTH);
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
    const char *name;
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
    fprintf(stderr, "\r%s: %s %zu/%zu\033[K", p->name, step, done, total);
}

typedef struct {
    result *r;
    const ss__ir_data *d;
} runs_ctx;

/* A TREC run line per hit: qid Q0 docid rank score run-name. */
static int write_run(void *ctx, int sys, size_t q, const size_t *docs, const double *scores, size_t n)
{
    runs_ctx *c = ctx;
    FILE *f = c->r->runs[sys].f;
    for (size_t i = 0; i < n; i++)
        if (fprintf(f, "%s Q0 %s %zu %.9g semsearch-%s\n", c->d->qid[q], c->d->did[docs[i]], i + 1, scores[i],
                    ir_name[sys]) < 0)
            return ss__fail(SS_ERR_IO, "%s: %s", c->r->runs[sys].path, strerror(errno));
    return SS_OK;
}

static void runs_close(result *r, int commit, int *rc)
{
    for (int s = 0; s < SS__IR_NSYS; s++) {
        if (!r->runs_open[s]) continue;
        r->runs_open[s] = 0;
        if (commit && !*rc) {
            int e = ss__atomic_commit(&r->runs[s]);
            if (e) *rc = cli_lib_error(e);
        } else ss__atomic_abort(&r->runs[s]);
    }
}

static int eval_ir(const char *path, ss_model *model, ss__plot *plot, const char *runs, result *r)
{
    ss__ir_data d;
    int rc = ss__ir_load(path, &d);
    if (rc) return cli_lib_error(rc);
    for (int s = 0; s < SS__IR_NSYS && runs && !rc; s++) {
        if (!model && s != SS__IR_BM25) continue;
        char fn[4096];
        snprintf(fn, sizeof fn, "%s.%s.trec", runs, ir_name[s]);
        if ((rc = ss__atomic_open(&r->runs[s], fn))) rc = cli_lib_error(rc);
        else r->runs_open[s] = 1;
    }
    r->n = d.nq;
    r->ir_nd = d.nd;
    r->ir_eval = d.n_eval;
    r->ir_unjudged = d.n_unjudged;
    r->ir_norel = d.n_no_relevant;
    r->ir_judgements = d.n_judgements;
    r->ir_beir = d.paths.beir;
    r->ir_title = strdup(d.paths.name);
    if (!r->ir_title) rc = cli_error("out of memory");
    progress_ctx pc = {r->ir_title, 0, 0};
    int tty = isatty(STDERR_FILENO);
    runs_ctx rctx = {r, &d};
    if (!rc && (rc = ss__ir_evaluate_runs(model, &d, tty ? ir_progress : NULL, &pc, runs ? write_run : NULL,
                                          &rctx, &r->ir)))
        rc = cli_error("%s: %s", d.paths.name, ss_errmsg());
    if (pc.drawn) fputs("\r\033[K", stderr);
    for (int s = 0; s < SS__IR_NSYS && !rc && plot; s++) {
        if (!r->ir.has[s]) continue;
        double ks[SS__IR_DEPTH];
        char label[96];
        for (int k = 0; k < SS__IR_DEPTH; k++) ks[k] = k + 1;
        snprintf(label, sizeof label, "%s (nDCG@10 %.1f, recall@100 %.1f)", ir_name[s],
                 100 * r->ir.m[s].ndcg_at_10, 100 * r->ir.m[s].recall_at_100);
        if ((rc = ss__plot_add(plot, label, ks, r->ir.m[s].recall_curve, SS__IR_DEPTH, SS__PLOT_LINE)))
            rc = cli_lib_error(rc);
    }
    if (rc) runs_close(r, 0, &rc);
    ss__ir_free(&d);
    return rc ? 1 : 0;
}

/* Evaluates one file with every system asked for; adds to plot if any. */
static int eval_file(const char *path, int task, ss_model *model, int baseline, ss__plot *plot,
                     const char *runs, result *r)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->task = task;
    int rc = SS_OK;
    if (task == TASK_IR) return eval_ir(path, model, plot, runs, r);
    int sys_on[N_SYS] = {model != NULL, baseline};
    if (task == TASK_RETRIEVAL) {
        ss__groups g;
        if ((rc = ss__groups_load(path, &g))) return cli_lib_error(rc);
        r->n = g.n_groups;
        r->n_texts = g.n_texts;
        for (int s = 0; s < N_SYS && !rc; s++) {
            if (!sys_on[s]) continue;
            double curve[SS__RETR_K], ks[SS__RETR_K];
            if ((rc = ss__groups_retrieval(s == SYS_MODEL ? model : NULL, &g, &r->rt[s], curve))) {
                cli_error("%s: %s", path, ss_errmsg());
                break;
            }
            r->has[s] = 1;
            if (plot) {
                char label[96];
                for (int k = 0; k < SS__RETR_K; k++) ks[k] = k + 1;
                snprintf(label, sizeof label, "%s (nDCG@10 %.1f)", sys_name[s], 100 * r->rt[s].ndcg_at_10);
                if ((rc = ss__plot_add(plot, label, ks, curve, SS__RETR_K, SS__PLOT_LINE | SS__PLOT_POINTS)))
                    cli_lib_error(rc);
            }
        }
        ss__groups_free(&g);
        return rc ? 1 : 0;
    }

    ss__pairs p;
    if ((rc = ss__pairs_load(path, task == TASK_STS ? SS__DATA_SCORED : SS__DATA_LABELED, &p)))
        return cli_lib_error(rc);
    r->n = p.n;
    for (size_t i = 0; i < p.n; i++) r->n_pos += p.value[i] != 0;
    double *sim = malloc(p.n * sizeof *sim);
    if (!sim) rc = cli_error("out of memory");
    for (int s = 0; s < N_SYS && !rc; s++) {
        if (!sys_on[s]) continue;
        if ((rc = ss__pairs_sims(s == SYS_MODEL ? model : NULL, &p, sim))) {
            cli_error("%s: %s", path, ss_errmsg());
            break;
        }
        rc = task == TASK_STS ? ss__sts_metrics(path, &p, sim, &r->spearman[s], &r->pearson[s])
                              : ss__pairs_metrics(path, &p, sim, &r->pc[s]);
        if (rc) {
            cli_lib_error(rc);
            break;
        }
        r->has[s] = 1;
        if (plot && (rc = plot_pairs(plot, task, s, &p, sim, r))) cli_lib_error(rc);
    }
    free(sim);
    ss__pairs_free(&p);
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
    if (r->task == TASK_STS) {
        printf("%s: STS, %zu pairs: correlation x100 of cosine similarity with the gold score\n", r->path, r->n);
        printf("%-8s %10s %10s\n", "system", "spearman", "pearson");
        for (int s = 0; s < N_SYS; s++)
            if (r->has[s]) printf("%-8s %10.2f %10.2f\n", sys_name[s], 100 * r->spearman[s], 100 * r->pearson[s]);
    } else if (r->task == TASK_PAIRS) {
        printf("%s: pair classification, %zu pairs (%zu labeled 1): x100, thresholds on cosine\n", r->path,
               r->n, r->n_pos);
        printf("%-8s %10s %10s %10s %10s %10s %10s %10s %10s\n", "system", "accuracy", "acc_thresh", "f1",
               "precision", "recall", "f1_thresh", "ap", "auc");
        for (int s = 0; s < N_SYS; s++) {
            if (!r->has[s]) continue;
            const ss_eval_pairs *e = &r->pc[s];
            printf("%-8s %10.2f %10.4f %10.2f %10.2f %10.2f %10.4f %10.2f %10.2f\n", sys_name[s], 100 * e->accuracy,
                   e->accuracy_threshold, 100 * e->f1, 100 * e->precision, 100 * e->recall, e->f1_threshold,
                   100 * e->average_precision, 100 * e->auc);
        }
        printf("(accuracy at the threshold of best accuracy, acc_thresh; f1, precision and recall at the\n"
               " threshold of best F1, f1_thresh; a pair is predicted 1 when its cosine >= the threshold)\n");
    } else if (r->task == TASK_IR) {
        printf("%s: retrieval, %zu queries over %zu documents (%zu judgements; %zu queries scored", r->ir_title,
               r->n, r->ir_nd, r->ir_judgements, r->ir_eval);
        if (r->ir_unjudged) printf(", %zu without judgements skipped", r->ir_unjudged);
        if (r->ir_norel) printf(", %zu without a relevant one skipped", r->ir_norel);
        printf("): x100\n");
        printf("%-8s %10s %10s %10s %10s %10s\n", "system", "ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100");
        for (int s = 0; s < SS__IR_NSYS; s++) {
            if (!r->ir.has[s]) continue;
            const ss__ir_metrics *e = &r->ir.m[s];
            printf("%-8s %10.2f %10.2f %10.2f %10.2f %10.2f\n", ir_name[s], 100 * e->ndcg_at_10, 100 * e->recall_at_10,
                   100 * e->recall_at_100, 100 * e->mrr_at_10, 100 * e->map_at_100);
        }
        printf("(model: exact cosine; bm25: SQLite FTS5 bm25(), k1 %.1f, b %.2f, unicode61 words joined by OR;\n"
               " hybrid: %s of the top %d of both, as query --hybrid;\n"
               " a hit with the query's own id is ignored)\n",
               1.2, 0.75, fusion_desc(), ss__hybrid_depth(SS__IR_DEPTH));
    } else {
        printf("%s: retrieval, %zu quer%s over %zu texts: x100\n", r->path, r->n, r->n == 1 ? "y" : "ies", r->n_texts);
        printf("%-8s %10s %10s %10s %10s %10s\n", "system", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10");
        for (int s = 0; s < N_SYS; s++) {
            if (!r->has[s]) continue;
            const ss_eval_retrieval *e = &r->rt[s];
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
    printf(",\"task\":\"%s\"", task_name[r->task]);
    if (r->task == TASK_IR) {
        printf(",\"layout\":\"%s\",\"name\":", r->ir_beir ? "beir" : "tsv");
        cli_json_string(r->ir_title, strlen(r->ir_title));
        printf(",\"queries\":%zu,\"documents\":%zu,\"judgements\":%zu,\"scored\":%zu,"
               "\"skipped_unjudged\":%zu,\"skipped_no_relevant\":%zu",
               r->n, r->ir_nd, r->ir_judgements, r->ir_eval, r->ir_unjudged, r->ir_norel);
        printf(",\"settings\":{\"bm25\":\"fts5 bm25()\",\"tokenizer\":\"unicode61\",\"k1\":1.2,\"b\":0.75,"
               "\"fusion\":\"%s\",\"alpha\":%g,\"rrf_k\":%d,\"hybrid_depth\":%d,\"ignore_identical_ids\":true}",
               qo.fusion == SS_FUSION_CONVEX ? "convex" : "rrf", (double)qo.alpha, qo.rrf_k,
               ss__hybrid_depth(SS__IR_DEPTH));
        if (model_path) {
            printf(",\"model_file\":");
            cli_json_string(model_path, strlen(model_path));
        }
        for (int s = 0; s < SS__IR_NSYS; s++) {
            if (!r->ir.has[s]) continue;
            const ss__ir_metrics *e = &r->ir.m[s];
            printf(",\"%s\":{\"ndcg_at_10\":%.10g,\"recall_at_10\":%.10g,\"recall_at_100\":%.10g,"
                   "\"mrr_at_10\":%.10g,\"map_at_100\":%.10g,\"seconds\":%.3f}",
                   ir_name[s], e->ndcg_at_10, e->recall_at_10, e->recall_at_100, e->mrr_at_10, e->map_at_100,
                   r->ir.seconds[s]);
        }
        printf("}\n");
        return;
    }
    if (r->task == TASK_RETRIEVAL) printf(",\"queries\":%zu,\"texts\":%zu", r->n, r->n_texts);
    else if (r->task == TASK_PAIRS) printf(",\"pairs\":%zu,\"positive\":%zu", r->n, r->n_pos);
    else printf(",\"pairs\":%zu", r->n);
    if (model_path) {
        printf(",\"model_file\":");
        cli_json_string(model_path, strlen(model_path));
    }
    for (int s = 0; s < N_SYS; s++) {
        if (!r->has[s]) continue;
        printf(",\"%s\":{", sys_key[s]);
        if (r->task == TASK_STS) {
            printf("\"spearman\":%.10g,\"pearson\":%.10g", r->spearman[s], r->pearson[s]);
        } else if (r->task == TASK_PAIRS) {
            const ss_eval_pairs *e = &r->pc[s];
            printf("\"accuracy\":%.10g,\"accuracy_threshold\":%.10g,\"f1\":%.10g,\"precision\":%.10g,"
                   "\"recall\":%.10g,\"f1_threshold\":%.10g,\"average_precision\":%.10g,\"auc\":%.10g",
                   e->accuracy, e->accuracy_threshold, e->f1, e->precision, e->recall, e->f1_threshold,
                   e->average_precision, e->auc);
        } else {
            const ss_eval_retrieval *e = &r->rt[s];
            printf("\"recall_at_1\":%.10g,\"recall_at_5\":%.10g,\"recall_at_10\":%.10g,\"mrr_at_10\":%.10g,"
                   "\"ndcg_at_10\":%.10g",
                   e->recall_at_1, e->recall_at_5, e->recall_at_10, e->mrr_at_10, e->ndcg_at_10);
        }
        putchar('}');
    }
    printf("}\n");
}

/* ------------------------------------------------------------------ command */

int cmd_eval(int argc, char **argv);
int cmd_eval(int argc, char **argv)
{
    /* -t is --threads and -b --batch in every command: -t TASK and -b
     * (--baseline) are kept one release, with a warning */
    enum { O_TASK = 256, O_BASELINE, O_THREADS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"task", required_argument, 0, O_TASK},
        {"json", no_argument, 0, 'j'},          {"baseline", no_argument, 0, O_BASELINE},
        {"threads", required_argument, 0, O_THREADS},
        {"baseline-only", no_argument, 0, 'B'}, {"plot", required_argument, 0, 'p'},
        {"runs", required_argument, 0, 'r'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model_path = NULL, *plot_path = NULL, *runs = NULL;
    int forced = TASK_NONE, json = 0, baseline = 0, baseline_only = 0, c;
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
            if (!strcmp(optarg, "sts")) forced = TASK_STS;
            else if (!strcmp(optarg, "pairs")) forced = TASK_PAIRS;
            else if (!strcmp(optarg, "retrieval")) forced = TASK_RETRIEVAL;
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
    int *tasks = calloc((size_t)nfiles, sizeof *tasks);
    if (!tasks) return cli_error("out of memory");
    for (int i = 0; i < nfiles; i++) {
        int rc = task_of(files[i], forced, &tasks[i]);
        if (rc) {
            free(tasks);
            return cli_lib_error(rc);
        }
        if (!tasks[i]) {
            cli_error("%s: cannot tell the task from the name (expected *.scored.tsv, *.labeled.tsv, "
                      "*.groups.tsv, NAME.queries.tsv or a BEIR directory): use --task",
                      strcmp(files[i], "-") ? files[i] : "<stdin>");
            free(tasks);
            return 2;
        }
    }

    if (plot_path && (cli_output_not_input("eval --plot", plot_path, (const char *const *)files, nfiles) ||
                      cli_same_file(plot_path, model_path))) {
        if (cli_same_file(plot_path, model_path)) cli_error("eval --plot: the output %s is the model", plot_path);
        free(tasks);
        return 2;
    }

    int n_ir = 0;
    for (int i = 0; i < nfiles; i++) n_ir += tasks[i] == TASK_IR;
    if (runs && n_ir != 1) {
        cli_error("--runs writes the runs of one queries/corpus/qrels data set: give exactly one (got %d)", n_ir);
        free(tasks);
        return 2;
    }

    ss_model *model = NULL;
    char *def = NULL;
    if (!baseline_only) {
        def = cli_model_path(model_path, "--baseline-only evaluates the TF-IDF baseline without a model");
        if (!def) {
            free(tasks);
            return 1;
        }
        model_path = def;
        int rc = ss_model_load(model_path, &model);
        if (rc) {
            free(def);
            free(tasks);
            return cli_lib_error(rc);
        }
    }

    result *res = calloc((size_t)nfiles, sizeof *res);
    ss__plot *plot = NULL;
    int rc = res ? 0 : cli_error("out of memory");
    if (!rc && plot_path && (rc = new_plot(tasks[0], files[0], &plot))) rc = cli_lib_error(rc);
    cli_progress prog;
    cli_progress_init(&prog, 0);
    for (int i = 0; i < nfiles && !rc; i++) {
        /* each file named as it starts (a large one takes minutes) */
        cli_progress_draw(&prog, 1, "eval: %s (file %d of %d, %.0f s so far)", files[i], i + 1, nfiles,
                          cli_progress_elapsed(&prog));
        rc = eval_file(files[i], tasks[i], model, baseline, plot, runs, &res[i]);
    }
    cli_progress_end(&prog);
    if (!rc && plot && (rc = ss__plot_write(plot, plot_path))) rc = cli_lib_error(rc);
    for (int i = 0; res && i < nfiles; i++) runs_close(&res[i], 1, &rc); /* whole, or none */
    if (!rc)
        for (int i = 0; i < nfiles; i++) {
            if (json) print_json(&res[i], model ? model_path : NULL);
            else {
                if (i) putchar('\n');
                print_text(&res[i]);
            }
        }
    ss__plot_free(plot);
    for (int i = 0; res && i < nfiles; i++) free(res[i].ir_title);
    free(res);
    free(tasks);
    ss_model_free(model);
    free(def);
    return rc;
}
