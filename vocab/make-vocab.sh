#!/bin/sh
# Rebuilds vocab/en-16k.model, the shipped tokenizer, from ../shared/data.
# Usage: vocab/make-vocab.sh [DATA_DIR] (default: ../shared/data beside the checkout)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$top/../shared/data}
# the binary: $SEMSEARCH, else an in-tree build, else the one on PATH
bin=${SEMSEARCH:-$top/semsearch}
[ -x "$bin" ] || bin=semsearch
{
    zcat "$data/raw/wiki-sentences-1M.txt.gz"
    zcat "$data/raw/eltec-novels.paragraphs.txt.gz"
    cat "$data/raw/wordnet-examples.txt"
    # every caption of every group
    tr '\t' '\n' < "$data/train/flickr30k.groups.tsv"
    tr '\t' '\n' < "$data/train/coco2017val.groups.tsv"
    # three of the fifteen Bible translations, so archaic English does not dominate
    cut -f1-3 "$data/train/bible.groups.tsv" | tr '\t' '\n'
    # the sentences of the scored and labeled training pairs
    for f in stsb-train.scored.tsv sick-train.scored.tsv msrp-train.labeled.tsv; do
        cut -f1-2 "$data/train/$f" | tr '\t' '\n'
    done
} | "$bin" tokenizer train -i - --vocab-size 16000 --model-type unigram --casefold \
        --character-coverage 0.9995 --input-sentence-size 2000000 --seed 42 \
        -o "$top/vocab/en-16k.model"
