#!/bin/sh
# eval.sh: `semsearch eval`: the report format (golden file), task choice,
# errors with file:line, plots, and the model path with a tiny random model.
. "$top_srcdir/tests/setup.sh"
small="eval-small.scored.tsv eval-small.labeled.tsv eval-small.groups.tsv"

# The text report of the TF-IDF baseline, byte for byte (names as given).
(cd "$DATA" && $SEMSEARCH eval --baseline-only $small) >"$T/report" 2>"$T/err"
ok $? "eval --baseline-only on the small test files"
same "text report = golden file" "$GOLDEN/eval-baseline.txt" "$T/report"

run_ok "--json" $SEMSEARCH eval -B --json "$DATA/eval-small.scored.tsv" "$DATA/eval-small.groups.tsv"
[ "$(wc -l <"$T/out")" -eq 2 ]; ok $? "--json: one line per file"
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 1 2>/dev/null; then
    "$PYTHON3" - "$T/out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["task"] == "sts" and rows[0]["pairs"] == 16 and "model" not in rows[0]
assert abs(rows[0]["tfidf"]["spearman"] * 100 - 46.24) < 0.005, rows[0]
assert rows[1]["task"] == "retrieval" and rows[1]["queries"] == 8 and rows[1]["texts"] == 24
assert abs(rows[1]["tfidf"]["ndcg_at_10"] * 100 - 74.26) < 0.005, rows[1]
EOF
    ok $? "--json: valid JSON with the same numbers as the table (raw, not x100)"
else
    skip "--json is valid JSON" "no python3"
fi

# The task from --task, and stdin.
$SEMSEARCH eval -B --task sts - <"$DATA/eval-small.scored.tsv" >"$T/stdin" 2>"$T/err"
ok $? "--task sts reads stdin"
sed -n '2,3p' "$T/report" >"$T/want"
sed -n '2,3p' "$T/stdin" >"$T/got"
same "stdin gives the same numbers as the file" "$T/want" "$T/got"
gzip -c "$DATA/eval-small.labeled.tsv" >"$T/small.labeled.tsv.gz"
$SEMSEARCH eval -B "$T/small.labeled.tsv.gz" >"$T/gz" 2>"$T/err"
ok $? "gzip input (.labeled.tsv.gz) is recognized"
sed -n '7p' "$T/report" >"$T/want"
sed -n '3p' "$T/gz" >"$T/got"
same "gzip input gives the same numbers" "$T/want" "$T/got"
cp "$DATA/eval-small.labeled.tsv" "$T/pairs.tsv"
run_ok "--task pairs on a file with another name" $SEMSEARCH eval -B --task pairs "$T/pairs.tsv"
run_fails "stdin needs --task" "<stdin>: cannot tell the task.*--task" $SEMSEARCH eval -B -
run_fails "an unknown name needs --task" "pairs.tsv: cannot tell the task" $SEMSEARCH eval -B "$T/pairs.tsv"
run_fails "a bad --task" "--task: 'nli' is not sts, pairs or retrieval" $SEMSEARCH eval -B --task nli "$T/pairs.tsv"

# Bad input: file:line, exit 1, nothing on stdout (even after a good file).
printf 'a\tb\t1\nc\td\n' >"$T/bad.scored.tsv"
run_fails "missing field" "bad.scored.tsv:2: expected 3 tab-separated fields, got 2" \
    $SEMSEARCH eval -B "$DATA/eval-small.scored.tsv" "$T/bad.scored.tsv"
[ ! -s "$T/out" ]; ok $? "no partial report on stdout"
printf 'a\tb\t1\nc\td\tfour\n' >"$T/bad.scored.tsv"
run_fails "non-numeric score" "bad.scored.tsv:2: score 'four' is not a number" $SEMSEARCH eval -B "$T/bad.scored.tsv"
printf 'a\tb\t1\nc\td\tyes\n' >"$T/bad.labeled.tsv"
run_fails "label not 0/1" "bad.labeled.tsv:2: label 'yes' is not 0 or 1" $SEMSEARCH eval -B "$T/bad.labeled.tsv"
printf 'only one text\n' >"$T/bad.groups.tsv"
run_fails "a group of one" "bad.groups.tsv:1: expected 2 or more tab-separated texts, got 1" \
    $SEMSEARCH eval -B "$T/bad.groups.tsv"
: >"$T/empty.scored.tsv"
run_fails "empty file" "empty.scored.tsv: no pairs" $SEMSEARCH eval -B "$T/empty.scored.tsv"
: >"$T/empty.groups.tsv"
run_fails "empty groups file" "empty.groups.tsv: no groups" $SEMSEARCH eval -B "$T/empty.groups.tsv"
printf 'a b\ta c\t3\nd e\td f\t3\nx\ty\t3\n' >"$T/flat.scored.tsv"
run_fails "constant gold scores" "flat.scored.tsv: correlation undefined: every gold score is 3" \
    $SEMSEARCH eval -B "$T/flat.scored.tsv"
printf 'a b\tc d\t1\ne f\tg h\t2\n' >"$T/nooverlap.scored.tsv"
run_fails "constant similarities" "nooverlap.scored.tsv: correlation undefined: every similarity is 0" \
    $SEMSEARCH eval -B "$T/nooverlap.scored.tsv"
printf 'a b\ta c\t1\nd e\td f\t1\n' >"$T/one.labeled.tsv"
run_fails "one class" "one.labeled.tsv: pair classification needs labels 0 and 1; all 2 pairs are 1" \
    $SEMSEARCH eval -B "$T/one.labeled.tsv"
run_fails "a missing file" "nosuch.scored.tsv" $SEMSEARCH eval -B "$T/nosuch.scored.tsv"

# Plots.
run_ok "--plot a ROC curve" $SEMSEARCH eval -B --plot "$T/roc.svg" "$DATA/eval-small.labeled.tsv"
grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$T/roc.svg" && grep -q '>ROC curve: eval-small.labeled.tsv<' "$T/roc.svg" &&
    grep -q '>false positive rate<' "$T/roc.svg" && grep -q '>tf-idf (AUC 0.750)<' "$T/roc.svg" &&
    grep -q '>chance<' "$T/roc.svg"
ok $? "the ROC plot has its title, axis label and legend"
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 1 2>/dev/null; then
    for kind in scored groups; do
        $SEMSEARCH eval -B --plot "$T/$kind.svg" "$DATA/eval-small.$kind.tsv" >/dev/null 2>&1
    done
    "$PYTHON3" -c 'import sys, xml.etree.ElementTree as E
for f in sys.argv[1:]: E.parse(f)' "$T/roc.svg" "$T/scored.svg" "$T/groups.svg"
    ok $? "the ROC, scatter and recall@k plots are well-formed XML"
else
    skip "plots are well-formed XML" "no python3"
fi
run_fails "--plot draws one file" "give exactly one FILE" $SEMSEARCH eval -B --plot "$T/x.svg" "$DATA/eval-small.scored.tsv" \
    "$DATA/eval-small.labeled.tsv"
run_fails "--plot into a missing directory" "nodir/x.svg" $SEMSEARCH eval -B --plot "$T/nodir/x.svg" \
    "$DATA/eval-small.labeled.tsv"
[ ! -e "$T/nodir" ] && [ ! -s "$T/out" ]; ok $? "no report when the plot cannot be written"

# Models.
run_fails "-m with --baseline-only" "baseline-only uses no model" $SEMSEARCH eval -B -m x.gguf "$DATA/eval-small.scored.tsv"
run_fails "a missing model" "nosuch.gguf" $SEMSEARCH eval -m "$T/nosuch.gguf" "$DATA/eval-small.scored.tsv"
run_fails "no model: says how to get the baseline alone" "baseline-only" \
    no_defaults eval --baseline "$DATA/eval-small.scored.tsv"
if $SEMSEARCH model init -v "$VOCAB" --d-model 32 --layers 1 --heads 2 --ffn 64 -o "$T/tiny.gguf" >/dev/null 2>&1; then
    (cd "$DATA" && $SEMSEARCH eval -m "$T/tiny.gguf" --baseline $small) >"$T/both" 2>"$T/err"
    ok $? "eval -m MODEL --baseline"
    grep -v '^model ' "$T/both" >"$T/got"
    same "--baseline: the tf-idf rows and layout are those of --baseline-only" "$GOLDEN/eval-baseline.txt" "$T/got"
    [ "$(grep -c '^model ' "$T/both")" -eq 3 ]; ok $? "a model row for each file"
    (cd "$DATA" && $SEMSEARCH eval -m "$T/tiny.gguf" $small) >"$T/model" 2>"$T/err"
    ok $? "eval -m MODEL"
    ! grep -q '^tf-idf' "$T/model" && [ "$(grep -c '^model ' "$T/model")" -eq 3 ]
    ok $? "without --baseline: model rows only"
    run_ok "--plot with a model" $SEMSEARCH eval -m "$T/tiny.gguf" --baseline --plot "$T/m.svg" "$DATA/eval-small.groups.tsv"
    grep -q '>model (nDCG@10 ' "$T/m.svg" && grep -q '>tf-idf (nDCG@10 74.3)<' "$T/m.svg"
    ok $? "the recall@k plot has both systems"
else
    skip "eval with a model" "model init failed"
fi
$SEMSEARCH eval --help >"$T/out" 2>&1; s=$?
[ $s -eq 0 ] && grep -q 'default: the shipped models/en-base.gguf' "$T/out"; ok $? "eval --help shows the defaults"
done_testing
