#!/usr/bin/env python3
"""layers.py - check that the files of one program call each other one way.

Reads the object files of a program (nm on OBJDIR/*.o), finds which file uses
a symbol defined in which other file, and fails when two files call each other,
directly or round a circle (a strongly connected component of more than one
file), since then neither can be read, changed or tested without the other.

When README is given and holds a line such as

    Layers (top to bottom): hooks trigger dump scan_* tracker stack table runtime

it also fails when a file uses a file of a higher layer, when a file is in no
layer, or when a layer names no file (the README has drifted).  Layers are
separated by white space, commas, '>' or arrows; backticks and markdown
emphasis are ignored.  A layer may be a shell pattern (scan_*) or several
names joined by '+' (leaks+baseline); files of one layer may use each other,
as long as they form no circle.  Without such a line only circles are checked.

usage: layers.py [--name NAME] [--readme README] [--nm NM] OBJDIR
exit status: 0 one-way, 1 a circle or a layer broken (named on stdout),
2 bad usage or no objects.
"""
import argparse
import fnmatch
import glob
import os
import re
import subprocess
import sys

# Symbol kinds nm prints for a definition another file can use.
DEFINED = set("TDBRGSVWCi")
LAYERS_RE = re.compile(r"^\W*Layers \(top to bottom\)\W*:\s*(.+)$")


def nm_symbols(nm, obj):
    """Return (defined, undefined) global symbol names of object 'obj'."""
    out = subprocess.run([nm, obj], check=True, capture_output=True, text=True).stdout
    defined, undefined = {}, set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("U", "w", "v"):
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in DEFINED:
            defined[parts[2]] = parts[1]
        elif len(parts) == 3 and parts[1] in ("w", "v"):
            undefined.add(parts[2])
    return defined, undefined


def call_graph(nm, objs):
    """Return {file: {other file: sorted symbols file uses from other}}."""
    defs, uses = {}, {}
    for obj in objs:
        name = os.path.splitext(os.path.basename(obj))[0]
        d, u = nm_symbols(nm, obj)
        uses[name] = u
        for sym, kind in d.items():
            # a strong definition wins over a weak one in another file
            weak = kind in "VW"
            if sym not in defs or (not weak and defs[sym][1]):
                defs[sym] = (name, weak)
    graph = {name: {} for name in uses}
    for name, syms in uses.items():
        for sym in syms:
            if sym in defs and defs[sym][0] != name:
                graph[name].setdefault(defs[sym][0], []).append(sym)
    for name in graph:
        for other in graph[name]:
            graph[name][other].sort()
    return graph


def circles(graph):
    """Return the strongly connected components of more than one file
    (Tarjan's algorithm, iterative), each sorted, in sorted order."""
    index, low, onstack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        onstack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    onstack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in onstack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def declared_layers(readme):
    """Return the list of layers (each a list of patterns) that 'readme'
    declares, or None when it declares none."""
    with open(readme, encoding="utf-8") as f:
        for line in f:
            m = LAYERS_RE.match(line.strip())
            if m:
                text = m.group(1).replace("`", " ").replace(">", " ").replace(",", " ")
                toks = [t.strip(".;:") for t in text.split()]
                # markdown emphasis ("**") and arrows are no layer
                return [t.split("+") for t in toks if re.search(r"\w", t)]
    return None


def layer_of(layers, name):
    for i, pats in enumerate(layers):
        if any(fnmatch.fnmatchcase(name, p) for p in pats):
            return i
    return None


def show(syms, most=4):
    more = len(syms) - most
    return ", ".join(syms[:most]) + (" and %d more" % more if more > 0 else "")


def main():
    ap = argparse.ArgumentParser(description="fail when files of a program call each other in a circle")
    ap.add_argument("objdir")
    ap.add_argument("--name", help="what to call the program in messages (default: objdir)")
    ap.add_argument("--readme", help="a README that may declare 'Layers (top to bottom): ...'")
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    ap.add_argument("--edges", action="store_true", help="also print every edge")
    args = ap.parse_args()
    name = args.name or args.objdir
    objs = sorted(glob.glob(os.path.join(args.objdir, "*.o")))
    if not objs:
        print("layers: no object files in '%s' (build first)" % args.objdir, file=sys.stderr)
        return 2
    try:
        graph = call_graph(args.nm, objs)
    except (OSError, subprocess.CalledProcessError) as e:
        print("layers: cannot read symbols in '%s': %s" % (args.objdir, e), file=sys.stderr)
        return 2
    if args.edges:
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print("%s: %s -> %s (%s)" % (name, a, b, show(graph[a][b])))
    bad = 0
    for comp in circles(graph):
        bad += 1
        print("%s: circle of %d files: %s" % (name, len(comp), " ".join(comp)))
        for a in comp:
            for b in sorted(graph[a]):
                if b in comp:
                    print("    %s -> %s: %s" % (a, b, show(graph[a][b])))
    layers = declared_layers(args.readme) if args.readme else None
    if layers is not None:
        for f in sorted(graph):
            if layer_of(layers, f) is None:
                bad += 1
                print("%s: %s is in no layer of %s" % (name, f, args.readme))
        for pats in layers:
            if not any(fnmatch.fnmatchcase(f, p) for f in graph for p in pats):
                bad += 1
                print("%s: layer '%s' of %s names no file" % (name, "+".join(pats), args.readme))
        for a in sorted(graph):
            la = layer_of(layers, a)
            for b in sorted(graph[a]):
                lb = layer_of(layers, b)
                if la is not None and lb is not None and lb < la:
                    bad += 1
                    print("%s: %s calls up into %s: %s" % (name, a, b, show(graph[a][b])))
    if bad:
        return 1
    print("%s: %d files, one way%s" % (name, len(graph),
                                       ", in the declared layers" if layers is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
