#!/bin/sh
# mpi.sh: data-parallel training, 1 process against 2 under mpirun (#16).
#
#   bench/mpi.sh [BUILD_DIR [STEPS]]
#
# Trains the same model (the default shape, d_model 256, 4 layers, 7.3 M
# parameters, --max-len 32) on the COCO captions (plain text, SimCSE pairs)
# with a global batch of 64 for STEPS steps (default 60), as:
#   - 1 process, 1 thread; 1 process, all cores;
#   - mpirun -np 2, 1 thread each (each embeds half of every batch).
# Prints a Markdown table on stdout: pairs/s (the last progress line's moving
# average), milliseconds a step in MPI collectives and in the gradient
# allreduce alone and in waiting for the slower process at the barrier
# before it (process 0, from `train`'s last line), and the gradient
# size; docs/distributed.md projects these to N machines. Needs an MPI build
# and mpirun (Debian: libopenmpi-dev openmpi-bin).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
steps=${2:-60}
S="$build/semsearch"
[ -x "$S" ] || { echo "bench/mpi.sh: no $S (build first)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench/mpi.sh: no mpirun (apt-get install openmpi-bin)" >&2; exit 1; }
MPIRUN="mpirun --oversubscribe -np 2"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export SEMSEARCH_DATA="$here/.."
T=$(mktemp -d "${TMPDIR:-/tmp}/semsearch-mpi-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
DATA="$here/../corpora/coco-captions.txt"
ARGS="--data $DATA --max-len 32 -b 64 --steps $steps --lr 1e-4 --save-every 0 --seed 7"

# the pairs/s of the last progress line, and the collectives line
run() { # NAME THREADS CMD...
    name=$1; threads=$2; shift 2
    t0=$(date +%s.%N)
    "$@" -o "$T/$name.gguf" $ARGS -t "$threads" > /dev/null 2> "$T/$name.err" ||
        { echo "bench/mpi.sh: $name failed:" >&2; tail -5 "$T/$name.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    pps=$(sed -n 's/.* \([0-9]*\) pairs\/s.*/\1/p' "$T/$name.err" | tail -n 1)
    coll=$(sed -n 's/.*, \([0-9.]*\) ms a step, of which the gradient allreduce \([0-9.]*\) ms and waiting for the slowest process \([0-9.]*\) ms.*/\1 | \2 | \3/p' "$T/$name.err")
    wall=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
    echo "| $name | $pps | ${coll:- | | } | $wall |"
}

params=$("$S" model init -o "$T/p.gguf" 2>&1 | sed -n 's/.*(\([0-9]*\) parameters.*/\1/p' | head -n 1)
echo "## semsearch train, 1 vs 2 processes ($(nproc) cores, $(date -u +%Y-%m-%d))"
echo
echo "Model: default shape, ${params:-?} parameters (gradient: $(( ${params:-0} * 4 / 1000000 )) MB of f32); global batch 64, $steps steps."
echo
echo "| run | pairs/s | collectives ms/step | of which gradient allreduce | of which waiting for the other process | wall s |"
echo "|---|---|---|---|---|---|"
run "1 process, 1 thread" 1 "$S" train
run "1 process, $(nproc) threads" "$(nproc)" "$S" train
run "2 processes x 1 thread" 1 $MPIRUN "$S" train
