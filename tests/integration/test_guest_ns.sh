#!/bin/sh
# test_guest_ns: libleak takes no descriptor number of the program's (the
# dumper is woken by a futex, not a pipe), and a call that needs a
# single-threaded process (unshare(CLONE_NEWUSER); util-linux's `unshare -U`)
# succeeds under the preload as it does natively: the dumper thread steps
# aside for it and comes back (the second snapshot is written).
. tests/integration/lib.sh
lk_init guest_ns
V=$BUILD/victims/guest_ns
[ -x "$V" ] || lk_fail "build $V first"

lk_run_both "$V"
[ "$LK_STATUS" -eq 0 ] || lk_fail "guest_ns exited $LK_STATUS"
grep -q '^first descriptor 3$' "$LK_TMP/pre.out" || lk_fail "unexpected output: $(cat "$LK_TMP/pre.out")"
n=$(ls "$LK_DUMPS" | grep -c '\.signal\.json$')
[ "$n" -eq 2 ] || lk_fail "$n snapshot dumps, expected 2 (one before and one after unshare): $(ls "$LK_DUMPS")"
lk_check_dumps "$LK_DUMPS" 3 >/dev/null || exit 1

if command -v unshare >/dev/null 2>&1 && unshare -U true 2>/dev/null; then
    lk_run_both unshare -U sh -c 'echo in a user namespace'
    [ "$LK_STATUS" -eq 0 ] || lk_fail "unshare -U exited $LK_STATUS"
else
    echo "unshare -U does not run natively here: that half skipped" >&2
fi
echo "ok"
