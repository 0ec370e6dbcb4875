#!/bin/sh
# recipe.sh: the helper scripts of models/train-default.sh do what it relies on.
. "$top_srcdir/tests/setup.sh"
NEG="$top_srcdir/models/make-negations.sh"

# make-negations.sh: every second "A|An|The ... is|are V-ing" caption gives four
# graded pairs (CoSENT ranks the pairs of one file by score); other lines none.
printf '%s\t%s\n' 'A man is slicing a potato.' 'Someone slices a potato.' \
    'The dogs are running in a field.' 'Dogs run.' \
    'Two kids play.' 'Kids playing.' \
    'A woman is riding a horse.' 'A rider.' \
    'An old man is reading a newspaper.' 'A man reads.' > "$T/caps.groups.tsv"
cat > "$T/expected" <<'END'
The dogs are running in a field.	The dogs are running in a field	5.0
The dogs are running in a field.	There are no dogs running in a field.	3.0
There are no dogs running in a field.	An old man is not reading a newspaper.	0.5
The dogs are running in a field.	An old man is reading a newspaper.	0.5
An old man is reading a newspaper.	The old man is reading a newspaper	5.0
An old man is reading a newspaper.	An old man is not reading a newspaper.	3.0
An old man is not reading a newspaper.	There are no dogs running in a field.	0.5
An old man is reading a newspaper.	The dogs are running in a field.	0.5
END
"$NEG" "$T/caps.groups.tsv" > "$T/neg.scored.tsv" 2>"$T/err"
ok $? "make-negations.sh runs"
cmp -s "$T/expected" "$T/neg.scored.tsv"; ok $? "make-negations.sh: the graded pairs expected (identity, negation, negated and plain unrelated)"
"$NEG" "$T/caps.groups.tsv" | cmp -s - "$T/neg.scored.tsv"; ok $? "make-negations.sh is deterministic"

# The file it writes is training data train accepts as it is.
run_ok "train --loss cosent reads it" $SEMSEARCH train -q -o "$T/m.gguf" --layers 0 --no-out-norm \
    --d-model 16 --heads 1 --ffn 4 --max-len 32 --loss cosent -d "$T/neg.scored.tsv" -b 4 -n 2 -t 1

"$NEG" >/dev/null 2>"$T/err"; [ $? -eq 2 ] && grep -q usage "$T/err"; ok $? "no argument: usage, exit 2"
"$NEG" "$T/absent.tsv" >/dev/null 2>"$T/err"; [ $? -ne 0 ]; ok $? "a missing file: non-zero exit"
done_testing
