// node_workload.js - the node row of make bench, after the soak's node case:
// a worker_threads Worker builds and sorts objects while the main thread
// does JSON round trips of a 5000-key object; the worker posts its result.
// Usage: node node_workload.js [rounds=20]  (the worker builds rounds * 10000 objects)
const { Worker } = require("worker_threads");
const rounds = Math.max(1, parseInt(process.argv[2] || "20", 10));
const w = new Worker(`
  const { parentPort, workerData } = require("worker_threads");
  const a = [];
  for (let i = 0; i < workerData; i++) a.push({ k: "k" + ((i * 7919) % 10007), v: i });
  a.sort((x, y) => x.k < y.k ? -1 : x.k > y.k ? 1 : x.v - y.v);
  parentPort.postMessage(a.slice(0, 3).map(o => o.k + ":" + o.v).join(","));
`, { eval: true, workerData: rounds * 10000 });
let n = 0;
for (let r = 0; r < rounds; r++) {
  const o = {};
  for (let i = 0; i < 5000; i++) o["key" + i] = [i, "v" + i];
  n += Object.keys(JSON.parse(JSON.stringify(o))).length;
}
w.on("message", m => { console.log("worker:", m); console.log("main:", n); });
w.on("error", e => { console.error(e); process.exit(3); });
