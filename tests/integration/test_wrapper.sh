#!/bin/sh
# test_wrapper.sh - tools/libleak's exit status, one case per rule: the
# program's own failure or fatal signal (128+N) wins, then 2 for libleak's
# usage errors, then the gate's code (--exitcode N, default 1), then 0; and
# the program may be given without "--".  Victim: build/victims/wr_status.
set -u
BUILD=${BUILD:-build}
V=$BUILD/victims/wr_status
[ -x "$V" ] || { echo "FAIL: build $V first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-wrapper-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect WANT ARGS...: tools/libleak ARGS exits with WANT (stdout in $T/out,
# stderr in $T/err)
expect() {
    want=$1; shift
    BUILD=$BUILD timeout -s KILL 120 tools/libleak "$@" >"$T/out" 2>"$T/err" </dev/null
    got=$?
    [ "$got" = "$want" ] || fail "exit $got, want $want: libleak $* ($(tail -n 2 "$T/err" | tr -d '\000-\011\013-\037'))"
}

# no leak, no gate: 0, with or without "--"
expect 0 -- "$V"
expect 0 "$V"
expect 0 --fail-on-leak "$V"
# a leak reported but no gate asked for: 0, and the report names the site
expect 0 "$V" leak
grep -q 'Direct leak of 777 byte' "$T/err" || fail "no report of the 777-byte leak on stderr"
# the report goes to stderr, as valgrind's and LSan's do: the program's
# stdout is byte for byte what it prints natively
"$V" print hello leak print world >"$T/native.out" 2>/dev/null
expect 0 "$V" print hello leak print world
cmp -s "$T/native.out" "$T/out" || fail "the program's stdout differs from a native run: $(head -c 300 "$T/out")"
expect 0 --format=json "$V" print hello leak print world
cmp -s "$T/native.out" "$T/out" || fail "--format=json: the program's stdout holds more: $(head -c 300 "$T/out")"
grep -q '"kind": "definite"' "$T/err" || fail "--format=json: no report on stderr"
# the gate trips: 1, or the --exitcode chosen (both spellings)
expect 1 --fail-on-leak "$V" leak
expect 1 --fail-on-leak -- "$V" leak
expect 23 --fail-on-leak --exitcode 23 "$V" leak
expect 23 --exitcode=23 --max-leak-bytes=100 "$V" leak
# an option's value in the next word is not taken for the program
expect 1 --max-leak-bytes 100 -o "$T/report.txt" "$V" print hello leak print world
grep -q 'Direct leak of 777 byte' "$T/report.txt" || fail "-o FILE did not get the report"
grep -q 'Direct leak' "$T/err" && fail "-o FILE: the report is on stderr too"
cmp -s "$T/native.out" "$T/out" || fail "-o FILE: the program's stdout differs from a native run"
# the program's own failure wins, with or without a leak and a gate
expect 3 "$V" exit 3
expect 3 --fail-on-leak --exitcode 23 "$V" leak exit 3
grep -q 'Direct leak of 777 byte' "$T/err" || fail "no report when the program failed"
# killed by a signal: 128+N, as a shell reports it
expect 139 "$V" kill 11
expect 143 --fail-on-leak "$V" leak kill 15
expect 134 --exitcode=7 "$V" kill 6
# the program's arguments are its own, options included
expect 0 "$V" --fail-on-leak leak
# libleak's usage errors: 2, before the program runs
expect 2
grep -q 'no program given' "$T/err" || fail "no 'no program given' message"
expect 2 --fail-on-leak
expect 2 --bogus-option "$V" exit 3
expect 2 --top=many "$V"
expect 2 --exitcode 0 "$V"
expect 2 --exitcode 256 "$V"
expect 2 --exitcode=x "$V"
expect 2 --exitcode
expect 2 "$T/no-such-program"
grep -q 'no such program' "$T/err" || fail "no 'no such program' message"
expect 2 "$T"
# --dumps DIR keeps the dumps for a second analysis; DIR must be new or empty
expect 1 --dumps "$T/d" --fail-on-leak "$V" leak
ls "$T"/d/libleak.*.json >/dev/null 2>&1 || fail "--dumps: no dump in $T/d"
BUILD=$BUILD timeout -s KILL 60 "$BUILD/leak-analyze" "$T/d" >"$T/out" 2>&1 \
    && grep -q 'Direct leak of 777 byte' "$T/out" || fail "--dumps: the kept dumps do not report the leak"
expect 2 --dumps "$T/d" "$V"
grep -q 'not empty' "$T/err" || fail "--dumps on a used directory: no 'not empty' message"
expect 3 --dumps="$T/e" "$V" exit 3
[ -d "$T/e" ] || fail "--dumps=DIR: DIR not created"
expect 2 --dumps "$T/report.txt" "$V"
# README's plain Makefile CI recipe, as written there, on the four cases
R=$T/recipe
mkdir -p "$R/tests" "$R/ci"
sed -n '/^```make$/,/^```$/p' README.md | sed '1d;$d' >"$R/Makefile"
grep -q '^leak-check:' "$R/Makefile" || fail "README has no leak-check recipe"
abs_v=$(cd "$(dirname "$V")" && pwd)/$(basename "$V")
printf '#!/bin/sh\nexec %s $CASE_ARGS\n' "$abs_v" >"$R/tests/all"
chmod +x "$R/tests/all"
# recipe WANT [VAR=VALUE...]: make's "Error WANT" line, or success for 0
recipe() {
    want=$1; shift
    (cd "$R" && env "$@" LIBLEAK="$(cd "$OLDPWD" && pwd)/tools/libleak" BUILD="$(cd "$OLDPWD/$BUILD" && pwd)" \
        timeout -s KILL 120 make leak-check) >"$T/out" 2>&1
    got=$?
    if [ "$want" = 0 ]; then
        [ "$got" = 0 ] || fail "recipe $*: make exit $got, want 0 ($(tail -n 1 "$T/out"))"
    else
        grep -q "leak-check\] Error $want\$" "$T/out" || fail "recipe $*: no 'Error $want' ($(tail -n 1 "$T/out"))"
    fi
}
(cd "$R" && LIBLEAK="$(cd "$OLDPWD" && pwd)/tools/libleak" BUILD="$(cd "$OLDPWD/$BUILD" && pwd)" \
    make -s leak-baseline) >"$T/out" 2>&1 || fail "recipe: make leak-baseline ($(tail -n 1 "$T/out"))"
recipe 0 CASE_ARGS=
recipe 1 CASE_ARGS=leak
recipe 3 "CASE_ARGS=leak exit 3"
recipe 2 CASE_ARGS= LIBLEAK_FLAGS=--bogus-option
# every leak-analyze option with a value (from its --help) takes it from the
# next word through the wrapper too
touch "$T/empty.supp"
BUILD=$BUILD "$BUILD/leak-analyze" --format=json -o "$T/base.json" "$T/d" >/dev/null 2>&1
for o in $("$BUILD/leak-analyze" --help | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}--\([a-z-]*\)=.*/\2/p'); do
    case $o in
        format) val=text ;; output) val=$T/o.txt ;; top|min-bytes) val=1 ;;
        max-leak-bytes) val=1G ;; baseline) val=$T/base.json ;;
        suppressions) val=$T/empty.supp ;; show) val=all ;; fail-on) val=definite ;;
        chart) val=$T/c.svg ;; html) val=$T/h.html ;; color) val=never ;; source-root) val=$T ;;
        *) fail "test_wrapper knows no value for leak-analyze's --$o"; continue ;;
    esac
    expect 0 "--$o" "$val" "$V"
done
# a missing baseline or suppressions file: 2 before the program runs
expect 2 --baseline "$T/no-such.json" "$V" exit 3
grep -q 'no-such.json' "$T/err" || fail "missing baseline: no message naming it"
expect 2 --suppressions "$T/no-such.supp" "$V" exit 3
printf 'race:x\n' >"$T/bad.supp"
expect 2 --suppressions "$T/bad.supp" "$V" exit 3
# --html prints the report and the gate's verdict once
expect 1 --fail-on-leak --html "$T/r.html" "$V" leak
[ "$(grep -c 'leak gate failed' "$T/err")" = 1 ] || fail "--html: gate line $(grep -c 'leak gate failed' "$T/err") times"
[ -s "$T/r.html" ] || fail "--html: no page"
# --help and --version need no program
expect 0 --help
grep -q 'Exit status' "$T/out" || fail "--help does not state the exit status"
expect 0 --version
grep -Eq '^libleak [0-9]+\.[0-9]+' "$T/out" || fail "--version printed '$(head -c 80 "$T/out")'"

[ "$fails" = 0 ] || exit 1
echo "test_wrapper: ok"
