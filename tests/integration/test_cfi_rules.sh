#!/bin/sh
# test_cfi_rules: a new return address's frame rule is read from its
# module's CFI (preload/cfi.c), not learned through libunwind.  `bash -c
# true` makes almost no learning unwind (173 before) and counts
# cost.rules_from_cfi; and the stacks are still exactly libunwind's: for
# victims with many sites (with and without frame pointers, through a signal
# handler, through a frame libunwind learns), sqlite3 and python3, every site (stack as module + offset, family, blocks) equals the
# one LIBLEAK_FAST_UNWIND=0 records.
. tests/integration/lib.sh
lk_init cfi_rules

# run DIR FAST CMD...: CMD under the preload, dumps in $LK_TMP/DIR, with the
# same environment but LIBLEAK_FAST_UNWIND (and no address randomisation
# where setarch can turn it off, so that the program runs the same way)
NORAND=
setarch "$(uname -m)" -R true 2>/dev/null && NORAND="setarch $(uname -m) -R"
run() {
    d=$LK_TMP/$1
    fast=$2
    shift 2
    mkdir -p "$d"
    $NORAND env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$d" LIBLEAK_SCAN=0 \
        LIBLEAK_FAST_UNWIND="$fast" PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$@" \
        >/dev/null 2>"$d.err" </dev/null || lk_fail "$*: exit status $? (LIBLEAK_FAST_UNWIND=$fast)"
}

run bash 1 bash -c true
env -u LD_PRELOAD "$LK_PY" - "$LK_TMP/bash" <<'PY' || lk_fail "bash -c true: learning unwinds"
import glob, json, sys
j = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/libleak.*.json")]
assert len(j) == 1, len(j)
cost = j[0]["cost"]
# before the CFI was read directly: 173 learning unwinds (each step of them
# two rt_sigprocmask calls)
assert cost["unwinds_learning"] <= 5, cost
assert cost["rules_from_cfi"] >= 100, cost
assert cost["unwinds_fallback"] == 0, cost
PY

printf 'CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) INSERT INTO t SELECT x, printf("row %%d", x) FROM c;\nCREATE INDEX tb ON t(b);\nSELECT count(*), sum(length(b)) FROM t WHERE b LIKE "row 1%%";\n' \
    >"$LK_TMP/q.sql"
PYPROG='
import json
words = ["w%05d" % (i * 7919 % 10007) for i in range(20000)]
index = {}
for i, w in enumerate(words):
    index.setdefault(w[:3], []).append(i)
print(len(json.dumps({k: len(v) for k, v in sorted(index.items())})))'
n=0
for v in pl_manysites pl_leak_nofp pl_vla_nofp pl_deep pl_cxx pl_sighandler pl_sigmask; do
    [ -x "$BUILD/victims/$v" ] || lk_fail "build $BUILD/victims/$v first"
done
for fast in 1 0; do
    for v in pl_manysites pl_leak_nofp pl_vla_nofp pl_deep pl_cxx pl_sighandler pl_sigmask; do
        run "$v.$fast" "$fast" "$BUILD/victims/$v"
    done
    command -v sqlite3 >/dev/null && run "sqlite.$fast" "$fast" sqlite3 -batch :memory: ".read $LK_TMP/q.sql"
    run "python.$fast" "$fast" "$LK_PY" -c "$PYPROG"
done
for t in pl_manysites pl_leak_nofp pl_vla_nofp pl_deep pl_cxx pl_sighandler pl_sigmask sqlite python; do
    [ -d "$LK_TMP/$t.1" ] || continue
    env -u LD_PRELOAD "$LK_PY" - "$LK_TMP/$t.1" "$LK_TMP/$t.0" <<'PY' || lk_fail "$t: fast and full unwinds differ"
import collections, glob, json, sys

def sites(d):
    """(exe, stack as (module, offset) frames, family) -> blocks, and the cost"""
    out, cost = collections.Counter(), None
    for f in sorted(glob.glob(d + "/libleak.*.json")):
        j = json.load(open(f))
        if j["dump"]["trigger"] != "exit":
            continue
        cost = j["cost"]
        mods = [(int(m["base"], 16), m["path"], m.get("size", 0)) for m in j["modules"]]
        def rel(a):
            a = int(a, 16)
            for b, p, sz in mods:
                if b <= a < b + sz:
                    return (p, a - b)
            return ("?", a)
        # frames and truncation (jit_cut is the fast path's own mark: ld.so's
        # entry, without an FDE, ends a constructor's stack with it)
        st = {s["id"]: (tuple(rel(a) for a in s["frames"]), s["truncated"]) for s in j["stacks"]}
        for s in j["sites"]:
            out[(j["process"]["exe"], st[s["stack"]], s["family"])] += s["total_blocks"]
    return out, cost

fast, fcost = sites(sys.argv[1])
full, _ = sites(sys.argv[2])
assert fast and fcost is not None, sys.argv[1]
diff = [k for k in set(fast) | set(full) if fast[k] != full[k]]
assert not diff, "%d of %d sites differ, e.g. %s: %d fast, %d full" % (
    len(diff), len(full), diff[0], fast[diff[0]], full[diff[0]])
assert fcost["rules_from_cfi"] > 0, fcost

PY
    n=$((n + 1))
done
[ "$n" -ge 8 ] || lk_fail "only $n programs compared"
echo "ok: $n programs, fast stacks = libunwind's"
