#!/usr/bin/env python3
"""html_check.py - assert what leak-analyze's HTML report shows, from the
page as written (RAW) and the DOM headless Chromium dumped after the
page's script ran (DOM).  Used by tests/integration/test_html_*.sh.

usage: html_check.py RAW DOM [--verdict KIND] [--row TEXT]... [--flame FN]...
                     [--fail-marker] [--text TEXT]... [--banner] [--picker N]
                     [--frames N] [--located] [--max-bytes N]
Exits 1 with one line per failed assertion."""
import argparse
import html.parser
import re
import sys


class Dom(html.parser.HTMLParser):
    """Elements as (tag, attrs, text of the element and its children)."""

    VOID = {"meta", "br", "input", "img", "link", "hr", "col", "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.elems, self.scripts = [], [], []

    def handle_starttag(self, tag, attrs):
        e = [tag, dict(attrs), []]
        self.elems.append(e)
        if tag == "script":
            self.scripts.append(e)
        if tag not in self.VOID:
            self.stack.append(e)

    def handle_startendtag(self, tag, attrs):
        self.elems.append([tag, dict(attrs), []])

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        # a script's or style's text is code, not what the page shows
        if self.stack and self.stack[-1][0] in ("script", "style"):
            self.stack[-1][2].append(data)
            return
        for e in self.stack:
            e[2].append(data)


def parse(text):
    d = Dom()
    d.feed(text)
    d.close()
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("dom")
    ap.add_argument("--verdict")
    ap.add_argument("--row", action="append", default=[])
    ap.add_argument("--flame", action="append", default=[])
    ap.add_argument("--fail-marker", action="store_true")
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--banner", action="store_true", help="any verdict banner with a title")
    ap.add_argument("--picker", type=int, help="the process picker lists at least N processes")
    ap.add_argument("--frames", type=int, help="the flamegraph draws at least N frames")
    ap.add_argument("--located", action="store_true",
                    help="every leak row names file:line or module+offset")
    ap.add_argument("--max-bytes", type=int, help="the page weighs at most N bytes")
    a = ap.parse_args()
    raw = open(a.raw, encoding="utf-8").read()
    dom_text = open(a.dom, encoding="utf-8").read()
    bad = []

    # Offline: no element loads anything from outside the file.
    r = parse(raw)
    if len(r.scripts) != 3:
        bad.append("the page has %d script elements, not 3 (error hook, data, code)" % len(r.scripts))
    for tag, attrs, _ in r.elems:
        for k in ("src", "href", "srcset", "action", "data"):
            if k in attrs and tag not in ("option",):
                bad.append("<%s %s=%r> refers to something outside the page" % (tag, k, attrs[k]))
    if re.search(r"@import|url\(|<link|<iframe|<object|<embed", raw):
        bad.append("the page imports or embeds something")
    for m in re.finditer(r"https?://[^\s\"'<>]*", raw):
        if m.group(0) != "http://www.w3.org/2000/svg":
            bad.append("the page names %s" % m.group(0))
    data = [e for e in r.scripts if e[1].get("type") == "application/json"]
    if len(data) != 1:
        bad.append("not one JSON data script")

    d = parse(dom_text)
    root = [e for e in d.elems if e[0] == "html"]
    attrs = root[0][1] if root else {}
    if attrs.get("data-errors") != "0":
        bad.append("JavaScript errors: %s %s" % (attrs.get("data-errors"), attrs.get("data-error-text", "")))
    if attrs.get("data-ready") != "1":
        bad.append("the page's script did not finish (data-ready=%s)" % attrs.get("data-ready"))
    if len(d.scripts) != 3:
        bad.append("the DOM has %d script elements, not 3" % len(d.scripts))

    def by_id(i):
        return [e for e in d.elems if e[1].get("id") == i]

    if a.verdict is not None:
        v = by_id("verdict")
        got = v[0][1].get("data-verdict") if v else None
        if got != a.verdict:
            bad.append("verdict %r, want %r (%s)" % (got, a.verdict, "".join(v[0][2]) if v else "no banner"))
    rows = ["".join(e[2]) for e in d.elems if e[0] == "tr" and "leak" in e[1].get("class", "").split()]
    for want in a.row:
        if not any(want in t for t in rows):
            bad.append("no leak row shows %r (rows: %r)" % (want, rows[:8]))
    frames = [e[1].get("data-fn") for e in d.elems if "fr" in e[1].get("class", "").split()]
    for want in a.flame:
        if want not in frames:
            bad.append("no flamegraph frame %r (frames: %r)" % (want, frames[:20]))
    if a.fail_marker:
        chart = by_id("chart")
        if not chart or not any(e[0] == "svg" for e in d.elems):
            bad.append("no growth chart")
        if not any(e[0] == "g" and "fail-marker" in e[1].get("class", "") for e in d.elems):
            bad.append("no failure marker on the growth chart")
    if a.banner:
        v = by_id("verdict")
        kinds = ("clean", "leak", "leak_in_progress", "leak_exhaustion", "exhaustion", "overflow")
        if not v or v[0][1].get("data-verdict") not in kinds:
            bad.append("no verdict banner (%r)" % (v[0][1].get("data-verdict") if v else None))
        elif not "".join(v[0][2]).strip():
            bad.append("the verdict banner is empty")
    if a.picker is not None:
        sel = by_id("proc")
        opts = [e for e in d.elems if e[0] == "option" and e[1].get("value", "") != ""
                and re.fullmatch(r"\d+/\d+", e[1].get("value", ""))]   # pid/image
        if not sel or len(opts) < a.picker:
            bad.append("the process picker lists %d processes, want at least %d" % (len(opts), a.picker))
        pick = by_id("procpick")
        if pick and "hidden" in pick[0][1]:
            bad.append("the process picker is hidden")
    if a.frames is not None and len(frames) < a.frames:
        bad.append("the flamegraph draws %d frames, want at least %d" % (len(frames), a.frames))
    if a.located:
        if not rows:
            bad.append("no leak rows")
        for t in rows:
            if not re.search(r":\d+|\+0x[0-9a-f]+|<JIT code>", t):
                bad.append("a leak row names neither file:line nor module+offset: %r" % t)
                break
    if a.max_bytes is not None and len(raw.encode()) > a.max_bytes:
        bad.append("the page weighs %d bytes, more than %d" % (len(raw.encode()), a.max_bytes))
    alltext = "".join(t for e in d.elems if e[0] == "body" for t in e[2])
    for want in a.text:
        if want not in alltext:
            bad.append("the page does not show %r as text" % want)

    for b in bad:
        print("html_check: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
