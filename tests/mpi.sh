#!/bin/sh
# mpi.sh: data-parallel training under mpirun (#16), on 2 processes of this
# machine (oversubscribed): the trained model equals one process's with the
# same global batch, resumption is exact with the same or another number of
# processes, and a killed process ends the job with the checkpoint intact.
# Skipped without mpirun or without an MPI build.
. "$top_srcdir/tests/setup.sh"

GRP="$DATA/coco-100.groups.tsv"
if ! command -v mpirun > /dev/null 2>&1; then
    skip "data-parallel training" "no mpirun (apt-get install openmpi-bin libopenmpi-dev)"
    done_testing; exit
fi
# as root (CI's container) Open MPI wants to be told; 2 processes on fewer cores
MPIRUN="mpirun --oversubscribe -np 2"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
# Under AddressSanitizer: Open MPI leaves allocations of its plugins at
# MPI_Finalize, which LeakSanitizer reports without symbols (the plugins are
# unloaded by then), so they cannot be suppressed by name: leak checking is
# off in the processes mpirun starts. The one-process runs below go through
# the same training code with it on.
MPIRUN="$MPIRUN -x ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
$SEMSEARCH tokenizer train -i "$top_srcdir/corpora/coco-captions.txt" --vocab-size 300 --threads 1 -o "$T/tok.model" 2>"$T/err"
ok $? "a tiny tokenizer"
RUN="--max-len 32 -b 16 -q -t 1 --lr 3e-3"
TINY="-v $T/tok.model --d-model 32 --layers 1 --heads 2 --ffn 64 $RUN"
$MPIRUN $SEMSEARCH train -o "$T/probe.gguf" --data "$GRP" $TINY --steps 1 > "$T/out" 2> "$T/err"
if grep -q "built without MPI" "$T/err"; then
    skip "data-parallel training" "semsearch built without MPI"
    done_testing; exit
fi
head -n 30 "$GRP" | cut -f1 > "$T/sents.txt"
# embeds the test sentences with a model: FILE.emb
emb() { $SEMSEARCH embed -m "$1" < "$T/sents.txt" > "$1.emb" 2>/dev/null; }
# close A B: every coordinate of the two models' embeddings within 1e-4 (the
# gradients of N processes are summed in another order than one process's:
# measured differences are about 1e-6 after 30 steps)
close() {
    emb "$1"; emb "$2"
    [ -s "$1.emb" ] && [ "$(wc -l < "$1.emb")" -eq 30 ] &&
    awk 'NR == FNR { for (i = 1; i <= NF; i++) v[FNR, i] = $i; next }
         { for (i = 1; i <= NF; i++) { d = $i - v[FNR, i]; if (d < 0) d = -d; if (d > m) m = d } }
         END { print m + 0 > "/dev/stderr"; exit !(m < 1e-4) }' "$1.emb" "$2.emb" 2> "$T/diff"
}

# ------------------------------------------- the same loss as one process
# --grad-cache 4: each process embeds chunks of 4 texts, one process all of
# them; the dropout masks are those of the chunks, so the two runs are one
run_ok "one process, --grad-cache 4" $SEMSEARCH train -o "$T/one.gguf" --data "$GRP" $TINY --steps 30 --grad-cache 4 \
    --metrics "$T/one.csv"
run_ok "mpirun -np 2, --grad-cache 4" $MPIRUN $SEMSEARCH train -o "$T/two.gguf" --data "$GRP" $TINY --steps 30 \
    --grad-cache 4 --metrics "$T/two.csv"
close "$T/one.gguf" "$T/two.gguf"; ok $? "2 processes train the model 1 process does (max difference $(cat "$T/diff"))"
[ "$(cut -d, -f1,2 "$T/one.csv")" = "$(cut -d, -f1,2 "$T/two.csv")" ] && [ "$(wc -l < "$T/two.csv")" -eq 31 ]
ok $? "process 0 writes the metrics: every step, once"
$MPIRUN $SEMSEARCH train -o "$T/two-v.gguf" --data "$GRP" -v "$T/tok.model" --d-model 32 --layers 1 --heads 2 --ffn 64 \
    --max-len 32 -b 16 -t 1 --lr 3e-3 --steps 4 --grad-cache 4 > "$T/out" 2> "$T/err"
[ "$(grep -c "^semsearch: wrote" "$T/err")" -eq 1 ] && grep -q "2 processes: .* s in MPI collectives" "$T/err"
ok $? "one 'wrote' line, and the time in MPI collectives"
# without gradient caching each process keeps its slice's activations; with
# no dropout that is the plain step of one process
run_ok "one process, no dropout" $SEMSEARCH train -o "$T/one-d0.gguf" --data "$GRP" $TINY --steps 30 --dropout 0
run_ok "mpirun -np 2, no dropout" $MPIRUN $SEMSEARCH train -o "$T/two-d0.gguf" --data "$GRP" $TINY --steps 30 --dropout 0
close "$T/one-d0.gguf" "$T/two-d0.gguf"; ok $? "2 processes, no gradient caching: the plain step (max difference $(cat "$T/diff"))"
# hard negatives: the negatives of the whole batch are every process's
awk -F'\t' 'NR > 1 { print prev "\t" $1 "\t" $2 } { prev = $1 }' "$GRP" | head -60 > "$T/h.triplets.tsv"
run_ok "one process, triplets" $SEMSEARCH train -o "$T/one-t.gguf" --data "$T/h.triplets.tsv" --data "$GRP" $TINY \
    --steps 20 --grad-cache 8
run_ok "mpirun -np 2, triplets" $MPIRUN $SEMSEARCH train -o "$T/two-t.gguf" --data "$T/h.triplets.tsv" --data "$GRP" \
    $TINY --steps 20 --grad-cache 8
close "$T/one-t.gguf" "$T/two-t.gguf"; ok $? "hard negatives across processes: as one process (max difference $(cat "$T/diff"))"

# the other losses see only the gathered embeddings: NT-Xent with a learned
# temperature, without dropout, as one process
run_ok "one process, ntxent --learn-temperature" $SEMSEARCH train -o "$T/one-n.gguf" --data "$GRP" $TINY --steps 20 \
    --dropout 0 --loss ntxent --learn-temperature
run_ok "mpirun -np 2, ntxent --learn-temperature" $MPIRUN $SEMSEARCH train -o "$T/two-n.gguf" --data "$GRP" $TINY \
    --steps 20 --dropout 0 --loss ntxent --learn-temperature
close "$T/one-n.gguf" "$T/two-n.gguf"; ok $? "ntxent, learned temperature: as one process (max difference $(cat "$T/diff"))"

run_fails "--data - under mpirun: refused (only process 0 has stdin)" "only process 0 reads stdin" \
    $MPIRUN $SEMSEARCH train -o "$T/x.gguf" --data - $TINY --steps 2
[ ! -e "$T/x.gguf" ]; ok $? "... and nothing written"

# two processes given different data (mpirun's A : B form): refused, not trained apart
head -n 60 "$GRP" > "$T/other.groups.tsv"
MPI1=$(echo "$MPIRUN" | sed 's/-np 2/-np 1/')
run_fails "processes with other data than process 0: an error" "process 1 read other training data than process 0" \
    $MPI1 $SEMSEARCH train -o "$T/y.gguf" --data "$GRP" $TINY --steps 2 : \
    -np 1 $SEMSEARCH train -o "$T/y.gguf" --data "$T/other.groups.tsv" $TINY --steps 2

# ---------------------------------------------------------------- resume
$MPIRUN $SEMSEARCH train -o "$T/r.gguf" --data "$GRP" $TINY --steps 30 --grad-cache 4 --stop-at 12 > "$T/out" 2> "$T/err"
ok $? "mpirun -np 2 --stop-at 12: a checkpoint"
[ ! -e "$T/r.gguf" ] && [ -s "$T/r.ckpt.gguf" ]; ok $? "a checkpoint, no model yet"
cp "$T/r.ckpt.gguf" "$T/r12.ckpt.gguf"
run_ok "mpirun -np 2 --resume" $MPIRUN $SEMSEARCH train -o "$T/r.gguf" --data "$GRP" $RUN --steps 30 --grad-cache 4 \
    --resume "$T/r.ckpt.gguf"
close "$T/two.gguf" "$T/r.gguf"; ok $? "resumed on 2 processes: the uninterrupted run (max difference $(cat "$T/diff"))"
run_ok "the 2-process checkpoint resumed by one process" $SEMSEARCH train -o "$T/r1.gguf" --data "$GRP" $RUN --steps 30 \
    --grad-cache 4 --resume "$T/r12.ckpt.gguf" --checkpoint "$T/r1.ckpt.gguf"
close "$T/two.gguf" "$T/r1.gguf"; ok $? "... equals the uninterrupted run (max difference $(cat "$T/diff"))"

# ---------------------------------------------------------------- kill -9
rm -f "$T/k.ckpt.gguf"
$MPIRUN $SEMSEARCH train -o "$T/k.gguf" --data "$GRP" $TINY --steps 100000 --save-every 10 > "$T/kout" 2> "$T/kerr" &
mp=$!
w=0
while [ ! -s "$T/k.ckpt.gguf" ] && [ $w -lt 600 ]; do sleep 0.1; w=$((w + 1)); done
[ -s "$T/k.ckpt.gguf" ]; ok $? "a long run wrote a checkpoint"
victim=$(ps -o pid= --ppid $mp | tail -n 1)
[ -n "$victim" ] && kill -9 $victim
# the job must end (mpirun ends the other process), not hang
w=0
while kill -0 $mp 2>/dev/null && [ $w -lt 300 ]; do sleep 0.1; w=$((w + 1)); done
if kill -0 $mp 2>/dev/null; then kill -9 $mp; ok 1 "the job ends when a process is killed"; else
    wait $mp; s=$?; [ $s -ne 0 ]; ok $? "the job ends when a process is killed (mpirun exit $s)"; fi
grep -q "exited on signal 9" "$T/kerr"; ok $? "mpirun names the killed process: $(grep -m1 'signal 9' "$T/kerr")"
[ ! -e "$T/k.gguf" ]; ok $? "no model written"
run_ok "the checkpoint loads" $SEMSEARCH model info -m "$T/k.ckpt.gguf"
run_ok "resume after the kill completes" $MPIRUN $SEMSEARCH train -o "$T/k.gguf" --data "$GRP" $RUN \
    --steps "$(( $(sed -n 's/.*step \([0-9]*\): checkpoint.*/\1/p' "$T/kerr" | tail -n 1) + 10 ))" --resume "$T/k.ckpt.gguf"
[ -s "$T/k.gguf" ]; ok $? "the model is written"

done_testing
