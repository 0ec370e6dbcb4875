/* embed_calls.c: what a program linking libsemsearch gets from ss_embed
 * called again and again on a few texts (a server, a query loop): texts per
 * second. bench/blas.sh runs it against OpenBLAS's pthread and OpenMP builds.
 *
 *   bench/embed_calls MODEL LINES TEXTS_PER_CALL CALLS
 * Texts are drawn at random (fixed seed) from the file's lines. Uses the
 * public API only, and sets no thread policy: what a user's program does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "semsearch.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: embed_calls MODEL LINES TEXTS_PER_CALL CALLS\n");
        return 2;
    }
    int per = atoi(argv[3]), calls = atoi(argv[4]);
    if (per < 1 || calls < 1) return fprintf(stderr, "embed_calls: bad counts\n"), 2;
    ss_model *m;
    if (ss_model_load(argv[1], &m)) return fprintf(stderr, "embed_calls: %s\n", ss_errmsg()), 1;
    FILE *f = fopen(argv[2], "r");
    if (!f) return perror(argv[2]), 1;
    char **lines = NULL, buf[4096];
    size_t n = 0, cap = 0;
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = 0;
        if (n == cap && !(lines = realloc(lines, (cap = cap ? 2 * cap : 1024) * sizeof *lines))) return 1;
        if (!(lines[n++] = strdup(buf))) return 1;
    }
    fclose(f);
    if (!n) return fprintf(stderr, "embed_calls: %s is empty\n", argv[2]), 1;
    const char **t = malloc((size_t)per * sizeof *t);
    float *out = malloc((size_t)per * (size_t)ss_model_dim(m) * sizeof *out);
    if (!t || !out) return 1;
    srand(1);
    /* one call first: loading, allocation and thread start-up aside */
    for (int i = 0; i < per; i++) t[i] = lines[(size_t)rand() % n];
    if (ss_embed(m, t, NULL, (size_t)per, 0, out)) return fprintf(stderr, "embed_calls: %s\n", ss_errmsg()), 1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int r = 0; r < calls; r++) {
        for (int i = 0; i < per; i++) t[i] = lines[(size_t)rand() % n];
        if (ss_embed(m, t, NULL, (size_t)per, 0, out)) return fprintf(stderr, "embed_calls: %s\n", ss_errmsg()), 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%.1f\n", (double)per * calls / s);
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
    free(t);
    free(out);
    ss_model_free(m);
    return 0;
}
