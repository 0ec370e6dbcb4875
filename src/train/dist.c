/* dist.c: the MPI communicator of a data-parallel run (dist.h). */
#include "config.h"

#include <limits.h>
#include <string.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#include "base/common.h"
#include "train/dist.h"

struct ss__dist {
    int rank, size;
    int finalize;   /* 1: MPI was initialized by ss_dist_open, which finalizes it */
    double seconds;   /* in collectives */
    double reduce_s;  /* of which in the gradient sums */
    double wait_s;    /* of which waiting for the slowest process before them */
#ifdef HAVE_MPI
    MPI_Comm comm;
#endif
};

int ss_dist_available(void)
{
#ifdef HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int ss__dist_rank(const ss__dist *d) { return d ? d->rank : 0; }
int ss__dist_size(const ss__dist *d) { return d ? d->size : 1; }
int ss_dist_rank(const ss_dist *d) { return ss__dist_rank(d); }
int ss_dist_size(const ss_dist *d) { return ss__dist_size(d); }
double ss__dist_seconds(const ss__dist *d) { return d ? d->seconds : 0; }
double ss__dist_reduce_seconds(const ss__dist *d) { return d ? d->reduce_s : 0; }
double ss__dist_wait_seconds(const ss__dist *d) { return d ? d->wait_s : 0; }

#ifdef HAVE_MPI
/* An MPI failure as a message; a lost process is what it means in practice. */
static int mpi_fail(int r, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(r, msg, &len);
    return ss__fail(SS_ERR_IO, "%s failed: %s (did a process of the job die?)", what, msg);
}
#endif

int ss_dist_open(ss_dist **out)
{
    if (!out) return ss__fail(SS_ERR_ARG, "ss_dist_open: NULL argument");
    *out = NULL;
#ifdef HAVE_MPI
    ss__dist *d = ss__calloc(1, sizeof *d);
    if (!d) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int inited = 0, r = MPI_Initialized(&inited);
    if (r == MPI_SUCCESS && !inited) {
        /* only the calling thread makes MPI calls (OpenMP and BLAS never do) */
        int provided;
        r = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        d->finalize = r == MPI_SUCCESS;
    }
    if (r == MPI_SUCCESS) r = MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    if (r == MPI_SUCCESS) r = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    if (r == MPI_SUCCESS) r = MPI_Comm_rank(d->comm, &d->rank);
    if (r == MPI_SUCCESS) r = MPI_Comm_size(d->comm, &d->size);
    if (r != MPI_SUCCESS) {
        int rc = ss__fail(SS_ERR_IO, "MPI could not start (run under mpirun?)");
        ss_free(d);
        return rc;
    }
    *out = d;
    return SS_OK;
#else
    return ss__fail(SS_ERR_ARG, "this semsearch was built without MPI (configure --with-mpi, with libopenmpi-dev)");
#endif
}

void ss_dist_close(ss_dist *d)
{
    if (!d) return;
#ifdef HAVE_MPI
    MPI_Comm_free(&d->comm);
    if (d->finalize) MPI_Finalize();
#endif
    ss_free(d);
}

/* Pieces of at most INT_MAX / 2 elements: MPI counts are int. */
#define PIECE ((size_t)INT_MAX / 2)

int ss__dist_allreduce_sum(ss__dist *d, float *buf, size_t n)
{
    if (!d || d->size == 1) return SS_OK;
#ifdef HAVE_MPI
    /* the processes meet first, so that the time of the sum is the transfer
     * alone and the wait (a slower process: load imbalance) is told apart */
    double t0 = ss__now_seconds();
    int r = MPI_Barrier(d->comm);
    if (r != MPI_SUCCESS) return mpi_fail(r, "MPI_Barrier");
    double t1 = ss__now_seconds();
    d->seconds += t1 - t0;
    d->wait_s += t1 - t0;
    t0 = t1;
    for (size_t i = 0; i < n; i += PIECE) {
        r = MPI_Allreduce(MPI_IN_PLACE, buf + i, (int)SS_MIN(PIECE, n - i), MPI_FLOAT, MPI_SUM, d->comm);
        if (r != MPI_SUCCESS) return mpi_fail(r, "MPI_Allreduce of the gradients");
    }
    d->seconds += ss__now_seconds() - t0;
    d->reduce_s += ss__now_seconds() - t0;
#endif
    return SS_OK;
}

int ss__dist_allgather_rows(ss__dist *d, float *buf, const int *first, int width)
{
    if (!d || d->size == 1) return SS_OK;
#ifdef HAVE_MPI
    int *cnt = ss__malloc(2 * (size_t)d->size * sizeof *cnt);
    if (!cnt) return ss__fail(SS_ERR_NOMEM, "out of memory");
    int *disp = cnt + d->size;
    for (int p = 0; p < d->size; p++) {
        if ((int64_t)first[p + 1] * width > INT_MAX) {
            ss_free(cnt);
            return ss__fail(SS_ERR_RANGE, "%d rows of %d floats: too many for one MPI_Allgatherv", first[p + 1], width);
        }
        cnt[p] = (first[p + 1] - first[p]) * width;
        disp[p] = first[p] * width;
    }
    double t0 = ss__now_seconds();
    int r = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, disp, MPI_FLOAT, d->comm);
    d->seconds += ss__now_seconds() - t0;
    ss_free(cnt);
    if (r != MPI_SUCCESS) return mpi_fail(r, "MPI_Allgatherv of the embeddings");
#endif
    return SS_OK;
}

int ss__dist_bcast(ss__dist *d, void *buf, size_t bytes)
{
    if (!d || d->size == 1) return SS_OK;
#ifdef HAVE_MPI
    double t0 = ss__now_seconds();
    for (size_t i = 0; i < bytes; i += PIECE) {
        int r = MPI_Bcast((char *)buf + i, (int)SS_MIN(PIECE, bytes - i), MPI_BYTE, 0, d->comm);
        if (r != MPI_SUCCESS) return mpi_fail(r, "MPI_Bcast");
    }
    d->seconds += ss__now_seconds() - t0;
#endif
    return SS_OK;
}

int ss__dist_max_int(ss__dist *d, int *flag)
{
    if (!d || d->size == 1) return SS_OK;
#ifdef HAVE_MPI
    double t0 = ss__now_seconds();
    int r = MPI_Allreduce(MPI_IN_PLACE, flag, 1, MPI_INT, MPI_MAX, d->comm);
    d->seconds += ss__now_seconds() - t0;
    if (r != MPI_SUCCESS) return mpi_fail(r, "MPI_Allreduce");
#endif
    return SS_OK;
}
