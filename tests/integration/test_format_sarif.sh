#!/bin/sh
# test_format_sarif.sh - leak-analyze --format=sarif on victims run under the
# preload: the output passes the SARIF 2.1.0 JSON schema (vendored
# tests/integration/sarif-schema-2.1.0.json, python3-jsonschema from
# tools/deps.sh), one result per leak site with ruleId by kind, located at
# the user's line relative to --source-root, the whole stack, suppressed
# sites marked, and untrusted names in a dump still give valid SARIF.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
SO=$BUILD/libleak.so
V=$BUILD/victims
SRC=tests/integration/victims
SCHEMA=tests/integration/sarif-schema-2.1.0.json
PY=/usr/bin/python3
for f in "$LA" "$V/an_leaks" "$V/rc_tree"; do [ -x "$f" ] || { echo "FAIL: build $f first" >&2; exit 1; }; done
[ -f "$SO" ] || { echo "SKIP: no $SO yet"; exit 77; }
"$PY" -c 'import jsonschema' 2>/dev/null || { echo "FAIL: python3-jsonschema missing (tools/deps.sh test)" >&2; exit 1; }
SO=$(cd "$(dirname "$SO")" && pwd)/libleak.so
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-sarif-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
line_of() { grep -n "$2" "$1" | head -n 1 | cut -d: -f1; }
run() {  # run NAME VICTIM [ENV...]: dumps into $T/NAME
    n=$1; v=$2; shift 2
    mkdir -p "$T/$n"
    env "$@" LIBLEAK_DIR="$T/$n" LD_PRELOAD="$SO" "$v" >"$T/$n.stdout" 2>"$T/$n.stderr" \
        || fail "$v exited $?"
    ls "$T/$n"/libleak.*.json >/dev/null 2>&1 || fail "$v wrote no dump"
}
# sarif NAME ARGS...: the report of dumps $T/NAME into $T/NAME.sarif, exit status checked
sarif() {
    n=$1; want=$2; shift 2
    "$LA" --format=sarif "$@" "$T/$n" >"$T/$n.sarif" 2>"$T/$n.err"
    got=$?
    [ "$got" -eq "$want" ] || fail "sarif $n: exit $got, want $want ($(head -c 300 "$T/$n.err"))"
}
# check NAME PYTHON: schema validation, then the asserts (report as s, its
# one run's results as res, the JSON report as j)
check() {
    n=$1; shift
    "$PY" - "$SCHEMA" "$T/$n.sarif" "$T/$n.json" "$(pwd)" <<PY 2>"$T/py.err" || fail "$n: $(tail -n 5 "$T/py.err")"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
jsonschema.validate(s, schema)
j = json.load(open(sys.argv[3]))
root = sys.argv[4]
assert s["version"] == "2.1.0"
run, = s["runs"]
res = run["results"]
rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
assert rules == ["libleak/unfreed", "libleak/definite", "libleak/indirect",
                 "libleak/possible", "libleak/reachable"], rules
for r in res:
    assert rules[r["ruleIndex"]] == r["ruleId"], r
    assert r["stacks"][0]["frames"], r
def user(r):
    loc = r["locations"][0]["physicalLocation"]
    return (loc["artifactLocation"].get("uriBaseId"), loc["artifactLocation"]["uri"],
            loc["region"]["startLine"])
$1
PY
}

# ### an_leaks without a scan: unfreed sites at the user's lines, stdio suppressed
run plain "$V/an_leaks" LIBLEAK_SCAN=0
sarif plain 0
"$LA" --format=json "$T/plain" >"$T/plain.json" || fail "json plain"
C=$SRC/an_leaks.c
check plain "
assert run['originalUriBaseIds']['SRCROOT']['uri'] == 'file://' + root + '/', run['originalUriBaseIds']
# one result per leak site of the JSON report, suppressed ones included
assert len(res) == len(j['leaks']) == 5, (len(res), len(j['leaks']))
mine = [r for r in res if 'suppressions' not in r]
assert len(mine) == 4, res
assert all(r['ruleId'] == 'libleak/unfreed' and r['level'] == 'error' for r in mine)
got = sorted((user(r), r['properties']['bytes']) for r in mine)
want = sorted([((\"SRCROOT\", \"$C\", $(line_of $C 'AN_MALLOC \*/')), 4011),
               ((\"SRCROOT\", \"$C\", $(line_of $C 'AN_STRDUP \*/')), 6),
               ((\"SRCROOT\", \"$C\", $(line_of $C 'AN_CALLOC \*/')), 80),
               ((\"SRCROOT\", \"$C\", $(line_of $C 'AN_REALLOC \*/')), 500)])
assert got == want, (got, want)
big = [r for r in mine if r['properties']['bytes'] == 4011][0]
assert '4011 byte(s) in 3 block(s)' in big['message']['text'], big['message']
assert 'leak_malloc' in big['message']['text'], big['message']
names = [f['location']['logicalLocations'][0]['name'] for f in big['stacks'][0]['frames']]
assert names == ['leak_malloc', 'main'], names
sup, = [r for r in res if 'suppressions' in r]
assert sup['suppressions'] == [{'kind': 'external', 'justification': 'builtin:stdio-buffers (builtin:0)'}], sup
assert all(r['partialFingerprints']['libleakSiteKey/v1'] for r in res)
"

# no site of the kinds asked for: an empty, still valid run
sarif plain 0 --show=reachable --fail-on=reachable
check plain "
assert res == [], res
"

# --source-root elsewhere: files outside it keep no SRCROOT base
sarif plain 0 --source-root=analyzer
check plain "
assert run['originalUriBaseIds']['SRCROOT']['uri'] == 'file://' + root + '/analyzer/'
assert not any(r['locations'][0].get('physicalLocation', {}).get('artifactLocation', {}).get('uriBaseId') for r in res)
"
"$LA" --format=sarif --source-root="$T/none" "$T/plain" >/dev/null 2>"$T/err"
[ $? -eq 2 ] || fail "a missing --source-root is not exit 2"
[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "source-root" "$T/err" || fail "--source-root error: $(cat "$T/err")"

# ### rc_tree with the scan: one definite and one indirect result; the gate
# counts them (error) and the exit status follows --fail-on-leak
run tree "$V/rc_tree"
sarif tree 1 --fail-on-leak
"$LA" --format=json "$T/tree" >"$T/tree.json"
R=$SRC/rc_tree.c
check tree "
mine = [r for r in res if 'suppressions' not in r]
assert len(mine) == len([l for l in j['leaks'] if 'suppressed_by' not in l]), mine
assert set(r['ruleId'] for r in mine) == {'libleak/definite', 'libleak/indirect'}, mine
d, = [r for r in res if r['ruleId'] == 'libleak/definite']
ind = [r for r in res if r['ruleId'] == 'libleak/indirect']
assert (d['properties']['bytes'], d['properties']['blocks']) == (64, 1), d['properties']
assert sum(i['properties']['bytes'] for i in ind) == 288, ind
assert sum(i['properties']['blocks'] for i in ind) == 6, ind
assert all(r['level'] == 'error' for r in mine)
assert user(d) == ('SRCROOT', '$R', $(line_of $R 'calloc(1, 64)')), user(d)
assert all(user(i)[:2] == ('SRCROOT', '$R') for i in ind), [user(i) for i in ind]
assert all('Indirect leak of ' in i['message']['text'] for i in ind), ind
"
# --fail-on=definite: indirect is no longer an error
sarif tree 0 --fail-on=definite --show=definite,indirect
check tree "
ind = [r for r in res if r['ruleId'] == 'libleak/indirect']
assert ind and all(i['level'] == 'warning' for i in ind), ind
"

# ### untrusted names: a dump whose exe, argv[0] and module paths carry quotes,
# markup, control and non-UTF-8 bytes still gives valid SARIF
"$PY" - "$T/plain" "$T/evil" <<'PY' || fail "cannot make the hostile dump"
import glob, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for f in glob.glob(src + "/libleak.*.json"):
    d = json.load(open(f))
    d["process"]["exe"] = "/bin/e\"v<i>l&'\x01\x1b[31m\x7f\u202e"
    d["process"]["cmdline"] = [d["process"]["exe"]]   # the name shown
    for m in d["modules"]:
        m["path"] = m["path"] + "\"<x>&'\x02 %#\\"
    json.dump(d, open(os.path.join(dst, os.path.basename(f)), "w"))
PY
sarif evil 0
"$LA" --format=json "$T/evil" >"$T/evil.json" 2>/dev/null
check evil "
assert len(res) == len(j['leaks']) and res, len(res)
text = open(sys.argv[2], encoding='utf-8').read()
assert '\x1b' not in text and '\x01' not in text, 'raw control character'
assert any('e\"v<i>l' in r['message']['text'] for r in res), [r['message'] for r in res]
"

[ "$fails" -eq 0 ] || exit 1
echo "ok: sarif"
