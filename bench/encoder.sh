#!/bin/sh
# encoder.sh: semsearch's encoder against the PyTorch reference, in one run.
#
#   bench/encoder.sh [BUILD_DIR [SECONDS]]
#
# Same architecture on both sides (d_model 256, 4 layers, 4 heads, FFN 1024,
# vocabulary 16000, sequences of 32 tokens, random weights and ids):
#  - training: pairs/s for steps of 64 pairs (forward + backward of both
#    sides, symmetric in-batch InfoNCE, clipping, AdamW), dropout 0.1;
#  - inference: sentences/s in batches of 256;
#  - GFLOP/s of the matrix products, against cblas_sgemm's peak measured here;
#  - peak RSS of each process (PyTorch's includes its interpreter and libraries).
# PyTorch runs with its default intra-op thread count, with 1 and 2 threads,
# and with 2 threads and OMP_WAIT_POLICY=PASSIVE; semsearch with
# SEMSEARCH_THREADS (default: all cores; encoder_bench defaults the OpenMP
# wait policy to passive as the semsearch command does). Each measurement is
# its own process. Prints a Markdown report on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
secs=${2:-8}
PYTHON3=${PYTHON3:-/usr/bin/python3}
make -s -C "$build" bench/encoder_bench >&2
bench="$build/bench/encoder_bench"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

run() { echo "# $*" >&2; "$@" | tee -a "$tmp" >&2; }
run "$bench" peak
SEMSEARCH_THREADS=1 run "$bench" peak
run "$bench" train 64 32 "$secs"
SEMSEARCH_THREADS=1 run "$bench" train 64 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" train 0 64 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" train 1 64 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" train 2 64 32 "$secs"
OMP_WAIT_POLICY=PASSIVE run "$PYTHON3" "$here/torch_bench.py" train 2 64 32 "$secs"
run "$bench" infer 256 32 "$secs"
SEMSEARCH_THREADS=1 run "$bench" infer 256 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" infer 0 256 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" infer 1 256 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" infer 2 256 32 "$secs"
OMP_WAIT_POLICY=PASSIVE run "$PYTHON3" "$here/torch_bench.py" infer 2 256 32 "$secs"

# The torch lines of the default setting come first for each mode: tag them.
awk -v cmd="bench/encoder.sh $build $secs" '
function kv(line, key,   n, i, a, b) {
    n = split(line, a, " ")
    for (i = 1; i <= n; i++) { split(a[i], b, "="); if (b[1] == key) return b[2] }
    return ""
}
{
    side = kv($0, "side"); what = kv($0, "what"); th = kv($0, "threads")
    if (what == "peak") { peak[th] = kv($0, "gflops"); if (th > maxth) maxth = th; next }
    key = side "/" what
    if (side == "torch") {
        seen[what]++
        if (seen[what] == 1) { deflt[what] = th; key = key "/default" }
        else if (seen[what] == 4) key = key "/passive"
        else key = key "/" th
    }
    if (side == "semsearch") {
        if (what in ssseen) key = key "/1"; else ssth = th
        ssseen[what] = 1
    }
    rate[key] = kv($0, "per_s"); gf[key] = kv($0, "gflops"); rss[key] = kv($0, "rss_mb"); thr[key] = th
}
END {
    printf "Command: `%s` (semsearch threads: %d; PyTorch default threads: %d)\n\n", cmd, ssth, deflt["train"]
    printf "cblas_sgemm peak (2048x1024x1024): %.0f GFLOP/s with %d threads, %.0f with 1\n\n", peak[maxth], maxth, peak[1]
    printf "| what | side | per second | GFLOP/s | %% of sgemm peak (same threads) | peak RSS (MB) |\n"
    printf "|---|---|---|---|---|---|\n"
    split("train infer", modes, " ")
    for (m = 1; m <= 2; m++) {
        w = modes[m]; unit = (w == "train") ? "pairs" : "sentences"
        split("semsearch/" w " semsearch/" w "/1 torch/" w "/default torch/" w "/1 torch/" w "/2 torch/" w "/passive", ks, " ")
        for (k = 1; k <= 6; k++) {
            key = ks[k]
            if (!(key in rate)) continue
            label = key; sub("^[a-z]*/" w, "", label)
            side = (key ~ /^semsearch/) ? "semsearch (" thr[key] " thread(s))" : \
                   label == "/default" ? "PyTorch default (" deflt[w] " thread(s))" : \
                   label == "/passive" ? "PyTorch 2 threads, OMP_WAIT_POLICY=PASSIVE" : \
                   "PyTorch " substr(label, 2) " thread(s)"
            pk = (thr[key] in peak) ? peak[thr[key]] : peak[maxth]
            printf "| %s | %s | %.1f %s | %.1f | %.0f%% | %.0f |\n", w, side, rate[key], unit, gf[key], 100 * gf[key] / pk, rss[key]
        }
    }
    for (m = 1; m <= 2; m++) {
        w = modes[m]; best = 0
        for (t = 1; t <= 2; t++) if (rate["torch/" w "/" t] > best) best = rate["torch/" w "/" t]
        if (rate["torch/" w "/default"] > best) best = rate["torch/" w "/default"]
        printf "\n%s: semsearch / PyTorch fastest thread setting = %.2fx, / PyTorch default = %.2fx, / PyTorch 2 threads passive = %.2fx; with 1 thread each: %.2fx", w,
            rate["semsearch/" w] / best, rate["semsearch/" w] / rate["torch/" w "/default"],
            rate["semsearch/" w] / rate["torch/" w "/passive"], rate["semsearch/" w "/1"] / rate["torch/" w "/1"]
    }
    printf "\n"
}' "$tmp"
