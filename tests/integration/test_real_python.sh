#!/bin/sh
# test_real_python: python3 -c with a small allocation-heavy workload runs
# under the preload with the same exit status (3) and stdout as without it,
# and leaves a valid exit dump naming python3 with live blocks recorded.
# PYTHONMALLOC=malloc (in both runs) sends every object through malloc
# instead of pymalloc's arenas, so the hooks see tens of thousands of calls.
. tests/integration/lib.sh
lk_init real_python
command -v "$LK_PY" >/dev/null || lk_fail "python3 missing (tools/deps.sh test)"

export PYTHONMALLOC=malloc
lk_run_both "$LK_PY" -c '
import json, sys
words = ["w%05d" % (i * 7919 % 10007) for i in range(20000)]
index = {}
for i, w in enumerate(words):
    index.setdefault(w[:3], []).append(i)
blob = json.dumps({k: len(v) for k, v in sorted(index.items())})
back = json.loads(blob)
rows = sorted((v, k) for k, v in back.items())[-5:]
print(len(words), len(index), sum(back.values()))
print(rows)
print(sum(len(s) for s in (str(x) * 3 for x in range(5000))))
sys.exit(3)'
[ "$LK_STATUS" -eq 3 ] || lk_fail "python3 exited $LK_STATUS, expected 3"
n=$(lk_check_dumps "$LK_DUMPS" 1) || exit 1
lk_dump_exes "$LK_DUMPS" | grep python3 >/dev/null || lk_fail "no dump from python3"
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "python3 dump has no live blocks"
import json, os, sys
d = sys.argv[1]
j = [json.load(open(os.path.join(d, n))) for n in os.listdir(d)]
j = [x for x in j if "python3" in x["process"]["exe"] and x["dump"]["trigger"] == "exit"]
assert len(j) == 1, len(j)
t = j[0]["totals"]
assert t["alloc_count"] > 20000 and t["live_blocks"] > 0 and t["free_count"] > 0, t
PY
# Threads, a subprocess (vfork/posix_spawn in _posixsubprocess) and a fork
# whose child leaves through os._exit(): every process leaves a valid dump.
lk_run_both "$LK_PY" -c '
import os, subprocess, threading
res = []
lock = threading.Lock()
def work(k):
    v = sum(len(str(i) * 2) for i in range(20000 + k))
    with lock:
        res.append(v)
ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
out = subprocess.run(["/bin/echo", "child says hi"], capture_output=True).stdout.decode()
pid = os.fork()
if pid == 0:
    os._exit(7)
_, st = os.waitpid(pid, 0)
print(sorted(res)[:3], len(res), out.strip(), os.waitstatus_to_exitcode(st))'
[ "$LK_STATUS" -eq 0 ] || lk_fail "python3 (threads, subprocess, fork) exited $LK_STATUS"
m=$(lk_check_dumps "$LK_DUMPS" 3) || exit 1
lk_dump_exes "$LK_DUMPS" | grep /echo >/dev/null || lk_fail "no dump from the echo subprocess"
echo "ok: $n + $m dump(s)"
