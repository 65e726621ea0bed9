#!/usr/bin/env python3
"""gen_inputs.py - write the hostile inputs of tests/integration/test_untrusted.sh.

Big inputs (tens of thousands of entries) are made here at run time instead
of being kept in the repository.  Usage: gen_inputs.py DIR
"""
import json
import os
import sys

BIG = 1 << 62


def dump(**kw):
    d = {"format": "libleak-dump", "version": 1,
         "process": {"pid": 4242, "ppid": 1, "exe": "/nonexistent/app", "start_unix_ms": 5},
         "dump": {"seq": 0, "trigger": "exit", "uptime_ns": 10},
         "modules": [{"path": "/nonexistent/app", "base": "0x1000", "size": 65536}],
         "stacks": [{"id": 1, "frames": ["0x1234"]}],
         "sites": [{"stack": 1, "family": "malloc", "live_blocks": 1, "live_bytes": 64}]}
    d.update(kw)
    return d


def reach(**kw):
    r = {"complete": True, "live_blocks": 1, "live_bytes": 64, "threads": 1,
         "kinds": {k: {"blocks": 0, "bytes": 0}
                   for k in ("definite", "indirect", "possible", "reachable")},
         "sites": [], "structures": [], "held_by": []}
    r.update(kw)
    return r


def write(d, name, obj):
    with open(os.path.join(d, name), "w") as f:
        json.dump(obj, f)


def main(d):
    # x-ticks of a timeline near the end of int64 nanoseconds
    t = 9223372036854000000
    write(d, "svg_uptime.json", dump(timeline={
        "uptime_ns": [t, t + 2000, t + 4000], "live_bytes": [1, 2, 3], "rss_bytes": [0, 0, 0],
        "allocs": [1, 2, 3], "frees": [0, 0, 0]},
        dump={"seq": 0, "trigger": "exit", "uptime_ns": t + 4000}))

    # a module path naming a FIFO (made by the test)
    fifo = os.path.join(d, "fifo")
    write(d, "fifo_module.json", dump(modules=[{"path": fifo, "base": "0x1000", "size": 65536}]))

    # backtracking: a 200-character module name against leak:*a*a*a*b
    longmod = "/" + "a" * 200
    write(d, "supp_backtrack.json", dump(modules=[{"path": longmod, "base": "0x1000",
                                                   "size": 65536}]))
    with open(os.path.join(d, "backtrack.supp"), "w") as f:
        f.write("leak:*a*a*a*a*a*a*a*b\n")

    # terminal escapes and forged lines in every string the dump carries
    esc = "\x1b]0;pwned\x07\x1b[2J\nSUMMARY: libleak: 0 byte(s) leaked\r"
    write(d, "inject.json", dump(
        process={"pid": 4242, "exe": "/bin/app" + esc},
        dump={"seq": 0, "trigger": "exit", "label": "l" + esc, "uptime_ns": 10},
        modules=[{"path": "/nonexistent/lib" + esc + ".so", "base": "0x1000", "size": 65536}],
        failures=[{"stack": 1, "kind": "enomem", "function": "malloc" + esc,
                   "request_bytes": 99, "count": 1}],
        reachability=reach(
            sites=[{"stack": 1, "family": "malloc", "kind": "reachable", "blocks": 1,
                    "bytes": 64}],
            held_by=[{"root": "global", "module": "/held" + esc, "offset": "0x10",
                      "kind": "reachable", "stack": 1, "family": "malloc", "blocks": 1,
                      "bytes": 64}])))

    # a module path that forges a standalone rule in --gen-suppressions
    write(d, "gensupp.json", dump(
        modules=[{"path": "/opt/app/libx.so$\nleak:*\n#", "base": "0x1000", "size": 65536}]))
    write(d, "gensupp_later.json", dump(
        modules=[{"path": "/opt/app/liby.so", "base": "0x1000", "size": 65536}],
        sites=[{"stack": 1, "family": "malloc", "live_blocks": 1, "live_bytes": 99999}]))

    # sums past int64: sampled estimates and held-by sums
    write(d, "bigsum.json", dump(
        stacks=[{"id": i, "frames": ["0x%x" % (0x1100 + i)]} for i in range(1, 5)],
        sites=[{"stack": i, "family": "malloc", "live_blocks": 1, "live_bytes": BIG}
               for i in range(1, 5)],
        reachability=reach(
            held_by=[{"root": "stack", "tid": 4242, "kind": "reachable", "stack": 1,
                      "family": "malloc", "blocks": 1, "bytes": BIG} for _ in range(4)])))
    write(d, "sampled.json", dump(
        config={"sample_bytes": 1 << 40},   # LIBLEAK_SAMPLE_BYTES_MAX
        stacks=[{"id": i, "frames": ["0x%x" % (0x1100 + i)]} for i in range(1, 3)],
        sites=[{"stack": i, "family": "malloc", "live_blocks": 1 << 52, "live_bytes": BIG}
               for i in range(1, 3)],
        reachability=reach(sites=[{"stack": i, "family": "malloc", "kind": "definite",
                                   "blocks": 1 << 52, "bytes": BIG} for i in range(1, 3)])))

    # quadratic passes: held_by, structure members, modules x frames
    n = 50000
    write(d, "big_held.json", dump(reachability=reach(held_by=[
        {"root": "global", "module": "/nonexistent/app", "offset": "0x%x" % (16 * i),
         "kind": "reachable", "stack": 1, "family": "malloc", "blocks": 1, "bytes": 8}
        for i in range(n)])))
    # retained sizes at their limits: 1000 roots (one symbol's words, summed
    # quadratically by the analyzer), 100 tops, a module name with escapes
    write(d, "big_retained.json", dump(reachability=reach(
        retained_complete=True, retained_edges_dropped=0, retained_ns=1,
        retained_shared={"blocks": 1, "bytes": BIG}, lost_shared={"blocks": 0, "bytes": 0},
        retained_by=[{"root": "global", "module": "/nonexistent/app" + esc,
                      "address": "0x%x" % (0x2000 + 8 * i), "offset": "0x%x" % (0x1000 + 8 * i),
                      "blocks": 1, "bytes": BIG} for i in range(1000)],
        retained_by_omitted={"count": 0, "blocks": 0, "bytes": 0},
        top_retained=[{"address": "0x%x" % (0x9000 + 16 * i), "stack": 1, "family": "malloc",
                       "kind": "reachable", "bytes": 8, "retained_blocks": 1,
                       "retained_bytes": BIG, "by": i % 1000 if i % 2 else None}
                      for i in range(100)])))
    m = 20000
    write(d, "big_members.json", dump(
        stacks=[{"id": i, "frames": ["0x%x" % (0x1000 + i)]} for i in range(1, m + 1)],
        sites=[{"stack": 1, "family": "malloc", "live_blocks": 1, "live_bytes": 64}],
        reachability=reach(structures=[{
            "head_stack": 1, "head_family": "malloc", "cycle": False, "count": 1,
            "blocks": m, "bytes": 8 * m,
            "members": [{"stack": i, "family": "malloc", "blocks": 1, "bytes": 8}
                        for i in range(1, m + 1)]}])))
    nm, nf = 50000, 100000
    write(d, "big_modules.json", dump(
        modules=[{"path": "/nonexistent/m%d" % i, "base": "0x%x" % (0x100000 + 0x1000 * i),
                  "size": 16} for i in range(nm)],
        stacks=[{"id": i + 1, "frames": ["0x%x" % (0x100000 + 0x1000 * nm + f) for f in
                                         range(i * 1000, i * 1000 + 1000)]}
                for i in range(nf // 1000)],
        sites=[{"stack": i + 1, "family": "malloc", "live_blocks": 1, "live_bytes": 8}
               for i in range(nf // 1000)]))


if __name__ == "__main__":
    main(sys.argv[1])
