#!/bin/sh
# passages.sh: long documents split into passages (issue #13): index splits a
# text longer than the model's window into overlapping passages, each with
# its vector; query finds a document by its best passage, once, and prints
# that passage; delete, --reembed, --source and the schema keep them whole;
# --no-passages cuts the text and says so. End to end with the shipped model
# on a license text among 300 Wikipedia sentences.
. "$top_srcdir/tests/setup.sh"

MODEL="$top_srcdir/models/en-base.gguf"
if [ ! -s "$MODEL" ]; then skip "passages" "no shipped model"; done_testing; exit $?; fi
head -n 300 "$top_srcdir/corpora/wiki-sentences-5k.txt" > "$T/c.txt"
# the license as one document (one line), with 30 more sentences between its
# grant and its liability clause, so that the clause lies far past the
# model's window (W tokens, its positions less [CLS] and [SEP])
W=$($SEMSEARCH model info -m "$MODEL" | sed -n 's/^max_len\t//p'); W=$((W - 2))
{ sed -n '1,13p' "$top_srcdir/LICENSE"; sed -n '301,330p' "$top_srcdir/corpora/wiki-sentences-5k.txt"
  sed -n '14,21p' "$top_srcdir/LICENSE"; } | tr '\n' ' ' >> "$T/c.txt"
echo >> "$T/c.txt"
Q="not liable for any claim or damages"
count() { sqlite3 "$1" "$2" 2>/dev/null || "${PYTHON3:-python3}" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$1" "$2"; }

run_ok "index with passages (the default)" $SEMSEARCH index -q -d "$T/p.db" -m "$MODEL" "$T/c.txt"
grep -q "long texts\? split into [0-9]* passages of at most $W tokens" "$T/err"; ok $? "index says how many texts it split: $(grep split "$T/err")"
run_ok "index with --no-passages" $SEMSEARCH index -q --no-passages -d "$T/n.db" -m "$MODEL" "$T/c.txt"
grep -q "warning: .*c.txt:[0-9]*: a text of [0-9]* tokens is cut to the model's window of $W" "$T/err"
ok $? "--no-passages warns, with file:line, when it cuts a text"
tail -n 1 "$T/c.txt" > "$T/long1.txt"; for i in 1 2 3 4 5 6; do sed "s/^/$i /" "$T/long1.txt"; done > "$T/long6.txt"
$SEMSEARCH index -q --no-passages -d "$T/l6.db" -m "$MODEL" "$T/long6.txt" 2> "$T/err"
grep -q "6 texts in all were cut" "$T/err"; ok $? "... and counts the rest"

# the clause past the cut: found first with passages, far down without
$SEMSEARCH query --vectors -d "$T/p.db" -k 3 "$Q" > "$T/p.out"
head -1 "$T/p.out" | grep -q "^1	.*	#301	.*LIABLE FOR ANY CLAIM"; ok $? "passages: the license clause past the cut is the first hit, its passage printed"
! grep -q "MIT License" "$T/p.out"; ok $? "the hit prints the passage that matched, not the license's start"
r=$($SEMSEARCH query --vectors -d "$T/n.db" -k 400 "$Q" | awk -F'\t' '$3 == "#301" { print $1 }')
[ "${r:-0}" -gt 10 ]; ok $? "without passages the license is far down (rank $r)"
$SEMSEARCH query --vectors -d "$T/p.db" -k 400 "$Q" | cut -f3 | sort | uniq -d > "$T/dups"
[ ! -s "$T/dups" ] && [ "$($SEMSEARCH query --vectors -d "$T/p.db" -k 400 "$Q" | wc -l)" = 301 ]
ok $? "every document once, however many passages it has (301 of 301 with -k 400)"
# (first, or tied with the first: RRF gives equal scores to ranks (1, 2) and (2, 1))
for how in "--int8 --vectors" "--hybrid" "--fusion rrf"; do
    $SEMSEARCH query $how -d "$T/p.db" -k 5 "$Q" > "$T/o"
    top=$(head -1 "$T/o" | cut -f2)
    awk -F'\t' -v top="$top" '$2 == top && $3 == "#301" && /LIABLE/ { f = 1 } END { exit !f }' "$T/o" &&
        [ "$(cut -f3 "$T/o" | sort | uniq -d)" = "" ]
    ok $? "query $how: the license first (or tied first), each document once"
done
echo "$Q" | $SEMSEARCH query --vectors -d "$T/p.db" -k 3 > "$T/o"
[ "$(cut -f2- "$T/o")" = "$(cat "$T/p.out")" ]; ok $? "queries from stdin (vectors held in memory) give the same hits"
$SEMSEARCH query --vectors -d "$T/p.db" -s "$T/c.txt" -k 3 "$Q" > "$T/o"
same "--source keeps the passages of the source's documents" "$T/p.out" "$T/o"
$SEMSEARCH query -j --vectors -d "$T/p.db" -k 1 "$Q" > "$T/o"
grep -q '"text":"MIT License.*"passage":{"number":[1-9][0-9]*,"start":[0-9]*,"length":[0-9]*}' "$T/o"
ok $? "query --json: the whole text and the passage's byte range"
if [ -n "${PYTHON3:-}" ]; then
    "$PYTHON3" - "$T/o" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
p = r["passage"]; t = r["text"].encode()
assert b"LIABLE FOR ANY CLAIM" in t[p["start"]:p["start"] + p["length"]], p
PY
    ok $? "the byte range is the passage that matched"
else
    skip "the byte range" "no python3"
fi

# the schema: version 2, passages with their document and offsets; a
# database of short texts stays version 1 (older semsearch reads it)
$SEMSEARCH info -d "$T/p.db" > "$T/info"
grep -q "^schema_version	2$" "$T/info" && grep -q "^passages	[1-9]" "$T/info"
ok $? "info: schema version 2 and the further passages"
$SEMSEARCH info -d "$T/n.db" > "$T/info"
grep -q "^schema_version	1$" "$T/info" && grep -q "^passages	0$" "$T/info"; ok $? "no split text: schema version 1, no passages"
if [ -n "${PYTHON3:-}" ]; then
    cat > "$T/inv.py" <<'PY'
import sqlite3, struct, sys
c = sqlite3.connect(sys.argv[1])
ids = {}
for b, blob in c.execute("SELECT id, ids FROM blocks"):
    for i in range(len(blob) // 8):
        v = struct.unpack_from("<q", blob, 8 * i)[0]
        if v: ids[(b, i)] = v
rows = list(c.execute("SELECT id, block, slot FROM documents"))
has = c.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'passages'").fetchone()[0]
pas = list(c.execute("SELECT doc, block, slot FROM passages")) if has else []
assert all(ids.get((b, s)) == d for d, b, s in rows + pas), "a slot names another document"
assert set(ids) == set((b, s) for d, b, s in rows + pas), "a slot without its document or passage"
if has:
    for d, seq, st, ln, tl, b, s in c.execute("SELECT p.doc, p.seq, p.start, p.len, length(CAST(d.text AS BLOB)), "
                                           "p.block, p.slot FROM passages p JOIN documents d ON d.id = p.doc"):
        assert 0 <= st and 0 < ln and st + ln <= tl, (d, seq)
        if seq == 0:
            assert st == 0 and (b, s) == c.execute("SELECT block, slot FROM documents WHERE id = ?", (d,)).fetchone()
PY
    "$PYTHON3" "$T/inv.py" "$T/p.db"; ok $? "every passage's slot names its document, passage 0 is the document's"
fi

# overlap: consecutive passages share words
"${PYTHON3:-python3}" - "$T/p.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = list(c.execute("SELECT doc, seq, start, len FROM passages ORDER BY doc, seq"))
for (d1, s1, a1, l1), (d2, s2, a2, l2) in zip(rows, rows[1:]):
    if d1 == d2:
        assert a1 < a2 < a1 + l1, (d1, s1, a1, l1, a2)
PY
ok $? "consecutive passages overlap and move forward"
run_ok "--passage-tokens 20 --passage-overlap 4" $SEMSEARCH index -q -d "$T/p20.db" -m "$MODEL" --passage-tokens 20 --passage-overlap 4 "$T/c.txt"
a=$($SEMSEARCH info -d "$T/p20.db" | awk -F'\t' '$1 == "passages" { print $2 }')
b=$($SEMSEARCH info -d "$T/p.db" | awk -F'\t' '$1 == "passages" { print $2 }')
[ "$a" -gt "$b" ]; ok $? "shorter passages, more of them ($a > $b)"
$SEMSEARCH query --vectors -d "$T/p20.db" -k 5 "$Q" | grep -q "	#301	"; ok $? "... and the license still found (top 5)"
run_fails "--passage-overlap not below --passage-tokens" "^semsearch: index: --passage-overlap 20 must be less than --passage-tokens 20" \
    $SEMSEARCH index -d "$T/x.db" -m "$MODEL" --passage-tokens 20 --passage-overlap 20 "$T/c.txt"
run_fails "--no-passages with --passage-tokens" "no-passages with --passage-tokens" \
    $SEMSEARCH index -d "$T/x.db" -m "$MODEL" --no-passages --passage-tokens 20 "$T/c.txt"
[ ! -e "$T/x.db" ]; ok $? "a bad option leaves no database"
run_fails "--passage-tokens beyond the window" "passage-tokens $((W + 1)) is more than the model's window of $W" \
    $SEMSEARCH index -d "$T/x.db" -m "$MODEL" --passage-tokens $((W + 1)) "$T/c.txt"
[ ! -e "$T/x.db" ]; ok $? "... no database made (the model is loaded first)"
run_fails "... on an existing database: the model it records" "passage-tokens $((W + 1)) is more than the model's window of $W" \
    $SEMSEARCH index -d "$T/p.db" --passage-tokens $((W + 1)) "$T/c.txt"
run_fails "a model that does not load" "nonexistent.gguf" $SEMSEARCH index -d "$T/x.db" -m "$T/nonexistent.gguf" "$T/c.txt"
[ ! -e "$T/x.db" ]; ok $? "... leaves no new empty database"

# a word longer than the window (no spaces: a CJK-like run) is cut at
# character boundaries, never inside a character
awk 'BEGIN { for (i = 0; i < 300; i++) printf "abcdefghij"; print "" }' > "$T/long.txt"
run_ok "a 3000-byte word" $SEMSEARCH index -q -d "$T/w.db" -m "$MODEL" "$T/long.txt"
[ "$($SEMSEARCH info -d "$T/w.db" | awk -F'\t' '$1 == "passages" { print $2 }')" -gt 0 ]; ok $? "... split into passages"

# delete and re-embed keep passages and slots consistent
cp "$T/p.db" "$T/r.db"
run_ok "index --reembed" $SEMSEARCH index -q -d "$T/r.db" --reembed -m "$MODEL"
$SEMSEARCH query --vectors -d "$T/r.db" -k 3 "$Q" > "$T/o"
same "re-embedding keeps the passages: the same hits" "$T/p.out" "$T/o"
run_ok "delete the license" $SEMSEARCH delete -d "$T/r.db" --id '#301'
[ "$(count "$T/r.db" "SELECT count(*) FROM passages WHERE doc = 301")" = 0 ]; ok $? "its passages are gone"
$SEMSEARCH info -d "$T/r.db" > "$T/info"
[ "$(awk -F'\t' '$1 == "free_slots" { print $2 }' "$T/info")" = \
  "$((1024 - 300 - $(awk -F'\t' '$1 == "passages" { print $2 }' "$T/info")))" ]
ok $? "info: free_slots counts the passages' slots"
if [ -n "${PYTHON3:-}" ]; then "$PYTHON3" "$T/inv.py" "$T/r.db"; ok $? "slots consistent after the delete"; fi
$SEMSEARCH query --vectors -d "$T/r.db" -k 400 "$Q" | cut -f3 | grep -q "#301"; [ $? -ne 0 ]; ok $? "the deleted document is never a hit"

# the SQL extension: each document once
EXT="$top_builddir/.libs/semsearch.so"
if command -v sqlite3 >/dev/null 2>&1 && [ -f "$EXT" ] && [ -z "${VALGRIND:-}" ] &&
    ! grep -q "^SAN_FLAGS = .*sanitize" "$top_builddir/Makefile" 2>/dev/null; then
    sqlite3 "$T/p.db" ".load $EXT" "SELECT doc FROM semsearch_search('$Q', 50)" > "$T/o" 2>"$T/err"
    [ "$(head -1 "$T/o")" = 301 ] && [ "$(sort "$T/o" | uniq -d)" = "" ] && [ "$(wc -l < "$T/o")" = 50 ]
    ok $? "semsearch_search: the license first, 50 distinct documents"
else
    skip "the SQL extension" "no sqlite3 or extension"
fi
done_testing
