#!/bin/sh
# test_start_cost.sh - what the preload adds to a small process's start, in
# counts that load does not move: the libraries it brings in (each one a
# load: opens, mappings and ~10 page faults on a VM where a fault costs
# 10-14 us).  libleak's own needs are libgcc_s (unwinding through the
# hooks, the exit scan's and the crash's walks) and libc; not libm, and not
# libunwind (nor liblzma, its dependency) until a stack needs it
# (test_unwind_late).
. tests/integration/lib.sh
lk_init start_cost

# libleak's static TLS: the loader zeroes it in every thread it starts, the
# program's too (16 KiB of it had been a site cache: 4 page faults a thread)
tls=$(readelf -lW "$LK_SO" | awk '$1 == "TLS" { print $6 }')
[ -n "$tls" ] || lk_fail "no TLS segment in $LK_SO"
[ $((tls)) -le 4096 ] || lk_fail "libleak's static TLS is $((tls)) bytes a thread (at most 4096)"

victim=$BUILD/victims/pl_basic
[ -x "$victim" ] || lk_fail "missing $victim"
ldd "$victim" | grep -q 'libm\.so' && lk_fail "$victim itself links libm: pick another victim"

lk_run_both "$victim"
lk_check_dumps "$LK_DUMPS" 1
dump=$(ls "$LK_DUMPS"/*.exit.json 2>/dev/null | head -n 1)
[ -n "$dump" ] || lk_fail "no exit dump"
"$LK_PY" - "$dump" <<'PY' || exit 1
import json, os, sys
mods = [os.path.basename(m.get("path", "")) for m in json.load(open(sys.argv[1]))["modules"]]
if not any(m.startswith("libc.so") for m in mods):
    sys.exit("FAIL: the modules array lists no libc: %s" % mods)
extra = [m for m in mods if m.startswith(("libm.so", "libm-", "libunwind", "liblzma"))]
if extra:
    sys.exit("FAIL: the preload loads %s into a program that does not use it (modules: %s)"
             % (extra, " ".join(mods)))
PY
echo "ok: static TLS $((tls)) bytes; modules of a small preloaded process: no libm, no libunwind"
