#!/bin/sh
# test_gen_suppressions.sh - rules written by --gen-suppressions name their
# leak's stack: made from one run (victims/gs_stacks.c), they hide exactly
# that run's leaks and none of a second run's new sites, even those whose
# top frame (main, libc's asprintf frames, in_leaf) is a hidden site's; one
# line per distinct rule; through tools/libleak -o FILE holds rules only.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
V=$BUILD/victims/gs_stacks
[ -x "$LA" ] && [ -x "$V" ] || { echo "FAIL: build $LA and $V first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-gensupp-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
SO=$(pwd)/$BUILD/libleak.so
# run DIR ARGS...: the victim under the preload, dumps into DIR (no scan, so
# every live block is reported, as unfreed)
run() {
    d=$1; shift
    mkdir -p "$d"
    # no timeout(1) or env(1) in front: they would be traced too
    LIBLEAK_DIR="$d" LIBLEAK_SCAN=0 LD_PRELOAD="$SO" "$V" "$@" \
        >"$T/vout" 2>"$T/verr" || fail "victim $*: $(head -c 200 "$T/verr")"
}
run "$T/a"
run "$T/b" more

"$LA" --gen-suppressions "$T/a" >"$T/a.supp" 2>"$T/err" || fail "gen: $(head -c 300 "$T/err")"
grep -v '^#' "$T/a.supp" >"$T/rules"
[ -s "$T/rules" ] || fail "no rule written: $(cat "$T/a.supp")"
# whole-stack rules only (a leak: rule matches a frame anywhere: one naming
# main or libc's __vasprintf_internal would hide every leak), no duplicate
grep -v '^leak-stack:' "$T/rules" && fail "a rule that is not a leak-stack: rule"
[ -z "$(sort "$T/rules" | uniq -d)" ] || fail "duplicate rules: $(sort "$T/rules" | uniq -d)"
# the asprintf rule goes down to main
grep -q '__vasprintf_internal.*main' "$T/rules" || fail "no full-stack asprintf rule: $(cat "$T/rules")"
# three distinct stacks in the first run (main's two strdup lines are one)
[ "$(wc -l <"$T/rules")" -eq 3 ] || fail "want 3 rules, got: $(cat "$T/rules")"
grep -qx 'leak-stack:^in_leaf\$;^main\$' "$T/rules" || fail "no in_leaf rule: $(cat "$T/rules")"
grep -qx 'leak-stack:^main\$' "$T/rules" || fail "no rule for main's strdup: $(cat "$T/rules")"
grep -q '^# 8 byte(s) in 2 object(s) in 2 sites at ' "$T/a.supp" \
    || fail "the merged rule does not count its sites: $(cat "$T/a.supp")"

# on the run they came from: nothing left, the gate passes
"$LA" --suppressions "$T/a.supp" --fail-on-leak "$T/a" >"$T/out" 2>"$T/err" \
    || fail "rules on their own run: exit $? ($(head -c 300 "$T/err"))"
grep -q 'SUMMARY: libleak: 0 byte(s)' "$T/out" || fail "rules left leaks: $(tail -n 3 "$T/out")"
# on the second run: its three new sites stay, the gate trips
"$LA" --suppressions "$T/a.supp" --fail-on-leak "$T/b" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "new sites: exit $rc, want 1 ($(head -c 300 "$T/err"))"
grep -q 'SUMMARY: libleak: 1213 byte(s) leaked in 3 allocation(s)' "$T/out" \
    || fail "new sites hidden by the first run's rules: $(grep -E 'SUMMARY|Suppr|leak:' "$T/out")"
grep -q 'in other_caller' "$T/out" || fail "in_leaf via other_caller hidden"
grep -q 'in via_helper' "$T/out" || fail "via_helper's sites hidden"

# through the wrapper: -o FILE holds the rules alone, the program's stdout
# stays on stdout
BUILD=$BUILD LIBLEAK_SCAN=0 timeout -s KILL 120 tools/libleak --gen-suppressions -o "$T/w.supp" "$V" \
    >"$T/out" 2>"$T/err" || fail "wrapper --gen-suppressions: exit $? ($(tail -n 2 "$T/err"))"
grep -v '^#' "$T/w.supp" | grep -v '^leak' \
    && fail "the wrapper's rules file holds more than rules: $(head -c 300 "$T/w.supp")"
grep -q 'gs_stacks: done' "$T/out" || fail "the program's stdout is lost: $(head -c 300 "$T/out")"
grep -v '^#' "$T/w.supp" | cmp -s - "$T/rules" || fail "wrapper rules differ: $(cat "$T/w.supp")"
# without -o the rules go to stderr, after the program's own output
BUILD=$BUILD LIBLEAK_SCAN=0 timeout -s KILL 120 tools/libleak --gen-suppressions "$V" \
    >"$T/out" 2>"$T/err" || fail "wrapper --gen-suppressions: exit $? ($(tail -n 2 "$T/err"))"
grep -q '^leak-stack:' "$T/out" && fail "the rules are on the program's stdout"
grep -q 'gs_stacks: done' "$T/out" || fail "the program's stdout is lost: $(head -c 300 "$T/out")"
grep '^leak-stack:' "$T/err" | cmp -s - "$T/rules" || fail "wrapper rules on stderr differ: $(cat "$T/err")"

[ "$fails" = 0 ] || exit 1
echo "test_gen_suppressions: ok"
