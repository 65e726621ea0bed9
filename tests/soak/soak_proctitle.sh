#!/bin/sh
# soak_proctitle: a program that overwrites its whole argv and environ area,
# setproctitle-style (victim proctitle), still writes its dumps into
# LIBLEAK_DIR, and nowhere else.  LIBLEAK_DIR is set in both runs (inert
# without the preload) because the victim prints what getenv returns.
# soak: quick
. tests/soak/lib.sh
soak_init proctitle
soak_victim proctitle
export LIBLEAK_DIR="$SK_DUMPS"
soak_stray_start
soak_run 120 "$SK_VICTIM"
soak_expect_status 0
soak_stray_end
soak_dumps
soak_site leak_4242 --main 1/4242/1
soak_end
