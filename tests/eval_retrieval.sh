#!/bin/sh
# eval_retrieval.sh: `semsearch eval` on queries/corpus/qrels retrieval data
# (the TSV triple and BEIR's layout): the report (golden file), the ways of
# naming a data set, --json, --plot, several files, bad input with
# file:line. The metrics, BM25 and hybrid against an independent reference:
# tests/eval_retrieval_ref.sh.
. "$top_srcdir/tests/setup.sh"

# The report of BM25 alone, byte for byte.
(cd "$DATA" && $SEMSEARCH eval --baseline-only ir-small) >"$T/report" 2>"$T/err"
ok $? "eval --baseline-only NAME"
same "text report = golden file" "$GOLDEN/eval-retrieval-baseline.txt" "$T/report"
# English stemming is the default (as index makes databases); --no-stem is
# BM25 over the words as written, the figure tests/eval_retrieval_ref.sh
# checks against a naive BM25
(cd "$DATA" && $SEMSEARCH eval -B --no-stem ir-small) >"$T/plain" 2>"$T/err" &&
    grep -q '^bm25  *81.47  *100.00  *100.00  *83.33  *79.17$' "$T/plain" && grep -q ' unicode61 words joined' "$T/plain" &&
    grep -q '^bm25  *79.93 ' "$T/report" && grep -q ' porter-stemmed unicode61 words' "$T/report"
ok $? "eval --no-stem: BM25 over unstemmed words (81.47), the default stems (79.93)"
for form in ir-small.queries.tsv ir-small.corpus.tsv ir-small.qrels.tsv ir-small/; do
    (cd "$DATA" && $SEMSEARCH eval -B "$form") >"$T/form" 2>"$T/err"
    sed -n '2,3p' "$T/report" >"$T/want"
    sed -n '2,3p' "$T/form" >"$T/got"
    same "named by $form: the same numbers" "$T/want" "$T/got"
done
mkdir "$T/gz"
gzip -c "$DATA/ir-small.corpus.tsv" >"$T/gz/ir-small.corpus.tsv.gz"
gzip -c "$DATA/ir-small.qrels.tsv" >"$T/gz/ir-small.qrels.tsv"
cp "$DATA/ir-small.queries.tsv" "$T/gz/"
for form in ir-small ir-small.corpus.tsv.gz; do
    $SEMSEARCH eval -B "$T/gz/$form" >"$T/form" 2>"$T/err"
    sed -n '2,3p' "$T/form" >"$T/got"
    same "gzip-compressed parts (NAME.corpus.tsv.gz; named $form): the same numbers" "$T/want" "$T/got"
done
$SEMSEARCH eval -B --task retrieval "$DATA/ir-small" >"$T/forced" 2>"$T/err"
ok $? "--task retrieval takes queries/corpus/qrels data too"

# BEIR's layout: the same corpus, one more query (of another split).
run_ok "a BEIR directory" $SEMSEARCH eval -B "$DATA/beir-small"
sed -n '2,3p' "$T/report" >"$T/want"
sed -n '2,3p' "$T/out" >"$T/got"
same "BEIR: the numbers of the TSV triple" "$T/want" "$T/got"
grep -q '7 queries over 12 documents (11 judgements; 4 queries scored, 2 without judgements skipped, 1 without a relevant one skipped)' "$T/out"
ok $? "BEIR: the query without judgements in this split is skipped and counted"
run_ok "a BEIR qrels file named directly" $SEMSEARCH eval -B "$DATA/beir-small/qrels/test.tsv"

# --json: every metric of each system, raw.
run_ok "--json" $SEMSEARCH eval -B --json "$DATA/ir-small" "$DATA/eval-small.scored.tsv"
[ "$(wc -l <"$T/out")" -eq 2 ]; ok $? "--json: one line per file"
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 1 2>/dev/null; then
    "$PYTHON3" - "$T/out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = rows[0]
assert r["task"] == "retrieval" and r["layout"] == "tsv" and r["queries"] == 6 and r["documents"] == 12, r
assert r["judgements"] == 11 and r["scored"] == 4 and r["skipped_unjudged"] == 1 and r["skipped_no_relevant"] == 1, r
assert "model" not in r and "hybrid" not in r, r
assert set(r["bm25"]) == {"ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10", "map_at_100", "seconds"}, r
assert abs(r["bm25"]["ndcg_at_10"] * 100 - 79.93) < 0.005, r
assert r["settings"]["tokenizer"] == "porter unicode61", r
assert r["settings"]["k1"] == 1.2 and r["settings"]["rrf_k"] == 60 and r["settings"]["hybrid_depth"] == 100, r
assert rows[1]["task"] == "sts"
EOF
    ok $? "--json: valid JSON, every metric, the same numbers as the table"
else
    skip "--json is valid JSON" "no python3"
fi

# Several files: one table each, in order.
(cd "$DATA" && $SEMSEARCH eval -B eval-small.scored.tsv ir-small eval-small.groups.tsv) >"$T/multi" 2>"$T/err"
ok $? "eval over a pair file, a retrieval set and a groups file"
grep -c ': STS, \|: retrieval, ' "$T/multi" | grep -qx 3 && sed -n '5p' "$T/multi" | grep -q '^ir-small: retrieval'
ok $? "one table per file, in order"

# Bad input: file:line, exit 1, nothing on stdout (even after a good file).
bad() { # bad DESC PATTERN: the triple $T/b.* fails with PATTERN, nothing printed
    run_fails "$1" "$2" $SEMSEARCH eval -B "$DATA/eval-small.scored.tsv" "$T/b"
    [ ! -s "$T/out" ]; ok $? "$1: no partial report"
}
reset() { cp "$DATA/ir-small.queries.tsv" "$T/b.queries.tsv"; cp "$DATA/ir-small.corpus.tsv" "$T/b.corpus.tsv"
    cp "$DATA/ir-small.qrels.tsv" "$T/b.qrels.tsv"; }
reset; printf 'q1\td1\t1\nqx\td1\t1\n' >"$T/b.qrels.tsv"
bad "qrels: an unknown query" "b.qrels.tsv:2: query 'qx' is not in .*b.queries.tsv"
reset; printf 'q1\td1\t1\n\nq1\tdx\t1\n' >"$T/b.qrels.tsv"
bad "qrels: an unknown document" "b.qrels.tsv:3: document 'dx' is not in .*b.corpus.tsv"
reset; printf 'q1\td1\t1\nq1\td5\t1\nq1\td1\t2\n' >"$T/b.qrels.tsv"
bad "qrels: a duplicate judgement" "b.qrels.tsv:3: duplicate judgement of query 'q1' and document 'd1' \\(first on line 1\\)"
reset; printf 'q1\td1\n' >"$T/b.qrels.tsv"
bad "qrels: a missing column" "b.qrels.tsv:1: expected 3 tab-separated fields \\(query id, document id, relevance\\), got 2"
reset; printf 'q1\td1\t1\nq1\td2\thigh\n' >"$T/b.qrels.tsv"
bad "qrels: a non-numeric relevance" "b.qrels.tsv:2: relevance 'high' is not an integer"
reset; printf 'q1\td1\t0.5\n' >"$T/b.qrels.tsv"
bad "qrels: a fractional relevance" "b.qrels.tsv:1: relevance '0.5' is not an integer"
reset; printf 'q1\td1\t-1\n' >"$T/b.qrels.tsv"
bad "qrels: a negative relevance" "b.qrels.tsv:1: relevance -1 is out of range"
reset; printf 'q1\td1\t0\n' >"$T/b.qrels.tsv"
bad "qrels: nothing relevant" "b.qrels.tsv: no query has a relevant judgement"
reset; : >"$T/b.qrels.tsv"
bad "qrels: empty" "b.qrels.tsv: no judgements"
reset; printf 'd1\ta\nd2\tb\nd1\tc\n' >"$T/b.corpus.tsv"
bad "corpus: a duplicate id" "b.corpus.tsv:3: duplicate id 'd1' \\(first on line 1\\)"
reset; printf 'q1\ta\nq1\tb\n' >"$T/b.queries.tsv"
bad "queries: a duplicate id" "b.queries.tsv:2: duplicate id 'q1' \\(first on line 1\\)"
reset; printf 'd1\ta\nd2\n' >"$T/b.corpus.tsv"
bad "corpus: a missing column" "b.corpus.tsv:2: expected 2 tab-separated fields \\(id, text\\), got 1"
reset; printf '\tno id\n' >"$T/b.corpus.tsv"
bad "corpus: an empty id" "b.corpus.tsv:1: empty id"
reset; : >"$T/b.corpus.tsv"
bad "an empty corpus" "b.corpus.tsv: no documents"
reset; rm "$T/b.qrels.tsv"
bad "a missing qrels file" "b.qrels.tsv"
cp -r "$DATA/beir-small" "$T/beir"
rm -r "$T/beir/qrels"
run_fails "a BEIR directory without qrels" "beir: a BEIR directory without qrels/test.tsv or qrels/dev.tsv" \
    $SEMSEARCH eval -B "$DATA/eval-small.scored.tsv" "$T/beir"
[ ! -s "$T/out" ]; ok $? "... and no partial report"
mkdir "$T/beir/qrels"
cp "$DATA/beir-small/qrels/test.tsv" "$T/beir/qrels/dev.tsv"
run_ok "BEIR: qrels/dev.tsv when there is no test.tsv" $SEMSEARCH eval -B "$T/beir"
echo '{"_id": "d99", "title": "x", "text": 5}' >>"$T/beir/corpus.jsonl"
run_fails "BEIR: a text that is not a string" 'corpus.jsonl:13: "text" is not a string' $SEMSEARCH eval -B "$T/beir"
cp "$DATA/beir-small/corpus.jsonl" "$T/beir/corpus.jsonl"
echo '{"_id": "d1", "text": "again"}' >>"$T/beir/corpus.jsonl"
run_fails "BEIR: a duplicate id" 'corpus.jsonl:13: duplicate id .d1. \(first on line 1\)' $SEMSEARCH eval -B "$T/beir"
cp "$DATA/beir-small/corpus.jsonl" "$T/beir/corpus.jsonl"
echo '{"text": "no id"}' >>"$T/beir/queries.jsonl"
run_fails "BEIR: no _id" 'queries.jsonl:8: no "_id"' $SEMSEARCH eval -B "$T/beir"
echo '{"_id": "q9", "text": "cut' >"$T/beir/queries.jsonl"
run_fails "BEIR: broken JSON" 'queries.jsonl:1: not a JSON object on one line' $SEMSEARCH eval -B "$T/beir"

# --runs: TREC runs of each system, written whole when everything succeeded.
run_ok "--runs" $SEMSEARCH eval -B --runs "$T/run" "$DATA/ir-small"
[ -s "$T/run.bm25.trec" ] && [ ! -e "$T/run.model.trec" ] && [ ! -e "$T/run.hybrid.trec" ]
ok $? "--runs with --baseline-only: the BM25 run alone"
awk 'NF != 6 || $2 != "Q0" || $6 != "semsearch-bm25" { bad = 1 } END { exit bad }' "$T/run.bm25.trec" &&
    [ "$(cut -d' ' -f1 "$T/run.bm25.trec" | sort -u | tr '\n' ' ')" = "d6 q1 q3 q6 " ] &&
    ! grep -q '^d6 Q0 d6 ' "$T/run.bm25.trec"
ok $? "--runs: qid Q0 docid rank score run, the scored queries only, no query's own document"
run_fails "--runs needs exactly one retrieval data set" "give exactly one \\(got 2\\)" \
    $SEMSEARCH eval -B --runs "$T/run2" "$DATA/ir-small" "$DATA/beir-small"
reset; printf 'q1\tdx\t1\n' >"$T/b.qrels.tsv"
run_fails "--runs on bad data" "b.qrels.tsv:1: document 'dx'" $SEMSEARCH eval -B --runs "$T/run3" "$T/b"
[ ! -e "$T/run3.bm25.trec" ]; ok $? "--runs: no run file after an error"
run_fails "--runs: a later file fails" "nosuch.scored.tsv" \
    $SEMSEARCH eval -B --runs "$T/run4" "$DATA/ir-small" "$T/nosuch.scored.tsv"
[ ! -e "$T/run4.bm25.trec" ]; ok $? "--runs: no run file when a later file fails"

# The model, BM25 and hybrid; the plot of all three.
run_ok "eval with the shipped model" $SEMSEARCH eval "$DATA/ir-small"
grep -q '^model ' "$T/out" && grep -q '^bm25 ' "$T/out" && grep -q '^hybrid ' "$T/out"
ok $? "model, bm25 and hybrid rows"
run_ok "--plot" $SEMSEARCH eval --plot "$T/r.svg" "$DATA/ir-small"
grep -q '>Recall@k: ir-small<' "$T/r.svg" && grep -q '>model (nDCG@10 ' "$T/r.svg" &&
    grep -q '>bm25 (nDCG@10 79.9, recall@100 100.0)<' "$T/r.svg" && grep -q '>hybrid (nDCG@10 ' "$T/r.svg"
ok $? "the recall@k plot has its title and the three systems"


# The model-selection suite (models/eval-suite.sh) on a small data folder.
S=$T/suite/eval
mkdir -p "$S/zeroshot" "$S/retrieval"
cp "$DATA/eval-small.scored.tsv" "$S/stsb-dev.scored.tsv"
cp "$DATA/eval-small.scored.tsv" "$S/sick-dev.scored.tsv"
cp "$DATA/eval-small.labeled.tsv" "$S/msrp-dev.labeled.tsv"
cp "$DATA/eval-small.scored.tsv" "$S/zeroshot/one.scored.tsv"
cp "$DATA/eval-small.scored.tsv" "$S/zeroshot/two.scored.tsv"
cp "$DATA"/ir-small.* "$S/retrieval/"
cp -r "$DATA/beir-small" "$S/retrieval/"
suite() { SEMSEARCH="$top_builddir/semsearch" "$top_srcdir/models/eval-suite.sh" "$@"; }
suite "" "$T/suite" >"$T/suite.txt" 2>"$T/err"
ok $? "models/eval-suite.sh runs every dev set"
grep -q '^STS-B  *stsb-dev  *spearman  *[0-9.]*  *46.24  *-$' "$T/suite.txt" &&
    grep -q '^MRPC  *msrp-dev  *auc ' "$T/suite.txt" &&
    grep -q '^retrieval  *ir-small  *ndcg@10  *[0-9.]*  *79.93  *[0-9.]*$' "$T/suite.txt" &&
    grep -q '^retrieval  *beir-small  *ndcg@10 ' "$T/suite.txt" &&
    grep -q '^zero-shot STS  *2  *spearman ' "$T/suite.txt" && grep -q '^overall  *5 kinds' "$T/suite.txt"
ok $? "suite: a row per set, a mean per kind, the overall mean"
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 1 2>/dev/null; then
    suite --json "" "$T/suite" >"$T/suite.json" 2>"$T/err" && "$PYTHON3" - "$T/suite.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
kinds = {k["kind"]: k for k in r["kinds"]}
assert list(kinds) == ["STS-B", "SICK", "MRPC", "zero-shot STS", "retrieval"], kinds
assert kinds["retrieval"]["sets"] == 2 and abs(kinds["retrieval"]["baseline"] - 0.7993) < 5e-5, kinds
assert abs(kinds["STS-B"]["baseline"] - 0.4624) < 5e-5 and kinds["STS-B"]["hybrid"] is None, kinds
means = [k["model"] for k in r["kinds"]]
assert abs(r["overall"]["model"] - sum(means) / 5) < 1e-9, r["overall"]
assert len(r["files"]) == 7 and r["files"][5]["task"] == "retrieval", r["files"]
EOF
    ok $? "suite --json: sets, kinds, overall and every file's eval --json"
else
    skip "suite --json" "no python3"
fi
done_testing
