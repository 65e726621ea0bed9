#!/bin/sh
# test_untrusted.sh - leak-analyze on hostile dumps, suppressions and
# baselines: every run ends (time limit per run, output cap), prints no
# control character, keeps every output valid for its format, and fails
# with exit 2 and one line.  Inputs: tests/fuzz/gen_inputs.py (big ones
# are made here, not kept in the repository) and tests/fuzz/corpus*/.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
[ -x "$LA" ] || { echo "FAIL: build $LA first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-untrusted-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
"$PY" tests/fuzz/gen_inputs.py "$T" || { echo "FAIL: gen_inputs.py" >&2; exit 1; }
mkfifo "$T/fifo" || exit 1

# run WANT CMD...: stdout (first 32 MiB) to $T/out, stderr to $T/err; a hang is
# a failure (the limit is far above any normal run, not a speed assertion)
run() {
    want=$1; shift
    ( timeout -s KILL "${LK_UNTRUSTED_LIMIT:-60}" "$@" 2>"$T/err" </dev/null; echo $? >"$T/rc" ) | head -c 33554432 >"$T/out"
    got=$(cat "$T/rc")
    case " $want " in *" $got "*) ;; *)
        fail "exit $got, want $want: $* ($(head -c 300 "$T/err" | tr -d '\000-\037'))" ;; esac
    [ "$(wc -c <"$T/out")" -lt 33554432 ] || fail "unbounded output: $*"
    # warnings may come first; the error itself is one line
    if [ "$got" = 2 ] && [ "$(grep -vc '^leak-analyze: warning: ' "$T/err")" -ne 1 ]; then
        fail "exit 2 without exactly one error line: $*"
    fi
    grep -qv '^leak-analyze: ' "$T/err" && fail "a stderr line not from leak-analyze: $*"
    clean "$T/out" "stdout of $*"
    clean "$T/err" "stderr of $*"
}
# clean FILE WHAT: no control character but newline, no invalid UTF-8
clean() {
    "$PY" - "$1" <<'PY' || fail "$2: control character or invalid UTF-8"
import re, sys
b = open(sys.argv[1], "rb").read()
b.decode("utf-8")
sys.exit(1 if re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", b) else 0)
PY
}
valid_json() {
    "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" 2>/dev/null \
        || fail "$1: the JSON report does not parse"
}
valid_xml() {
    "$PY" -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T/out" 2>/dev/null \
        || fail "$1: the SVG is not well-formed XML"
}
every_format() {   # every_format WANT ARGS...: all formats and --gen-suppressions
    want=$1; shift
    run "$want" "$LA" "$@"
    run "$want" "$LA" -f json "$@"; [ "$got" = 2 ] || valid_json "$*"
    run "$want" "$LA" -f folded "$@"
    run "$want" "$LA" -f svg "$@"; [ "$got" = 2 ] || valid_xml "$*"
    run "$want" "$LA" -f valgrind-xml "$@"; [ "$got" = 2 ] || valid_xml "valgrind-xml $*"
    run "$want" "$LA" -f lsan "$@"
    run "$want" "$LA" --gen-suppressions "$@"
}

# ### hangs and unbounded output
every_format 0 "$T/svg_uptime.json"
every_format 0 "$T/fifo_module.json"
grep -q "not a regular file" "$T/err" || fail "FIFO module: no warning ($(cat "$T/err"))"
every_format 0 --suppressions "$T/backtrack.supp" "$T/supp_backtrack.json"
for f in big_held big_members big_modules big_retained; do
    every_format "0 2" "$T/$f.json"
done

# ### injection: escaped everywhere, one SUMMARY line, rules match their site
every_format 0 "$T/inject.json"
run 0 "$LA" "$T/inject.json"
[ "$(grep -c '^SUMMARY' "$T/out")" -eq 1 ] || fail "inject: forged SUMMARY line"
grep -qF '\x1b]0;pwned\x07' "$T/out" || fail "inject: escapes not shown as \\x1b"
run 0 "$LA" --gen-suppressions "$T/gensupp.json"
cp "$T/out" "$T/gen.supp"
grep -v '^#' "$T/gen.supp" | grep -qv '^leak-stack:' && fail "gen-suppressions: a line that is no rule"
grep -Eqx 'leak(-stack)?:[*;]*' "$T/gen.supp" && fail "gen-suppressions: forged leak:*"
run 1 "$LA" --fail-on-leak --suppressions "$T/gen.supp" "$T/gensupp_later.json"
printf 'root:$y$j9T$SECRETHASH:19000:0:99999:7:::\n' >"$T/shadow"
run 2 "$LA" --suppressions "$T/shadow" "$T/inject.json"
grep -q SECRET "$T/err" && fail "suppressions error echoes the file: $(cat "$T/err")"
grep -q "shadow:1" "$T/err" || fail "suppressions error names no position: $(cat "$T/err")"

# ### valid output: int64 sums, non-UTF-8 text, baseline and diff read back
for f in bigsum sampled; do
    run 0 "$LA" -f json "$T/$f.json"; valid_json "$f"
    cp "$T/out" "$T/$f.report.json"
    "$PY" - "$T/out" "$f" <<'PY' || fail "$f: a JSON integer outside int64 or a lost sum"
import json, sys
def walk(v):
    if isinstance(v, bool): return
    if isinstance(v, int): assert 0 <= v < 2**63, v
    elif isinstance(v, dict): [walk(x) for x in v.values()]
    elif isinstance(v, list): [walk(x) for x in v]
r = json.load(open(sys.argv[1])); walk(r)
for h in r.get("held_by", []):
    assert h["bytes"] >= 2**62 and h["frames"], h
# huge estimates saturate, they do not wrap to small numbers
assert sys.argv[2] != "sampled" or r["summary"]["leaked_bytes"] >= 2**62, r["summary"]
PY
    run 0 "$LA" --baseline "$T/$f.report.json" "$T/$f.json"
    run 0 "$LA" diff "$T/$f.report.json" "$T/$f.report.json"
done
run 0 "$LA" "$T/bigsum.json"
grep -q "held by.* 0 byte" "$T/out" && fail "bigsum: held-by sum wrapped to 0"
printf 'leak:caf\351\nleak:\377\376*\n' >"$T/latin1.supp"
run 0 "$LA" -f json --suppressions "$T/latin1.supp" "$T/inject.json"; valid_json latin1
run 0 "$LA" -f svg --suppressions "$T/latin1.supp" "$T/inject.json"; valid_xml latin1

# ### bad arguments: exit 2, one line, no hang
mkdir "$T/dir"
run 2 "$LA" --suppressions "$T/dir" "$T/inject.json"
run 2 "$LA" --suppressions "$T/fifo" "$T/inject.json"
run 2 "$LA" --baseline "$T/fifo" "$T/inject.json"
run 2 "$LA" "$T/fifo"

# ### the kept corpora: every input ends with a valid report or one error line
for f in tests/fuzz/corpus/*.json; do
    every_format "0 2" "$f"
done
for f in tests/fuzz/corpus_supp/*; do
    [ -f "$f" ] && run "0 2" "$LA" --suppressions "$f" "$T/inject.json"
done
for f in tests/fuzz/corpus_baseline/*; do
    [ -f "$f" ] && run "0 2" "$LA" --baseline "$f" "$T/inject.json"
done

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
