"""python_workload.py - the second "real program" workload: Debian's python3
running JSON round trips, string building, sorting and dict churn.  Objects
above 512 bytes bypass pymalloc, so this reaches malloc/realloc/free often.
Usage: python3 python_workload.py [rounds=60]"""
import json
import re
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
total = 0
for r in range(rounds):
    rows = [{"id": i, "name": "row-%06d" % i, "tags": ["t%d" % (i % 7), "g%d" % (i % 13)],
             "payload": "x" * (i % 700)} for i in range(4000)]
    text = json.dumps(rows)
    back = json.loads(text)
    index = {}
    for row in back:
        index.setdefault(row["tags"][0], []).append(row["name"])
    words = re.findall(r"row-\d+", text)
    words.sort(reverse=True)
    s = ",".join(words)
    parts = [s[i:i + 1000] for i in range(0, len(s), 1000)]
    total += len(parts) + sum(len(v) for v in index.values())
print(total)
