#!/bin/sh
# test_real_node: node (V8: JIT code without unwind information, a Worker
# thread) builds objects, strings and JSON in a loop under the preload, with
# the same exit status and stdout as without it.  Every dump is valid (each
# frame in a module but the generated code a jit_cut stack ends at) and
# loads in leak-analyze; stacks are cut at JIT frames; and the learning
# unwinds stay bounded by the code node runs, not its allocations (before
# the cut: one capture in four was a learning unwind, each probing memory).
. tests/integration/lib.sh
lk_init real_node
NODE=$(command -v node || command -v nodejs) || { echo "SKIP: node missing (tools/deps.sh test)"; exit 77; }

cat >"$LK_TMP/work.js" <<'JS'
const { Worker, isMainThread, parentPort } = require('worker_threads');
function work(rounds) {
  let n = 0, keep = [];
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 200; i++) {
      const o = { id: n, name: 'item' + n, tags: ['a' + (n % 7), 'b' + (n % 13)], v: Math.sqrt(n) };
      const s = JSON.stringify(o);
      keep.push(JSON.parse(s).name + s.length);
      if (keep.length > 5000) keep = [];
      n++;
    }
  }
  return n;
}
if (isMainThread) {
  const w = new Worker(__filename);
  w.on('message', (m) => { console.log('worker', m); });
  w.on('exit', (c) => { console.log('worker exit', c); process.exitCode = 4; });
  console.log('main', work(150));
} else {
  parentPort.postMessage(work(75));
}
JS
lk_run_both "$NODE" "$LK_TMP/work.js"
[ "$LK_STATUS" -eq 4 ] || lk_fail "node exited $LK_STATUS, expected 4"
n=$(lk_check_dumps "$LK_DUMPS" 1) || exit 1
env -u LD_PRELOAD "$LK_PY" - "$LK_DUMPS" <<'PY' || lk_fail "node's dump"
import json, os, sys
d = sys.argv[1]
j = [json.load(open(os.path.join(d, n))) for n in os.listdir(d)]
j = [x for x in j if x["dump"]["trigger"] == "exit" and "node" in x["process"]["exe"]]
assert len(j) == 1, len(j)
cost, t = j[0]["cost"], j[0]["totals"]
cut = [s for s in j[0]["stacks"] if s.get("jit_cut")]
assert cut and cost["jit_ranges"] >= 1, (len(cut), cost)
# ~4,400 return addresses of node's own code are learned once each, against
# ~600k allocations (before: 160k learning unwinds)
assert cost["unwinds_learning"] * 20 < t["alloc_count"], (cost, t["alloc_count"])
PY
"$BUILD/leak-analyze" --show=all "$LK_DUMPS" >"$LK_TMP/report" 2>"$LK_TMP/report.err" ||
    lk_fail "leak-analyze: $(head -c 300 "$LK_TMP/report.err")"
echo "ok: $n dump(s)"
