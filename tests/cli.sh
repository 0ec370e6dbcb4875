#!/bin/sh
# cli.sh: the command-line conventions every command shares.
. "$top_srcdir/tests/setup.sh"

$SEMSEARCH --version >"$T/out" 2>&1; s=$?
ok $(( s != 0 )) "--version exits 0"
grep -q '^semsearch [0-9]' "$T/out"; ok $? "--version prints the version"

$SEMSEARCH --help >"$T/out" 2>"$T/err"; s=$?
ok $s "--help exits 0"
grep -q '^usage: semsearch <command>' "$T/out" && grep -q 'tokenize' "$T/out"
ok $? "--help lists the commands on stdout"

$SEMSEARCH >"$T/out" 2>"$T/err"; s=$?
ok $(( s != 2 )) "no command: usage error (exit 2)"
grep -q '^usage:' "$T/err"; ok $? "no command: usage on stderr"
[ ! -s "$T/out" ]; ok $? "no command: nothing on stdout"

run_fails "an unknown command is named" "unknown command 'frobnicate'" $SEMSEARCH frobnicate
run_fails "an unknown option gives usage" "usage: semsearch tokenize" $SEMSEARCH tokenize --no-such-option
run_fails "a bad number names the option" "--max-len: 'abc' is not a whole number" $SEMSEARCH tokenize --max-len abc
run_fails "a number out of range names the range" "--max-len: 0 is out of range" $SEMSEARCH tokenize --max-len 0

$SEMSEARCH tokenize --help >"$T/out" 2>&1; s=$?
ok $s "tokenize --help exits 0"
grep -q 'default: the shipped' "$T/out"; ok $? "tokenize usage shows its defaults"
run_fails "tokenizer without a subcommand gives usage" "usage: semsearch tokenizer" $SEMSEARCH tokenizer
run_fails "tokenizer with an unknown subcommand" "unknown subcommand 'fly'" $SEMSEARCH tokenizer fly

# Output errors are reported, not ignored.
if [ -w /dev/full ]; then
    echo hello | $SEMSEARCH tokenize -m "$VOCAB" >/dev/full 2>"$T/err"; s=$?
    [ $s -eq 1 ] && grep -q 'write error' "$T/err"; ok $? "a full output device is an error (exit $s)"
else
    skip "a full output device is an error" "no /dev/full"
fi
done_testing
