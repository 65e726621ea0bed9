#!/bin/sh
# soak_crash_abort: a program that leaks and then calls abort() (victim
# crash_abort) ends with SIGABRT under the preload too, and leaves a dump
# with trigger "crash" that loads and holds exactly the 2 blocks of 777.
# soak: quick
. tests/soak/lib.sh
soak_init crash_abort
soak_victim crash_abort
ulimit -c 0
soak_run 120 "$SK_VICTIM" plain
soak_expect_status 134
soak_dumps
soak_site leak_abort --main 2/1554 --trigger=crash
soak_end
