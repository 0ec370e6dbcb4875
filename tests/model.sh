#!/bin/sh
# model.sh: `semsearch model init` and `semsearch model info`, and model files
# as the tokenizer of `semsearch tokenize`.
. "$top_srcdir/tests/setup.sh"

TINY="--d-model 16 --layers 2 --heads 2 --ffn 32 --max-len 24"

run_ok "model init writes a tiny random model" $SEMSEARCH model init -v "$VOCAB" $TINY --seed 1 -o "$T/m.gguf"
grep -q "wrote $T/m.gguf" "$T/err"; ok $? "it says what it wrote"
[ -s "$T/m.gguf" ] && [ "$(head -c 4 "$T/m.gguf")" = "GGUF" ]; ok $? "the file is GGUF"

run_ok "model info" $SEMSEARCH model info -m "$T/m.gguf"
cp "$T/out" "$T/info"
val() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$T/info"; }
[ "$(val d_model)" = 16 ] && [ "$(val n_layers)" = 2 ] && [ "$(val n_heads)" = 2 ] && [ "$(val d_ff)" = 32 ] &&
    [ "$(val max_len)" = 24 ] && [ "$(val pooling)" = mean ] && [ "$(val dtype)" = f32 ]
ok $? "info shows the hyperparameters and dtype"
[ "$(val vocab_size)" = 16000 ] && [ "$(val tokenizer_vocab_size)" = 16000 ]; ok $? "info shows the vocabulary sizes"
[ "$(val fingerprint)" = "$(sha256sum "$T/m.gguf" | cut -d' ' -f1)" ]; ok $? "the fingerprint is sha256sum of the file"
[ "$(val file_size)" = "$(wc -c < "$T/m.gguf" | tr -d ' ')" ]; ok $? "the file size is right"
# V*C + L*C + layers * (2C + 3C*C + 3C + C*C + C + 2C + F*C + F + C*F + C) + 2C
# = 16000*16 + 24*16 + 2 * (32 + 768 + 48 + 256 + 16 + 32 + 512 + 32 + 512 + 16) + 32
[ "$(val params)" = 260864 ]; ok $? "the parameter count is right ($(val params))"
awk -F'\t' 'NF != 2 { exit 1 }' "$T/info"; ok $? "every line is key<TAB>value"

if [ -n "${PYTHON3:-}" ]; then
    $SEMSEARCH model info -m "$T/m.gguf" --json > "$T/info.json"
    "$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["d_model"] == 16 and d["n_layers"] == 2 and d["params"] == 260864, d
assert d["dtype"] == "f32" and len(d["fingerprint"]) == 64 and d["pooling"] == "mean", d
' "$T/info.json"
    ok $? "model info --json is one valid JSON object"
else
    skip "model info --json" "no python3"
fi

# determinism, f16, options
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 1 -o "$T/m2.gguf" 2>/dev/null
same "the same seed gives the same file" "$T/m.gguf" "$T/m2.gguf"
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 2 -o "$T/m3.gguf" 2>/dev/null
! cmp -s "$T/m.gguf" "$T/m3.gguf"; ok $? "another seed gives another model"
run_ok "model init --f16" $SEMSEARCH model init -v "$VOCAB" $TINY --f16 -o "$T/h.gguf"
$SEMSEARCH model info -m "$T/h.gguf" | grep -q "^dtype	f16$"; ok $? "info says f16"
[ "$(wc -c < "$T/h.gguf")" -lt "$(wc -c < "$T/m.gguf")" ]; ok $? "the f16 file is smaller"
run_ok "model init --pooling cls --layers 0" $SEMSEARCH model init -v "$VOCAB" --d-model 8 --heads 1 --ffn 8 --layers 0 --pooling cls -o "$T/c.gguf"
$SEMSEARCH model info -m "$T/c.gguf" | grep -q "^pooling	cls$"; ok $? "info says cls"
run_ok "model init -v takes a model file's tokenizer" $SEMSEARCH model init -v "$T/m.gguf" $TINY -o "$T/m4.gguf"
run_ok "model init --casefold" $SEMSEARCH model init -v "$VOCAB" $TINY --casefold -o "$T/cf.gguf"
$SEMSEARCH model info -m "$T/cf.gguf" | grep -q "^normalization	nfkc+casefold$"; ok $? "info shows case folding"
run_ok "model init --split-punct --casefold" $SEMSEARCH model init -v "$VOCAB" $TINY --split-punct -c -o "$T/sp.gguf"
$SEMSEARCH model info -m "$T/sp.gguf" | grep -q "^normalization	nfkc+casefold+split-punct$"; ok $? "info shows punctuation splitting"

# tokenize -m MODEL.gguf uses the embedded tokenizer
$SEMSEARCH tokenize -m "$VOCAB" "$DATA/sample.txt" > "$T/a"
run_ok "tokenize -m model.gguf" $SEMSEARCH tokenize -m "$T/m.gguf" "$DATA/sample.txt"
same "... gives the same ids as the vocabulary" "$T/a" "$T/out"
echo "Hello World" | $SEMSEARCH tokenize -m "$T/cf.gguf" --pieces > "$T/a"
echo "hello world" | $SEMSEARCH tokenize -m "$T/cf.gguf" --pieces > "$T/b"
same "a case-folding model file folds case in tokenize" "$T/a" "$T/b"
echo '"(#Guns)" -- said: co-op' | $SEMSEARCH tokenize -m "$T/sp.gguf" --pieces > "$T/a"
echo '" ( # guns ) " - - said : co - op' | $SEMSEARCH tokenize -m "$T/sp.gguf" --pieces > "$T/b"
same "a punctuation-splitting model file splits in tokenize" "$T/a" "$T/b"
echo '"(#Guns)" -- said: co-op' | $SEMSEARCH tokenize -m "$T/cf.gguf" --pieces > "$T/c"
! cmp -s "$T/a" "$T/c"; ok $? "... and one without does not"
echo '"(#Guns)" -- said: co-op' | $SEMSEARCH tokenize -m "$T/cf.gguf" --split-punct --pieces > "$T/c"
same "tokenize --split-punct splits with any model" "$T/a" "$T/c"
printf '%s\n' 'He said (#guns).' 'He said ( # guns ) .' > "$T/sp.txt"
$SEMSEARCH embed -m "$T/sp.gguf" "$T/sp.txt" > "$T/spv"
[ "$(sed -n 1p "$T/spv")" = "$(sed -n 2p "$T/spv")" ]; ok $? "embed splits punctuation with such a model"

# usage errors
run_fails "heads must divide d-model" "does not divide" $SEMSEARCH model init -v "$VOCAB" --d-model 16 --heads 3 -o "$T/x.gguf"
[ $s -eq 2 ]; ok $? "... exit 2"
run_fails "an unknown pooling" "not mean, cls, max or meanmax" $SEMSEARCH model init -v "$VOCAB" --pooling sum -o "$T/x.gguf"
run_fails "no output" "no --output" $SEMSEARCH model init -v "$VOCAB"
run_fails "an unknown subcommand" "unknown subcommand 'frob'" $SEMSEARCH model frob
run_fails "a bare 'model'" "usage" $SEMSEARCH model
[ ! -e "$T/x.gguf" ]; ok $? "no file is written on a usage error"

# files that are not models
run_fails "an unwritable output" "/nonexistent/dir/x.gguf" $SEMSEARCH model init -v "$VOCAB" $TINY -o /nonexistent/dir/x.gguf
run_fails "a missing vocabulary" "/nonexistent.model" $SEMSEARCH model init -v /nonexistent.model -o "$T/x.gguf"
echo "not a model" > "$T/text.gguf"
run_fails "info on a text file" "text.gguf: not a GGUF file" $SEMSEARCH model info -m "$T/text.gguf"
run_fails "info on a SentencePiece model" "not a GGUF file" $SEMSEARCH model info -m "$VOCAB"
head -c 300000 "$T/m.gguf" > "$T/cut.gguf"
run_fails "info on a model cut in its tokenizer" "cut.gguf: truncated: array 'tokenizer.semsearch.spm' needs" $SEMSEARCH model info -m "$T/cut.gguf"
head -c 1000000 "$T/m.gguf" > "$T/cut.gguf"
run_fails "info on a model cut in its tensors" "cut.gguf: truncated: tensor 'token_embd.weight' needs 1024000 bytes at offset [0-9]+ but the file has 1000000" $SEMSEARCH model info -m "$T/cut.gguf"
head -c 1000000 "$T/m.gguf" > "$T/cut.gguf"
run_fails "tokenize with a truncated model" "cut.gguf: truncated" $SEMSEARCH tokenize -m "$T/cut.gguf" "$DATA/sample.txt"
if no_defaults model info > "$T/out" 2>"$T/err"; then
    ok 1 "info without -m and no shipped model: a clear error"
else
    grep -q "pass -m MODEL" "$T/err"; ok $? "info without -m and no shipped model: a clear error"
fi

# model convert: f32 -> f16 halves the weights, keeps the vectors close; f16 -> f32 exact.
run_ok "model convert to f16" $SEMSEARCH model convert -m "$T/m.gguf" --f16 -o "$T/m16.gguf"
$SEMSEARCH model info -m "$T/m16.gguf" | grep -q "f16"; ok $? "the converted model is f16"
[ "$(wc -c < "$T/m16.gguf")" -lt "$(wc -c < "$T/m.gguf")" ]; ok $? "the f16 file is smaller"
printf 'a man plays a guitar\nthe cat sleeps\n' > "$T/two.txt"
$SEMSEARCH embed -m "$T/m.gguf" "$T/two.txt" > "$T/e32" && $SEMSEARCH embed -m "$T/m16.gguf" "$T/two.txt" > "$T/e16"
paste "$T/e32" "$T/e16" | awk -F'\t' '{n=NF/2; for(i=1;i<=n;i++){d=$i-$(i+n); if(d<0)d=-d; if(d>m)m=d}} END{exit !(m<0.01)}'
ok $? "f16 vectors stay within 0.01 of the f32 ones"
run_ok "model convert back to f32" $SEMSEARCH model convert -m "$T/m16.gguf" --f32 -o "$T/m32.gguf"
$SEMSEARCH embed -m "$T/m32.gguf" "$T/two.txt" > "$T/e32b"; same "f16 -> f32 keeps every weight" "$T/e16" "$T/e32b"
run_fails "convert needs -o" "no -o given" $SEMSEARCH model convert -m "$T/m.gguf"
run_fails "convert of a missing model names it" "/nonexistent.gguf" $SEMSEARCH model convert -m /nonexistent.gguf -o "$T/x.gguf"
[ ! -e "$T/x.gguf" ]; ok $? "a failed convert writes nothing"
# model convert --pooling: pooling has no weights; meanmax = [mean, max], each unit, / sqrt 2
run_ok "model convert --pooling meanmax" $SEMSEARCH model convert -m "$T/m.gguf" --f32 --pooling meanmax -o "$T/mm.gguf"
$SEMSEARCH model info -m "$T/mm.gguf" | grep -q "^pooling	meanmax$"; ok $? "model info names the pooling"
$SEMSEARCH embed -m "$T/mm.gguf" "$T/two.txt" > "$T/emm"
awk -F'\t' -v d="$(awk -F'\t' '{ print NF; exit }' "$T/e32")" 'NF != 2 * d { bad = 1 } END { exit bad || NR != 2 }' "$T/emm"
ok $? "meanmax vectors are twice as long as the mean ones"
# the first half, times sqrt 2, is the mean-pooled vector; each half has length 1 / sqrt 2
paste "$T/emm" "$T/e32" | awk -F'\t' '{ d = (NF) / 3; a = 0; b = 0
    for (i = 1; i <= d; i++) { x = $i * 1.41421356 - $(2 * d + i); if (x < 0) x = -x; if (x > m) m = x; a += $i * $i; b += $(d + i) * $(d + i) }
    if (a < 0.4999 || a > 0.5001 || b < 0.4999 || b > 0.5001) bad = 1 } END { exit bad || !(m < 1e-5) }'
ok $? "meanmax: the mean half is the mean-pooled vector / sqrt 2, each half of length 1 / sqrt 2"
run_ok "model convert --pooling mean back" $SEMSEARCH model convert -m "$T/mm.gguf" --f32 --pooling mean -o "$T/mback.gguf"
$SEMSEARCH embed -m "$T/mback.gguf" "$T/two.txt" > "$T/eback"; same "and back to mean: the same vectors as before" "$T/e32" "$T/eback"
run_fails "convert --pooling with a wrong name" "not mean, cls, max or meanmax" $SEMSEARCH model convert -m "$T/m.gguf" --pooling sum -o "$T/x.gguf"
[ ! -e "$T/x.gguf" ]; ok $? "and writes nothing"

# model mix: weight averaging of two models of one shape
$SEMSEARCH model init -v "$VOCAB" $TINY --seed 2 -o "$T/mb.gguf" 2>/dev/null
run_ok "model mix -w 0: the first model" $SEMSEARCH model mix -m "$T/m.gguf" -m "$T/mb.gguf" -w 0 --f32 -o "$T/mix0.gguf"
run_ok "model mix -w 1: the second model" $SEMSEARCH model mix -m "$T/m.gguf" -m "$T/mb.gguf" -w 1 --f32 -o "$T/mix1.gguf"
$SEMSEARCH embed -m "$T/mb.gguf" "$T/two.txt" > "$T/eb"
$SEMSEARCH embed -m "$T/mix0.gguf" "$T/two.txt" > "$T/em0"; same "mix -w 0 embeds as the first model" "$T/e32" "$T/em0"
$SEMSEARCH embed -m "$T/mix1.gguf" "$T/two.txt" > "$T/em1"; same "mix -w 1 embeds as the second model" "$T/eb" "$T/em1"
$SEMSEARCH model mix -m "$T/m.gguf" -m "$T/mb.gguf" --f32 -o "$T/mixab.gguf" 2>"$T/err" &&
    $SEMSEARCH model mix -m "$T/mb.gguf" -m "$T/m.gguf" --f32 -o "$T/mixba.gguf" 2>>"$T/err"
cmp -s "$T/mixab.gguf" "$T/mixba.gguf"; ok $? "the half-and-half mix is the same either way round"
grep -q "wrote $T/mixab.gguf (0.5 of $T/m.gguf, 0.5 of $T/mb.gguf; f32)" "$T/err"; ok $? "mix says what it wrote"
$SEMSEARCH embed -m "$T/mixab.gguf" "$T/two.txt" > "$T/emab"
! cmp -s "$T/emab" "$T/e32" && ! cmp -s "$T/emab" "$T/eb"; ok $? "the mix is neither model"
$SEMSEARCH model init -v "$VOCAB" --d-model 16 --layers 1 --heads 2 --ffn 32 --max-len 24 -o "$T/mw.gguf" 2>/dev/null
run_fails "mix of two shapes" "the models differ in shape" $SEMSEARCH model mix -m "$T/m.gguf" -m "$T/mw.gguf" -o "$T/x.gguf"
[ ! -e "$T/x.gguf" ]; ok $? "a failed mix writes nothing"
run_fails "mix needs two models" "give two models" $SEMSEARCH model mix -m "$T/m.gguf" -o "$T/x.gguf"
run_fails "mix weight out of [0, 1]" "--weight" $SEMSEARCH model mix -m "$T/m.gguf" -m "$T/mb.gguf" -w 1.5 -o "$T/x.gguf"
run_fails "mix onto one of its inputs" "is the input" $SEMSEARCH model mix -m "$T/m.gguf" -m "$T/mb.gguf" -o "$T/mb.gguf"
# int8 models (#14): matrices as q8_row (int8, a f32 scale per row)
run_ok "model convert --int8" $SEMSEARCH model convert -m "$T/m.gguf" --int8 -o "$T/m8.gguf"
$SEMSEARCH model convert -m "$T/m.gguf" --int8 -o "$T/m8b.gguf" 2>/dev/null
same "a model converted twice is byte-identical" "$T/m8.gguf" "$T/m8b.gguf"
$SEMSEARCH model convert -m "$T/m8.gguf" --int8 -o "$T/m8c.gguf" 2>/dev/null
same "an int8 model converted to int8 again is unchanged" "$T/m8.gguf" "$T/m8c.gguf"
$SEMSEARCH model info -m "$T/m8.gguf" > "$T/info8"
grep -q "^tensor.blk.0.attn_qkv.weight	q8_row 48x16 $((48 * 4 + 48 * 16))$" "$T/info8" &&
    grep -q "^tensor.token_embd.weight	q8_row 16000x16 " "$T/info8" &&
    grep -q "^tensor.blk.1.ln2.bias	f32 16 64$" "$T/info8" && grep -q "^dtype	mixed$" "$T/info8"
ok $? "model info lists each tensor's type, shape and bytes (matrices q8_row, vectors f32)"
grep -q "^precision	int8$" "$T/info8"; ok $? "an int8 model computes in int8 by default"
SEMSEARCH_ISA=f32 $SEMSEARCH model info -m "$T/m8.gguf" | grep -q "^precision_used	f32$"
ok $? "SEMSEARCH_ISA=f32 forces the f32 fallback"
cos_min() { # the smallest cosine between the lines of two TSV vector files
    paste "$1" "$2" | awk -F'\t' '{n=NF/2; d=0; a=0; b=0; for(i=1;i<=n;i++){d+=$i*$(i+n); a+=$i*$i; b+=$(i+n)*$(i+n)}
        c=d/sqrt(a*b); if(NR==1||c<m)m=c} END{printf "%.6f\n", m}'
}
head -40 "$DATA/sample.txt" > "$T/s40.txt"
$SEMSEARCH embed -m "$T/m.gguf" "$T/s40.txt" > "$T/v32"
run_ok "embed with an int8 model" $SEMSEARCH embed -m "$T/m8.gguf" "$T/s40.txt"
mv "$T/out" "$T/v8"
c=$(cos_min "$T/v32" "$T/v8"); awk -v c="$c" 'BEGIN{exit !(c >= 0.99)}'; ok $? "int8 vectors agree with f32 (min cosine $c >= 0.99)"
SEMSEARCH_ISA=f32 $SEMSEARCH embed -m "$T/m8.gguf" "$T/s40.txt" > "$T/v8f"
c=$(cos_min "$T/v8f" "$T/v8"); awk -v c="$c" 'BEGIN{exit !(c >= 0.999)}'
ok $? "the forced f32 fallback of the int8 model agrees with int8 compute (min cosine $c >= 0.999)"
run_ok "embed --precision bf16" $SEMSEARCH embed -m "$T/m.gguf" -p bf16 "$T/s40.txt"
c=$(cos_min "$T/v32" "$T/out"); awk -v c="$c" 'BEGIN{exit !(c >= 0.999)}'; ok $? "bf16 vectors agree with f32 (min cosine $c >= 0.999)"
run_fails "embed --precision checks its value" "'f8' is not f32, bf16 or int8" $SEMSEARCH embed -m "$T/m.gguf" -p f8 "$T/s40.txt"
SEMSEARCH_PRECISION=int4 $SEMSEARCH embed -m "$T/m.gguf" "$T/s40.txt" >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "SEMSEARCH_PRECISION is 'int4'" "$T/err"; ok $? "a bad SEMSEARCH_PRECISION is a clear error"
SEMSEARCH_PRECISION=int8 $SEMSEARCH embed -m "$T/m.gguf" "$T/s40.txt" > "$T/v8e"
c=$(cos_min "$T/v32" "$T/v8e"); awk -v c="$c" 'BEGIN{exit !(c >= 0.99)}'; ok $? "SEMSEARCH_PRECISION=int8 quantizes an f32 model on loading (min cosine $c)"
run_ok "index with an int8 model" $SEMSEARCH index -m "$T/m8.gguf" -d "$T/i8.db" "$T/s40.txt"
run_ok "query with an int8 model" $SEMSEARCH query -d "$T/i8.db" -k 3 "$(head -1 "$T/s40.txt")"
[ "$(wc -l < "$T/out")" -ge 1 ]; ok $? "... which finds documents"
# damaged int8 files: truncated, a vector labelled int8, a matrix labelled i8/f32, a -128
n=$(wc -c < "$T/m8.gguf")
head -c $((n - 100)) "$T/m8.gguf" > "$T/trunc8.gguf"
run_fails "a truncated int8 model is a clear load error" "trunc8.gguf: .*(truncated|beyond|end of the file)" $SEMSEARCH model info -m "$T/trunc8.gguf"
if [ -n "${PYTHON3:-}" ]; then
    # gguf_edit IN OUT TENSOR (type=N | byte=OFFSET:VALUE): rewrites a tensor's type or one of its data bytes
    gguf_edit() {
        "$PYTHON3" - "$@" <<'PY'
import struct, sys
src, dst, name, edit = sys.argv[1:5]
b = bytearray(open(src, "rb").read())
p = 24
n_t, n_kv = struct.unpack_from("<QQ", b, 8)
def skip(t, p):
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if t == 8: return p + 8 + struct.unpack_from("<Q", b, p)[0]
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, p); p += 12
        for _ in range(n): p = skip(et, p)
        return p
    return p + sizes[t]
align = 32
for _ in range(n_kv):
    k = struct.unpack_from("<Q", b, p)[0]; key = b[p + 8:p + 8 + k].decode(); p += 8 + k
    t = struct.unpack_from("<I", b, p)[0]; p += 4
    if key == "general.alignment": align = struct.unpack_from("<I", b, p)[0]
    p = skip(t, p)
infos = []
for _ in range(n_t):
    k = struct.unpack_from("<Q", b, p)[0]; tn = b[p + 8:p + 8 + k].decode(); p += 8 + k
    nd = struct.unpack_from("<I", b, p)[0]; p += 4 + 8 * nd
    infos.append((tn, p)); p += 12
data = (p + align - 1) // align * align
for tn, tp in infos:
    if tn != name: continue
    what, val = edit.split("=")
    if what == "type": struct.pack_into("<I", b, tp, int(val))
    else:
        off, v = map(int, val.split(":"))
        b[data + struct.unpack_from("<Q", b, tp + 4)[0] + off] = v
open(dst, "wb").write(b)
PY
    }
    gguf_edit "$T/m8.gguf" "$T/bad8.gguf" blk.0.ln1.bias type=1000
    run_fails "a vector labelled q8_row is a clear load error" "blk.0.ln1.bias' is q8_row, but only matrices" $SEMSEARCH embed -m "$T/bad8.gguf" "$T/s40.txt"
    gguf_edit "$T/m8.gguf" "$T/bad8.gguf" blk.0.attn_qkv.weight type=24
    run_fails "an int8 matrix labelled i8 is a clear load error" "attn_qkv.weight' has type i8, expected f32, f16 or q8_row" $SEMSEARCH model info -m "$T/bad8.gguf"
    gguf_edit "$T/m8.gguf" "$T/bad8.gguf" blk.1.ffn_down.weight type=0
    run_fails "an int8 matrix labelled f32 is a clear load error" "bad8.gguf: (corrupt|truncated|tensor)" $SEMSEARCH model info -m "$T/bad8.gguf"
    # the first int8 value of the matrix: after its 16 scales of 4 bytes
    gguf_edit "$T/m8.gguf" "$T/bad8.gguf" blk.0.ffn_down.weight byte=64:128
    run_fails "an int8 value of -128 is a clear load error" "ffn_down.weight' \(q8_row\): value -128 at row 0, column 0" $SEMSEARCH model info -m "$T/bad8.gguf"
    gguf_edit "$T/m8.gguf" "$T/bad8.gguf" blk.0.ffn_down.weight byte=3:255
    run_fails "a NaN or negative int8 scale is a clear load error" "ffn_down.weight' \(q8_row\): row 0 has the scale" $SEMSEARCH model info -m "$T/bad8.gguf"
else
    for w in "vector labelled q8_row" "matrix labelled i8" "matrix labelled f32" "-128" "bad scale"; do skip "damaged int8 file: $w" "no python3"; done
fi

done_testing
