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
# static linking with what `pkg-config --static --libs semsearch` says (it
# lacked -lstdc++ for the SentencePiece wrapper and the OpenMP flag)
a="$top_builddir/.libs/libsemsearch.a"
cc=$(sed -n 's/^CC = *//p' "$top_builddir/Makefile" 2>/dev/null)
if [ -f "$a" ] && command -v pkg-config >/dev/null 2>&1 && [ -n "$cc" ]; then
    printf '#include <semsearch.h>\n#include <stdio.h>\nint main(void) { ss_config c; ss_config_init(&c); printf("%%d\\n", c.d_model); return 0; }\n' > "$T/st.c"
    libs=$(PKG_CONFIG_PATH="$top_builddir" pkg-config --static --libs semsearch | sed 's/-lsemsearch//; s/-L[^ ]*local[^ ]*//')
    san=$(sed -n 's/^SAN_FLAGS = *//p' "$top_builddir/Makefile")
    $cc $san -I"$top_srcdir/include" "$T/st.c" "$a" $libs -o "$T/st" 2>"$T/err" && [ "$(ASAN_OPTIONS=detect_leaks=0 "$T/st")" = 256 ]
    ok $? "a program links statically with pkg-config --static --libs semsearch"
    [ -s "$T/err" ] && sed 's/^/# /' "$T/err" | grep -m5 "undefined"
else
    skip "static linking" "no static library, pkg-config or CC"
fi
done_testing
