#!/bin/sh
# test_analyze_selfdump.sh - leak-analyze end to end on dumps written by a
# real binary (victims/an_selfdump.c writes its own dump, no preload needed):
# exact file:line of each site incl. an inlined frame, freed memory not
# reported, mismatches, json/folded, suppressions and --gen-suppressions,
# every exit code, the version check, missing and rebuilt binaries, several
# processes, the golden text, and the --baseline ratchet across rebuilds.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
V=$BUILD/victims/an_selfdump
SRC=tests/integration/victims/an_selfdump.c
[ -x "$LA" ] && [ -x "$V" ] || { echo "FAIL: build $LA and $V first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-an-selfdump-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
line_of() { grep -n "$1 \*/" "$SRC" | head -n 1 | cut -d: -f1; }
# expect_rc WANT CMD...: run CMD (stdout to $T/out, stderr to $T/err)
expect_rc() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "exit $got, want $want: $* ($(head -c 300 "$T/err"))"
}
has() { grep -qF -- "$1" "$2" || fail "'$1' not in $2: $(head -c 600 "$2")"; }
hasnt() { ! grep -qF -- "$1" "$2" || fail "'$1' unexpectedly in $2"; }

A=$(line_of SITE_A); BI=$(line_of SITE_B_INNER); BC=$(line_of SITE_B_CALL)
MA=$(line_of SITE_M_ALLOC); MF=$(line_of SITE_M_FREE)
"$V" "$T/d.json" || { echo "FAIL: victim" >&2; exit 1; }

# ### text: exact lines, inlined frame expanded, freed site absent
expect_rc 0 "$LA" "$T/d.json"
has "Unfreed: 4011 byte(s) in 3 object(s) allocated from:" "$T/out"
has "in leak_here $SRC:$A" "$T/out"
has "in inlined_helper $SRC:$BI" "$T/out"
has "in outer $SRC:$BC" "$T/out"
has "Unfreed: 64 byte(s) in 1 object(s) allocated from:" "$T/out"
hasnt "freed_site" "$T/out"
hasnt "__libc_start_main" "$T/out"      # frames below main are cut
has "allocated by new[], freed by free()" "$T/out"
has "in mismatch_free $SRC:$MF" "$T/out"
has "in mismatch_alloc $SRC:$MA" "$T/out"
has "SUMMARY: libleak: 4075 byte(s) leaked in 4 allocation(s)." "$T/out"
# sorted by bytes: the 4011-byte site comes first
[ "$(grep -n 'byte(s) in' "$T/out" | head -n 1 | grep -c 4011)" -eq 1 ] || fail "not sorted by bytes"

# ### golden text (addresses normalised)
sed 's/0x[0-9a-f]*/0xADDR/g' "$T/out" > "$T/golden.txt"
diff -u tests/golden/an_selfdump.txt "$T/golden.txt" || fail "text output differs from tests/golden/an_selfdump.txt"

# ### --top / --min-bytes
expect_rc 0 "$LA" --top 1 "$T/d.json"
has "4011 byte(s)" "$T/out"; hasnt "64 byte(s)" "$T/out"
expect_rc 0 "$LA" --min-bytes 100 "$T/d.json"
has "4011 byte(s)" "$T/out"; hasnt "64 byte(s)" "$T/out"

# ### json
expect_rc 0 "$LA" --format=json "$T/d.json"
python3 - "$T/out" "$SRC" "$A" "$BI" "$BC" <<'PY' || fail "json report"
import json, sys
r = json.load(open(sys.argv[1])); src, a, bi, bc = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
assert r["format"] == "leak-analyze-report" and r["version"] == 1, r.get("format")
assert r["summary"]["leaked_bytes"] == 4075 and r["summary"]["leaked_blocks"] == 4, r["summary"]
l0, l1 = r["leaks"][0], r["leaks"][1]
assert (l0["kind"], l0["bytes"], l0["blocks"], l0["family"]) == ("unfreed", 4011, 3, "malloc"), l0
f = l0["frames"][0]
assert (f["function"], f["file"], f["line"]) == ("leak_here", src, a), f
assert f["module"].endswith("an_selfdump") and f["address"].startswith("0x"), f
assert [(x["function"], x["line"], x["inlined"]) for x in l1["frames"][:2]] == \
    [("inlined_helper", bi, True), ("outer", bc, False)], l1["frames"]
assert all(l["frames"][-1]["function"] == "main" for l in r["leaks"])
m = r["mismatches"][0]
assert (m["alloc_family"], m["free_family"], m["count"]) == ("new[]", "malloc", 1), m
assert m["free_frames"][0]["function"] == "mismatch_free"
PY

# strings that need escaping survive the streamed "leaks" array
python3 - "$T/d.json" "$T/esc.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["modules"].append({"path": "/no/such/d\u00e9j\u00e0 \"q\" \\b\nl", "base": "0x10000", "size": 4096})
d["stacks"].append({"id": 99, "frames": ["0x10010"]})
d["sites"].append({"stack": 99, "family": "malloc", "live_blocks": 1, "live_bytes": 1})
json.dump(d, open(sys.argv[2], "w"))
PY
expect_rc 0 "$LA" --format=json "$T/esc.json"
python3 - "$T/out" <<'PY' || fail "json escaping"
import json, sys
r = json.load(open(sys.argv[1]))
mods = [l["frames"][0]["module"] for l in r["leaks"]]
# valid UTF-8, quotes and backslashes stay; the newline is shown escaped
assert "/no/such/d\u00e9j\u00e0 \"q\" \\b\\x0al" in mods, mods
PY

# ### folded
expect_rc 0 "$LA" --format=folded "$T/d.json"
has "main;leak_here 4011" "$T/out"
has "main;outer;inlined_helper 64" "$T/out"

# ### the gate and its exit codes
expect_rc 1 "$LA" --fail-on-leak "$T/d.json"
has "leak gate failed" "$T/err"
expect_rc 0 "$LA" --max-leak-bytes 4075 "$T/d.json"
expect_rc 1 "$LA" --max-leak-bytes 4074 "$T/d.json"
expect_rc 0 "$LA" --max-leak-bytes 4k "$T/d.json"       # 4k = 4096 bytes
expect_rc 2 "$LA" --top abc "$T/d.json"
has "--top: expected a number, got 'abc'" "$T/err"
expect_rc 2 "$LA" --format=xml "$T/d.json"
expect_rc 2 "$LA" --bogus "$T/d.json"
expect_rc 2 "$LA"
expect_rc 0 "$LA" --help

# ### suppressions, with used-suppression statistics
printf '# test rules\nleak:^leak_here$\nleak:inlined_helper\n' > "$T/supp"
expect_rc 0 "$LA" --fail-on-leak --suppressions "$T/supp" "$T/d.json"
has "Suppressions used:" "$T/out"
has "leak:^leak_here$" "$T/out"
has "4011 leak:^leak_here$" "$T/out"
has "SUMMARY: libleak: 0 byte(s) leaked in 0 allocation(s)." "$T/out"
printf 'leak:^leak_here$\n' > "$T/supp1"
expect_rc 1 "$LA" --fail-on-leak --suppressions "$T/supp1" "$T/d.json"
has "SUMMARY: libleak: 64 byte(s) leaked in 1 allocation(s)." "$T/out"
printf 'race:foo\n' > "$T/supp2"
expect_rc 2 "$LA" --suppressions "$T/supp2" "$T/d.json"
expect_rc 2 "$LA" --suppressions "$T/nonexistent" "$T/d.json"
# --gen-suppressions output hides every leak it lists
expect_rc 0 "$LA" --gen-suppressions "$T/d.json"
cp "$T/out" "$T/gen.supp"
has "leak-stack:^leak_here\$;^main\$" "$T/gen.supp"
has "leak-stack:^inlined_helper\$;^outer\$;^main\$" "$T/gen.supp"
expect_rc 0 "$LA" --fail-on-leak --suppressions "$T/gen.supp" "$T/d.json"

# ### version check names both versions
"$V" "$T/v9.json" 9
expect_rc 2 "$LA" "$T/v9.json"
has "dump format version 9 is newer than this leak-analyze supports (version 1)" "$T/err"

# ### bad input: one line naming the file, exit 2
: > "$T/empty.json"
printf '{"format": "libleak-dump", "version": 1, "stac' > "$T/trunc.json"
printf 'not json at all' > "$T/nonjson.json"
sed 's/"frames": \[[^]]*\]/"frames": 5/' "$T/d.json" > "$T/type.json"
sed 's/"live_bytes": 4011/"live_bytes": 9223372036854775807/' "$T/d.json" > "$T/absurd.json"
for f in empty trunc nonjson type absurd; do
    expect_rc 2 "$LA" "$T/$f.json"
    [ "$(wc -l < "$T/err")" -eq 1 ] || fail "$f: not one line: $(cat "$T/err")"
    has "$T/$f.json: " "$T/err"
done
expect_rc 2 "$LA" "$T/type.json"; has "stacks[0].frames: expected array, got integer" "$T/err"
expect_rc 2 "$LA" "$T/no/such/dir"
has "cannot open '$T/no/such/dir'" "$T/err"
mkfifo "$T/fifo.json"
expect_rc 2 timeout 10 "$LA" "$T/fifo.json"     # must not block on a FIFO
has "$T/fifo.json: not a regular file" "$T/err"
mkdir "$T/emptydir"
expect_rc 2 "$LA" "$T/emptydir"
has "no libleak dumps" "$T/err"

# ### a missing binary, then a rebuilt one: module+offset, one warning each
cp "$V" "$T/victim_copy"
"$T/victim_copy" "$T/copy.json"
rm "$T/victim_copy"
expect_rc 0 "$LA" "$T/copy.json"
[ "$(grep -c 'victim_copy: cannot read the binary' "$T/err")" -eq 1 ] || fail "missing binary: want one warning: $(cat "$T/err")"
has "(${T}/victim_copy+0x" "$T/out"
has "SUMMARY: libleak: 4075 byte(s) leaked" "$T/out"
cp /bin/true "$T/victim_copy"
expect_rc 0 "$LA" "$T/copy.json"
[ "$(grep -c 'differs from the dump' "$T/err")" -eq 1 ] || fail "rebuilt binary: want one warning: $(cat "$T/err")"

# ### several processes: per process and in total
mkdir "$T/multi"
"$V" "$T/multi/libleak.1.0.exit.json"
"$V" "$T/multi/libleak.2.0.exit.json"
expect_rc 0 "$LA" "$T/multi"
[ "$(grep -c '^== process ' "$T/out")" -eq 2 ] || fail "want two process sections"
has "SUMMARY: libleak: 8150 byte(s) leaked in 8 allocation(s) in 2 processes." "$T/out"

# ### baseline ratchet: shifted code passes, an added leak fails
# The shifted copy keeps the file's name (keys use the basename) and moves
# every site down 3 lines.
CC=${CC:-cc}
mkdir "$T/shift"
awk 'NR == 30 { print ""; print ""; print "" } { print }' "$SRC" > "$T/shift/an_selfdump.c"
$CC -g -O0 -fno-omit-frame-pointer -o "$T/v_shift" "$T/shift/an_selfdump.c" || fail "build shift"
$CC -g -O0 -fno-omit-frame-pointer -o "$T/v_extra" -DLK_EXTRA_LEAK "$T/shift/an_selfdump.c" \
    || fail "build extra"
"$LA" --format=json "$T/d.json" > "$T/base.json" || fail "baseline report"
"$T/v_shift" "$T/shift.json"; "$T/v_extra" "$T/extra.json"
expect_rc 0 "$LA" "$T/shift.json"
has "in leak_here $T/shift/an_selfdump.c:$((A + 3))" "$T/out"   # really shifted
expect_rc 0 "$LA" --fail-on-leak --baseline "$T/base.json" "$T/shift.json"
has "Baseline: 0 new and 0 grown leak site(s)." "$T/out"
expect_rc 1 "$LA" --baseline "$T/base.json" "$T/extra.json"
has "New since the baseline:" "$T/out"
has "in extra_leak" "$T/out"
has "1 leak site(s) new and 0 grown" "$T/err"
# a grown site fails too
sed 's/"live_bytes": 4011/"live_bytes": 5000/' "$T/shift.json" > "$T/grown.json"
expect_rc 1 "$LA" --baseline "$T/base.json" "$T/grown.json"
has "Grown since the baseline (was 4011 byte(s)):" "$T/out"
# and the diff for people
expect_rc 0 "$LA" diff "$T/base.json" "$T/extra.json"
has "new:    +128 byte(s) in 1 object(s) at extra_leak (an_selfdump.c:" "$T/out"
has "SUMMARY: 1 new, 0 gone, 0 grown, 0 shrunk leak site(s)" "$T/out"
expect_rc 0 "$LA" diff "$T/extra.json" "$T/d.json"
has "SUMMARY: 0 new, 1 gone, 0 grown, 0 shrunk leak site(s)" "$T/out"
expect_rc 2 "$LA" diff "$T/base.json"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
