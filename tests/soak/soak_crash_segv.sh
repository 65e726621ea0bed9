#!/bin/sh
# soak_crash_segv: a program that leaks and then dies of SIGSEGV (victim
# crash_segv, in main and in a thread among churning ones) ends with the
# same signal under the preload, and leaves a dump with trigger "crash"
# that loads and holds exactly the 3 blocks of 1000 it leaked.
# soak: quick
. tests/soak/lib.sh
soak_init crash_segv
soak_victim crash_segv
ulimit -c 0
for mode in main thread; do
    echo "mode: $mode"
    soak_run 120 "$SK_VICTIM" "$mode"
    soak_expect_status 139
    soak_dumps
    soak_site leak_segv --main 3/3000 --trigger=crash
done
soak_end
