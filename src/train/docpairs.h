/* docpairs.h: positive pairs made from documents, for training on text that
 * comes with no pairs (a user's own documents). One pair from one paragraph:
 *   TITLE    (document title, paragraph)
 *   SECTION  ("title: section heading", paragraph)
 *   ICT      inverse cloze: (one sentence, the rest of its paragraph), the
 *            sentence left in with probability ict_keep (Lee et al. 2019)
 *   CROP     two random spans of the paragraph's words (Izacard et al. 2021)
 * A kind that does not apply (no title, no heading, one sentence, too few
 * words) is not drawn; when none applies, both sides are the paragraph. */
#ifndef SS_DOCPAIRS_H
#define SS_DOCPAIRS_H

#include <stddef.h>
#include <stdint.h>

enum { SS__DOCPAIR_TITLE = 0, SS__DOCPAIR_SECTION, SS__DOCPAIR_ICT, SS__DOCPAIR_CROP, SS__DOCPAIR_KINDS };

typedef struct ss__docpair_opts {
    double weight[SS__DOCPAIR_KINDS]; /* relative odds of each kind, >= 0 */
    double ict_keep;                  /* ICT: the sentence stays in its context */
    double crop_min, crop_max;        /* CROP: a span is this share of the words */
} ss__docpair_opts;

/* title 1, section 1, ict 1, crop 1; keep 0.1; crop 0.1 to 0.5 */
void ss__docpair_opts_init(ss__docpair_opts *o);
/* Parses "title:W,section:W,ict:W,crop:W" (any subset; kinds not named get
 * weight 0) into o->weight. SS_ERR_ARG with a message on a bad spec. */
int ss__docpair_parse(const char *spec, ss__docpair_opts *o);

/* One pair from paragraph p (title and section may be NULL). The sides are
 * new strings (ss_free); *kind tells which kind was drawn (-1: none applied,
 * both sides are the paragraph). The same rng state gives the same pair. */
int ss__docpair_make(const ss__docpair_opts *o, uint64_t rng[4], const char *title, size_t tlen,
                     const char *section, size_t slen, const char *p, size_t plen, char **a, size_t *alen,
                     char **b, size_t *blen, int *kind);

/* Sentence boundaries of s[0..n): *count sentences, sentence i is
 * s[start[i] .. start[i+1]) (start has room for max + 1 entries; at most
 * max sentences are reported, the last one running to the end). */
int ss__sentences(const char *s, size_t n, size_t *start, int max, int *count);

#endif
