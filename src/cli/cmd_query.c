/* cmd_query.c: `semsearch query`: the nearest documents to a text, or to
 * each line of stdin (batched: the model and the vectors are loaded once,
 * and a batch of queries is one pass over the vectors). */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_store.h"
#include "base/textio.h"

static const char query_usage[] =
    "usage: semsearch query [-d DB]... [-m MODEL] [-k N] [options] [TEXT...]\n"
    "\n"
    "Prints the k documents nearest to TEXT (cosine similarity of the model's\n"
    "vectors), best first: rank, score, id and text, tab-separated (the id is\n"
    "the document's external id, or #N, its number, when it has none; for a long\n"
    "document split into passages, the text is its passage that matched best,\n"
    "and the document comes once). Without\n"
    "TEXT, answers one query per stdin line, with the query's line number as\n"
    "an extra first column ('-' as TEXT: the same).\n"
    "\n"
    "  -d, --db PATH        database (default " CLI_DEFAULT_DB "); given several\n"
    "                       times, searches them all as one collection (the\n"
    "                       shards of `index --shard`): the hits and scores\n"
    "                       (hybrid too: BM25 over all of them) are exactly\n"
    "                       those of one database holding all their documents.\n"
    "                       All must have the same model. #N ids\n"
    "                       are numbers within their database (--json: \"db\")\n"
    "  -m, --model PATH     model (default: the one the database records, else\n"
    "                       the shipped " CLI_DEFAULT_MODEL "); it must be the\n"
    "                       model the database was indexed with\n"
    "  -k, --top N          hits per query (default 10)\n"
    "      --min-score X    leave out hits scoring below X\n"
    "  -s, --source NAME    only documents of this source\n"
    "      --hybrid         fuse the vector ranking with full-text BM25 (the\n"
    "                       default when the database has its full-text index;\n"
    "                       the score is then the fused score)\n"
    "      --vectors        the vector ranking alone (cosine scores)\n"
    "      --fusion F       convex (default): alpha x cosine + (1 - alpha) x BM25,\n"
    "                       each scaled to [0, 1] over its top 100; or rrf:\n"
    "                       reciprocal rank fusion, sum of 1 / (60 + rank)\n"
    "      --alpha X        convex fusion: the weight of the vectors (default 0.5)\n"
    "      --align W        rescore the vectors' top 100 as cosine + W x the soft\n"
    "                       alignment of the query's word pieces with each hit's\n"
    "                       (before any fusion; the score is then that sum);\n"
    "                       default 0.25 for a static model such as the shipped\n"
    "                       one, 0 (none) for a model with transformer layers\n"
    "      --int8           scan int8 codes, rescore the best candidates exactly\n"
    "                       (faster on large databases)\n"
    "      --rerank N       int8: candidates rescored (default max(4k, 64))\n"
    "  -j, --json           one JSON object per query\n"
    "  -b, --batch N        stdin queries answered together (default 64)\n"
    "  -t, --threads N      threads (default: SEMSEARCH_THREADS or all cores)\n";

#define QUERY_MAX_DBS 1024

typedef struct querier {
    ss_store *store;          /* the database of the hit being printed */
    ss_store *stores[QUERY_MAX_DBS];
    const char *dbs[QUERY_MAX_DBS];
    size_t ns;
    store_model sm;
    ss_store_query_opts o;
    int json, multi, dim;
    size_t batch;
    cli_unknown unk;
} querier;

static void print_hits(querier *x, long qno, const char *qtext, size_t qlen, const ss_hit *h, const int *which,
                       int n)
{
    if (x->json) {
        fputs("{", stdout);
        if (x->multi) printf("\"line\":%ld,", qno);
        fputs("\"query\":", stdout);
        cli_json_string(qtext, qlen);
        fputs(",\"results\":[", stdout);
    }
    int rank = 0;
    for (int i = 0; i < n; i++) {
        ss_store_doc d;
        x->store = x->stores[which ? which[i] : 0];
        if (ss_store_get(x->store, h[i].doc, &d) != SS_OK) continue; /* deleted meanwhile */
        rank++;
        /* a document split into passages: the one that matched */
        size_t tl = strlen(d.text), ps = 0, pl = tl;
        if (ss_store_get_passage(x->store, h[i].doc, h[i].passage, &ps, &pl) != SS_OK || ps > tl || pl > tl - ps) {
            ps = 0;
            pl = tl;
        }
        char *id = store_id_text(&d);
        if (!id) { /* out of memory: the number at least */
            ss_store_doc_clear(&d);
            continue;
        }
        if (x->json) {
            /* JSON: the external id (null when none) and the number apart */
            printf("%s{\"rank\":%d,\"score\":%.6f,\"id\":", rank > 1 ? "," : "", rank, h[i].score);
            if (d.id) cli_json_string(d.id, strlen(d.id));
            else fputs("null", stdout);
            printf(",\"doc\":%lld,", (long long)d.doc);
            if (x->ns > 1) {
                fputs("\"db\":", stdout);
                cli_json_string(x->dbs[which[i]], strlen(x->dbs[which[i]]));
                putchar(',');
            }
            fputs("\"text\":", stdout);
            cli_json_string(d.text, strlen(d.text));
            if (d.source) {
                fputs(",\"source\":", stdout);
                cli_json_string(d.source, strlen(d.source));
            }
            if (d.meta) printf(",\"meta\":%s", d.meta);
            if (pl < tl) printf(",\"passage\":{\"number\":%d,\"start\":%zu,\"length\":%zu}", (int)h[i].passage, ps, pl);
            putchar('}');
        } else {
            if (x->multi) printf("%ld\t", qno);
            printf("%d\t%.6f\t", rank, h[i].score);
            store_tsv_field(id, strlen(id));
            putchar('\t');
            store_tsv_field(d.text + ps, pl);
            putchar('\n');
        }
        free(id);
        ss_store_doc_clear(&d);
    }
    if (x->json) fputs("]}\n", stdout);
}

/* Answers n queries at once. */
static int answer(querier *x, const char *const *texts, const size_t *lens, const long *qno, size_t n)
{
    size_t k = (size_t)x->o.k;
    float *q = malloc(n * (size_t)x->dim * sizeof *q);
    ss_hit *h = malloc(n * k * sizeof *h);
    int *cnt = malloc(n * sizeof *cnt);
    int *which = x->ns > 1 ? malloc(n * k * sizeof *which) : NULL;
    int rc = 0;
    if (!q || !h || !cnt || (x->ns > 1 && !which)) rc = cli_error("out of memory");
    /* One text embeds fastest on one thread, and then no OpenMP or BLAS
     * worker is left spinning on the cores the search is about to use. */
    int threads = ss_get_threads();
    if (n == 1) ss_set_threads(1);
    float *unk = rc ? NULL : malloc(n * sizeof *unk);
    if (!rc && !unk) rc = cli_error("out of memory");
    if (!rc && (rc = ss_embed_ex(x->sm.model, texts, lens, n, 0, q, unk))) rc = cli_lib_error(rc);
    if (!rc) cli_unknown_check(&x->unk, unk, n, x->multi ? "query line" : "the query", x->multi ? qno[0] : 0);
    free(unk);
    if (n == 1) ss_set_threads(threads);
    if (!rc) {
        x->o.texts = texts;
        int e = x->ns > 1 ? ss_store_query_many(x->stores, x->ns, q, n, &x->o, h, which, cnt)
                          : ss_store_query(x->stores[0], q, n, &x->o, h, cnt);
        x->o.texts = NULL;
        if (e) rc = cli_lib_error(e);
    }
    for (size_t j = 0; j < n && !rc; j++)
        print_hits(x, qno[j], texts[j], lens[j], h + j * k, which ? which + j * k : NULL, cnt[j]);
    free(which);
    free(q);
    free(h);
    free(cnt);
    return rc;
}

static int answer_stdin(querier *x)
{
    ss__lines *r;
    int rc = ss__lines_open("-", &r);
    if (rc) return cli_lib_error(rc);
    char **texts = calloc(x->batch, sizeof *texts);
    size_t *lens = calloc(x->batch, sizeof *lens);
    long *qno = calloc(x->batch, sizeof *qno);
    size_t n = 0;
    if (!texts || !lens || !qno) rc = cli_error("out of memory");
    const char *line;
    size_t len;
    while (!rc && (rc = ss__lines_next(r, &line, &len)) == SS__LINE) {
        rc = 0;
        if (!(texts[n] = malloc(len + 1))) {
            rc = cli_error("out of memory");
            break;
        }
        memcpy(texts[n], line, len);
        texts[n][len] = '\0';
        lens[n] = len;
        qno[n] = ss__lines_lineno(r);
        if (++n == x->batch) {
            rc = answer(x, (const char *const *)texts, lens, qno, n);
            fflush(stdout);
            while (n) free(texts[--n]);
        }
    }
    if (rc > 0) rc = cli_lib_error(rc);
    if (!rc && n) rc = answer(x, (const char *const *)texts, lens, qno, n);
    while (n) free(texts[--n]);
    free(texts);
    free(lens);
    free(qno);
    ss__lines_close(r);
    return rc;
}

/* 1 when the database has a document of that source. */
static int cli_store_has_source(ss_store *s, const char *name)
{
    ss_store_source *src = NULL;
    size_t n = 0;
    if (ss_store_sources(s, &src, &n) != SS_OK) return 1; /* the search will say what is wrong */
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) found = src[i].name && !strcmp(src[i].name, name);
    ss_free(src);
    return found;
}

int cmd_query(int argc, char **argv);
int cmd_query(int argc, char **argv)
{
    enum { O_MIN = 256, O_HYBRID, O_INT8, O_RERANK, O_VECTORS, O_FUSION, O_ALPHA, O_ALIGN };
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"model", required_argument, 0, 'm'},
                                         {"top", required_argument, 0, 'k'},
                                         {"min-score", required_argument, 0, O_MIN},
                                         {"source", required_argument, 0, 's'},
                                         {"hybrid", no_argument, 0, O_HYBRID},
                                         {"vectors", no_argument, 0, O_VECTORS},
                                         {"fusion", required_argument, 0, O_FUSION},
                                         {"alpha", required_argument, 0, O_ALPHA},
                                         {"align", required_argument, 0, O_ALIGN},
                                         {"int8", no_argument, 0, O_INT8},
                                         {"rerank", required_argument, 0, O_RERANK},
                                         {"json", no_argument, 0, 'j'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    querier x;
    memset(&x, 0, sizeof x);
    ss_store_query_opts_init(&x.o);
    x.batch = 64;
    const char *model_path = NULL;
    int c, mode = -1; /* 1 hybrid, 0 vectors, -1 hybrid when the database can */
    long v;
    double d, align = -1; /* -1: the model's default */
    while ((c = getopt_long(argc, argv, "d:m:k:s:jb:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (x.ns == QUERY_MAX_DBS) return cli_error("query: more than %d databases", QUERY_MAX_DBS) ? 2 : 2;
            x.dbs[x.ns++] = optarg;
            break;
        case 'm': model_path = optarg; break;
        case 'k':
            if (cli_int("--top", optarg, 1, 100000, &v)) return 2;
            x.o.k = (int)v;
            break;
        case O_MIN:
            if (cli_double("--min-score", optarg, -1e30, 1e30, &d)) return 2;
            x.o.min_score = (float)d;
            break;
        case 's': x.o.source = optarg; break;
        case O_HYBRID: mode = 1; break;
        case O_VECTORS: mode = 0; break;
        case O_FUSION:
            if (!strcmp(optarg, "convex")) x.o.fusion = SS_FUSION_CONVEX;
            else if (!strcmp(optarg, "rrf")) x.o.fusion = SS_FUSION_RRF;
            else return cli_error("--fusion: '%s' is not convex or rrf", optarg) ? 2 : 2;
            break;
        case O_ALPHA:
            if (cli_double("--alpha", optarg, 0, 1, &d)) return 2;
            x.o.alpha = (float)d;
            break;
        case O_ALIGN:
            if (cli_double("--align", optarg, 0, 100, &align)) return 2;
            break;
        case O_INT8: x.o.precision = SS_PREC_INT8; break;
        case O_RERANK:
            if (cli_int("--rerank", optarg, 1, 1000000, &v)) return 2;
            x.o.rerank = (int)v;
            break;
        case 'j': x.json = 1; break;
        case 'b':
            if (cli_int("--batch", optarg, 1, 65536, &v)) return 2;
            x.batch = (size_t)v;
            break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &v)) return 2;
            ss_set_threads((int)v);
            break;
        case 'h': return cli_usage(query_usage, 0);
        default: return cli_usage(query_usage, 1);
        }
    }
    /* 'query -' reads the queries from stdin, as no TEXT does */
    if (optind == argc - 1 && !strcmp(argv[optind], "-")) optind++;
    x.multi = optind == argc;
    if (x.multi && cli_stdin_is_tty()) return cli_usage(query_usage, 0);
    /* the query words, joined by spaces */
    char *text = NULL;
    size_t tlen = 0;
    for (int i = optind; i < argc; i++) tlen += strlen(argv[i]) + 1;
    if (!x.multi) {
        if (!(text = malloc(tlen))) return cli_error("out of memory");
        text[0] = '\0';
        for (int i = optind; i < argc; i++) {
            if (i > optind) strcat(text, " ");
            strcat(text, argv[i]);
        }
        tlen = strlen(text);
        if (strspn(text, " \t\r\n\v\f") == tlen) {
            free(text);
            cli_error("query: an empty query (give some words, or none to read queries from stdin)");
            return 2;
        }
    }
    if (!x.ns) x.dbs[x.ns++] = CLI_DEFAULT_DB;
    int rc = 0;
    /* one file twice would return each of its hits twice */
    for (size_t i = 0; i < x.ns && !rc; i++)
        for (size_t j = 0; j < i && !rc; j++)
            if (cli_same_file(x.dbs[i], x.dbs[j]))
                rc = cli_error("query: -d %s and -d %s are the same database", x.dbs[j], x.dbs[i]) ? 2 : 2;
    for (size_t i = 0; i < x.ns && !rc; i++)
        if ((rc = ss_store_open(x.dbs[i], SS_STORE_READONLY, &x.stores[i]))) rc = cli_lib_error(rc);
    /* a source is a name as index stored it (./x is x); one the databases
     * do not have is an error, not an empty answer (a shard may lack it) */
    char *src = NULL;
    if (!rc && x.o.source) {
        if (!(src = store_source_name(x.o.source))) rc = 1;
        size_t missing = 0;
        for (size_t i = 0; !rc && i < x.ns && missing == i; i++) {
            if (x.ns == 1) missing += store_source_check(x.stores[i], "query", x.dbs[i], src) != 0;
            else missing += !cli_store_has_source(x.stores[i], src);
        }
        if (!rc && missing == x.ns) {
            if (x.ns > 1) cli_error("query: no source '%s' in any of the %zu databases", src, x.ns);
            rc = 1;
        }
        x.o.source = src;
    }
    if (!rc && mode < 0) {
        /* hybrid won on the retrieval dev set (models/README.md): the default
         * wherever the databases have their full-text index */
        mode = 1;
        for (size_t i = 0; i < x.ns; i++) {
            ss_store_stats st;
            mode &= ss_store_stats_get(x.stores[i], &st) == SS_OK && st.has_fts;
        }
    }
    x.o.hybrid = mode;
    if (!rc) rc = store_model_load(x.stores[0], model_path, &x.sm);
    /* every database must hold vectors of that model */
    for (size_t i = 1; i < x.ns && !rc; i++) {
        int e = ss_store_use_model(x.stores[i], &x.sm.info);
        if (e) rc = cli_lib_error(e);
    }
    if (!rc) {
        x.dim = ss_model_dim(x.sm.model);
        x.o.align = align < 0 ? ss_model_align_weight(x.sm.model) : (float)align;
        x.o.align_model = x.sm.model;
        if (x.multi) {
            rc = answer_stdin(&x);
        } else {
            const char *t[1] = {text};
            long qno = 1;
            x.o.once = 1; /* one query: read the vectors once, keep none */
            rc = answer(&x, t, &tlen, &qno, 1);
        }
    }
    cli_unknown_summary(&x.unk, "queries");
    free(src);
    free(text);
    store_model_free(&x.sm);
    for (size_t i = 0; i < x.ns; i++) ss_store_close(x.stores[i]);
    return rc;
}
