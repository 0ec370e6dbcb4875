/* clock.c: the library's one clock, for durations (training and
 * evaluation report seconds). The CLI has its own (cli_now in cli.c). */
#include "config.h"

#include <time.h>

#include "base/common.h"

double ss__now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
