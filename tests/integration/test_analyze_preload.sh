#!/bin/sh
# test_analyze_preload.sh - victims run under $BUILD/libleak.so, then
# leak-analyze: exact file:line of every C and C++ leak site, demangled
# names, trimmed allocator and std:: frames, freed memory not reported,
# mismatched delete with both stacks, built-in suppressions on and off,
# user suppressions, and the tools/libleak wrapper's exit codes.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
VC=$BUILD/victims/an_leaks
VX=$BUILD/victims/an_leaks_cc
for f in "$LA" "$VC" "$VX" "$BUILD/victims/an_fork"; do [ -x "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }; done
[ -f "$SO" ] || { echo "SKIP: no $SO yet"; exit 77; }
SO=$(cd "$(dirname "$SO")" && pwd)/libleak.so
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-an-preload-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_rc() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "exit $got, want $want: $* ($(head -c 300 "$T/err"))"
}
has() { grep -qF -- "$1" "$2" || fail "'$1' not in $2: $(head -c 800 "$2")"; }
hasnt() { ! grep -qF -- "$1" "$2" || fail "'$1' unexpectedly in $2"; }
line_of() { grep -n "$2\$" "$1" | head -n 1 | cut -d: -f1; }
run() {  # run NAME VICTIM: dumps into $T/NAME
    mkdir -p "$T/$1"
    # LIBLEAK_SCAN=0: these checks are about symbolization and the "unfreed"
    # report of dumps without a reachability scan (test_reach_analyze.sh
    # covers the kinds)
    LIBLEAK_SCAN=0 LIBLEAK_DIR="$T/$1" LD_PRELOAD="$SO" "$2" > "$T/$1.stdout" || fail "$2 failed"
    ls "$T/$1"/libleak.*.json >/dev/null 2>&1 || fail "$2 wrote no dump"
}

# ### C
C=tests/integration/victims/an_leaks.c
run c "$VC"
expect_rc 0 "$LA" "$T/c"
has "Unfreed: 4011 byte(s) in 3 object(s) allocated from:" "$T/out"
has "in leak_malloc $C:$(line_of $C '/\* AN_MALLOC \*/')" "$T/out"
has "in leak_strdup $C:$(line_of $C '/\* AN_STRDUP \*/')" "$T/out"
has "in leak_calloc $C:$(line_of $C '/\* AN_CALLOC \*/')" "$T/out"
has "in leak_realloc $C:$(line_of $C '/\* AN_REALLOC \*/')" "$T/out"
has "Unfreed: 500 byte(s) in 1 object(s)" "$T/out"
hasnt "freed_loop" "$T/out"
hasnt "in strdup" "$T/out"        # the allocator frames are trimmed
hasnt "__strdup" "$T/out"
hasnt "in malloc" "$T/out"
hasnt "libleak.so" "$T/out"
has "builtin:stdio-buffers" "$T/out"
has "SUMMARY: libleak: 4597 byte(s) leaked in 6 allocation(s)." "$T/out"
# every leak's first frame is the user's function
"$LA" --format=json "$T/c" > "$T/c.json" || fail "json"
python3 - "$T/c.json" <<'PY' || fail "C json: top frames"
import json, sys
r = json.load(open(sys.argv[1]))
tops = sorted(l["frames"][0]["function"] for l in r["leaks"] if "suppressed_by" not in l)
assert tops == ["leak_calloc", "leak_malloc", "leak_realloc", "leak_strdup"], tops
# "unfreed" without a reachability scan, valgrind's kinds with it
assert all(l["kind"] in ("unfreed", "definite", "indirect", "possible", "reachable")
           for l in r["leaks"]), [l["kind"] for l in r["leaks"]]
PY
# built-in suppressions off: glibc's stdout buffer shows up (--show=all:
# the reachability scan finds it still reachable from stdout)
expect_rc 0 "$LA" --no-builtin-suppressions --show=all "$T/c"
hasnt "Suppressions used" "$T/out"
has "_IO_file_doallocate" "$T/out"
# a user suppression, with its statistics
printf 'leak:leak_malloc\n' > "$T/supp"
expect_rc 1 "$LA" --fail-on-leak --suppressions "$T/supp" "$T/c"
has "      1       4011 leak:leak_malloc" "$T/out"
has "SUMMARY: libleak: 586 byte(s) leaked in 3 allocation(s)." "$T/out"

# ### C++
X=tests/integration/victims/an_leaks_cc.cc
run cc "$VX"
expect_rc 0 "$LA" "$T/cc"
has "in app::Factory::make(int) $X:$(line_of $X '// AN_NEW')" "$T/out"
has "in leak_array $X:$(line_of $X '// AN_NEW_ARRAY')" "$T/out"
# (the vector's buffer is an indirect leak once reachability is known)
grep -A1 "Unfreed: 400 byte(s) in 1 object(s) allocated from:" "$T/out" | grep -qF "in fill_vector $X:$(line_of $X '// AN_VECTOR')" \
    || fail "vector leak: top frame is not fill_vector at the reserve() line"
grep -A1 "Unfreed: 101 byte(s)" "$T/out" | grep -qF "in leak_string $X:$(line_of $X '// AN_STRING')" \
    || fail "std::string buffer: top frame is not leak_string"
hasnt "operator new" "$T/out"
hasnt "std::" "$T/out"
has "allocated by new[], freed by delete" "$T/out"
has "in mismatch_free $X:$(line_of $X '// AN_MISMATCH_FREE')" "$T/out"
has "in mismatch_alloc $X:$(line_of $X '// AN_MISMATCH_ALLOC')" "$T/out"
has "builtin:c++-emergency-pool" "$T/out"
hasnt "libstdc++" "$T/out"
"$LA" --format=json "$T/cc" > "$T/cc.json" || fail "json"
python3 - "$T/cc.json" <<'PY' || fail "C++ json: families"
import json, sys
r = json.load(open(sys.argv[1]))
fam = {l["frames"][0]["function"]: l["family"] for l in r["leaks"] if "suppressed_by" not in l}
assert fam.get("leak_array") == "new[]" and fam.get("app::Factory::make(int)") == "new", fam
m = r["mismatches"][0]
assert (m["alloc_family"], m["free_family"]) == ("new[]", "new"), m
PY
expect_rc 0 "$LA" --no-builtin-suppressions --show=all "$T/cc"
has "libstdc++" "$T/out"

# ### a fork tree: per process and in total
F=tests/integration/victims/an_fork.c
run fork "$BUILD/victims/an_fork"
expect_rc 0 "$LA" "$T/fork"
[ "$(grep -c '^== process ' "$T/out")" -eq 2 ] || fail "fork: want two process sections"
has "in child_leak $F:$(line_of $F '/\* AN_CHILD \*/')" "$T/out"
has "in parent_leak $F:$(line_of $F '/\* AN_PARENT \*/')" "$T/out"
has "SUMMARY: libleak: 300 byte(s) leaked in 2 allocation(s) in 2 processes." "$T/out"
"$LA" --format=json "$T/fork" > "$T/fork.json" || fail "fork json"
python3 - "$T/fork.json" <<'PY' || fail "fork json: processes"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["summary"]["processes"] == 2 and r["summary"]["leaked_bytes"] == 300, r["summary"]
p = sorted(x["leaked_bytes"] for x in r["processes"])
assert p == [100, 200], p
PY

# ### the wrapper passes the gate's verdict through
W=tools/libleak
expect_rc 0 env BUILD="$BUILD" "$W" -- "$VC"
has "in leak_malloc $C:" "$T/err"     # the report on stderr,
has "an_leaks: done" "$T/out"           # the program's output its own
hasnt "in leak_malloc" "$T/out"
expect_rc 1 env BUILD="$BUILD" "$W" --fail-on-leak -- "$VC"
has "leak gate failed" "$T/err"
expect_rc 0 env BUILD="$BUILD" "$W" --max-leak-bytes 5000 -- "$VC"
expect_rc 1 env BUILD="$BUILD" "$W" --max-leak-bytes 4000 -- "$VC"
printf 'leak:^leak_\n' > "$T/supp_all"
expect_rc 0 env BUILD="$BUILD" "$W" --fail-on-leak --suppressions "$T/supp_all" -- "$VC"
expect_rc 2 env BUILD="$BUILD" "$W" -- "$T/no-such-program"
has "cannot run" "$T/err"
expect_rc 2 env BUILD="$BUILD" "$W" --top=x -- "$VC"
expect_rc 0 env BUILD="$BUILD" "$W" "$VC"   # the program without "--"
expect_rc 2 env LIBLEAK_SO="$T/nope.so" "$W" -- "$VC"
has "cannot find libleak.so" "$T/err"
# LEAK_ANALYZE and LIBLEAK_SO override the BUILD lookup
expect_rc 1 env BUILD=nonexistent LIBLEAK_SO="$SO" LEAK_ANALYZE="$LA" "$W" --fail-on-leak -- "$VC"

# ### a binary under a path that is not UTF-8: the dump writes its bytes
# >= 0x80 as \xNN with path_escaped, and leak-analyze opens the real file
NU="$T/bin-$(printf '\377\376')"
mkdir -p "$NU" && cp "$VC" "$NU/an_leaks"
run nonutf8 "$NU/an_leaks"
python3 - "$T/nonutf8" <<'PY' || fail "non-UTF-8 path: dump"
import glob, json, sys
d = json.load(open(glob.glob(sys.argv[1] + "/libleak.*.json")[0]))
m = [m for m in d["modules"] if m["path"].endswith("/an_leaks")]
assert m and m[0]["path"].endswith("bin-\\xff\\xfe/an_leaks"), m
assert m[0].get("path_escaped") is True, m
PY
expect_rc 0 "$LA" "$T/nonutf8"
has "in leak_malloc $C:$(line_of $C '/\* AN_MALLOC \*/')" "$T/out"
hasnt "cannot read the binary" "$T/err"

# ### captures that fell back to unw_backtrace: a warning when many, none
# when the fast walk ran (cost.unwinds_fallback)
VF=$BUILD/victims/pl_fastpath
mkdir -p "$T/slow" "$T/fast"
LIBLEAK_SCAN=0 LIBLEAK_FAST_UNWIND=0 LIBLEAK_DIR="$T/slow" LD_PRELOAD="$SO" "$VF" > /dev/null || fail "$VF failed"
expect_rc 0 "$LA" "$T/slow"
has "stack captures fell back to libunwind's unw_backtrace" "$T/err"
LIBLEAK_SCAN=0 LIBLEAK_DIR="$T/fast" LD_PRELOAD="$SO" "$VF" > /dev/null || fail "$VF failed"
expect_rc 0 "$LA" "$T/fast"
hasnt "fell back" "$T/err"
# a cost counter that is not a count is bad input
f=$(ls "$T/fast"/libleak.*.json)
sed 's/"unwinds_fallback": *[0-9]*/"unwinds_fallback": "many"/' "$f" > "$T/badcost.json"
grep -q '"many"' "$T/badcost.json" || fail "could not corrupt cost.unwinds_fallback"
expect_rc 2 "$LA" "$T/badcost.json"
has "unwinds_fallback" "$T/err"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
