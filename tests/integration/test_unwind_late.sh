#!/bin/sh
# test_unwind_late: libunwind (and liblzma, its dependency) is loaded only
# when a stack needs it.  pl_basic's stacks are all read from the CFI: its
# dump lists neither module.  pl_unwind_late allocates through a frame the
# CFI reader declines: that first stack is walked by libgcc's unwinder
# (counted in cost.unwinds_libgcc), the dumper thread loads libunwind, and the
# same path's next stack is learned with it; both are full.  With
# LIBLEAK_FAST_UNWIND=0 libunwind is there from the start.
# pl_gapped: a program laid out with holes, whose rules are read all the same.
. tests/integration/lib.sh
lk_init unwind_late
for v in pl_basic pl_gapped pl_unwind_late; do
    [ -x "$BUILD/victims/$v" ] || lk_fail "build $BUILD/victims/$v first"
done

lk_run_both "$BUILD/victims/pl_basic"
lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "pl_basic loaded libunwind"
import json, os, sys
d = sys.argv[1]
for n in os.listdir(d):
    j = json.load(open(os.path.join(d, n)))
    mods = [os.path.basename(m.get("path", "")) for m in j["modules"]]
    assert any(m.startswith("libc.so") for m in mods), mods
    assert not any(m.startswith(("libunwind", "liblzma")) for m in mods), mods
    c = j["cost"]
    assert c["unwinds_libgcc"] == 0 and c["unwinds_learning"] == 0 and c["unwinds_fallback"] == 0, c
PY

# pl_gapped's program has holes between its segments (Debian's make and
# node too): glibc's _dl_find_object spans its code segment only, and its
# frames' rules are still read from its .eh_frame (they were all declined)
lk_run_both "$BUILD/victims/pl_gapped"
lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "pl_gapped's frames needed libunwind"
import json, os, sys
d = sys.argv[1]
j = [json.load(open(os.path.join(d, n))) for n in os.listdir(d)][0]
c = j["cost"]
assert c["unwinds_libgcc"] == 0 and c["unwinds_learning"] == 0 and c["unwinds_fallback"] == 0, c
mods = [os.path.basename(m.get("path", "")) for m in j["modules"]]
assert not any(m.startswith("libunwind") for m in mods), mods
stacks = {s["id"]: s for s in j["stacks"]}
site = [s for s in j["sites"] if s["live_bytes"] == 3 * 4242][0]
# leak_4242, two_deep, main, libc's two, _start
assert len(stacks[site["stack"]]["frames"]) >= 4, stacks[site["stack"]]
PY

# $1: "late" (default settings) or "start" (LIBLEAK_FAST_UNWIND=0)
check_late() {
    env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" "$1" <<'PY'
import json, os, sys
d, mode = sys.argv[1], sys.argv[2]
dumps = [json.load(open(os.path.join(d, n))) for n in os.listdir(d)]
assert len(dumps) == 1, len(dumps)
j = dumps[0]
mods = [os.path.basename(m.get("path", "")) for m in j["modules"]]
assert any(m.startswith("libunwind") for m in mods), mods
stacks = {s["id"]: s for s in j["stacks"]}
by_size = {s["live_bytes"]: stacks[s["stack"]] for s in j["sites"] if s["live_bytes"] in (111, 222)}
first, second = by_size[111], by_size[222]
c = j["cost"]
# the full stack: late_alloc, decline_call, main, libc's two, _start
assert len(second["frames"]) >= 4 and not second.get("jit_cut"), second
assert c["unwinds_learning"] + c["unwinds_fallback"] + c["unwinds_libgcc"] >= 1, c
# the same path, as full (main's call sites differ)
assert first["frames"][:2] == second["frames"][:2] and not first.get("jit_cut"), (first, second)
assert len(first["frames"]) == len(second["frames"]), (first, second)
if mode == "late":
    # the first by libgcc's unwinder (or libunwind, if the dumper thread was
    # quicker than the capture), the second learned with libunwind
    assert c["unwinds_libgcc"] <= 1 and c["unwinds_learning"] >= 1, c
else:
    assert c["unwinds_libgcc"] == 0, c
PY
}

lk_run_both "$BUILD/victims/pl_unwind_late"
lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
grep -q "^libunwind at start: no$" "$LK_TMP/pre.err" || lk_fail "libunwind loaded at start: $(cat "$LK_TMP/pre.err")"
grep -q "^libunwind after: yes$" "$LK_TMP/pre.err" || lk_fail "libunwind never loaded: $(cat "$LK_TMP/pre.err")"
check_late late || lk_fail "pl_unwind_late's dump (libunwind loaded late)"

rm -rf "$LK_DUMPS" && mkdir "$LK_DUMPS"
env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_DUMPS" LIBLEAK_FAST_UNWIND=0 "$BUILD/victims/pl_unwind_late" \
    >"$LK_TMP/fu0.out" 2>"$LK_TMP/fu0.err" </dev/null || lk_fail "pl_unwind_late with LIBLEAK_FAST_UNWIND=0"
grep -q "^libunwind at start: yes$" "$LK_TMP/fu0.err" || lk_fail "LIBLEAK_FAST_UNWIND=0: libunwind not loaded at start"
check_late start || lk_fail "pl_unwind_late's dump with LIBLEAK_FAST_UNWIND=0"
echo "ok"
