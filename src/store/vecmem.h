/* vecmem.h: a store's vectors in memory (one snapshot), and the large
 * allocations that hold them. Below store.c and store_search.c. */
#ifndef SS_VECMEM_H
#define SS_VECMEM_H

#include <stddef.h>
#include <stdint.h>

/* The vectors of a snapshot of the database, in block order: row
 * b*block_size + slot is slot `slot` of the b-th block. */
typedef struct ss__vecmem {
    int loaded;            /* bit mask: 1 << SS_PREC_F32, 1 << SS_PREC_INT8 */
    int64_t data_version;  /* PRAGMA data_version when read */
    int64_t generation;    /* s->generation when read */
    size_t nblocks, n;     /* blocks, rows (nblocks * block_size) */
    int dim;
    int64_t *block_ids;    /* (nblocks) rowids of the blocks, ascending */
    int64_t *ids;          /* (n) document of each row, 0 for a free slot */
    float *f32;            /* (n,dim) */
    uint8_t *codes;        /* (n,dim) offset binary */
    float *scales;         /* (n) */
    size_t live;           /* rows with a document */
} ss__vecmem;

/* Frees the arrays and zeroes *m (a zeroed ss__vecmem is empty). */
void ss__vecmem_free(ss__vecmem *m);
/* Large arrays (>= 4 MiB) from huge-page mappings, else the heap; NULL
 * when out of memory. ss__big_free takes the size given to ss__big_alloc. */
void *ss__big_alloc(size_t bytes);
void ss__big_free(void *q, size_t bytes);

#endif
