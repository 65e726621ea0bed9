#!/bin/sh
# test_format_junit.sh - leak-analyze --format=junit on a two-process victim
# run under the preload: well-formed XML (python3's parser), one testsuite,
# one testcase per process, failed exactly when the gate trips for it
# (--fail-on-leak, --max-leak-bytes, --fail-on, --baseline) with the leak
# summary as the failure text, and hostile names escaped.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
V=$BUILD/victims
PY=/usr/bin/python3
for f in "$LA" "$V/an_fork"; do [ -x "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }; done
[ -f "$SO" ] || { echo "SKIP: no $SO yet"; exit 77; }
SO=$(cd "$(dirname "$SO")" && pwd)/libleak.so
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-junit-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

mkdir -p "$T/fork"
LIBLEAK_SCAN=0 LIBLEAK_DIR="$T/fork" LD_PRELOAD="$SO" "$V/an_fork" >"$T/fork.stdout" 2>&1 \
    || fail "an_fork exited $?"
[ "$(ls "$T/fork"/libleak.*.json 2>/dev/null | wc -l)" -eq 2 ] || fail "an_fork: not two dumps"

# junit WANT_RC WANT_FAILED DIR ARGS...: exit status, then the XML: well
# formed, 2 cases named after the exe (numbered, no pid: the pid is in
# system-out), WANT_FAILED of them failed
# (a comma list of "parent"/"child"), counts in the attributes
junit() {
    want=$1; failed=$2; dir=$3; shift 3
    "$LA" --format=junit "$@" "$dir" >"$T/out.xml" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "junit $*: exit $got, want $want ($(head -c 300 "$T/err"))"
    "$PY" - "$T/out.xml" "$failed" "$dir" <<'PY' 2>"$T/py.err" || fail "junit $*: $(tail -n 4 "$T/py.err")"
import glob, json, sys
import xml.etree.ElementTree as ET
top = ET.parse(sys.argv[1]).getroot()
want = [w for w in sys.argv[2].split(",") if w]
dumps = [json.load(open(f))["process"] for f in glob.glob(sys.argv[3] + "/libleak.*.json")]
parent = [p for p in dumps if p["ppid"] not in [q["pid"] for q in dumps]][0]["pid"]
assert top.tag == "testsuites", top.tag
suite, = top.findall("testsuite")
cases = suite.findall("testcase")
assert len(cases) == 2 and suite.get("tests") == "2" == top.get("tests"), ET.tostring(top)
failed = []
for c in cases:
    assert c.get("name") in ("leaks in an_fork #1", "leaks in an_fork #2"), c.attrib
    pid = int(c.find("system-out").text.split("process ")[1].split(":")[0])
    assert c.get("classname").startswith("libleak."), c.attrib
    f = c.find("failure")
    if f is not None:
        failed.append("parent" if pid == parent else "child")
        assert f.get("type") == "leak" and f.get("message"), f.attrib
        fn = "parent_leak" if pid == parent else "child_leak"
        assert fn in f.text and "an_fork.c:" in f.text, f.text
        assert ("%d byte(s) in 1 object(s)" % (100 if pid == parent else 200)) in f.text, f.text
    assert "byte(s) leaked in" in c.find("system-out").text
assert sorted(failed) == sorted(want), (failed, want)
assert suite.get("failures") == top.get("failures") == str(len(want)), suite.attrib
PY
}

junit 0 "" "$T/fork"                                  # no gate asked: nothing fails
junit 1 "parent,child" "$T/fork" --fail-on-leak
grep -q 'message="100 byte(s) leaked in 1 site(s)"' "$T/out.xml" || fail "parent's message: $(cat "$T/out.xml")"
junit 0 "" "$T/fork" --fail-on-leak --fail-on=possible   # kinds the gate does not count
junit 0 "" "$T/fork" --max-leak-bytes=300
junit 1 "parent,child" "$T/fork" --max-leak-bytes=299
grep -q 'than the budget of 299' "$T/out.xml" || fail "budget message: $(cat "$T/out.xml")"
# --baseline: the parent's leak is known, the child's is new
"$LA" --format=json "$T/fork" >"$T/base.json" || fail "json report"
"$PY" - "$T/base.json" <<'PY' || fail "cannot edit the baseline"
import json, sys
r = json.load(open(sys.argv[1]))
r["leaks"] = [l for l in r["leaks"] if not any(f["function"] == "child_leak" for f in l["frames"])]
json.dump(r, open(sys.argv[1], "w"))
PY
junit 1 "child" "$T/fork" --baseline="$T/base.json"

# hostile names: the exe and argv[0] (the name shown) in a dump carry
# markup, quotes, control characters and a noncharacter; the XML stays
# well formed
"$PY" - "$T/fork" "$T/evil" <<'PY' || fail "cannot make the hostile dumps"
import glob, json, os, sys
os.makedirs(sys.argv[2])
for f in glob.glob(sys.argv[1] + "/libleak.*.json"):
    d = json.load(open(f))
    d["process"]["exe"] = "/bin/a\"]]><x y='1'>&amp;\x01\x0b\x1b\x7f\u0085\ufffe"
    d["process"]["cmdline"] = [d["process"]["exe"]]
    with open(os.path.join(sys.argv[2], os.path.basename(f)), "w") as o:
        o.write(json.dumps(d, ensure_ascii=False))
PY
"$LA" --format=junit --fail-on-leak "$T/evil" >"$T/evil.xml" 2>"$T/err"
[ $? -eq 1 ] || fail "hostile: exit status ($(head -c 300 "$T/err"))"
"$PY" - "$T/evil.xml" <<'PY' 2>"$T/py.err" || fail "hostile XML: $(tail -n 4 "$T/py.err")"
import sys
import xml.etree.ElementTree as ET
raw = open(sys.argv[1], "rb").read()
top = ET.fromstring(raw)
names = [c.get("name") for c in top.iter("testcase")]
assert len(names) == 2 and all(n.startswith("leaks in a\"]]><x y='1'>&amp;") for n in names), names
assert not any(b in raw for b in (b"\x01", b"\x0b", b"\x1b", b"\x7f")), raw
PY

[ "$fails" -eq 0 ] || exit 1
echo "ok: junit"
