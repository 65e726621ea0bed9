# lib.sh - helpers shared by the soak cases (tests/soak/soak_*.sh).
# A case runs from the repository root, sources this file, and reads like this:
#     . tests/soak/lib.sh
#     soak_init perl                  # scratch dir SK_TMP, removed at exit
#     soak_need perl                  # skip (exit 77) when a program is missing
#     soak_run 120 perl -e '...'      # natively, natively under strace, and preloaded
#     soak_dumps                      # one dump per process, every dump loads
#     soak_end                        # exit 1 if anything failed, else 0
# soak_run runs the command in fresh working directories ($SK_TMP/native,
# trace, preload); a case that needs files there defines soak_setup DIR first.
# Findings go to stdout as "key: value" lines, failures as "FAIL: why" lines;
# tests/soak/run.sh turns them into one line per case.  Times are reported,
# never asserted.  BUILD (default build) locates libleak.so and leak-analyze.

soak_failed=0

soak_fail() {
    echo "FAIL: $*"
    soak_failed=1
}

soak_skip() {
    echo "skip: $*"
    exit 77
}

# soak_init NAME: absolute paths of the library and the analyzer (SK_SO,
# SK_ANALYZE), a scratch directory SK_TMP (kept with LIBLEAK_TEST_KEEP=1), and
# no LIBLEAK_* or LD_PRELOAD from the caller's environment.
soak_init() {
    BUILD=${BUILD:-build}
    SK_ROOT=$(pwd)
    [ -f "$BUILD/libleak.so" ] && [ -x "$BUILD/leak-analyze" ] ||
        { echo "FAIL: missing $BUILD/libleak.so or leak-analyze (make all)"; exit 1; }
    SK_SO=$(cd "$BUILD" && pwd)/libleak.so
    SK_ANALYZE=$(cd "$BUILD" && pwd)/leak-analyze
    SK_VICTIMS=$(cd "$BUILD" && pwd)/victims
    SK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lk-soak-$1-XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
    SK_DUMPS=$SK_TMP/dumps
    if [ -n "${LIBLEAK_TEST_KEEP:-}" ]; then
        echo "keep: $SK_TMP"
    else
        trap 'rm -rf "$SK_TMP"' EXIT
    fi
    for v in $(env | sed -n 's/^\(LIBLEAK_[A-Z_]*\)=.*/\1/p'); do
        [ "$v" = LIBLEAK_TEST_KEEP ] || unset "$v"
    done
    unset LD_PRELOAD
    # Debian's python3 for the checks: a PATH python3 may be a shim
    if [ -x /usr/bin/python3 ]; then SK_PY=/usr/bin/python3; else SK_PY=python3; fi
    SK_TRACE=""
}

# soak_need PROGRAM...: skip the case unless every PROGRAM is on PATH.
soak_need() {
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || soak_skip "$p missing (sh tools/deps.sh soak)"
    done
}

# soak_victim NAME: skip unless $BUILD/victims/NAME exists; sets SK_VICTIM.
soak_victim() {
    SK_VICTIM=$SK_VICTIMS/$1
    [ -x "$SK_VICTIM" ] || soak_skip "victim not built"
}

# soak_now: a monotonic-enough clock in nanoseconds, for the reported times.
soak_now() {
    date +%s%N
}

# soak_secs START END: the interval in seconds with two decimals.
soak_secs() {
    echo "$1 $2" | awk '{ printf "%.2f", ($2 - $1) / 1e9 }'
}

# soak_in DIR TIMEOUT CMD...: run CMD in DIR (made fresh, soak_setup'd) with
# stdin from /dev/null, stdout to DIR.out and stderr to DIR.err; timeout kills
# its whole process group after TIMEOUT seconds.  Sets soak_rc.
soak_in() {
    dir=$1; t=$2; shift 2
    rm -rf "$dir"; mkdir -p "$dir"
    if command -v soak_setup >/dev/null 2>&1; then
        (cd "$dir" && soak_setup "$dir") || soak_fail "setup failed in $dir"
    fi
    (cd "$dir" && exec timeout -k 5 "$t" "$@") <"/dev/null" >"$dir.out" 2>"$dir.err"
    soak_rc=$?
}

# soak_run TIMEOUT CMD...: run CMD natively (timed), natively under strace -ff
# (the processes it creates, for soak_dumps), then with LD_PRELOAD=libleak.so
# and LIBLEAK_DIR=$SK_DUMPS (timed).  Fails unless both runs end with the same
# status and stdout.  Sets SK_STATUS to the native status.
soak_run() {
    t=$1; shift
    rm -rf "$SK_DUMPS"; mkdir -p "$SK_DUMPS"
    s=$(soak_now)
    soak_in "$SK_TMP/native" "$t" "$@"
    native_rc=$soak_rc
    e=$(soak_now)
    native_s=$(soak_secs "$s" "$e")
    SK_TRACE=""
    if command -v strace >/dev/null 2>&1; then
        rm -rf "$SK_TMP/trace.st"; mkdir -p "$SK_TMP/trace.st"
        soak_in "$SK_TMP/trace" "$((t * 3))" strace -f -ff -qq -e trace=process -e signal=none \
            -s 4096 -o "$SK_TMP/trace.st/st" "$@"
        if [ "$soak_rc" -eq "$native_rc" ] &&
            env -u LD_PRELOAD "$SK_PY" "$SK_ROOT/tests/soak/check.py" procs "$SK_TMP/trace.st" \
                "$SK_TMP/trace" >"$SK_TMP/expected.raw" 2>"$SK_TMP/expected.err"; then
            # programs the command built and ran itself lie in its working directory
            sed "s|^$SK_TMP/trace/|$SK_TMP/preload/|" "$SK_TMP/expected.raw" >"$SK_TMP/expected"
            SK_TRACE=$SK_TMP/expected
        else
            echo "note: processes not counted: the strace run exited $soak_rc $(grep -h FAIL "$SK_TMP/expected.raw" "$SK_TMP/expected.err" 2>/dev/null | head -n 1)"
        fi
    fi
    s=$(soak_now)
    soak_in "$SK_TMP/preload" "$t" env LD_PRELOAD="$SK_SO" LIBLEAK_DIR="$SK_DUMPS" "$@"
    pre_rc=$soak_rc
    e=$(soak_now)
    pre_s=$(soak_secs "$s" "$e")
    soak_report "$native_rc" "$pre_rc" "$native_s" "$pre_s" "$t"
    SK_STATUS=$native_rc
}

# soak_report NATIVE_RC PRELOAD_RC NATIVE_S PRELOAD_S TIMEOUT: the time,
# status and stdout lines of one native/preload pair.
soak_report() {
    echo "time: native $3 s, preload $4 s"
    [ "$1" -eq 124 ] && soak_fail "native run timed out after $5 s"
    [ "$2" -eq 124 ] && soak_fail "preload run timed out after $5 s (hung?)"
    if [ "$1" -eq "$2" ]; then
        echo "status: same ($1)"
    else
        echo "status: differs (native $1, preload $2)"
        soak_fail "exit status $2 under the preload, $1 natively: $(tail -n 2 "$SK_TMP/preload.err" | tr '\n' ' ' | cut -c1-200)"
    fi
    if cmp -s "$SK_TMP/native.out" "$SK_TMP/preload.out"; then
        echo "stdout: same ($(wc -l <"$SK_TMP/native.out") lines)"
    else
        echo "stdout: differs"
        diff -u "$SK_TMP/native.out" "$SK_TMP/preload.out" | head -n 10 | sed 's/^/  /'
        soak_fail "stdout differs under the preload"
    fi
}

# soak_expect_status N: the program itself must have exited N natively.
soak_expect_status() {
    [ "$SK_STATUS" -eq "$1" ] || soak_fail "native run exited $SK_STATUS, expected $1: $(tail -n 3 "$SK_TMP/native.err" | tr '\n' ' ' | cut -c1-200)"
}

# soak_dumps [--planted NAME...]: every file in SK_DUMPS is a dump that loads
# in leak-analyze (exit 0 or 1), no process has two exit dumps, and each
# process of the strace run has a dump from a process of the same exe.
soak_dumps() {
    env -u LD_PRELOAD "$SK_PY" "$SK_ROOT/tests/soak/check.py" dumps "$SK_DUMPS" "$SK_ANALYZE" \
        $SK_TRACE "$@" || soak_failed=1
}

# soak_site FN --main L/B[/T] | --each L/B[/T]... [--trigger=T]: in the last
# dump of each process of $SK_VICTIM, the sites whose stack passes through FN
# hold exactly L live blocks of B bytes (and T blocks in all).  --main checks
# the first process only; --each gives one value per process, in any order.
soak_site() {
    env -u LD_PRELOAD "$SK_PY" "$SK_ROOT/tests/soak/check.py" site "$SK_DUMPS" "$SK_VICTIM" "$@" ||
        soak_failed=1
}

# soak_report_fn FN BLOCKS BYTES: leak-analyze's report of SK_DUMPS names FN
# (symbolized, whatever module it lies in) with exactly BLOCKS blocks and
# BYTES bytes in all, and none of those leaks' frames prints as "??".
soak_report_fn() {
    env -u LD_PRELOAD "$SK_PY" "$SK_ROOT/tests/soak/check.py" report "$SK_DUMPS" "$SK_ANALYZE" "$@" ||
        soak_failed=1
}

# soak_stray_start / soak_stray_end: between the two, no dump may appear
# outside SK_DUMPS: in /, the working directory of the preload run, or the
# directory the case runs from.  Strays are reported, then removed (they
# are this case's own files: newer than its stamp, with our victim's name).
soak_stray_start() {
    touch "$SK_TMP/stamp"
}
soak_stray_end() {
    for d in / "$SK_TMP/preload" "$SK_ROOT"; do
        find "$d" -maxdepth 1 \( -name 'libleak.*.json' -o -name '.libleak.*.tmp' \) \
            -newer "$SK_TMP/stamp" 2>/dev/null
    done >"$SK_TMP/strays"
    while read -r f; do
        soak_fail "a dump landed outside LIBLEAK_DIR: $f"
        rm -f "$f"
    done <"$SK_TMP/strays"
}

# soak_end: the case's exit status.
soak_end() {
    exit "$soak_failed"
}
