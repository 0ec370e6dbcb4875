#!/bin/sh
# tokenize.sh: `semsearch tokenize` and `semsearch tokenizer train`, golden
# outputs and bad input.
. "$top_srcdir/tests/setup.sh"

run_ok "tokenize the sample (ids)" $SEMSEARCH tokenize -m "$VOCAB" "$DATA/sample.txt"
same "ids match the golden file" "$GOLDEN/tokenize-ids.txt" "$T/out"
run_ok "tokenize the sample (pieces, special)" $SEMSEARCH tokenize -m "$VOCAB" --pieces --special "$DATA/sample.txt"
same "pieces match the golden file" "$GOLDEN/tokenize-pieces.txt" "$T/out"
[ "$(wc -l < "$T/out")" -eq "$(wc -l < "$DATA/sample.txt")" ]; ok $? "one output line per input line"

# Without -m: the shipped model's tokenizer (it splits punctuation off words),
# else the shipped vocabulary; stdin and '-' work.
$SEMSEARCH tokenize < "$DATA/sample.txt" > "$T/a" 2>"$T/err"; ok $? "tokenize without -m"
if [ -f "$top_srcdir/models/en-base.gguf" ]; then
    $SEMSEARCH tokenize -m "$top_srcdir/models/en-base.gguf" "$DATA/sample.txt" > "$T/b"
    same "the shipped model's tokenizer is the default" "$T/b" "$T/a"
    echo 'See (#guns)' | $SEMSEARCH tokenize --pieces > "$T/b"
    echo 'See ( # guns )' | $SEMSEARCH tokenize --pieces > "$T/c"
    same "... so it splits punctuation as the shipped model does" "$T/c" "$T/b"
else
    skip "the shipped model's tokenizer is the default" "no models/en-base.gguf"
fi
mkdir -p "$T/iso/data/vocab" && cp "$VOCAB" "$T/iso/data/vocab/"
no_defaults tokenize < "$DATA/sample.txt" > "$T/a"
rm -rf "$T/iso/data/vocab" # the other no_defaults tests find nothing
same "without the shipped model, the shipped vocabulary" "$GOLDEN/tokenize-ids.txt" "$T/a"
cat "$DATA/sample.txt" | $SEMSEARCH tokenize -m "$VOCAB" - > "$T/b"; same "'-' reads stdin" "$GOLDEN/tokenize-ids.txt" "$T/b"
gzip -c "$DATA/sample.txt" > "$T/sample.txt.gz"
$SEMSEARCH tokenize -m "$VOCAB" "$T/sample.txt.gz" > "$T/c"; same "gzip input is read" "$GOLDEN/tokenize-ids.txt" "$T/c"
# through a pipe (read as bytes arrive, inflated by hand): the same
gzip -c "$DATA/sample.txt" | $SEMSEARCH tokenize -m "$VOCAB" - > "$T/c"
same "gzip through a pipe" "$GOLDEN/tokenize-ids.txt" "$T/c"
head -n 3 "$DATA/sample.txt" | gzip -c > "$T/part1.gz"
tail -n +4 "$DATA/sample.txt" | gzip -c > "$T/part2.gz"
cat "$T/part1.gz" "$T/part2.gz" | $SEMSEARCH tokenize -m "$VOCAB" - > "$T/c"
same "concatenated gzip members through a pipe" "$GOLDEN/tokenize-ids.txt" "$T/c"
$SEMSEARCH tokenize -m "$VOCAB" - < "$T/sample.txt.gz" > "$T/c"
same "gzip on stdin from a file" "$GOLDEN/tokenize-ids.txt" "$T/c"
head -c 60 "$T/sample.txt.gz" > "$T/cut.gz"
run_fails "a truncated gzip file" "cut.gz:[0-9]+: unexpected end of file" $SEMSEARCH tokenize -m "$VOCAB" "$T/cut.gz"
run_fails "a truncated gzip stream through a pipe" "<stdin>:[0-9]+: unexpected end of file" \
    sh -c 'f=$1; shift; cat "$f" | "$@"' sh "$T/cut.gz" $SEMSEARCH tokenize -m "$VOCAB" -
(head -c 20 "$T/sample.txt.gz"; head -c 200 /dev/urandom | tr '\0' x; tail -c +221 "$T/sample.txt.gz") > "$T/bad.gz"
run_fails "a corrupt gzip stream through a pipe" "<stdin>:[0-9]+: " \
    sh -c 'f=$1; shift; cat "$f" | "$@"' sh "$T/bad.gz" $SEMSEARCH tokenize -m "$VOCAB" -
run_fails "a directory as input" "is a directory" $SEMSEARCH tokenize -m "$VOCAB" "$T"
# a slow producer: each line is answered before the next one is written
mkfifo "$T/feed"
$SEMSEARCH tokenize -m "$VOCAB" - < "$T/feed" > "$T/stream.out" 2>/dev/null &
spid=$!
exec 3> "$T/feed"
echo "a dog runs" >&3
wait_lines "$T/stream.out" 1; ok $? "a line through a pipe is answered while the pipe stays open"
echo "on the beach" >&3
wait_lines "$T/stream.out" 2; ok $? "and the next one"
exec 3>&-
wait $spid; ok $? "exits 0 when the pipe closes"

# Empty input, empty lines, CRLF.
: | $SEMSEARCH tokenize -m "$VOCAB" > "$T/out"; s=$?
[ $s -eq 0 ] && [ ! -s "$T/out" ]; ok $? "empty input: no output, exit 0"
printf '\n\n' | $SEMSEARCH tokenize -m "$VOCAB" > "$T/out"
[ "$(cat "$T/out" | wc -l)" -eq 2 ] && [ "$(tr -d '\n' < "$T/out")" = "" ]; ok $? "empty lines give empty lines"
printf 'hello world\r\n' | $SEMSEARCH tokenize -m "$VOCAB" > "$T/a"
printf 'hello world\n' | $SEMSEARCH tokenize -m "$VOCAB" > "$T/b"
same "CRLF line ends are handled" "$T/a" "$T/b"
printf 'no newline at the end' | $SEMSEARCH tokenize -m "$VOCAB" > "$T/out"
[ "$(wc -l < "$T/out")" -eq 1 ]; ok $? "a last line without newline is tokenized"

# Hostile bytes: NUL, invalid UTF-8, a 10 MB line.
printf 'a\000b\n\377\376 bad \300\257\n' | $SEMSEARCH tokenize -m "$VOCAB" > "$T/out" 2>"$T/err"; s=$?
[ $s -eq 0 ] && [ "$(wc -l < "$T/out")" -eq 2 ]; ok $? "NUL bytes and invalid UTF-8: two lines, exit 0"
head -c 10485760 /dev/zero | tr '\0' 'a' | sed 's/aaaaaaaaa/ word a/g' > "$T/big"
echo >> "$T/big"; echo "after" >> "$T/big"
$SEMSEARCH tokenize -m "$VOCAB" --max-len 8 "$T/big" > "$T/out" 2>"$T/err"; s=$?
[ $s -eq 0 ] && [ "$(wc -l < "$T/out")" -eq 2 ] && [ "$(head -1 "$T/out" | wc -w)" -eq 8 ]
ok $? "a 10 MB line is tokenized and truncated with --max-len"

# Bad models.
run_fails "a missing model names the file" "/nonexistent.model" $SEMSEARCH tokenize -m /nonexistent.model "$DATA/sample.txt"
head -c 1000 /dev/urandom > "$T/corrupt.model"
run_fails "a corrupt model is refused" "corrupt.model: not a valid SentencePiece model" $SEMSEARCH tokenize -m "$T/corrupt.model" "$DATA/sample.txt"
run_fails "a missing input file is named" "/nonexistent/input.txt" $SEMSEARCH tokenize -m "$VOCAB" /nonexistent/input.txt

# Training from the shell: gzip, stdin, unwritable output, no partial file.
for i in $(seq 1 300); do echo "the quick brown fox $i jumps over the lazy dog number $((i * 7))"; done > "$T/corpus.txt"
gzip -c "$T/corpus.txt" > "$T/corpus.txt.gz"
run_ok "tokenizer train on a gzip file" $SEMSEARCH tokenizer train -i "$T/corpus.txt.gz" --vocab-size 60 --threads 1 -o "$T/tiny.model"
echo "the lazy fox" | $SEMSEARCH tokenize -m "$T/tiny.model" > "$T/out"; s=$?
[ $s -eq 0 ] && [ -s "$T/out" ]; ok $? "the trained model tokenizes"
# --split-punct: it learns from split text, so a mark after a space is a piece
C="$top_srcdir/corpora/coco-captions.txt"
run_ok "tokenizer train --split-punct" $SEMSEARCH tokenizer train -i "$C" --split-punct --vocab-size 400 --threads 1 -o "$T/sp.model"
$SEMSEARCH tokenizer train -i "$C" --vocab-size 400 --threads 1 -o "$T/nosp.model" 2>/dev/null
echo "A dog, a cat." | $SEMSEARCH tokenize -m "$T/sp.model" --split-punct --pieces > "$T/out"
[ "$(cat "$T/out")" = "▁A ▁dog ▁, ▁a ▁cat ▁." ]; ok $? "... its pieces begin at the split marks ($(cat "$T/out"))"
a=$($SEMSEARCH tokenize -m "$T/sp.model" --split-punct < "$C" | wc -w)
b=$($SEMSEARCH tokenize -m "$T/nosp.model" --split-punct < "$C" | wc -w)
[ "$a" -lt "$b" ]; ok $? "... and split text takes fewer of them than with a vocabulary learnt unsplit ($a < $b)"
cat "$T/corpus.txt" | $SEMSEARCH tokenizer train -i - --vocab-size 60 --model-type bpe --threads 1 -o "$T/bpe.model" 2>"$T/err"
ok $? "tokenizer train reads stdin, BPE"
run_fails "an unwritable output is refused" "/nonexistent-dir/x.model" $SEMSEARCH tokenizer train -i "$T/corpus.txt" --vocab-size 60 -o /nonexistent-dir/x.model
ls /nonexistent-dir 2>/dev/null | grep -q . ; ok $(( $? == 0 )) "no partial file is left"
ls "$T" | grep -q '\.tmp\.' ; ok $(( $? == 0 )) "no temporary file is left behind"
: > "$T/empty.txt"
run_fails "an empty corpus is refused" "no text to train on|empty" $SEMSEARCH tokenizer train -i "$T/empty.txt" --vocab-size 60 -o "$T/e.model"
[ ! -e "$T/e.model" ]; ok $? "no model is written for an empty corpus"
run_fails "training without input is a usage error" "no --input given" $SEMSEARCH tokenizer train -o "$T/x.model"
run_fails "a bad model type" "not unigram or bpe" $SEMSEARCH tokenizer train -i "$T/corpus.txt" --model-type word -o "$T/x.model"
done_testing
