#!/bin/sh
# store.sh: search speed of semsearch's store beside FAISS IndexFlatIP and
# sqlite-vec, on the same random unit vectors, in one run (the machine is
# shared and noisy: only ratios measured side by side mean much).
#
#   bench/store.sh [N] [DIM]        (default 1000000 256), from a build dir
#
# Needs: python3-numpy and python3-faiss (Debian), the npm package sqlite-vec
# (VEC0=/path/to/vec0.so, or it is installed with npm into $WORK/npm).
# Writes about 3 GB under $WORK (default /tmp/semsearch-bench).
set -eu
N=${1:-1000000}
DIM=${2:-256}
BUILD=${BUILD:-$(pwd)}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/semsearch-bench}
PY=${PYTHON3:-/usr/bin/python3}
export SEMSEARCH_THREADS=${SEMSEARCH_THREADS:-2} DIM
mkdir -p "$WORK"
make -C "$BUILD" -s semsearch bench/store_bench >/dev/null
if [ -z "${VEC0:-}" ]; then
    VEC0=$(find "$WORK/npm" -name vec0.so 2>/dev/null | head -1)
    if [ -z "$VEC0" ]; then
        npm install --silent --prefix "$WORK/npm" sqlite-vec@0.1.9 >&2
        VEC0=$(find "$WORK/npm" -name vec0.so | head -1)
    fi
fi
# a model of the same dimension, so that `semsearch query` runs end to end
MODEL="$WORK/model-$DIM.gguf"
[ -f "$MODEL" ] || SEMSEARCH_DATA="$SRC" "$BUILD/semsearch" model init --d-model "$DIM" --heads 4 -o "$MODEL" 2>/dev/null
DB="$WORK/vectors-$N-$DIM.db"
rm -f "$DB" "$DB"-wal "$DB"-shm "$DB".vec0.db
echo "# semsearch store benchmark: $N x $DIM random unit vectors, $SEMSEARCH_THREADS threads, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/store_bench" build "$DB" "$N" "$DIM" "$MODEL" | tee "$WORK/build.tsv"
echo "file_bytes	$(stat -c %s "$DB")"
run_ours() { "$BUILD/bench/store_bench" first "$DB"; "$BUILD/bench/store_bench" query "$DB" 100; }
e2e() { # a fresh process: open, load the model, embed, read every vector, search, print
    s=$(date +%s.%N)
    "$BUILD/semsearch" query -d "$DB" -m "$MODEL" -k 10 "a dog runs on the beach" >/dev/null
    e=$(date +%s.%N)
    echo "$s $e" | awk '{ printf "cli_first_query_ms\t%.0f\n", ($2 - $1) * 1000 }'
}
run_ours | tee "$WORK/ours1.tsv"
e2e | tee -a "$WORK/ours1.tsv"
"$PY" "$SRC/bench/store_peers.py" "$DB" "$VEC0" 100 | tee "$WORK/peers.tsv"
run_ours | tee "$WORK/ours2.tsv"
e2e | tee -a "$WORK/ours2.tsv"
# ratios from the medians of the two runs of ours around the peers
"$PY" - "$WORK" <<'EOF'
import sys, statistics
w = sys.argv[1]
def read(f):
    return {l.split("\t")[0]: l.split("\t")[1].strip() for l in open(f"{w}/{f}") if "\t" in l}
a, b, p, bd = read("ours1.tsv"), read("ours2.tsv"), read("peers.tsv"), read("build.tsv")
def ours(k):
    return statistics.mean([float(a[k]), float(b[k])])
f32, i8 = ours("f32_single_ms_median"), ours("int8_single_ms_median")
print("\n| measure | value |\n| --- | --- |")
rows = [
    ("semsearch f32 single query (ms)", f"{f32:.1f}"),
    ("semsearch int8+rescore single query (ms)", f"{i8:.1f}"),
    ("int8 speedup over f32", f"{f32 / i8:.1f}x"),
    ("int8 recall@10 vs exact f32", f"{ours('int8_recall_at_10'):.4f}"),
    ("semsearch f32 batch of 100 (ms/query)", f"{ours('f32_batch100_ms_per_query'):.2f}"),
    ("semsearch int8 batch of 100 (ms/query)", f"{ours('int8_batch100_ms_per_query'):.2f}"),
    ("first query, fresh process, vectors streamed (`once`, ms)", f"{ours('first_query_once_ms'):.0f}"),
    ("first query, fresh process, vectors loaded to memory (ms)", f"{ours('first_query_f32_ms'):.0f}"),
    ("first query, fresh process, `semsearch query` with model load (ms)", f"{ours('cli_first_query_ms'):.0f}"),
    ("semsearch insert rate (vectors/s)", bd["insert_per_s"]),
]
if "faiss_single_ms_median" in p:
    fs = float(p["faiss_single_ms_median"])
    rows += [("FAISS IndexFlatIP single query (ms)", f"{fs:.1f}"),
             ("FAISS batch of 100 (ms/query)", p["faiss_batch100_ms_per_query"]),
             ("speed vs FAISS, f32 single (FAISS ms / ours)", f"{fs / f32:.2f}x"),
             ("speed vs FAISS, int8 single", f"{fs / i8:.2f}x"),
             ("FAISS top 10 = semsearch top 10", p["faiss_recall_vs_semsearch"])]
sv = float(p["sqlite_vec_single_ms_median"])
rows += [("sqlite-vec " + p.get("sqlite_vec_version", "") + " single query (ms)", f"{sv:.1f}"),
         ("speed vs sqlite-vec, f32 single", f"{sv / f32:.1f}x"),
         ("speed vs sqlite-vec, int8 single", f"{sv / i8:.1f}x"),
         ("sqlite-vec top 10 = semsearch top 10", p["sqlite_vec_recall_vs_semsearch"])]
if "sqlite_vec_insert_per_s" in p:
    rows.append(("sqlite-vec insert rate (vectors/s)", p["sqlite_vec_insert_per_s"]))
for k, v in rows:
    print(f"| {k} | {v} |")
EOF
