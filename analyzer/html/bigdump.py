#!/usr/bin/env python3
"""bigdump.py - write a synthetic exit dump with N leak sites (default 10000)
for measuring the HTML report's size and load time (analyzer/README.md).

The frames are return addresses inside a real binary with symbols and line
tables (build/leak-analyze by default), so the sites symbolize to distinct
functions and files, as a large real program's would.
usage: bigdump.py TEMPLATE_DUMP BINARY OUT_DIR [N]
TEMPLATE_DUMP is any libleak exit dump; its process, limits and timeline are kept."""
import json
import os
import random
import subprocess
import sys


def main(template, binary, out, n=10000):
    d = json.load(open(template))
    syms = []
    for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            syms.append(int(parts[0], 16))
    base = 0x7F0000000000
    rnd = random.Random(42)
    callers = syms[: max(8, len(syms) // 20)]
    stacks, sites, live = [], [], 0
    for i in range(n):
        depth = rnd.randint(5, 12)
        # outer frames from a few functions, inner ones from all: a call tree
        frames = [base + rnd.choice(syms) + 4 + rnd.randrange(0, 16) for _ in range(depth - 3)]
        frames += [base + rnd.choice(callers) + 4 for _ in range(3)]
        stacks.append({"id": i, "frames": [hex(f) for f in frames], "truncated": False})
        b = rnd.randint(16, 1 << 16)
        sites.append({"stack": i, "family": "malloc", "live_blocks": 1, "live_bytes": b,
                      "total_blocks": 2, "total_bytes": 2 * b, "freed_blocks": 1,
                      "peak_live_bytes": b, "max_request_bytes": b})
        live += b
    d["modules"] = [{"path": os.path.abspath(binary), "base": hex(base),
                     "size": os.path.getsize(binary)}]
    d["stacks"], d["sites"] = stacks, sites
    d.pop("reachability", None)
    d["failures"], d["mismatches"] = [], []
    if "timeline" in d:
        d["timeline"]["sites"] = []
    d["totals"].update(live_bytes=live, live_blocks=n, peak_live_bytes=live)
    os.makedirs(out, exist_ok=True)
    name = "libleak.%d.%d.exit.json" % (d["process"]["pid"], d["dump"]["seq"])
    json.dump(d, open(os.path.join(out, name), "w"))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 10000)
