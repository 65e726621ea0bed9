#!/bin/sh
# test_reach_analyze.sh - valgrind's leak kinds end to end, analyzer side:
# the rc_* victims run under $BUILD/libleak.so (reachability scan at exit),
# then leak-analyze:
#   kinds per (site, kind) in JSON (all four) and text (reachable only with
#   --show), LSan/valgrind headings and the LEAK SUMMARY, the lost cycle and
#   lost tree lines, held by `g_holder` with its declaring file:line, a worker
#   thread's stack, --fail-on / --show / --max-leak-bytes exit codes, freed
#   memory never reported, a growing held site (gr_growth), baselines, the
#   LEAK SUMMARY against valgrind's (skipped loudly without valgrind), and a
#   corrupt reachability object (exit 2, one line).
# Needs python3 for the JSON checks (exit 77 without it).
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
V=$BUILD/victims
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
for f in "$LA" "$SO" "$V/rc_definite" "$V/rc_tree" "$V/rc_cycle" "$V/rc_global" \
         "$V/rc_interior" "$V/rc_thread_stack" "$V/rc_thread_leak" "$V/gr_growth" \
         "$V/rc_order"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }
done
case $SO in /*) ;; *) SO="$(pwd)/$SO" ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-reach-an-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
has() { grep -qF -- "$1" "$2" || fail "'$1' not in $2: $(head -c 2000 "$2")"; }
hasnt() { ! grep -qF -- "$1" "$2" || fail "'$1' unexpectedly in $2"; }
# line_of FILE TEXT: the first line of FILE containing TEXT
line_of() { grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1; }
expect_rc() {  # expect_rc WANT CMD...: stdout in $T/out, stderr in $T/err
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "exit $got, want $want: $* ($(head -c 300 "$T/err"))"
}
run() {  # run VICTIM: exit dump into $T/VICTIM
    mkdir -p "$T/$1"
    env LIBLEAK_DIR="$T/$1" LD_PRELOAD="$SO" "$V/$1" >"$T/$1.stdout" 2>"$T/$1.stderr" \
        || fail "$1 exited $?: $(head -c 300 "$T/$1.stderr")"
    ls "$T/$1"/libleak.*.json >/dev/null 2>&1 || fail "$1 wrote no dump"
}
# pycheck JSON SCRIPT: python3 asserts against the report (as r)
pycheck() {
    json=$1; shift
    env -u LD_PRELOAD /usr/bin/python3 - "$json" <<PY || fail "json checks on $json: $(cat "$T/py.err")"
import json, sys
sys.stderr = open("$T/py.err", "w")
r = json.load(open(sys.argv[1]))
def top(e):
    return e["frames"][0] if e["frames"] else {}
def kinds(fn):
    out = {}
    for l in r["leaks"]:
        if "suppressed_by" not in l and top(l).get("function") == fn:
            k = out.setdefault(l["kind"], [0, 0])
            k[0] += l["blocks"]; k[1] += l["bytes"]
    return out
assert all(l["kind"] in ("definite", "indirect", "possible", "reachable") for l in r["leaks"]), \
    [l["kind"] for l in r["leaks"]]
$*
PY
}
SRC=tests/integration/victims

# ### rc_definite: 1000 definite bytes; 4 x 500 freed, never reported
run rc_definite
expect_rc 0 "$LA" "$T/rc_definite"
has "Direct leak of 1000 byte(s) in 1 object(s) allocated from:" "$T/out"
has "in leak_simple $SRC/rc_definite.c:$(line_of $SRC/rc_definite.c 'malloc(1000)')" "$T/out"
hasnt "freed_here" "$T/out"
has "LEAK SUMMARY:" "$T/out"
has "   definitely lost: 1000 byte(s) in 1 block(s)" "$T/out"
has "   indirectly lost: 0 byte(s) in 0 block(s)" "$T/out"
hasnt "Lost structures" "$T/out"   # a lone block is its Direct leak entry
"$LA" --format=json "$T/rc_definite" >"$T/def.json" || fail "json rc_definite"
pycheck "$T/def.json" "
assert kinds('leak_simple') == {'definite': [1, 1000]}, kinds('leak_simple')
assert kinds('freed_here') == {}, kinds('freed_here')
assert r['summary']['kinds']['definite'] == {'bytes': 1000, 'blocks': 1}, r['summary']['kinds']
assert r['processes'][0]['reachability'] is True
"
# the gate: definite counts by default, not when only possible is asked for
expect_rc 1 "$LA" --fail-on-leak "$T/rc_definite"
has "leak gate failed: 1000 byte(s) leaked in 1 site(s)" "$T/err"
expect_rc 0 "$LA" --fail-on-leak --fail-on=possible "$T/rc_definite"
expect_rc 1 "$LA" --fail-on-leak --fail-on=all "$T/rc_definite"
expect_rc 1 "$LA" --max-leak-bytes=999 "$T/rc_definite"
expect_rc 0 "$LA" --max-leak-bytes=1000 "$T/rc_definite"
# sizes take the suffixes LIBLEAK_WATERMARK takes (include/libleak/size.h)
expect_rc 0 "$LA" --max-leak-bytes 1T "$T/rc_definite"
expect_rc 0 "$LA" --max-leak-bytes=1KiB "$T/rc_definite"
expect_rc 2 "$LA" --max-leak-bytes=1.5G "$T/rc_definite"
has "--max-leak-bytes: expected a size, got '1.5G'" "$T/err"
expect_rc 2 "$LA" --fail-on=lost "$T/rc_definite"
has "--fail-on: unknown kind list 'lost'" "$T/err"
expect_rc 2 "$LA" --show=bogus "$T/rc_definite"
# --show narrows the text only
expect_rc 0 "$LA" --show=indirect "$T/rc_definite"
hasnt "Direct leak" "$T/out"
has "   definitely lost: 1000 byte(s) in 1 block(s)" "$T/out"
# a baseline of the same run: nothing new, gate passes; the keys carry the kind
"$LA" --format=json "$T/rc_definite" >"$T/base.json"
expect_rc 0 "$LA" --baseline="$T/base.json" "$T/rc_definite"
has "Baseline: 0 new and 0 grown leak site(s)." "$T/out"

# ### rc_tree: 1 definite root + 6 indirect children, one structure
run rc_tree
expect_rc 1 "$LA" --fail-on-leak "$T/rc_tree"
has "Direct leak of 64 byte(s) in 1 object(s) allocated from:" "$T/out"
has "Indirect leak of 48 byte(s) in 1 object(s) allocated from:" "$T/out"
has "lost structure of 1+6 blocks (352 bytes) headed by alloc_root at rc_tree.c:$(line_of $SRC/rc_tree.c 'calloc(1, 64)'), holding 6 from alloc_child at rc_tree.c:$(line_of $SRC/rc_tree.c 'calloc(1, sizeof *n)')" "$T/out"
has "   indirectly lost: 288 byte(s) in 6 block(s)" "$T/out"
has "SUMMARY: libleak: 352 byte(s) leaked in 7 allocation(s)." "$T/out"
# --top ranks only the kinds --show lets through (the 64-byte root is hidden)
expect_rc 0 "$LA" --top=1 --show=indirect "$T/rc_tree"
has "Indirect leak of 48 byte(s) in 1 object(s)" "$T/out"
[ "$(grep -c 'leak of' "$T/out")" -eq 1 ] || fail "--top=1 --show=indirect: $(grep 'leak of' "$T/out")"
# ### rc_order: direct leaks are listed before a larger indirect one (LSan's order)
run rc_order
expect_rc 1 "$LA" --fail-on-leak "$T/rc_order"
has "Direct leak of 16 byte(s) in 1 object(s) allocated from:" "$T/out"
has "Indirect leak of 300 byte(s) in 1 object(s) allocated from:" "$T/out"
[ "$(grep -m 1 'leak of' "$T/out" | cut -c1-6)" = "Direct" ] \
    || fail "rc_order: first entry is not the direct leak: $(grep 'leak of' "$T/out")"
# a baseline from a run without the scan (kind unfreed) still knows the sites
mkdir -p "$T/tree0"
env LIBLEAK_SCAN=0 LIBLEAK_DIR="$T/tree0" LD_PRELOAD="$SO" "$V/rc_tree" >/dev/null 2>&1 || fail "rc_tree (no scan)"
"$LA" --format=json "$T/tree0" >"$T/tree0.json" || fail "json rc_tree (no scan)"
grep -q '"kind": "unfreed"' "$T/tree0.json" || fail "LIBLEAK_SCAN=0 report has no unfreed entries"
expect_rc 0 "$LA" --baseline="$T/tree0.json" "$T/rc_tree"
has "Baseline: 0 new and 0 grown leak site(s)." "$T/out"
expect_rc 1 "$LA" --baseline="$T/base.json" "$T/rc_tree"   # rc_definite's sites: all new
has "Baseline: 3 new and 0 grown leak site(s)." "$T/out"   # keys ignore lines: 3 distinct
# only indirect gates: still 1
expect_rc 1 "$LA" --fail-on-leak --fail-on=indirect "$T/rc_tree"
has "288 byte(s) leaked in 6 site(s)" "$T/err"
"$LA" --format=json "$T/rc_tree" >"$T/tree.json" || fail "json rc_tree"
pycheck "$T/tree.json" "
assert kinds('alloc_root') == {'definite': [1, 64]}, kinds('alloc_root')
assert kinds('alloc_child') == {'indirect': [6, 288]}, kinds('alloc_child')
s = r['structures']
assert len(s) == 1, s
assert (s[0]['blocks'], s[0]['bytes'], s[0]['count'], s[0]['cycle']) == (7, 352, 1, False), s[0]
assert top(s[0]['head'])['function'] == 'alloc_root'
assert sum(m['blocks'] for m in s[0]['members']) == 7
assert all(top(m)['function'] in ('alloc_root', 'alloc_child') for m in s[0]['members'])
"

# ### rc_cycle: the lost cycle line
run rc_cycle
expect_rc 0 "$LA" "$T/rc_cycle"
CL=$(line_of $SRC/rc_cycle.c 'return calloc(1, sizeof(struct node));')
has "lost cycle of 2 blocks (128 bytes): make_node at rc_cycle.c:$CL ↔ make_node at rc_cycle.c:$CL" "$T/out"
has "Direct leak of 64 byte(s) in 1 object(s)" "$T/out"
has "Indirect leak of 64 byte(s) in 1 object(s)" "$T/out"
"$LA" --format=json "$T/rc_cycle" >"$T/cycle.json" || fail "json rc_cycle"
pycheck "$T/cycle.json" "
assert kinds('make_node') == {'definite': [1, 64], 'indirect': [1, 64]}, kinds('make_node')
s = r['structures']
assert len(s) == 1 and s[0]['cycle'] and s[0]['head_in_cycle'], s
assert (s[0]['blocks'], s[0]['bytes']) == (2, 128), s[0]
assert r['held_by'] == [], r['held_by']
"
# --show=reachable: no lost cycle, no direct leak
expect_rc 0 "$LA" --show=reachable "$T/rc_cycle"
hasnt "lost cycle" "$T/out"
hasnt "Direct leak" "$T/out"

# ### rc_global: reachable, held by g_holder (declared at rc_global.c:N)
run rc_global
GL=$(line_of $SRC/rc_global.c 'void **g_holder;')
expect_rc 0 "$LA" --fail-on-leak "$T/rc_global"
hasnt "Still reachable" "$T/out"            # not shown by default
hasnt "held by" "$T/out"
has "   still reachable: 876 byte(s) in 2 block(s)" "$T/out"
has "SUMMARY: libleak: 0 byte(s) leaked in 0 allocation(s)." "$T/out"
expect_rc 0 "$LA" --show=all "$T/rc_global"
has "Still reachable: 777 byte(s) in 1 object(s) allocated from:" "$T/out"
has "777 bytes in 1 block held by global \`g_holder\` (rc_global.c:$GL), allocated at hold_me (rc_global.c:$(line_of $SRC/rc_global.c 'g_holder = calloc(1, 777);'))" "$T/out"
has "99 bytes in 1 block held by global \`g_holder\` (rc_global.c:$GL), allocated at hold_child (rc_global.c:$(line_of $SRC/rc_global.c 'calloc(1, 99)'))" "$T/out"
expect_rc 1 "$LA" --fail-on-leak --fail-on=reachable "$T/rc_global"
"$LA" --format=json "$T/rc_global" >"$T/global.json" || fail "json rc_global"
pycheck "$T/global.json" "
assert kinds('hold_me') == {'reachable': [1, 777]}, kinds('hold_me')
assert kinds('hold_child') == {'reachable': [1, 99]}, kinds('hold_child')
h = {top(e)['function']: e for e in r['held_by']}
for fn, b in (('hold_me', 777), ('hold_child', 99)):
    e = h[fn]
    assert e['root'] == 'global' and e['kind'] == 'reachable', e
    assert e['symbol'] == 'g_holder', e
    assert e['decl_file'].endswith('rc_global.c') and e['decl_line'] == $GL, e
    assert e['module'].endswith('/rc_global') and e['bytes'] == b, e
assert r['structures'] == []
"

# ### rc_interior: possible, shown by default, not gated by default
run rc_interior
expect_rc 0 "$LA" --fail-on-leak "$T/rc_interior"
has "Possible leak of 200 byte(s) in 1 object(s) allocated from:" "$T/out"
has "200 bytes in 1 block possibly held (interior pointer) by global \`g_middle\` (rc_interior.c:$(line_of $SRC/rc_interior.c 'char *g_middle;'))" "$T/out"
has "     possibly lost: 200 byte(s) in 1 block(s)" "$T/out"
expect_rc 1 "$LA" --fail-on-leak --fail-on=definite,possible "$T/rc_interior"
expect_rc 0 "$LA" --show=definite,indirect "$T/rc_interior"
hasnt "Possible leak" "$T/out"

# ### rc_thread_stack: held by a worker's stack (not the main thread)
run rc_thread_stack
expect_rc 0 "$LA" --fail-on-leak --show=reachable "$T/rc_thread_stack"
has "333 bytes in 1 block held by the stack of thread " "$T/out"
has "allocated at on_worker_stack (rc_thread_stack.c:$(line_of $SRC/rc_thread_stack.c 'calloc(1, 333)'))" "$T/out"
grep "333 bytes in 1 block held by" "$T/out" | grep -qF "(main thread)" && fail "worker stack named as the main thread"
"$LA" --format=json "$T/rc_thread_stack" >"$T/ts.json" || fail "json rc_thread_stack"
pycheck "$T/ts.json" "
e = [e for e in r['held_by'] if top(e).get('function') == 'on_worker_stack']
assert len(e) == 1 and e[0]['root'] == 'stack' and not e[0]['main_thread'], e
assert e[0]['tid'] != r['processes'][0]['pid'], e
"

# ### rc_thread_leak: definite leaks inside a thread
run rc_thread_leak
expect_rc 1 "$LA" --fail-on-leak "$T/rc_thread_leak"
has "Direct leak of 492 byte(s) in 4 object(s) allocated from:" "$T/out"
hasnt "Lost structures" "$T/out"
"$LA" --format=json "$T/rc_thread_leak" >"$T/tl.json" || fail "json rc_thread_leak"
pycheck "$T/tl.json" "
assert kinds('leak_in_thread') == {'definite': [4, 492]}, kinds('leak_in_thread')
s = r['structures']
assert len(s) == 1 and (s[0]['count'], s[0]['blocks'], s[0]['bytes']) == (4, 4, 492), s
assert top(s[0]['head'])['function'] == 'leak_in_thread'
"

# ### gr_growth: a growing reachable site names its holder and its rate
mkdir -p "$T/grow"
env LIBLEAK_DIR="$T/grow" LD_PRELOAD="$SO" "$V/gr_growth" >"$T/grow.out" 2>&1 || fail "gr_growth failed"
expect_rc 0 "$LA" "$T/grow"
has "1.0 MiB in 16 blocks held by global \`leaked\` (gr_growth.c:$(line_of $SRC/gr_growth.c 'static void *leaked[STEPS];')), allocated at grow_site (gr_growth.c:$(line_of $SRC/gr_growth.c '/* GROW_SITE */')), growing at " "$T/out"
"$LA" --format=json "$T/grow" >"$T/grow.json" || fail "json gr_growth"
pycheck "$T/grow.json" "
e = [e for e in r['held_by'] if top(e).get('function') == 'grow_site']
assert len(e) == 1 and e[0]['symbol'] == 'leaked' and e[0]['growing'], e
assert e[0]['slope_bytes_per_s'] > 0 and e[0]['bytes'] == 16 * 65536, e
c = [e for e in r['held_by'] if top(e).get('function') == 'cache_site']
assert len(c) == 1 and c[0]['symbol'] == 'cache' and not c[0]['growing'], c
"

# ### the LEAK SUMMARY against valgrind's on the same binaries
# (definitely/indirectly/possibly lost; still reachable differs: valgrind
# counts glibc's own blocks, which the built-in suppressions hide)
if command -v valgrind >/dev/null 2>&1; then
    for v in rc_definite rc_tree rc_cycle rc_interior rc_thread_leak; do
        valgrind --leak-check=full --show-leak-kinds=all "$V/$v" >/dev/null 2>"$T/vg.$v" \
            || fail "valgrind $v failed"
        "$LA" "$T/$v" >"$T/la.$v" 2>/dev/null
        for k in "definitely lost" "indirectly lost" "possibly lost"; do
            want=$(grep "$k:" "$T/vg.$v" | sed -E 's/.*lost: ([0-9,]+) bytes in ([0-9,]+) blocks.*/\1 \2/; s/,//g')
            got=$(grep "$k:" "$T/la.$v" | sed -E 's/.*lost: ([0-9]+) byte\(s\) in ([0-9]+) block\(s\).*/\1 \2/')
            [ -n "$want" ] && [ "$want" = "$got" ] || fail "$v: $k: leak-analyze '$got', valgrind '$want'"
        done
    done
else
    echo "NOTE: valgrind not installed: SKIPPING the valgrind cross-check of the LEAK SUMMARY" >&2
fi

# ### a corrupt reachability object: exit 2 and one line naming the path
f=$(ls "$T/rc_cycle"/libleak.*.json | head -n 1)
env -u LD_PRELOAD /usr/bin/python3 - "$f" "$T/bad.json" <<'PY' || fail "making bad dump"
import json, sys
d = json.load(open(sys.argv[1]))
d["reachability"]["sites"][0]["stack"] = 987654
json.dump(d, open(sys.argv[2], "w"))
PY
expect_rc 2 "$LA" "$T/bad.json"
has "bad.json: reachability.sites[0].stack: no stack with id 987654" "$T/err"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "more than one error line: $(cat "$T/err")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo ok
