#!/bin/sh
# soak_node: node with a worker_threads Worker that builds and sorts objects
# while the main thread does JSON round trips; the worker posts its result.
# One process (the worker is a thread), one exit dump that loads.
. tests/soak/lib.sh
soak_init node
soak_need node
soak_run 300 node -e '
const { Worker } = require("worker_threads");
const w = new Worker(`
  const { parentPort } = require("worker_threads");
  const a = [];
  for (let i = 0; i < 200000; i++) a.push({ k: "k" + ((i * 7919) % 10007), v: i });
  a.sort((x, y) => x.k < y.k ? -1 : x.k > y.k ? 1 : x.v - y.v);
  parentPort.postMessage(a.slice(0, 3).map(o => o.k + ":" + o.v).join(","));
`, { eval: true });
let n = 0;
for (let r = 0; r < 20; r++) {
  const o = {};
  for (let i = 0; i < 5000; i++) o["key" + i] = [i, "v" + i];
  n += Object.keys(JSON.parse(JSON.stringify(o))).length;
}
w.on("message", m => { console.log("worker:", m); console.log("main:", n); });
w.on("error", e => { console.error(e); process.exit(3); });'
soak_expect_status 0
soak_dumps
soak_end
