#!/bin/sh
# precision.sh (#14): bf16 training against f32 on the same data (train
# --bf16), its f32 fallback, and the bf16/int8 precisions in eval. The
# kernels themselves are tested in tests/unit/lowp, int8 model files in
# tests/model.sh.
. "$top_srcdir/tests/setup.sh"

GRP="$DATA/coco-100.groups.tsv"
DEV="$DATA/eval-small.scored.tsv"
$SEMSEARCH tokenizer train -i "$top_srcdir/corpora/coco-captions.txt" --vocab-size 300 --threads 1 -o "$T/tok.model" 2>"$T/err"
ok $? "a small tokenizer for the tests"
# one thread: a run is then deterministic, and the f32 fallback must give the f32 run's bytes
TINY="-v $T/tok.model --d-model 64 --layers 2 --heads 2 --ffn 128 --max-len 32 -b 16 -q -t 1 --steps 80 --lr 3e-3 --eval $DEV --eval-every 20"
bf16=$(SEMSEARCH_PRECISION=bf16 $SEMSEARCH model info -m "$top_srcdir/tests/fuzz/corpus/gguf/tiny-f32.gguf" | awk -F'\t' '$1 == "precision_used" {print $2}')

run_ok "train in f32" $SEMSEARCH train -o "$T/f.gguf" --data "$GRP" $TINY --metrics "$T/f.csv"
run_ok "train --bf16" $SEMSEARCH train -o "$T/b.gguf" --data "$GRP" $TINY --metrics "$T/b.csv" --bf16
if [ "$bf16" = bf16 ]; then
    ! cmp -s "$T/f.gguf" "$T/b.gguf"; ok $? "the bf16 run computes in bf16 (another model than f32)"
else
    skip "the bf16 run computes in bf16" "no AVX-512 BF16 or no oneDNN here"
fi
# the loss curves agree: the mean loss of every 20 steps within 5%
paste -d, "$T/f.csv" "$T/b.csv" | awk -F, 'NR > 1 { k = int((NR - 2) / 20); a[k] += $3; b[k] += $11 }
    END { for (k in a) { r = (a[k] - b[k]) / a[k]; if (r < 0) r = -r; if (r > m) m = r }
          printf "largest difference of 20-step means %.2f%%\n", 100 * m > "/dev/stderr"; exit !(m < 0.05) }' 2>"$T/d"
ok $? "the bf16 and f32 loss curves agree ($(cat "$T/d"))"
# the dev scores (Spearman every 20 steps) agree within noise: no further
# from f32 than an f32 run with another seed is (or 0.03)
$SEMSEARCH train -o "$T/f2.gguf" --data "$GRP" $TINY --metrics "$T/f2.csv" --seed 7 2>/dev/null
dev_diff() { paste -d, "$1" "$2" | awk -F, 'NR > 1 && $8 != "" { n++; d = $8 - $16; if (d < 0) d = -d; if (d > m) m = d }
    END { if (n < 4) m = 9; printf "%.4f\n", m }'; }
noise=$(dev_diff "$T/f.csv" "$T/f2.csv"); diff=$(dev_diff "$T/f.csv" "$T/b.csv")
awk -v d="$diff" -v n="$noise" 'BEGIN { exit !(d <= n || d <= 0.03) }'
ok $? "the bf16 and f32 dev scores agree within noise (largest difference $diff; f32 with another seed: $noise)"

SEMSEARCH_ISA=f32 $SEMSEARCH train -o "$T/b32.gguf" --data "$GRP" $TINY --bf16 2>"$T/err" >/dev/null
ok $? "train --bf16 with SEMSEARCH_ISA=f32 runs"
grep -q "no bf16 products; training runs in f32" "$T/err"; ok $? "... says it runs in f32"
same "... and trains exactly the f32 model" "$T/f.gguf" "$T/b32.gguf"

# eval with the precisions: the same scores within 0.01 (Spearman and Pearson)
$SEMSEARCH model convert --int8 -m "$T/f.gguf" -o "$T/f8.gguf" 2>/dev/null
sp() { "$@" --json 2>/dev/null | sed -n 's/.*"model":{"spearman":\([-0-9.e]*\),"pearson":\([-0-9.e]*\).*/\1 \2/p'; }
s32=$(sp $SEMSEARCH eval -m "$T/f.gguf" "$DEV")
s16=$(SEMSEARCH_PRECISION=bf16 sp $SEMSEARCH eval -m "$T/f.gguf" "$DEV")
s8=$(sp $SEMSEARCH eval -m "$T/f8.gguf" "$DEV")
echo "$s32 $s16 $s8" | awk 'NF == 6 { for (i = 3; i <= 6; i++) { d = $i - $((i + 1) % 2 + 1); if (d < 0) d = -d; if (d >= 0.01) exit 1 }; exit 0 } { exit 1 }'
ok $? "eval (spearman pearson): f32 $s32, bf16 $s16, int8 model $s8 (within 0.01)"

# training from an int8 model trains its dequantized weights: the same run
# as from the model converted back to f32
$SEMSEARCH model convert --f32 -m "$T/f8.gguf" -o "$T/f8f.gguf" 2>/dev/null
SHORT="-q -t 1 --steps 5 --lr 1e-3 --seed 5"
run_ok "train --init an int8 model" $SEMSEARCH train -o "$T/i8.gguf" --data "$GRP" --init "$T/f8.gguf" $SHORT
$SEMSEARCH train -o "$T/i32.gguf" --data "$GRP" --init "$T/f8f.gguf" $SHORT 2>/dev/null
same "... trains exactly as from its f32 conversion" "$T/i8.gguf" "$T/i32.gguf"
$SEMSEARCH model info -m "$T/i8.gguf" | grep -q "^dtype	f32$"; ok $? "... and writes an f32 model"

done_testing
