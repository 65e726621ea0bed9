#!/bin/sh
# deps.sh - install the Debian packages libleak builds and tests with, when missing.
# Called by make before anything is compiled.  Runs apt-get only if a package is
# absent, so a machine that has everything pays one dpkg-query and nothing more.
# Usage: tools/deps.sh [build|test|bench]   (each set includes the previous one)
#        tools/deps.sh fuzz|soak            (build, plus test for soak, plus their own)
set -eu

build_pkgs="gcc g++ make pkg-config libunwind-dev uthash-dev libjansson-dev libdw-dev libelf-dev check"
# Real programs the end-to-end tests run under the preload, plus valgrind for
# the reachability cross-check and clang for the fuzz target; nodejs for JIT
# code; strace counts libunwind's memory probes and, in the soak, the
# processes a program starts natively (one dump per process).
test_pkgs="python3 perl git sqlite3 valgrind binutils nodejs strace"
# LeakSanitizer's runtime: test_format_lsan compares --format=lsan with its report.
test_pkgs="$test_pkgs liblsan0"
# SARIF output is checked against the 2.1.0 JSON schema
test_pkgs="$test_pkgs python3-jsonschema"
# The HTML report is opened in a real browser (tests/integration/test_html_*.sh)
test_pkgs="$test_pkgs chromium"
# The soak (tests/soak): real servers, a JavaScript runtime and a build.
soak_pkgs="redis-server redis-tools nodejs gcc make"
bench_pkgs="heaptrack liblsan0 valgrind sqlite3 python3 time clang zstd"
# redis-server's throughput natively and under libleak, beside the soak's case.
bench_pkgs="$bench_pkgs redis-server redis-tools"

want=$build_pkgs
case "${1:-build}" in
    build) ;;
    test)  want="$want $test_pkgs" ;;
    bench) want="$want $test_pkgs $bench_pkgs" ;;
    fuzz)  want="$want clang" ;;
    soak)  want="$want $test_pkgs $soak_pkgs" ;;
    *) echo "deps.sh: unknown set '$1' (expected build, test, bench, fuzz or soak)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps.sh: missing packages:$missing; run as root or install them with apt-get" >&2
        exit 1
    fi
else
    SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; update once, then install.
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
