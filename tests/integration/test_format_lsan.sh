#!/bin/sh
# test_format_lsan.sh - leak-analyze --format=lsan against standalone
# LeakSanitizer's report of the same source (fm_kinds built with
# -fsanitize=leak).  Both texts are read by the same parser and must agree
# on: the "====" rule and "==PID==ERROR: LeakSanitizer: detected memory
# leaks" line, the blank line after it, the record headings ("Direct leak of
# N byte(s) in M object(s) allocated from:"), the frame line syntax
# ("    #N 0xADDR in FN FILE:LINE"), per record the kind, bytes, objects and
# the frames in fm_kinds.c (function, file basename, line), and the SUMMARY
# line.  Accepted differences, not compared:
# - frame #0: LSan shows its own interceptor (__interceptor_malloc in
#   lsan_interceptors.cpp); libleak trims allocator frames, so our #0 is the
#   user's call and the frame numbers shift by one;
# - frames below main (__libc_start_call_main): libleak cuts them;
# - file paths: LSan joins the compile directory, the dump has the path the
#   compiler recorded (compared by basename);
# - addresses and the PID (other processes), and the order of records of
#   equal size (LSan's is arbitrary).
# The possible leak (interior pointer) and the reachable block are in
# neither: LSan counts interior pointers as references.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
VIC=$BUILD/victims/fm_kinds
SRC=tests/integration/victims/fm_kinds.c
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v "$PY" >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
for f in "$LA" "$SO" "$VIC"; do
    [ -f "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }
done
case $SO in /*) ;; *) SO="$(pwd)/$SO" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-lsanfmt-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LSAN_OPTIONS ASAN_OPTIONS
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# parse FILE: the report as JSON (same code for LSan's text and ours)
parse() {
    "$PY" - "$1" <<'PY'
import json, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
out = {"error": [], "records": [], "summary": [], "bad": []}
frame = re.compile(r"^    #(\d+) 0x[0-9a-f]+ (?:in (\S+) )?(.*)$")
head = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:$")
rec = None
for i, l in enumerate(lines):
    if re.fullmatch(r"==\d+==ERROR: LeakSanitizer: detected memory leaks", l):
        out["error"].append([lines[i - 1] if i > 0 else None, lines[i + 1]])
    elif head.match(l):
        m = head.match(l)
        rec = {"kind": m.group(1), "bytes": int(m.group(2)), "objects": int(m.group(3)),
               "user": []}
        out["records"].append(rec)
    elif l.startswith("    #"):
        m = frame.match(l)
        if m is None or rec is None:
            out["bad"].append(l)
            continue
        loc = m.group(3)
        fm = re.fullmatch(r"(.*/)?fm_kinds\.c:(\d+)", loc)
        if fm:
            rec["user"].append("%s fm_kinds.c:%s" % (m.group(2), fm.group(2)))
    elif l.startswith("SUMMARY: "):
        out["summary"].append(l)
    elif l == "":
        rec = None
out["records"].sort(key=lambda r: (r["kind"], -r["bytes"], r["user"]))
json.dump(out, sys.stdout, indent=1)
PY
}

mkdir -p "$T/dumps"
env LIBLEAK_DIR="$T/dumps" LD_PRELOAD="$SO" "$VIC" || fail "fm_kinds exited $? under libleak"
"$LA" --format=lsan -o "$T/ours.txt" "$T/dumps" 2>"$T/la.err" \
    || fail "leak-analyze --format=lsan exited $?: $(head -c 300 "$T/la.err")"
parse "$T/ours.txt" >"$T/ours.json" || fail "cannot parse our report"

# what fm_kinds leaks, whatever LSan says (also runs without liblsan)
"$PY" - "$T/ours.json" <<'PY' || fail "our lsan report is not fm_kinds' leaks: $(cat "$T/ours.txt")"
import json, sys
r = json.load(open(sys.argv[1]))
got = [(x["kind"], x["bytes"], x["objects"], x["user"][0].split()[0]) for x in r["records"]]
assert got == [("Direct", 3000, 3, "lost"), ("Direct", 64, 1, "tree"),
               ("Indirect", 48, 1, "child"), ("Indirect", 48, 1, "child")], got
assert r["summary"] == ["SUMMARY: LeakSanitizer: 3160 byte(s) leaked in 6 allocation(s)."], r
assert r["error"] == [["=" * 65, ""]] and not r["bad"], r
PY

# LSan's own report: gcc links liblsan for -fsanitize=leak
if cc -g -O0 -fno-omit-frame-pointer -fsanitize=leak -o "$T/fm_kinds_lsan" "$SRC" \
        2>"$T/cc.err"; then
    "$T/fm_kinds_lsan" >/dev/null 2>"$T/lsan.txt"
    rc=$?
    [ "$rc" -eq 23 ] || fail "the LSan build exited $rc, want 23 (leaks): $(head -c 300 "$T/lsan.txt")"
    parse "$T/lsan.txt" >"$T/lsan.json" || fail "cannot parse LSan's report"
    "$PY" - "$T/lsan.json" "$T/ours.json" <<'PY' || fail "--format=lsan differs from LSan's report"
import json, sys
ls, us = (json.load(open(p)) for p in sys.argv[1:3])
bad = ["%s: LSan %r, ours %r" % (k, ls[k], us[k]) for k in ("error", "records", "summary")
       if ls[k] != us[k]]
if not ls["records"]:
    bad.append("LSan reported nothing")
if bad:
    sys.exit("\n".join(bad))
PY
else
    echo "NOTE: cannot build with -fsanitize=leak (liblsan0 missing?): SKIPPING the comparison" \
        "with LSan's report: $(head -c 200 "$T/cc.err")" >&2
fi

# no leak: LSan prints nothing at all
echo "leak:fm_kinds" >"$T/all.supp"
"$LA" --format=lsan --suppressions "$T/all.supp" "$T/dumps" >"$T/none.txt" 2>"$T/none.err" \
    || fail "suppressed run: exit $?: $(head -c 300 "$T/none.err")"
[ ! -s "$T/none.txt" ] || fail "every leak suppressed, yet: $(head -c 300 "$T/none.txt")"

[ "$fails" -eq 0 ] || exit 1
echo ok
