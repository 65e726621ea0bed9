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

# the text report: one "retains" line per global, the top blocks with their
# allocation site
text() {  # text VICTIM: the report in $T/VICTIM.txt
    "$LA" --show=all "$T/$1"/libleak.*.json >"$T/$1.txt" 2>"$T/$1.err"
    [ $? -le 1 ] || fail "leak-analyze on $1: $(cat "$T/$1.err")"
}
for v in retained_tree retained_shared retained_cycle retained_diamond; do text "$v"; done
has "global \`g_tree\` (retained_tree.c:17) retains 352 bytes in 7 blocks" "$T/retained_tree.txt"
has "global \`g_leaf\` (retained_tree.c:18) retains 100 bytes in 1 block" "$T/retained_tree.txt"
has "352 bytes in 7 blocks retained by a 64-byte block allocated at alloc_root (retained_tree.c:" \
    "$T/retained_tree.txt"
has "global \`g_left\` (retained_shared.c:20) retains 40 bytes in 1 block" "$T/retained_shared.txt"
has "global \`g_right\` (retained_shared.c:20) retains 56 bytes in 1 block" "$T/retained_shared.txt"
has "1512 bytes in 2 blocks retained by a 512-byte block allocated at alloc_shared" \
    "$T/retained_shared.txt"
has "global \`g_ring\` (retained_cycle.c:" "$T/retained_cycle.txt"
has "retains 320 bytes in 4 blocks" "$T/retained_cycle.txt"
has "global \`g_top\` (retained_diamond.c:18) retains 4620 bytes in 4 blocks" \
    "$T/retained_diamond.txt"
has "4620 bytes in 4 blocks retained by a 24-byte block allocated at alloc_diamond" \
    "$T/retained_diamond.txt"
# JSON report: the held_by rows carry their root's retained size (the HTML
# report's "retained" column reads it), and retained_by / top_retained
"$LA" --format=json "$T/retained_tree"/libleak.*.json >"$T/tree.json" 2>/dev/null
env -u LD_PRELOAD /usr/bin/python3 - "$T/tree.json" <<'PY' || fail "JSON report checks"
import json, sys
r = json.load(open(sys.argv[1]))
rows = [h for h in r["held_by"] if h.get("symbol") == "g_tree"]
assert rows and all(h["retained_bytes"] == 352 and h["retained_blocks"] == 7 for h in rows), rows
rb = {e["symbol"]: (e["blocks"], e["bytes"]) for e in r["retained_by"]}
assert rb["g_tree"] == (7, 352) and rb["g_leaf"] == (1, 100), rb
assert r["top_retained"][0]["retained_bytes"] == 352, r["top_retained"]
assert r["top_retained"][0]["site"]["frames"][0]["function"] == "alloc_root"
PY

# the HTML report's held-by table: its "retained" cells show the root's size
"$LA" --format=html --show=all "$T/retained_tree"/libleak.*.json >"$T/tree.html" 2>/dev/null
if command -v chromium >/dev/null 2>&1; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/profile" \
        --virtual-time-budget=5000 --dump-dom "file://$T/tree.html" >"$T/tree.dom" 2>/dev/null
    has 'data-slot="retained">352 bytes<' "$T/tree.dom"
    has 'data-slot="retained">100 bytes<' "$T/tree.dom"
else
    echo "note: chromium not installed, the HTML table's cells not checked" >&2
    has '"retained_bytes":352' "$T/tree.html"
fi

# a hostile retained section: one line naming the file, exit 2
d=$(ls "$T/retained_tree"/libleak.*.json | head -n 1)
hostile() {  # hostile NAME PYTHON-EXPRESSION-ON-r
    env -u LD_PRELOAD /usr/bin/python3 - "$d" "$T/h-$1.json" "$2" <<'PY'
import json, sys
dump = json.load(open(sys.argv[1]))
r = dump["reachability"]
exec(sys.argv[3])
json.dump(dump, open(sys.argv[2], "w"))
PY
    "$LA" "$T/h-$1.json" >"$T/h.out" 2>"$T/h.err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "hostile $1: exit $rc, want 2"
    [ "$(wc -l <"$T/h.err")" -eq 1 ] || fail "hostile $1: not one line: $(cat "$T/h.err")"
    grep -qF "h-$1.json" "$T/h.err" || fail "hostile $1: file not named: $(cat "$T/h.err")"
    grep -qF "$3" "$T/h.err" || fail "hostile $1: '$3' not in: $(cat "$T/h.err")"
}
hostile negative 'r["retained_by"][0]["bytes"] = -5' "retained_by[0].bytes"
hostile huge 'r["retained_by"][0]["blocks"] = 2**63 - 1' "retained_by[0].blocks"
hostile type 'r["retained_shared"] = "lots"' "retained_shared"
hostile complete_type 'r["retained_complete"] = 1' "retained_complete"
hostile by_range 'r["top_retained"][0]["by"] = 99' "top_retained[0].by"
hostile by_type 'r["top_retained"][0]["by"] = "0"' "top_retained[0].by"
hostile top_kind 'r["top_retained"][0]["kind"] = "definite"' "top_retained[0].kind"
hostile missing 'del r["retained_by"]' "retained_by"
hostile too_many 'r["retained_by"] = r["retained_by"] * 1001' "retained_by"
hostile struct_type 'r["structures"].append({"head_stack": r["sites"][0]["stack"], "head_family": "malloc", "cycle": False, "count": 1, "blocks": 1, "bytes": 1, "members": [], "retained_blocks": 1, "retained_bytes": -1})' "retained_bytes"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "test_retained: ok"
