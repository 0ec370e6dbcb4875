#!/bin/sh
# make-negations.sh GROUPS.tsv... > negations.scored.tsv
#
# Graded synthetic negations for the CoSENT stage of train-default.sh. A bag of
# word pieces puts "The man is slicing a potato" and "The man is not slicing a
# potato" at cosine 0.94; STS grades them about 3 of 5. From the first text of
# every second paraphrase group that reads "A|An|The ... is|are V-ing ..." it
# writes four scored pairs (CoSENT ranks the pairs of one file by score):
#   s            s, "A" made "The", final period dropped      5.0
#   s            s negated ("is not V-ing" / "There is no ...")  3.0
#   s negated    another s negated                             0.5
#   s            another s                                     0.5
# so that negation lowers the similarity, but does not by itself make two
# negated sentences alike. English only; deterministic (no random numbers:
# the form and the partner follow from the line's position).
set -eu
[ $# -gt 0 ] || { echo "usage: $0 GROUPS.tsv... > negations.scored.tsv" >&2; exit 2; }
for f; do [ -r "$f" ] || { echo "$0: $f: cannot read it" >&2; exit 1; }; done
cut -f1 "$@" | LC_ALL=C awk '
BEGIN { VING = " (is|are) [A-Za-z]+ing( |$|[.,])" }   # the form negate() rewrites
function negate(s, i,    at, head, be, rest, h) {
    if (!match(s, VING)) return ""
    at = RSTART
    head = substr(s, 1, at)                       # up to and with the space
    rest = substr(s, at + 1)                      # "is V-ing ..."
    be = (substr(rest, 1, 3) == "is ") ? "is" : "are"
    rest = substr(rest, length(be) + 1)           # " V-ing ..."
    h = head
    if (i % 2 == 0 && sub(/^(A|An|The|One|Two|Three|Four|Some|Several|Many) /, "", h))
        return "There " be " no " h substr(rest, 2)
    return head be " not" rest
}
function trivial(s,    t) {
    t = s
    sub(/ ?\.$/, "", t)
    sub(/^(A|An) /, "The ", t)
    return t
}
/^(A|An|The) / && $0 ~ VING {
    if (split($0, w, " ") <= 20 && ++seen % 2 == 0) base[n++] = $0
}
END {
    for (i = 0; i < n; i++) {
        s = base[i]; j = (i * 7919 + 13) % n
        if (j == i) j = (i + 1) % n
        t = base[j]
        printf "%s\t%s\t5.0\n", s, trivial(s)
        printf "%s\t%s\t3.0\n", s, negate(s, i)
        printf "%s\t%s\t0.5\n", negate(s, i), negate(t, j)
        printf "%s\t%s\t0.5\n", s, t
    }
}'
