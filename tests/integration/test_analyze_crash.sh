#!/bin/sh
# test_analyze_crash.sh - a program that leaks and then dies of SIGSEGV or
# abort() under $BUILD/libleak.so: same status as natively, and leak-analyze
# reports the leaks, says the process crashed (signal name, fault address)
# and prints the symbolized crash stack, in text and in JSON.
. tests/integration/lib.sh
lk_init an_crash
LA=$BUILD/leak-analyze
for f in "$LA" "$BUILD/victims/crash_segv" "$BUILD/victims/crash_abort"; do
    [ -x "$f" ] || lk_fail "build $f first"
done

# check VICTIM SIGNAME FN LEAKFN BYTES: run it, analyze, look for the report
check() {
    lk_run_both "$BUILD/victims/$1"
    d=$LK_TMP/$1
    mv "$LK_DUMPS" "$d"
    ls "$d"/libleak.*.crash.json >/dev/null 2>&1 || lk_fail "$1: no crash dump"
    "$LA" "$d" >"$LK_TMP/$1.txt" 2>"$LK_TMP/$1.err"
    rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || lk_fail "$1: leak-analyze exit $rc: $(cat "$LK_TMP/$1.err")"
    grep -q "^CRASH: process [0-9]* died of $2 " "$LK_TMP/$1.txt" ||
        lk_fail "$1: no CRASH line: $(head -c 600 "$LK_TMP/$1.txt")"
    sed -n '/^CRASH:/,/^$/p' "$LK_TMP/$1.txt" | grep -q " in $3 tests/integration/victims/$1.c:" ||
        lk_fail "$1: $3 not in the crash stack: $(head -c 800 "$LK_TMP/$1.txt")"
    grep -q "$5 byte(s) in" "$LK_TMP/$1.txt" && grep -q " in $4 " "$LK_TMP/$1.txt" ||
        lk_fail "$1: the leak of $5 bytes by $4 is not reported"
    "$LA" --format=json "$d" >"$LK_TMP/$1.json" 2>/dev/null
    "$LK_PY" - "$LK_TMP/$1.json" "$2" "$3" <<'PY' || lk_fail "$1: JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
procs = [p for p in r["processes"] if "crash" in p]
assert len(procs) == 1, procs
c = procs[0]["crash"]
assert c["signal_name"] == sys.argv[2], c
assert any(f["function"] == sys.argv[3] for f in c["frames"]), c["frames"]
PY
}

check crash_segv SIGSEGV crash_here leak_segv 3000
grep -q "at address 0x0;" "$LK_TMP/crash_segv.txt" || lk_fail "crash_segv: no fault address"
check crash_abort SIGABRT abort_here leak_abort 1554
echo "ok"
