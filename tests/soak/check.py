"""check.py - the soak's dump checks, run by tests/soak/lib.sh without the preload.

    check.py procs TRACE_DIR CWD          processes of a native `strace -ff` run in CWD,
                                          as "<exe>" lines (one per process)
    check.py dumps DUMP_DIR ANALYZE [EXPECTED] [--planted NAME...]
                                          every dump loads; one per expected process
    check.py site DUMP_DIR EXE FN --main|--each L/B[/T]... [--trigger=T]
                                          exact live blocks/bytes[/total blocks] of
                                          the sites through FN, per process of EXE
    check.py report DUMP_DIR ANALYZE FN BLOCKS BYTES
                                          leak-analyze's report names FN, exactly
Prints one "key: value" line per finding and "FAIL: why" lines; exits 1 on a failure.
"""
import collections
import json
import os
import re
import subprocess
import sys

failures = []


def fail(why):
    failures.append(why)
    print("FAIL: " + why)


def finish():
    sys.exit(1 if failures else 0)


def real_exe(path, cwd):
    """The file the kernel reports as /proc/PID/exe after execve(path): the
    interpreter of a #! script, symlinks resolved."""
    path = os.path.join(cwd, path)
    try:
        with open(path, "rb") as f:
            head = f.readline(256)
        if head.startswith(b"#!"):
            path = head[2:].split()[0].decode()
    except OSError:
        pass
    return os.path.realpath(path)


CREATE = re.compile(r'^(clone3?|fork|vfork)\((.*)\s+(?:=|=>)\s*(?:\{parent_tid=\[)?(\d+)')
EXECVE = re.compile(r'^execve(?:at)?\("((?:[^"\\]|\\.)*)".*\)\s+=\s+0$')


def procs(trace_dir, cwd):
    """Walk the per-thread strace files from the root down: a clone without
    CLONE_THREAD (or fork, vfork) is a new process that inherits its parent's
    exe; a successful execve changes it.  A vfork-like child (CLONE_VM) that
    never execs is not a process of its own: it can only _exit."""
    files = {}
    for n in os.listdir(trace_dir):
        m = re.match(r'.*\.(\d+)$', n)
        if m:
            files[int(m.group(1))] = os.path.join(trace_dir, n)
    children = {}   # tid -> (is_thread, shares_vm, creator tid, creator's exe then)
    lines = {}
    for tid, path in files.items():
        with open(path, errors="replace") as f:
            lines[tid] = [l.rstrip("\n") for l in f]
    for tid, ls in lines.items():
        for l in ls:
            m = CREATE.match(l)
            if m:
                flags = m.group(2)
                children[int(m.group(3))] = (
                    "CLONE_THREAD" in flags, m.group(1) == "vfork" or "CLONE_VM" in flags, tid)
    roots = [t for t in files if t not in children]
    if len(roots) != 1:
        fail("strace trace has %d roots, expected 1" % len(roots))
        return []
    tgid = {}       # tid -> process id (tgid)
    exe = {}        # process -> exe
    execd = set()
    order = []
    # depth-first in creation order, so a child sees its creator's exe of that moment
    def walk(tid, proc, cur):
        tgid[tid] = proc
        for l in lines.get(tid, []):
            m = EXECVE.match(l)
            if m:
                cur = real_exe(m.group(1).encode().decode("unicode_escape"), cwd)
                exe[proc] = cur
                execd.add(proc)
                continue
            m = CREATE.match(l)
            if m:
                child = int(m.group(3))
                is_thread = children[child][0]
                if is_thread:
                    walk(child, proc, cur)
                else:
                    exe[child] = cur
                    order.append(child)
                    walk(child, child, cur)
    root = roots[0]
    exe[root] = None
    order.append(root)
    walk(root, root, None)
    out = []
    for p in order:
        if p != root and children[p][1] and p not in execd:
            continue
        if exe.get(p):
            out.append(exe[p])
    return out


def load_dumps(d, planted, strays_fail=True):
    """Every libleak.*.json in d, parsed; anything else that is not planted is
    a stray (a .tmp left half-way) and fails."""
    dumps, strays = [], []
    for n in sorted(os.listdir(d)):
        if n in planted:
            continue
        p = os.path.join(d, n)
        if n.startswith("libleak.") and n.endswith(".json") and os.path.isfile(p) \
                and not os.path.islink(p):
            try:
                with open(p) as f:
                    dumps.append((n, json.load(f)))
            except ValueError as e:
                dumps.append((n, None))
                fail("%s: not JSON: %s" % (n, e))
        else:
            strays.append(n)
    if strays and strays_fail:
        fail("stray files in the dump directory: %s" % " ".join(strays[:5]))
    return dumps


def analyze_errors(analyze, paths):
    """Run the analyzer on 'paths' at once; return its exit status and the
    first lines of stderr."""
    r = subprocess.run([analyze, "-o", os.devnull] + paths, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=600,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    return r.returncode, r.stderr.decode(errors="replace").strip().splitlines()


def dumps(args):
    planted = []
    if "--planted" in args:
        i = args.index("--planted")
        planted, args = args[i + 1:], args[:i]
    d, analyze = args[0], args[1]
    expected = None
    if len(args) > 2:
        with open(args[2]) as f:
            expected = [l.strip() for l in f if l.strip()]
    ds = load_dumps(d, set(planted))
    good = [(n, j) for n, j in ds if j is not None]
    # the fast path: the whole directory's dumps load in one run
    paths = [os.path.join(d, n) for n, _ in good]
    loaded = 0
    if paths:
        rc, err = analyze_errors(analyze, paths)
        if rc in (0, 1):
            loaded = len(paths)
        else:
            # find which: one run per dump, the first few reasons printed
            shown = 0
            for p in paths:
                rc1, err1 = analyze_errors(analyze, [p])
                if rc1 in (0, 1):
                    loaded += 1
                else:
                    if shown < 3:
                        fail("leak-analyze exit %d: %s" % (rc1, err1[0] if err1 else "(no message)"))
                    shown += 1
            if shown > 3:
                fail("%d more dumps do not load" % (shown - 3))
            if shown == 0:
                fail("leak-analyze exit %d on all dumps, 0/1 on each: %s" % (rc, err[:1]))
    by_pid = collections.defaultdict(list)
    for n, j in good:
        try:
            by_pid[j["process"]["pid"]].append(j)
        except (KeyError, TypeError):
            fail("%s: no process.pid" % n)
    triggers = collections.Counter(j.get("dump", {}).get("trigger") for _, j in good)
    print("dumps: %d written, %d loaded, %d processes (%s)" % (
        len(ds), loaded, len(by_pid), ", ".join("%s %d" % kv for kv in sorted(triggers.items()))))
    if not ds:
        fail("no dump")
    for pid, js in sorted(by_pid.items()):
        exits = [j for j in js if j["dump"].get("trigger") == "exit"]
        if len(exits) > 1:
            fail("pid %d: %d exit dumps" % (pid, len(exits)))
    if expected is not None:
        want = collections.Counter(expected)
        got = collections.Counter(os.path.realpath(js[0]["process"].get("exe", "?"))
                                  for js in by_pid.values())
        print("processes: %d expected (native strace), %d with a dump" % (
            sum(want.values()), sum(got.values())))
        for e in sorted(set(want) | set(got)):
            if want[e] != got[e]:
                fail("%s: %d processes natively, %d with a dump" % (e, want[e], got[e]))
    finish()


def fn_range(exe, fn):
    out = subprocess.run(["nm", "-S", "--defined-only", exe], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode()
    for l in out.splitlines():
        f = l.split()
        if len(f) == 4 and f[3] == fn:
            return int(f[0], 16), int(f[0], 16) + int(f[1], 16)
    return None


def site(args):
    """site DIR EXE FN --main L/B[/T] | --each L/B[/T]...  [--trigger=T]: the
    sites through FN in the last dump of each process of EXE.  --main: the
    process whose parent left no dump; --each: one value per process, in any
    order (a multiset)."""
    trig = None
    if args[-1].startswith("--trigger="):
        trig = args.pop().split("=", 1)[1]
    d, exe, fn, mode = args[0], os.path.realpath(args[1]), args[2], args[3]
    want = sorted(args[4:])
    r = fn_range(exe, fn)
    if r is None:
        fail("%s: no symbol %s" % (exe, fn))
        finish()
    last = {}
    for n, j in load_dumps(d, set(), False):
        if j is None or os.path.realpath(j["process"].get("exe", "")) != exe:
            continue
        if trig and j["dump"].get("trigger") != trig:
            continue
        pid = j["process"]["pid"]
        if pid not in last or j["dump"]["seq"] > last[pid]["dump"]["seq"]:
            last[pid] = j
    if mode == "--main":
        last = {p: j for p, j in last.items() if j["process"].get("ppid") not in last}
    got = []
    for pid, j in sorted(last.items()):
        base = 0
        for m in j["modules"]:
            if os.path.realpath(m["path"]) == exe:
                base = int(m["base"], 16)
                break
        lo, hi = r[0] + base, r[1] + base
        stacks = {s["id"] for s in j["stacks"]
                  if any(lo <= int(f, 16) - 1 < hi for f in s["frames"])}
        ss = [s for s in j["sites"] if s["stack"] in stacks]
        v = [sum(s["live_blocks"] for s in ss), sum(s["live_bytes"] for s in ss),
             sum(s["total_blocks"] for s in ss)]
        got.append("/".join(map(str, v[:len(want[0].split("/")) if want else 3])))
    got.sort()
    print("site %s%s: %s (live blocks/bytes[/total] per process)" % (
        fn, " (main)" if mode == "--main" else "", " ".join(got) or "no dump"))
    if got != want:
        fail("%s: %s, expected %s" % (fn, " ".join(got) or "no dump", " ".join(want)))
    finish()


def report_fn(args):
    """report DIR ANALYZE FN BLOCKS BYTES: leak-analyze's JSON report of the
    dumps in DIR (every kind) names FN in leaks of exactly BLOCKS blocks and
    BYTES bytes in all, and no frame of those leaks is unsymbolized."""
    d, analyze, fn, blocks, nbytes = args[0], args[1], args[2], int(args[3]), int(args[4])
    paths = [os.path.join(d, n) for n, j in load_dumps(d, set(), False) if j is not None]
    r = subprocess.run([analyze, "-f", "json", "--show=all"] + paths, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    if r.returncode not in (0, 1):
        fail("leak-analyze exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[:200]))
        finish()
    every = json.loads(r.stdout)["leaks"]
    leaks = [l for l in every if any(f.get("function") == fn for f in l.get("frames", []))]
    if not leaks:
        qq = sum(1 for l in every for f in l.get("frames", [])
                 if f.get("function") in (None, "", "??"))
        print("report: no leak names %s; %d frames of all leaks print as ??" % (fn, qq))
    b = sum(l["blocks"] for l in leaks)
    n = sum(l["bytes"] for l in leaks)
    unknown = sum(1 for l in leaks for f in l["frames"] if f.get("function") in (None, "", "??"))
    print("report %s: %d blocks, %d bytes, %d unsymbolized frames" % (fn, b, n, unknown))
    if (b, n) != (blocks, nbytes):
        fail("the report names %s with %d blocks / %d bytes, expected %d / %d"
             % (fn, b, n, blocks, nbytes))
    if unknown:
        fail("%d frames of the %s leaks print as ??" % (unknown, fn))
    finish()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "procs":
        for e in procs(args[0], args[1]):
            print(e)
        finish()
    elif cmd == "dumps":
        dumps(args)
    elif cmd == "site":
        site(args)
    elif cmd == "report":
        report_fn(args)
    else:
        sys.exit("check.py: unknown command %r" % cmd)


main()
