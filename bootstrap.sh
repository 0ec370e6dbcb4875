#!/bin/sh
# bootstrap.sh: the quick start, from a clean clone on Debian 12 / Ubuntu.
#   ./bootstrap.sh          install what is missing, build, run a demo
#   ./bootstrap.sh check    the same, then the whole test suite (make check)
set -eu
cd "$(dirname "$0")"
mode=${1:-demo}
case "$mode" in demo|check|deps) ;; *) echo "usage: $0 [demo|check|deps]" >&2; exit 2 ;; esac

# Build dependencies; the test suite also needs PyTorch, NumPy, SciPy and
# scikit-learn (the independent implementations the tests compare against).
pkgs="build-essential autoconf automake libtool pkg-config libutf8proc-dev libsentencepiece-dev
      libopenblas-dev libopenblas-openmp-dev libdnnl-dev libsqlite3-dev sqlite3 zlib1g-dev libssl-dev libmicrohttpd-dev libjansson-dev curl"
[ "$mode" = demo ] || pkgs="$pkgs python3 python3-numpy python3-scipy python3-sklearn python3-torch"
# Open MPI: training under mpirun (optional for a build; tests/mpi.sh uses it)
[ "$mode" = demo ] || pkgs="$pkgs libopenmpi-dev openmpi-bin"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing$missing" >&2
    sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
fi
# Node and npm, for the official OpenAI client against `semsearch serve`
# (tests/serve.sh): only where the commands are missing (a Node from
# elsewhere ships its own npm, which Debian's npm package conflicts with),
# and best effort: without them that one test is skipped.
if [ "$mode" != demo ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
    sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    { [ -n "$missing" ] || $sudo apt-get update -qq; } &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >&2 ||
        echo "bootstrap: nodejs/npm not installed: the OpenAI client test will be skipped" >&2
fi
[ "$mode" = deps ] && exit 0

[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure
make -j"$(nproc)"

if [ "$mode" = check ]; then
    # the official `openai` package from the npm registry, into .npm-test/
    # (not part of the build; tests/serve.sh finds it there). Best effort:
    # without the registry that one test is skipped, with a message.
    if [ ! -d .npm-test/node_modules/openai ] && command -v npm >/dev/null 2>&1; then
        npm install --silent --no-audit --no-fund --prefix .npm-test openai@4 >/dev/null 2>&1 ||
            echo "bootstrap: npm install openai failed: the OpenAI client test will be skipped" >&2
    fi
    if ! make -j"$(nproc)" check; then
        # show what failed, so a CI log is enough to act on
        grep -h -E '^(not ok|ERROR|FAIL)|^# ' tests/*.log tests/unit/*.log 2>/dev/null | grep -v '^# ' | head -50 || true
        exit 1
    fi
    exit 0
fi

# The demo: the main job on the shipped defaults.
if [ -f models/en-base.gguf ]; then
    rm -f demo.db
    ./semsearch index -d demo.db corpora/coco-captions.txt
    ./semsearch query -d demo.db -k 5 "a dog catching a frisbee in the park"
else
    echo "A man is playing a guitar." | ./semsearch tokenize --pieces
    head -3 corpora/coco-captions.txt | ./semsearch tokenize
fi
