#!/bin/sh
# test_html_real.sh - the HTML report of real programs, made by
# tools/libleak --html and opened in headless Chromium: bash with subshells
# and pipes (a dozen processes, forked children with inherited blocks),
# python3 with threads (thousands of sites, 60-frame stacks), node with a
# Worker (JIT frames) and git (a command that runs others).  Each page:
# no JavaScript error, a verdict banner, the process picker listing the
# processes when there are several, flamegraph frames, leak rows that name
# file:line or module+offset, and at most 2 MB (html_check.py reads the DOM).
set -u
. tests/integration/lib.sh
lk_init html_real
LA=$BUILD/leak-analyze
[ -x "$LA" ] || lk_fail "build $LA first"
BUILD_ABS=$(cd "$BUILD" && pwd)
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is not installed (tools/deps.sh test installs it)"; exit 77; }
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=$(command -v python3) || { echo "SKIP: python3 is not installed"; exit 77; }
NODE=$(command -v node || command -v nodejs) || { echo "SKIP: node is not installed (tools/deps.sh test)"; exit 77; }
for p in bash git; do
    command -v $p >/dev/null 2>&1 || { echo "SKIP: $p is not installed"; exit 77; }
done
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# page NAME CMD...: run CMD under the wrapper (in $LK_TMP/NAME.d) into
# $LK_TMP/NAME.html and dump the DOM Chromium builds from it into NAME.dom
page() {
    name=$1; shift
    mkdir -p "$LK_TMP/$name.d"
    (cd "$LK_TMP/$name.d" && BUILD=$BUILD_ABS timeout 60 "$LK_ROOT/tools/libleak" \
        --html "$LK_TMP/$name.html" -- "$@") >"$LK_TMP/$name.out" 2>&1
    [ -s "$LK_TMP/$name.html" ] || { fail "$name: no HTML report ($(tail -n 3 "$LK_TMP/$name.out"))"; return 1; }
    timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$LK_TMP/profile" \
        --virtual-time-budget=10000 --dump-dom "file://$LK_TMP/$name.html" >"$LK_TMP/$name.dom" 2>"$LK_TMP/$name.err"
    [ -s "$LK_TMP/$name.dom" ] || { fail "$name: chromium dumped no DOM ($(tail -n 3 "$LK_TMP/$name.err"))"; return 1; }
    # the page's own timings, for the log (never asserted)
    echo "$name: $(wc -c <"$LK_TMP/$name.html") bytes, $(grep -o 'data-phase-ms="[^"]*"' "$LK_TMP/$name.dom" | head -n 1)"
}
check() {
    name=$1; shift
    "$LK_PY" tests/integration/html_check.py "$LK_TMP/$name.html" "$LK_TMP/$name.dom" \
        --banner --located --frames 3 --max-bytes 2000000 "$@" \
        >"$LK_TMP/$name.check" 2>&1 || fail "$name: $(cat "$LK_TMP/$name.check")"
}

# bash: command substitutions, a subshell, pipes into tr (7+ processes)
page bash bash -c 'for i in 1 2 3; do x=$( (echo "$i$i" | tr 0-9 a-j) ); ( echo "$x" >/dev/null ); done' \
    && check bash --picker 5
# python3: 4 threads build dicts, trees and JSON; every object through malloc
PYTHONMALLOC=malloc page python "$PY3" -c '
import json, threading
keep = []
def work(t):
    words = ["w%05d" % (i * 7919 % 10007 + t) for i in range(3000)]
    keep.append(json.loads(json.dumps({w: i for i, w in enumerate(words)})))
ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(len(k) for k in keep))' && check python
# node: a Worker thread and JIT code
cat >"$LK_TMP/work.js" <<'JS'
const { Worker, isMainThread, parentPort } = require('worker_threads');
function work(n) {
  let keep = [];
  for (let i = 0; i < n; i++) keep.push(JSON.parse(JSON.stringify({ id: i, name: 'item' + i })).name);
  return keep.length;
}
if (isMainThread) { const w = new Worker(__filename); w.on('message', (m) => console.log('worker', m)); console.log('main', work(20000)); }
else parentPort.postMessage(work(10000));
JS
page node "$NODE" "$LK_TMP/work.js" && check node
# git: init, add, commit, log (git runs git)
HOME=$LK_TMP GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid \
GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid \
    page git bash -c 'set -e; git init -q -b main r; cd r; for i in 1 2 3 4 5; do echo $i >f$i; done
        git add .; git commit -q -m one; git log --oneline | wc -l; git status --short' \
    && check git --picker 3

[ "$fails" -eq 0 ] || exit 1
echo ok
