#!/bin/sh
# blas.sh: ss_embed from a program linking the library (bench/embed_calls),
# on OpenBLAS's pthread build against its OpenMP build (what configure
# prefers since 2026-12-04), side by side in one run: texts/s and the ratio,
# for 1, 20 and 64 texts per call, each pair measured in turn, 3 rounds.
#
#   bench/blas.sh [BUILD_DIR [MODEL]]    (MODEL: a transformer model; the
#                                         shipped static one has no sgemm)
# Needs Debian's libopenblas0-pthread and libopenblas0-openmp.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
model=${2:?"usage: bench/blas.sh BUILD_DIR MODEL (a model with transformer blocks)"}
ma=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for v in pthread openmp; do
    [ -f "/usr/lib/$ma/openblas-$v/libopenblas.so.0" ] || { echo "bench/blas.sh: no openblas-$v build (apt-get install libopenblas0-$v)" >&2; exit 1; }
done
make -C "$build" bench/embed_calls >/dev/null
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
head -n 5000 "$here/../corpora/coco-captions.txt" > "$T/lines"
run() { LD_LIBRARY_PATH="/usr/lib/$ma/openblas-$1" "$build/bench/embed_calls" "$model" "$T/lines" "$2" "$3"; }
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, model $(basename "$model")"
echo
echo "| texts per call | round | pthread build, texts/s | OpenMP build, texts/s | OpenMP / pthread |"
echo "|---|---|---|---|---|"
for per in 1 20 64; do
    calls=$((per == 1 ? 2000 : 400))
    for r in 1 2 3; do
        p=$(run pthread $per $calls); o=$(run openmp $per $calls)
        echo "| $per | $r | $p | $o | $(awk -v a="$o" -v b="$p" 'BEGIN { printf "%.2fx", a / b }') |"
    done
done
