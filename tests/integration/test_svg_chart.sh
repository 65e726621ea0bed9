#!/bin/sh
# test_svg_chart.sh - the growth chart of the two growth demos, read as a new
# user would (tests/integration/svg_check.py): a title in plain words, round
# y ticks in human units, axis titles, the site line visible over the total,
# snapshot marks, a marker per failed allocation, the limit line, hover
# titles and a legend that never overlaps.  Then hostile names (control
# characters, "]]>", quotes, long C++-like names) still give well-formed XML.
# Needs python3 (exit 77 without it).
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
for f in "$LA" "$SO" "$BUILD/demo/grow_until_oom" "$BUILD/demo/oversized"; do
    [ -f "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }
done
case $SO in /*) ;; *) SO="$(pwd)/$SO" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-svg-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
run() {
    dir=$1; shift
    mkdir -p "$dir"
    env LIBLEAK_DIR="$dir" LD_PRELOAD="$SO" "$@" >"$dir.out" 2>"$dir.err"
}
check() {
    env -u LD_PRELOAD python3 tests/integration/svg_check.py "$@" || fail "svg_check $*"
}

# grow_until_oom: leak-driven exhaustion against its RLIMIT_AS, one failure
run "$T/d1" LIBLEAK_INTERVAL_MS=100 "$BUILD/demo/grow_until_oom"
"$LA" --format=svg "$T/d1" >"$T/d1.svg" 2>"$T/d1.la.err" || fail "--format=svg on grow_until_oom"
check "$T/d1.svg" "$T/d1" --title-has "Leak-driven memory exhaustion" --limit
grep -q "RLIMIT_AS" "$T/d1.svg" || fail "grow_until_oom: the limit line does not name RLIMIT_AS"

# oversized: one 64 TiB request that failed, a plateau the site line shares with the total
run "$T/d2" LIBLEAK_INTERVAL_MS=100 "$BUILD/demo/oversized" || fail "oversized exited $?"
"$LA" --format=svg "$T/d2" >"$T/d2.svg" 2>/dev/null || fail "--format=svg on oversized"
check "$T/d2.svg" "$T/d2" --title-has "not a leak"
grep -q "64 TiB" "$T/d2.svg" || fail "oversized: no 64 TiB failure marker"

# hostile names in the final dump's strings: the chart stays well-formed
mkdir -p "$T/h"
cp "$T/d2"/*.json "$T/h/"
env -u LD_PRELOAD python3 - "$T/h" <<'PY' || fail "could not write the hostile dump"
import glob, json, sys
fs = sorted(glob.glob(sys.argv[1] + "/*.json"), key=lambda f: int(f.split(".")[-3]))
evil = "a\x01b\x1b[2J]]>\"'<x>&amp;" + "std::map<std::basic_string<char>, std::vector<int> >" * 20
for f in fs:
    # one program image: every dump of it names the same executable
    d = json.load(open(f))
    d["process"]["exe"] = "/tmp/" + evil
    json.dump(d, open(f, "w"))
d = json.load(open(fs[-1]))
for f in d["failures"]:
    f["function"] = evil
d["dump"]["label"] = evil
json.dump(d, open(fs[-1], "w"))
PY
"$LA" --format=svg "$T/h" >"$T/h.svg" 2>/dev/null
[ $? -le 1 ] || fail "hostile names: leak-analyze failed"
env -u LD_PRELOAD python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$T/h.svg" \
    || fail "hostile names: the SVG is not well-formed"
if grep -q "]]>" "$T/h.svg" || LC_ALL=C grep -q "$(printf '\033')" "$T/h.svg"; then
    fail "hostile names reach the SVG unescaped"
fi
check "$T/h.svg" "$T/h"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
