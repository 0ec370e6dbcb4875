#!/bin/sh
# embed.sh: `semsearch embed`: every output format, input order, stdin and
# files, empty input, hostile bytes, unwritable output, missing models.
. "$top_srcdir/tests/setup.sh"

$SEMSEARCH model init -v "$VOCAB" --d-model 16 --layers 2 --heads 2 --ffn 32 --max-len 24 -o "$T/m.gguf" 2>"$T/err"
ok $? "a tiny model to embed with"
M="$T/m.gguf"
# near A B: two tsv vectors agree to 1e-5 (a text's vector may differ in the
# last bits with the batch it is computed in: BLAS blocks rows differently)
near() {
    printf '%s\n%s\n' "$1" "$2" | awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) a[i] = $i; n = NF; next }
        { if (NF != n) exit 1; for (i = 1; i <= NF; i++) { d = a[i] - $i; if (d > 1e-5 || d < -1e-5) exit 1 } }'
}

printf 'A man is playing a guitar.\nThe cat sits on the mat.\n\nhello \377\376 bad UTF-8 \300\257\nNUL\000inside a line\nA man is playing a guitar.\n' > "$T/in.txt"
N=6

run_ok "embed (tsv)" $SEMSEARCH embed -m "$M" "$T/in.txt"
cp "$T/out" "$T/v.tsv"
[ "$(wc -l < "$T/v.tsv")" -eq $N ]; ok $? "one line per input line, the empty one and the bad bytes included"
awk -F'\t' 'NF != 16 { exit 1 }' "$T/v.tsv"; ok $? "16 tab-separated floats per line"
awk -F'\t' '{ s = 0; for (i = 1; i <= NF; i++) s += $i * $i; if (s < 0.9999 || s > 1.0001) exit 1 }' "$T/v.tsv"
ok $? "every vector has unit length"
near "$(sed -n 1p "$T/v.tsv")" "$(sed -n 6p "$T/v.tsv")"; ok $? "the same sentence twice gives the same vector"
! near "$(sed -n 1p "$T/v.tsv")" "$(sed -n 2p "$T/v.tsv")"; ok $? "different sentences give different vectors"
printf 'NULinside a line\n' | $SEMSEARCH embed -m "$M" > "$T/a"
near "$(cat "$T/a")" "$(sed -n 5p "$T/v.tsv")"; ok $? "a NUL byte is dropped by normalization, as documented"

# stdin, '-', several files, gzip
$SEMSEARCH embed -m "$M" < "$T/in.txt" > "$T/a"; same "stdin gives the same vectors" "$T/v.tsv" "$T/a"
# as a coprocess: each line's vector comes back while the pipe stays open
mkfifo "$T/feed"
$SEMSEARCH embed -m "$M" - < "$T/feed" > "$T/stream.out" 2>/dev/null &
spid=$!
exec 3> "$T/feed"
head -n 1 "$T/in.txt" >&3
wait_lines "$T/stream.out" 1; ok $? "a vector per line while the input pipe stays open"
sed -n 2p "$T/in.txt" >&3
wait_lines "$T/stream.out" 2; ok $? "and the next one"
exec 3>&-
wait $spid; ok $? "exits 0 when the pipe closes"
# (one row at a time vs a batch: the same up to float rounding)
head -n 2 "$T/v.tsv" | paste - "$T/stream.out" | awk -F'\t' '{ n = NF / 2
    for (i = 1; i <= n; i++) { d = $i - $(i + n); if (d < 0) d = -d; if (d > 1e-5) bad++ } }
    END { exit bad > 0 || NR != 2 }'
ok $? "streamed vectors equal the batch ones (to 1e-5)"
cat "$T/in.txt" | $SEMSEARCH embed -m "$M" - > "$T/a"; same "'-' reads stdin" "$T/v.tsv" "$T/a"
head -3 "$T/in.txt" > "$T/in1"; tail -n +4 "$T/in.txt" > "$T/in2"
$SEMSEARCH embed -m "$M" "$T/in1" "$T/in2" > "$T/a"; same "two files are embedded in order" "$T/v.tsv" "$T/a"
gzip -c "$T/in.txt" > "$T/in.txt.gz"
$SEMSEARCH embed -m "$M" "$T/in.txt.gz" > "$T/a"; same "gzip input is read" "$T/v.tsv" "$T/a"

# order across chunks: 3000 lines (several chunks and batches) of 3 sentences
awk 'BEGIN { for (i = 0; i < 3000; i++) print (i % 3 == 0 ? "one short line" : i % 3 == 1 ? "a somewhat longer sentence about a dog in the park" : "x") }' > "$T/many.txt"
run_ok "3000 lines" $SEMSEARCH embed -m "$M" --batch 7 "$T/many.txt"
[ "$(wc -l < "$T/out")" -eq 3000 ]; ok $? "3000 vectors"
awk -F'\t' '{ k = NR % 3; if (!(k in seen)) { seen[k] = 1; for (i = 1; i <= NF; i++) v[k, i] = $i; next }
    for (i = 1; i <= NF; i++) { d = v[k, i] - $i; if (d > 1e-5 || d < -1e-5) exit 1 } }' "$T/out"
ok $? "input order is kept across chunks and length-sorted batches"

if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import numpy' 2>/dev/null; then
    # tsv carries 9 significant digits: it reads back to the same float32
    run_ok "embed --format npy to stdout" $SEMSEARCH embed -m "$M" -f npy "$T/in.txt"
    cp "$T/out" "$T/v.npy"
    run_ok "embed --format npy -o FILE" $SEMSEARCH embed -m "$M" -f npy -o "$T/v2.npy" "$T/in.txt"
    same "stdout and -o give the same npy file" "$T/v.npy" "$T/v2.npy"
    $SEMSEARCH embed -m "$M" -f f32 "$T/in.txt" > "$T/v.f32"
    $SEMSEARCH embed -m "$M" -f jsonl "$T/in.txt" > "$T/v.jsonl"
    "$PYTHON3" -c '
import json, sys
import numpy as np
d = sys.argv[1]
a = np.load(d + "/v.npy")
assert a.dtype == np.float32 and a.shape == (6, 16), (a.dtype, a.shape)
t = np.loadtxt(d + "/v.tsv", delimiter="\t", dtype=np.float64).astype(np.float32)
assert np.array_equal(a, t), "tsv differs from npy"
f = np.fromfile(d + "/v.f32", dtype="<f4").reshape(-1, 16)
assert np.array_equal(a, f), "f32 differs from npy"
rows = [json.loads(l) for l in open(d + "/v.jsonl")]
assert [r["i"] for r in rows] == list(range(6)), "jsonl indices"
j = np.array([r["embedding"] for r in rows], dtype=np.float32)
assert np.array_equal(a, j), "jsonl differs from npy"
assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
' "$T"
    ok $? "npy (numpy.load), tsv, f32 and jsonl hold the same float32 vectors"
    : | $SEMSEARCH embed -m "$M" -f npy > "$T/e.npy"
    "$PYTHON3" -c 'import numpy as np, sys; a = np.load(sys.argv[1]); assert a.shape == (0, 16) and a.dtype == np.float32' "$T/e.npy"
    ok $? "empty input gives a valid npy of shape (0, 16)"
    $SEMSEARCH embed -m "$M" -t 1 -f npy "$T/in.txt" > "$T/t1.npy"
    $SEMSEARCH embed -m "$M" --batch 1 -f npy "$T/in.txt" > "$T/b1.npy"
    "$PYTHON3" -c '
import numpy as np, sys
a, b, c = (np.load(p) for p in sys.argv[1:])
assert np.allclose(a, b, atol=1e-6) and np.allclose(a, c, atol=1e-6)
' "$T/v.npy" "$T/t1.npy" "$T/b1.npy"
    ok $? "-t 1 and --batch 1 give the same vectors"
else
    for d in "npy to stdout" "npy -o" "same npy" "formats agree" "empty npy" "-t 1 and --batch 1"; do
        skip "$d" "no python3 with numpy"
    done
fi
$SEMSEARCH embed -m "$M" -f f32 "$T/in.txt" > "$T/a"
[ "$(wc -c < "$T/a")" -eq $((N * 16 * 4)) ]; ok $? "f32: exactly lines x dim x 4 bytes"

# empty input: no vectors, exit 0
: | $SEMSEARCH embed -m "$M" > "$T/a"; s=$?
[ $s -eq 0 ] && [ ! -s "$T/a" ]; ok $? "empty input: no output, exit 0"
: | $SEMSEARCH embed -m "$M" -f f32 > "$T/a"; s=$?
[ $s -eq 0 ] && [ ! -s "$T/a" ]; ok $? "empty input in f32: no bytes, exit 0"
printf 'no newline at the end' | $SEMSEARCH embed -m "$M" > "$T/a"
[ "$(wc -l < "$T/a")" -eq 1 ]; ok $? "a last line without newline is embedded"

# a 5 MB line is embedded (truncated to max_len tokens)
head -c 5000000 /dev/zero | tr '\0' 'a' | sed 's/aaaaaaa/ word /g' > "$T/big"; echo >> "$T/big"
run_ok "a 5 MB line" $SEMSEARCH embed -m "$M" "$T/big"
[ "$(wc -l < "$T/out")" -eq 1 ]; ok $? "... gives one vector"

# output errors: nothing partial is left behind
run_fails "an unwritable -o" "/nonexistent/dir/x.npy" $SEMSEARCH embed -m "$M" -f npy -o /nonexistent/dir/x.npy "$T/in.txt"
if [ -w /dev/full ]; then
    $SEMSEARCH embed -m "$M" "$T/many.txt" > /dev/full 2>"$T/err"; s=$?
    [ $s -eq 1 ] && grep -q "write error" "$T/err"; ok $? "a full disk (/dev/full) is an error, exit 1"
else
    skip "a full disk" "no /dev/full"
fi
run_fails "a missing input file is named" "/nonexistent/in.txt" $SEMSEARCH embed -m "$M" -o "$T/o.tsv" "$T/in.txt" /nonexistent/in.txt
[ ! -e "$T/o.tsv" ]; ok $? "... and no output file is written"

# usage and model errors
run_fails "an unknown format" "not tsv, jsonl, npy or f32" $SEMSEARCH embed -m "$M" -f csv "$T/in.txt"
run_fails "a bad --batch" "--batch" $SEMSEARCH embed -m "$M" --batch 0 "$T/in.txt"
run_fails "a missing model" "/nonexistent/m.gguf: No such file" $SEMSEARCH embed -m /nonexistent/m.gguf "$T/in.txt"
run_fails "a SentencePiece file as a model" "not a GGUF file" $SEMSEARCH embed -m "$VOCAB" "$T/in.txt"
head -c 1000000 "$M" > "$T/cut.gguf"
run_fails "a truncated model" "cut.gguf: truncated" $SEMSEARCH embed -m "$T/cut.gguf" "$T/in.txt"
if no_defaults embed < "$T/in.txt" > "$T/out" 2>"$T/err"; then
    ok 1 "no -m and no shipped model: a clear error"
else
    grep -q "pass -m MODEL, or create one with 'semsearch model init" "$T/err"
    ok $? "no -m and no shipped model: a clear error"
fi

done_testing
