#!/bin/sh
# manpage.sh: the committed man page is the one its Markdown source builds,
# and it documents every command `semsearch --help` lists.
. "$top_srcdir/tests/setup.sh"
if command -v pandoc >/dev/null 2>&1; then
    pandoc -f markdown-smart -s -t man -o "$T/semsearch.1" "$top_srcdir/man/semsearch.1.md"
    same "man/semsearch.1 is up to date (run 'make man')" "$top_srcdir/man/semsearch.1" "$T/semsearch.1"
else
    skip "man/semsearch.1 is up to date" "no pandoc"
fi
$SEMSEARCH --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' > "$T/commands"
[ -s "$T/commands" ]; ok $? "--help lists commands"
while read -r c; do
    grep -q "^## $c" "$top_srcdir/man/semsearch.1.md"; ok $? "the man page documents '$c'"
done < "$T/commands"
# markup that pandoc leaves as it is (_PATH_ next to bold text) shows literally
! grep -n '_[A-Z][A-Z]*_' "$top_srcdir/man/semsearch.1" | grep -v '^.*SEMSEARCH_' > "$T/lit"; ok $? "no literal _NAME_ in the built page"
[ -s "$T/lit" ] && sed 's/^/# /' "$T/lit" | head -5
# a default the help and the page state alike
h=$($SEMSEARCH embed --help | sed -n 's/.*--batch N .*(default \([0-9]*\)).*/\1/p')
m=$(grep -A1 '^\*\*-b\*\*, \*\*--batch\*\* \*N\*' "$top_srcdir/man/semsearch.1.md" | sed -n 's/.*Texts per encoder batch (default \([0-9]*\)).*/\1/p')
[ -n "$h" ] && [ "$h" = "$m" ]; ok $? "embed --batch: the same default in --help and the man page ($h, $m)"
done_testing
