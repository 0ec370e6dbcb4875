#!/bin/sh
# crash.sh: crash safety and concurrency through the real command (issue #7):
# kill -9 loops during `semsearch train` and `semsearch index`, two indexers
# on one database, readers while a writer indexes, and processes creating one
# new database at the same moment.
#
# The kill points are random (seeded; the seed is printed and CRASH_SEED=N
# repeats its choices) but mostly placed by progress (a metrics row, a document
# count, a checkpoint's temporary file), not by wall time, so that every
# assertion holds whatever the machine's speed and wherever a kill lands.
. "$top_srcdir/tests/setup.sh"

if [ -n "${VALGRIND:-}" ]; then
    echo "1..0 # SKIP kill -9 loops and races are timing tests, not valgrind ones"
    exit 0
fi
SEED=${CRASH_SEED:-$(( ($$ * 7919 + $(date +%s)) % 1000003 ))}
echo "# seed $SEED (CRASH_SEED=$SEED repeats these random choices)"
rnd=$SEED
# rand N: R = a pseudo-random number in 0..N-1 (POSIX sh has no $RANDOM)
rand() { rnd=$(( (rnd * 1103515245 + 12345) % 2147483648 )); R=$(( (rnd / 65536) % $1 )); }
msleep() { sleep "$(printf '0.%03d' "$1")"; }
HAVE_SQLITE=; command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE=1
t_start=$(date +%s)
since() { echo $(( $(date +%s) - t_start )); }

# ================================================================ train
# A tiny model, groups and plain text with augmentation, a learned
# temperature: every piece of state a checkpoint must carry. A checkpoint
# every 10 steps (6.8 MB, most of it the 16k-token embedding and its Adam
# moments): a good part of the time is spent writing checkpoints.
GRP="$DATA/coco-100.groups.tsv"
head -n 400 "$top_srcdir/corpora/coco-captions.txt" > "$T/c.txt"
$SEMSEARCH model init --d-model 32 --layers 1 --heads 2 --ffn 64 --max-len 32 --seed 3 -o "$T/tiny.gguf" 2>"$T/err"
ok $? "a tiny model to train"
STEPS=300
TR="--data $GRP --data $T/c.txt --aug-delete 0.1 --aug-swap 0.1 --loss ntxent --learn-temperature -b 16 --steps $STEPS --save-every 10 -t 1"
curve() { cut -d, -f1-6 "$1"; } # step, epoch, loss, lr, grad norm, temperature
$SEMSEARCH train -o "$T/ref.gguf" --init "$T/tiny.gguf" $TR -q --metrics "$T/ref.csv" 2>"$T/err"
ok $? "train: the uninterrupted reference run ($STEPS steps, $(since) s so far)"

K="$T/k.gguf"
KC="$T/k.ckpt.gguf"
rows() { if [ -f "$T/k.csv" ]; then echo $(( $(wc -l < "$T/k.csv") - 1 )); else echo 0; fi; }
mtime() { stat -c %y "$KC" 2>/dev/null; }
kills=0 in_tmp=0 after_rename=0 rounds=0 last_step=0 resumes=0 train_bad=0
rand 9
mode_at=$R
# Each round starts from the checkpoint (or from scratch while there is
# none) and is killed some 15 steps after it, or at the next checkpoint: 7
# kills fit in 300 steps with room to spare.
while [ $kills -lt 7 ] && [ $rounds -lt 20 ]; do
    rounds=$((rounds + 1))
    if [ -e "$KC" ]; then from="--resume $KC"; resumes=$((resumes + 1)); else from="--init $T/tiny.gguf"; fi
    rm -f "$T/k.csv" # a resumed run rewrites it at its first step; no stale rows to wait on
    $SEMSEARCH train -o "$K" $from $TR --metrics "$T/k.csv" >/dev/null 2>"$T/k.err" &
    pid=$!
    # the kinds of kill in a rotating order, one in three while a checkpoint is written
    mode=$(echo 1 0 1 2 1 3 0 2 1 | cut -d' ' -f$(( (mode_at + rounds) % 9 + 1 )))
    rand 15
    target=$((last_step + 1 + R)) # a step a little after the checkpoint it starts from
    n=0
    case $mode in
    0)  # at a random moment of a random step
        while kill -0 $pid 2>/dev/null && [ "$(rows)" -lt $target ] && [ $n -lt 3000 ]; do sleep 0.005; n=$((n + 1)); done
        rand 8
        msleep $R
        what="during step ~$target" ;;
    1)  # while a checkpoint is being written: its temporary file exists
        while kill -0 $pid 2>/dev/null && [ "$(rows)" -lt $target ] && [ $n -lt 3000 ]; do sleep 0.005; n=$((n + 1)); done
        n=0
        hit=
        old=" $(cd "$T" && echo k.ckpt.gguf.tmp.*) " # left by earlier kills
        while [ -z "$hit" ] && [ $n -lt 200000 ] && kill -0 $pid 2>/dev/null; do
            for f in "$KC".tmp.*; do
                case "$old" in *" ${f##*/} "*) ;; *) [ -e "$f" ] && hit=1 ;; esac
            done
            n=$((n + 1))
        done
        [ -n "$hit" ] && in_tmp=$((in_tmp + 1))
        what="while a checkpoint's temporary file exists${hit:+ (caught)}" ;;
    2)  # right after a checkpoint is renamed into place
        m0=$(mtime)
        while kill -0 $pid 2>/dev/null && [ "$(mtime)" = "$m0" ] && [ $n -lt 20000 ]; do n=$((n + 1)); done
        [ "$(mtime)" != "$m0" ] && after_rename=$((after_rename + 1))
        what="right after a checkpoint was renamed" ;;
    *)  # while starting: loading the data and the model or the checkpoint
        rand 60
        msleep $R
        what="${R} ms after the start" ;;
    esac
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    s=$?
    st=$(sed -n 's/.*resuming .* at step \([0-9]*\) .*/\1/p' "$T/k.err")
    echo "# train round $rounds: killed $what; exit $s; started from step ${st:-0}"
    # killed (137), or finished (0) when the kill came too late
    if [ $s -ne 137 ] && [ $s -ne 0 ]; then
        train_bad=$((train_bad + 1))
        sed 's/^/#   /' "$T/k.err" | tail -5
    fi
    # the checkpoint steps never go back, and each is a whole valid file
    if [ -n "$st" ] && { [ "$st" -lt $last_step ] || [ $((st % 10)) -ne 0 ]; }; then
        train_bad=$((train_bad + 1))
        echo "#   resumed from step $st after step $last_step"
    fi
    [ -n "$st" ] && last_step=$st
    if [ -e "$KC" ] && ! $SEMSEARCH model info -m "$KC" >/dev/null 2>"$T/err"; then
        train_bad=$((train_bad + 1))
        echo "#   the checkpoint is not a valid model file:"
        sed 's/^/#   /' "$T/err" | head -3
    fi
    [ $s -eq 0 ] && break
done
[ $kills -ge 5 ]; ok $? "train: killed with SIGKILL $kills times ($in_tmp during a checkpoint write, $after_rename right after one)"
[ $train_bad -eq 0 ]; ok $? "train: after every kill the checkpoint is valid and the next run resumes from it ($resumes resumes)"
stray=$(ls "$T" | grep -c '\.tmp\.')
$SEMSEARCH train -o "$K" --resume "$KC" $TR -q --metrics "$T/k.csv" 2>"$T/err"
s=$?
left=$(ls "$T" | grep -c '\.tmp\.')
ok $s "train: the last resume runs to the end"
[ "$left" -eq 0 ]; ok $? "train: the temporary files of killed saves ($stray) are swept by the next save (left: $left)"
[ $s -eq 0 ] || sed 's/^/# /' "$T/err" | head -5
curve "$T/ref.csv" > "$T/c1"
curve "$T/k.csv" > "$T/c2"
same "train: the killed-and-resumed run has the reference's loss history, step for step" "$T/c1" "$T/c2"
cmp -s "$T/ref.gguf" "$K"; ok $? "train: and ends with the reference's model, bit for bit"
$SEMSEARCH model info -m "$K" >/dev/null 2>&1; ok $? "train: the final model is valid ($(since) s so far)"

# ================================================================ index
M="$T/mi.gguf"
$SEMSEARCH model init --d-model 32 --layers 1 --heads 2 --ffn 64 --max-len 32 --seed 5 -o "$M" 2>"$T/err"
ok $? "a tiny model to index with"
# 10000 lines, numbered so that every one is distinct
cat "$top_srcdir/corpora/coco-captions.txt" "$top_srcdir/corpora/wiki-sentences-5k.txt" |
    awk '{ print NR ": " $0 }' > "$T/all.txt"
N=6000
head -n $N "$T/all.txt" > "$T/in.txt"
# the number of documents, 0 while there is no database
docs() { $SEMSEARCH info -d "$1" 2>/dev/null | awk -F'\t' '$1 == "documents" { n = $2 } END { print n + 0 }'; }
# The invariants of docs/schema.md, checked read-only (so that the check
# does not checkpoint the WAL the kill left: the next writer finds it as it
# was): documents | vectors (of documents, and of the further passages of
# long ones) without their document's id in their block's slot or with a zero
# vector | non-zero ids in blocks | distinct slots | distinct texts | vectors.
# A consistent store of n documents and m vectors prints n|0|m|m|n|m.
check_sql() { # the vectors: documents' own, and passages' (schema version 2)
    x="SELECT id, block, slot FROM documents"
    [ "$(sqlite3 -readonly "$1" "SELECT count(*) FROM sqlite_schema WHERE name = 'passages'")" = 1 ] &&
        x="$x UNION ALL SELECT doc, block, slot FROM passages WHERE seq > 0"
    echo "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 1023),
  d(dim) AS (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'dim'), x(id, block, slot) AS ($x)
SELECT (SELECT count(*) FROM documents),
  (SELECT count(*) FROM x LEFT JOIN blocks b ON b.id = x.block LEFT JOIN vectors_f32 v ON v.block = x.block, d
    WHERE b.id IS NULL OR v.block IS NULL
      OR hex(substr(b.ids, x.slot * 8 + 1, 8)) != printf('%02X%02X%02X%02X%02X%02X%02X%02X', x.id & 255,
         (x.id >> 8) & 255, (x.id >> 16) & 255, (x.id >> 24) & 255, (x.id >> 32) & 255, (x.id >> 40) & 255,
         (x.id >> 48) & 255, (x.id >> 56) & 255)
      OR substr(v.data, x.slot * d.dim * 4 + 1, d.dim * 4) = zeroblob(d.dim * 4)),
  (SELECT count(*) FROM blocks, s WHERE substr(ids, i * 8 + 1, 8) != zeroblob(8)),
  (SELECT count(DISTINCT block * 1048576 + slot) FROM x),
  (SELECT count(DISTINCT text) FROM documents),
  (SELECT count(*) FROM x)"
}
# consistent DB: 0 when the store is whole (or not created yet); says why not
consistent() {
    [ -s "$1" ] || return 0
    [ "$(sqlite3 -readonly "$1" 'PRAGMA integrity_check' 2>&1)" = ok ] || { echo "#   integrity_check failed"; return 1; }
    [ "$(sqlite3 -readonly "$1" 'SELECT count(*) FROM sqlite_schema')" = 0 ] && return 0
    c=$(sqlite3 -readonly "$1" "$(check_sql "$1")" 2>&1)
    n=${c%%|*}
    m=${c##*|}
    [ "$c" = "$n|0|$m|$m|$n|$m" ] || { echo "#   inconsistent: $c"; return 1; }
}
KDB="$T/k.db"
kills=0 rounds=0 index_bad=0
# Each round is killed at a random document count at most 1/8 of the way to
# the end (or while starting), so 6 kills always fit.
while [ $kills -lt 6 ] && [ $rounds -lt 20 ]; do
    rounds=$((rounds + 1))
    n0=$(docs "$KDB")
    n0=${n0:-0}
    rand 3
    b=$((8 << R)) # batches of 8, 16 or 32
    rand 4
    mode=$R
    $SEMSEARCH index -q -d "$KDB" -m "$M" -b $b -t 1 "$T/in.txt" 2>"$T/k.err" &
    pid=$!
    if [ $mode -eq 0 ]; then
        rand 40
        msleep $R
        what="$R ms after the start"
    else
        rand $(( (N - n0) / 8 + 1 ))
        target=$((n0 + 1 + R))
        n=0
        while kill -0 $pid 2>/dev/null && [ "$(docs "$KDB")" -lt $target ] && [ $n -lt 3000 ]; do
            sleep 0.005
            n=$((n + 1))
        done
        rand 15
        msleep $R
        what="past $target documents (+$R ms)"
    fi
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    s=$?
    n1=$(docs "$KDB")
    echo "# index round $rounds (-b $b): killed $what; exit $s; ${n0} -> ${n1:-0} documents"
    if [ $s -ne 137 ] && [ $s -ne 0 ]; then
        index_bad=$((index_bad + 1))
        sed 's/^/#   /' "$T/k.err" | tail -5
    fi
    if [ -n "$HAVE_SQLITE" ]; then consistent "$KDB" || index_bad=$((index_bad + 1)); fi
    [ $s -eq 0 ] && break
done
[ $kills -ge 5 ]; ok $? "index: killed with SIGKILL $kills times"
if [ -n "$HAVE_SQLITE" ]; then
    [ $index_bad -eq 0 ]; ok $? "index: after every kill integrity_check is ok and every document has its vector"
else
    [ $index_bad -eq 0 ]; ok $? "index: every run was killed or finished"
    skip "index: integrity_check and vectors after every kill" "no sqlite3 shell"
fi
before=$(docs "$KDB")
$SEMSEARCH index -d "$KDB" -m "$M" -b 16 -t 1 "$T/in.txt" 2>"$T/err"
ok $? "index: the re-run after $kills kills completes"
grep -q "$N lines: $((N - before)) added, $before already stored" "$T/err"; ok $? "index: it adds exactly the $((N - before)) missing"
[ "$(docs "$KDB")" = $N ]; ok $? "index: $N documents"
if [ -n "$HAVE_SQLITE" ]; then
    sqlite3 -readonly "$KDB" 'SELECT text FROM documents' | LC_ALL=C sort > "$T/got"
    LC_ALL=C sort "$T/in.txt" > "$T/want"
    same "index: every line exactly once, nothing lost, no duplicate" "$T/want" "$T/got"
    consistent "$KDB"; ok $? "index: consistent at the end"
    sqlite3 "$KDB" "INSERT INTO documents_fts(documents_fts) VALUES ('integrity-check')" 2>"$T/err"
    ok $? "index: the full-text index matches the documents ($(since) s so far)"
else
    skip "index: every line exactly once" "no sqlite3 shell"
    skip "index: consistent at the end" "no sqlite3 shell"
    skip "index: the full-text index" "no sqlite3 shell"
fi

# ================================================================ concurrency
# start_at GATE CMD...: runs CMD in the background once the file GATE exists
start_at() { g=$1; shift; ( while [ ! -e "$g" ]; do sleep 0.002; done; exec "$@" ) & }
texts() { sqlite3 -readonly "$1" 'SELECT text FROM documents' | LC_ALL=C sort; }

# Two indexers at once on one new database: A = lines 1-3000, B = 2001-5000.
sed -n '1,3000p' "$T/all.txt" > "$T/A.txt"
sed -n '2001,5000p' "$T/all.txt" > "$T/B.txt"
head -n 5000 "$T/all.txt" | LC_ALL=C sort > "$T/union"
two_bad=0
for r in 1 2 3; do
    db="$T/two$r.db"
    rand 3
    ba=$((8 << R))
    rand 3
    bb=$((8 << R))
    rm -f "$T/go"
    start_at "$T/go" $SEMSEARCH index -q -d "$db" -m "$M" -b $ba -t 1 "$T/A.txt" 2>"$T/ea"
    pa=$!
    start_at "$T/go" $SEMSEARCH index -q -d "$db" -m "$M" -b $bb -t 1 "$T/B.txt" 2>"$T/eb"
    pb=$!
    sleep 0.05
    : > "$T/go"
    wait $pa
    sa=$?
    wait $pb
    sb=$?
    n=$(docs "$db")
    added=$(cat "$T/ea" "$T/eb" | sed -n 's/.*lines: \([0-9]*\) added.*/\1/p' | awk '{ s += $1 } END { print s }')
    echo "# two indexers, round $r (-b $ba and -b $bb): exits $sa and $sb, $n documents, $added added in all"
    if [ $sa -ne 0 ] || [ $sb -ne 0 ] || [ "$n" != 5000 ] || [ "$added" != 5000 ]; then
        two_bad=$((two_bad + 1))
        cat "$T/ea" "$T/eb" | grep -v ' lines: ' | sed 's/^/#   /' | head -5
    fi
    if [ -n "$HAVE_SQLITE" ]; then
        texts "$db" > "$T/got"
        cmp -s "$T/union" "$T/got" || { two_bad=$((two_bad + 1)); echo "#   the texts are not the union"; }
        consistent "$db" || two_bad=$((two_bad + 1))
    fi
done
[ $two_bad -eq 0 ]; ok $? "two indexers at once (overlapping inputs, new database): both exit 0, the union exactly once"

# Several processes creating one new database at the same moment (the
# schema and the switch to WAL), each with 20 lines, overlapping.
create_bad=0
for r in 1 2 3 4 5 6 7 8; do
    db="$T/new$r.db"
    rm -f "$T/go"
    pids=
    for p in 1 2 3; do
        sed -n "$((p * 10 - 9)),$((p * 10 + 10))p" "$T/all.txt" > "$T/n$p.txt"
        start_at "$T/go" $SEMSEARCH index -q -d "$db" -m "$M" -t 1 "$T/n$p.txt" 2>"$T/en$p"
        pids="$pids $!"
    done
    sleep 0.03
    : > "$T/go"
    for p in $pids; do
        wait $p || { create_bad=$((create_bad + 1)); cat "$T"/en? | grep -v ' lines: ' | sed 's/^/#   /' | head -3; }
    done
    [ "$(docs "$db")" = 40 ] || { create_bad=$((create_bad + 1)); echo "#   round $r: $(docs "$db") documents, not 40"; }
done
[ $create_bad -eq 0 ]; ok $? "3 processes creating one database at once, 8 times: every one exits 0, 40 documents"

# Readers while a writer indexes: the writer is a series of `semsearch index`
# runs (each opens, commits batches and closes the database, which then
# checkpoints its WAL); two readers query and ask for info meanwhile.
RDB="$T/r.db"
sed -n '5001,5100p' "$T/all.txt" > "$T/seed.txt"
$SEMSEARCH index -q -d "$RDB" -m "$M" -t 1 "$T/seed.txt" 2>"$T/err"
ok $? "readers: a database of 100 documents to start with"
sed -n '5101,9100p' "$T/all.txt" | split -l 400 - "$T/chunk."
( for f in "$T"/chunk.*; do $SEMSEARCH index -q -d "$RDB" -m "$M" -b 16 -t 1 "$f" || exit 1; done ) 2>"$T/ew" &
pw=$!
reader() { # reader ID: loops while the writer runs; prints "runs failures"
    runs=0 bad=0 last=0
    while kill -0 $pw 2>/dev/null || [ $runs -lt 5 ]; do
        runs=$((runs + 1))
        if $SEMSEARCH query -d "$RDB" -k 3 -t 1 "a dog on a beach" > "$T/q$1" 2> "$T/qe$1"; then
            # 3 hits, ranks 1..3, scores in [-1, 1] never increasing
            awk -F'\t' 'NF != 4 || $1 != NR || $2 > 1.000001 || $2 < -1.000001 || (NR > 1 && $2 > prev) { bad = 1 }
                { prev = $2 } END { exit bad || NR != 3 }' "$T/q$1" || { bad=$((bad + 1)); sed 's/^/#   query: /' "$T/q$1"; }
        else
            bad=$((bad + 1))
            sed 's/^/#   query: /' "$T/qe$1" | head -3
        fi
        if $SEMSEARCH info -d "$RDB" > "$T/i$1" 2> "$T/ie$1"; then
            n=$(awk -F'\t' '$1 == "documents" { print $2 }' "$T/i$1")
            # never fewer than before, never more than there will be
            if [ -z "$n" ] || [ "$n" -lt $last ] || [ "$n" -gt 4100 ]; then
                bad=$((bad + 1))
                echo "#   info: documents '$n' after $last"
            fi
            last=${n:-0}
        else
            bad=$((bad + 1))
            sed 's/^/#   info: /' "$T/ie$1" | head -3
        fi
    done
    echo "$runs $bad"
}
reader 1 > "$T/r1" &
pr1=$!
reader 2 > "$T/r2"
wait $pr1
wait $pw
sw=$?
ok $sw "readers: the writer's 10 runs all exit 0"
[ $sw -eq 0 ] || sed 's/^/# /' "$T/ew" | head -5
runs=$(cat "$T/r1" "$T/r2" | awk '$1 ~ /^[0-9]+$/ { r += $1 } END { print r + 0 }')
bad=$(cat "$T/r1" "$T/r2" | awk '$1 ~ /^[0-9]+$/ { b += $2 } END { print b + 0 }')
cat "$T/r1" "$T/r2" | grep -v '^[0-9]* [0-9]*$' | head -10
[ "$bad" -eq 0 ] && [ "$runs" -ge 10 ]
ok $? "readers: $runs queries and $runs infos while the writer indexed, every one exit 0 with sane output"
! grep -qi 'locked' "$T"/qe? "$T"/ie? "$T/ew"; ok $? "readers: no 'database is locked'"
[ "$(docs "$RDB")" = 4100 ]; ok $? "readers: the writer's documents are all there ($(since) s in all)"

done_testing
