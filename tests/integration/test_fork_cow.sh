#!/bin/sh
# test_fork_cow: the exit scan of a forked child reads the memory it shares
# copy-on-write with its parent without copying it.  fork_cow's child
# inherits 24 MiB of written heap and 1 MiB of .bss and exits; pinning those
# pages to read them (process_vm_readv) would make the kernel copy each one,
# a minor fault in the child per page.  Its faults must stay far below the
# inherited page count; the parent's dump classifies as before (the 384
# blocks reachable from .bss, the 300-byte one definite) and the child's
# scanned every inherited block as a root.
. tests/integration/lib.sh
lk_init fork_cow
V=$BUILD/victims/fork_cow
[ -x "$V" ] || lk_fail "build $V first"

lk_run_both "$V"
[ "$LK_STATUS" -eq 0 ] || lk_fail "fork_cow exited $LK_STATUS"
lk_check_dumps "$LK_DUMPS" 2 >/dev/null || exit 1
line=$(grep '^fork_cow: child minflt' "$LK_TMP/pre.err") || lk_fail "no fault count: $(head -c 300 "$LK_TMP/pre.err")"
set -- $line
flt=$4 pages=$7
[ "$flt" -lt $((pages / 4)) ] ||
    lk_fail "the child faulted $flt times for $pages inherited pages (its exit scan copied them)"
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "fork_cow dumps"
import json, os, sys
d = sys.argv[1]
j = [json.load(open(os.path.join(d, n))) for n in sorted(os.listdir(d))]
assert len(j) == 2, len(j)
parent, child = sorted((x["reachability"] for x in j), key=lambda r: -r["live_blocks"])
for r in (parent, child):
    assert r["unreadable_bytes"] == 0, r["unreadable_bytes"]
k = parent["kinds"]
assert k["definite"] == {"blocks": 1, "bytes": 300}, k
assert k["reachable"]["blocks"] >= 384 and k["reachable"]["bytes"] >= 384 * 65536, k
assert k["indirect"]["blocks"] == 0 and k["possible"]["blocks"] == 0, k
# the child's inherited blocks are its roots: it read all of them
assert child["live_blocks"] == 0, child["live_blocks"]
assert child["root_bytes"]["global"] >= 384 * 65536 + (1 << 20), child["root_bytes"]
PY
echo "ok"
