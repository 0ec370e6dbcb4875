#!/bin/sh
# robustness.sh: the classes of issue #13 across every command: outputs
# that are not regular files, inputs opened twice, unbounded reads,
# blocking opens, outputs that are inputs. Fast: tiny models only.
. "$top_srcdir/tests/setup.sh"

TINY="--d-model 16 --layers 1 --heads 2 --ffn 32 --max-len 24"
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 1 -o "$T/m.gguf" 2>/dev/null
[ -s "$T/m.gguf" ]; ok $? "a tiny model"
M="$T/m.gguf"
head -n 40 "$top_srcdir/corpora/coco-captions.txt" > "$T/a.txt"
# as nobody (root ignores file modes); as a normal user, as oneself
as_nobody() {
    if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; else "$@"; fi
}
# a memory limit for a command, except under ASan or valgrind (they reserve
# terabytes of address space)
ulimit_v="ulimit -v 2000000;"
if [ -n "$(sed -n 's/^SAN_FLAGS = *//p' "$top_builddir/Makefile" 2>/dev/null)" ] || [ -n "${VALGRIND:-}" ]; then ulimit_v=; fi
# a command that must end within 10 s (a blocking open must not hang the suite)
bounded() { timeout -k 2 10 "$@"; }

# ------------------------------------------- outputs that are not regular files
# Atomic replace (temp file + rename) is for regular files; a device, a FIFO
# or /dev/stdout is written in place, a symbolic link is followed. Device
# nodes of our own (root only) so that a regression cannot replace /dev/null.
if [ "$(id -u)" = 0 ] && mknod "$T/null" c 1 3 2>/dev/null && mknod "$T/full" c 1 7 2>/dev/null; then
    NULLDEV="$T/null" FULLDEV="$T/full"
else
    NULLDEV=/dev/null FULLDEV=/dev/full
fi
chardev() { [ -c "$1" ] && [ -z "$(ls "$(dirname "$1")" | grep -F "$(basename "$1").tmp.")" ]; }
for f in tsv jsonl npy f32; do
    echo hi | $SEMSEARCH embed -m "$M" -f $f -o "$NULLDEV" 2>"$T/err"; s=$?
    [ $s = 0 ] && chardev "$NULLDEV"; ok $? "embed -f $f -o a null device: written in place, still a device"
    echo hi | $SEMSEARCH embed -m "$M" -f $f -o "$FULLDEV" 2>"$T/err"; s=$?
    [ $s = 1 ] && grep -q "No space left on device" "$T/err" && chardev "$FULLDEV"
    ok $? "embed -f $f -o a full device: 'No space left', exit 1, still a device"
done
run_ok "model init -o a null device" $SEMSEARCH model init -v "$VOCAB" $TINY -o "$NULLDEV"
chardev "$NULLDEV"; ok $? "... still a device"
run_fails "model init -o a full device" "No space left on device" $SEMSEARCH model init -v "$VOCAB" $TINY -o "$FULLDEV"
run_ok "model convert -o a null device" $SEMSEARCH model convert -m "$M" -o "$NULLDEV"
chardev "$NULLDEV"; ok $? "... still a device"
run_ok "tokenizer train -o a null device" \
    $SEMSEARCH tokenizer train --vocab-size 200 -i "$top_srcdir/corpora/coco-captions.txt" -o "$NULLDEV"
chardev "$NULLDEV"; ok $? "... still a device"
run_ok "eval --plot a null device" $SEMSEARCH eval -m "$M" --plot "$NULLDEV" "$DATA/eval-small.scored.tsv"
chardev "$NULLDEV"; ok $? "... still a device"
printf 'a man rides a horse\ta person on a horse\na dog runs\ta dog is running\n' > "$T/pairs.tsv"
run_fails "train -o a device without --checkpoint: refused (it would be made in the device's directory)" \
    "not a regular file.*--checkpoint" $SEMSEARCH train -i "$M" -o "$NULLDEV" -d "$T/pairs.tsv" -n 1 -q
run_ok "train -o a null device --checkpoint FILE" \
    $SEMSEARCH train -i "$M" -o "$NULLDEV" --checkpoint "$T/ck.gguf" -d "$T/pairs.tsv" -n 1 -b 2 -q
chardev "$NULLDEV"; ok $? "... still a device"
# /dev/stdout: the caller's descriptor, with its redirection (>> appends)
echo old > "$T/log"
echo hi | $SEMSEARCH embed -m "$M" -o /dev/stdout >> "$T/log" 2>/dev/null
[ "$(head -1 "$T/log")" = old ] && [ "$(wc -l < "$T/log")" = 2 ]; ok $? "embed -o /dev/stdout >> FILE appends"
echo hi | $SEMSEARCH embed -m "$M" -f npy -o /dev/stdout 2>/dev/null | cat > "$T/p.npy"
[ "$(head -c 6 "$T/p.npy" | od -An -c | tr -d ' ')" = '223NUMPY' ] && [ "$(wc -c < "$T/p.npy")" = $((128 + 64)) ]
ok $? "embed -f npy -o /dev/stdout into a pipe: header and rows"
# a FIFO: written in place (the reader gets the vectors)
mkfifo "$T/fifo"
(timeout 10 cat "$T/fifo" > "$T/fifo.out") &
echo hi | bounded $SEMSEARCH embed -m "$M" -o "$T/fifo" 2>/dev/null; s=$?
wait
[ $s = 0 ] && [ -p "$T/fifo" ] && [ "$(wc -l < "$T/fifo.out")" = 1 ]; ok $? "embed -o FIFO: written through, still a FIFO"
# a symbolic link: its target is replaced atomically, the link stays
echo old > "$T/target"
ln -s target "$T/link"
echo hi | $SEMSEARCH embed -m "$M" -o "$T/link" 2>/dev/null
[ -L "$T/link" ] && [ "$(wc -l < "$T/target")" = 1 ] && [ "$(cut -f1-16 "$T/target" | wc -w)" = 16 ]
ok $? "embed -o SYMLINK: the link kept, its target replaced"
ln -s absent "$T/dangling"
$SEMSEARCH model init -v "$VOCAB" $TINY -o "$T/dangling" 2>/dev/null
[ -L "$T/dangling" ] && [ -s "$T/absent" ]; ok $? "model init -o a dangling link: creates what it names"
mkdir "$T/dir"
run_fails "embed -o DIR" "is a directory" sh -c "echo hi | $SEMSEARCH embed -m '$M' -o '$T/dir'"

# ------------------------------------------------------ an output that is an input
cp "$T/pairs.tsv" "$T/keep.tsv"
run_fails "train -o DATA -d DATA: refused" "the output .*pairs.tsv is the input" \
    $SEMSEARCH train -i "$M" -o "$T/pairs.tsv" -d "$T/pairs.tsv" -n 1 -b 2 -q
same "... the training data intact" "$T/keep.tsv" "$T/pairs.tsv"
run_fails "train --metrics DATA:WEIGHT: refused" "is the input" \
    $SEMSEARCH train -i "$M" -o "$T/o.gguf" --metrics "$T/pairs.tsv" -d "$T/pairs.tsv:2" -n 1 -b 2 -q
ln "$T/pairs.tsv" "$T/hard.tsv"
run_fails "train -o a hard link of the data: refused" "is the input" \
    $SEMSEARCH train -i "$M" -o "$T/hard.tsv" -d "$T/pairs.tsv" -n 1 -b 2 -q
run_fails "train --plot = --eval file: refused" "is the input" \
    $SEMSEARCH train -i "$M" -o "$T/o.gguf" --eval "$DATA/eval-small.scored.tsv" --plot "$DATA/eval-small.scored.tsv" \
    -d "$T/pairs.tsv" -n 1 -b 2 -q
same "... the training data still intact" "$T/keep.tsv" "$T/pairs.tsv"
cp "$T/a.txt" "$T/a2.txt"
run_fails "embed -o INPUT: refused" "the output .*a2.txt is the input" $SEMSEARCH embed -m "$M" -o "$T/a2.txt" "$T/a2.txt"
same "... the input intact" "$T/a.txt" "$T/a2.txt"
run_fails "embed -o MODEL: refused" "is the model" $SEMSEARCH embed -m "$M" -o "$M" "$T/a.txt"
run_fails "tokenizer train -o INPUT: refused" "is the input" $SEMSEARCH tokenizer train --vocab-size 200 -i "$T/a2.txt" -o "$T/a2.txt"
same "... the input intact" "$T/a.txt" "$T/a2.txt"
cp "$DATA/eval-small.scored.tsv" "$T/e.scored.tsv"
run_fails "eval --plot INPUT: refused" "is the input" $SEMSEARCH eval -m "$M" --plot "$T/e.scored.tsv" "$T/e.scored.tsv"
same "... the input intact" "$DATA/eval-small.scored.tsv" "$T/e.scored.tsv"
cp "$VOCAB" "$T/v.model"
run_fails "model init -o VOCAB: refused" "is the vocabulary" $SEMSEARCH model init -v "$T/v.model" $TINY -o "$T/v.model"
same "... the vocabulary intact" "$VOCAB" "$T/v.model"
run_ok "model convert -o INPUT (in place, atomically) still works" $SEMSEARCH model convert -m "$M" --f32 -o "$M"

# ------------------------------------------------------------------ train options
run_fails "train --min-lr above --lr: refused" "min-lr 1 is above the peak --lr 0.0005" \
    $SEMSEARCH train -i "$M" -o "$T/o.gguf" --min-lr 1 -d "$T/pairs.tsv" -n 1 -b 2 -q
[ ! -e "$T/o.gguf" ]; ok $? "... nothing written"

# ------------------------------------------------------ inputs opened once
# index sniffed gzip by opening its input a second time: a pipe lost what the
# sniff read (0 of 2 lines, 1960 of 3000), a FIFO hung in the second open()
docs() { $SEMSEARCH info -d "$1" | awk -F'\t' '$1 == "documents" { print $2 }'; }
seq 1 3000 > "$T/n3000"
printf 'a\nb\n' | $SEMSEARCH index -q -d "$T/p1.db" -m "$M" /dev/stdin 2>/dev/null
[ "$(docs "$T/p1.db")" = 2 ]; ok $? "index /dev/stdin from a pipe: 2 lines, 2 documents"
seq 1 3000 | $SEMSEARCH index -q -d "$T/p2.db" -m "$M" /dev/stdin 2>/dev/null
[ "$(docs "$T/p2.db")" = 3000 ]; ok $? "index /dev/stdin: 3000 lines, 3000 documents"
mkfifo "$T/in.fifo"
(seq 1 500 > "$T/in.fifo") &
bounded $SEMSEARCH index -q -d "$T/p3.db" -m "$M" "$T/in.fifo" 2>/dev/null; s=$?
wait
[ $s = 0 ] && [ "$(docs "$T/p3.db")" = 500 ]; ok $? "index FIFO: no hang, 500 documents"
gzip -c "$T/n3000" > "$T/n.gz"
cat "$T/n.gz" | $SEMSEARCH index -q -d "$T/p4.db" -m "$M" /dev/stdin 2>/dev/null
[ "$(docs "$T/p4.db")" = 3000 ]; ok $? "index gzip through /dev/stdin: 3000 documents"
$SEMSEARCH index -q -d "$T/p5.db" -m "$M" "$T/n.gz" 2>/dev/null
[ "$(docs "$T/p5.db")" = 3000 ]; ok $? "index FILE.gz: 3000 documents"
for cmd in "embed -m $M" "tokenize"; do
    n=$(seq 1 3000 | $SEMSEARCH $cmd /dev/stdin 2>/dev/null | wc -l)
    [ "$n" = 3000 ]; ok $? "$cmd /dev/stdin: 3000 lines out"
done
mkfifo "$T/v.fifo"
(timeout 10 cat "$VOCAB" > "$T/v.fifo") &
run_fails "tokenize -m FIFO: refused at once (no hang in open)" "v.fifo: not a regular file" \
    bounded $SEMSEARCH tokenize -m "$T/v.fifo" "$T/a.txt"
kill $! 2>/dev/null; wait 2>/dev/null

# ------------------------------------------------------ unbounded reads, blocking opens
# a model or vocabulary must be a regular file (and a vocabulary at most 64 MiB):
# /dev/zero as -m reached 6.3 GB in 8 s; a FIFO hung in open()
printf 'a dog runs\ta dog is running\na man rides\ta person rides\n' > "$T/tr.tsv"
for dev in /dev/zero /dev/urandom "$T/v.fifo"; do
    for cmd in "tokenize -m $dev" "model init -o $T/q.gguf -v $dev" "train -o $T/q.gguf -n 1 -b 2 -q -d $T/tr.tsv -v $dev" \
        "embed -m $dev" "model info -m $dev" "model convert -m $dev -o $T/q.gguf" \
        "eval -m $dev $DATA/eval-small.scored.tsv" "index -d $T/p1.db -m $dev" "query -d $T/p1.db -m $dev x" \
        "train -o $T/q.gguf -n 1 -b 2 -q -d $T/tr.tsv -i $dev"; do
        run_fails "$(echo "$cmd" | sed "s|$T/||g"): refused" "not a regular file" sh -c "echo x | timeout -k 2 10 $SEMSEARCH $cmd"
    done
done
[ ! -e "$T/q.gguf" ]; ok $? "... and nothing written"
truncate -s 65M "$T/huge.model"
run_fails "a 65 MiB vocabulary: refused before reading" "too large for a SentencePiece model" \
    $SEMSEARCH tokenize -m "$T/huge.model" "$T/a.txt"
run_fails "a line of /dev/zero: refused at 64 MiB" "/dev/zero:1: line longer than 64 MiB" \
    sh -c "$ulimit_v $SEMSEARCH tokenize /dev/zero"
run_fails "delete --id - with an endless line: refused" "line longer than 64 MiB" \
    sh -c "$ulimit_v $SEMSEARCH delete -d '$T/p1.db' --id - < /dev/zero"
EXT="$top_builddir/.libs/semsearch.so"
if command -v sqlite3 >/dev/null 2>&1 && [ -f "$EXT" ] && [ -z "${VALGRIND:-}" ]; then
    ext() { timeout -k 2 10 sqlite3 -bail -batch "$@" 2>&1; }
    san=$(sed -n 's/^SAN_FLAGS = *//p' "$top_builddir/Makefile" 2>/dev/null)
    if [ -n "$san" ]; then
        cc=$(sed -n 's/^CC = *//p' "$top_builddir/Makefile")
        pre=
        case "$san" in *address*) pre=$($cc -print-file-name=libasan.so) ;; esac
        case "$san" in *undefined*) pre="$pre $($cc -print-file-name=libubsan.so)" ;; esac
        ext() { ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$pre" timeout -k 2 10 sqlite3 -bail -batch "$@" 2>&1; }
    fi
    out=$(ext "$T/p1.db" ".load ${EXT%.so}" "select semsearch_model('$T/v.fifo')")
    echo "$out" | grep -q "not a regular file"; ok $? "extension: semsearch_model(FIFO) refused, no hang"
    out=$(ext "$T/p1.db" ".load ${EXT%.so}" "select semsearch_model('/dev/zero')")
    echo "$out" | grep -q "not a regular file"; ok $? "extension: semsearch_model('/dev/zero') refused"
    # a query vector of denormals (16 floats 0x00000001): 1/|q| overflowed a float
    den=$(printf '01000000%.0s' $(seq 16))
    out=$(ext "$T/p1.db" ".load ${EXT%.so}" "select count(*), count(score), max(score) <= 1.0001 from semsearch_search(x'$den', 2)")
    [ "$out" = "2|2|1" ]; ok $? "extension: a query of denormals gives real scores ($out)"
    out=$(ext "$T/p1.db" ".load ${EXT%.so}" "select count(*) from (select score, lag(score) over (order by rank) as p from semsearch_search(x'$den', 2)) where p < score")
    [ "$out" = 0 ]; ok $? "... best first"
else
    skip "extension: semsearch_model(FIFO)" "no sqlite3 shell, no semsearch.so, or under valgrind"
    skip "extension: semsearch_model(/dev/zero)" "no sqlite3 shell, no semsearch.so, or under valgrind"
    skip "extension: a query of denormals" "no sqlite3 shell, no semsearch.so, or under valgrind"
    skip "... best first" "no sqlite3 shell, no semsearch.so, or under valgrind"
fi

# ------------------------------------------------------ read-only databases
# a read-only file in a read-only directory, no -wal/-shm beside it, opened
# by a normal user: SQLite answers SQLITE_READONLY (it cannot initialise the
# -shm), which the immutable fallback did not catch
chmod 755 "$T"
mkdir "$T/rodir"
cp "$T/p2.db" "$T/rodir/r.db"
chmod 444 "$T/rodir/r.db"
chmod 555 "$T/rodir"
cp "$M" "$T/m-ro.gguf" && chmod 444 "$T/m-ro.gguf"
run_ok "query a read-only database in a read-only directory, as a normal user" \
    as_nobody $SEMSEARCH query -d "$T/rodir/r.db" -m "$T/m-ro.gguf" -k 1 2999
[ "$(cut -f4 "$T/out")" = 2999 ]; ok $? "... finds the text"
run_ok "info on it" as_nobody $SEMSEARCH info -d "$T/rodir/r.db"
grep -qx "documents.3000" "$T/out"; ok $? "... 3000 documents"
run_fails "index into it: refused" "read-only|readonly|Permission denied|unable to open" \
    as_nobody $SEMSEARCH index -d "$T/rodir/r.db" -m "$T/m-ro.gguf" "$T/a.txt"
[ -z "$(ls "$T/rodir" | grep -v '^r.db$')" ]; ok $? "... nothing beside it"
chmod 755 "$T/rodir" # so that the cleanup can remove it

# ------------------------------------------------------ ids and document numbers
# 'delete --id 2' deleted the document with external id "2" and document
# number 2; query printed 2 for both
printf '{"t": "first text", "id": ""}\n{"t": "second text", "id": ""}\n{"t": "third text", "id": "2"}\n{"t": "hash text", "id": "#1"}\n' > "$T/ids.jsonl"
$SEMSEARCH index -q -d "$T/ids.db" -m "$M" --text-field t --id-field id "$T/ids.jsonl" 2>/dev/null
$SEMSEARCH query -d "$T/ids.db" -k 4 "text" > "$T/ids.out" 2>/dev/null
[ "$(cut -f3 "$T/ids.out" | sort | tr '\n' ' ')" = '##1 #1 #2 2 ' ]; ok $? "query: external ids as they are, numbers as #N, '#...' ids as '##...'"
$SEMSEARCH query -d "$T/ids.db" -k 4 --json "text" > "$T/ids.json" 2>/dev/null
grep -q '"id":null,"doc":2,"text":"second text"' "$T/ids.json" && grep -q '"id":"2","doc":3,' "$T/ids.json"
ok $? "query --json: the external id or null, and the number apart"
run_ok "delete --id 2" $SEMSEARCH delete -d "$T/ids.db" --id 2
grep -q "deleted 1 document" "$T/err"; ok $? "... deletes one document (the external id)"
$SEMSEARCH query -d "$T/ids.db" -k 4 "text" > "$T/ids.out" 2>/dev/null
grep -q "second text" "$T/ids.out" && ! grep -q "third text" "$T/ids.out"; ok $? "... number 2 is still there"
run_ok "delete --id '#2'" $SEMSEARCH delete -d "$T/ids.db" --id '#2'
grep -q "deleted 1 document" "$T/err"; ok $? "... deletes document number 2"
run_ok "delete --id '##1'" $SEMSEARCH delete -d "$T/ids.db" --id '##1'
grep -q "deleted 1 document" "$T/err" && ! $SEMSEARCH query -d "$T/ids.db" -k 4 text 2>/dev/null | grep -q "hash text"
ok $? "... deletes the external id '#1'"
run_ok "delete --id 1 (a bare number)" $SEMSEARCH delete -d "$T/ids.db" --id 1
grep -q "no document with id '1' (document number 1 is written #1)" "$T/err"; ok $? "... deletes nothing, says how numbers are written"
run_fails "delete --id '#x'" "'#' and a document number expected" $SEMSEARCH delete -d "$T/ids.db" --id '#x'
echo '#1' | $SEMSEARCH delete -d "$T/ids.db" --id - 2>"$T/err"
grep -q "deleted 1 document" "$T/err"; ok $? "delete --id - reads #N from stdin"
# numbers are never reused: a stale number names nothing, not another text
printf 'one\ntwo\nthree\n' | $SEMSEARCH index -q -d "$T/re.db" -m "$M" 2>/dev/null
$SEMSEARCH delete -d "$T/re.db" --id '#3' 2>/dev/null
echo four | $SEMSEARCH index -q -d "$T/re.db" -m "$M" 2>/dev/null
$SEMSEARCH query -d "$T/re.db" -k 1 four > "$T/out" 2>/dev/null
[ "$(cut -f3 "$T/out")" = '#4' ]; ok $? "after deleting #3 the next document is #4"
$SEMSEARCH delete -d "$T/re.db" --id '#3' 2>"$T/err"
grep -q "no document with id '#3'" "$T/err"; ok $? "... and #3 names nothing"

# ------------------------------------------------------ scripts the vocabulary lacks
# every run of unknown characters is one [UNK]: "ありがとう" scored 1.000 against
# "東京は日本の首都です", "Привет мир" 1.000 against Arabic and Hebrew lines
printf '東京は日本の首都です\nمرحبا بالعالم\nשלום עולם\nA dog runs on the beach.\n' > "$T/scripts.txt"
$SEMSEARCH index -q -d "$T/sc.db" "$T/scripts.txt" 2>"$T/err"
grep -q "warning: a document: 100% of the text is unknown to the model's vocabulary" "$T/err"
ok $? "index warns about documents of a script the vocabulary lacks"
! grep -q "A dog" "$T/err" && [ "$(grep -c warning "$T/err")" = 3 ]; ok $? "... the three, not the English one"
$SEMSEARCH query -d "$T/sc.db" -k 4 "ありがとう" > "$T/out" 2>"$T/err"
awk -F'\t' '$2 >= 0.99 { bad = 1 } END { exit bad }' "$T/out"; ok $? "query 'ありがとう': no perfect score against other unknown texts ($(head -1 "$T/out" | cut -f2))"
grep -q "warning: the query: 100% of the text is unknown" "$T/err"; ok $? "... and a warning"
$SEMSEARCH query -d "$T/sc.db" -k 4 "Привет мир" > "$T/out" 2>/dev/null
awk -F'\t' '$2 >= 0.99 { bad = 1 } END { exit bad }' "$T/out"; ok $? "query 'Привет мир': no perfect score against Arabic or Hebrew ($(head -1 "$T/out" | cut -f2))"
$SEMSEARCH query -d "$T/sc.db" -k 1 "東京は日本の首都です" > "$T/out" 2>/dev/null
[ "$(cut -f2,4 "$T/out")" = "$(printf '1.000000\t東京は日本の首都です')" ]; ok $? "the same unknown text still finds itself (1.000)"
$SEMSEARCH query -d "$T/sc.db" -k 1 "a dog on a beach" > "$T/out" 2>"$T/err"
[ "$(cut -f4 "$T/out")" = "A dog runs on the beach." ] && [ ! -s "$T/err" ]; ok $? "English: found, no warning"
echo "A dog runs on the beach." | $SEMSEARCH embed > "$T/v1" 2>/dev/null
echo "A dog runs on the beach. ☃" | $SEMSEARCH embed > "$T/v2" 2>"$T/err"
[ ! -s "$T/err" ]; ok $? "embed: one unknown character in English text: no warning"
printf 'hi\nありがとう\n' | $SEMSEARCH embed > /dev/null 2>"$T/err"
grep -q "warning: input line 2: 100% of the text is unknown" "$T/err"; ok $? "embed warns, naming the input line"

# ------------------------------------------------------ tokenize --max-len
# with --special, the budget for text was max-len - 2: -1 for --max-len 1, read as "no limit"
run_fails "tokenize --special --max-len 1: refused (no room beside [CLS] and [SEP])" "--max-len 1 leaves no room.*at least 3" \
    sh -c "echo 'a b c d' | $SEMSEARCH tokenize --special --max-len 1"
[ ! -s "$T/out" ]; ok $? "... no output"
run_fails "tokenize --special --max-len 2: refused" "at least 3" sh -c "echo 'a b c d' | $SEMSEARCH tokenize --special --max-len 2"
[ "$(echo 'a b c d' | $SEMSEARCH tokenize --special --max-len 3 | wc -w)" = 3 ]; ok $? "tokenize --special --max-len 3: 3 ids"
[ "$(echo 'a b c d' | $SEMSEARCH tokenize --max-len 1 | wc -w)" = 1 ]; ok $? "tokenize --max-len 1: 1 id"

# ------------------------------------------------------ database names
# 'file:y.db?mode=memory' reported 1 document stored and wrote nothing; index
# -d file:x.db wrote x.db but query -d file:x.db said "no such database"
(cd "$T" && echo hello | $SEMSEARCH index -q -d 'file:y.db?mode=memory' -m "$M" 2>"$T/err"); s=$?
[ $s = 1 ] && grep -q "SQLite URIs and :memory: are not supported" "$T/err"; ok $? "index -d file:...?mode=memory: refused"
(cd "$T" && echo hello | $SEMSEARCH index -q -d file:x.db -m "$M" 2>/dev/null); s=$?
[ $s = 1 ] && [ ! -e "$T/x.db" ]; ok $? "index -d file:x.db: refused, no x.db written"
run_fails "query -d file:x.db: the same message" "URIs and :memory: are not supported" $SEMSEARCH query -d file:x.db -m "$M" x
run_fails "info -d :memory:" "not supported" $SEMSEARCH info -d :memory:
(cd "$T" && echo hello | $SEMSEARCH index -q -d ./file:z.db -m "$M" 2>/dev/null && $SEMSEARCH query -d ./file:z.db -m "$M" -k 1 hello > "$T/out" 2>/dev/null)
[ "$(cut -f4 "$T/out")" = hello ]; ok $? "./file:z.db: a file of that name, indexed and queried"

# ------------------------------------------------------ index details
# JSONL "nul \u0000 char" was stored as "nul " (the rule: drop NUL, keep the rest)
printf '{"t": "nul \\u0000 char", "id": 1}\n{"t": "kept \\\\u0000 literally", "id": 2}\n{"t": "\\u0000", "id": 3}\n' > "$T/nul.jsonl"
$SEMSEARCH index -q -d "$T/nul.db" -m "$M" --text-field t --id-field id "$T/nul.jsonl" 2>"$T/err"
$SEMSEARCH query -d "$T/nul.db" -m "$M" --json -k 5 nul > "$T/out" 2>/dev/null
grep -q '"text":"nul  char"' "$T/out"; ok $? "JSONL \\u0000: dropped, the rest of the text kept"
grep -q '"text":"kept \\\\u0000 literally"' "$T/out"; ok $? "... an escaped backslash before u0000 is text"
grep -q "3 lines: 2 added, 0 already stored, 1 empty" "$T/err"; ok $? "... a text of only NUL is empty"
printf 'raw \000 nul\n' | $SEMSEARCH index -q -d "$T/nul2.db" -m "$M" 2>/dev/null
$SEMSEARCH query -d "$T/nul2.db" -m "$M" --json -k 1 raw > "$T/out" 2>/dev/null
grep -q '"text":"raw  nul"' "$T/out"; ok $? "a raw NUL byte in a line: dropped, the rest kept"
# a JSONL id beyond int64 was stored as 1.23456789012346e+19
printf '{"t": "big id", "id": 12345678901234567890}\n{"t": "negative id", "id": -42}\n' > "$T/big.jsonl"
$SEMSEARCH index -q -d "$T/big.db" -m "$M" --text-field t --id-field id "$T/big.jsonl" 2>/dev/null
$SEMSEARCH query -d "$T/big.db" -m "$M" -k 2 id > "$T/out" 2>/dev/null
[ "$(cut -f3 "$T/out" | sort | tr '\n' ' ')" = "-42 12345678901234567890 " ]; ok $? "JSONL integer ids kept as written ($(cut -f3 "$T/out" | tr '\n' ' '))"
run_ok "delete --id 12345678901234567890" $SEMSEARCH delete -d "$T/big.db" --id 12345678901234567890
grep -q "deleted 1 document" "$T/err"; ok $? "... deletes it"
# index -d new.db DIR left an empty new.db
run_fails "index -d new.db DIR: refused" "is a directory" $SEMSEARCH index -d "$T/new.db" -m "$M" "$T/dir"
[ ! -e "$T/new.db" ]; ok $? "... no database made"
# index --reembed without -m switched the database to the shipped model
echo "some text" | $SEMSEARCH index -q -d "$T/rm.db" -m "$M" 2>/dev/null
run_ok "index --reembed without -m" $SEMSEARCH index -q --reembed -d "$T/rm.db"
$SEMSEARCH info -d "$T/rm.db" > "$T/info"
grep -qx "model.m.gguf" "$T/info" && grep -q "re-embedding every document with m.gguf (was m.gguf)" "$T/err"
ok $? "... keeps the recorded model (not the shipped one)"
mv "$M" "$T/moved.gguf"
run_fails "index --reembed without -m, the recorded model gone: refused" "is not readable.*give -m MODEL" \
    $SEMSEARCH index -q --reembed -d "$T/rm.db"
mv "$T/moved.gguf" "$M"

# ------------------------------------------------------ friction
run_fails "query '': refused" "an empty query" $SEMSEARCH query -d "$T/p1.db" -m "$M" ""
run_fails "query '  ': refused" "an empty query" $SEMSEARCH query -d "$T/p1.db" -m "$M" "  "
echo 2999 | $SEMSEARCH query -d "$T/p2.db" -m "$M" -k 1 - > "$T/out" 2>/dev/null
[ "$(cut -f1,5 "$T/out")" = "$(printf '1\t2999')" ]; ok $? "query -: the queries from stdin (line number first)"
echo one | $SEMSEARCH index -d "$T/one.db" -m "$M" 2>"$T/err" >/dev/null
grep -q "1 line: 1 added, 0 already stored, 0 empty; .*one.db has 1 document$" "$T/err"; ok $? "index: '1 line', '1 document'"
# the man page said free_slots counts deleted documents' slots; a fresh
# database of one document shows block_size - 1 (the rest of its block)
[ "$($SEMSEARCH info -d "$T/one.db" | awk -F'\t' '$1 == "free_slots" { print $2 }')" = 1023 ]
ok $? "info: free_slots of a fresh database of one document is block_size - 1, as the man page says"
grep -q "shows block_size - 1" "$top_srcdir/man/semsearch.1.md"; ok $? "... (the man page)"
echo one | $SEMSEARCH embed -m "$M" -o "$T/one.tsv" 2>"$T/err"
grep -q "wrote 1 vector of 16 floats" "$T/err"; ok $? "embed: '1 vector'"
echo hi | no_defaults embed 2>"$T/err"
grep -q "looked for models/en-base.gguf under \$SEMSEARCH_DATA ($T/iso/data), beside the program ($T/iso/bin" "$T/err"
ok $? "a missing shipped model: the message says where it looked"
echo hi | no_defaults tokenize 2>"$T/err"
grep -q "looked for vocab/en-16k.model under" "$T/err"; ok $? "... the shipped vocabulary too"
# sources: none listed (info gave a count), ./x and x were two sources,
# --source typo answered nothing, silently
head -n 5 "$T/a.txt" > "$T/sx.txt"
sed -n 6,8p "$T/a.txt" > "$T/sy.txt"
(cd "$T" && $SEMSEARCH index -q -d src.db -m m.gguf sx.txt 2>/dev/null &&
    $SEMSEARCH index -q -d src.db -m m.gguf ./sy.txt 2>/dev/null && $SEMSEARCH index -q -d src.db -m m.gguf .//sx.txt 2>/dev/null &&
    sed -n 9p a.txt | $SEMSEARCH index -q -d src.db -m m.gguf 2>/dev/null)
printf 'sx.txt\t5\nsy.txt\t3\n\t1\n' > "$T/want"
$SEMSEARCH info -d "$T/src.db" --sources > "$T/out"
same "info --sources: each source and its documents (./sy.txt stored as sy.txt, .//sx.txt as sx.txt)" "$T/want" "$T/out"
[ "$($SEMSEARCH info -d "$T/src.db" -s --json)" = '[{"source":"sx.txt","documents":5},{"source":"sy.txt","documents":3},{"source":null,"documents":1}]' ]
ok $? "info --sources --json"
$SEMSEARCH query -d "$T/src.db" -m "$M" -s ./sy.txt -k 10 "$(sed -n 7p "$T/a.txt")" > "$T/out"
[ "$(wc -l < "$T/out")" = 3 ]; ok $? "query --source ./sy.txt: the source sy.txt"
run_fails "query --source typo: an error naming the sources" "^semsearch: query: no source 'typo' in .*src.db \(its sources: 'sx.txt', 'sy.txt'\)" \
    $SEMSEARCH query -d "$T/src.db" -m "$M" -s typo hello
[ ! -s "$T/out" ]; ok $? "... nothing on stdout"
$SEMSEARCH delete -d "$T/src.db" -s typo 2>"$T/err"
grep -q "no source 'typo' in .*its sources:" "$T/err"; ok $? "delete --source typo: names the sources"
$SEMSEARCH delete -d "$T/src.db" -s ./sx.txt 2>"$T/err"
grep -q "deleted 5 documents" "$T/err"; ok $? "delete --source ./sx.txt deletes sx.txt"

# a bad value: one line, as in every command (train printed its 100-line
# --help after it); getopt's errors start with "semsearch: COMMAND:"
$SEMSEARCH train --lr abc -o "$T/o.gguf" -d "$T/pairs.tsv" 2>"$T/err"; s=$?
[ $s = 2 ] && [ "$(cat "$T/err")" = "semsearch: --lr: 'abc' is not a number" ]; ok $? "train --lr abc: one line, exit 2"
$SEMSEARCH train --pooling x -o "$T/o.gguf" -d "$T/pairs.tsv" 2>"$T/err"; s=$?
[ $s = 2 ] && [ "$(wc -l < "$T/err")" = 1 ]; ok $? "train --pooling x: one line, exit 2"
bad=0
for cmd in tokenize "tokenizer train" "model init" "model info" "model convert" embed eval train mine index query info delete; do
    $SEMSEARCH $cmd --no-such-option 2>"$T/err" >/dev/null; s=$?
    if [ $s != 2 ] || [ "$(head -1 "$T/err")" != "semsearch: $cmd: unrecognized option '--no-such-option'" ] ||
       [ "$(wc -l < "$T/err")" -gt 4 ] || ! grep -q "^usage: semsearch $cmd" "$T/err"; then
        bad=$((bad + 1)); echo "# $cmd: exit $s"; sed 's/^/#   /' "$T/err" | head -5
    fi
done
[ $bad = 0 ]; ok $? "an unknown option in every command: 'semsearch: COMMAND: ...', the synopsis, exit 2 (4 lines at most)"
$SEMSEARCH query -k 2>"$T/err" >/dev/null
[ "$(head -1 "$T/err")" = "semsearch: query: option requires an argument -- 'k'" ]; ok $? "a missing option value: 'semsearch: query: ...'"
grep -q "^'semsearch query --help' describes every option.$" "$T/err"; ok $? "... and where the options are described"
$SEMSEARCH model 2>"$T/err"; s=$?
[ $s = 2 ] && grep -q "^       semsearch model convert" "$T/err" && [ "$(grep -c -- --help "$T/err")" = 1 ]
ok $? "a bare 'model': its whole synopsis (init, info, convert), once where --help is"

# one meaning per short option (shared with #12): -t threads, -b batch, -s
# source, -v vocabulary; the old spellings work one more release, with a warning
$SEMSEARCH eval -m "$M" -t sts -b "$DATA/eval-small.scored.tsv" > "$T/old" 2>"$T/err"; s=$?
$SEMSEARCH eval -m "$M" --task sts --baseline -t 1 "$DATA/eval-small.scored.tsv" > "$T/new" 2>"$T/err2"; s2=$?
[ $s = 0 ] && [ $s2 = 0 ] && cmp -s "$T/old" "$T/new" && [ ! -s "$T/err2" ] &&
    grep -q "warning: eval -t TASK is deprecated.*use --task TASK (-t is --threads)" "$T/err" &&
    grep -q "warning: eval -b is deprecated.*use --baseline (-b is --batch)" "$T/err"
ok $? "eval: -t TASK and -b still work with a warning; --task, --baseline and -t N (threads) without"
[ "$(echo 'a b' | $SEMSEARCH tokenize -s 2>"$T/err")" = "$(echo 'a b' | $SEMSEARCH tokenize --special)" ] &&
    grep -q "warning: tokenize -s is deprecated.*use --special (-s is --source)" "$T/err"
ok $? "tokenize: -s still --special, with a warning"
$SEMSEARCH tokenizer train -i "$T/a.txt" -v 100 -t bpe --threads 1 -o "$T/old.model" 2>"$T/err" &&
    $SEMSEARCH tokenizer train -i "$T/a.txt" --vocab-size 100 --model-type bpe -t 1 -o "$T/new.model" 2>"$T/err2" &&
    cmp -s "$T/old.model" "$T/new.model" && grep -q "tokenizer train -v N is deprecated" "$T/err" &&
    grep -q "tokenizer train -t TYPE is deprecated" "$T/err" && ! grep -q warning "$T/err2"
ok $? "tokenizer train: -v N and -t TYPE still work with a warning, the same model; -t 1 is --threads"

# progress lines on stderr when it is a terminal (script(1) gives one): embed
# ran 9 minutes in silence on 1M lines
if command -v script >/dev/null 2>&1 && script -qec true /dev/null >/dev/null 2>&1; then
    seq 1 3000 > "$T/3k.txt"
    script -qec "$SEMSEARCH embed -m $M -o $T/3k.tsv $T/3k.txt" /dev/null > "$T/tty" 2>&1
    tr '\r' '\n' < "$T/tty" | grep -q "^semsearch: embedded [0-9]* lines, [0-9]* lines/s" &&
        [ "$(wc -l < "$T/3k.tsv")" = 3000 ]
    ok $? "embed on a terminal: a progress line"
    script -qec "$SEMSEARCH embed -q -m $M -o $T/3k.tsv $T/3k.txt" /dev/null > "$T/tty" 2>&1
    ! grep -q "embedded" "$T/tty"; ok $? "embed -q: none"
    $SEMSEARCH embed -m "$M" -o "$T/3k.tsv" "$T/3k.txt" 2>"$T/err"
    ! grep -q "embedded" "$T/err"; ok $? "embed, stderr not a terminal: none"
    script -qec "$SEMSEARCH tokenizer train --vocab-size 200 -i $T/a.txt -o $T/tty.model" /dev/null > "$T/tty" 2>&1
    tr '\r' '\n' < "$T/tty" | grep -q "^semsearch: tokenizer train: training on [0-9]* sentences" && [ -s "$T/tty.model" ]
    ok $? "tokenizer train on a terminal: a progress line"
    # a document's control characters on a terminal: shown, not obeyed
    printf 'red \033[31malert\033[0m and \302\233 csi\n' | $SEMSEARCH index -q -d "$T/esc.db" -m "$M" 2>/dev/null
    script -qec "$SEMSEARCH query -d $T/esc.db -m $M -k 1 alert" /dev/null > "$T/tty" 2>&1
    grep -q 'red \\x1b\[31malert\\x1b\[0m and \\u009b csi' "$T/tty" && ! grep -q "$(printf '\033\\[31m')" "$T/tty"
    ok $? "query on a terminal: ESC and C1 controls of a document written as \\x1b, \\u009b"
    $SEMSEARCH query -d "$T/esc.db" -m "$M" -k 1 alert > "$T/out" 2>/dev/null
    grep -q "$(printf 'red \033\\[31malert')" "$T/out"; ok $? "... into a pipe: the text as stored"
    script -qec "$SEMSEARCH eval -m $M $DATA/eval-small.scored.tsv" /dev/null > "$T/tty" 2>&1
    tr '\r' '\n' < "$T/tty" | grep -q "^semsearch: eval: .*eval-small.scored.tsv (file 1 of 1"
    ok $? "eval on a terminal: a progress line naming the file"
else
    for w in "embed" "embed -q" "embed off a terminal" "tokenizer train" "control characters" "control characters (pipe)" "eval"; do skip "$w" "no script(1)"; done
fi
# a Ctrl-C'd index says what is stored and how to continue (and dies of the
# signal, as before: whole batches are committed)
rm -f "$T/int.db"
mkfifo "$T/int.fifo"
(seq 1 100; exec sleep 30) > "$T/int.fifo" 2>/dev/null &
producer=$!
env --default-signal=INT $SEMSEARCH index -d "$T/int.db" -m "$M" "$T/int.fifo" 2>"$T/int.err" &
pid=$!
n=0
while [ "$($SEMSEARCH info -d "$T/int.db" 2>/dev/null | awk -F'\t' '$1 == "documents" { print $2 }')" != 100 ] &&
      [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
kill -INT $pid
wait $pid; s=$?
kill $producer 2>/dev/null
[ $s -eq 130 ]; ok $? "index, Ctrl-C: exit 130 (got $s)"
grep -q "index interrupted: the 100 documents added by this run are stored (in whole batches); run the same command again to add the rest" "$T/int.err"
ok $? "index, Ctrl-C: says what is stored and how to continue"
seq 1 150 | $SEMSEARCH index -d "$T/int.db" -m "$M" 2>"$T/err" >/dev/null
grep -q "150 lines: 50 added, 100 already stored" "$T/err"; ok $? "... and running it again adds the rest"
if command -v sqlite3 >/dev/null 2>&1 && [ -f "$EXT" ] && [ -z "${VALGRIND:-}" ]; then
    # the recorded model file gone: the shipped one, as the command does
    cp "$top_srcdir/models/en-base.gguf" "$T/copy.gguf"
    echo "A dog runs on the beach." | $SEMSEARCH index -q -d "$T/sh.db" -m "$T/copy.gguf" 2>/dev/null
    rm "$T/copy.gguf"
    out=$(ext "$T/sh.db" ".load ${EXT%.so}" "select semsearch_model()")
    [ "$out" = "$top_srcdir/models/en-base.gguf" ]; ok $? "extension: semsearch_model() before any search: the model in use ($out)"
    out=$(ext "$T/sh.db" ".load ${EXT%.so}" "select text from semsearch_search('a dog', 1)")
    [ "$out" = "A dog runs on the beach." ]; ok $? "extension: the recorded model gone, the shipped one (same fingerprint) answers"
    # neither: the message names the recorded file and where the shipped one was looked for
    mkdir -p "$T/nodata"
    out=$(SEMSEARCH_DATA="$T/nodata" ext "$T/sh.db" ".load ${EXT%.so}" "select semsearch_model()")
    case "$out" in
    *"copy.gguf, is not readable (No such file or directory), and no shipped model: looked for models/en-base.gguf under \$SEMSEARCH_DATA ($T/nodata)"*) ok 0 "extension: no model anywhere: the recorded file and every place looked at" ;;
    *"$T/nodata"*) ok 1 "extension: no model anywhere: $out" ;;
    *) skip "extension: no model anywhere" "a shipped model is installed" ;;
    esac
    # (the command finds the in-tree model beside itself; a copy elsewhere does not)
    no_defaults query -d "$T/sh.db" dog 2>"$T/err" >/dev/null
    grep -q "no -m given: the model the database records, .*copy.gguf, is not readable (No such file or directory), and no shipped model: looked for models/en-base.gguf under \$SEMSEARCH_DATA ($T/iso/data" "$T/err"
    ok $? "query: the same policy and message"
else
    skip "extension: semsearch_model() before a search" "no sqlite3 shell, no semsearch.so, or under valgrind"
    skip "extension: fallback to the shipped model" "no sqlite3 shell, no semsearch.so, or under valgrind"
    skip "extension: no model anywhere" "no sqlite3 shell, no semsearch.so, or under valgrind"
    skip "query: no model anywhere" "no sqlite3 shell, no semsearch.so, or under valgrind"
fi

done_testing
