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
run_ok "embed with the default model" $SEMSEARCH embed "$T/three.txt"
awk -F'\t' '{for(i=1;i<=NF;i++) v[NR,i]=$i; n=NF}
    END{for(i=1;i<=n;i++){a+=v[1,i]*v[2,i]; b+=v[1,i]*v[3,i]}
        printf "# cos(paraphrase)=%.3f cos(unrelated)=%.3f\n", a, b; exit !(a > b + 0.2)}' "$T/out"
ok $? "a paraphrase is nearer than an unrelated sentence"

# The dev score of models/README.md, where the shared data is beside the checkout.
dev="$top_srcdir/../shared/data/eval/stsb-dev.scored.tsv"
if [ -f "$dev" ]; then
    run_ok "eval on STS-B dev" $SEMSEARCH eval --json "$dev"
    rho=$(sed -n 's/.*"spearman":\([-0-9.e]*\).*/\1/p' "$T/out" | head -1)
    echo "# STS-B dev Spearman: $rho"
    awk -v r="$rho" 'BEGIN{exit !(r >= 0.835)}'; ok $? "STS-B dev Spearman >= 0.835 (models/README.md: 84.28)"
else
    skip "eval on STS-B dev" "no ../shared/data beside the checkout"
fi
# Tweets against headlines: hashtags and brackets, what --split-punct is for.
tw="$top_srcdir/../shared/data/eval/zeroshot/sts2014.tweet-news.scored.tsv"
if [ -f "$tw" ]; then
    run_ok "eval on zero-shot tweet-news" $SEMSEARCH eval --json "$tw"
    rho=$(sed -n 's/.*"spearman":\([-0-9.e]*\).*/\1/p' "$T/out" | head -1)
    echo "# tweet-news Spearman: $rho"
    awk -v r="$rho" 'BEGIN{exit !(r >= 0.70)}'; ok $? "tweet-news Spearman >= 0.70 (models/README.md: 71.11; 62.17 without --split-punct)"
else
    skip "eval on zero-shot tweet-news" "no ../shared/data beside the checkout"
fi
done_testing
