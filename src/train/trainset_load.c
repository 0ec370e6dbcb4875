/* trainset_load.c: --data files into a training set, parsed by datafile.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "base/common.h"
#include "text/datafile.h"
#include "train/trainset.h"

int ss__trainset_load(ss__trainset *ts, const char *path, double weight, const ss__load_opts *o)
{
    if (ss__trainset_is_docs_path(path)) return ss__trainset_load_docs(ts, path, weight, o);
    ss__data_kind kind = ss__data_kind_from_name(path);
    if (kind == SS__DATA_UNKNOWN) kind = SS__DATA_TEXT; /* stdin, *.gz, any other name */
    if (kind == SS__DATA_SCORED && !o->has_min_score && !o->graded)
        return ss__fail(SS_ERR_ARG, "%s: a scored file needs --min-score S (pairs scoring S or more are "
                                    "the positives)", path);
    int skind = kind == SS__DATA_GROUPS     ? SS__SRC_GROUPS
                : kind == SS__DATA_TEXT     ? SS__SRC_TEXT
                : kind == SS__DATA_TRIPLETS ? SS__SRC_TRIPLETS
                                            : SS__SRC_PAIRS;
    ss__data_reader *r;
    int rc = ss__data_open(path, kind, &r);
    if (rc) return rc;
    rc = ss__trainset_begin_source(ts, ss__data_name(r), skind, weight);
    if (rc) {
        ss__data_close(r);
        return rc;
    }
    ss__source *src = &ts->src[ts->n_src - 1];
    char prev[256] = "";
    ss__data_row row;
    for (;;) {
        rc = ss__data_next(r, &row);
        if (rc == 0) break;
        if (rc != SS__LINE) {
            /* A malformed line can be skipped; the same message twice means
             * the reader cannot move on (a read or gzip error): stop. */
            if (!o->skip_bad || rc != SS_ERR_FORMAT || !strncmp(prev, ss_errmsg(), sizeof prev - 1)) break;
            snprintf(prev, sizeof prev, "%s", ss_errmsg());
            if (!src->first_bad && !(src->first_bad = ss__strdup(ss_errmsg()))) {
                rc = ss__fail(SS_ERR_NOMEM, "out of memory");
                break;
            }
            src->skipped_bad++;
            src->lines++;
            continue;
        }
        src->lines++;
        if (!o->graded &&
            ((kind == SS__DATA_SCORED && row.value < o->min_score) || (kind == SS__DATA_LABELED && row.value != 1))) {
            src->skipped++;
            continue;
        }
        int added;
        if (skind == SS__SRC_TRIPLETS) rc = ss__trainset_add_triplet(ts, row.text, row.len, &added);
        else rc = ss__trainset_add(ts, row.text, row.len, (int)row.n, &added);
        if (rc) break;
        if (added && o->graded && skind == SS__SRC_PAIRS && (rc = ss__trainset_set_score(ts, row.value))) break;
    }
    if (rc == 0 && src->n == 0)
        rc = ss__fail(SS_ERR_FORMAT, "%s: no training examples in %ld %s line%s (%ld not positive or degenerate, "
                                     "%ld malformed)", ss__data_name(r), src->lines, ss__data_kind_name(kind),
                      src->lines == 1 ? "" : "s", src->skipped, src->skipped_bad);
    ss__data_close(r);
    return rc;
}
