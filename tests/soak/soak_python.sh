#!/bin/sh
# soak_python: python3 with json, re, classes, 8 threads and a subprocess (a
# second python3).  PYTHONMALLOC=malloc in both runs sends every object
# through malloc, so the hooks see the interpreter's whole churn, and blocks
# made by one thread are freed by another.  Two processes, a dump from each.
# soak: quick
. tests/soak/lib.sh
soak_init python
soak_need python3
export PYTHONMALLOC=malloc
soak_run 180 "$SK_PY" -c '
import json, re, subprocess, sys, threading

class Node:
    def __init__(self, k, kids):
        self.k, self.kids = k, kids
    def size(self):
        return 1 + sum(c.size() for c in self.kids)

def tree(d, k):
    return Node(k, [tree(d - 1, k * 3 + i) for i in range(3)] if d else [])

res = {}
lock = threading.Lock()
def work(t):
    words = ["w%05d" % (i * 7919 % 10007 + t) for i in range(20000)]
    pat = re.compile(r"w(\d)(\d)\2")
    hits = sum(1 for w in words if pat.match(w))
    blob = json.loads(json.dumps({w: i for i, w in enumerate(words)}))
    with lock:
        res[t] = (hits, len(blob), tree(6, t).size())
ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for t in ts: t.start()
for t in ts: t.join()
out = subprocess.run([sys.executable, "-c", "import json; print(json.dumps({\"child\": [1, 2, 3]}))"],
                     capture_output=True, check=True).stdout.decode().strip()
print(sorted(res.items()))
print(out)'
soak_expect_status 0
soak_dumps
soak_end
