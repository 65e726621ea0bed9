#!/bin/sh
# test_start_cost.sh - what the preload adds to a small process's start, in
# counts that load does not move: the libraries it brings in (each one a
# load: opens, mappings and ~10 page faults on a VM where a fault costs
# 10-14 us).  libleak's own needs are libgcc_s (unwinding through the
# hooks, the exit scan's and the crash's walks) and libc; not libm, and not
# libunwind (nor liblzma, its dependency) until a stack needs it
# (test_unwind_late).
. tests/integration/lib.sh
lk_init start_cost

# libleak's static TLS: the loader zeroes it in every thread it starts, the
# program's too (16 KiB of it had been a site cache: 4 page faults a thread)
tls=$(readelf -lW "$LK_SO" | awk '$1 == "TLS" { print $6 }')
[ -n "$tls" ] || lk_fail "no TLS segment in $LK_SO"
[ $((tls)) -le 4096 ] || lk_fail "libleak's static TLS is $((tls)) bytes a thread (at most 4096)"

victim=$BUILD/victims/pl_basic
[ -x "$victim" ] || lk_fail "missing $victim"
ldd "$victim" | grep -q 'libm\.so' && lk_fail "$victim itself links libm: pick another victim"

lk_run_both "$victim"
lk_check_dumps "$LK_DUMPS" 1
dump=$(ls "$LK_DUMPS"/*.exit.json 2>/dev/null | head -n 1)
[ -n "$dump" ] || lk_fail "no exit dump"
"$LK_PY" - "$dump" <<'PY' || exit 1
import json, os, sys
mods = [os.path.basename(m.get("path", "")) for m in json.load(open(sys.argv[1]))["modules"]]
if not any(m.startswith("libc.so") for m in mods):
    sys.exit("FAIL: the modules array lists no libc: %s" % mods)
extra = [m for m in mods if m.startswith(("libm.so", "libm-", "libunwind", "liblzma"))]
if extra:
    sys.exit("FAIL: the preload loads %s into a program that does not use it (modules: %s)"
             % (extra, " ".join(mods)))
PY

# What the preload adds to a process that does nothing (true), in system
# calls of its main thread (strace) and in minor page faults (time's %R:
# MADV_POPULATE_WRITE's pages count there too), each against the same
# process without it.  The dumper thread's calls are left out: its ticks
# depend on how long the process runs under strace.
T=/bin/true
[ -x "$T" ] || T=/usr/bin/true
sc_note=""
if command -v strace >/dev/null && [ -x "$T" ]; then
    mkdir "$LK_TMP/sc"
    strace -f -qq -o "$LK_TMP/st_native" "$T" || lk_fail "true under strace"
    strace -f -qq -E LD_PRELOAD="$LK_SO" -E LIBLEAK_DIR="$LK_TMP/sc" -o "$LK_TMP/st_lk" "$T" ||
        lk_fail "true under strace and the preload"
    ls "$LK_TMP/sc"/libleak.*.exit.json >/dev/null 2>&1 || lk_fail "no exit dump of true under strace"
    # main_calls FILE [NAME-REGEX]: the main thread's system calls (named ones only)
    main_calls() {
        awk -v re="${2:-.}" 'NR == 1 { main = $1 }
            $1 == main && $2 ~ /^[a-z_0-9]+\(/ { split($2, a, "("); if (a[1] ~ re) n++ }
            END { print n + 0 }' "$1"
    }
    extra=$(($(main_calls "$LK_TMP/st_lk") - $(main_calls "$LK_TMP/st_native")))
    # 166 before: each signal taken over in five calls, the cgroup's mount
    # from mountinfo, each cgroup value read to its end, /proc/self/cmdline,
    # a 1 MiB reserve mapped and unmapped without any RLIMIT_AS, RAM twice,
    # a getpid() per dump name probed (123 after)
    [ "$extra" -le 135 ] || lk_fail "the preload adds $extra system calls to true's main thread (at most 135)"
    sig=$(($(main_calls "$LK_TMP/st_lk" '^rt_sig') - $(main_calls "$LK_TMP/st_native" '^rt_sig')))
    # 13 signals taken over (the fault signals, the snapshot signal and the
    # seven programs are ended with): one blocking, 13 sigactions, one query
    # of glibc's restorer, one unblocking (31 for the first six before); the
    # dumper thread's creation and the dump's check of the snapshot signal
    # make 8 more
    [ "$sig" -le 27 ] || lk_fail "$sig rt_sigaction/rt_sigprocmask calls added (at most 27)"
    [ "$(main_calls "$LK_TMP/st_lk" '^sysinfo$')" -le 1 ] || lk_fail "RAM (sysinfo) read more than once"
    [ "$(main_calls "$LK_TMP/st_lk" '^munmap$')" -le "$(main_calls "$LK_TMP/st_native" '^munmap$')" ] ||
        lk_fail "the preload unmapped something in true (the dump reserve, without an RLIMIT_AS?)"
    ! grep -q '"/proc/self/cmdline"' "$LK_TMP/st_lk" ||
        lk_fail "/proc/self/cmdline read: the constructor's argv has the command line"
    sc_note="; +$extra system calls (+$sig for signals)"
fi
if [ -x /usr/bin/time ] && [ -x "$T" ]; then
    mkdir "$LK_TMP/pf"
    # the smallest of 3 runs: a fault more or less is the machine's, not ours
    minflt() {
        best=""
        for i in 1 2 3; do
            n=$(/usr/bin/time -f %R -o "$LK_TMP/rusage" "$@" && tail -n 1 "$LK_TMP/rusage")
            [ -n "$n" ] || lk_fail "no fault count from /usr/bin/time $*"
            [ -z "$best" ] || [ "$n" -lt "$best" ] && best=$n
        done
        echo "$best"
    }
    native=$(minflt env "$T")
    under=$(minflt env LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_TMP/pf" "$T")
    # 127 before (the exit arena's first 256 KiB populated for a dump that
    # takes 40 KiB), 81 after
    [ $((under - native)) -le 100 ] ||
        lk_fail "the preload adds $((under - native)) page faults to true ($native natively; at most 100)"
    sc_note="$sc_note; +$((under - native)) page faults"
fi
echo "ok: static TLS $((tls)) bytes; modules of a small preloaded process: no libm, no libunwind$sc_note"
