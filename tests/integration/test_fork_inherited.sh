#!/bin/sh
# test_fork_inherited: a forked child's dump carries its own sites only and a
# count of what it inherited.  pl_fork's child: leak-analyze reports none of
# the inherited block unless asked with --show=inherited, and names a block
# held through an inherited one by that block's parent.  A bash loop of 100
# subshells: every subshell's dump is small (its own few sites and their
# stacks, not the parent's table) and loads in leak-analyze.
. tests/integration/lib.sh
lk_init fork_inherited
AN=$(cd "$BUILD" && pwd)/leak-analyze
[ -x "$AN" ] || lk_fail "missing $BUILD/leak-analyze"

# pl_fork prints its child's pid: no native run to compare with
LK_DUMPS=$LK_TMP/dumps
mkdir "$LK_DUMPS" || lk_fail "mkdir"
env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_DUMPS" "$BUILD/victims/pl_fork" >"$LK_TMP/pre.out" \
    || lk_fail "pl_fork failed under the preload"
lk_check_dumps "$LK_DUMPS" 2 >/dev/null || exit 1
ppid=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$LK_TMP/pre.out")
[ -n "$ppid" ] || lk_fail "pl_fork printed no child pid"
child=$(ls "$LK_DUMPS"/libleak."$ppid".*.exit.json) || lk_fail "no exit dump of the child"
"$AN" "$child" >"$LK_TMP/plain.txt" 2>&1
st=$?
[ "$st" -le 1 ] || lk_fail "leak-analyze rejects the child's dump (exit $st)"
grep -q before_fork "$LK_TMP/plain.txt" && lk_fail "the child's report names the inherited block"
grep -q Inherited "$LK_TMP/plain.txt" && lk_fail "inherited blocks shown without --show=inherited"
grep -q child_leak "$LK_TMP/plain.txt" || lk_fail "the child's own leak is not reported"
"$AN" --show=inherited "$child" >"$LK_TMP/inh.txt" 2>&1
grep -q "Inherited: process $ppid holds 1337 byte(s) in 1 block(s) allocated before it was forked" \
    "$LK_TMP/inh.txt" || { cat "$LK_TMP/inh.txt" >&2; lk_fail "--show=inherited: no inherited line"; }
grep -q before_fork "$LK_TMP/inh.txt" && lk_fail "--show=inherited reports the block as a leak"
# child_again's block is held through an inherited block: the held-by line
# names that block and the parent, not "global data at [inherited]"
"$AN" --show=all "$child" >"$LK_TMP/all.txt" 2>&1
grep -q "1000 bytes in 1 block held by a block inherited at fork from process [0-9]*, allocated at child_again" \
    "$LK_TMP/all.txt" || { grep -A3 "Held by" "$LK_TMP/all.txt" >&2; lk_fail "child_again's holder not named"; }
grep -q "\[inherited\]" "$LK_TMP/all.txt" && lk_fail "a root named [inherited] in the text report"

lk_run_both bash -c 'for i in $(seq 100); do (x=$i; echo $x >/dev/null); done; echo done'
[ "$LK_STATUS" -eq 0 ] || lk_fail "the subshell loop exited $LK_STATUS"
n=$(lk_check_dumps "$LK_DUMPS" 101) || exit 1
big=0
for f in "$LK_DUMPS"/*.json; do
    "$AN" "$f" >/dev/null 2>"$LK_TMP/an.err"
    st=$?
    [ "$st" -le 1 ] || { cat "$LK_TMP/an.err" >&2; lk_fail "leak-analyze rejects $(basename "$f")"; }
    size=$(wc -c <"$f")
    grep -q '"inherited_from_pid"' "$f" || continue
    # a subshell's own sites and stacks: tens of KB at most, where a dump of
    # the whole inherited table was 250-500 KB
    [ "$size" -le 65536 ] || big=$((big + 1))
done
[ "$big" -eq 0 ] || lk_fail "$big subshell dump(s) above 64 KiB"
echo "ok: $n dumps"
