#!/bin/sh
# train.sh: `semsearch train` from the shell on tiny models and data:
# groups, scored/labeled pairs and plain text, the cosent loss, bad input, exact resumption,
# Ctrl-C, NaN, evaluation, metrics and plot.
. "$top_srcdir/tests/setup.sh"

GRP="$DATA/coco-100.groups.tsv"
$SEMSEARCH tokenizer train -i "$top_srcdir/corpora/coco-captions.txt" --vocab-size 300 --threads 1 -o "$T/tok.model" 2>"$T/err"
ok $? "a tiny tokenizer for the tests"
# one thread: tiny matrices gain nothing from two, and a loaded machine makes threads wait
TINY="-v $T/tok.model --d-model 32 --layers 1 --heads 2 --ffn 64 --max-len 32 -b 16 -q -t 1"
# the loss column (and step, epoch, lr, grad norm, temperature) of a metrics file
curve() { cut -d, -f1-6 "$1"; }

# --- usage and refusals
$SEMSEARCH train >"$T/out" 2>&1 </dev/null; s=$?
[ $s -eq 0 ] && grep -q 'usage: semsearch train' "$T/out"; ok $? "a bare 'train' prints its usage"
grep -q 'default 64' "$T/out" && grep -q 'MODEL.best.gguf' "$T/out"; ok $? "the usage shows defaults"
run_fails "no --data: a usage error" "no --data given" $SEMSEARCH train -o "$T/x.gguf"
run_fails "no --output: a usage error" "no --output given" $SEMSEARCH train --data "$GRP"
run_fails "--init and --resume together" "exclude each other" $SEMSEARCH train -o "$T/x.gguf" --data "$GRP" --init a --resume b
run_fails "a bad loss name" "--loss: 'hinge'" $SEMSEARCH train -o "$T/x.gguf" --data "$GRP" --loss hinge
run_fails "stdin twice" "only once" $SEMSEARCH train -o "$T/x.gguf" --data - --data -:2
run_fails "a missing data file is named" "/nonexistent/d.groups.tsv" $SEMSEARCH train -o "$T/x.gguf" --data /nonexistent/d.groups.tsv $TINY
: > "$T/empty.txt"
run_fails "empty data is refused" "empty.txt: no training examples" $SEMSEARCH train -o "$T/x.gguf" --data "$T/empty.txt" $TINY
head -20 "$GRP" > "$T/bad.groups.tsv"
echo "a single text" >> "$T/bad.groups.tsv"
head -30 "$GRP" | tail -10 >> "$T/bad.groups.tsv"
run_fails "a malformed line: file:line" "bad.groups.tsv:21: expected 2 or more" $SEMSEARCH train -o "$T/x.gguf" --data "$T/bad.groups.tsv" $TINY --steps 2
[ ! -e "$T/x.gguf" ] && [ ! -e "$T/x.ckpt.gguf" ]; ok $? "nothing is written after bad data"
run_ok "--skip-bad skips it" $SEMSEARCH train -o "$T/x.gguf" --data "$T/bad.groups.tsv" $TINY --steps 2 --skip-bad
grep -q 'skipped 1 malformed line (the first: .*bad.groups.tsv:21:' "$T/err"; ok $? "--skip-bad reports the count and the first"
printf 'a\tb\t4.0\nc\td\t1.0\n' > "$T/p.scored.tsv"
run_fails "a scored file needs --min-score" "needs --min-score" $SEMSEARCH train -o "$T/x.gguf" --data "$T/p.scored.tsv" $TINY

# --- training from paraphrase groups
run_ok "train from groups" $SEMSEARCH train -o "$T/g.gguf" --data "$GRP" $TINY --steps 60 --lr 3e-3 --metrics "$T/g.csv"
$SEMSEARCH model info -m "$T/g.gguf" >"$T/info" 2>&1; ok $? "the model is a valid model file"
[ -s "$T/g.ckpt.gguf" ]; ok $? "the final checkpoint is beside it (g.ckpt.gguf)"
[ "$(head -1 "$T/g.csv")" = "step,epoch,loss,lr,grad_norm,temperature,seconds,dev_spearman" ] && [ "$(wc -l < "$T/g.csv")" -eq 61 ]
ok $? "the metrics file has a header and one line per step"
# the loss falls: mean of the last 10 steps below the mean of the first 10
awk -F, 'NR>1 && NR<=11 {a+=$3} NR>51 {b+=$3} END {exit !(b < 0.75 * a)}' "$T/g.csv"; ok $? "the loss falls on groups (last 10 steps < 0.75 x first 10)"
head -3 "$top_srcdir/corpora/coco-captions.txt" | $SEMSEARCH embed -m "$T/g.gguf" >"$T/emb" 2>"$T/err"
[ $? -eq 0 ] && [ "$(wc -l < "$T/emb")" -eq 3 ]; ok $? "the trained model embeds"

# --- plain text (SimCSE, augmentation), scored, labeled, weights
head -400 "$top_srcdir/corpora/coco-captions.txt" > "$T/c.txt"
cat "$T/c.txt" | $SEMSEARCH train -o "$T/t.gguf" --data - $TINY --steps 20 --metrics "$T/t.csv" 2>"$T/err"
ok $? "train from plain text on stdin (dropout views)"
gzip -c "$T/c.txt" > "$T/c.txt.gz"
run_ok "train from gzip text with augmentation" $SEMSEARCH train -o "$T/a.gguf" --data "$T/c.txt.gz" $TINY --steps 20 --aug-delete 0.1 --aug-crop 0.3 --aug-swap 0.1
awk -F'\t' 'NR<=60 {print $1 "\t" $2 "\t" (NR % 3 ? 4.5 : 1.0)}' "$GRP" > "$T/s.scored.tsv"
awk -F'\t' 'NR<=60 {print $1 "\t" $3 "\t" (NR % 2)}' "$GRP" > "$T/l.labeled.tsv"
run_ok "train from scored, labeled and groups with weights" $SEMSEARCH train -o "$T/m.gguf" --data "$T/s.scored.tsv" --min-score 4 \
    --data "$T/l.labeled.tsv:2" --data "$GRP:0.5" $TINY --steps 10 --curriculum overlap
$SEMSEARCH train -o "$T/m.gguf" --data "$T/s.scored.tsv" --min-score 4 --data "$T/l.labeled.tsv:2" \
    $(echo "$TINY" | sed 's/-q//') --steps 1 2>"$T/err" >/dev/null
grep -q 's.scored.tsv: 40 pairs from 60 lines (20 not used), weight 1' "$T/err" &&
    grep -q 'l.labeled.tsv: 30 pairs from 60 lines (30 not used), weight 2' "$T/err"
ok $? "each data file is summed up: positives used, lines not used, weight"
for loss in "ntxent" "triplet" "infonce --learn-temperature" "ntxent --learn-temperature"; do
    run_ok "train with --loss $loss" $SEMSEARCH train -o "$T/l.gguf" --data "$GRP" $TINY --steps 6 --loss $loss --metrics "$T/l.csv"
done
awk -F, 'NR==2 {a=$6} END {exit !($6 != a)}' "$T/l.csv"; ok $? "a learned temperature changes"

# --- cosent: graded pairs ranked by score (two captions of one image 5, of two images 0-1)
awk -F'\t' '{t[NR] = $1; u[NR] = $2; v[NR] = $3} END {for (i = 1; i <= NR; i++) {
    j = i % NR + 1; print t[i] "\t" u[i] "\t5"; print t[i] "\t" u[j] "\t" (i % 2); print v[i] "\t" t[j] "\t0.5" }}' "$GRP" > "$T/g.scored.tsv"
run_fails "cosent refuses --min-score" "min-score does not apply to --loss cosent" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/g.scored.tsv" --min-score 4 --loss cosent $TINY
run_fails "cosent needs graded pairs" "the cosent loss needs graded pairs .*none of the 100 examples" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$GRP" --loss cosent $TINY
run_fails "cosent has no temperature to learn" "no temperature to learn" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/g.scored.tsv" --loss cosent --learn-temperature $TINY
{ head -7 "$T/g.scored.tsv"; printf 'a cat\ta dog\thigh\n'; } > "$T/bad.scored.tsv"
run_fails "cosent: a bad score is FILE:LINE" "bad.scored.tsv:8: score 'high' is not a number" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/bad.scored.tsv" --loss cosent $TINY
{ head -4 "$T/l.labeled.tsv"; printf 'a cat\ta dog\t1\na cat\ta dog\t2\n'; } > "$T/bad.labeled.tsv"
run_fails "cosent: a bad label is FILE:LINE" "bad.labeled.tsv:6: " \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/bad.labeled.tsv" --loss cosent $TINY
run_ok "train with --loss cosent on every pair of a scored file" $SEMSEARCH train -o "$T/cs.gguf" --data "$T/g.scored.tsv" \
    $TINY --steps 60 --lr 1e-3 --loss cosent --metrics "$T/cs.csv"
awk -F, 'NR>1 && NR<=11 {a+=$3} NR>51 {b+=$3} END {exit !(b < 0.8 * a)}' "$T/cs.csv"; ok $? "the cosent loss falls (last 10 steps < 0.8 x first 10)"
$SEMSEARCH train -o "$T/cs.gguf" --data "$T/g.scored.tsv" $(echo "$TINY" | sed 's/-q//') --steps 1 --loss cosent \
    --cosent-scale 10 --metrics "$T/cs1.csv" 2>"$T/err" >/dev/null
grep -q 'g.scored.tsv: 300 pairs from 300 lines (0 not used)' "$T/err" && grep -q 'loss cosent' "$T/err" &&
    awk -F, 'NR==2 {exit !($6 == 0.1)}' "$T/cs1.csv"
ok $? "cosent uses every pair; the metrics' temperature is 1/--cosent-scale"
run_ok "cosent with paraphrase groups too (InfoNCE on their pairs)" $SEMSEARCH train -o "$T/cm.gguf" --data "$T/g.scored.tsv" \
    --data "$GRP" $TINY --steps 20 --lr 3e-3 --loss cosent --metrics "$T/cm.csv"
awk -F, 'NR>1 && NR<=6 {a+=$3} NR>16 {b+=$3} END {exit !(b < a)}' "$T/cm.csv"; ok $? "the mixed loss falls"
# exact resumption with cosent: 12 steps straight = stop at 5, resume
RC="--data $T/g.scored.tsv --data $T/l.labeled.tsv --data $GRP:0.3 --loss cosent --steps 12 --lr 3e-3"
$SEMSEARCH train -o "$T/cr1.gguf" $RC $TINY --metrics "$T/cr1.csv" 2>"$T/err"; ok $? "cosent: a straight run on scored and labeled files"
$SEMSEARCH train -o "$T/cr2.gguf" $RC $TINY --metrics "$T/cr2.csv" --stop-at 5 2>"$T/err" &&
    $SEMSEARCH train -o "$T/cr2.gguf" $RC -b 16 --max-len 32 -q -t 1 --resume "$T/cr2.ckpt.gguf" --metrics "$T/cr2.csv" 2>"$T/err"
ok $? "cosent: stopped at step 5 and resumed"
curve "$T/cr1.csv" > "$T/c1"; curve "$T/cr2.csv" > "$T/c2"
same "cosent: the resumed run has the same loss curve" "$T/c1" "$T/c2"
cmp -s "$T/cr1.gguf" "$T/cr2.gguf"; ok $? "cosent: and the identical model"
run_fails "cosent: resuming as infonce is refused" "loss cosent" \
    $SEMSEARCH train -o "$T/cr2.gguf" --data "$T/g.scored.tsv" --data "$T/l.labeled.tsv" --min-score 4 --steps 12 -b 16 -q --resume "$T/cr2.ckpt.gguf"

# --- fine-tuning
run_ok "fine-tune with --init" $SEMSEARCH train -o "$T/f.gguf" --init "$T/g.gguf" --data "$GRP" -b 16 -q -t 1 --steps 5 --lr 1e-4
run_fails "--init with a shape option" "make a new model; not with --init" $SEMSEARCH train -o "$T/f.gguf" --init "$T/g.gguf" --data "$GRP" --layers 2
run_fails "--resume of a plain model suggests --init" "not a training checkpoint.*--init" $SEMSEARCH train -o "$T/f.gguf" --resume "$T/g.gguf" --data "$GRP" -q

# --- exact resumption: 24 steps straight = 9 steps, stop, resume to 24
R="--data $GRP --data $T/c.txt.gz --aug-delete 0.1 --aug-swap 0.1 -b 16 --steps 24 --max-len 32 -q -t 1"
$SEMSEARCH train -o "$T/r1.gguf" $R $TINY --metrics "$T/r1.csv" --save-every 5 --loss ntxent --learn-temperature 2>"$T/err"
ok $? "a straight run"
$SEMSEARCH train -o "$T/r2.gguf" $R $TINY --metrics "$T/r2.csv" --save-every 5 --loss ntxent --learn-temperature --stop-at 9 2>"$T/err"; s=$?
[ $s -eq 0 ] && grep -q 'stopped after step 9 of 24; resume with --resume' "$T/err" && [ ! -e "$T/r2.gguf" ]
ok $? "--stop-at 9 stops with a checkpoint and no model"
run_fails "resuming with another seed is refused" "resume with the same --data, --seed" \
    $SEMSEARCH train -o "$T/r2.gguf" $R --resume "$T/r2.ckpt.gguf" --seed 7 --loss ntxent --learn-temperature
run_ok "resume" $SEMSEARCH train -o "$T/r2.gguf" $R --resume "$T/r2.ckpt.gguf" --metrics "$T/r2.csv" --save-every 5 --loss ntxent --learn-temperature
curve "$T/r1.csv" > "$T/c1"; curve "$T/r2.csv" > "$T/c2"
same "the resumed run has the same loss curve, step for step" "$T/c1" "$T/c2"
[ "$(wc -l < "$T/c2")" -eq 25 ]; ok $? "the metrics file of the resumed run covers all 24 steps"
cmp -s "$T/r1.gguf" "$T/r2.gguf"; ok $? "and ends with the identical model, bit for bit"

# --- Ctrl-C: a checkpoint, a clean exit (130), and it resumes
env --default-signal=INT $SEMSEARCH train -o "$T/i.gguf" --data "$GRP" $TINY --steps 1000000 --save-every 0 --metrics "$T/i.csv" 2>"$T/ierr" &
pid=$!
n=0
while [ "$(cat "$T/i.csv" 2>/dev/null | wc -l)" -lt 5 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
kill -INT $pid
wait $pid; s=$?
[ $s -eq 130 ]; ok $? "Ctrl-C: exit 130 (got $s)"
grep -q 'stopped after step [0-9]* of 1000000; resume with --resume .*i.ckpt.gguf' "$T/ierr"; ok $? "Ctrl-C: the message says how to resume"
$SEMSEARCH model info -m "$T/i.ckpt.gguf" >/dev/null 2>&1 && [ ! -e "$T/i.gguf" ]; ok $? "Ctrl-C: a valid checkpoint, no final model"
ls "$T" | grep -q '\.tmp\.'; ok $(( $? == 0 )) "no temporary file is left behind"
run_ok "the interrupted run resumes (and ends at once with --steps 1)" $SEMSEARCH train -o "$T/i.gguf" --data "$GRP" -b 16 --max-len 32 -q --steps 1 --resume "$T/i.ckpt.gguf"
[ -s "$T/i.gguf" ]; ok $? "the resumed run writes the model"

# --- NaN: stop, keep the last good checkpoint, write no model
$SEMSEARCH train -o "$T/n.gguf" --data "$GRP" $TINY --steps 50 --lr 1e6 --grad-clip 0 --warmup 0 --save-every 1 2>"$T/err"; s=$?
[ $s -eq 1 ] && grep -q 'the loss is NaN.*the last good checkpoint is .*n.ckpt.gguf (step [0-9]*)' "$T/err"
ok $? "a NaN loss stops training with a message"
[ ! -e "$T/n.gguf" ] && $SEMSEARCH model info -m "$T/n.ckpt.gguf" >/dev/null 2>&1; ok $? "no model written; the last checkpoint is finite"

# --- dev evaluation, best model, metrics and plot
awk -F'\t' 'NR>60 {print $1 "\t" $2 "\t5"; getline nx; split(nx, f, "\t"); print $1 "\t" f[2] "\t0"}' "$GRP" > "$T/dev.scored.tsv"
run_ok "train with --eval" $SEMSEARCH train -o "$T/e.gguf" --data "$GRP" $TINY --steps 20 --eval "$T/dev.scored.tsv" --eval-every 10 --metrics "$T/e.csv" --plot "$T/e.svg"
[ -s "$T/e.best.gguf" ]; ok $? "the best model by dev score is e.best.gguf"
[ "$(awk -F, 'NR>1 && $8 != ""' "$T/e.csv" | wc -l)" -eq 2 ]; ok $? "the metrics file has the dev score at steps 10 and 20"
grep -q '<svg' "$T/e.svg" && grep -q 'dev Spearman' "$T/e.svg"; ok $? "the plot is an SVG with the dev curve"
grep -q 'best .* at step' "$T/err"; ok $? "the summary names the best step"

# --- documents and triplets: a folder of text, a paragraphs file, hard negatives
mkdir -p "$T/docs/sub"
printf '# Cats\n\nCats are small animals. They purr when they are happy and sleep a lot.\n\n## Food\nCats eat fish and mice every day of the week.\n' > "$T/docs/cats.md"
printf 'A file with no heading. It has two sentences.\n\nIts second paragraph is here with some more words.\n' > "$T/docs/sub/plain.txt"
awk -F'\t' '{ printf "d%d\tcaption %d\t\t%s %s\n", NR, NR % 7, $1, $2 }' "$GRP" > "$T/c.paragraphs.tsv"
awk -F'\t' 'NR > 1 { print prev "\t" $1 "\t" $2 } { prev = $1 }' "$GRP" | head -40 > "$T/h.triplets.tsv"
$SEMSEARCH train -o "$T/doc.gguf" --data "$T/docs" --data "$T/c.paragraphs.tsv" --data "$T/h.triplets.tsv" $TINY \
    --steps 6 --save-every 0 2>"$T/err"
ok $? "train on a folder, a paragraphs file and triplets"
$SEMSEARCH train -o "$T/doc.gguf" --data "$T/docs" --data "$T/c.paragraphs.tsv" --data "$T/h.triplets.tsv" \
    -v "$T/tok.model" --d-model 32 --layers 1 --heads 2 --ffn 64 --max-len 32 -b 16 -t 1 --steps 1 --save-every 0 2>"$T/err"
grep -q 'docs: 2 documents' "$T/err" && grep -q 'c.paragraphs.tsv: 100 documents' "$T/err" &&
    grep -q 'h.triplets.tsv: 40 triplets' "$T/err"
ok $? "the summary counts documents and triplets"
run_fails "triplets need infonce" "hard negatives .triplets. are for the infonce loss" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/h.triplets.tsv" $TINY --loss ntxent --steps 1
run_fails "a bad --doc-pairs" "--doc-pairs: 'words' is no kind of document pair" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/docs" $TINY --doc-pairs words:1 --steps 1
printf 'd1\tT\tS\tok\nd2\tthree\tfields\n' > "$T/bad.paragraphs.tsv"
run_fails "a malformed paragraphs line: file:line" "bad.paragraphs.tsv:2: expected 4 tab-separated fields" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$T/bad.paragraphs.tsv" $TINY --steps 1
D="--data $T/docs --data $T/c.paragraphs.tsv --data $T/h.triplets.tsv --data $GRP --doc-pairs title:1,ict:2,crop:1 --steps 14"
$SEMSEARCH train -o "$T/d1.gguf" $D $TINY --metrics "$T/d1.csv" --save-every 4 2>"$T/err"
ok $? "documents and triplets: a straight run"
$SEMSEARCH train -o "$T/d2.gguf" $D $TINY --save-every 4 --stop-at 5 2>"$T/err"
$SEMSEARCH train -o "$T/d2.gguf" $D -b 16 -q -t 1 --max-len 32 --resume "$T/d2.ckpt.gguf" --metrics "$T/d2.csv" --save-every 4 2>"$T/err"
ok $? "documents and triplets: stopped at step 5 and resumed"
cmp -s "$T/d1.gguf" "$T/d2.gguf"; ok $? "documents and triplets: the resumed run ends with the identical model"
# documents give each epoch its own pairs, so epochs differ a little in
# batches: the count shown is the one asked for (this seed's last epoch is
# short, so its run ends with a few steps of a fifth pass, shown as 5/5)
$SEMSEARCH train -o "$T/ep.gguf" --data "$T/c.paragraphs.tsv:2" --data "$T/h.triplets.tsv" --data "$GRP" \
    -v "$T/tok.model" --d-model 32 --layers 1 --heads 2 --ffn 64 --max-len 32 -b 32 -t 1 -e 4 --seed 1 \
    --save-every 0 2>"$T/err"
grep -o 'epoch [0-9]*/[0-9]*' "$T/err" | sort -u | tr '\n' ' ' > "$T/epochs"
[ "$(cat "$T/epochs")" = "epoch 1/4 epoch 2/4 epoch 3/4 epoch 4/4 epoch 5/5 " ]
ok $? "-e 4: the log counts epochs out of 4, not re-estimated from each epoch ($(cat "$T/epochs"))"

# --- a static first stage, then a transformer from its embeddings; gradient caching
$SEMSEARCH train -o "$T/static.gguf" --data "$GRP" -v "$T/tok.model" --d-model 32 --layers 0 --max-len 32 -b 16 -q -t 1 \
    --steps 4 --save-every 0 --dropout 0 2>"$T/err"
ok $? "a static model (--layers 0) trains"
$SEMSEARCH train -o "$T/tx.gguf" --init-embeddings "$T/static.gguf" --layers 1 --heads 2 --ffn 64 --max-len 32 \
    --data "$GRP" -b 16 -q -t 1 --steps 2 --save-every 0 --grad-cache 5 2>"$T/err"
ok $? "--init-embeddings: a transformer from the static model's embeddings, trained with --grad-cache"
$SEMSEARCH model info -m "$T/tx.gguf" > "$T/info" 2>&1
grep -q 'layers.*1' "$T/info"; ok $? "the new model has the transformer's shape"
# the blocks start as the identity: before training moves them, the
# transformer embeds exactly as the static model it stands on
$SEMSEARCH train -o "$T/tx0.gguf" --init-embeddings "$T/static.gguf" --layers 2 --heads 2 --ffn 64 \
    --data "$GRP" -b 16 -q -t 1 --steps 1 --lr 1e-20 --dropout 0 --save-every 0 2>"$T/err"
printf 'the first line\nand a second, longer one of words\n' > "$T/two.txt"
$SEMSEARCH embed -m "$T/static.gguf" < "$T/two.txt" > "$T/e_static" &&
    $SEMSEARCH embed -m "$T/tx0.gguf" < "$T/two.txt" > "$T/e_tx0"
paste "$T/e_static" "$T/e_tx0" | awk -F'\t' '{ n = NF / 2; for (i = 1; i <= n; i++) { d = $i - $(i + n);
    if (d > 1e-6 || d < -1e-6) bad++ } } END { exit !(NR == 2 && n == 32 && !bad) }'
ok $? "--init-embeddings: the new transformer starts computing what the static model computes"
$SEMSEARCH train -o "$T/txf.gguf" --init "$T/tx0.gguf" --embedding-lr 0 --data "$GRP" -b 16 -q -t 1 --steps 2 \
    --save-every 0 2>"$T/err"
ok $? "--embedding-lr 0: the blocks train on a frozen table"
run_fails "--embedding-lr below 0" "--embedding-lr" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$GRP" $TINY --embedding-lr -1 --steps 1
run_fails "--init-embeddings with another width" "embeddings are .* x 32, the new model's .* x 64" \
    $SEMSEARCH train -o "$T/x.gguf" --init-embeddings "$T/static.gguf" --d-model 64 --layers 1 --data "$GRP" -q --steps 1
run_fails "--init-embeddings with --init" "starts a new model; not with --init" \
    $SEMSEARCH train -o "$T/x.gguf" --init-embeddings "$T/static.gguf" --init "$T/static.gguf" --data "$GRP" --steps 1
run_fails "--grad-cache with ntxent" "gradient caching is for the infonce loss" \
    $SEMSEARCH train -o "$T/x.gguf" --data "$GRP" $TINY --loss ntxent --grad-cache 4 --steps 1
G="--data $GRP --data $T/h.triplets.tsv --steps 10 --grad-cache 6 --dropout 0.1"
$SEMSEARCH train -o "$T/g1.gguf" $G $TINY --save-every 3 2>"$T/err"
$SEMSEARCH train -o "$T/g2.gguf" $G $TINY --save-every 3 --stop-at 4 2>"$T/err"
$SEMSEARCH train -o "$T/g2.gguf" $G -b 16 -q -t 1 --max-len 32 --resume "$T/g2.ckpt.gguf" --save-every 3 2>"$T/err"
cmp -s "$T/g1.gguf" "$T/g2.gguf"; ok $? "--grad-cache: a stopped and resumed run ends with the identical model"

# --- mine: hard negatives by the model, as triplets
$SEMSEARCH mine -m "$T/static.gguf" -q -o "$T/m.triplets.tsv" "$GRP" 2>"$T/err"
ok $? "mine: triplets from groups"
[ "$(wc -l < "$T/m.triplets.tsv")" -eq "$(wc -l < "$GRP")" ] && [ "$(awk -F'\t' 'NF != 3' "$T/m.triplets.tsv" | wc -l)" -eq 0 ]
ok $? "mine: one triplet (3 fields) per group"
# the negative is never a text of the anchor's own group
awk -F'\t' 'NR == FNR { for (i = 1; i <= NF; i++) g[$1] = g[$1] "\t" $i "\t"; next }
    { if (index(g[$1], "\t" $3 "\t")) bad++ } END { exit bad > 0 }' "$GRP" "$T/m.triplets.tsv"
ok $? "mine: no negative is a paraphrase of its anchor"
$SEMSEARCH mine -m "$T/static.gguf" -q --skip 0 --range 1 "$GRP" > "$T/m0.tsv" 2>"$T/err"
$SEMSEARCH mine -m "$T/static.gguf" -q --skip 0 --range 1 "$GRP" > "$T/m1.tsv" 2>"$T/err"
cmp -s "$T/m0.tsv" "$T/m1.tsv"; ok $? "mine: the same input and seed give the same negatives"
cmp -s "$T/m0.tsv" "$T/m.triplets.tsv"; [ $? -ne 0 ]; ok $? "mine: --skip and --range change the negatives"
$SEMSEARCH train -o "$T/mt.gguf" --data "$T/m.triplets.tsv" $TINY --steps 2 --save-every 0 2>"$T/err"
ok $? "mine: its output trains"
run_fails "mine: plain text has no pairs" "plain text has no pairs" $SEMSEARCH mine -m "$T/static.gguf" "$T/c.txt.gz"
run_fails "mine: no input" "no input file" $SEMSEARCH mine -m "$T/static.gguf"
run_fails "mine: a malformed line is FILE:LINE" "bad.groups.tsv:21: expected 2 or more" $SEMSEARCH mine -m "$T/static.gguf" "$T/bad.groups.tsv"

done_testing
