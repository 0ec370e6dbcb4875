#!/bin/sh
# serve.sh: `semsearch serve` under load, in one run.
#
#   bench/serve.sh [BUILD_DIR [SECONDS]]
#
# wrk (Debian: wrk) posts one caption per request to /v1/embeddings with 1, 8
# and 32 connections; prints requests/s and p50/p99 latency for each, the
# encoder calls the server made (dynamic batching: requests per call), and
# `semsearch embed`'s batch throughput on the same captions (the issue's
# target: at 32 clients >= 80% of it). The Python side of the comparison (the
# PyTorch reference encoder behind FastAPI/uvicorn) runs only where
# fastapi, uvicorn, torch and sentencepiece all import; else it says so.
# Prints a Markdown report on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
secs=${2:-10}
PYTHON3=${PYTHON3:-/usr/bin/python3}
command -v wrk >/dev/null || { echo "bench/serve.sh: wrk is missing: apt-get install wrk" >&2; exit 1; }
export SEMSEARCH_DATA=${SEMSEARCH_DATA:-$here/..}
T=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -rf "$T"' EXIT
head -n 5000 "$here/../corpora/coco-captions.txt" > "$T/lines"
export BENCH_LINES="$T/lines"

# the batch throughput: every caption in one embed run (5 passes)
for i in 1 2 3 4 5; do cat "$T/lines"; done > "$T/lines5"
t0=$(date +%s.%N)
"$build/semsearch" embed -f f32 -q "$T/lines5" > /dev/null
t1=$(date +%s.%N)
embed_rate=$(echo "$t0 $t1" | awk -v n=25000 '{ printf "%.0f", n / ($2 - $1) }')

"$build/semsearch" serve --port 0 -q 2> "$T/log" &
spid=$!
port=
while [ -z "$port" ]; do
    sleep 0.1
    port=$(sed -n 's|^semsearch: serving on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/log")
done
url="http://127.0.0.1:$port"
calls() { curl -s "$url/metrics" | sed -n 's/^semsearch_batch_inputs_count \([0-9]*\)/\1/p'; }

echo "| server | clients | requests/s | p50 ms | p99 ms | requests per encoder call | errors |"
echo "|---|---|---|---|---|---|---|"
for c in 1 8 32; do
    threads=$((c < 2 ? 1 : 2))
    before=$(calls)
    wrk -t $threads -c $c -d "${secs}s" --latency -s "$here/serve.lua" "$url" > "$T/wrk" 2>&1 || true
    after=$(calls)
    line=$(grep '^BENCH' "$T/wrk" | tail -1)
    rps=$(echo "$line" | sed 's/.*rps=\([0-9.]*\).*/\1/')
    p50=$(echo "$line" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')
    p99=$(echo "$line" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
    err=$(echo "$line" | sed 's/.*errors=\([0-9]*\).*/\1/')
    per=$(awk -v r="$rps" -v s="$secs" -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", (b > a) ? r * s / (b - a) : 0 }')
    echo "| semsearch serve | $c | $rps | $p50 | $p99 | $per | $err |"
    [ $c -eq 32 ] && rate32=$rps
done
kill -TERM $spid
wait $spid || true
spid=
if "$PYTHON3" -c 'import fastapi, uvicorn, torch, sentencepiece' 2>/dev/null; then
    echo "| FastAPI + PyTorch | - | (not written yet: see docs/benchmarks.md) | | | | |"
else
    echo "| FastAPI/uvicorn + PyTorch | - | not run: python3-fastapi, python3-uvicorn or sentencepiece missing here | | | | |"
fi
echo
echo "semsearch embed, the same captions in one batch run: $embed_rate sentences/s;" \
    "serve at 32 clients: $(awk -v a="$rate32" -v b="$embed_rate" 'BEGIN { printf "%.0f%%", 100 * a / b }') of it."
