#!/bin/sh
# test_jw_valgrind.sh - check_dump's "jw" case (lk_jw, the writer of the dump's
# big arrays) under valgrind: a use of memory jansson freed (a container whose
# insertion failed for lack of memory) happens inside jansson, which is not
# instrumented, so ASan does not see it.  Skipped (77) without valgrind, and
# for sanitizer builds, which valgrind cannot run.
set -u
BUILD=${BUILD:-build}
T=$BUILD/tests/check_dump
[ -x "$T" ] || { echo "FAIL: build $T first" >&2; exit 1; }
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not found"; exit 77; }
if nm "$T" 2>/dev/null | grep -q -e __asan_init -e __ubsan_handle; then
    echo "sanitizer build: valgrind cannot run it"
    exit 77
fi
CK_RUN_CASE=jw CK_FORK=no valgrind -q --error-exitcode=9 --leak-check=no "$T"
