"""vgxml_records.py - read a memcheck XML file (valgrind's own, or
leak-analyze --format=valgrind-xml) the way a CI plugin does, and print its
shape and leak records as JSON, so that test_format_vgxml.sh compares both
files through the same code.

Usage: python3 vgxml_records.py FILE.xml SOURCE_BASENAME
Prints {"top": [...], "error_tags": [...], "xwhat_tags": [...],
"frame_tags": [...], "records": {key: [bytes, blocks, text]}} where key is the kind and
"fn file:line" of every frame in SOURCE_BASENAME (the user's code, the first
one being the allocating call); and "mismatches": {key: [what, count]},
keyed by the file:line of the freeing and the allocating stack, with the
<errorcounts> count of that error;
records whose stack never enters that file (the C library's) are left out.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET


def collapse(tags):
    """Tag names in order, runs of one tag counted once."""
    out = []
    for t in tags:
        if not out or out[-1] != t:
            out.append(t)
    return out


def main():
    root = ET.parse(sys.argv[1]).getroot()
    src = sys.argv[2]
    res = {"root": root.tag,
           "protocolversion": root.findtext("protocolversion"),
           "protocoltool": root.findtext("protocoltool"),
           "tool": root.findtext("tool"),
           "top": collapse(c.tag for c in root),
           "error_tags": set(), "xwhat_tags": set(), "frame_tags": set(),
           "records": {}, "mismatches": {}}
    counts = {p.findtext("unique"): int(p.findtext("count"))
              for p in root.findall("errorcounts/pair")}
    for err in root.findall("error"):
        kind = err.findtext("kind")
        if kind == "MismatchedFree":
            # C++ names differ (memcheck adds the parameters): lines only
            key = " | ".join(" ".join(fr.findtext("file") + ":" + fr.findtext("line")
                                      for fr in st.findall("frame")
                                      if fr.findtext("file") == src)
                             for st in err.findall("stack"))
            res["mismatches"][key] = [err.findtext("what"), counts.get(err.findtext("unique"))]
            continue
        if not kind.startswith("Leak_"):
            continue
        res["error_tags"].add(" ".join(c.tag for c in err))
        xw = err.find("xwhat")
        res["xwhat_tags"].add(" ".join(c.tag for c in xw))
        user = []
        for fr in err.find("stack").findall("frame"):
            res["frame_tags"].update(c.tag for c in fr)
            if fr.findtext("file") == src:
                user.append("%s %s:%s" % (fr.findtext("fn"), fr.findtext("file"),
                                          fr.findtext("line")))
        if not user:
            continue
        key = " ".join([kind] + user)
        # the record number depends on how many records the run has
        text = re.sub(r" in loss record \d+ of \d+$", "", xw.findtext("text"))
        rec = [int(xw.findtext("leakedbytes")), int(xw.findtext("leakedblocks")), text]
        if key in res["records"]:
            sys.exit("duplicate record %s" % key)
        res["records"][key] = rec
    for k in ("error_tags", "xwhat_tags", "frame_tags"):
        res[k] = sorted(res[k])
    json.dump(res, sys.stdout, indent=1, sort_keys=True)
    print()


main()
