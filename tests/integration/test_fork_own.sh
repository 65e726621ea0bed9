#!/bin/sh
# test_fork_own: a forked child's exit scan classifies its own blocks only
# and reads only the pages it wrote since the fork.  fork_own's parent holds
# 2000 blocks of 256 bytes; of its children, "none" allocates nothing (no
# scan: roots_scanned false), "own" leaks one block and holds two (from a
# global and from an inherited block) and must read far fewer root bytes
# than it inherited, the rest counted in shared_root_bytes; "grand" does the
# same after forking a grandchild, so its pages are shared with a child of
# its own: it reads every inherited block, and classifies the same.  The
# dumper thread leaves before each exit dump: the scan stops one thread.
. tests/integration/lib.sh
lk_init fork_own
V=$BUILD/victims/fork_own
[ -x "$V" ] || lk_fail "build $V first"

# fork_own prints its children's pids: no native run to compare with
LK_DUMPS=$LK_TMP/dumps
mkdir "$LK_DUMPS" || lk_fail "mkdir"
env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_DUMPS" "$V" >"$LK_TMP/pre.out" 2>"$LK_TMP/pre.err" \
    || lk_fail "fork_own failed under the preload: $(head -c 300 "$LK_TMP/pre.err")"
lk_check_dumps "$LK_DUMPS" 5 >/dev/null || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" "$LK_TMP/pre.out" <<'PY' || lk_fail "fork_own dumps"
import json, os, sys
d, out = sys.argv[1], sys.argv[2]
pids = {name: pid for name, pid in (l.split() for l in open(out))}
dumps = {}
for n in os.listdir(d):
    dumps[n.split(".")[1]] = json.load(open(os.path.join(d, n)))
assert len(dumps) == 5, sorted(dumps)
INH = 2000 * 256

none = dumps.pop(pids["none"])
assert none["totals"]["inherited_blocks"] >= 2000, none["totals"]
r = none["reachability"]
assert r.get("roots_scanned") is False, r
assert r["live_blocks"] == 0 and sum(r["root_bytes"].values()) == 0, r

def own_kinds(name):
    r = dumps.pop(pids[name])["reachability"]
    assert r["complete"] and r["unreadable_bytes"] == 0, r
    assert r["kinds"]["definite"] == {"blocks": 1, "bytes": 4321}, r["kinds"]
    got = {(s["bytes"], s["kind"]) for s in r["sites"]}
    assert (999, "reachable") in got and (777, "reachable") in got, got
    return r

r = own_kinds("own")
# the dumper thread left before the exit dump: the scan had one thread to stop
assert r["threads"] == 1 and r["not_stopped"] == 0, (r["threads"], r["not_stopped"])
assert r.get("shared_root_bytes", 0) >= INH, r.get("shared_root_bytes")
assert r["root_bytes"]["global"] < INH // 2, r["root_bytes"]
r = own_kinds("grand")
assert "shared_root_bytes" not in r, r["shared_root_bytes"]
assert r["root_bytes"]["global"] >= INH, r["root_bytes"]

# the grandchild and the parent are left; the grandchild has no block of its own
kids = [j for j in dumps.values() if "inherited_from_pid" in j["totals"]]
assert len(kids) == 1, len(kids)
assert kids[0]["reachability"].get("roots_scanned") is False, kids[0]["reachability"]
PY
echo "ok"
