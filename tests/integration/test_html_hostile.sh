#!/bin/sh
# test_html_hostile.sh - a leak whose function is named
# ev</script><script>alert(1)</script>'&amp;, a control character and U+2028
# (an asm label: the name the symbolizer reads from the ELF symbol table), in
# a dump whose executable path holds a double quote and "</script>" too:
# the HTML report stays one page with its own three scripts only, and
# Chromium shows both names as text, escaped as the text report escapes them.
set -u
. tests/integration/lib.sh
lk_init html_hostile
LA=$BUILD/leak-analyze
[ -x "$LA" ] || lk_fail "build $LA first"
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium is not installed (tools/deps.sh test installs it)"; exit 77; }

cat >"$LK_TMP/evil.c" <<'C'
#include <stdlib.h>
void *evil(size_t n) __asm__("\"ev</script><script>alert(1)</script>'&amp;\001\342\200\250x\"");
__attribute__((noinline)) void *evil(size_t n) { return malloc(n); }
int main(void) { void *p = evil(77); p = 0; return p != 0; }
C
# no -g: the function's name comes from the symbol table, not DWARF
${CC:-cc} -O0 -fno-omit-frame-pointer -o "$LK_TMP/evil" "$LK_TMP/evil.c" || lk_fail "cannot build the victim"
mkdir "$LK_TMP/dumps" || lk_fail "mkdir"
LIBLEAK_DIR="$LK_TMP/dumps" LD_PRELOAD="$LK_SO" "$LK_TMP/evil" || lk_fail "the victim failed"
"$LK_PY" - "$LK_TMP/dumps" <<'PY' || lk_fail "cannot edit the dump"
import glob, json, sys
f = glob.glob(sys.argv[1] + "/libleak.*.json")[0]
d = json.load(open(f))
d["process"]["exe"] = "/bin/app\"</script><script>alert(2)</script>\u2028"
json.dump(d, open(f, "w"))
PY
"$LA" --format=html -o "$LK_TMP/r.html" "$LK_TMP/dumps" 2>"$LK_TMP/err" \
    || lk_fail "leak-analyze exited $?: $(head -c 300 "$LK_TMP/err")"
timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$LK_TMP/profile" \
    --virtual-time-budget=5000 --dump-dom "file://$LK_TMP/r.html" >"$LK_TMP/r.dom" 2>"$LK_TMP/r.err"
[ -s "$LK_TMP/r.dom" ] || lk_fail "chromium dumped no DOM ($(tail -n 3 "$LK_TMP/r.err"))"
"$LK_PY" tests/integration/html_check.py "$LK_TMP/r.html" "$LK_TMP/r.dom" --verdict leak \
    --text "ev</script><script>alert(1)</script>'&amp;\\x01\\xe2\\x80\\xa8x" \
    --text "/bin/app\"</script><script>alert(2)</script>" \
    --flame "ev</script><script>alert(1)</script>'&amp;\\x01\\xe2\\x80\\xa8x" \
    >"$LK_TMP/check" 2>&1 || lk_fail "$(cat "$LK_TMP/check")"
# nothing raw: no control character and no U+2028 in the file
if LC_ALL=C grep -q "$(printf '\001')" "$LK_TMP/r.html" \
    || grep -q "$(printf '\342\200\250')" "$LK_TMP/r.html"; then
    lk_fail "a raw control character or U+2028 in the page"
fi
echo ok
