/* cmd_serve.c: `semsearch serve`: the options, then the server module
 * (src/serve/), which uses the public API only. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve/serve.h"

static const char serve_usage[] =
    "usage: semsearch serve [-m MODEL] [-d DB] [--host ADDR] [--port N] [options]\n"
    "\n"
    "Serves embeddings (the OpenAI API: POST /v1/embeddings) and, with -d, search\n"
    "over a database (POST /search) on HTTP, batching requests that arrive\n"
    "together into one encoder call. GET /v1/models, /health and /metrics\n"
    "(Prometheus) too. One log line per request on stderr; SIGTERM or SIGINT\n"
    "finishes the requests in flight and exits 0.\n"
    "\n"
    "  -m, --model PATH       model (default: the one the database records, else\n"
    "                         the shipped " CLI_DEFAULT_MODEL ")\n"
    "  -d, --db PATH          database to search (default: none, no /search); given\n"
    "                         several times, all are searched as one collection, as\n"
    "                         `query -d A -d B` does (each hit names its \"db\")\n"
    "      --host ADDR        address to listen on (default 127.0.0.1); one that is\n"
    "                         not a loopback address needs --api-key\n"
    "  -p, --port N           port (default 8080; 0: a free one, printed on stderr)\n"
    "      --api-key KEY      require 'Authorization: Bearer KEY' (default:\n"
    "                         $SEMSEARCH_API_KEY; /health needs none)\n"
    "  -w, --workers N        encoder workers, sharing one copy of the model's\n"
    "                         weights (default 1)\n"
    "  -t, --threads N        threads per encoder call and search (default:\n"
    "                         SEMSEARCH_THREADS or all cores)\n"
    "      --max-body BYTES   request body limit, 413 beyond (default 4194304)\n"
    "      --max-inputs N     texts per request (default 2048)\n"
    "      --max-text BYTES   bytes per text (default 65536; longer texts than the\n"
    "                         model's window are truncated, as by embed, and listed\n"
    "                         in the answer's \"truncated\")\n"
    "      --max-k N          hits per query at most (default 1000)\n"
    "      --align W          /search rescores the vectors' top 100 as cosine + W x\n"
    "                         the soft alignment of word pieces, as query --align\n"
    "                         (default as query: 0.25 for a static model, else 0);\n"
    "                         a request's \"align\" overrides it\n"
    "      --max-connections N  open connections (default 64)\n"
    "      --timeout SEC      a connection idle this long is closed (default 30)\n"
    "      --batch-tokens N   token budget of one encoder call (default 16384)\n"
    "      --batch-wait MS    wait for more requests to join a batch (default 2)\n"
    "      --allow-write      POST /documents adds documents to -d DB (created if\n"
    "                         missing), DELETE /documents removes them by id or source\n"
    "      --passage-tokens N POST /documents splits a text longer than the model's\n"
    "                         window into passages of at most N tokens, each with\n"
    "                         its vector, as `index` does (default: the window)\n"
    "      --passage-overlap N tokens consecutive passages share (default 16, or a\n"
    "                         quarter of --passage-tokens when less)\n"
    "      --no-passages      POST /documents cuts long texts at the window instead\n"
    "                         (the answer's \"cut\" counts them)\n"
    "  -q, --quiet            no log line per request\n";

int cmd_serve(int argc, char **argv);
int cmd_serve(int argc, char **argv)
{
    enum { O_HOST = 256, O_KEY, O_BODY, O_INPUTS, O_TEXT, O_MAXK, O_CONNS, O_TIMEOUT, O_BTOK, O_BWAIT, O_WRITE, O_PTOK, O_POVER, O_NOPASS, O_ALIGN };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"db", required_argument, 0, 'd'},
                                         {"host", required_argument, 0, O_HOST},
                                         {"port", required_argument, 0, 'p'},
                                         {"api-key", required_argument, 0, O_KEY},
                                         {"workers", required_argument, 0, 'w'},
                                         {"threads", required_argument, 0, 't'},
                                         {"max-body", required_argument, 0, O_BODY},
                                         {"max-inputs", required_argument, 0, O_INPUTS},
                                         {"max-text", required_argument, 0, O_TEXT},
                                         {"max-k", required_argument, 0, O_MAXK},
                                         {"align", required_argument, 0, O_ALIGN},
                                         {"max-connections", required_argument, 0, O_CONNS},
                                         {"timeout", required_argument, 0, O_TIMEOUT},
                                         {"batch-tokens", required_argument, 0, O_BTOK},
                                         {"batch-wait", required_argument, 0, O_BWAIT},
                                         {"allow-write", no_argument, 0, O_WRITE},
                                         {"passage-tokens", required_argument, 0, O_PTOK},
                                         {"passage-overlap", required_argument, 0, O_POVER},
                                         {"no-passages", no_argument, 0, O_NOPASS},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    serve_opts o;
    serve_opts_init(&o);
    static const char *more[1023];
    int n_more = 0;
    const char *env_key = getenv("SEMSEARCH_API_KEY");
    if (env_key && *env_key) o.api_key = env_key;
    int c;
    long v;
    double d;
    while ((c = getopt_long(argc, argv, "m:d:p:w:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'd':
            if (!o.db) {
                o.db = optarg;
            } else {
                if (n_more == (int)(sizeof more / sizeof *more)) return cli_error("serve: too many databases") ? 2 : 2;
                more[n_more++] = optarg;
                o.more_dbs = more;
                o.n_more_dbs = n_more;
            }
            break;
        case O_HOST: o.host = optarg; break;
        case 'p':
            if (cli_int("--port", optarg, 0, 65535, &v)) return 2;
            o.port = (int)v;
            break;
        case O_KEY:
            if (!*optarg) return cli_error("--api-key: an empty key") ? 2 : 2;
            o.api_key = optarg;
            break;
        case 'w':
            if (cli_int("--workers", optarg, 1, 256, &v)) return 2;
            o.workers = (int)v;
            break;
        case 't':
            if (cli_int("--threads", optarg, 1, 1024, &v)) return 2;
            ss_set_threads((int)v);
            break;
        case O_BODY:
            if (cli_int("--max-body", optarg, 1024, 1L << 30, &v)) return 2;
            o.max_body = (size_t)v;
            break;
        case O_INPUTS:
            if (cli_int("--max-inputs", optarg, 1, 1000000, &v)) return 2;
            o.max_inputs = (size_t)v;
            break;
        case O_TEXT:
            if (cli_int("--max-text", optarg, 1, 1L << 30, &v)) return 2;
            o.max_text = (size_t)v;
            break;
        case O_MAXK:
            if (cli_int("--max-k", optarg, 1, 100000, &v)) return 2;
            o.max_k = (int)v;
            break;
        case O_ALIGN:
            if (cli_double("--align", optarg, 0, 100, &d)) return 2;
            o.align = (float)d;
            break;
        case O_CONNS:
            if (cli_int("--max-connections", optarg, 1, 10000, &v)) return 2;
            o.max_conns = (int)v;
            break;
        case O_TIMEOUT:
            if (cli_int("--timeout", optarg, 1, 86400, &v)) return 2;
            o.timeout = (int)v;
            break;
        case O_BTOK:
            if (cli_int("--batch-tokens", optarg, 1, 1L << 24, &v)) return 2;
            o.batch_tokens = (size_t)v;
            break;
        case O_BWAIT:
            if (cli_double("--batch-wait", optarg, 0, 1000, &d)) return 2;
            o.batch_wait_us = (int)(d * 1000);
            break;
        case O_WRITE: o.allow_write = 1; break;
        case O_PTOK:
            if (cli_int("--passage-tokens", optarg, 1, 1L << 20, &v)) return 2;
            o.passage_tokens = (int)v;
            break;
        case O_POVER:
            if (cli_int("--passage-overlap", optarg, 0, 1L << 20, &v)) return 2;
            o.passage_overlap = (int)v;
            break;
        case O_NOPASS: o.no_passages = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': return cli_usage(serve_usage, 0);
        default: return cli_usage(serve_usage, 1);
        }
    }
    if (optind < argc) {
        cli_error("serve: unexpected argument '%s'", argv[optind]);
        return cli_usage(serve_usage, 1);
    }
    if (o.no_passages && (o.passage_tokens || o.passage_overlap >= 0))
        return cli_error("serve: --no-passages with --passage-tokens or --passage-overlap") ? 2 : 2;
    return serve_run(&o);
}
