#!/bin/sh
# store.sh: `semsearch index`, `query`, `info`, `delete` and the SQLite
# extension, end to end with two tiny random models.
. "$top_srcdir/tests/setup.sh"

TINY="--d-model 16 --layers 1 --heads 2 --ffn 32 --max-len 24"
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 1 -o "$T/m1.gguf" 2>/dev/null
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 2 -o "$T/m2.gguf" 2>/dev/null
[ -s "$T/m1.gguf" ] && [ -s "$T/m2.gguf" ]; ok $? "two tiny models"
CORPUS="$top_srcdir/corpora/coco-captions.txt"
head -n 300 "$CORPUS" > "$T/a.txt"
sed -n '301,400p' "$CORPUS" > "$T/b.txt"
DB="$T/s.db"
distinct() { sed 's/^[[:space:]]*//; s/[[:space:]]*$//' "$@" | grep -c . ; }
val() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$T/info"; }
info() { $SEMSEARCH info -d "$1" > "$T/info"; }

# ---------------------------------------------------------------- index
run_ok "index 300 lines" $SEMSEARCH index -d "$DB" -m "$T/m1.gguf" "$T/a.txt"
n_a=$(sort -u "$T/a.txt" | grep -c .)
grep -q "300 lines: $n_a added, $((300 - n_a)) already stored" "$T/err"; ok $? "counts at the end: $(tail -1 "$T/err")"
run_ok "re-running adds nothing" $SEMSEARCH index -d "$DB" -m "$T/m1.gguf" "$T/a.txt"
grep -q "300 lines: 0 added, 300 already stored" "$T/err"; ok $? "every line already stored"
run_ok "index another file, no -m (the model the database records)" \
    $SEMSEARCH index -d "$DB" --source other "$T/b.txt"
info "$DB"
n_b=$(cat "$T/a.txt" "$T/b.txt" | sort -u | grep -c .)
[ "$(val documents)" = "$n_b" ] && [ "$(val sources)" = 2 ] && [ "$(val dim)" = 16 ] &&
    [ "$(val model)" = m1.gguf ] && [ "$(val fts)" = yes ] &&
    # version 2 once a text longer than the tiny model's window is split
    { [ "$(val schema_version)" = 1 ] && [ "$(val passages)" = 0 ] ||
      [ "$(val schema_version)" = 2 ] && [ "$(val passages)" -gt 0 ]; }
ok $? "info: $(val documents) documents, 2 sources, model m1.gguf, dim 16"
[ "$(val model_fingerprint)" = "$(sha256sum "$T/m1.gguf" | cut -d' ' -f1)" ]; ok $? "info: the model's fingerprint"
$SEMSEARCH info -d "$DB" --json > "$T/info.json"
if [ -n "${PYTHON3:-}" ]; then
    "$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["documents"] > 0 and d["fts"] is True, d' \
        "$T/info.json"
    ok $? "info --json is valid JSON"
else
    skip "info --json" "no python3"
fi

# ---------------------------------------------------------------- query
line=$(sed -n 17p "$T/a.txt")
run_ok "query a stored sentence" $SEMSEARCH query -d "$DB" -m "$T/m1.gguf" "$line"
[ "$(wc -l < "$T/out")" -eq 10 ]; ok $? "10 hits by default"
head -1 "$T/out" | awk -F'\t' -v t="$line" '$1 == 1 && $2 == "1.000000" && $4 == t { f = 1 } END { exit !f }'
ok $? "rank 1 is the sentence itself, score 1.000000"
awk -F'\t' 'NR > 1 && $2 > prev { bad = 1 } { prev = $2 } NF != 4 { bad = 1 } END { exit bad }' "$T/out"
ok $? "4 columns, scores never increase"
run_ok "-k 3 --json" $SEMSEARCH query -d "$DB" -k 3 --json "$line"
if [ -n "${PYTHON3:-}" ]; then
    "$PYTHON3" -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1
d = json.loads(lines[0])
assert d["query"] == sys.argv[2] and len(d["results"]) == 3, d
r = d["results"][0]
assert r["rank"] == 1 and r["text"] == sys.argv[2] and abs(r["score"] - 1) < 1e-5, r
' "$T/out" "$line"
    ok $? "--json: one object, 3 results, the sentence first"
else
    skip "--json" "no python3"
fi
sed -n '5p;40p;77p' "$T/a.txt" > "$T/q.txt"
run_ok "one query per stdin line" $SEMSEARCH query -d "$DB" -k 2 < "$T/q.txt"
[ "$(cut -f1,2 "$T/out" | tr '\t\n' ',;')" = "1,1;1,2;2,1;2,2;3,1;3,2;" ]; ok $? "query number and rank columns"
awk -F'\t' '$2 == 1' "$T/out" | cut -f5 > "$T/firsts"
same "each line finds itself first" "$T/q.txt" "$T/firsts"
run_ok "--source other" $SEMSEARCH query -d "$DB" --source other -k 50 "$line"
awk -F'\t' '{ print $4 }' "$T/out" | while IFS= read -r t; do grep -qxF -- "$t" "$T/b.txt" || echo "$t"; done > "$T/notb"
[ -s "$T/out" ] && [ ! -s "$T/notb" ]; ok $? "--source: only documents of that source"
run_ok "--min-score 0.9999" $SEMSEARCH query -d "$DB" --vectors --min-score 0.9999 "$line"
[ "$(wc -l < "$T/out")" -eq 1 ]; ok $? "--min-score leaves the exact match only"
# the alignment rerank (off by default for a model with transformer layers,
# as these tiny ones): the text itself aligns fully, cosine 1 + 0.5 x 1
run_ok "--align 0.5" $SEMSEARCH query -d "$DB" --vectors --align 0.5 -k 3 "$line"
[ "$(head -1 "$T/out" | cut -f2,4)" = "$(printf '1.500000\t%s' "$line")" ]; ok $? "--align 0.5: the sentence first, scoring 1.5"
run_fails "--align -1 is refused, naming the option" "--align" $SEMSEARCH query -d "$DB" --align -1 "$line"
run_ok "--int8" $SEMSEARCH query -d "$DB" --vectors --int8 "$line"
$SEMSEARCH query -d "$DB" --vectors "$line" > "$T/f32.out"
same "--int8 with rescoring gives the same hits" "$T/f32.out" "$T/out"
# hybrid (convex fusion) is the default where the database has its full-text index
$SEMSEARCH query -d "$DB" -k 5 "$line" > "$T/default.out"
$SEMSEARCH query -d "$DB" -k 5 --hybrid --fusion convex --alpha 0.5 "$line" > "$T/hybrid.out"
same "the default is hybrid search (convex fusion, alpha 0.5)" "$T/hybrid.out" "$T/default.out"
head -1 "$T/default.out" | cut -f2 | grep -qx '1.000000'; ok $? "hybrid: the sentence itself scores 1 (first on both sides)"
$SEMSEARCH query -d "$DB" -k 5 --vectors "$line" > "$T/vec.out"
awk -F'\t' '$2 > 1.0001 || $2 < -1.0001 { bad = 1 } END { exit bad }' "$T/vec.out" && ! cmp -s "$T/vec.out" "$T/default.out"
ok $? "--vectors: the vector ranking alone, cosine scores"
$SEMSEARCH query -d "$DB" -k 5 --fusion rrf "$line" > "$T/rrf.out"
head -1 "$T/rrf.out" | cut -f2 | grep -qx '0.032787'; ok $? "--fusion rrf: 2/61 for a document first on both sides"
$SEMSEARCH query -d "$DB" -k 5 --alpha 1 "$line" | cut -f1,3 > "$T/a1.out"
cut -f1,3 "$T/vec.out" > "$T/v1.out"
same "--alpha 1: the vectors' order" "$T/v1.out" "$T/a1.out"
run_fails "--fusion other" "--fusion: 'max' is not convex or rrf" $SEMSEARCH query -d "$DB" --fusion max "$line"
run_fails "--alpha outside [0, 1]" "--alpha" $SEMSEARCH query -d "$DB" --alpha 1.5 "$line"
word=$(echo "$line" | awk '{ print $NF }' | tr -d '.,')
run_ok "--hybrid" $SEMSEARCH query -d "$DB" --hybrid -k 5 "$line"
head -1 "$T/out" | cut -f4 | grep -qxF -- "$line"; ok $? "--hybrid: the sentence itself first"
evil="\"; DROP TABLE documents; -- ' OR 1=1 \"AND\" NEAR( * ^col:x"
run_ok "quotes and SQL/FTS syntax in a query" $SEMSEARCH query -d "$DB" --hybrid "$evil"
run_ok "... and without --hybrid" $SEMSEARCH query -d "$DB" "$evil"
info "$DB"
[ "$(val documents)" = "$n_b" ]; ok $? "the database is untouched"

# ---------------------------------------------------------------- errors
run_fails "a missing database" "nope.db: no such database" $SEMSEARCH query -d "$T/nope.db" "x"
[ ! -e "$T/nope.db" ]; ok $? "querying does not create it"
run_fails "another model: named both" "m1.gguf.*m2.gguf.*--reembed" $SEMSEARCH query -d "$DB" -m "$T/m2.gguf" "x"
run_fails "another model for index too" "m1.gguf.*m2.gguf" $SEMSEARCH index -d "$DB" -m "$T/m2.gguf" "$T/b.txt"
echo "not a database, just text, long enough to fill the header of a file" > "$T/junk.db"
run_fails "a file that is not a database" "junk.db" $SEMSEARCH query -d "$T/junk.db" "x"
run_fails "info on a missing database" "no such database" $SEMSEARCH info -d "$T/nope.db"
if command -v sqlite3 >/dev/null 2>&1; then
    cp "$DB" "$T/newer.db"
    sqlite3 "$T/newer.db" "PRAGMA user_version = 9" && run_fails "a newer schema" "schema version 9 is newer" \
        $SEMSEARCH query -d "$T/newer.db" "x"
else
    skip "a newer schema" "no sqlite3 shell"
fi
# read-only: a file mode for users; root ignores modes, so as root the
# directory also becomes a read-only bind mount in a private mount namespace
mkdir "$T/ro"
cp "$DB" "$T/ro/ro.db"
chmod 444 "$T/ro/ro.db"
ro_run() {
    if [ "$(id -u)" != 0 ]; then "$@"; return; fi
    unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' \
        sh "$T/ro" "$@"
}
if ro_run true 2>/dev/null; then
    run_fails "indexing into a read-only database" "read-only" ro_run $SEMSEARCH index -d "$T/ro/ro.db" "$T/b.txt"
    run_ok "querying a read-only database" ro_run $SEMSEARCH query -d "$T/ro/ro.db" "a dog"
    run_ok "info on a read-only database" ro_run $SEMSEARCH info -d "$T/ro/ro.db"
else
    skip "indexing into a read-only database" "root, and no mount namespace"
    skip "querying a read-only database" "root, and no mount namespace"
    skip "info on a read-only database" "root, and no mount namespace"
fi
printf '{"text": "ok"}\n{"text": 5}\n' > "$T/bad.jsonl"
run_fails "JSONL: a text that is not a string" "bad.jsonl:2: field \"text\" is not a string" \
    $SEMSEARCH index -d "$T/j.db" -m "$T/m1.gguf" --text-field text "$T/bad.jsonl"
printf '{"text": "ok"}\n{"text": "x"\n' > "$T/bad2.jsonl"
run_fails "JSONL: invalid JSON" "bad2.jsonl:2: not a JSON object" \
    $SEMSEARCH index -d "$T/j2.db" -m "$T/m1.gguf" --text-field text "$T/bad2.jsonl"
printf 'a\tb\nc\n' > "$T/bad.tsv"
run_fails "TSV: a missing column" "bad.tsv:2: no column 2" \
    $SEMSEARCH index -d "$T/t2.db" -m "$T/m1.gguf" --text-column 2 "$T/bad.tsv"
run_fails "a bad -k" "--top" $SEMSEARCH query -d "$DB" -k 0 "x"

# ---------------------------------------------------------------- formats
printf 'id1\tA man rides a horse.\nid2\tA dog sleeps.\n\nid3\t\n' > "$T/in.tsv"
run_ok "TSV with --id-column and --text-column" \
    $SEMSEARCH index -d "$T/t.db" -m "$T/m1.gguf" --id-column 1 --text-column 2 "$T/in.tsv"
grep -q "4 lines: 2 added, 0 already stored, 2 empty" "$T/err"; ok $? "empty lines and texts are skipped"
$SEMSEARCH query -d "$T/t.db" -k 1 "A dog sleeps." > "$T/out"
[ "$(cut -f3,4 "$T/out")" = "$(printf 'id2\tA dog sleeps.')" ]; ok $? "the TSV id is printed"
printf '{"id": 7, "body": "A cat on a \\"mat\\".", "lang": "en"}\n{"id": "x", "body": "Snow \\u00e9t\\u00e9."}\n' > "$T/in.jsonl"
run_ok "JSONL with --text-field and --id-field" \
    $SEMSEARCH index -d "$T/j.db" -m "$T/m1.gguf" --text-field body --id-field id "$T/in.jsonl"
$SEMSEARCH query -d "$T/j.db" -k 1 --json 'A cat on a "mat".' > "$T/out"
grep -q '"id":"7","doc":1,"text":"A cat on a \\"mat\\".","source":"[^"]*in.jsonl","meta":{"lang":"en"}' "$T/out"
ok $? "JSONL: id, unescaped text, the other fields as metadata"
$SEMSEARCH query -d "$T/j.db" -k 1 "Snow été." | cut -f3,4 > "$T/out"
[ "$(cat "$T/out")" = "$(printf 'x\tSnow été.')" ]; ok $? "JSONL: \\u escapes decoded"
gzip -c "$T/b.txt" > "$T/b.txt.gz"
run_ok "gzip input" $SEMSEARCH index -d "$T/gz.db" -m "$T/m1.gguf" "$T/b.txt.gz"
grep -q "100 lines: $(sort -u "$T/b.txt" | grep -c .) added" "$T/err"; ok $? "gzip: every line read"

# ---------------------------------------------------------------- delete
id=$($SEMSEARCH query -d "$DB" -k 1 "$line" | cut -f3)
run_ok "delete --id" $SEMSEARCH delete -d "$DB" --id "$id"
grep -q "deleted 1 document" "$T/err"; ok $? "one document deleted"
$SEMSEARCH query -d "$DB" -k 1 "$line" | cut -f4 > "$T/out"
! grep -qxF -- "$line" "$T/out"; ok $? "the deleted sentence is not found"
run_ok "delete an unknown id" $SEMSEARCH delete -d "$DB" --id no-such-id
grep -q "no document with id 'no-such-id'" "$T/err"; ok $? "an unknown id is reported"
run_ok "delete --source other" $SEMSEARCH delete -d "$DB" --source other
info "$DB"
[ "$(val sources)" = 1 ]; ok $? "one source left"
run_ok "re-indexing puts the deleted sentence back" $SEMSEARCH index -d "$DB" "$T/a.txt"
grep -q "300 lines: 1 added" "$T/err"; ok $? "exactly one added"

# ---------------------------------------------------------------- re-embed
run_ok "index --reembed with another model" $SEMSEARCH index -d "$DB" -m "$T/m2.gguf" --reembed
info "$DB"
[ "$(val model)" = m2.gguf ] && [ "$(val documents)" = "$n_a" ]; ok $? "the new model is recorded, no document lost"
run_ok "query with the new model" $SEMSEARCH query -d "$DB" -m "$T/m2.gguf" -k 1 "$line"
[ "$(cut -f2,4 "$T/out")" = "$(printf '1.000000\t%s' "$line")" ]; ok $? "finds the sentence with the new vectors"
run_fails "the old model is now refused" "m2.gguf.*m1.gguf" $SEMSEARCH query -d "$DB" -m "$T/m1.gguf" "x"

# ---------------------------------------------------------------- kill -9
# 4000 distinct lines; the indexer reads the first 2000 from a pipe that
# stays open (so it cannot finish, however fast the machine) and is killed
# as soon as something is committed. tests/crash.sh kills at random moments.
awk '{ print NR ": " $0 }' "$CORPUS" | head -n 4000 > "$T/big.txt"
KDB="$T/k.db"
mkfifo "$T/feed"
$SEMSEARCH index -q -d "$KDB" -m "$T/m1.gguf" -b 64 - < "$T/feed" 2>/dev/null &
pid=$!
exec 3> "$T/feed"
head -n 2000 "$T/big.txt" >&3
i=0
while [ $i -lt 400 ]; do
    n=$($SEMSEARCH info -d "$KDB" 2>/dev/null | awk -F'\t' '$1 == "documents" { print $2 }')
    [ "${n:-0}" -gt 0 ] && break
    sleep 0.05
    i=$((i + 1))
done
$SEMSEARCH query -d "$KDB" -k 1 "a dog" > "$T/conc.out" 2> "$T/conc.err"
conc=$?
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
exec 3>&-
[ $conc -eq 0 ] && [ "$(wc -l < "$T/conc.out")" -eq 1 ]; ok $? "a query while another process indexes (WAL)"
info "$KDB"
before=$(val documents)
[ -n "$before" ] && [ "$before" -gt 0 ] && [ "$before" -le 2000 ]; ok $? "killed with $before of 4000 documents committed"
if command -v sqlite3 >/dev/null 2>&1; then
    [ "$(sqlite3 "$KDB" 'PRAGMA integrity_check')" = ok ]; ok $? "integrity_check ok after kill -9"
else
    skip "integrity_check after kill -9" "no sqlite3 shell"
fi
run_ok "re-run after kill -9" $SEMSEARCH index -d "$KDB" -m "$T/m1.gguf" -b 64 "$T/big.txt"
grep -q "4000 lines: $((4000 - before)) added, $before already stored" "$T/err"; ok $? "adds exactly the missing ones"
info "$KDB"
[ "$(val documents)" = 4000 ]; ok $? "4000 documents: no duplicate, none lost"
if command -v sqlite3 >/dev/null 2>&1; then
    [ "$(sqlite3 "$KDB" 'SELECT count(DISTINCT text) FROM documents')" = 4000 ]; ok $? "4000 distinct texts"
else
    skip "4000 distinct texts" "no sqlite3 shell"
fi

# ---------------------------------------------------------------- extension
EXT="$top_builddir/.libs/semsearch.so"
if command -v sqlite3 >/dev/null 2>&1 && [ -f "$EXT" ] && [ -z "${VALGRIND:-}" ]; then
    ext() { sqlite3 -bail -batch "$@" 2>&1; }
    # a sanitized semsearch.so needs its runtime loaded first into the (plain) sqlite3
    san=$(sed -n 's/^SAN_FLAGS = *//p' "$top_builddir/Makefile" 2>/dev/null)
    if [ -n "$san" ]; then
        cc=$(sed -n 's/^CC = *//p' "$top_builddir/Makefile")
        pre=
        case "$san" in *address*) pre=$($cc -print-file-name=libasan.so) ;; esac
        case "$san" in *undefined*) pre="$pre $($cc -print-file-name=libubsan.so)" ;; esac
        ext() { ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$pre" sqlite3 -bail -batch "$@" 2>&1; }
    fi
    out=$(ext "$KDB" ".load ${EXT%.so}" "select text from semsearch_search('$(sed -n 99p "$T/big.txt")', 3) limit 1")
    [ "$out" = "$(sed -n 99p "$T/big.txt")" ]; ok $? "extension: semsearch_search finds a sentence (model from the db)"
    out=$(ext "$KDB" ".load ${EXT%.so}" "select count(*), min(rank), max(rank) from semsearch_search('a dog', 7)")
    [ "$out" = "7|1|7" ]; ok $? "extension: k rows ranked 1..k"
    out=$(ext "$KDB" ".load ${EXT%.so}" \
        "select round(semsearch_cosine(semsearch_embed('a dog'), semsearch_embed('a dog')), 6), length(semsearch_embed('x'))")
    [ "$out" = "1.0|64" ]; ok $? "extension: semsearch_embed gives 16 floats, cosine of equal vectors 1"
    out=$(ext "$KDB" ".load ${EXT%.so}" \
        "select rank from semsearch_search((select semsearch_embed(text) from documents where id = 5), 1)" \
        "select doc from semsearch_search((select semsearch_embed(text) from documents where id = 5), 1)")
    [ "$out" = "$(printf '1\n5')" ]; ok $? "extension: a vector BLOB as the query"
    out=$(ext "$KDB" ".load ${EXT%.so}" "select semsearch_model('$T/m2.gguf') is not null" \
        "select * from semsearch_search('a dog', 1)")
    echo "$out" | grep -q "m1.gguf.*m2.gguf"; ok $? "extension: another model is refused, naming both"
    out=$(ext "$KDB" ".load ${EXT%.so}" "select semsearch_cosine(x'00', x'0000')")
    echo "$out" | grep -q "same length"; ok $? "extension: cosine of mismatched blobs is an error"
else
    skip "extension" "no sqlite3 shell, no semsearch.so, or under valgrind"
fi


# The full-text index stems English words by default ("runs" finds
# "running"); index --no-stem keeps words as written. The choice is the
# database's own, made once.
printf 'The runner was running fast\nCats sleep all day\nA quiet evening at home\n' >"$T/stem.txt"
run_ok "index: a stemmed full-text index by default" $SEMSEARCH index -q -d "$T/stem.db" "$T/stem.txt"
$SEMSEARCH query -d "$T/stem.db" --alpha 0 --min-score 0.5 "runs" >"$T/out" 2>"$T/err"
[ "$(cut -f4 "$T/out")" = "The runner was running fast" ]; ok $? "stemmed: BM25 alone finds 'running' for 'runs'"
$SEMSEARCH info -d "$T/stem.db" | grep -qx "fts_tokenizer	porter unicode61"; ok $? "info: fts_tokenizer porter unicode61"
run_ok "index --no-stem" $SEMSEARCH index -q --no-stem -d "$T/plain.db" "$T/stem.txt"
$SEMSEARCH query -d "$T/plain.db" --alpha 0 --min-score 0.5 "runs" >"$T/out" 2>"$T/err" && [ ! -s "$T/out" ]
ok $? "--no-stem: BM25 does not match 'runs' with 'running'"
$SEMSEARCH query -d "$T/plain.db" --alpha 0 --min-score 0.5 "running" >"$T/out" 2>"$T/err"
[ "$(cut -f4 "$T/out")" = "The runner was running fast" ]; ok $? "--no-stem: the word as written matches"
$SEMSEARCH info -d "$T/plain.db" --json | grep -q '"fts_tokenizer":"unicode61"'; ok $? "info --json: fts_tokenizer unicode61"
cp "$T/stem.db" "$T/stem.before"
run_fails "index --no-stem on a stemmed database" "stem.db: its full-text index stems English words.*new database only" \
    $SEMSEARCH index -q --no-stem -d "$T/stem.db" "$T/stem.txt"
cmp -s "$T/stem.db" "$T/stem.before"; ok $? "... and the database is unchanged"
run_fails "hybrid over a stemmed and an unstemmed database" "stem.db stems English words in its full-text index and .*plain.db does not" \
    $SEMSEARCH query -d "$T/stem.db" -d "$T/plain.db" --hybrid "runs"
run_ok "... vectors alone search both" $SEMSEARCH query -d "$T/stem.db" -d "$T/plain.db" --vectors -k 6 "runs"
[ "$(wc -l <"$T/out")" -eq 6 ]; ok $? "... all 6 documents"

done_testing
