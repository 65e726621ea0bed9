#!/bin/sh
# run.sh - run every test that make built, then print one summary line.
# Check binaries (build/tests/check_*) report "Checks: N, Failures: F, Errors: E";
# shell tests (tests/integration/test_*.sh) count as one test each and pass on
# exit 0, skip on exit 77; the soak's cases ("soak: N passed, ...") count
# one each.  Filter with CK_RUN_SUITE / CK_RUN_CASE (Check) or
# TEST_ONLY=<substring of a binary or script name>.
set -u
BUILD=${BUILD:-build}
export BUILD
passed=0; failed=0; skipped=0; failed_names=""
log_dir="$BUILD/test-logs"; mkdir -p "$log_dir"

run_one() {  # name, command...
    name=$1; shift
    case "$name" in *"${TEST_ONLY:-}"*) ;; *) return 0 ;; esac
    log="$log_dir/$name.log"
    "$@" >"$log" 2>&1
    rc=$?
    summary=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
    soak=$(grep -E '^soak: [0-9]+ passed' "$log" | tail -n 1)
    if [ -n "$soak" ]; then
        n=$(echo "$soak" | sed -E 's/^soak: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/')
        set -- $n
        passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3)); bad=$2
        [ "$bad" -eq 0 ] && [ "$rc" -ne 0 ] && { failed=$((failed + 1)); bad=1; }
        echo "$name: $soak"
    elif [ -n "$summary" ]; then
        n=$(echo "$summary" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$summary" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$summary" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        bad=$((f + e)); passed=$((passed + n - bad)); failed=$((failed + bad))
        [ "$bad" -eq 0 ] && [ "$rc" -ne 0 ] && { failed=$((failed + 1)); bad=1; }
        echo "$name: $summary"
    elif [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1)); echo "$name: SKIPPED ($(tail -n 1 "$log"))"; bad=0
    elif [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); echo "$name: ok"; bad=0
    else
        failed=$((failed + 1)); echo "$name: FAILED (exit $rc)"; bad=1
    fi
    if [ "$bad" -ne 0 ]; then
        failed_names="$failed_names $name"
        echo "---- $log (last 40 lines)"; tail -n 40 "$log"; echo "----"
    fi
}

for t in "$BUILD"/tests/check_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/integration/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t" .sh)" sh "$t"
done

# The soak (tests/soak), one count per case; SOAK_QUICK=1 keeps the cases
# marked "# soak: quick".
run_one soak sh tests/soak/run.sh

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
