#!/usr/bin/env python3
"""mutate.py - run the built leak-analyze over mutated dumps, in every output
format, and flag what a hostile input must never cause.

    python3 tests/fuzz/mutate.py [--seconds N] [--seed S] [--keep DIR] [LEAK_ANALYZE]

Seeds are tests/fuzz/corpus/*.json plus the inputs of gen_inputs.py (the
small ones).  Each mutant is run with --format text, json, folded, svg,
sarif, junit and --gen-suppressions, under a per-run time limit.  A problem is: a signal, a
timeout, an exit status other than 0, 1 or 2, exit 2 without exactly one
error line, an exit status that differs from --format=text's (a report one
format cannot write), output over the cap, a control character or invalid
UTF-8 on stdout or stderr, a JSON report that does not parse (or holds an integer
outside int64), a SARIF report that does not parse, or an SVG or JUnit report
that is not well-formed XML.  Problem inputs are
kept in --keep (default: a temporary directory, printed).  Exit status 1
when any problem was found.
"""
import argparse
import copy
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import xml.dom.minidom

HERE = os.path.dirname(os.path.abspath(__file__))
FORMATS = [["--format=text"], ["--format=json"], ["--format=folded"], ["--format=svg"],
           ["--gen-suppressions"]]
FORMATS += [["--format=sarif"], ["--format=junit"], ["--format=valgrind-xml"], ["--format=lsan"]]
RUN_LIMIT_S = 20          # far above any normal run: a hang, not a speed check
OUT_CAP = 64 << 20
BAD_TEXT = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")

HOSTILE_STRINGS = [
    "\x1b]0;pwned\x07", "\x1b[2J", "a\nSUMMARY: libleak: 0 byte(s) leaked.", "\r", "",
    "\u202e", "\u0085", "*", "^$", "x" * 5000, "/dev/zero", "/proc/self/fd/0",
    "caf\u00e9", "leak:*", "#", "\\x1b", "\t", "<svg>&amp;\"'",
]
HOSTILE_INTS = [0, 1, -1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**62, 2**62 + 1, 2**63 - 1,
                9223372036854000000, 4611686018427387904]


def mutate_value(rng, v):
    r = rng.random()
    if isinstance(v, bool):
        return rng.choice([not v, None, 0, "true"])
    if isinstance(v, int):
        return rng.choice(HOSTILE_INTS + [v + 1, v - 1, v * 2, None, str(v), 1.5])
    if isinstance(v, str):
        if v.startswith("0x") and r < 0.5:
            return rng.choice(["0x0", "0xffffffffffffffff", "0x", "0x1" * 9, hex(rng.getrandbits(64)),
                               v + "0", "0X10", "-0x1"])
        return rng.choice(HOSTILE_STRINGS + [v + rng.choice(HOSTILE_STRINGS), None, 7])
    if isinstance(v, list):
        if not v or r < 0.3:
            return [] if r < 0.1 else v + [copy.deepcopy(rng.choice(v))] * rng.randint(1, 3) if v else [None]
        if r < 0.5:
            return v[:rng.randrange(len(v))]
        if r < 0.6:
            return list(reversed(v))
        return v
    if isinstance(v, dict):
        if v and r < 0.2:
            k = rng.choice(list(v))
            w = dict(v)
            del w[k]
            return w
        return v
    return rng.choice([0, "", [], {}])


def walk_mutate(rng, node, n):
    """Mutate about n random places of the tree in place; returns the tree."""
    paths = []

    def collect(x, path):
        paths.append(path)
        if isinstance(x, dict):
            for k, v in x.items():
                collect(v, path + [k])
        elif isinstance(x, list):
            for i, v in enumerate(x[:50]):
                collect(v, path + [i])
    collect(node, [])
    for _ in range(n):
        p = rng.choice(paths)
        if not p:
            continue
        parent = node
        try:
            for k in p[:-1]:
                parent = parent[k]
            parent[p[-1]] = mutate_value(rng, parent[p[-1]])
        except (KeyError, IndexError, TypeError):
            pass
    return node


def byte_mutate(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not b:
            break
        i = rng.randrange(len(b))
        op = rng.random()
        if op < 0.4:
            b[i] = rng.randrange(256)
        elif op < 0.7:
            del b[i:i + rng.randint(1, 16)]
        else:
            b[i:i] = bytes(rng.choice([b"\x1b", b"\xff", b"\n", b"\x00", b"{", b"]", b"9" * 20]))
    return bytes(b)


def seeds():
    out = []
    for f in sorted(glob.glob(os.path.join(HERE, "corpus", "*.json"))):
        with open(f, "rb") as fh:
            out.append(fh.read())
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_inputs.py"), d], check=True)
        for f in sorted(glob.glob(os.path.join(d, "*.json"))):
            if os.path.getsize(f) < 100000:
                with open(f, "rb") as fh:
                    out.append(fh.read())
    return out


def check_int64(v):
    if isinstance(v, bool):
        return
    if isinstance(v, int):
        if not -2**63 <= v < 2**63:
            raise ValueError("integer %d outside int64" % v)
    elif isinstance(v, dict):
        for x in v.values():
            check_int64(x)
    elif isinstance(v, list):
        for x in v:
            check_int64(x)


def run_one(la, path, fmt):
    """Return (a problem description or None, exit status)."""
    try:
        p = subprocess.run([la] + fmt + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        return "timeout (%d s)" % RUN_LIMIT_S, None
    rc = p.returncode
    if rc < 0:
        return "signal %d" % -rc, rc
    if rc not in (0, 1, 2):
        return "exit %d" % rc, rc
    if len(p.stdout) > OUT_CAP:
        return "output over %d bytes" % OUT_CAP, rc
    for name, data in (("stdout", p.stdout), ("stderr", p.stderr)):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "invalid UTF-8 on " + name, rc
        if BAD_TEXT.search(data):
            return "control character on " + name, rc
    errs = [l for l in p.stderr.decode().splitlines() if not l.startswith("leak-analyze: warning: ")]
    if any(not l.startswith("leak-analyze: ") for l in p.stderr.decode().splitlines()):
        return "a stderr line not from leak-analyze", rc
    if rc == 2:
        if len(errs) != 1:
            return "exit 2 with %d error lines" % len(errs), rc
        return None, rc
    if fmt == ["--format=json"]:
        try:
            check_int64(json.loads(p.stdout))
        except ValueError as e:
            return "bad JSON report: %s" % e, rc
    if fmt == ["--format=sarif"]:
        try:
            check_int64(json.loads(p.stdout))
        except ValueError as e:
            return "bad SARIF report: %s" % e, rc
    if fmt in (["--format=junit"], ["--format=valgrind-xml"]):
        try:
            xml.dom.minidom.parseString(p.stdout)
        except Exception as e:  # noqa: BLE001 - any parser error is the finding
            return "%s XML not well-formed: %s" % (fmt[0][9:], e), rc
    if fmt == ["--format=svg"]:
        try:
            xml.dom.minidom.parseString(p.stdout)
        except Exception as e:  # noqa: BLE001 - any parser error is the finding
            return "SVG not well-formed: %s" % e, rc
    return None, rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", default=None)
    ap.add_argument("analyzer", nargs="?", default=os.path.join("build", "leak-analyze"))
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    keep = a.keep or tempfile.mkdtemp(prefix="lk-mutate-")
    os.makedirs(keep, exist_ok=True)
    base = seeds()
    trees = []
    for s in base:
        try:
            trees.append(json.loads(s))
        except ValueError:
            pass
    start = time.monotonic()
    inputs = runs = problems = 0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "libleak.1.0.exit.json")
        while time.monotonic() - start < a.seconds:
            if trees and rng.random() < 0.75:
                t = walk_mutate(rng, copy.deepcopy(rng.choice(trees)), rng.randint(1, 6))
                data = json.dumps(t, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
            else:
                data = byte_mutate(rng, rng.choice(base))
            with open(path, "wb") as f:
                f.write(data)
            inputs += 1
            text_rc = None
            for fmt in FORMATS:
                runs += 1
                why, rc = run_one(a.analyzer, path, fmt)
                if why is None and fmt == FORMATS[0]:
                    text_rc = rc
                elif why is None and rc != text_rc:
                    # an input error is one for every format; a report that
                    # only some formats cannot write is a bug
                    why = "exit %s, but %s with --format=text" % (rc, text_rc)
                if why is not None:
                    problems += 1
                    name = os.path.join(keep, "problem-%d.json" % problems)
                    with open(name, "wb") as f:
                        f.write(data)
                    print("PROBLEM: %s %s: %s (kept as %s)" % (a.analyzer, " ".join(fmt), why, name))
                    break
    elapsed = time.monotonic() - start
    print("mutate: %d inputs, %d runs in %.0f s (seed %d): %d problem(s)%s"
          % (inputs, runs, elapsed, seed, problems, "" if problems == 0 else ", kept in " + keep))
    if problems == 0 and a.keep is None:
        os.rmdir(keep)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
