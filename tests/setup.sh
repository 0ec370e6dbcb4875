# setup.sh: sourced by every shell test. Gives a scratch directory, the
# binary, the shipped data, and TAP helpers (jq's tests work the same way).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
SEMSEARCH="$top_builddir/semsearch"
VOCAB="$top_srcdir/vocab/en-16k.model"
DATA="$top_srcdir/tests/data"
GOLDEN="$top_srcdir/tests/golden"
export SEMSEARCH_DATA="$top_srcdir"
export SEMSEARCH_THREADS="${SEMSEARCH_THREADS:-2}"
# what main() would set by re-executing itself (not possible under valgrind)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
T=$(mktemp -d "${TMPDIR:-/tmp}/semsearch-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Under --enable-valgrind, run the binary under valgrind too.
if [ -n "${VALGRIND:-}" ]; then
    SEMSEARCH="$VALGRIND --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$top_srcdir/tests/valgrind.supp $SEMSEARCH"
fi

# The binary copied where no shipped model or vocabulary can be found (not
# beside it, not in SEMSEARCH_DATA): for testing the "no default" errors.
no_defaults() {
    mkdir -p "$T/iso/bin" "$T/iso/data"
    [ -x "$T/iso/bin/semsearch" ] || cp "$top_builddir/semsearch" "$T/iso/bin/semsearch"
    SEMSEARCH_DATA="$T/iso/data" "$T/iso/bin/semsearch" "$@"
}

tap_n=0
tap_failed=0
ok() { # ok CONDITION_STATUS DESCRIPTION
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
# run_ok DESC CMD...: the command succeeds
run_ok() { d=$1; shift; "$@" >"$T/out" 2>"$T/err"; s=$?; ok $s "$d"; [ $s -eq 0 ] || { sed 's/^/# /' "$T/err" | head -20; }; }
# run_fails DESC PATTERN CMD...: fails with exit 1..2 and stderr matching PATTERN (no crash)
run_fails() {
    d=$1; p=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; s=$?
    if [ $s -ge 1 ] && [ $s -le 2 ] && grep -qE -- "$p" "$T/err"; then ok 0 "$d"; else
        ok 1 "$d"; echo "# exit $s, stderr:"; sed 's/^/#   /' "$T/err" | head -20; fi
}
# same DESC FILE_A FILE_B: files are identical (shows a diff if not)
same() { if cmp -s "$2" "$3"; then ok 0 "$1"; else ok 1 "$1"; diff "$2" "$3" | head -20 | sed 's/^/# /'; fi; }
# wait_lines FILE N: waits (up to 30 s) until FILE has N lines; fails if not
wait_lines() {
    w=0
    while [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -lt "$2" ]; do
        [ $w -ge 600 ] && return 1
        sleep 0.05
        w=$((w + 1))
    done
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
