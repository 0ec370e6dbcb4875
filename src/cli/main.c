/* main.c: `semsearch <command> [options]`. The only place that exits. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD(name, fn, help) int fn(int argc, char **argv);
#include "commands.h"
#undef CMD

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} commands[] = {
#define CMD(name, fn, help) {name, fn, help},
#include "commands.h"
#undef CMD
};

static int usage(FILE *out)
{
    fprintf(out, "usage: semsearch <command> [options]\n\n"
                 "Sentence embeddings, training and semantic search.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'semsearch <command> --help' describes a command; 'man semsearch' has them all.\n"
                 "Data goes to stdout, logs to stderr; '-' as a file means stdin.\n");
    return out == stderr ? 2 : 0;
}

/* libgomp's idle workers spin after every parallel region and take the
 * cores OpenBLAS's threads need: training on 2 threads ran at half speed.
 * The passive wait policy fixes it, but libgomp reads it only when it loads,
 * so set it and run ourselves again, once. If exec fails, go on as we are. */
static void passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    passive_openmp(argv);
    /* A closed pipe (semsearch ... | head) is an ordinary end, not a crash. */
    signal(SIGPIPE, SIG_DFL);
    if (argc < 2) return usage(stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) return usage(stdout);
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        printf("semsearch %s\n", ss_version());
        return cli_finish_stdout(0);
    }
    /* getopt's messages start with argv[0]: "semsearch: query: unrecognized
     * option ...", as every other message starts with "semsearch: " */
    static char name[64];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) {
            snprintf(name, sizeof name, "semsearch: %s", commands[i].name);
            argv[1] = name;
            return cli_finish_stdout(commands[i].fn(argc - 1, argv + 1));
        }
    cli_error("unknown command '%s'", cmd);
    return usage(stderr);
}
