#!/bin/sh
# diskfull.sh: a full disk during every kind of write semsearch does: the
# checkpoint and the model of `train`, `model init|convert`, `embed -o` (each
# format), `tokenizer train`, and the database of `index` and `delete`.
# The disk is a real one: a small tmpfs in a private mount namespace, filled
# by a filler file to chosen points so that the failure lands at different
# places of the write (the first bytes, the middle, the last flush; the
# -shm file, the WAL of the first or a later batch, the checkpoint of the WAL
# into the database). Each time: a non-zero exit, a message naming the file
# and the cause, the previous file byte-identical and still loadable, no
# temporary file left; then the filler is removed and a re-run completes.
. "$top_srcdir/tests/setup.sh"

# ---------------------------------------------------------------- namespace
# The body runs again inside `unshare`, where mounts vanish with the process
# even after a crash: as root a mount namespace, otherwise a user namespace.
if [ -z "${SS_DISKFULL_NS:-}" ]; then
    probe='d=$(mktemp -d) || exit 1; mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d"; s=$?; rmdir "$d"; exit $s'
    for ns in "unshare -m" "unshare -rm"; do
        if $ns sh -c "$probe" >/dev/null 2>&1; then
            SS_DISKFULL_NS=1 $ns sh "$0"
            exit $?
        fi
    done
    skip "disk-full tests" "cannot mount a tmpfs in a private namespace (needs root for unshare -m, or user namespaces for unshare -rm)"
    done_testing
    exit $?
fi

FS="$T/fs"   # the small disk
FI="$T/fi"   # a disk with no free inode
mkdir -p "$FS" "$FI"
trap 'umount "$FS" 2>/dev/null; umount "$FI" 2>/dev/null; rm -rf "$T"' EXIT
if ! mount -t tmpfs -o size=8m,mode=0755 tmpfs "$FS"; then
    skip "disk-full tests" "mount -t tmpfs failed inside the namespace"
    done_testing
    exit $?
fi
PG=$(getconf PAGESIZE 2>/dev/null || echo 4096)
export SEMSEARCH_THREADS=1

# fill FREE: fills the disk so that FREE bytes are left (tmpfs counts pages)
fill() {
    rm -f "$FS/fill"
    cat /dev/zero > "$FS/fill" 2>/dev/null
    [ "$1" -gt 0 ] && truncate -s "-$1" "$FS/fill"
    return 0
}
unfill() { rm -f "$FS/fill"; }
avail() { df -B1 --output=avail "$FS" | tail -n 1 | tr -d ' '; }
size() { wc -c < "$1" | tr -d ' '; }
# levels SIZE: free space for a write of SIZE bytes to fail at its first
# bytes, in its middle and at its last flush (whole pages short of SIZE)
levels() {
    full=$(( ($1 - 1) / PG * PG ))
    half=$(( $1 / 2 / PG * PG ))
    echo 0 $half $full | tr ' ' '\n' | sort -un | tr '\n' ' '
}
# no_tmp DESC DIR: no temporary file of an atomic write is left in DIR
no_tmp() { ! ls -A "$2" | grep -q '\.tmp\.'; ok $? "$1"; }
# full_fails DESC FILE CMD...: exit 1 or 2, stderr names FILE and the cause
full_fails() { ff_d=$1; ff_f=$2; shift 2; run_fails "$ff_d" "$ff_f.*No space left on device" "$@"; }

fill 0
[ "$(avail)" = 0 ]; ok $? "the filler fills the disk (size=8m tmpfs, page $PG)"
fill $((3 * PG))
[ "$(avail)" = $((3 * PG)) ]; ok $? "... and leaves exactly the space asked for"
unfill

CORPUS="$top_srcdir/corpora/coco-captions.txt"
head -n 1000 "$CORPUS" > "$T/c1k.txt"
$SEMSEARCH tokenizer train -i "$T/c1k.txt" --vocab-size 300 --threads 1 -o "$T/tok.model" 2>"$T/err"
ok $? "a tiny tokenizer"
SHAPE="--d-model 16 --layers 1 --heads 2 --ffn 32 --max-len 24"
$SEMSEARCH model init -v "$T/tok.model" $SHAPE --seed 1 -o "$T/m1.gguf" 2>"$T/err" &&
    $SEMSEARCH model init -v "$T/tok.model" $SHAPE --seed 2 -o "$T/m2.gguf" 2>"$T/err"
ok $? "two tiny models"

# ================================================================ 1. train
GRP="$DATA/coco-100.groups.tsv"
NEW="-v $T/tok.model $SHAPE --data $GRP -b 16 -q -t 1 --steps 20"
RES="--data $GRP -b 16 -q -t 1 --steps 20"   # a resumed run: the shape comes from the checkpoint
mkdir -p "$T/ref"
$SEMSEARCH train -o "$T/ref/straight.gguf" $NEW --save-every 5 2>"$T/err"; ok $? "train: a straight run of 20 steps"
$SEMSEARCH train -o "$T/ref/s10.gguf" $NEW --save-every 5 --stop-at 10 2>"$T/err" &&
    $SEMSEARCH train -o "$T/ref/s15.gguf" $NEW --save-every 5 --stop-at 15 2>"$T/err"
ok $? "train: checkpoints of steps 10 and 15"
CK10="$T/ref/s10.ckpt.gguf"
for free in $(levels "$(size "$T/ref/s15.ckpt.gguf")"); do
    rm -f "$FS"/*
    cp "$CK10" "$FS/g.ckpt.gguf"
    fill "$free"
    full_fails "train, free $free: the checkpoint of step 15 fails" "g.ckpt.gguf: write failed" \
        $SEMSEARCH train -o "$FS/g.gguf" $RES --save-every 5 --resume "$FS/g.ckpt.gguf"
    grep -q "the checkpoint $FS/g.ckpt.gguf is intact: once there is space, resume with --resume $FS/g.ckpt.gguf" "$T/err"
    ok $? "train, free $free: the message names the checkpoint to resume from"
    same "train, free $free: the checkpoint of step 10 is byte-identical" "$CK10" "$FS/g.ckpt.gguf"
    $SEMSEARCH model info -m "$FS/g.ckpt.gguf" >/dev/null 2>&1 && [ ! -e "$FS/g.gguf" ]
    ok $? "train, free $free: it loads; no model written"
    no_tmp "train, free $free: no temporary file left" "$FS"
    unfill
    run_ok "train, free $free: --resume after freeing space" \
        $SEMSEARCH train -o "$FS/g.gguf" $RES --save-every 5 --resume "$FS/g.ckpt.gguf"
    same "train, free $free: the resumed model is the straight run's, bit for bit" "$T/ref/straight.gguf" "$FS/g.gguf"
done

# The final checkpoint is written, then the model does not fit: a hard link
# keeps the pages of the old checkpoint, so its replacement frees nothing.
rm -f "$FS"/*
cp "$CK10" "$FS/g.ckpt.gguf"
ln "$FS/g.ckpt.gguf" "$FS/keep.ckpt"
cp "$T/m1.gguf" "$FS/g.gguf"   # a previous model at the output path
ck=$(size "$T/ref/straight.ckpt.gguf")
fill $(( (ck + PG - 1) / PG * PG + $(size "$T/m1.gguf") / 2 / PG * PG ))   # the checkpoint and half the model
full_fails "train: the checkpoint fits, the model does not" "g.gguf: write failed" \
    $SEMSEARCH train -o "$FS/g.gguf" $RES --save-every 0 --resume "$FS/g.ckpt.gguf"
grep -q "the checkpoint $FS/g.ckpt.gguf (step 20) is intact" "$T/err"; ok $? "train: the message names the step-20 checkpoint"
same "train: the previous model is byte-identical" "$T/m1.gguf" "$FS/g.gguf"
$SEMSEARCH model info -m "$FS/g.gguf" >/dev/null 2>&1 && $SEMSEARCH model info -m "$FS/g.ckpt.gguf" >/dev/null 2>&1
ok $? "train: both the previous model and the new checkpoint load"
no_tmp "train: no temporary file left" "$FS"
unfill
run_ok "train: --resume after freeing space writes the model" \
    $SEMSEARCH train -o "$FS/g.gguf" $RES --save-every 0 --resume "$FS/g.ckpt.gguf"
same "train: ... the straight run's model" "$T/ref/straight.gguf" "$FS/g.gguf"

# The best model by dev score (--eval) does not fit: the previous one stays.
awk -F'\t' 'NR>60 {print $1 "\t" $2 "\t5"; getline nx; split(nx, f, "\t"); print $1 "\t" f[2] "\t0"}' "$GRP" > "$T/dev.scored.tsv"
rm -f "$FS"/*
cp "$CK10" "$FS/g.ckpt.gguf"
cp "$T/m1.gguf" "$FS/g.best.gguf"
fill 0
full_fails "train --eval: the best model does not fit" "g.best.gguf: write failed" \
    $SEMSEARCH train -o "$FS/g.gguf" $RES --save-every 5 --resume "$FS/g.ckpt.gguf" --eval "$T/dev.scored.tsv" --eval-every 5
grep -q "the checkpoint $FS/g.ckpt.gguf is intact" "$T/err"; ok $? "train --eval: the message names the checkpoint"
same "train --eval: the previous best model is byte-identical" "$T/m1.gguf" "$FS/g.best.gguf"
same "train --eval: the checkpoint too" "$CK10" "$FS/g.ckpt.gguf"
no_tmp "train --eval: no temporary file left" "$FS"
unfill
run_ok "train --eval: --resume after freeing space" \
    $SEMSEARCH train -o "$FS/g.gguf" $RES --save-every 5 --resume "$FS/g.ckpt.gguf" --eval "$T/dev.scored.tsv" --eval-every 5
same "train --eval: ... the straight run's model" "$T/ref/straight.gguf" "$FS/g.gguf"
$SEMSEARCH model info -m "$FS/g.best.gguf" >/dev/null 2>&1 && ! cmp -s "$T/m1.gguf" "$FS/g.best.gguf"
ok $? "train --eval: ... and a new best model"

# Metrics and plot on the full disk, the model elsewhere: the model is
# written, the failure is reported, and the exit status says so.
rm -f "$FS"/*
fill 0
full_fails "train: --metrics on a full disk is an error" "m.csv: write error" \
    $SEMSEARCH train -o "$T/mt.gguf" $NEW --metrics "$FS/m.csv"
$SEMSEARCH model info -m "$T/mt.gguf" >/dev/null 2>&1; ok $? "train: ... the model is written all the same"
full_fails "train: --plot on a full disk is an error" "p.svg: write failed" \
    $SEMSEARCH train -o "$T/pt.gguf" $NEW --plot "$FS/p.svg"
[ ! -e "$FS/p.svg" ] && $SEMSEARCH model info -m "$T/pt.gguf" >/dev/null 2>&1; ok $? "train: ... no plot, the model written"
no_tmp "train: no temporary file left" "$FS"
unfill
run_ok "train: --metrics and --plot after freeing space" \
    $SEMSEARCH train -o "$T/mt.gguf" $NEW --metrics "$FS/m.csv" --plot "$FS/p.svg"
[ "$(wc -l < "$FS/m.csv")" -eq 21 ] && grep -q '<svg' "$FS/p.svg"; ok $? "train: ... 20 metrics rows and a plot"

# ================================================================ 2. model init, model convert
msize=$(size "$T/m2.gguf")
for free in $(levels "$msize"); do
    rm -f "$FS"/*
    cp "$T/m1.gguf" "$FS/m.gguf"
    fill "$free"
    full_fails "model init, free $free: fails" "m.gguf: write failed" \
        $SEMSEARCH model init -v "$T/tok.model" $SHAPE --seed 2 -o "$FS/m.gguf"
    same "model init, free $free: the previous model is byte-identical" "$T/m1.gguf" "$FS/m.gguf"
    $SEMSEARCH model info -m "$FS/m.gguf" >/dev/null 2>&1; ok $? "model init, free $free: it loads"
    no_tmp "model init, free $free: no temporary file left" "$FS"
    unfill
    run_ok "model init, free $free: re-run after freeing space" \
        $SEMSEARCH model init -v "$T/tok.model" $SHAPE --seed 2 -o "$FS/m.gguf"
    same "model init, free $free: the model written" "$T/m2.gguf" "$FS/m.gguf"
done
$SEMSEARCH model convert -m "$T/m2.gguf" --f16 -o "$T/m2.f16.gguf" 2>"$T/err" &&
    $SEMSEARCH model convert -m "$T/m2.f16.gguf" --f32 -o "$T/m2.f32.gguf" 2>"$T/err"
ok $? "model convert: f16 and back to f32 (references)"
for conv in "f16 $T/m2.gguf $T/m2.f16.gguf" "f32 $T/m2.f16.gguf $T/m2.f32.gguf"; do
    set -- $conv
    for free in $(levels "$(size "$3")"); do
        rm -f "$FS"/*
        cp "$T/m1.gguf" "$FS/m.gguf"
        fill "$free"
        full_fails "model convert --$1, free $free: fails" "m.gguf: write failed" \
            $SEMSEARCH model convert -m "$2" --$1 -o "$FS/m.gguf"
        same "model convert --$1, free $free: the previous model is byte-identical" "$T/m1.gguf" "$FS/m.gguf"
        $SEMSEARCH model info -m "$FS/m.gguf" >/dev/null 2>&1; ok $? "model convert --$1, free $free: it loads"
        no_tmp "model convert --$1, free $free: no temporary file left" "$FS"
        unfill
        run_ok "model convert --$1, free $free: re-run" $SEMSEARCH model convert -m "$2" --$1 -o "$FS/m.gguf"
        same "model convert --$1, free $free: the model written" "$3" "$FS/m.gguf"
    done
done

# No inode left: the temporary file cannot even be created.
if mount -t tmpfs -o size=1m,nr_inodes=8,mode=0755 tmpfs "$FI"; then
    cp "$T/m1.gguf" "$FI/m.gguf"
    i=0
    while [ $i -lt 100 ] && touch "$FI/inode$i" 2>/dev/null; do i=$((i + 1)); done
    full_fails "no free inode: model init cannot create its file" "m.gguf: cannot create" \
        $SEMSEARCH model init -v "$T/tok.model" $SHAPE --seed 2 -o "$FI/m.gguf"
    same "no free inode: the previous model is byte-identical" "$T/m1.gguf" "$FI/m.gguf"
    full_fails "no free inode: train refuses before training" "t.gguf: cannot create" \
        $SEMSEARCH train -o "$FI/t.gguf" $NEW
    full_fails "no free inode: embed -o" "e.tsv: cannot create" $SEMSEARCH embed -m "$T/m1.gguf" -o "$FI/e.tsv" "$T/c1k.txt"
    rm -f "$FI/inode0"
    run_ok "no free inode: re-run after freeing one" $SEMSEARCH model init -v "$T/tok.model" $SHAPE --seed 2 -o "$FI/m.gguf"
    same "no free inode: the model written" "$T/m2.gguf" "$FI/m.gguf"
    umount "$FI"
else
    skip "no free inode" "cannot mount a tmpfs with nr_inodes"
fi

# A directory as the target: refused before anything is written (it used to
# fail at the rename); nothing replaced, no temporary file.
rm -f "$FS"/*
mkdir -p "$FS/d.gguf/x"
run_fails "a directory as the output: the error names it" "d.gguf: is a directory" \
    $SEMSEARCH model init -v "$T/tok.model" $SHAPE -o "$FS/d.gguf"
[ -d "$FS/d.gguf/x" ]; ok $? "a directory as the output: it is untouched"
no_tmp "a directory as the output: no temporary file left" "$FS"
rm -rf "$FS/d.gguf"

# ================================================================ 3. embed -o, tokenizer train
head -n 300 "$CORPUS" > "$T/e.txt"
head -n 5 "$CORPUS" > "$T/e5.txt"
for fmt in tsv jsonl npy f32; do
    $SEMSEARCH embed -m "$T/m1.gguf" -f $fmt -o "$T/ref/e.$fmt" "$T/e.txt" 2>"$T/err" &&
        $SEMSEARCH embed -m "$T/m1.gguf" -f $fmt -o "$T/ref/old.$fmt" "$T/e5.txt" 2>"$T/err"
    ok $? "embed --format $fmt: reference outputs"
    for free in $(levels "$(size "$T/ref/e.$fmt")"); do
        rm -f "$FS"/*
        cp "$T/ref/old.$fmt" "$FS/e.$fmt"
        fill "$free"
        full_fails "embed -f $fmt -o, free $free: fails" "e\\.$fmt: write (error|failed)" \
            $SEMSEARCH embed -m "$T/m1.gguf" -f $fmt -o "$FS/e.$fmt" "$T/e.txt"
        same "embed -f $fmt, free $free: the previous file is byte-identical" "$T/ref/old.$fmt" "$FS/e.$fmt"
        no_tmp "embed -f $fmt, free $free: no temporary file left" "$FS"
        unfill
        run_ok "embed -f $fmt, free $free: re-run" $SEMSEARCH embed -m "$T/m1.gguf" -f $fmt -o "$FS/e.$fmt" "$T/e.txt"
        same "embed -f $fmt, free $free: the output written" "$T/ref/e.$fmt" "$FS/e.$fmt"
    done
done
# npy on stdout spools its rows to $TMPDIR first: a full $TMPDIR
rm -f "$FS"/*
fill 0
TMPDIR="$FS" $SEMSEARCH embed -m "$T/m1.gguf" -f npy "$T/e.txt" >"$T/out.npy" 2>"$T/err"; s=$?
[ $s -eq 1 ] && grep -q "$FS/semsearch-embed\..*temporary file.*No space left on device" "$T/err"
ok $? "embed -f npy to stdout, full TMPDIR: the temporary file is named, not stdout"
[ ! -s "$T/out.npy" ] && [ -z "$(ls -A "$FS" | grep -v '^fill$')" ]; ok $? "... nothing on stdout, nothing left in TMPDIR"
# ... rows that fit in the stdio buffer: the failure comes at its flush
TMPDIR="$FS" $SEMSEARCH embed -m "$T/m1.gguf" -f npy "$T/e5.txt" >"$T/out.npy" 2>"$T/err"; s=$?
[ $s -eq 1 ] && grep -q "$FS/semsearch-embed\..*No space left on device" "$T/err" && [ ! -s "$T/out.npy" ]
ok $? "... 5 rows: the error at the last flush, still nothing on stdout"
unfill
TMPDIR="$FS" $SEMSEARCH embed -m "$T/m1.gguf" -f npy "$T/e.txt" >"$T/out.npy" 2>"$T/err"; ok $? "... re-run after freeing space"
same "... the npy written" "$T/ref/e.npy" "$T/out.npy"

TOK="-i $T/c1k.txt --threads 1"
$SEMSEARCH tokenizer train $TOK --vocab-size 200 -o "$T/ref/old.model" 2>"$T/err"; ok $? "tokenizer train: a previous model"
for free in $(levels "$(size "$T/tok.model")"); do
    rm -f "$FS"/*
    cp "$T/ref/old.model" "$FS/t.model"
    fill "$free"
    full_fails "tokenizer train, free $free: fails" "t.model: write failed" \
        $SEMSEARCH tokenizer train $TOK --vocab-size 300 -o "$FS/t.model"
    same "tokenizer train, free $free: the previous model is byte-identical" "$T/ref/old.model" "$FS/t.model"
    echo "a dog" | $SEMSEARCH tokenize -m "$FS/t.model" >/dev/null 2>&1; ok $? "tokenizer train, free $free: it loads"
    no_tmp "tokenizer train, free $free: no temporary file left" "$FS"
    unfill
    run_ok "tokenizer train, free $free: re-run" $SEMSEARCH tokenizer train $TOK --vocab-size 300 -o "$FS/t.model"
    same "tokenizer train, free $free: the model written" "$T/tok.model" "$FS/t.model"
done

# ================================================================ 4. index, delete
if command -v sqlite3 >/dev/null 2>&1; then has_sqlite=1; else has_sqlite=0; fi
# integrity DESC DB: PRAGMA integrity_check says ok (skipped without sqlite3)
integrity() {
    if [ $has_sqlite = 1 ]; then [ "$(sqlite3 "$2" 'PRAGMA integrity_check' 2>&1)" = ok ]; ok $? "$1"
    else skip "$1" "no sqlite3 shell"; fi
}
docs() { $SEMSEARCH info -d "$1" 2>/dev/null | awk -F'\t' '$1 == "documents" { print $2 }'; }
# distinct lines, so that every line is a new document
awk '{ print "a" NR ": " $0 }' "$CORPUS" | head -n 300 > "$T/a.txt"
awk '{ print "b" NR ": " $0 }' "$CORPUS" | head -n 400 > "$T/b.txt"
awk '{ print "c" NR ": " $0 }' "$CORPUS" | head -n 1800 > "$T/c.txt"
awk '{ print "d" NR ": " $0 }' "$CORPUS" | head -n 100 > "$T/d.txt"
$SEMSEARCH index -q -d "$T/base.db" -m "$T/m1.gguf" --source a "$T/a.txt" 2>"$T/err"
[ "$(docs "$T/base.db")" = 300 ]; ok $? "index: a database of 300 documents"

# SQLite says "database or disk is full", or the OS's reason for an I/O error
DBFULL="(database or disk is full|No space left on device)"

# A new database on a full disk
for free in 0 $((16 * PG)); do
    rm -f "$FS"/*
    fill "$free"
    run_fails "index, new database, free $free: fails" "new.db: .*$DBFULL" \
        $SEMSEARCH index -q -d "$FS/new.db" -m "$T/m1.gguf" --source a "$T/a.txt"
    unfill
    run_ok "index, new database, free $free: re-run" $SEMSEARCH index -q -d "$FS/new.db" -m "$T/m1.gguf" --source a "$T/a.txt"
    [ "$(docs "$FS/new.db")" = 300 ]; ok $? "index, new database, free $free: 300 documents"
done

# An existing database, 400 new lines in batches of 50: the disk is full
# before the -shm file exists (free 0), or the WAL fills at some batch.
saw_none=0 saw_some=0
for free in 0 $((64 * 1024)) $((256 * 1024)) $((768 * 1024)) $((1536 * 1024)); do
    rm -f "$FS"/*
    cp "$T/base.db" "$FS/d.db"
    fill "$free"
    run_fails "index, free $free: fails with a clear error" "d.db: .*$DBFULL" \
        $SEMSEARCH index -q -d "$FS/d.db" -b 50 --source b "$T/b.txt"
    unfill
    integrity "index, free $free: integrity_check ok" "$FS/d.db"
    n=$(docs "$FS/d.db")
    k=$(( ${n:-0} - 300 ))
    [ -n "$n" ] && [ $k -ge 0 ] && [ $((k % 50)) -eq 0 ] && [ $k -lt 400 ]
    ok $? "index, free $free: $k of 400 committed, whole batches only"
    [ $k -eq 0 ] && saw_none=1
    [ $k -gt 0 ] && saw_some=1
    if [ $has_sqlite = 1 ]; then
        sqlite3 "$FS/d.db" 'SELECT text FROM documents ORDER BY id' > "$T/stored"
        { cat "$T/a.txt"; head -n $k "$T/b.txt"; } > "$T/expected"
        same "index, free $free: the committed documents, in order" "$T/expected" "$T/stored"
    else
        skip "index, free $free: the committed documents" "no sqlite3 shell"
    fi
    run_ok "index, free $free: re-run after freeing space" $SEMSEARCH index -d "$FS/d.db" -b 50 --source b "$T/b.txt"
    grep -q "400 lines: $((400 - k)) added, $k already stored" "$T/err"; ok $? "index, free $free: adds exactly the missing $((400 - k))"
    [ "$(docs "$FS/d.db")" = 700 ]; ok $? "index, free $free: 700 documents, no duplicate"
    integrity "index, free $free: integrity_check ok after the re-run" "$FS/d.db"
    no_tmp "index, free $free: no temporary file left" "$FS"
done
[ $saw_none = 1 ] && [ $saw_some = 1 ]; ok $? "index: failures at the first batch and after committed batches"

# The commits fit in the WAL, but its checkpoint into the (growing) database
# file does not: the run succeeds (the WAL holds the data) and the WAL stays.
found=0
for k in 16 18 20 22 24 26 28 30 32 36 40; do
    rm -f "$FS"/*
    cp "$T/base.db" "$FS/d.db"
    fill $((k * 64 * 1024))
    $SEMSEARCH index -q -d "$FS/d.db" -b 2000 --source c "$T/c.txt" >"$T/out" 2>"$T/err"; s=$?
    if [ $s -eq 0 ] && [ -s "$FS/d.db-wal" ]; then found=1; break; fi
done
if [ $found = 1 ]; then
    ok 0 "index: the WAL checkpoint into the database fails (free $((k * 64))k): the run still succeeds"
    [ "$(docs "$FS/d.db")" = 2100 ]; ok $? "index: 2100 documents readable (the WAL holds them)"
    # a database whose WAL cannot grow
    run_fails "index into a database whose WAL cannot grow: fails" "d.db: .*$DBFULL" \
        $SEMSEARCH index -q -d "$FS/d.db" --source d "$T/d.txt"
    [ "$(docs "$FS/d.db")" = 2100 ]; ok $? "... nothing lost, nothing half-added"
    unfill
    integrity "... integrity_check ok" "$FS/d.db"
    run_ok "... re-run after freeing space" $SEMSEARCH index -d "$FS/d.db" --source d "$T/d.txt"
    grep -q "100 lines: 100 added, 0 already stored" "$T/err"; ok $? "... adds the 100"
    [ "$(docs "$FS/d.db")" = 2200 ] && [ ! -s "$FS/d.db-wal" ]; ok $? "... 2200 documents, the WAL checkpointed"
else
    skip "index: a WAL checkpoint that cannot grow the database" "no fill level reached it"
fi

# delete and --reembed on a full disk: nothing deleted or replaced
for free in 0 $((64 * 1024)); do
    rm -f "$FS"/*
    cp "$T/base.db" "$FS/d.db"
    $SEMSEARCH index -q -d "$FS/d.db" --source b "$T/b.txt" 2>"$T/err"
    cp "$FS/d.db" "$T/before.db"
    fill "$free"
    run_fails "delete, free $free: fails with a clear error" "d.db: .*$DBFULL" \
        $SEMSEARCH delete -d "$FS/d.db" --source a
    run_fails "index --reembed, free $free: fails with a clear error" "d.db: .*$DBFULL" \
        $SEMSEARCH index -q -d "$FS/d.db" -m "$T/m2.gguf" --reembed
    unfill
    integrity "delete, free $free: integrity_check ok" "$FS/d.db"
    $SEMSEARCH info -d "$FS/d.db" > "$T/info" 2>&1
    grep -q "^documents	700$" "$T/info" && grep -q "^model	m1.gguf$" "$T/info"
    ok $? "delete, --reembed, free $free: 700 documents, still the old model's vectors"
    run_ok "delete, free $free: re-run after freeing space" $SEMSEARCH delete -d "$FS/d.db" --source a
    grep -q "deleted 300 documents" "$T/err" && [ "$(docs "$FS/d.db")" = 400 ]; ok $? "delete, free $free: 300 deleted, 400 left"
    run_ok "index --reembed, free $free: re-run" $SEMSEARCH index -q -d "$FS/d.db" -m "$T/m2.gguf" --reembed
    $SEMSEARCH info -d "$FS/d.db" > "$T/info" 2>&1
    grep -q "^model	m2.gguf$" "$T/info" && [ "$(docs "$FS/d.db")" = 400 ]; ok $? "index --reembed, free $free: the new model, 400 documents"
    integrity "delete, --reembed, free $free: integrity_check ok at the end" "$FS/d.db"
done

# ================================================================ 5. serve --allow-write
# POST and DELETE /documents on a full disk: 507 with an error object,
# nothing added or deleted, the server keeps answering; once there is
# room the same requests succeed.
if command -v curl >/dev/null 2>&1; then
    rm -f "$FS"/*
    cp "$T/base.db" "$FS/d.db"
    cp "$FS/d.db" "$T/before.db"
    : > "$T/slog"
    SEMSEARCH_THREADS=1 $SEMSEARCH serve --port 0 -d "$FS/d.db" --allow-write 2> "$T/slog" &
    SPID=$!
    PORT= w=0
    while [ -z "$PORT" ] && [ $w -lt 600 ] && kill -0 $SPID 2>/dev/null; do
        PORT=$(sed -n 's|^semsearch: serving on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$T/slog")
        [ -n "$PORT" ] || sleep 0.05
        w=$((w + 1))
    done
    [ -n "$PORT" ]; ok $? "serve --allow-write on the small disk"
    URL="http://127.0.0.1:$PORT"
    awk 'NR <= 40 { printf "%s{\"text\": \"e%d: %s %s %s\", \"id\": \"e%d\"}", (NR > 1 ? "," : "{\"documents\": ["), NR, $1, $2, $3, NR } END { print "]}" }' \
        "$CORPUS" > "$T/add.json"
    code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
    fill 0
    c=$(code -X POST -H 'Content-Type: application/json' --data-binary @"$T/add.json" "$URL/documents")
    [ "$c" = 507 ] && grep -q '"code":"insufficient_storage"' "$T/body" && grep -q 'disk is full\|No space left' "$T/body"
    ok $? "serve, full disk: POST /documents answers 507 insufficient_storage ($c)"
    [ "$c" = 507 ] || sed "s/^/# /" "$T/body"
    c=$(code -X DELETE -H 'Content-Type: application/json' -d '{"source": "a"}' "$URL/documents")
    [ "$c" = 507 ]; ok $? "serve, full disk: DELETE /documents answers 507 ($c)"
    c=$(code "$URL/health"); [ "$c" = 200 ]; ok $? "serve, full disk: the server still answers /health"
    c=$(code -H 'Content-Type: application/json' -d '{"query": "a dog", "k": 3}' "$URL/search")
    [ "$c" = 200 ]; ok $? "serve, full disk: and /search ($c)"
    unfill
    [ "$(docs "$FS/d.db")" = 300 ]; ok $? "serve, full disk: nothing added or deleted (300 documents)"
    integrity "serve, full disk: integrity_check ok" "$FS/d.db"
    c=$(code -X POST -H 'Content-Type: application/json' --data-binary @"$T/add.json" "$URL/documents")
    [ "$c" = 200 ] && grep -q '"added":40' "$T/body"; ok $? "serve: once there is room, the same POST adds 40 ($c)"
    # DELETE {"ids": [40 ids]} is one transaction: at every level of free
    # space it deletes all 40 (200) or none (507), never some
    printf '{"ids": [' > "$T/del.json"
    i=1; while [ $i -le 40 ]; do printf '%s"e%d"' "$([ $i -gt 1 ] && echo ,)" $i >> "$T/del.json"; i=$((i + 1)); done
    echo ']}' >> "$T/del.json"
    for free in 0 131072 524288 4194304; do
        fill "$free"
        c=$(code -X DELETE -H 'Content-Type: application/json' --data-binary @"$T/del.json" "$URL/documents")
        unfill
        n=$(docs "$FS/d.db")
        { [ "$c" = 507 ] && [ "$n" = 340 ]; } || { [ "$c" = 200 ] && grep -q '"deleted":40' "$T/body" && [ "$n" = 300 ]; }
        ok $? "serve, free $free: DELETE of 40 ids deletes all or none ($c, $n documents)"
        if [ "$c" = 200 ]; then
            code -X POST -H 'Content-Type: application/json' --data-binary @"$T/add.json" "$URL/documents" >/dev/null
        fi
    done
    c=$(code -X DELETE -H 'Content-Type: application/json' --data-binary @"$T/del.json" "$URL/documents")
    [ "$c" = 200 ] && grep -q '"deleted":40' "$T/body" && [ "$(docs "$FS/d.db")" = 300 ]
    ok $? "serve: with room, DELETE of the 40 ids deletes 40 ($c)"
    code -X POST -H 'Content-Type: application/json' --data-binary @"$T/add.json" "$URL/documents" >/dev/null
    kill -TERM $SPID 2>/dev/null
    wait $SPID
    [ "$(docs "$FS/d.db")" = 340 ]; ok $? "serve: 340 documents after the server stops"
else
    skip "serve on a full disk" "curl is missing"
fi

done_testing
