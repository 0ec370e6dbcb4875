/* dist.h: the processes of a data-parallel run (mpirun -np N semsearch
 * train), as the few collective operations training needs. Every MPI call
 * of semsearch is in dist.c; without an MPI build (HAVE_MPI) the handle
 * cannot be opened and a NULL one is one process, for which every call is a
 * no-op, so callers never test for MPI themselves.
 *
 * The communicator is a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN,
 * so that a failed collective (a process of the job died) is an SS_ERR_IO
 * with a message, not an abort inside the library. */
#ifndef SS_DIST_H
#define SS_DIST_H

#include <stddef.h>

#include "semsearch.h"

typedef struct ss__dist ss__dist; /* semsearch.h's ss_dist */

int ss__dist_rank(const ss__dist *d); /* 0 for NULL */
int ss__dist_size(const ss__dist *d); /* 1 for NULL */

/* buf (n floats) becomes the sum over the processes, in place. */
int ss__dist_allreduce_sum(ss__dist *d, float *buf, size_t n);
/* Rows of a (rows, width) float array: process p holds rows
 * [first[p], first[p + 1]) (first has size + 1 entries); afterwards every
 * process holds them all (MPI_Allgatherv in place). */
int ss__dist_allgather_rows(ss__dist *d, float *buf, const int *first, int width);
/* bytes of buf from process 0 to all. */
int ss__dist_bcast(ss__dist *d, void *buf, size_t bytes);
/* *flag becomes the largest of the processes' flags. */
int ss__dist_max_int(ss__dist *d, int *flag);
/* Seconds spent in the collectives above since the handle was opened, and
 * of those in ss__dist_allreduce_sum. */
double ss__dist_seconds(const ss__dist *d);
double ss__dist_reduce_seconds(const ss__dist *d);
/* ...and waiting at the barrier before the gradient sum for the slowest
 * process (time the others spend idle, not transferring). */
double ss__dist_wait_seconds(const ss__dist *d);

#endif
