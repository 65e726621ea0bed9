#!/bin/sh
# soak_planted: names planted where libleak would write, as anyone sharing
# the dump directory can (the pid is predictable).  Each victim starts held
# at a gate, so its pid is known first; then its dump names of seq 0 to 3
# are taken, each a different way: a dangling symlink or a FIFO, at the
# temporary or at the final name.  pl_basic twice (its exit dump, the four
# ways in two orders), pl_api once (three api snapshots, then the exit dump).
# The planted names are never followed nor replaced, and every dump is still
# written under another name, loads, and (pl_basic) holds exactly its leaks.
# soak: quick
. tests/soak/lib.sh
soak_init planted
soak_victim pl_basic

# held DIR [VICTIM]: start VICTIM (default pl_basic) under the preload, held
# until the gate opens; sets pid.  Its subshell execs the victim, so the pid
# stays the same.
held() {
    mkfifo "$SK_TMP/gate"
    (read -r _ <"$SK_TMP/gate"; cd "$1" && exec env LD_PRELOAD="$SK_SO" LIBLEAK_DIR="$SK_DUMPS" \
        "${2:-$SK_VICTIM}" </dev/null >"$1.out" 2>"$1.err") &
    pid=$!
}

# release: open the gate and wait for the victim, at most 60 s; sets rc.
release() {
    echo go >"$SK_TMP/gate"
    i=0
    while kill -0 "$pid" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$pid/stat" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && { kill -KILL "$pid"; soak_fail "victim hung"; break; }
        sleep 0.1
    done
    wait "$pid"; rc=$?
    rm -f "$SK_TMP/gate"
}

# plant TRIGGER KIND...: take one name of pid's TRIGGER dump per seq (0, 1,
# ...), the KIND-th way: tmp-link / tmp-fifo (a dangling symlink or a FIFO at
# the temporary name), final-link / final-fifo (the same at the final name).
plant() {
    trig=$1; shift
    seq=0; kinds=""
    for k in "$@"; do
        case $k in
            tmp-*) name=.libleak.$pid.$seq.$trig.json.tmp ;;
            *) name=libleak.$pid.$seq.$trig.json ;;
        esac
        case $k in
            *-link) ln -s "$SK_TMP/followed" "$SK_DUMPS/$name" ;;
            *) mkfifo "$SK_DUMPS/$name" ;;
        esac
        planted="$planted $name"
        kinds="$kinds $k:$name"
        seq=$((seq + 1))
    done
}

# intact: every name plant took is still the symlink or FIFO it put there.
intact() {
    for kn in $kinds; do
        k=${kn%%:*}; name=${kn#*:}
        case $k in
            *-link) [ -L "$SK_DUMPS/$name" ] ;;
            *) [ -p "$SK_DUMPS/$name" ] ;;
        esac || soak_fail "$k $name was replaced"
    done
}

s=$(soak_now); soak_in "$SK_TMP/native" 60 "$SK_VICTIM"; native_rc=$soak_rc; e=$(soak_now)
native_s=$(soak_secs "$s" "$e")
rm -rf "$SK_DUMPS" "$SK_TMP/preload"; mkdir -p "$SK_DUMPS" "$SK_TMP/preload"
planted=""
for layout in order1 order2; do
    held "$SK_TMP/preload"
    # one name of the exit dump per seq, 0 to 3, each taken a different way
    if [ $layout = order1 ]; then
        plant exit tmp-link tmp-fifo final-link final-fifo
    else
        plant exit final-fifo final-link tmp-fifo tmp-link
    fi
    s=$(soak_now); release; e=$(soak_now)
    echo "layout $layout: pid $pid exit $rc"
    [ $layout = order1 ] && soak_report "$native_rc" "$rc" "$native_s" "$(soak_secs "$s" "$e")" 60
    [ "$rc" -eq "$native_rc" ] || soak_fail "$layout: exit $rc under the preload, $native_rc natively"
    intact
    [ -e "$SK_TMP/followed" ] && soak_fail "$layout: a planted symlink was followed"
    n=0
    for f in "$SK_DUMPS"/libleak."$pid".*.json; do
        [ -f "$f" ] && [ ! -L "$f" ] && n=$((n + 1))
    done
    [ "$n" -ge 1 ] || soak_fail "$layout: no dump from pid $pid beside the planted names"
done
# Snapshots too: pl_api takes three libleak_snapshot() dumps, then exits.
# Natively it prints "active 0" and -38s, so its output is checked against
# what its comment promises under the preload.
if [ -x "$SK_VICTIMS/pl_api" ]; then
    held "$SK_TMP/preload" "$SK_VICTIMS/pl_api"
    plant api tmp-link tmp-fifo final-link final-fifo
    release
    out=$(tr '\n' ' ' <"$SK_TMP/preload.out")
    echo "layout api: pid $pid exit $rc, stdout: $out"
    [ "$rc" -eq 0 ] && [ "$out" = "active 1 snap 0 0 0 " ] ||
        soak_fail "api: exit $rc, stdout '$out', expected 'active 1 snap 0 0 0': $(head -c 200 "$SK_TMP/preload.err")"
    intact
    [ -e "$SK_TMP/followed" ] && soak_fail "api: a planted symlink was followed"
    n=0
    for f in "$SK_DUMPS"/libleak."$pid".*.json; do
        [ -f "$f" ] && [ ! -L "$f" ] && n=$((n + 1))
    done
    [ "$n" -eq 4 ] || soak_fail "api: $n dumps from pid $pid beside the planted names, expected 3 api + 1 exit"
fi
SK_STATUS=$native_rc
soak_expect_status 0
# shellcheck disable=SC2086
soak_dumps --planted $planted
SK_VICTIM=$SK_VICTIMS/pl_basic
soak_site leak_1337 --each 3/4011/3 3/4011/3 --trigger=exit
soak_end
