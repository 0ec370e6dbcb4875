/* evalrun.c: ss_eval_file, what `semsearch eval` does with one data file:
 * the task from the name, every system asked for, the metrics and the data
 * of its plot. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "eval/eval.h"
#include "eval/eval_retrieval.h"
#include "eval/evalfile.h"
#include "store/hybrid.h"
#include "text/datafile.h"

void ss_eval_file_options_init(ss_eval_file_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->align = -1;
}

static ss_eval_task task_of_name(const char *path, ss_eval_task forced)
{
    if (forced) return forced;
    switch (ss__data_kind_from_name(path)) {
    case SS__DATA_SCORED: return SS_EVAL_TASK_STS;
    case SS__DATA_LABELED: return SS_EVAL_TASK_PAIRS;
    case SS__DATA_GROUPS: return SS_EVAL_TASK_GROUPS;
    default: return SS_EVAL_TASK_NONE;
    }
}

int ss_eval_task_of(const char *path, ss_eval_task forced, ss_eval_task *task)
{
    if (!path || !task) return ss__fail(SS_ERR_ARG, "ss_eval_task_of: NULL argument");
    *task = SS_EVAL_TASK_NONE;
    if (!forced || forced == SS_EVAL_TASK_GROUPS) {
        ss__data_kind k = ss__data_kind_from_name(path);
        if (k == SS__DATA_UNKNOWN || k == SS__DATA_TEXT) {
            ss__ir_paths p;
            int rc = ss__ir_resolve(path, &p);
            ss__ir_paths_free(&p);
            if (rc == 1) {
                *task = SS_EVAL_TASK_IR;
                ss__clear_error();
                return SS_OK;
            }
            if (rc) return rc;
        }
    }
    *task = task_of_name(path, forced);
    ss__clear_error();
    return SS_OK;
}

void ss_eval_file_result_free(ss_eval_file_result *r)
{
    if (!r) return;
    for (int s = 0; s < SS_EVAL_NSYS; s++) {
        ss_free(r->curve[s].x);
        ss_free(r->curve[s].y);
    }
    ss_free(r->name);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- IR data */

typedef struct {
    const ss_eval_file_options *o;
    const ss__ir_data *d;
} ir_run_ctx;

/* Hands one ranking to the caller with ids for indices. */
static int ir_run(void *ctx, int sys, size_t q, const size_t *docs, const double *scores, size_t n)
{
    ir_run_ctx *c = ctx;
    const char *ids[SS__IR_DEPTH];
    n = SS_MIN(n, (size_t)SS__IR_DEPTH);
    for (size_t i = 0; i < n; i++) ids[i] = c->d->did[docs[i]];
    return c->o->run(c->o->run_ctx, sys, c->d->qid[q], ids, scores, n);
}

static void ir_metrics_out(const ss__ir_metrics *m, double seconds, ss_eval_ir_metrics *out)
{
    out->n_queries = m->n_queries;
    out->ndcg_at_10 = m->ndcg_at_10;
    out->recall_at_10 = m->recall_at_10;
    out->recall_at_100 = m->recall_at_100;
    out->mrr_at_10 = m->mrr_at_10;
    out->map_at_100 = m->map_at_100;
    memcpy(out->recall_curve, m->recall_curve, sizeof out->recall_curve);
    out->seconds = seconds;
}

static int eval_ir(ss_model *m, const char *path, const ss_eval_file_options *o, ss_eval_file_result *r)
{
    ss__ir_data d;
    int rc = ss__ir_load(path, &d);
    if (rc) return rc;
    d.fts_plain = o->no_stem;
    r->n = d.nq;
    r->n_documents = d.nd;
    r->n_scored = d.n_eval;
    r->n_unjudged = d.n_unjudged;
    r->n_no_relevant = d.n_no_relevant;
    r->n_judgements = d.n_judgements;
    r->beir = d.paths.beir;
    r->hybrid_depth = ss__hybrid_depth(SS__IR_DEPTH);
    r->name = ss__strdup(d.paths.name);
    if (!r->name) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    if (!rc && o->loaded) rc = o->loaded(o->run_ctx, r);
    ss__ir_result res;
    ir_run_ctx rctx = {o, &d};
    float align = o->align < 0 ? ss_model_align_weight(m) : o->align;
    r->align = m ? align : 0;
    if (!rc && (rc = ss__ir_evaluate_runs(m, align, &d, o->progress, o->progress_ctx, o->run ? ir_run : NULL, &rctx,
                                          &res)))
        rc = ss__fail_prefix(rc, "%s", d.paths.name);
    for (int s = 0; s < SS__IR_NSYS && !rc; s++) {
        r->ir_has[s] = res.has[s];
        if (res.has[s]) ir_metrics_out(&res.m[s], res.seconds[s], &r->ir[s]);
    }
    ss__ir_free(&d);
    return rc;
}

/* ----------------------------------------------------------- groups, pairs */

static int eval_groups(ss_model *m, const char *path, const ss_eval_file_options *o, ss_eval_file_result *r)
{
    ss__groups g;
    int rc = ss__groups_load(path, &g);
    if (rc) return rc;
    r->n = g.n_groups;
    r->n_texts = g.n_texts;
    int sys_on[SS_EVAL_NSYS] = {m != NULL, o->baseline};
    for (int s = 0; s < SS_EVAL_NSYS && !rc; s++) {
        if (!sys_on[s]) continue;
        double curve[SS__RETR_K];
        if ((rc = ss__groups_retrieval(s == SS_EVAL_SYS_MODEL ? m : NULL, &g, &r->retrieval[s], curve))) {
            rc = ss__fail_prefix(rc, "%s", path);
            break;
        }
        r->has[s] = 1;
        if (!o->curves) continue;
        ss_eval_curve *c = &r->curve[s];
        c->x = ss__malloc(SS__RETR_K * sizeof *c->x);
        c->y = ss__malloc(SS__RETR_K * sizeof *c->y);
        if (!c->x || !c->y) {
            rc = ss__fail(SS_ERR_NOMEM, "out of memory");
            break;
        }
        c->n = SS__RETR_K;
        for (int k = 0; k < SS__RETR_K; k++) {
            c->x[k] = k + 1;
            c->y[k] = curve[k];
        }
    }
    ss__groups_free(&g);
    return rc;
}

/* The plot data of one system of a pairs file: the STS scatter or ROC curve. */
static int pairs_curve(ss_eval_task task, const ss__pairs *p, const double *sim, ss_eval_curve *c)
{
    if (task == SS_EVAL_TASK_STS) {
        c->x = ss__malloc(p->n * sizeof *c->x);
        c->y = ss__malloc(p->n * sizeof *c->y);
        if (!c->x || !c->y) return ss__fail(SS_ERR_NOMEM, "out of memory");
        memcpy(c->x, p->value, p->n * sizeof *c->x);
        memcpy(c->y, sim, p->n * sizeof *c->y);
        c->n = p->n;
        return SS_OK;
    }
    int *lab = ss__malloc(p->n * sizeof *lab);
    if (!lab) return ss__fail(SS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n; i++) lab[i] = p->value[i] != 0;
    int rc = ss__eval_roc(sim, lab, p->n, &c->x, &c->y, &c->n);
    ss_free(lab);
    return rc;
}

static int eval_pairs(ss_model *m, const char *path, const ss_eval_file_options *o, ss_eval_file_result *r)
{
    ss__pairs p;
    int rc = ss__pairs_load(path, r->task == SS_EVAL_TASK_STS ? SS__DATA_SCORED : SS__DATA_LABELED, &p);
    if (rc) return rc;
    r->n = p.n;
    for (size_t i = 0; i < p.n; i++) r->n_positive += p.value[i] != 0;
    double *sim = ss__malloc(p.n * sizeof *sim);
    if (!sim) rc = ss__fail(SS_ERR_NOMEM, "out of memory");
    int sys_on[SS_EVAL_NSYS] = {m != NULL, o->baseline};
    for (int s = 0; s < SS_EVAL_NSYS && !rc; s++) {
        if (!sys_on[s]) continue;
        if ((rc = ss__pairs_sims(s == SS_EVAL_SYS_MODEL ? m : NULL, &p, sim))) {
            rc = ss__fail_prefix(rc, "%s", path);
            break;
        }
        rc = r->task == SS_EVAL_TASK_STS ? ss__sts_metrics(path, &p, sim, &r->spearman[s], &r->pearson[s])
                                         : ss__pairs_metrics(path, &p, sim, &r->pairs[s]);
        if (rc) break;
        r->has[s] = 1;
        if (o->curves) rc = pairs_curve(r->task, &p, sim, &r->curve[s]);
    }
    ss_free(sim);
    ss__pairs_free(&p);
    return rc;
}

int ss_eval_file(ss_model *m, const char *path, const ss_eval_file_options *o, ss_eval_file_result *out)
{
    if (!path || !out) return ss__fail(SS_ERR_ARG, "ss_eval_file: NULL argument");
    memset(out, 0, sizeof *out);
    ss_eval_file_options def;
    if (!o) {
        ss_eval_file_options_init(&def);
        o = &def;
    }
    ss_eval_task task = o->task;
    int rc = SS_OK;
    if (!task && (rc = ss_eval_task_of(path, SS_EVAL_TASK_NONE, &task))) return rc;
    if (task < SS_EVAL_TASK_STS || task > SS_EVAL_TASK_IR)
        return ss__fail(SS_ERR_ARG, "%s: cannot tell the task from the name", path);
    out->task = task;
    if (task == SS_EVAL_TASK_IR) rc = eval_ir(m, path, o, out);
    else if (task == SS_EVAL_TASK_GROUPS) rc = eval_groups(m, path, o, out);
    else rc = eval_pairs(m, path, o, out);
    if (!rc) ss__clear_error();
    return rc;
}
