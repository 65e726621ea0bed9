#!/bin/sh
# test_jit_code: allocations through generated code without unwind
# information (pl_jit: 4,096 code addresses on 16 anonymous pages, 20,000
# calls).  Under the preload it runs as natively; the stack is cut at the
# generated frame and marked jit_cut; the frames down to it are complete;
# each page costs one learning unwind, not each address or call; libunwind
# never probes memory for it (no mincore, when strace is there); and
# leak-analyze prints the frame as <JIT code>.
. tests/integration/lib.sh
lk_init jit_code
V=$BUILD/victims/pl_jit
[ -x "$V" ] || lk_fail "build $V first"

lk_run_both "$V"
[ "$LK_STATUS" -eq 0 ] || lk_fail "pl_jit exited $LK_STATUS"
lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" "$LK_TMP/pre.err" <<'PY' || lk_fail "pl_jit dump"
import json, os, sys
d = sys.argv[1]
lo, hi = [int(x, 16) for x in [l for l in open(sys.argv[2]) if l.startswith("jit ")][0].split()[1:3]]
j = [json.load(open(os.path.join(d, n))) for n in os.listdir(d)]
assert len(j) == 1, len(j)
cost = j[0]["cost"]
# one learning unwind a page of generated code (16) plus the program's own
# frames; before, one for each of the 4,096 addresses (or a crash)
assert cost["unwinds_learning"] < 100, cost
assert cost["unwinds_fallback"] == 0, cost
assert 1 <= cost["jit_ranges"] <= 16, cost
stacks = {s["id"]: s for s in j[0]["stacks"]}
through = [s for s in stacks.values() if s["frames"] and lo <= int(s["frames"][-1], 16) < hi]
assert len(through) == 4096, len(through)
for s in through:
    assert s.get("jit_cut") is True and len(s["frames"]) == 2, s
live = sum(x["live_blocks"] for x in j[0]["sites"] if x["stack"] in {s["id"] for s in through})
assert live == 5000, live
assert not any(s.get("jit_cut") for s in stacks.values() if s not in through)
PY
LA=$BUILD/leak-analyze
"$LA" --show=all "$LK_DUMPS" >"$LK_TMP/report" 2>"$LK_TMP/report.err" ||
    lk_fail "leak-analyze failed: $(head -c 300 "$LK_TMP/report.err")"
grep -q "in jit_alloc .*pl_jit.c:" "$LK_TMP/report" || lk_fail "no jit_alloc frame in the report"
grep -q "^    #1 0x[0-9a-f]* in <JIT code>$" "$LK_TMP/report" || lk_fail "no <JIT code> frame in the report"

if command -v strace >/dev/null; then
    mkdir "$LK_TMP/st"
    # -k: each call's stack, so that libleak's own mincore (the dump's
    # cost.rss_bytes, one a mapping) is told apart from libunwind's probes
    env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_TMP/st" strace -f -qq -k -e trace=mincore \
        -o "$LK_TMP/strace" "$V" >/dev/null 2>&1 || lk_fail "pl_jit under strace"
    # libunwind's probe at its start-up and a few of its cached ones of the
    # thread's stack may be there (4 to 6 seen); one a page of code (16) or a
    # call (6,188 before) is not.  The exit scan's one walk past libc's exit
    # frames (lk_scan_entry_outer) probes too, once a process: not counted.
    n=$(awk 'function done() { if (lu && !outer) n++; lu = outer = 0 }
             /mincore\(/ { done(); m = 1; next }
             /entry_outer|outer_frame/ { outer = 1 }
             m && /libc\.so/ { next }
             m { if (/libunwind/) lu = 1; m = 0 }
             END { done(); print n + 0 }' "$LK_TMP/strace")
    [ "$n" -le 12 ] || lk_fail "libunwind probed memory: $n mincore calls"
fi
echo "ok"
