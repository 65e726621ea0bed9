#!/bin/sh
# run.sh - `make soak`: run every tests/soak/soak_*.sh, print one line per case
# and end with "soak: N passed, N failed, N skipped".  A case passes on exit 0
# and is skipped on exit 77 (a program or victim missing); its full output is
# in $BUILD/soak-logs/<case>.log, and $BUILD/soak-logs/table.md holds the
# table of statuses, outputs, dumps and times.  SOAK_ONLY=<substring> runs a
# subset; SOAK_QUICK=1 runs only the cases marked "# soak: quick".
set -u
BUILD=${BUILD:-build}
export BUILD
log_dir="$BUILD/soak-logs"; mkdir -p "$log_dir"
table="$log_dir/table.md"
passed=0; failed=0; skipped=0; failed_names=""
start=$(date +%s)
{
    echo "| case | result | exit status | stdout | dumps | native s | preload s |"
    echo "|---|---|---|---|---|---|---|"
} >"$table"

field() {  # KEY LOG: the value of the first "KEY: value" line
    sed -n "s/^$1: //p" "$2" | head -n 1
}

for t in tests/soak/soak_*.sh; do
    name=$(basename "$t" .sh)
    case "$name" in *"${SOAK_ONLY:-}"*) ;; *) continue ;; esac
    if [ -n "${SOAK_QUICK:-}" ] && ! grep -q '^# soak: quick' "$t"; then continue; fi
    log="$log_dir/$name.log"
    sh "$t" >"$log" 2>&1
    rc=$?
    tm=$(field time "$log")
    st=$(field status "$log"); so=$(field stdout "$log"); du=$(field dumps "$log")
    if [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1)); res="skip ($(field skip "$log"))"
    elif [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); res=ok
    else
        failed=$((failed + 1)); failed_names="$failed_names $name"
        res="FAIL: $(field FAIL "$log")"
    fi
    printf '%s: %s%s\n' "$name" "$res" "${tm:+  [$tm; status ${st:-?}; stdout ${so:-?}; ${du:-no dumps}]}"
    ns=$(echo "$tm" | sed -n 's/^native \([0-9.]*\) s.*/\1/p')
    ps=$(echo "$tm" | sed -n 's/.*preload \([0-9.]*\) s.*/\1/p')
    echo "| $name | $(echo "$res" | cut -c1-80 | tr '|' '/') | ${st:--} | ${so:--} | ${du:--} | ${ns:--} | ${ps:--} |" >>"$table"
done

[ -n "$failed_names" ] && echo "failed:$failed_names (logs in $log_dir)"
echo "soak took $(($(date +%s) - start)) s; table in $table"
echo "soak: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
