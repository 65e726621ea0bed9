#!/bin/sh
# soak_dlclose_loop: a library that leaks, dlopen'ed and dlclose'd five
# times before the exit dump (victim dlclose_loop with libdlleak.so): the
# dump loads and leak-analyze names the library's function, with exactly
# the 5 blocks of 4242 it leaked, and no frame of those leaks is "??".
# soak: quick
. tests/soak/lib.sh
soak_init dlclose_loop
soak_victim dlclose_loop
[ -f "$SK_VICTIMS/libdlleak.so" ] || soak_skip "victim not built (libdlleak.so)"
soak_run 120 "$SK_VICTIM"
soak_expect_status 0
soak_dumps
soak_report_fn dlleak_leak 5 21210
soak_end
