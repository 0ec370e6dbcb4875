#!/bin/sh
# Generates configure and Makefile.in (never committed).
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --install --force
# automake does not always install the TAP driver by itself.
if [ ! -f build-aux/tap-driver.sh ]; then
    cp "$(automake --print-libdir)/tap-driver.sh" build-aux/
fi
