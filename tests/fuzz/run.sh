#!/bin/sh
# run.sh: fuzz with libFuzzer (clang, ASan+UBSan). New interesting inputs
# land in tests/fuzz/corpus/NAME/ (commit them: they become regression tests).
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}; [ $# -gt 0 ] && shift
targets=${*:-"tokenize lines gguf datafile store query retrieval serve"}
b=${FUZZ_BUILD:-$top/build-fuzz}
if [ ! -f "$b/libsscore.la" ]; then
    mkdir -p "$b"
    (cd "$b" && "$top/configure" -q CC=clang CXX=clang++ --disable-shared \
        CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined" \
        CXXFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined")
fi
make -C "$b" -j"$(nproc)" libsscore.la >/dev/null
for t in $targets; do
    cc() { clang -g -O1 -fsanitize=fuzzer-no-link,address,undefined -I"$top/include" -I"$top/src" -I"$b" "$@"; }
    cc -c "$top/tests/fuzz/fuzz_$t.c" -o "$b/fuzz_$t.o"
    extra=
    if [ "$t" = serve ]; then # the server's own sources, libmicrohttpd and jansson
        for f in serve batcher metrics; do
            cc $(pkg-config --cflags libmicrohttpd jansson) -c "$top/src/serve/$f.c" -o "$b/serve_$f.o"
            extra="$extra $b/serve_$f.o"
        done
        extra="$extra $(pkg-config --libs libmicrohttpd jansson) -lpthread"
    fi
    # linked as C++: the library holds the SentencePiece wrapper
    clang++ -g -fsanitize=fuzzer,address,undefined "$b/fuzz_$t.o" $extra "$b/.libs/libsscore.a" \
        $(pkg-config --libs libutf8proc sentencepiece sqlite3) \
        $(grep '^BLAS_LIBS = ' "$b/Makefile" | sed 's/^BLAS_LIBS = //') \
        $(grep '^CRYPTO_LIBS = ' "$b/Makefile" | sed 's/^CRYPTO_LIBS = //') \
        $(grep '^DNNL_LIBS = ' "$b/Makefile" | sed 's/^DNNL_LIBS = //') \
        -lz -lm -lstdc++ -fopenmp -o "$b/fuzz_$t"
    mkdir -p "$top/tests/fuzz/corpus/$t"
    echo "fuzz: $t for ${secs}s" >&2
    top_srcdir="$top" "$b/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$b/" "$top/tests/fuzz/corpus/$t" > "$b/fuzz_$t.log" 2>&1 ||
        { grep -A30 -E '^==[0-9]+==|^fuzz_' "$b/fuzz_$t.log" | head -60; echo "fuzz: $t crashed; input in $b/" >&2; exit 1; }
    tail -6 "$b/fuzz_$t.log"
done
