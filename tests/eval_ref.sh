#!/bin/sh
# eval_ref.sh: the evaluation metrics, the TF-IDF baseline and `semsearch
# eval --json` against scipy and scikit-learn on random data (tests/eval_ref.py).
. "$top_srcdir/tests/setup.sh"
if [ -z "${PYTHON3:-}" ] || ! "$PYTHON3" -c 'import numpy, scipy, sklearn' 2>/dev/null; then
    echo "1..0 # SKIP needs $PYTHON3 with numpy, scipy and sklearn (apt-get install python3-scipy python3-sklearn)"
    exit 0
fi
# not exec: setup.sh's EXIT trap removes the scratch directory
"$PYTHON3" "$top_srcdir/tests/eval_ref.py" "$top_builddir/tests/unit/eval" "$SEMSEARCH" "$T"
