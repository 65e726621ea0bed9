#!/bin/sh
# test_report_kinds.sh - every format names a leak's kind as the JSON report
# does: a dump without a reachability scan (LIBLEAK_SCAN=0) is "unfreed" in
# text, SARIF, JUnit, valgrind XML and LSan text too, never "Direct leak"
# alone (victim an_leaks); the SUMMARY line counts the kinds the gate counts,
# with and without --fail-on (victim fm_kinds: definite 3064, indirect 96,
# possible 200, reachable 77 bytes); JUnit's test names carry no pid.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
for f in "$LA" "$BUILD/victims/an_leaks" "$BUILD/victims/fm_kinds"; do
    [ -x "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-kinds-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qF -- "$1" "$2" || fail "'$1' not in $2: $(head -c 600 "$2")"; }
hasnt() { ! grep -qF -- "$1" "$2" || fail "'$1' unexpectedly in $2"; }
SO=$(pwd)/$BUILD/libleak.so
# run DIR VICTIM [VAR=VALUE...]: the victim under the preload, dumps into DIR
run() {
    d=$1; v=$2; shift 2
    mkdir -p "$d"
    env "$@" LIBLEAK_DIR="$d" LD_PRELOAD="$SO" "$BUILD/victims/$v" >/dev/null 2>"$T/verr" \
        || fail "victim $v: $(head -c 200 "$T/verr")"
}

# ### no scan: unfreed everywhere
run "$T/u" an_leaks LIBLEAK_SCAN=0
"$LA" -f json -o "$T/u.json" "$T/u" || fail "json"
python3 -c 'import json,sys; k={l["kind"] for l in json.load(open(sys.argv[1]))["leaks"]}; sys.exit(k != {"unfreed"})' \
    "$T/u.json" || fail "JSON kinds are not all unfreed"
"$LA" "$T/u" >"$T/u.txt" 2>&1
has "Unfreed: 4011 byte(s) in 3 object(s) allocated from:" "$T/u.txt"
hasnt "Direct leak" "$T/u.txt"
for f in sarif junit valgrind-xml; do
    "$LA" -f "$f" --fail-on-leak -o "$T/u.$f" "$T/u" 2>/dev/null
    [ $? = 1 ] || fail "$f: not exit 1"
    hasnt "Direct leak" "$T/u.$f"
    has "nfreed" "$T/u.$f"
done
# valgrind's XML keeps its kinds (there is none for unknown reachability),
# but its words say unfreed
hasnt "are definitely lost" "$T/u.valgrind-xml"
has "are unfreed" "$T/u.valgrind-xml"
"$LA" -f lsan -o "$T/u.lsan" "$T/u" || fail "lsan"
# LSan's grammar has only Direct and Indirect records: a warning says which
grep -q '^==[0-9]*==WARNING: libleak: .*no reachability scan.*unfreed' "$T/u.lsan" \
    || fail "lsan: no warning that the records are unfreed: $(head -n 4 "$T/u.lsan")"
"$LA" -f html -o "$T/u.html" "$T/u" || fail "html"
hasnt "Direct leak" "$T/u.html"

# ### SUMMARY counts what the gate counts
run "$T/k" fm_kinds
"$LA" --fail-on-leak "$T/k" >"$T/k.txt" 2>"$T/k.err"
has "SUMMARY: libleak: 3160 byte(s) leaked in" "$T/k.txt"
has "Leaked: 3.1 KiB (3,160 bytes)" "$T/k.txt"
has "leak gate failed: 3160 byte(s)" "$T/k.err"
"$LA" --fail-on=definite --fail-on-leak "$T/k" >"$T/k.txt" 2>"$T/k.err"
has "SUMMARY: libleak: 3064 byte(s) leaked in 4 allocation(s)." "$T/k.txt"
has "leak gate failed: 3064 byte(s)" "$T/k.err"
"$LA" --fail-on=all "$T/k" >"$T/k.txt" 2>"$T/k.err"
has "SUMMARY: libleak: 3437 byte(s) leaked in" "$T/k.txt"
# LSan's own SUMMARY stays LSan's: direct and indirect
"$LA" -f lsan --fail-on=definite "$T/k" >"$T/k.lsan" 2>&1
has "SUMMARY: LeakSanitizer: 3160 byte(s) leaked" "$T/k.lsan"

# ### JUnit: a test name stable across runs (no pid)
"$LA" -f junit --fail-on-leak "$T/k" >"$T/k1.xml" 2>/dev/null
run "$T/k2" fm_kinds
"$LA" -f junit --fail-on-leak "$T/k2" >"$T/k2.xml" 2>/dev/null
n1=$(grep -o '<testcase [^>]*>' "$T/k1.xml" | sed 's/ time="[^"]*"//')
n2=$(grep -o '<testcase [^>]*>' "$T/k2.xml" | sed 's/ time="[^"]*"//')
[ -n "$n1" ] && [ "$n1" = "$n2" ] || fail "junit test names differ between runs: $n1 / $n2"
echo "$n1" | grep -q 'pid' && fail "junit test name holds the pid: $n1"

# ### a calloc whose count * size overflowed: the dump has no product (its
# request_bytes is saturated, docs/FORMAT.md), so no byte figure is shown
[ -x "$BUILD/victims/pl_fail" ] || fail "build $BUILD/victims/pl_fail first"
run "$T/f" pl_fail LIBLEAK_SCAN=0
"$LA" "$T/f" >"$T/f.txt" 2>&1
has "mul_overflow: calloc(count * size beyond 2^64 bytes)" "$T/f.txt"
has "mul_overflow: reallocarray(count * size beyond 2^64 bytes)" "$T/f.txt"
hasnt "9223372036854775807" "$T/f.txt"
# ... nor on the HTML page (its failure table, read from Chromium's DOM)
if command -v chromium >/dev/null 2>&1; then
    "$LA" --format=html -o "$T/f.html" "$T/f" || fail "html"
    timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/profile" \
        --virtual-time-budget=5000 --dump-dom "file://$T/f.html" >"$T/f.dom" 2>/dev/null
    [ -s "$T/f.dom" ] || fail "chromium dumped no DOM"
    has "count × size beyond 2^64 bytes" "$T/f.dom"
    hasnt "8.0 EiB" "$T/f.dom"
fi

[ "$fails" = 0 ] || exit 1
echo "test_report_kinds: ok"
