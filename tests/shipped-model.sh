#!/bin/sh
# shipped-model.sh: the shipped default model is the one models/README.md
# describes, is the default of every command, and keeps its measured quality.
. "$top_srcdir/tests/setup.sh"
M="$top_srcdir/models/en-base.gguf"
if [ ! -f "$M" ]; then skip "the shipped model" "models/en-base.gguf is absent"; done_testing; exit $?; fi

run_ok "model info on the shipped model" $SEMSEARCH model info
fp=$(sed -n 's/^fingerprint\t//p' "$T/out")
grep -q "$fp" "$top_srcdir/models/README.md"; ok $? "its fingerprint is the one models/README.md gives ($fp)"
grep -q '^dtype	f16$' "$T/out"; ok $? "it is stored in f16"
grep -q '^normalization	nfkc+split-punct$' "$T/out"; ok $? "it splits punctuation off words (models/train-default.sh)"

# Paraphrases are nearer than unrelated sentences.
printf 'A man is playing a guitar.\nA person plays an acoustic guitar.\nThe stock market fell sharply today.\n' > "$T/three.txt"
# cos_1_2_1_3 < EMBEDDINGS: the cosines of text 1 with texts 2 and 3 (unit vectors)
cos_1_2_1_3() {
    awk -F'\t' '{for(i=1;i<=NF;i++) v[NR,i]=$i; n=NF}
        END{for(i=1;i<=n;i++){a+=v[1,i]*v[2,i]; b+=v[1,i]*v[3,i]}; printf "%.3f %.3f\n", a, b}'
}
run_ok "embed with the default model" $SEMSEARCH embed "$T/three.txt"
set -- $(cos_1_2_1_3 < "$T/out"); echo "# cos(paraphrase)=$1 cos(unrelated)=$2"
awk -v a="$1" -v b="$2" 'BEGIN{exit !(a > b + 0.2)}'
ok $? "a paraphrase is nearer than an unrelated sentence"

# Negation lowers the similarity (models/make-negations.sh): 0.885 against 0.998
# for the same sentence with another article (0.896 with the MRPC pairs at
# weight 1; 0.940 before the graded negations).
printf 'The man is slicing a potato.\nThe man is not slicing a potato.\nA man is slicing a potato.\n' > "$T/neg.txt"
run_ok "embed a sentence and its negation" $SEMSEARCH embed "$T/neg.txt"
set -- $(cos_1_2_1_3 < "$T/out"); echo "# cos(negation)=$1 cos(article)=$2"
awk -v a="$1" -v b="$2" 'BEGIN{exit !(a < b - 0.08)}'
ok $? "a negated sentence is further than the same sentence with another article"

# dev_metric NAME FILE KEY MIN README: the model's KEY (spearman, auc) on a dev
# file of the shared data beside the checkout is at least MIN (README:
# models/README.md's figure)
dev_metric() {
    if [ ! -f "$2" ]; then skip "eval on $1" "no ../shared/data beside the checkout"; return; fi
    run_ok "eval on $1" $SEMSEARCH eval --json "$2"
    v=$(sed -n "s/.*\"$3\":\([-0-9.e]*\).*/\1/p" "$T/out" | head -1)
    echo "# $1 $3: $v"
    awk -v r="$v" -v m="$4" 'BEGIN{exit !(r >= m)}'; ok $? "$1 $3 >= $4 (models/README.md: $5)"
}
E="$top_srcdir/../shared/data/eval"
dev_metric "STS-B dev" "$E/stsb-dev.scored.tsv" spearman 0.83 83.48
# Negation and relatedness: the graded negations of the CoSENT stage.
dev_metric "SICK dev" "$E/sick-dev.scored.tsv" spearman 0.76 "76.84; 74.38 before the graded negations"
# Near-paraphrases of news: the MRPC training pairs at weight 3 in the CoSENT stage.
dev_metric "MRPC dev" "$E/msrp-dev.labeled.tsv" auc 0.78 "78.76; 77.46 with them at weight 1"
# Tweets against headlines: hashtags and brackets, what --split-punct is for.
dev_metric "zero-shot tweet-news" "$E/zeroshot/sts2014.tweet-news.scored.tsv" spearman 0.70 "70.26; 62.17 without --split-punct"
done_testing
