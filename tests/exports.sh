#!/bin/sh
# exports.sh: the shared library exports only the public ss_[a-z]* API, and
# every public function declared in the header is exported.
. "$top_srcdir/tests/setup.sh"
lib="$top_builddir/.libs/libsemsearch.so"
if [ ! -f "$lib" ]; then skip "exported symbols" "no shared library built"; done_testing; exit $?; fi
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u > "$T/exported"
[ -s "$T/exported" ]; ok $? "the library exports symbols"
grep -v '^ss_[a-z]' "$T/exported" > "$T/foreign"
[ ! -s "$T/foreign" ]; ok $? "only ss_[a-z]* symbols are exported"
[ -s "$T/foreign" ] && sed 's/^/# foreign: /' "$T/foreign" | head
# Public functions of the header (SS_API ... name( ).
sed -n 's/^SS_API .*[ *]\(ss_[a-z0-9_]*\)(.*/\1/p' "$top_srcdir/include/semsearch.h" | sort -u > "$T/declared"
comm -23 "$T/declared" "$T/exported" > "$T/missing"
[ ! -s "$T/missing" ]; ok $? "every function the header declares is exported"
[ -s "$T/missing" ] && sed 's/^/# missing: /' "$T/missing" | head -20
grep -q '^Libs: -L${libdir} -lsemsearch' "$top_builddir/semsearch.pc"; ok $? "semsearch.pc names the library"
done_testing
