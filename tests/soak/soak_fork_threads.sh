#!/bin/sh
# soak_fork_threads: fork while 8 threads allocate (victim fork_threads):
# the parent and its 4 children exit normally, each with an exit dump that
# loads and holds exactly what the process leaked.
# soak: quick
. tests/soak/lib.sh
soak_init fork_threads
soak_victim fork_threads
soak_run 120 "$SK_VICTIM"
soak_expect_status 0
soak_dumps
soak_site leak_3001 --main 36/108036/36
soak_site leak_1337 --each 0/0/0 3/4011/3 3/4011/3 3/4011/3 3/4011/3
soak_end
