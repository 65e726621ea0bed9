# lib.sh - shell helpers for the real-program tests (test_real_*.sh).
# Source it from the repository root (tests/run.sh runs from there):
#     . tests/integration/lib.sh
#     lk_init real_python          # sets LK_SO, LK_TMP; cleans up on exit
#     lk_run_both <cmd...>         # same status and stdout with and without the preload
#     lk_check_dumps "$LK_DUMPS" 1 # every dump valid, at least 1
# BUILD (default build) locates libleak.so.  LIBLEAK_TEST_KEEP=1 keeps LK_TMP.
# A failure prints "FAIL: <why>" on stderr and exits 1.

lk_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# lk_init NAME: find $BUILD/libleak.so (LK_SO, absolute) and make a private
# temporary directory LK_TMP, removed at exit unless LIBLEAK_TEST_KEEP is set.
lk_init() {
    BUILD=${BUILD:-build}
    [ -f "$BUILD/libleak.so" ] || lk_fail "missing $BUILD/libleak.so (run make BUILD=$BUILD)"
    LK_SO=$(cd "$BUILD" && pwd)/libleak.so
    LK_ROOT=$(pwd)
    LK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lk-$1-XXXXXX") || lk_fail "mktemp"
    if [ -n "${LIBLEAK_TEST_KEEP:-}" ]; then
        echo "keeping $LK_TMP" >&2
    else
        trap 'rm -rf "$LK_TMP"' EXIT
    fi
    # the version the dumps must carry, from the one place it is defined
    LK_VERSION=$(sed -n 's/^#define LIBLEAK_DUMP_VERSION[ ]*\([0-9]*\).*/\1/p' \
        "$LK_ROOT/include/libleak/dump.h")
    [ -n "$LK_VERSION" ] || lk_fail "cannot read LIBLEAK_DUMP_VERSION"
    # no LIBLEAK_* setting of the caller leaks into the test
    for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do
        [ "$v" = LIBLEAK_TEST_KEEP ] || unset "$v"
    done
    unset LD_PRELOAD
    # Debian's python3 (tools/deps.sh installs it); a PATH python3 may be a
    # wrapper script (pyenv) that spawns shells of its own
    if [ -x /usr/bin/python3 ]; then LK_PY=/usr/bin/python3; else LK_PY=python3; fi
}

# lk_run_both CMD...: run CMD without the preload, then with it (dumps into a
# fresh $LK_DUMPS); fail unless both exit with the same status and print the
# same stdout.  Sets LK_STATUS (the status) and leaves the outputs in
# $LK_TMP/bare.out, $LK_TMP/pre.out, and stderr in bare.err, pre.err.
lk_run_both() {
    LK_DUMPS=$LK_TMP/dumps
    rm -rf "$LK_DUMPS"
    mkdir "$LK_DUMPS" || lk_fail "mkdir $LK_DUMPS"
    "$@" >"$LK_TMP/bare.out" 2>"$LK_TMP/bare.err" </dev/null
    bare_status=$?
    env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_DUMPS" "$@" \
        >"$LK_TMP/pre.out" 2>"$LK_TMP/pre.err" </dev/null
    pre_status=$?
    if [ "$bare_status" -ne "$pre_status" ]; then
        echo "--- stderr under the preload:" >&2
        tail -n 20 "$LK_TMP/pre.err" >&2
        lk_fail "$1: exit status $pre_status under the preload, $bare_status without"
    fi
    if ! cmp -s "$LK_TMP/bare.out" "$LK_TMP/pre.out"; then
        diff -u "$LK_TMP/bare.out" "$LK_TMP/pre.out" | head -n 40 >&2
        lk_fail "$1: stdout differs under the preload"
    fi
    LK_STATUS=$bare_status
}

# lk_check_dumps DIR MIN: DIR holds at least MIN dumps and nothing else (no
# .tmp file); each is named libleak.<pid>.<seq>.<trigger>.json, has mode 0600,
# parses, carries format "libleak-dump", the current version, the pid and seq
# of its name, keeps the totals == sum-of-sites invariants, has every frame
# inside a module of modules[] (but the generated code a jit_cut stack ends
# at), and an exit dump is the last dump of its pid.  Prints the
# number of dumps.  The checker runs without the preload.
lk_check_dumps() {
    env -u LD_PRELOAD "$LK_PY" - "$1" "$2" "$LK_VERSION" <<'PY' || lk_fail "bad dumps in $1"
import json, os, re, stat, sys
d, want, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
name_re = re.compile(r'^libleak\.(\d+)\.(\d+)\.(exit|signal|interval|api|watermark)\.json$')
names = sorted(os.listdir(d))
bad = [n for n in names if not name_re.match(n)]
if bad:
    sys.exit("unexpected files (a .tmp means a dump died half-way): %s" % bad)
if len(names) < want:
    sys.exit("%d dumps, expected at least %d" % (len(names), want))
for n in names:
    p = os.path.join(d, n)
    pid, seq, trigger = name_re.match(n).groups()
    mode = stat.S_IMODE(os.stat(p).st_mode)
    if mode != 0o600:
        sys.exit("%s: mode %o, expected 600" % (n, mode))
    try:
        j = json.load(open(p))
    except ValueError as e:
        sys.exit("%s: not JSON: %s" % (n, e))
    if j.get("format") != "libleak-dump" or j.get("version") != version:
        sys.exit("%s: format %r version %r" % (n, j.get("format"), j.get("version")))
    if j["process"]["pid"] != int(pid) or j["dump"]["seq"] != int(seq) \
            or j["dump"]["trigger"] != trigger:
        sys.exit("%s: pid/seq/trigger inside differ from the name" % n)
    if not j["process"].get("exe", "").startswith("/") or not j["process"].get("cmdline"):
        sys.exit("%s: process.exe %r / cmdline %r" % (n, j["process"].get("exe"),
                                                       j["process"].get("cmdline")))
    mods = [(int(m["base"], 16), m["size"]) for m in j["modules"]]
    for s in j["stacks"]:
        for f in s["frames"][:-1] if s.get("jit_cut") else s["frames"]:
            a = int(f, 16) - 1
            if not any(b <= a < b + z for b, z in mods):
                sys.exit("%s: stack %d frame %s lies in no module" % (n, s["id"], f))
    ids = {s["id"] for s in j["stacks"]}
    for s in j["sites"]:
        if s["stack"] not in ids:
            sys.exit("%s: site names missing stack %d" % (n, s["stack"]))
        if s["total_blocks"] != s["live_blocks"] + s["freed_blocks"]:
            sys.exit("%s: site %d: total != live + freed" % (n, s["stack"]))
    last = max(int(m.split(".")[2]) for m in names if m.split(".")[1] == pid)
    if trigger == "exit" and int(seq) != last:
        sys.exit("%s: not the last dump of pid %s (seq %d exists)" % (n, pid, last))
    t = j["totals"]
    if t["complete"]:
        if t["live_bytes"] != sum(s["live_bytes"] for s in j["sites"]) or \
           t["live_blocks"] != sum(s["live_blocks"] for s in j["sites"]):
            sys.exit("%s: totals differ from the sum of sites" % n)
print(len(names))
PY
}

# lk_dump_exes DIR: print process.exe of every dump in DIR, one per line.
lk_dump_exes() {
    env -u LD_PRELOAD "$LK_PY" -c '
import json, os, sys
for n in sorted(os.listdir(sys.argv[1])):
    print(json.load(open(os.path.join(sys.argv[1], n)))["process"]["exe"])' "$1"
}
