#!/bin/sh
# demo.sh - what `make demo` runs: build/demo/leaky under tools/libleak, with
# the CI gate on, and its report.  Usage: sh tools/demo.sh [BUILD_DIR]
set -u
build=${1:-${BUILD:-build}}
top=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build="$top/$build" ;; esac

echo "\$ tools/libleak --fail-on-leak --html $build/demo/report.html -- $build/demo/leaky"
BUILD=$build "$top/tools/libleak" --fail-on-leak --html "$build/demo/report.html" -- "$build/demo/leaky"
rc=$?
echo "(exit status $rc: 0 no leaks, 1 the leak gate tripped, 2 usage or input error; a failing program's own status wins)"
echo "(open $build/demo/report.html in a browser for the same report as a page)"
[ "$rc" -le 1 ]
