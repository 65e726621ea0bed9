#!/usr/bin/env python3
"""svg_check.py - what a reader of leak-analyze's growth chart must see, checked
on the SVG itself with xml.etree (no browser).

    svg_check.py CHART.svg DUMPDIR [--title-has TEXT] [--limit] [--failures N]

Checks: well-formed; a title in plain words (no verdict code, no "(none)");
round y ticks (one step of 1, 2 or 5 x 10^k in one unit of B/KiB/MiB/GiB/TiB,
every label a multiple of it); both axis titles; the total drawn first and
every site after it with a dash or width of its own; one snapshot mark per
dump of the charted process; one failure marker per failures[] entry of its
final dump, each with a <title> naming its size and time; legend entries
whose estimated boxes never overlap and whose texts are distinct; a <title>
on hover points.  Exit 1 with one line per problem.
"""
import glob
import json
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
CHAR_EM = 0.62      # the legend is monospace: about 0.6 em per character


def classes(e):
    return (e.get("class") or "").split()


def by_class(root, name):
    return [e for e in root.iter() if name in classes(e)]


def text_of(e):
    return "".join(e.itertext()).strip()


def own_title(e):
    t = e.find(NS + "title")
    return text_of(t) if t is not None else None


def main():
    args = sys.argv[1:]
    path, dumpdir = args[0], args[1]
    want_title = None
    want_limit = False
    i = 2
    while i < len(args):
        if args[i] == "--title-has":
            want_title = args[i + 1]
            i += 2
        elif args[i] == "--limit":
            want_limit = True
            i += 1
        else:
            sys.exit("svg_check.py: unknown argument " + args[i])
    problems = []

    def bad(msg):
        problems.append(msg)

    root = ET.parse(path).getroot()
    if root.tag != NS + "svg":
        bad("root is %s, not svg" % root.tag)

    # title in plain words
    titles = by_class(root, "chart-title")
    if len(titles) != 1:
        bad("%d chart titles, want 1" % len(titles))
    else:
        t = text_of(titles[0])
        codes = ("leak_in_progress", "leak_exhaustion", "(overflow)", "(exhaustion)",
                 "(none)", "()")
        if any(c in t for c in codes):
            bad("title holds an internal code: %r" % t)
        if want_title and want_title not in t:
            bad("title %r lacks %r" % (t, want_title))

    # round y ticks in one human unit
    ticks = [text_of(e) for e in by_class(root, "y-tick")]
    if len(ticks) < 3:
        bad("only %d y ticks" % len(ticks))
    vals, units = [], set()
    for s in ticks:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(?: (B|KiB|MiB|GiB|TiB))?", s)
        if not m:
            bad("y tick %r is not 'N unit'" % s)
            continue
        if m.group(2):
            units.add(m.group(2))
        vals.append(float(m.group(1)))
    if len(units) > 1:
        bad("y ticks mix units: %s" % sorted(units))
    if len(vals) >= 2:
        step = vals[1] - vals[0]
        mant = step / 10 ** math.floor(math.log10(step)) if step > 0 else 0
        if not any(abs(mant - k) < 1e-6 for k in (1, 2, 5)):
            bad("y tick step %g is not 1, 2 or 5 x 10^k: %s" % (step, ticks))
        for v in vals:
            q = v / step
            if abs(q - round(q)) > 1e-6:
                bad("y tick %g is not a multiple of %g: %s" % (v, step, ticks))

    # axis titles
    for axis in ("x", "y"):
        a = [text_of(e) for e in by_class(root, "axis-title-" + axis)]
        if len(a) != 1 or not a[0]:
            bad("no %s-axis title" % axis)
    xt = [text_of(e) for e in by_class(root, "axis-title-x")]
    if xt and "(s)" not in xt[0] and "(min)" not in xt[0] and "(h)" not in xt[0]:
        bad("x-axis title %r names no unit" % xt[0])

    # the total first, every site after it and drawn differently
    lines = [e for e in root.iter(NS + "polyline")]
    kinds = ["total" if "series-total" in classes(e) else "site" for e in lines]
    if not lines or kinds[0] != "total" or kinds.count("total") != 1:
        bad("the total is not the one polyline drawn first: %s" % kinds)
    elif len(lines) > 1:
        tw, td = lines[0].get("stroke-width"), lines[0].get("stroke-dasharray")
        for e in lines[1:]:
            if e.get("stroke-width") == tw and e.get("stroke-dasharray") == td:
                bad("a site line is drawn like the total (same width, no dash)")

    # snapshots and failures of the charted process
    pid = root.get("data-pid")
    dumps = sorted(glob.glob(os.path.join(dumpdir, "*.%s.*.json" % pid)),
                   key=lambda f: int(f.split(".")[-3]))
    if not dumps:
        bad("no dump of the charted process %s in %s" % (pid, dumpdir))
    else:
        snaps = by_class(root, "snapshot")
        if len(snaps) != len(dumps):
            bad("%d snapshot marks, %d dumps" % (len(snaps), len(dumps)))
        final = json.load(open(dumps[-1]))
        nfail = len(final.get("failures") or [])
        marks = by_class(root, "failure")
        if len(marks) != nfail:
            bad("%d failure markers, %d failures in %s" % (len(marks), nfail, dumps[-1]))
        for m in marks:
            t = own_title(m)
            if not t or not re.search(r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB|PiB|EiB)", t) \
                    or not re.search(r"at \d+(\.\d+)? s", t):
                bad("failure marker title %r lacks its size or time" % t)
    if want_limit:
        lim = by_class(root, "limit-label")
        if len(lim) != 1 or not re.search(r"\d (B|KiB|MiB|GiB|TiB)", text_of(lim[0])):
            bad("no limit line label: %s" % [text_of(e) for e in lim])

    # hover values on the points
    hov = by_class(root, "point")
    if not hov or any(not own_title(e) for e in hov):
        bad("points without a hover <title>")

    # the legend: boxes never overlap, texts distinct, inside the picture
    width = float(root.get("width"))
    boxes, seen = [], set()
    for g in by_class(root, "legend-entry"):
        tx = g.find(NS + "text")
        if tx is None:
            bad("legend entry without text")
            continue
        s = text_of(tx)
        fs = float(tx.get("font-size") or g.get("font-size") or 12)
        x0 = float(g.get("data-x"))
        x = float(tx.get("x"))
        y = float(tx.get("y"))
        x1 = x + len(s) * fs * CHAR_EM
        boxes.append((x0, x1, y - fs, y + 3, s))
        if s in seen:
            bad("two legend entries read %r" % s)
        seen.add(s)
        if x1 > width:
            bad("legend entry %r runs off the picture (%.0f > %.0f)" % (s, x1, width))
        if own_title(g) is None:
            bad("legend entry %r has no <title> with the full name" % s)
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            p, q = boxes[a], boxes[b]
            if p[0] < q[1] and q[0] < p[1] and p[2] < q[3] and q[2] < p[3]:
                bad("legend entries overlap: %r and %r" % (p[4], q[4]))
    if not boxes:
        bad("no legend")

    for p in problems:
        print("%s: %s" % (path, p))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
