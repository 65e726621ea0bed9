#!/bin/sh
# test_killed: a program ended by SIGTERM, SIGINT, SIGHUP or SIGPIPE (default
# disposition) dies of it under the preload as natively (same status) and
# still leaves its exit dump, scanned: the dropped 4242-byte block is a
# definite leak, the one held by a global reachable.
. tests/integration/lib.sh
lk_init killed
V=$BUILD/victims/killed
[ -x "$V" ] || lk_fail "build $V first"

for s in TERM INT HUP PIPE; do
    lk_run_both "$V" $s
    [ "$LK_STATUS" -gt 128 ] || lk_fail "killed $s exited $LK_STATUS natively, not by the signal"
    ls "$LK_DUMPS" | grep -q '\.exit\.json$' || lk_fail "SIG$s: no exit dump ($(ls "$LK_DUMPS"))"
    lk_check_dumps "$LK_DUMPS" 1 >/dev/null || exit 1
    env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" "$s" <<'PY' || lk_fail "SIG$s: the exit dump"
import json, os, sys
d = sys.argv[1]
[n] = [n for n in os.listdir(d) if n.endswith(".exit.json")]
j = json.load(open(os.path.join(d, n)))
k = j["reachability"]["kinds"]
assert k["definite"]["bytes"] >= 4242, k
assert k["reachable"]["bytes"] >= 1000, k
PY
done
echo "ok"
