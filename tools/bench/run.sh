#!/bin/sh
# run.sh - entry point of `make bench`: runs bench.py, which alternates the
# workloads natively and under libleak, heaptrack, LSan and memcheck, prints a
# markdown table and writes it to tools/bench/RESULTS.md.  Settings are
# environment variables (BUILD, BENCH_RUNS, BENCH_QUICK, BENCH_WORKLOADS,
# BENCH_TOOLS, BENCH_KEEP): see tools/bench/README.md.
set -eu
BUILD=${BUILD:-build}
export BUILD
# Debian's python3, not a shim that might itself run under LD_PRELOAD games.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/bench.py" "$@"
