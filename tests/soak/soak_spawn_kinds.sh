#!/bin/sh
# soak_spawn_kinds: vfork+exec, posix_spawn and a double-fork daemon that
# the victim waits for (spawn_kinds): one dump per process, each exec'd
# child and the daemon holding exactly the block it leaked.
# soak: quick
. tests/soak/lib.sh
soak_init spawn_kinds
soak_victim spawn_kinds
soak_run 120 "$SK_VICTIM"
soak_expect_status 0
soak_dumps
soak_site leak_child --each 0/0/0 0/0/0 1/1301/1 1/1303/1 1/1307/1
soak_end
