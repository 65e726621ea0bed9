#!/bin/sh
# test_retained.sh - retained sizes (the dominator tree of the heap graph) end
# to end: the retained_* victims run under $BUILD/libleak.so, and the exit
# dump's retained_by[] / top_retained[] / retained_shared carry the figures
# each victim states in its header comment (per global, found by its symbol's
# offset); then leak-analyze prints "retains" lines for them, and a hostile
# retained section is refused with exit 2 and one line.
# Needs python3 and nm (exit 77 without them).
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
V=$BUILD/victims
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
command -v nm >/dev/null 2>&1 || { echo "nm not found"; exit 77; }
for f in "$LA" "$SO" "$V/retained_tree" "$V/retained_shared" "$V/retained_cycle" \
         "$V/retained_diamond"; do
    [ -f "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }
done
case $SO in /*) ;; *) SO="$(pwd)/$SO" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-retained-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qF -- "$1" "$2" || fail "'$1' not in $2: $(head -c 2000 "$2")"; }
run() {  # run VICTIM: exit dump into $T/VICTIM
    mkdir -p "$T/$1"
    env LIBLEAK_DIR="$T/$1" LD_PRELOAD="$SO" "$V/$1" >"$T/$1.stdout" 2>"$T/$1.stderr" \
        || fail "$1 exited $?: $(head -c 300 "$T/$1.stderr")"
    ls "$T/$1"/libleak.*.json >/dev/null 2>&1 || fail "$1 wrote no dump"
}
# dumpcheck VICTIM 'sym:blocks:bytes ...' SHARED_BLOCKS SHARED_BYTES 'rblocks:rbytes ...':
# each global retains exactly that; the shared figures; the top_retained
# entries (retained_blocks:retained_bytes, in order)
dumpcheck() {
    nm "$V/$1" >"$T/$1.nm"
    env -u LD_PRELOAD /usr/bin/python3 - "$T/$1" "$T/$1.nm" "$2" "$3" "$4" "$5" \
        <<'PY' || fail "dump checks on $1: $(cat "$T/py.err")"
import glob, json, sys
d, nmf, want, sb, sy, tops = sys.argv[1:]
err = open(sys.argv[1] + "/../py.err", "w")
try:
    dump = json.load(open(glob.glob(d + "/libleak.*.json")[0]))
    r = dump["reachability"]
    syms = {}
    for line in open(nmf):
        p = line.split()
        if len(p) == 3: syms[p[2]] = int(p[0], 16)
    assert r.get("retained_complete") is True, "retained_complete: %r" % r.get("retained_complete")
    assert isinstance(r["retained_ns"], int) and r["retained_ns"] >= 0
    by = r["retained_by"]
    for w in want.split():
        s, blocks, nbytes = w.split(":")
        rows = [e for e in by if e["root"] == "global" and int(e["offset"], 16) == syms[s]]
        assert len(rows) == 1, "%s: %d retained_by rows in %r" % (s, len(rows), by)
        got = (rows[0]["blocks"], rows[0]["bytes"])
        assert got == (int(blocks), int(nbytes)), "%s retains %r, want %s/%s" % (s, got, blocks, nbytes)
    sh = r["retained_shared"]
    assert (sh["blocks"], sh["bytes"]) == (int(sb), int(sy)), "shared %r" % sh
    lost = r["lost_shared"]
    assert (lost["blocks"], lost["bytes"]) == (0, 0), "lost_shared %r" % lost
    k = r["kinds"]
    live = (k["reachable"]["bytes"] + k["possible"]["bytes"])
    assert sum(e["bytes"] for e in by) + r["retained_by_omitted"]["bytes"] + sh["bytes"] == live, \
        "retained_by + shared != live"
    top = [(e["retained_blocks"], e["retained_bytes"]) for e in r["top_retained"]]
    for t in tops.split():
        b, y = t.split(":")
        assert (int(b), int(y)) in top, "top_retained lacks %s in %r" % (t, top)
    for e in r["top_retained"]:
        if e["by"] is not None:
            assert e["retained_bytes"] <= by[e["by"]]["bytes"]
except Exception as e:
    err.write(repr(e)); sys.exit(1)
PY
}
for v in retained_tree retained_shared retained_cycle retained_diamond; do run "$v"; done
dumpcheck retained_tree "g_tree:7:352 g_leaf:1:100" 0 0 "7:352 1:100"
dumpcheck retained_shared "g_left:1:40 g_right:1:56" 2 1512 "2:1512 1:56 1:40"
dumpcheck retained_cycle "g_ring:4:320" 0 0 "4:320"
dumpcheck retained_diamond "g_top:4:4620" 0 0 "4:4620"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "test_retained: ok"
