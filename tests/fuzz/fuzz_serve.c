/* fuzz_serve.c: the request path of `semsearch serve`, HTTP parsing
 * (libmicrohttpd) and our handler together: each input is the raw bytes a
 * client sends (request line, headers, body, possibly several pipelined
 * requests), written to one end of a socketpair whose other end the server
 * serves as a loopback client's. The server is started once, without a
 * listening socket, with a tiny random model (d 16, around the shipped
 * vocabulary), a database it may write to (--allow-write) and small limits.
 *
 * Invariants: the server answers with HTTP (or closes); never 500 (an
 * internal error: 503 and 507 are the server's limits, 4xx the client's
 * fault); after every input GET /health still answers 200. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "serve/serve.h"

static char dir[64], model_path[128], db_path[128];
static serve_server *srv;
static serve_opts opts;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_serve: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* At exit: the server stopped (its threads joined, nothing left for the
 * leak checker), its files gone. */
static void stop(void)
{
    serve_stop(srv);
    srv = NULL;
    const char *files[] = {model_path, db_path};
    char p[160];
    for (int i = 0; i < 2; i++) unlink(files[i]);
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
    rmdir(dir);
}

static void start(void)
{
    signal(SIGPIPE, SIG_IGN); /* a server that closes while we write */
    snprintf(dir, sizeof dir, "/tmp/fuzz_serve.XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
    ss_model *m = NULL;
    if (fuzz_tiny_model(7, &m)) fail("a tiny model around the shipped vocabulary", ss_errmsg());
    snprintf(model_path, sizeof model_path, "%s/m.gguf", dir);
    snprintf(db_path, sizeof db_path, "%s/s.db", dir);
    if (ss_model_save(m, model_path, SS_DTYPE_F32)) fail("model save", ss_errmsg());
    ss_model_free(m);
    serve_opts_init(&opts);
    opts.model = model_path;
    opts.db = db_path;
    opts.allow_write = 1;
    opts.quiet = 1;
    opts.timeout = 2;
    opts.max_body = 64 * 1024;
    opts.max_inputs = 64;
    opts.max_text = 4096;
    opts.max_k = 50;
    if (serve_start_unbound(&opts, &srv)) fail("serve_start_unbound", NULL);
    atexit(stop);
}

/* Sends req (len bytes) on a new connection, then EOF; the answer (at most
 * cap - 1 bytes, NUL-terminated) in out. */
static void exchange(const uint8_t *req, size_t len, char *out, size_t cap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) fail("socketpair", strerror(errno));
    if (serve_connect(srv, sv[1])) fail("serve_connect", NULL);
    size_t off = 0, got = 0;
    int wdone = len == 0;
    if (wdone) shutdown(sv[0], SHUT_WR);
    time_t t0 = time(NULL);
    for (;;) {
        struct pollfd p = {sv[0], (short)(POLLIN | (wdone ? 0 : POLLOUT)), 0};
        int r = poll(&p, 1, 1000);
        if (r < 0 && errno != EINTR) fail("poll", strerror(errno));
        if (time(NULL) - t0 > 20) fail("no answer in 20 s", NULL);
        if (r <= 0) continue;
        if (!wdone && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = send(sv[0], req + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0) off += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR) off = len; /* the server closed */
            if (off == len) {
                shutdown(sv[0], SHUT_WR);
                wdone = 1;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[4096];
            ssize_t n = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
            if (n > 0 && got + 1 < cap) {
                size_t k = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
                memcpy(out + got, buf, k);
                got += k;
            }
        }
    }
    out[got] = '\0';
    close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) start();
    static char ans[1 << 16];
    exchange(data, size, ans, sizeof ans);
    if (getenv("FUZZ_SERVE_VERBOSE")) /* the status lines, to see what the inputs reach */
        for (const char *p = ans; (p = strstr(p, "HTTP/1.")) != NULL; p += 7)
            if (p == ans || p[-1] == '\n') fprintf(stderr, "fuzz_serve: %.*s\n", (int)strcspn(p, "\r\n"), p);
    if (ans[0] && strncmp(ans, "HTTP/1.", 7) != 0) fail("an answer that is not HTTP", ans);
    /* every status line of the (pipelined) answers: at the start or after a
     * newline (JSON bodies escape theirs, so an echoed text is no match) */
    for (const char *p = ans; (p = strstr(p, "HTTP/1.")) != NULL; p += 7) {
        int code = 0;
        if (p != ans && p[-1] != '\n') continue;
        if (sscanf(p, "HTTP/1.%*c %d", &code) == 1 && code == 500) fail("500 Internal Server Error", ans);
    }
    static const char health[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    exchange((const uint8_t *)health, sizeof health - 1, ans, sizeof ans);
    if (strncmp(ans, "HTTP/1.1 200", 12) != 0) fail("GET /health after the input", ans);
    return 0;
}
