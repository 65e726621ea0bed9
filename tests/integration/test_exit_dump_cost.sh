#!/bin/sh
# test_exit_dump_cost: what the exit dump of a small program costs, in
# counts: exit_bss has 4 MiB of .bss it never touches; the scan covers it as
# a root and classifies as before (one definite, one reachable block), but
# reads it without faulting it in (the bytes its reads copy stay far
# below it: the kernel tells which pages were never touched).  With
# strace: the exit dump unmaps nothing (its memory goes with the process),
# the main thread reads /proc/self/statm at most twice and each cgroup limit
# file at most once (once at start, not again at the dump).
. tests/integration/lib.sh
lk_init exit_dump_cost
V=$BUILD/victims/exit_bss
[ -x "$V" ] || lk_fail "build $V first"

lk_run_both "$V"
[ "$LK_STATUS" -eq 0 ] || lk_fail "exit_bss exited $LK_STATUS"
lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "exit_bss dump"
import json, os, sys
d = sys.argv[1]
j = [json.load(open(os.path.join(d, n))) for n in os.listdir(d)]
assert len(j) == 1, len(j)
r = j[0]["reachability"]
assert r["root_bytes"]["global"] >= 4 << 20, r["root_bytes"]
assert r["unreadable_bytes"] == 0, r["unreadable_bytes"]
k = r["kinds"]
assert k["definite"] == {"blocks": 1, "bytes": 200}, k
assert k["reachable"]["blocks"] >= 1 and k["reachable"]["bytes"] >= 1000, k
assert k["indirect"]["blocks"] == 0 and k["possible"]["blocks"] == 0, k
PY

if command -v strace >/dev/null; then
    mkdir "$LK_TMP/st"
    env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_TMP/st" strace -f -qq \
        -e trace=openat,process_vm_readv,pread64,munmap,renameat2,rename,link \
        -o "$LK_TMP/strace" "$V" >/dev/null 2>&1 || lk_fail "exit_bss under strace"
    ls "$LK_TMP/st"/libleak.*.exit.json >/dev/null 2>&1 || lk_fail "no exit dump under strace"
    # bytes the scan read (/proc/self/mem, process_vm_readv; pagemap's
    # entries too), 4 MiB before
    read_bytes=$(awk '/(process_vm_readv|pread64)\(/ && / = [0-9]+$/ { n += $NF } END { print n + 0 }' "$LK_TMP/strace")
    [ "$read_bytes" -lt $((1 << 20)) ] || lk_fail "the exit scan read $read_bytes bytes (the untouched .bss faulted in)"
    # from the scan's /proc/self/maps to the dump's rename: no munmap (11 before)
    unmaps=$(awk '/openat\(.*"\/proc\/self\/maps"/ { on = 1; n = 0 }
                  on && /munmap\(/ { n++ }
                  /rename|link\(/ { on = 0 }
                  END { print n + 0 }' "$LK_TMP/strace")
    [ "$unmaps" -eq 0 ] || lk_fail "the exit dump called munmap $unmaps times"
    # the main thread's: the dumper thread's ticks depend on how long it runs
    statm=$(awk 'NR == 1 { main = $1 } $1 == main && /openat\(.*"\/proc\/self\/statm"/ { n++ }
                 END { print n + 0 }' "$LK_TMP/strace")
    [ "$statm" -le 2 ] || lk_fail "/proc/self/statm opened $statm times"
    cg=$(grep -oE '"[^"]*/(memory\.limit_in_bytes|memory\.max)"' "$LK_TMP/strace" | sort | uniq -c |
         awk '$1 > 1' | head -1)
    [ -z "$cg" ] || lk_fail "a cgroup limit file opened more than once: $cg"
fi
echo "ok"
