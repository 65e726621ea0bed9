#!/bin/sh
# test_fork_cow: the exit scan of a forked child reads the memory it shares
# copy-on-write with its parent without copying it.  fork_cow's child
# inherits 24 MiB of written heap and 1 MiB of .bss and exits; pinning those
# pages to read them (process_vm_readv) would make the kernel copy each one,
# a minor fault in the child per page.  Its faults must stay far below the
# inherited page count; the parent's dump classifies as before (the 384
# blocks reachable from .bss, the 300-byte one definite).  The child has no
# block of its own, so it does not scan; with "grand" it has one, and its
# pages are shared with a grandchild too, so it reads every inherited block
# as a root.
. tests/integration/lib.sh
lk_init fork_cow
V=$BUILD/victims/fork_cow
[ -x "$V" ] || lk_fail "build $V first"

for mode in plain grand; do
lk_run_both "$V" $mode
[ "$LK_STATUS" -eq 0 ] || lk_fail "fork_cow $mode exited $LK_STATUS"
lk_check_dumps "$LK_DUMPS" 2 >/dev/null || exit 1
line=$(grep '^fork_cow: child minflt' "$LK_TMP/pre.err") || lk_fail "no fault count: $(head -c 300 "$LK_TMP/pre.err")"
set -- $line
flt=$4 pages=$7
[ "$flt" -lt $((pages / 4)) ] ||
    lk_fail "the child faulted $flt times for $pages inherited pages (its exit scan copied them)"
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" $mode <<'PY' || lk_fail "fork_cow $mode dumps"
import json, os, sys
d, mode = sys.argv[1], sys.argv[2]
j = [json.load(open(os.path.join(d, n))) for n in sorted(os.listdir(d))]
assert len(j) == (3 if mode == "grand" else 2), len(j)
parent = [x["reachability"] for x in j if "inherited_from_pid" not in x["totals"]][0]
# the child, and with "grand" its child (no block of its own: no scan)
kids = sorted((x for x in j if "inherited_from_pid" in x["totals"]),
              key=lambda x: -x["totals"]["live_blocks"])
child = kids[0]["reachability"]
for x in kids[1:]:
    assert x["reachability"].get("roots_scanned") is False, x["reachability"]
for r in (parent, child):
    assert r["unreadable_bytes"] == 0, r["unreadable_bytes"]
k = parent["kinds"]
assert k["definite"] == {"blocks": 1, "bytes": 300}, k
assert k["reachable"]["blocks"] >= 384 and k["reachable"]["bytes"] >= 384 * 65536, k
assert k["indirect"]["blocks"] == 0 and k["possible"]["blocks"] == 0, k
if mode == "plain":
    # nothing of its own to classify: no root read
    assert child.get("roots_scanned") is False and child["live_blocks"] == 0, child
else:
    # its pages are shared with its own child too: every inherited block
    # is a root, read whole
    assert child["live_blocks"] == 1 and "shared_root_bytes" not in child, child
    assert child["root_bytes"]["global"] >= 384 * 65536 + (1 << 20), child["root_bytes"]
PY
done
echo "ok"
