#!/bin/sh
# test_layers.sh - tools/layers.py: first on tiny object files made here (a
# circle of three, a pair calling each other, a weak and a data reference, an
# LTO object, a one-way set, declared layers kept and broken), then on the
# preload's and the analyzer's own objects, which must call one way (and in
# the order their README declares, if it declares one).
set -u
BUILD=${BUILD:-build}
CC=${CC:-cc}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-layers-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# mk DIR FILE 'C source' [cc flags]: compile one tiny file into DIR/FILE.o
mk() {
    mkdir -p "$T/$1"
    printf '%s\n' "$3" > "$T/$1/$2.c"
    $CC -O0 -c ${4:-} -o "$T/$1/$2.o" "$T/$1/$2.c" || fail "cannot compile $1/$2.c"
}
# expect DIR STATUS 'extended regex the output must match' [layers.py options]
expect() {
    d=$1 want=$2 re=$3
    shift 3
    out=$($PY tools/layers.py --name "$d" "$@" "$T/$d" 2>&1)
    rc=$?
    [ "$rc" -eq "$want" ] || fail "$d: exit $rc, expected $want; output:
$out"
    printf '%s\n' "$out" | grep -Eq "$re" || fail "$d: output does not match '$re':
$out"
}

# a -> b -> c -> a
mk circle a 'void b(void); void a(void) { b(); }'
mk circle b 'void c(void); void b(void) { c(); }'
mk circle c 'void a(void); void c(void) { a(); }'
expect circle 1 '^circle: circle of 3 files: a b c$'
expect circle 1 '^    c -> a: a$'

# a -> b -> c, and a -> c: one way
mk oneway a 'void b(void); void c(void); void a(void) { b(); c(); }'
mk oneway b 'void c(void); void b(void) { c(); }'
mk oneway c 'int c_count; void c(void) { c_count++; }'
expect oneway 0 '^oneway: 3 files, one way$'

# a <-> b directly, c apart
mk pair a 'void b(void); void a(void) { b(); }'
mk pair b 'void a(void); void b(void) { a(); }'
mk pair c 'void c(void) { }'
expect pair 1 '^pair: circle of 2 files: a b$'

# the way back is a weak reference (as a file declaring its own weak
# externs does) and a read of another file's global
mk weak a 'void b(void); int a_count; void a(void) { b(); }'
mk weak b 'extern void c(void) __attribute__((weak)); void b(void) { if (c) c(); }'
mk weak c 'extern int a_count; void c(void) { a_count++; }'
expect weak 1 '^weak: circle of 3 files: a b c$'

# LTO objects, as libleak.so's are built (nm must read them through the plugin)
mk lto a 'void b(void); void a(void) { b(); }' -flto
mk lto b 'void a(void); void b(void) { a(); }' -flto
expect lto 1 '^lto: circle of 2 files: a b$'

# declared layers: kept, broken (an up-call), a file in no layer, a stale name
# readme 'README text' STATUS 'regex': the one-way set against that README
readme() {
    printf '%s\n' "$1" > "$T/README.md"
    expect oneway "$2" "$3" --readme "$T/README.md"
}
readme '# x

Layers (top to bottom): `a` > `b` > `c`' 0 'one way, in the declared layers$'
readme 'Layers (top to bottom): a+b c*' 0 'one way, in the declared layers$'
readme '- **Layers (top to bottom):** a -> b -> c.' 0 'one way, in the declared layers$'
readme 'Layers (top to bottom): c b a' 1 '^oneway: a calls up into b: b$'
readme 'Layers (top to bottom): a b' 1 '^oneway: c is in no layer of '
readme 'Layers (top to bottom): a b c gone' 1 "^oneway: layer 'gone' of .* names no file$"
readme '# no layers declared here' 0 '^oneway: 3 files, one way$'

# nothing to read is a usage error, not a pass
mkdir -p "$T/empty"
expect empty 2 'no object files'

[ "$fails" -eq 0 ] || { echo "FAIL: layers.py self-test: $fails failures" >&2; exit 1; }
echo "layers.py self-test: ok"

# The programs themselves.  The summary goes last, so that the tail of the
# log names every circle and broken layer.
summary=""
for prog in preload analyzer; do
    [ -d "$BUILD/obj/$prog" ] || { fail "missing $BUILD/obj/$prog (run make BUILD=$BUILD)"; continue; }
    out=$($PY tools/layers.py --name "$prog" --readme "$prog/README.md" "$BUILD/obj/$prog" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    if [ "$rc" -ne 0 ]; then
        fail "$prog: files call each other (tools/layers.py exit $rc)"
        summary="$summary$(printf '%s\n' "$out" | grep -v '^    ')
"
    fi
done
if [ "$fails" -ne 0 ]; then
    printf '\nwhat to cut:\n%s' "$summary"
    exit 1
fi
