#!/bin/sh
# test_dlclose_modules: dlclose_loop leaks from libdlleak.so five times and
# dlcloses it each time, so the library is gone at the exit dump.  The dump
# keeps it in modules[] (with its unload time and stack count), every frame
# lies in a module, and leak-analyze names dlleak_leak at dlleak.c:LINE for
# all five blocks, with no ?? frame.
. tests/integration/lib.sh
lk_init dlclose_modules
V=$BUILD/victims/dlclose_loop
LA=$BUILD/leak-analyze
[ -x "$V" ] && [ -f "$BUILD/victims/libdlleak.so" ] && [ -x "$LA" ] || lk_fail "build $V, libdlleak.so and $LA first"
lk_run_both "$V"
[ "$LK_STATUS" -eq 0 ] || lk_fail "dlclose_loop exited $LK_STATUS: $(cat "$LK_TMP/pre.err")"
lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "libdlleak.so is not among the unloaded modules"
import json, os, sys
d = sys.argv[1]
j = json.load(open(os.path.join(d, [n for n in os.listdir(d) if n.endswith(".exit.json")][0])))
gone = [m for m in j["modules"] if m["path"].endswith("/libdlleak.so") and "unload_uptime_ns" in m]
assert gone and all(m["stacks_before_unload"] > 0 and m["build_id"] for m in gone), j["modules"]
PY
line=$(grep -n 'dlleak: the leak' tests/integration/victims/lib/dlleak.c | cut -d: -f1)
"$LA" "$LK_DUMPS" >"$LK_TMP/report" 2>"$LK_TMP/aerr"
rc=$?
[ "$rc" -eq 0 ] || lk_fail "leak-analyze exited $rc: $(head -c 600 "$LK_TMP/aerr")"
grep -q "in dlleak_leak tests/integration/victims/lib/dlleak.c:$line\$" "$LK_TMP/report" \
    || lk_fail "dlleak_leak at dlleak.c:$line not in the report: $(head -c 1200 "$LK_TMP/report")"
! grep -q '??' "$LK_TMP/report" || lk_fail "?? in the report: $(grep -B2 -A2 '??' "$LK_TMP/report" | head -20)"
grep -q "definitely lost: 21210 byte(s) in 5 block(s)" "$LK_TMP/report" \
    || lk_fail "not 5 blocks of 4242 bytes: $(grep lost "$LK_TMP/report")"
echo "ok: dlleak_leak at dlleak.c:$line"
