#!/bin/sh
# test_verdict_real.sh - verdicts and symbols that real process trees used to
# get wrong, each from a victim under the preload:
#   gr_forkfree  a parent grows 2 s, forks a child that exits at once, then
#                frees everything: the child (its timeline before the fork is
#                the parent's) gets no growth of its own, and neither process
#                is a leak in progress or gets a projection
#   pl_exec      one pid, two program images: each section lists only the
#                leak of its own image, in every format; run through a
#                symlink, each is named as invoked (redis-server too, when
#                installed)
#   an_dlrel     dlopen("./libdlleak.so"): named when the library is in the
#                dump's directory or the current directory; else one warning
# Needs python3 for the JSON checks (exit 77 without it).
. tests/integration/lib.sh
lk_init verdict_real
LA=$BUILD/leak-analyze
case $LA in /*) ;; *) LA="$LK_ROOT/$LA" ;; esac
V=$(cd "$BUILD/victims" && pwd)
for f in "$LA" "$V/gr_forkfree" "$V/pl_exec" "$V/an_dlrel" "$V/libdlleak.so"; do
    [ -f "$f" ] || lk_fail "build $f first"
done
command -v "$LK_PY" >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
T=$LK_TMP
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# ### a fork in the middle of growth that is freed at the end
mkdir "$T/f"
LIBLEAK_DIR="$T/f" LD_PRELOAD="$LK_SO" "$V/gr_forkfree" >"$T/f.out" 2>"$T/f.err" \
    || fail "gr_forkfree exited $?: $(cat "$T/f.err")"
"$LA" "$T/f" >"$T/f.txt" 2>"$T/f.la.err" || fail "leak-analyze text on gr_forkfree"
"$LA" --format=json "$T/f" >"$T/f.json" 2>>"$T/f.la.err" || fail "leak-analyze json on gr_forkfree"
! grep -q "^VERDICT ([^)]*): leak in progress" "$T/f.txt" || fail "gr_forkfree: a leak in progress: $(grep VERDICT "$T/f.txt")"
! grep -q "projection" "$T/f.txt" || fail "gr_forkfree: a projection: $(grep projection "$T/f.txt")"
# the dumps say which image they are of and when the child was forked
"$LK_PY" - "$T/f" <<'PY' || fail "gr_forkfree: dump.image_id / fork_uptime_ns"
import glob, json, sys
ds = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/libleak.*.json")]
kids = [d for d in ds if "inherited_from_pid" in d["totals"]]
parents = [d for d in ds if "inherited_from_pid" not in d["totals"]]
assert kids and parents, [d["process"]["pid"] for d in ds]
assert all(isinstance(d["dump"]["image_id"], int) for d in ds), [d["dump"] for d in ds]
assert all("fork_uptime_ns" not in d["dump"] for d in parents), [d["dump"] for d in parents]
for k in kids:
    f = k["dump"]["fork_uptime_ns"]
    # after the parent's samples it copied, before the child's own
    assert 0 < f <= k["dump"]["uptime_ns"], k["dump"]
    assert k["dump"]["image_id"] == parents[0]["dump"]["image_id"], k["dump"]
PY
"$LK_PY" - "$T/f.json" <<'PY' || fail "gr_forkfree json: $(cat "$T/f.py.err" 2>/dev/null)"
import json, sys
r = json.load(open(sys.argv[1]))
ps = r["verdict"]["processes"]
assert len(ps) == 2, ps
child = [p for p in ps if p["forked"]]
parent = [p for p in ps if not p["forked"]]
assert len(child) == 1 and len(parent) == 1, ps
c, p = child[0], parent[0]
# the child lived a moment after its fork: no curve of its own to judge
assert len(c["total_series"]["live_bytes"]) <= 2, c["total_series"]
assert c["kind"] == "none" and c["seconds_to_limit"] is None, c
assert p["kind"] == "none" and p["seconds_to_limit"] is None, p
assert p["final_live_bytes"] == 0, p
# a parent whose growth was steady says it was freed
assert not p["total_steady"] or "then was freed by the end" in p["text"], p["text"]
PY

# ### two program images of one pid
mkdir "$T/e"
LIBLEAK_DIR="$T/e" LD_PRELOAD="$LK_SO" "$V/pl_exec" >"$T/e.out" 2>"$T/e.err" \
    || fail "pl_exec exited $?: $(cat "$T/e.err")"
"$LA" --show=all "$T/e" >"$T/e.txt" 2>"$T/e.la.err" || fail "leak-analyze on pl_exec: $(cat "$T/e.la.err")"
n=$(grep -c "^== process .*pl_exec" "$T/e.txt")
[ "$n" -eq 2 ] || fail "pl_exec: $n process sections, want 2: $(grep '^==' "$T/e.txt")"
# section 1 is the image before the exec, section 2 the one after it
awk '/^== process /{s++} s==1' "$T/e.txt" >"$T/e.1"
awk '/^== process /{s++} s==2' "$T/e.txt" >"$T/e.2"
grep -q " in before_exec " "$T/e.1" || fail "image 1 lacks its leak: $(cat "$T/e.1")"
! grep -q "after_exec" "$T/e.1" || fail "image 1 lists image 2's leak: $(cat "$T/e.1")"
grep -q " in after_exec " "$T/e.2" || fail "image 2 lacks its leak: $(cat "$T/e.2")"
! grep -q "before_exec" "$T/e.2" || fail "image 2 lists image 1's leak: $(cat "$T/e.2")"

# ### a program run through a symlink is named as it was invoked (argv[0]'s
# basename, as ps shows it), and every format keeps its two images apart
mkdir "$T/n" "$T/nbin"
ln -s "$V/pl_exec" "$T/nbin/renamed"
LIBLEAK_DIR="$T/n" LD_PRELOAD="$LK_SO" "$T/nbin/renamed" >"$T/n.out" 2>"$T/n.err" \
    || fail "renamed pl_exec exited $?: $(cat "$T/n.err")"
"$LA" --show=all "$T/n" >"$T/n.txt" 2>"$T/n.la.err" || fail "leak-analyze on renamed: $(cat "$T/n.la.err")"
n=$(grep -c "^== process [0-9]* (renamed, exe .*/pl_exec)" "$T/n.txt")
[ "$n" -eq 2 ] || fail "renamed: $n sections named 'renamed', want 2: $(grep '^==' "$T/n.txt")"
for f in json lsan junit sarif html; do
    "$LA" --show=all --format=$f -o "$T/n.$f" "$T/n" 2>>"$T/n.la.err" || fail "leak-analyze --format=$f on renamed"
done
"$LA" --fail-on-leak --format=junit -o "$T/n.gate.junit" "$T/n" 2>>"$T/n.la.err"
"$LK_PY" - "$T/n" <<'PY' || fail "renamed: the formats"
import json, re, sys
import xml.etree.ElementTree as ET
t = sys.argv[1]
r = json.load(open(t + ".json"))
ps = r["processes"]
assert [p["name"] for p in ps] == ["renamed", "renamed"], ps
assert all(p["exe"].endswith("/pl_exec") for p in ps), ps
assert [p["image"] for p in ps] == [0, 1], ps
import glob
ids = {}
for f in glob.glob(t + "/libleak.*.json"):
    d = json.load(open(f))
    ids.setdefault(d["dump"]["label"] == "before", set()).add(d["dump"]["image_id"])
assert len(ids[True]) == 1 and len(ids[False]) == 1 and ids[True] != ids[False], ids
# each leak names its image: before_exec's in image 0, after_exec's in 1
def img(fn):
    return {l["image"] for l in r["leaks"]
            if any(fr.get("function") == fn for fr in l["frames"])}
assert img("before_exec") == {0} and img("after_exec") == {1}, r["leaks"]
# LSan: image 0's unfreed block once, under its own banner; image 1's block
# is reachable (a global), which LSan does not report
lsan = open(t + ".lsan").read()
assert lsan.count("ERROR: LeakSanitizer") == 1, lsan
assert lsan.count("in before_exec") == 1 and "after_exec" not in lsan, lsan
assert lsan.count("SUMMARY: LeakSanitizer: 1337 byte(s)") == 1, lsan
# JUnit: one case per image, named by the program as invoked
cases = ET.parse(t + ".junit").getroot().iter("testcase")
names = sorted(c.get("name") for c in cases)
assert names == ["leaks in renamed #1", "leaks in renamed #2"], names
outs = [c.find("system-out").text for c in ET.parse(t + ".junit").getroot().iter("testcase")]
assert len(set(outs)) == 2, outs
# the gate: image 0 kept its block unfreed, image 1 leaked nothing
fails = [c.find("failure") is not None
         for c in ET.parse(t + ".gate.junit").getroot().iter("testcase")]
assert fails == [True, False], fails
# SARIF: one result per leak, naming the program as invoked
res = json.load(open(t + ".sarif"))["runs"][0]["results"]
msgs = [x["message"]["text"] for x in res if "exec" in x["message"]["text"]]
assert len([m for m in msgs if "before_exec" in m]) == 1, msgs
assert len([m for m in msgs if "after_exec" in m]) == 1, msgs
assert all("in renamed (pid" in m for m in msgs), msgs
assert {x["properties"]["image"] for x in res if "exec" in x["message"]["text"]} == {0, 1}, res
# HTML: the embedded data keeps the images apart too
h = open(t + ".html").read()
m = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', h, re.S)
d = json.loads(m.group(1))
assert [p["name"] for p in d["processes"]] == ["renamed", "renamed"], d["processes"]
assert sorted(p["image"] for p in d["processes"]) == [0, 1], d["processes"]
def fns(st):
    return {d["strings"][d["frames"][f][0]] for f in d["stacks"][st]}
hl = {(l[7], fn) for l in d["leaks"] for fn in fns(l[6]) if fn.endswith("_exec")}
assert hl == {(0, "before_exec"), (1, "after_exec")}, hl
hs = {(x[7], fn) for x in d["sites"] for fn in fns(x[6]) if fn.endswith("_exec")}
assert hs == {(0, "before_exec"), (1, "after_exec")}, hs
PY
# redis-server is a symlink to redis-check-rdb on Debian: named as invoked
if command -v redis-server >/dev/null 2>&1; then
    mkdir "$T/r"
    LIBLEAK_DIR="$T/r" LD_PRELOAD="$LK_SO" redis-server --version >"$T/r.out" 2>"$T/r.err" \
        || fail "redis-server --version exited $?: $(cat "$T/r.err")"
    "$LA" --format=json -o "$T/r.json" "$T/r" 2>"$T/r.la.err" || fail "leak-analyze on redis-server"
    "$LK_PY" -c 'import json,sys; p=json.load(open(sys.argv[1]))["processes"]; assert [x["name"] for x in p] == ["redis-server"], p' \
        "$T/r.json" || fail "redis-server not named redis-server"
else
    echo "redis-server not installed: its part skipped"
fi

# ### a library dlopen'ed by a relative path
line=$(grep -n 'dlleak: the leak' "$LK_ROOT/tests/integration/victims/lib/dlleak.c" | cut -d: -f1)
mkdir -p "$T/w/d" "$T/x"
cp "$V/libdlleak.so" "$T/w/"
# dumps beside the library (LIBLEAK_DIR is the working directory)
(cd "$T/w" && LIBLEAK_DIR=. LD_PRELOAD="$LK_SO" "$V/an_dlrel" >"$T/w.out" 2>"$T/w.err") \
    || fail "an_dlrel exited $?: $(cat "$T/w.err")"
"$LA" "$T/w" >"$T/w1.txt" 2>"$T/w1.err" || fail "leak-analyze on an_dlrel's dump"
grep -q "in dlleak_leak .*dlleak.c:$line\$" "$T/w1.txt" \
    || fail "dump dir: dlleak_leak not named: $(grep -A3 4242 "$T/w1.txt")"
! grep -q "libdlleak" "$T/w1.err" || fail "dump dir: a warning: $(cat "$T/w1.err")"
# dumps elsewhere, analyzed from the process's working directory
(cd "$T/w" && LIBLEAK_DIR="$T/w/d" LD_PRELOAD="$LK_SO" "$V/an_dlrel" >"$T/w.out" 2>"$T/w.err") \
    || fail "an_dlrel exited $?: $(cat "$T/w.err")"
(cd "$T/w" && "$LA" "$T/w/d" >"$T/w2.txt" 2>"$T/w2.err") || fail "leak-analyze from the cwd"
grep -q "in dlleak_leak .*dlleak.c:$line\$" "$T/w2.txt" \
    || fail "cwd: dlleak_leak not named: $(grep -A3 4242 "$T/w2.txt")"
# nowhere to be found: module+offset and exactly one warning naming it
cp "$T/w/d/"libleak.*.json "$T/x/"
"$LA" "$T/x" >"$T/w3.txt" 2>"$T/w3.err"
n=$(grep -c "warning: ./libdlleak.so: a relative path" "$T/w3.err")
[ "$n" -eq 1 ] || fail "missing library: $n warnings, want 1: $(cat "$T/w3.err")"
grep -q "(./libdlleak.so+0x" "$T/w3.txt" || fail "missing library: no module+offset frame"

[ "$fails" -eq 0 ] || exit 1
echo "ok: fork and freed growth, exec images, relative dlopen"
