#!/bin/sh
# test_install.sh - make install into a scratch PREFIX: the layout (the
# preload in lib/libleak/, where -lleak cannot find it), the installed
# wrapper on a victim, the pkg-config file, man pages that render without a
# warning and libleak(7) naming every setting of preload/config.def; then
# make uninstall leaves no file behind.
set -u
BUILD=${BUILD:-build}
V=$BUILD/victims/wr_status
[ -x "$V" ] || { echo "FAIL: build $V first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-install-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD LIBLEAK_SO LEAK_ANALYZE
P=$T/prefix
CC=${CC:-cc}
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# install must not rebuild (it would, with this shell's flags, not the build's)
make -q BUILD="$BUILD" all || { echo "FAIL: $BUILD is not up to date: run make first" >&2; exit 1; }
make -s BUILD="$BUILD" PREFIX="$P" install >"$T/make.out" 2>&1 \
    || { cat "$T/make.out" >&2; echo "FAIL: make install" >&2; exit 1; }

for f in bin/libleak bin/leak-analyze lib/libleak/libleak.so include/libleak.h \
         include/libleak/dump.h share/pkgconfig/libleak.pc share/doc/libleak/FORMAT.md \
         share/man/man1/libleak.1 share/man/man1/leak-analyze.1 share/man/man7/libleak.7; do
    [ -f "$P/$f" ] || fail "not installed: $f"
done
[ -e "$P/lib/libleak.so" ] && fail "lib/libleak.so installed: -lleak would link the preload"

# -lleak finds nothing; the header's API links with pkg-config's flags alone
cat >"$T/api.c" <<'C'
#include <stdio.h>
#include <libleak.h>
int main(void) { printf("active=%d\n", LIBLEAK_ACTIVE()); return 0; }
C
"$CC" -o "$T/lleak" "$T/api.c" -I"$P/include" -L"$P/lib" -lleak 2>/dev/null \
    && fail "-lleak -L$P/lib linked something"
flags=$(PKG_CONFIG_PATH=$P/share/pkgconfig pkg-config --cflags --libs libleak) \
    || fail "pkg-config does not know libleak"
# shellcheck disable=SC2086
"$CC" -o "$T/api" "$T/api.c" $flags || fail "the API does not build with: $flags"
[ "$("$T/api")" = "active=0" ] || fail "the API program without the preload"

# the installed wrapper finds the installed preload and analyzer, from
# anywhere (no source tree next to it)
abs_v=$(cd "$(dirname "$V")" && pwd)/$(basename "$V")
(cd "$T" && env -u BUILD "$P/bin/libleak" --fail-on-leak "$abs_v" leak) >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "installed wrapper: exit $rc, want 1 ($(tail -n 1 "$T/err"))"
grep -q 'Direct leak of 777 byte' "$T/err" || fail "installed wrapper: no report of the leak on stderr"
(cd "$T" && env -u BUILD "$P/bin/libleak" --keep "$abs_v" leak) >/dev/null 2>"$T/err"
kept=$(sed -n 's/^libleak: dumps kept in //p' "$T/err")
[ -n "$kept" ] && ls "$kept"/libleak.*.json >/dev/null 2>&1 \
    || fail "installed wrapper: no dump written through $P/lib/libleak/libleak.so"
[ -n "$kept" ] && rm -rf "$kept"
grep -qx "LIBLEAK_SO_DEFAULT=$P/lib/libleak/libleak.so" "$P/bin/libleak" \
    || fail "installed wrapper does not default to $P/lib/libleak/libleak.so"

# man pages: no warning from man or groff
for m in man1/libleak.1 man1/leak-analyze.1 man7/libleak.7; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$P/share/man/$m" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "man $m: $out"
    out=$(groff -ww -z -man "$P/share/man/$m" 2>&1)
    [ -z "$out" ] || fail "groff $m: $out"
done
MANPATH=$P/share/man man -w 7 libleak >/dev/null 2>&1 || fail "man -w 7 libleak: not found under $P"
# every setting of config.def is on libleak(7)
page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$P/share/man/man7/libleak.7" 2>/dev/null)
n=0
for opt in $(sed -n 's/^LK_OPT(\(LIBLEAK_[A-Z0-9_]*\),.*/\1/p' preload/config.def); do
    n=$((n + 1))
    printf '%s\n' "$page" | grep -q "^ *$opt\$" || fail "libleak(7) lacks $opt"
done
[ "$n" -ge 5 ] || fail "only $n settings read from preload/config.def"

make -s BUILD="$BUILD" PREFIX="$P" uninstall >"$T/make.out" 2>&1 || fail "make uninstall"
left=$(find "$P" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
for d in lib/libleak include/libleak share/doc/libleak; do
    [ -d "$P/$d" ] && fail "make uninstall left the directory $d"
done

[ "$fails" = 0 ] || exit 1
echo "test_install: ok"
