#!/bin/sh
# test_xthread_real: programs whose threads free and realloc each other's
# blocks write dumps the analyzer loads (exit 0 or 1, never 2): python3 with
# 4 producer and 4 consumer threads passing objects through a queue, and
# node with a worker_threads worker (when node is installed).  Before, a free
# folded before its allocation wrapped a peak to 2^64 - x and the analyzer
# rejected the dump as an absurd value.
. tests/integration/lib.sh
lk_init xthread_real
AN=$(cd "$BUILD" && pwd)/leak-analyze

all_load() {
    for f in "$LK_DUMPS"/*.json; do
        "$AN" "$f" >/dev/null 2>"$LK_TMP/an.err"
        st=$?
        [ "$st" -le 1 ] || { cat "$LK_TMP/an.err" >&2; lk_fail "leak-analyze rejects $(basename "$f") ($1)"; }
    done
}

# every object through malloc (not pymalloc's arenas): consumers free what
# producers allocated
export PYTHONMALLOC=malloc
lk_run_both "$LK_PY" -c '
import json, queue, threading
q = queue.Queue(maxsize=256)
def prod(k):
    for i in range(5000):
        q.put({"k": [i] * 10, "s": str(i + k) * 5})
def cons():
    n = 0
    for i in range(5000):
        n += len(json.dumps(q.get()))
ts = [threading.Thread(target=prod, args=(k,)) for k in range(4)]
ts += [threading.Thread(target=cons) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("ok")'
[ "$LK_STATUS" -eq 0 ] || lk_fail "python3 exited $LK_STATUS"
n=$(lk_check_dumps "$LK_DUMPS" 1) || exit 1
all_load python3
unset PYTHONMALLOC

m=0
if command -v node >/dev/null 2>&1; then
    cat >"$LK_TMP/w.js" <<'JS'
const { Worker, isMainThread, parentPort } = require('worker_threads');
if (isMainThread) {
  const w = new Worker(__filename);
  let n = 0;
  w.on('message', (m) => { n += m.length; });
  w.on('exit', () => { console.log('ok', n > 0); });
} else {
  for (let i = 0; i < 500; i++) parentPort.postMessage(JSON.stringify({ i, a: new Array(50).fill(i) }));
}
JS
    lk_run_both node "$LK_TMP/w.js"
    [ "$LK_STATUS" -eq 0 ] || lk_fail "node exited $LK_STATUS"
    # frames in JIT code lie in no module, so lk_check_dumps would reject
    # node's stacks; the analyzer must load them all the same
    m=$(ls "$LK_DUMPS" | wc -l)
    [ "$m" -ge 1 ] || lk_fail "node left no dump"
    all_load node
fi
echo "ok: $n python3 + $m node dump(s)"
