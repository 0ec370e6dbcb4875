/* threads.c: one thread count for OpenMP and BLAS together.
 * Our OpenMP regions never call BLAS and BLAS is never called from inside an
 * OpenMP region, so using the same count for both never oversubscribes. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>

#include "base/common.h"

static int nthreads; /* 0 until initialized */

static int ncores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void apply(int n)
{
    nthreads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(n);
#endif
}

void ss__threads_init(void)
{
    if (nthreads) return;
    const char *env = getenv("SEMSEARCH_THREADS");
    int n = env ? atoi(env) : 0;
    apply(n > 0 ? n : ncores());
}

int ss_set_threads(int n)
{
    apply(n > 0 ? n : ncores());
    return nthreads;
}

int ss_get_threads(void)
{
    ss__threads_init();
    return nthreads;
}
