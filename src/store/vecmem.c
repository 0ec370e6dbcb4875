/* vecmem.c: the memory of a store's vectors (ss__vecmem): large arrays
 * from huge-page mappings, and their release. Used by store.c (close) and
 * store_search.c (loading), below both. */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "base/common.h"
#include "store/vecmem.h"

/* Large arrays come from mmap with huge pages, populated in one call: a
 * gigabyte of 4 KiB page faults costs more than reading the vectors. The
 * mapping's length is kept in a 64-byte header (data stays aligned). */
#define BIG_MIN ((size_t)4 << 20)
#define BIG_HDR 64

void *ss__big_alloc(size_t bytes)
{
    if (bytes < BIG_MIN) return ss__malloc(bytes);
    void *probe = ss__malloc(1); /* keeps allocation-failure tests meaningful */
    if (!probe) return NULL;
    ss_free(probe);
    size_t len = bytes + BIG_HDR;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    madvise(p, len, MADV_POPULATE_WRITE); /* best effort: else faulted in on first write */
#endif
    memcpy(p, &len, sizeof len);
    return p + BIG_HDR;
}

void ss__big_free(void *q, size_t bytes)
{
    if (!q) return;
    if (bytes < BIG_MIN) {
        ss_free(q);
        return;
    }
    unsigned char *p = (unsigned char *)q - BIG_HDR;
    size_t len;
    memcpy(&len, p, sizeof len);
    munmap(p, len);
}

void ss__vecmem_free(ss__vecmem *m)
{
    size_t n = m->n ? m->n : 1, d = (size_t)m->dim;
    ss_free(m->block_ids);
    ss__big_free(m->ids, n * sizeof *m->ids);
    ss__big_free(m->f32, n * d * sizeof *m->f32);
    ss__big_free(m->codes, n * d);
    ss__big_free(m->scales, n * sizeof *m->scales);
    memset(m, 0, sizeof *m);
}
