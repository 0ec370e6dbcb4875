#!/bin/sh
# shards.sh: one collection in several databases (#16): `query -d A -d B`
# merges their top k as one database holding every document would rank it.
. "$top_srcdir/tests/setup.sh"

TINY="--d-model 16 --layers 1 --heads 2 --ffn 32 --max-len 24"
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 1 -o "$T/m1.gguf" 2>/dev/null
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 2 -o "$T/m2.gguf" 2>/dev/null
[ -s "$T/m1.gguf" ] && [ -s "$T/m2.gguf" ]; ok $? "two tiny models"
CORPUS="$top_srcdir/corpora/coco-captions.txt"
# distinct lines: a text repeated in two databases is two documents there,
# one in a single database
head -n 600 "$CORPUS" | awk '!seen[$0]++' > "$T/all.txt"
awk 'NR % 2 == 1' "$T/all.txt" > "$T/odd.txt"
awk 'NR % 2 == 0' "$T/all.txt" > "$T/even.txt"
head -n 40 "$T/all.txt" > "$T/queries.txt"
# -b 1: each text embedded alone, so that a text's vector is the same bits in
# every database (a batch's padding changes the float rounding of its rows)
for d in all odd even; do
    run_ok "index $d.txt" $SEMSEARCH index -b 1 -d "$T/$d.db" -m "$T/m1.gguf" "$T/$d.txt"
done

# the text and score columns: document numbers and sources differ by design
hits() { cut -f1,3,5 "$1"; }

# ------------------------------------------------------- vector search: exact
$SEMSEARCH query -d "$T/all.db" --vectors -k 25 < "$T/queries.txt" > "$T/one" 2>/dev/null
$SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" --vectors -k 25 < "$T/queries.txt" > "$T/two" 2>"$T/err"
ok $? "query -d odd -d even"
[ "$(wc -l < "$T/one")" -eq 1000 ]; ok $? "40 queries x 25 hits from one database"
hits "$T/one" > "$T/one.h"; hits "$T/two" > "$T/two.h"
same "two databases: the same hits and scores (to the printed 6 digits) as one" "$T/one.h" "$T/two.h"
$SEMSEARCH query -d "$T/even.db" -d "$T/odd.db" --vectors -k 25 < "$T/queries.txt" 2>/dev/null | cut -f1,3,5 > "$T/two.h"
same "the order of -d does not matter" "$T/one.h" "$T/two.h"
$SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" --vectors --int8 -k 5 < "$T/queries.txt" > "$T/i8" 2>"$T/err"
$SEMSEARCH query -d "$T/all.db" --vectors --int8 -k 5 < "$T/queries.txt" > "$T/i8one" 2>/dev/null
hits "$T/i8" > "$T/i8.h"; hits "$T/i8one" > "$T/i8one.h"
same "--int8 over two databases: as one" "$T/i8one.h" "$T/i8.h"
line=$(sed -n 7p "$T/all.txt")
run_ok "one TEXT over two databases" $SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" -k 3 --json "$line"
grep -q '"db":"[^"]*odd.db"' "$T/out" && grep -q "\"rank\":1,\"score\":1.000000" "$T/out"
ok $? "--json names each hit's database; the text itself is rank 1"
$SEMSEARCH query -d "$T/all.db" -k 10 --vectors --min-score 0.8 "$line" | cut -f1,2,4 > "$T/a" 2>/dev/null
$SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" -k 10 --vectors --min-score 0.8 "$line" | cut -f1,2,4 > "$T/b" 2>/dev/null
same "--min-score over two databases" "$T/a" "$T/b"

# ------------------------------------------------------------------- hybrid
# BM25 with the statistics of both databases together: one database's scores
$SEMSEARCH query -d "$T/all.db" --hybrid -k 10 < "$T/queries.txt" > "$T/one" 2>/dev/null
$SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" --hybrid -k 10 < "$T/queries.txt" > "$T/hy" 2>"$T/err"
ok $? "--hybrid over two databases"
hits "$T/one" > "$T/one.h"; hits "$T/hy" > "$T/hy.h"
[ "$(wc -l < "$T/one.h")" -eq 400 ]; same "--hybrid (convex): the hits and fused scores of one database" "$T/one.h" "$T/hy.h"
$SEMSEARCH query -d "$T/all.db" --hybrid --fusion rrf -k 10 < "$T/queries.txt" 2>/dev/null | cut -f1,3,5 > "$T/one.h"
$SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" --hybrid --fusion rrf -k 10 < "$T/queries.txt" 2>/dev/null | cut -f1,3,5 > "$T/hy.h"
same "--hybrid --fusion rrf: as one database" "$T/one.h" "$T/hy.h"
$SEMSEARCH query -d "$T/all.db" --hybrid -k 5 "zzqxv a frisbee" 2>/dev/null | cut -f1,2,4 > "$T/a"
$SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" --hybrid -k 5 "zzqxv a frisbee" 2>/dev/null | cut -f1,2,4 > "$T/b"
same "--hybrid, a word no database has: as one database" "$T/a" "$T/b"

# ------------------------------------------------------------------ errors
$SEMSEARCH index -b 1 -d "$T/other.db" -m "$T/m2.gguf" "$T/even.txt" 2>/dev/null
run_fails "databases of two models: an error naming them" "other.db.*m2.gguf.*m1.gguf" \
    $SEMSEARCH query -d "$T/odd.db" -d "$T/other.db" "a dog"
run_fails "one database twice: an error" "are the same database" \
    $SEMSEARCH query -d "$T/odd.db" -d "$T/even.db" -d "$T/./odd.db" "a dog"
run_fails "a missing database among several" "nope.db" \
    $SEMSEARCH query -d "$T/odd.db" -d "$T/nope.db" "a dog"
$SEMSEARCH index -b 1 -d "$T/src.db" -m "$T/m1.gguf" --source only "$T/odd.txt" 2>/dev/null
run_ok "--source that one of the databases has" \
    $SEMSEARCH query -d "$T/src.db" -d "$T/even.db" --source only -k 3 "a dog"
[ "$(wc -l < "$T/out")" -eq 3 ]; ok $? "... finds its documents"
run_fails "--source that none has" "no source 'zzz' in any of the 2 databases" \
    $SEMSEARCH query -d "$T/src.db" -d "$T/even.db" --source zzz "a dog"

# ---------------------------------------------------------- index --shard
# the corpus as it is, repeated lines included: a text's shard is a hash of
# its bytes, so a repeated text lands in one shard and is stored once
head -n 600 "$CORPUS" > "$T/raw.txt"
run_ok "index the raw corpus into one database" $SEMSEARCH index -b 1 -d "$T/raw.db" -m "$T/m1.gguf" "$T/raw.txt"
for i in 0 1; do
    run_ok "index --shard $i/2 -d shard%r.db" \
        $SEMSEARCH index -b 1 --shard $i/2 -d "$T/shard%r.db" -m "$T/m1.gguf" "$T/raw.txt"
done
grep -q "600 lines: [0-9]* added, [0-9]* already stored, 0 empty, [0-9]* for other shards (this is shard 1/2)" "$T/err"
ok $? "the summary counts the other shards' lines: $(tail -1 "$T/err")"
n_raw=$($SEMSEARCH info -d "$T/raw.db" | awk -F'\t' '$1 == "documents" { print $2 }')
n0=$($SEMSEARCH info -d "$T/shard0.db" | awk -F'\t' '$1 == "documents" { print $2 }')
n1=$($SEMSEARCH info -d "$T/shard1.db" | awk -F'\t' '$1 == "documents" { print $2 }')
[ "$n0" -gt 0 ] && [ "$n1" -gt 0 ] && [ $((n0 + n1)) -eq "$n_raw" ]
ok $? "two shards of $n0 and $n1 documents: together the $n_raw of one database"
$SEMSEARCH query -d "$T/raw.db" --vectors -k 25 < "$T/queries.txt" 2>/dev/null | cut -f1,3,5 > "$T/one.h"
$SEMSEARCH query -d "$T/shard0.db" -d "$T/shard1.db" --vectors -k 25 < "$T/queries.txt" 2>/dev/null | cut -f1,3,5 > "$T/two.h"
[ -s "$T/one.h" ]; same "2 shards + query -d -d: the hits and scores of one database" "$T/one.h" "$T/two.h"
run_fails "--shard 2/2" "--shard: '2/2' is not I/N" $SEMSEARCH index --shard 2/2 -d "$T/x.db" "$T/raw.txt"
run_fails "--shard 1" "is not I/N" $SEMSEARCH index --shard 1 -d "$T/x.db" "$T/raw.txt"
[ ! -e "$T/x.db" ]; ok $? "no database made for a bad --shard"
if command -v mpirun > /dev/null 2>&1; then
    # as root (CI's container) Open MPI wants to be told
    MPIRUN="mpirun --oversubscribe -np 2"
    [ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
    run_ok "mpirun -np 2 semsearch index -d mpi%r.db" \
        $MPIRUN $SEMSEARCH index -q -b 1 -d "$T/mpi%r.db" -m "$T/m1.gguf" "$T/raw.txt"
    $SEMSEARCH query -d "$T/mpi0.db" -d "$T/mpi1.db" --vectors -k 25 < "$T/queries.txt" 2>/dev/null | cut -f1,3,5 > "$T/two.h"
    same "the ranks' shards searched together: as one database" "$T/one.h" "$T/two.h"
    run_fails "mpirun -np 2 index without %r in -d: an error" "put %r \\(the rank\\) in -d" \
        $MPIRUN $SEMSEARCH index -q -d "$T/one-for-all.db" -m "$T/m1.gguf" "$T/raw.txt"
else
    skip "mpirun -np 2 semsearch index" "no mpirun"
fi

# ------------------------------------------------------- serve -d A -d B
if command -v curl > /dev/null 2>&1 && [ -n "${PYTHON3:-}" ]; then
    $SEMSEARCH serve --port 0 -d "$T/shard0.db" -d "$T/shard1.db" 2> "$T/log" &
    SPID=$!
    w=0; PORT=
    while [ -z "$PORT" ] && [ $w -lt 600 ] && kill -0 $SPID 2>/dev/null; do
        PORT=$(sed -n 's|^semsearch: serving on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$T/log")
        sleep 0.05; w=$((w + 1))
    done
    [ -n "$PORT" ]; ok $? "serve -d shard0 -d shard1 starts"
    line=$(sed -n 9p "$T/raw.txt")
    printf '{"query": "%s", "k": 8, "hybrid": false}' "$line" > "$T/req.json"
    curl -s -X POST --data-binary @"$T/req.json" "http://127.0.0.1:$PORT/search" > "$T/s.json"
    $SEMSEARCH query -d "$T/raw.db" --vectors -k 8 --json "$line" > "$T/q.json" 2>/dev/null
    "$PYTHON3" -c '
import json, sys
s = json.load(open(sys.argv[1]))
q = json.loads(open(sys.argv[2]).read())
a = [(r["text"], round(r["score"], 5)) for r in s["results"]]
b = [(r["text"], round(r["score"], 5)) for r in q["results"]]
assert a == b and len(a) == 8, (a, b)
assert {r["db"].split("/")[-1] for r in s["results"]} <= {"shard0.db", "shard1.db"}
' "$T/s.json" "$T/q.json"
    ok $? "serve /search over two shards: the hits and scores of one database"
    kill -TERM $SPID; wait $SPID
    run_fails "serve --allow-write with two databases: refused" "one database" \
        $SEMSEARCH serve --port 0 --allow-write -d "$T/shard0.db" -d "$T/shard1.db"
else
    skip "serve -d A -d B" "no curl or python3"
fi

done_testing
