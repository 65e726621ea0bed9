#!/bin/sh
# test_html_demo.sh - the HTML report of each demo (demo/*.c), run through
# tools/libleak --html and opened in headless Chromium: no JavaScript error,
# nothing loaded from outside the file, the banner's verdict, the leak rows
# with their file:line, the flamegraph frames of the leaking function and
# the growth chart with its failure marker (html_check.py reads the DOM).
set -u
. tests/integration/lib.sh
lk_init html_demo
LA=$BUILD/leak-analyze
for f in "$LA" "$BUILD/demo/leaky" "$BUILD/demo/grow_until_oom" "$BUILD/demo/oversized"; do
    [ -x "$f" ] || lk_fail "build $f first (make demo)"
done
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is not installed (tools/deps.sh test installs it)"; exit 77; }
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# page NAME DEMO: run the demo under the wrapper into $LK_TMP/NAME.html and
# dump the DOM Chromium builds from it into $LK_TMP/NAME.dom
page() {
    LIBLEAK_INTERVAL_MS=100 BUILD=$BUILD tools/libleak --html "$LK_TMP/$1.html" -- "$BUILD/demo/$2" \
        >"$LK_TMP/$1.out" 2>&1
    [ -s "$LK_TMP/$1.html" ] || { fail "$2: no HTML report ($(tail -n 3 "$LK_TMP/$1.out"))"; return 1; }
    # as root Chromium needs --no-sandbox; the profile is a scratch one
    timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$LK_TMP/profile" \
        --virtual-time-budget=5000 --dump-dom "file://$LK_TMP/$1.html" >"$LK_TMP/$1.dom" 2>"$LK_TMP/$1.err"
    [ -s "$LK_TMP/$1.dom" ] || { fail "$2: chromium dumped no DOM ($(tail -n 3 "$LK_TMP/$1.err"))"; return 1; }
}
check() {
    name=$1; shift
    "$LK_PY" tests/integration/html_check.py "$LK_TMP/$name.html" "$LK_TMP/$name.dom" "$@" \
        >"$LK_TMP/$name.check" 2>&1 || fail "$name: $(cat "$LK_TMP/$name.check")"
}

page leaky leaky \
    && check leaky --verdict leak --row "demo/leaky.c:41" --row "demo/leaky.c:28" \
        --flame make_list --flame make_name --text "make_list (leaky.c:41)" --text "g_cache"
page oom grow_until_oom \
    && check oom --verdict leak_exhaustion --row "demo/grow_until_oom.c:47" --flame keep_history \
        --fail-marker --text "held by global history"
page over oversized \
    && check over --verdict overflow --fail-marker --text "read_record (oversized.c:32)"

[ "$fails" -eq 0 ] || exit 1
echo ok
