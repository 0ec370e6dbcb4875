#!/bin/sh
# train-default.sh: the exact recipe of models/en-base.gguf, the shipped model.
# Usage: models/train-default.sh [DATA_DIR] [WORK_DIR]
#   DATA_DIR  the shared data (default: ../shared/data beside the checkout)
#   WORK_DIR  where runs, logs and checkpoints go (default: ./runs)
# Model selection uses eval/stsb-dev.scored.tsv only; nothing from eval/ is trained on.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
D=${1:-$top/../shared/data}
W=${2:-runs}
bin=${SEMSEARCH:-$top/semsearch}
[ -x "$bin" ] || bin=semsearch
mkdir -p "$W"

data="-d $D/train/flickr30k.groups.tsv -d $D/train/coco2017val.groups.tsv -d $D/train/bible.groups.tsv
      -d $D/train/wordnet.groups.tsv:0.2
      -d $D/train/stsb-train.scored.tsv -d $D/train/sick-train.scored.tsv --min-score 4
      -d $D/train/msrp-train.labeled.tsv"
common="--max-len 64 -b 128 --eval $D/eval/stsb-dev.scored.tsv --eval-every 250"

# Stage 1: a new model (d 256, 4 layers, 4 heads, FFN 1024, mean pooling,
# the shipped vocab/en-16k.model), one epoch.
"$bin" train -o "$W/stage1.gguf" -v "$top/vocab/en-16k.model" $data $common \
    -e 1 --lr 5e-4 --seed 42 --metrics "$W/stage1.csv" --plot "$W/stage1.svg"

# Stage 2: two more epochs from the end of stage 1, another data order.
"$bin" train -o "$W/stage2.gguf" --init "$W/stage1.gguf" $data $common \
    -e 2 --lr 3e-4 --seed 7 --metrics "$W/stage2.csv" --plot "$W/stage2.svg"

# Stage 3: one epoch from stage 2's best at a low learning rate, on the
# sentence-paraphrase data only (no WordNet word/gloss pairs, no MRPC).
"$bin" train -o "$W/stage3.gguf" --init "$W/stage2.best.gguf" --max-len 64 -b 128 \
    -d $D/train/flickr30k.groups.tsv -d $D/train/coco2017val.groups.tsv -d $D/train/bible.groups.tsv \
    -d $D/train/stsb-train.scored.tsv -d $D/train/sick-train.scored.tsv --min-score 4 \
    -e 1 --lr 1e-4 --warmup 2% --seed 13 --eval $D/eval/stsb-dev.scored.tsv --eval-every 100 \
    --metrics "$W/stage3.csv" --plot "$W/stage3.svg"

# Stage 3's best in f16 (the model shipped until stage 4 existed; stage 4
# starts from this f16 file, which is what reproduces its numbers exactly).
"$bin" model convert --f16 -m "$W/stage3.best.gguf" -o "$W/stage3.f16.gguf"

# Stage 4: supervised STS fine-tuning with CoSENT on the graded STS-B and
# SICK training pairs (each file ranked on its own scale), random batches.
"$bin" train -o "$W/stage4.gguf" --init "$W/stage3.f16.gguf" --loss cosent \
    -d $D/train/stsb-train.scored.tsv -d $D/train/sick-train.scored.tsv \
    -b 256 -e 6 --lr 3e-4 --warmup 10% --seed 1 -t 2 \
    --eval $D/eval/stsb-dev.scored.tsv --eval-every 12 --save-every 0 \
    --metrics "$W/stage4.csv" --plot "$W/stage4.svg"

# Ship the checkpoint with the best STS-B dev score, in f16.
"$bin" model convert --f16 -m "$W/stage4.best.gguf" -o "$top/models/en-base.gguf"
