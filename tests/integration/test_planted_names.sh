#!/bin/sh
# test_planted_names: in a shared LIBLEAK_DIR every dump name is predictable
# (pid, number, trigger).  A wrapper plants, for its own pid and before it
# execs the victim under the preload, a dangling symlink, a symlink to a file
# outside and a FIFO at each temporary and final name of the next dumps.
# pl_api then writes its three api dumps and the exit dump: all four are
# written, as regular files, with one warning; nothing planted is followed,
# replaced or written through; leak-analyze loads the directory, skipping
# the planted names with one warning (and without waiting on the FIFOs).

# plant_all PID: at each api and exit name (temporary and final) of dump
# numbers 0-7 of PID in $D, a dangling symlink (numbers 0, 3, 6), a symlink
# to $LK_TMP/outside (1, 4, 7) or a FIFO (2, 5)
plant_all() {
    for seq in 0 1 2 3 4 5 6 7; do
        for trig in api exit; do
            for name in "$D/.libleak.$1.$seq.$trig.json.tmp" "$D/libleak.$1.$seq.$trig.json"; do
                case $((seq % 3)) in
                0) ln -s "$LK_TMP/nowhere" "$name" ;;
                1) ln -s "$LK_TMP/outside" "$name" ;;
                2) mkfifo "$name" ;;
                esac
            done
        done
    done
}
if [ "${1:-}" = plant ]; then
    plant_all "$2"
    exit
fi

. tests/integration/lib.sh
lk_init planted_names
V=$BUILD/victims/pl_api
LA=$BUILD/leak-analyze
[ -x "$V" ] && [ -x "$LA" ] || lk_fail "build $V and $LA first"
D=$LK_TMP/dumps
mkdir "$D" || lk_fail "mkdir"
: >"$LK_TMP/outside"

export D LK_TMP
# the shell's pid is the victim's: exec keeps it
sh -c 'sh "$0" plant $$ && exec env LD_PRELOAD="$1" LIBLEAK_DIR="$D" "$2"' \
    "$0" "$LK_SO" "$V" >"$LK_TMP/out" 2>"$LK_TMP/err" </dev/null
rc=$?
[ "$rc" -eq 0 ] || lk_fail "pl_api exited $rc: $(cat "$LK_TMP/err")"
grep -q "^snap 0 0 0$" "$LK_TMP/out" || lk_fail "snapshots failed: $(cat "$LK_TMP/out" "$LK_TMP/err")"

# every planted name is as it was planted
n_link=0; n_fifo=0
for f in "$D"/libleak.* "$D"/.libleak.*; do
    if [ -L "$f" ]; then
        t=$(readlink "$f")
        [ "$t" = "$LK_TMP/nowhere" ] || [ "$t" = "$LK_TMP/outside" ] || lk_fail "$f now points to $t"
        n_link=$((n_link + 1))
    elif [ -p "$f" ]; then
        n_fifo=$((n_fifo + 1))
    fi
done
[ "$n_link" -eq 24 ] && [ "$n_fifo" -eq 8 ] || lk_fail "planted names changed: $n_link links, $n_fifo fifos"
[ ! -e "$LK_TMP/nowhere" ] || lk_fail "a dump was written through a dangling symlink"
[ ! -s "$LK_TMP/outside" ] || lk_fail "a dump was written through a symlink"

# four dumps, regular files, no temporary left; one warning
n=0
for f in "$D"/libleak.*.json; do
    [ -f "$f" ] && [ ! -L "$f" ] && [ ! -p "$f" ] && n=$((n + 1))
done
[ "$n" -eq 4 ] || lk_fail "$n dumps written, expected 4: $(ls -la "$D")"
[ "$(grep -c 'is taken' "$LK_TMP/err")" -eq 1 ] || lk_fail "expected one warning: $(cat "$LK_TMP/err")"
mkdir "$LK_TMP/real"
for f in "$D"/libleak.*.json; do
    [ -f "$f" ] && [ ! -L "$f" ] && [ ! -p "$f" ] && cp "$f" "$LK_TMP/real/"
done
lk_check_dumps "$LK_TMP/real" 4 >/dev/null || exit 1

# the analyzer loads the directory as it is, planted names and all
timeout 60 "$LA" "$D" >"$LK_TMP/report" 2>"$LK_TMP/aerr"
arc=$?
[ "$arc" -eq 0 ] || lk_fail "leak-analyze exited $arc: $(head -c 600 "$LK_TMP/aerr")"
grep -q "4 dump(s)" "$LK_TMP/report" || lk_fail "not 4 dumps in the report: $(head -c 600 "$LK_TMP/report")"
[ "$(grep -c 'not regular files' "$LK_TMP/aerr")" -eq 1 ] || lk_fail "expected one warning: $(head -c 600 "$LK_TMP/aerr")"
echo "ok: 4 dumps beside $n_link planted symlinks and $n_fifo FIFOs"
