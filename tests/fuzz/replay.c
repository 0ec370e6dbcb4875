/* replay.c: runs every saved input of a fuzz target's corpus
 * (tests/fuzz/corpus/NAME/) through the target, as a TAP test. Built with
 * any compiler, so the regression inputs run in every `make check`, under
 * ASan and valgrind too. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "define FUZZ_NAME"
#endif

int main(int argc, char **argv)
{
    char dir[4096];
    const char *top = getenv("top_srcdir");
    if (argc > 1) snprintf(dir, sizeof dir, "%s", argv[1]);
    else snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_NAME);
    DIR *d = opendir(dir);
    if (!d) {
        printf("not ok 1 - open corpus %s\n1..1\n", dir);
        return 1;
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
        size_t got = fread(buf, 1, (size_t)size, f);
        fclose(f);
        /* a crash aborts the process: the TAP driver reports the test as failed */
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        n++;
    }
    closedir(d);
    printf("ok 1 - %s: %d saved inputs replayed without a crash\n1..1\n", FUZZ_NAME, n);
    return n > 0 ? 0 : 1;
}
