#!/bin/sh
# torch-parity.sh: the C encoder agrees with the PyTorch reference
# (tests/torch_ref.py) on the same GGUF weights: embeddings to 1e-5, the
# InfoNCE loss, and every parameter gradient to 1e-4 relative, for mean, CLS
# and max pooling, on padded batches of real sentences.
. "$top_srcdir/tests/setup.sh"
dump="$top_builddir/tests/unit/parity_dump"
if [ -z "${PYTHON3:-}" ] || ! "$PYTHON3" -c 'import torch, numpy' >/dev/null 2>&1; then
    skip "PyTorch parity" "no python3 with torch and numpy (PYTHON3=${PYTHON3:-})"
    done_testing; exit $?
fi
if [ ! -f "$VOCAB" ]; then skip "PyTorch parity" "no shipped vocabulary"; done_testing; exit $?; fi
dirs=
for pool in mean cls max meanmax; do
    mkdir "$T/$pool"
    run_ok "C side dumps a $pool-pooling model, batches, embeddings, loss, gradients" \
        "$dump" "$T/$pool" "$pool"
    dirs="$dirs $T/$pool"
done
# shellcheck disable=SC2086
"$PYTHON3" "$top_srcdir/tests/torch_ref.py" $dirs >"$T/py.out" 2>"$T/py.err"
status=$?
# re-number the Python side's TAP lines into this script's
while IFS= read -r line; do
    case $line in
        "ok "*) ok 0 "PyTorch: ${line#* - }" ;;
        "not ok "*) ok 1 "PyTorch: ${line#* - }" ;;
    esac
done <"$T/py.out"
ok $status "the PyTorch reference ran to the end"
[ $status -eq 0 ] || sed 's/^/# /' "$T/py.err" | tail -20
done_testing
