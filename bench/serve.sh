#!/bin/sh
# serve.sh: `semsearch serve` against the Python peer, side by side in one run.
#
#   bench/serve.sh [BUILD_DIR [SECONDS]]
#   BENCH_MODEL=FILE bench/serve.sh ...   (another model; default the shipped one)
#   BENCH_FORMAT=base64 bench/serve.sh ... (vectors answered as base64, not JSON numbers)
#
# wrk (Debian: wrk) posts one caption per request (bench/serve.lua, round
# robin over 5000 COCO captions) to POST /v1/embeddings with 1, 8 and 32
# connections, SECONDS (default 10) each, against:
#   - semsearch serve (defaults: one encoder worker, dynamic batching);
#   - the Python peer, bench/serve_peer.py: the PyTorch reference of the same
#     model (same GGUF weights, same tokenization) behind FastAPI on uvicorn,
#     as one process, and as one process per core on one port (what
#     `uvicorn --workers N` does), when nproc > 1.
# The servers run together and each client count is measured on every server
# in turn, so that a change of load on the machine hits all of them alike.
# Before measuring, the peer's vectors are checked against `semsearch embed`
# (cosine > 0.999 on 1000 captions). Prints a Markdown report on stdout:
# requests/s, p50/p99 latency, semsearch's requests per encoder call, the
# ratios semsearch / Python, `semsearch embed`'s batch throughput on the same
# captions and serve's share of it at 32 clients, and the issue's two targets
# (>= 3x the Python server at 32 clients; >= 80% of embed's batch rate).
#
# The Python side needs python3 with fastapi, uvicorn, torch, numpy and
# sentencepiece (Debian: python3-fastapi python3-uvicorn python3-torch
# python3-sentencepiece); without them it is skipped with a message and only
# semsearch is measured. PYTHON3 picks the interpreter (default /usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
secs=${2:-10}
PYTHON3=${PYTHON3:-/usr/bin/python3}
command -v wrk >/dev/null || { echo "bench/serve.sh: wrk is missing: apt-get install wrk" >&2; exit 1; }
export SEMSEARCH_DATA="${SEMSEARCH_DATA:-$here/..}"
model=${BENCH_MODEL:-$here/../models/en-base.gguf}
ncpu=$(nproc 2>/dev/null || echo 1)
load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
T=$(mktemp -d)
pids=
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    # a Python server still starting up may miss SIGTERM: KILL after 5 s
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
head -n 5000 "$here/../corpora/coco-captions.txt" > "$T/lines"
export BENCH_LINES="$T/lines"

# wait_port LOG PATTERN: the port a server printed on its log
wait_port() {
    i=0
    while :; do
        p=$(sed -n "s|^$2 http://127\\.0\\.0\\.1:\\([0-9]*\\).*|\\1|p" "$1" 2>/dev/null || true)
        [ -n "$p" ] && { echo "$p"; return 0; }
        i=$((i + 1))
        if [ $i -gt 600 ]; then
            echo "bench/serve.sh: no server came up; its log:" >&2
            cat "$1" >&2
            return 1
        fi
        sleep 0.1
    done
}

# the batch throughput: every caption in one embed run (5 passes)
for i in 1 2 3 4 5; do cat "$T/lines"; done > "$T/lines5"
# (CPU seconds too: `times` prints the shell's, then its children's, user and system)
cpu_of_times() { tail -n 1 "$1" | tr 'ms' '  ' | awk '{ printf "%.3f", 60 * $1 + $2 + 60 * $3 + $4 }'; }
t0=$(date +%s.%N)
( "$build/semsearch" embed -m "$model" -f f32 -q "$T/lines5" > /dev/null; times > "$T/embed.times" )
t1=$(date +%s.%N)
embed_rate=$(echo "$t0 $t1" | awk -v n=25000 '{ printf "%.0f", n / ($2 - $1) }')
embed_cpu_us=$(awk -v c="$(cpu_of_times "$T/embed.times")" 'BEGIN { printf "%.0f", 1e6 * c / 25000 }')

"$build/semsearch" serve -m "$model" --port 0 -q 2> "$T/s.log" &
spid=$!
pids="$pids $spid"
# proc_cpu PID: CPU seconds (user + system) a running process has used
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
proc_cpu() { awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"; }
sport=$(wait_port "$T/s.log" "semsearch: serving on")
surl="http://127.0.0.1:$sport"
calls() { curl -s "$surl/metrics" | sed -n 's/^semsearch_batch_inputs_count \([0-9]*\)/\1/p'; }

# the Python peer: one process, and one per core
peers=
if ! "$PYTHON3" -c 'import fastapi, uvicorn, torch, numpy, sentencepiece' 2>/dev/null; then
    peer_note="The Python peer was not run: $PYTHON3 lacks fastapi, uvicorn, torch, numpy or sentencepiece (Debian: python3-fastapi python3-uvicorn python3-torch python3-sentencepiece)."
    echo "bench/serve.sh: $peer_note" >&2
else
    peer_note=
    "$PYTHON3" "$here/serve_peer.py" serve -m "$model" 2> "$T/p1.log" &
    pids="$pids $!"
    p1port=$(wait_port "$T/p1.log" "serve_peer: serving on")
    peers="p1"
    if [ "$ncpu" -gt 1 ]; then
        "$PYTHON3" "$here/serve_peer.py" serve -m "$model" --reuseport 2> "$T/pn1.log" &
        pids="$pids $!"
        pnport=$(wait_port "$T/pn1.log" "serve_peer: serving on")
        k=2
        while [ $k -le "$ncpu" ]; do
            "$PYTHON3" "$here/serve_peer.py" serve -m "$model" --reuseport --port "$pnport" 2> "$T/pn$k.log" &
            pids="$pids $!"
            wait_port "$T/pn$k.log" "serve_peer: serving on" > /dev/null
            k=$((k + 1))
        done
        peers="p1 pn"
    fi
    # same vectors as semsearch embed (through HTTP, a list of 1000 captions)
    head -n 1000 "$T/lines" > "$T/check"
    "$build/semsearch" embed -m "$model" -f f32 -q "$T/check" > "$T/check.f32"
    "$PYTHON3" "$here/serve_peer.py" compare "http://127.0.0.1:$p1port" "$T/check" "$T/check.f32" > "$T/cmp" ||
        { cat "$T/cmp" >&2; echo "bench/serve.sh: the Python peer's vectors differ from semsearch embed's" >&2; exit 1; }
fi

# run_wrk URL C: "rps p50 p99 errors"
run_wrk() {
    threads=$(($2 < 2 ? 1 : 2))
    { wrk -t $threads -c "$2" -d "${secs}s" --latency -s "$here/serve.lua" "$1" > "$T/wrk" 2>&1 || true; }
    times > "$T/wrk.times.$2"
    line=$(grep '^BENCH' "$T/wrk" | tail -1)
    [ -n "$line" ] || { echo "bench/serve.sh: wrk failed:" >&2; cat "$T/wrk" >&2; exit 1; }
    echo "$line" | sed 's/.*rps=\([0-9.]*\) p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\) errors=\([0-9]*\).*/\1 \2 \3 \4/'
}

for c in 1 8 32; do
    before=$(calls)
    cpu0=$(proc_cpu "$spid")
    r=$(run_wrk "$surl" $c) || exit 1
    cpu1=$(proc_cpu "$spid")
    # semsearch's CPU per request, and the load generator's (run_wrk is a subshell: its children are wrk)
    echo "$cpu0 $cpu1 $(cpu_of_times "$T/wrk.times.$c")" > "$T/s.cpu.$c"
    # shellcheck disable=SC2086 # the four fields of run_wrk, split on purpose
    set -- $r
    after=$(calls)
    per=$(awk -v r="$1" -v s="$secs" -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", (b > a) ? r * s / (b - a) : 0 }')
    echo "$c $1 $2 $3 $4 $per" > "$T/s.$c"
    for p in $peers; do
        eval "port=\$${p}port"
        # shellcheck disable=SC2154 # port: set by the eval
        r=$(run_wrk "http://127.0.0.1:$port" $c) || exit 1
        # shellcheck disable=SC2086
        set -- $r
        echo "$c $1 $2 $3 $4" > "$T/$p.$c"
    done
done

echo "| server | clients | requests/s | p50 ms | p99 ms | errors | requests per encoder call | semsearch / this |"
echo "|---|---|---|---|---|---|---|---|"
for c in 1 8 32; do
    read -r _ rps p50 p99 err per < "$T/s.$c"
    echo "| semsearch serve | $c | $rps | $p50 | $p99 | $err | $per | |"
    for p in $peers; do
        read -r _ prps pp50 pp99 perr < "$T/$p.$c"
        case $p in
            p1) name="FastAPI + PyTorch, 1 process" ;;
            *) name="FastAPI + PyTorch, $ncpu processes" ;;
        esac
        ratio=$(awk -v a="$rps" -v b="$prps" 'BEGIN { printf "%.2fx", (b > 0) ? a / b : 0 }')
        echo "| $name | $c | $prps | $pp50 | $pp99 | $perr | (1 per forward) | $ratio |"
    done
done
read -r _ rate32 _ < "$T/s.32"
share=$(awk -v a="$rate32" -v b="$embed_rate" 'BEGIN { printf "%.0f", 100 * a / b }')
echo
echo "semsearch embed, the same 5000 captions x 5 in one batch run: $embed_rate sentences/s;" \
    "serve at 32 clients: $rate32 requests/s = $share% of it" \
    "(target >= 80%: $(awk -v s="$share" 'BEGIN { print (s >= 80) ? "met" : "not met" }'))."
read -r cpu0 cpu1 wcpu < "$T/s.cpu.32"
echo
awk -v a="$cpu0" -v b="$cpu1" -v w="$wcpu" -v r="$rate32" -v s="$secs" -v e="$embed_cpu_us" -v n="$ncpu" 'BEGIN {
    req = r * s
    printf "CPU at 32 clients: semsearch serve %.0f us per request (%.2f of %d cores), wrk %.0f us per request (%.2f cores);", \
        1e6 * (b - a) / req, (b - a) / s, n, 1e6 * w / req, w / s
    printf " semsearch embed %.0f us per text. Where serve spends more than embed per text, that is HTTP and JSON;", e
    printf " the share above also pays for wrk, which runs on the same cores.\n"
}'
if [ -n "$peers" ]; then
    echo
    echo "Python peer's vectors against semsearch embed's: $(sed 's/^compare: //' "$T/cmp")."
    best=0
    for p in $peers; do
        read -r _ prps _ < "$T/$p.32"
        best=$(awk -v a="$best" -v b="$prps" 'BEGIN { print (b > a) ? b : a }')
    done
    echo "At 32 clients semsearch serve / the faster Python server: $(awk -v a="$rate32" -v b="$best" 'BEGIN { printf "%.2fx", a / b }')" \
        "(target >= 3x: $(awk -v a="$rate32" -v b="$best" 'BEGIN { print (a >= 3 * b) ? "met" : "not met" }'))."
else
    echo
    echo "$peer_note"
fi
echo
echo "($(uname -m), $ncpu cores; $(date -u +%Y-%m-%dT%H:%MZ); ${secs}s per measurement; load average before the run: $load0)"
