#!/bin/sh
# soak_churn64: 64 threads churning malloc/realloc/free for 2 s while a
# sender process signals SIGUSR1 every millisecond (victim churn64).  Every
# snapshot taken in the storm loads, and the exit dump holds exactly the 64
# blocks the threads leaked.
# soak: quick
. tests/soak/lib.sh
soak_init churn64
soak_victim churn64
soak_run 120 "$SK_VICTIM" 2000
soak_expect_status 0
soak_dumps
soak_site leak_2021 --main 64/129344/64 --trigger=exit
soak_site churn_block --main 0/0 --trigger=exit
soak_end
