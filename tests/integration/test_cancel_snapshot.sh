#!/bin/sh
# test_cancel_snapshot: a thread cancelled while libleak_snapshot writes its
# dump (open and write are cancellation points) leaves no lock of libleak's
# held: main's snapshot after it and the exit dump are written, the process
# exits (it hung at exit before), and no temporary file is left.
. tests/integration/lib.sh
lk_init cancel_snapshot
V=$BUILD/victims/pl_cancel_snap
[ -x "$V" ] || lk_fail "build $V first"
command -v timeout >/dev/null || { echo "no timeout(1)"; exit 77; }
LK_DUMPS=$LK_TMP/dumps
mkdir "$LK_DUMPS"
env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_DUMPS" timeout 60 "$V" >"$LK_TMP/out" 2>"$LK_TMP/err" </dev/null
rc=$?
[ "$rc" -ne 124 ] || lk_fail "pl_cancel_snap hung (a lock left held by the cancelled thread)"
[ "$rc" -eq 0 ] || lk_fail "pl_cancel_snap exited $rc: $(tail -n 5 "$LK_TMP/err")"
grep -qx ok "$LK_TMP/out" || lk_fail "pl_cancel_snap did not finish"
lk_check_dumps "$LK_DUMPS" 2 >/dev/null || exit 1
ls "$LK_DUMPS" | grep -q '\.exit\.json$' || lk_fail "no exit dump"
echo "ok"
