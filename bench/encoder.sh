#!/bin/sh
# encoder.sh: semsearch's encoder against the PyTorch reference, in one run.
#
#   bench/encoder.sh [BUILD_DIR [SECONDS]]
#
# Same architecture on both sides (d_model 256, 4 layers, 4 heads, FFN 1024,
# vocabulary 16000, sequences of 32 tokens, random weights and ids):
#  - training: pairs/s for steps of 64 pairs (forward + backward of both
#    sides, symmetric in-batch InfoNCE, clipping, AdamW), dropout 0.1; ours
#    in f32 and in bf16 (train --bf16), PyTorch in f32 and under bf16 autocast;
#  - inference: sentences/s in batches of 256; ours in f32, bf16 and int8
#    (the weights quantized as `model convert --int8` does), PyTorch in f32
#    and under bf16 autocast;
#  - GFLOP/s of the matrix products, against cblas_sgemm's peak measured here;
#  - peak RSS of each process (PyTorch's includes its interpreter and libraries);
#  - the size of this model's file in f32, f16 and int8.
# PyTorch f32 runs with its default intra-op thread count, with 1 and 2
# threads, and with 2 threads and OMP_WAIT_POLICY=PASSIVE; "PyTorch fastest"
# is the best of those. semsearch runs with SEMSEARCH_THREADS (default: all
# cores; encoder_bench defaults the OpenMP wait policy to passive as the
# semsearch command does). Each measurement is its own process. Prints a
# Markdown report on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
secs=${2:-8}
PYTHON3=${PYTHON3:-/usr/bin/python3}
make -s -C "$build" bench/encoder_bench semsearch >&2
bench="$build/bench/encoder_bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { echo "# $*" >&2; "$@" | tee -a "$tmp/lines" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
load0=$(load)
run "$bench" peak
SEMSEARCH_THREADS=1 run "$bench" peak
run "$bench" train 64 32 "$secs" f32
run "$bench" train 64 32 "$secs" bf16
SEMSEARCH_THREADS=1 run "$bench" train 64 32 "$secs" f32
run "$PYTHON3" "$here/torch_bench.py" train 0 64 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" train 1 64 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" train 2 64 32 "$secs"
OMP_WAIT_POLICY=PASSIVE run "$PYTHON3" "$here/torch_bench.py" train 2 64 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" train 2 64 32 "$secs" bf16
run "$bench" infer 256 32 "$secs" f32
run "$bench" infer 256 32 "$secs" bf16
run "$bench" infer 256 32 "$secs" int8
SEMSEARCH_THREADS=1 run "$bench" infer 256 32 "$secs" f32
run "$PYTHON3" "$here/torch_bench.py" infer 0 256 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" infer 1 256 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" infer 2 256 32 "$secs"
OMP_WAIT_POLICY=PASSIVE run "$PYTHON3" "$here/torch_bench.py" infer 2 256 32 "$secs"
run "$PYTHON3" "$here/torch_bench.py" infer 2 256 32 "$secs" bf16

load1=$(load)
# the model file of this configuration, in each storage type
"$build/semsearch" model init --seed 1 -o "$tmp/m.gguf" 2>/dev/null
"$build/semsearch" model convert -m "$tmp/m.gguf" --f16 -o "$tmp/m16.gguf" 2>/dev/null
"$build/semsearch" model convert -m "$tmp/m.gguf" --int8 -o "$tmp/m8.gguf" 2>/dev/null
for f in m m16 m8; do echo "file=$f bytes=$(wc -c < "$tmp/$f.gguf")" >> "$tmp/lines"; done
echo "file=params bytes=$("$build/semsearch" model info -m "$tmp/m.gguf" | awk -F'\t' '$1 == "params" {print $2}')" >> "$tmp/lines"

"$PYTHON3" - "$tmp/lines" "bench/encoder.sh $build $secs" "$load0" "$load1" <<'PY'
import sys
rows, files, peak = [], {}, {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split())
    if "file" in kv:
        files[kv["file"]] = int(kv["bytes"])
    elif kv.get("what") == "peak":
        peak[int(kv["threads"])] = float(kv["gflops"])
    else:
        rows.append(kv)
print("Command: `%s` (load average %s at the start, %s at the end)\n" % tuple(sys.argv[2:5]))
print("cblas_sgemm peak (2048x1024x1024): %.0f GFLOP/s with %d threads, %.0f with 1\n"
      % (peak[max(peak)], max(peak), peak.get(1, 0)))
print("| what | side | precision | threads | per second | GFLOP/s | peak RSS (MB) |")
print("|---|---|---|---|---|---|---|")
seen = {}
for r in rows:
    key = (r["side"], r["what"], r["prec"])
    seen[key] = seen.get(key, 0) + 1
    label = {"semsearch": "semsearch", "torch": "PyTorch"}[r["side"]]
    if r["side"] == "torch" and r["prec"] == "f32":
        label += [" default", "", "", " OMP_WAIT_POLICY=PASSIVE"][min(seen[key], 4) - 1]
    elif r["side"] == "torch":
        label += " autocast"
    unit = "pairs" if r["what"] == "train" else "sentences"
    print("| %s | %s | %s | %s | %.1f %s | %.1f | %.0f |" % (r["what"], label, r["prec"], r["threads"],
          float(r["per_s"]), unit, float(r["gflops"]), float(r["rss_mb"])))

def rate(side, what, prec, threads=None):
    v = [float(r["per_s"]) for r in rows if r["side"] == side and r["what"] == what and r["prec"] == prec
         and (threads is None or r["threads"] == str(threads))]
    return max(v) if v else float("nan")

nthr = max(int(r["threads"]) for r in rows if r["side"] == "semsearch")
print()
for what in ("infer", "train"):
    tf = rate("torch", what, "f32")
    tb = rate("torch", what, "bf16")
    ours = {p: rate("semsearch", what, p, nthr) for p in ("f32", "bf16", "int8")}
    parts = ["%s %.2fx" % (p, v / tf) for p, v in ours.items() if v == v]
    print("%s, semsearch (%d threads) / PyTorch f32 fastest setting: %s; / PyTorch bf16 autocast: %s"
          % (what, nthr, ", ".join(parts), ", ".join("%s %.2fx" % (p, v / tb) for p, v in ours.items() if v == v)))
    print("%s, semsearch bf16 / semsearch f32: %.2fx%s\n" % (what, ours["bf16"] / ours["f32"],
          "" if ours["int8"] != ours["int8"] else "; int8 / f32: %.2fx" % (ours["int8"] / ours["f32"])))
print("Model file of this configuration (%.1fM parameters, tokenizer included): f32 %.1f MB, f16 %.1f MB, int8 %.1f MB"
      " (f32 / int8 = %.2f)" % (files["params"] / 1e6, files["m"] / 1e6, files["m16"] / 1e6, files["m8"] / 1e6, files["m"] / files["m8"]))
PY
