#!/bin/sh
# eval_retrieval_ref.sh: the retrieval metrics, BM25 scores and the model,
# BM25 and hybrid runs of `semsearch eval` against an independent numpy
# implementation written from the definitions (tests/eval_retrieval_ref.py).
. "$top_srcdir/tests/setup.sh"
if [ -z "${PYTHON3:-}" ] || ! "$PYTHON3" -c 'import numpy' 2>/dev/null; then
    echo "1..0 # SKIP needs $PYTHON3 with numpy (apt-get install python3-numpy)"
    exit 0
fi
# not exec: setup.sh's EXIT trap removes the scratch directory
"$PYTHON3" "$top_srcdir/tests/eval_retrieval_ref.py" "$top_builddir/tests/unit/eval_retrieval" "$DATA" "$T" "$SEMSEARCH"
