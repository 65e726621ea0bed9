#!/bin/sh
# test_format_vgxml.sh - leak-analyze --format=valgrind-xml against real
# memcheck XML of the same binary (fm_kinds: one leak of each kind).  Both
# files are read by the same parser (vgxml_records.py), and must agree on:
# the protocol (4, memcheck), the order of top-level elements, the children
# of <error>, <xwhat> and <frame>, and per leak record (kind and the frames
# in fm_kinds.c: fn, file, line) the leaked bytes and blocks and the
# <text> up to "in loss record".  Accepted differences, not compared: <ip>
# (another process), <obj> of the allocator frame (memcheck's vgpreload; we
# trim allocator frames), <dir> (memcheck joins the compile directory; the
# dump has the path the compiler recorded), the preamble, args and times,
# and the loss record count (memcheck also lists the C library's blocks).
# Mismatched deallocations (pl_mismatch): the same MismatchedFree errors
# (<what>, the file:line of both stacks, the <errorcounts> count); function
# names are not compared, as memcheck adds C++ parameter lists.
# Then a dump whose strings carry XML metacharacters and control characters:
# the XML still parses and gives back the escaped text.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
VIC=$BUILD/victims/fm_kinds
MM=$BUILD/victims/pl_mismatch
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v "$PY" >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
for f in "$LA" "$SO" "$VIC" "$MM"; do
    [ -f "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }
done
case $SO in /*) ;; *) SO="$(pwd)/$SO" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-vgxml-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
PARSE=tests/integration/vgxml_records.py

mkdir -p "$T/dumps"
env LIBLEAK_DIR="$T/dumps" LD_PRELOAD="$SO" "$VIC" || fail "fm_kinds exited $? under libleak"
"$LA" --format=valgrind-xml --show=all -o "$T/ours.xml" "$T/dumps" 2>"$T/la.err" \
    || fail "leak-analyze --format=valgrind-xml exited $?: $(head -c 300 "$T/la.err")"
"$PY" "$PARSE" "$T/ours.xml" fm_kinds.c >"$T/ours.json" || fail "our XML does not parse"

# the records we expect, whatever memcheck says (also runs without valgrind)
"$PY" - "$T/ours.json" <<'PY' || fail "our records are not fm_kinds' leaks"
import json, sys
r = json.load(open(sys.argv[1]))
got = {k.split(" ")[0] + " " + k.split(" ")[1]: v[:2] for k, v in r["records"].items()}
want = {"Leak_DefinitelyLost lost": [3000, 3], "Leak_DefinitelyLost tree": [160, 1],
        "Leak_PossiblyLost interior": [200, 1], "Leak_StillReachable kept": [77, 1]}
assert all(got.get(k) == v for k, v in want.items()), got
ind = [v[:2] for k, v in r["records"].items() if k.startswith("Leak_IndirectlyLost child ")]
assert ind == [[48, 1], [48, 1]], r["records"]
assert r["protocolversion"] == "4" and r["protocoltool"] == "memcheck", r
PY

if command -v valgrind >/dev/null 2>&1; then
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --xml=yes \
        --xml-file="$T/memcheck.xml" "$VIC" >/dev/null 2>"$T/vg.err" \
        || fail "valgrind exited $?: $(head -c 300 "$T/vg.err")"
    "$PY" "$PARSE" "$T/memcheck.xml" fm_kinds.c >"$T/memcheck.json" \
        || fail "memcheck's XML does not parse"
    "$PY" - "$T/memcheck.json" "$T/ours.json" <<'PY' || fail "valgrind-xml differs from memcheck's"
import json, sys
vg, us = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
for k in ("root", "protocolversion", "protocoltool", "tool", "top", "error_tags",
          "xwhat_tags", "frame_tags"):
    if vg[k] != us[k]:
        bad.append("%s: memcheck %r, ours %r" % (k, vg[k], us[k]))
if not vg["records"]:
    bad.append("memcheck reported no leak of fm_kinds.c")
for key in sorted(set(vg["records"]) | set(us["records"])):
    a, b = vg["records"].get(key), us["records"].get(key)
    if a != b:
        bad.append("%s: memcheck %r, ours %r" % (key, a, b))
if bad:
    sys.exit("\n".join(bad))
PY
    mkdir -p "$T/mm"
    env LIBLEAK_DIR="$T/mm" LD_PRELOAD="$SO" "$MM" >/dev/null || fail "pl_mismatch exited $?"
    "$LA" --format=valgrind-xml -o "$T/mm.xml" "$T/mm" 2>"$T/la.err" \
        || fail "pl_mismatch: exit $?: $(head -c 300 "$T/la.err")"
    valgrind --tool=memcheck --xml=yes --xml-file="$T/mm.vg.xml" "$MM" >/dev/null 2>"$T/vg.err" \
        || fail "valgrind pl_mismatch exited $?: $(head -c 300 "$T/vg.err")"
    "$PY" "$PARSE" "$T/mm.xml" pl_mismatch.cc >"$T/mm.json" || fail "our XML does not parse"
    "$PY" "$PARSE" "$T/mm.vg.xml" pl_mismatch.cc >"$T/mm.vg.json" || fail "memcheck's does not parse"
    "$PY" - "$T/mm.vg.json" "$T/mm.json" <<'PY' || fail "MismatchedFree differs from memcheck's"
import json, sys
vg, us = (json.load(open(p)) for p in sys.argv[1:3])
assert len(vg["mismatches"]) == 4, vg["mismatches"]
assert vg["mismatches"] == us["mismatches"], (vg["mismatches"], us["mismatches"])
assert vg["top"] == us["top"], (vg["top"], us["top"])
PY
else
    echo "NOTE: valgrind not installed: SKIPPING the comparison with memcheck's XML" >&2
fi

# ### hostile strings: XML metacharacters and control characters in the
# executable's and a module's path stay text, escaped
"$PY" - "$T/dumps" "$T/hostile.json" <<'PY' || fail "cannot make the hostile dump"
import glob, json, sys
d = json.load(open(sorted(glob.glob(sys.argv[1] + "/libleak.*.json"))[-1]))
evil = "<x a='1'>&amp;\"</x>\x1b[2J\x01"
d["process"]["exe"] = "/bin/app" + evil
for m in d["modules"]:
    if m["path"].endswith("/fm_kinds"):
        m["path"] = "/nonexistent/fm" + evil
json.dump(d, open(sys.argv[2], "w"))
PY
"$LA" --format=valgrind-xml "$T/hostile.json" >"$T/hostile.xml" 2>"$T/hostile.err" \
    || fail "hostile dump: exit $?: $(head -c 300 "$T/hostile.err")"
"$PY" - "$T/hostile.xml" <<'PY' || fail "hostile dump: the XML is not valid or not escaped"
import sys, xml.etree.ElementTree as ET
raw = open(sys.argv[1], "rb").read()
assert b"\x1b" not in raw and b"\x01" not in raw, "raw control character"
root = ET.fromstring(raw)
evil = "<x a='1'>&amp;\"</x>\\x1b[2J\\x01"
assert root.find("args/argv/exe").text == "/bin/app" + evil, root.find("args/argv/exe").text
objs = [o.text for o in root.iter("obj")]
assert "/nonexistent/fm" + evil in objs, objs
PY

[ "$fails" -eq 0 ] || exit 1
echo ok
