#!/bin/sh
# soak_xthread_free: blocks freed and realloc'd by a thread other than the
# one that allocated them (victim xthread_free): the exit dump loads and
# every site holds exactly what the victim's comment promises.
# soak: quick
. tests/soak/lib.sh
soak_init xthread_free
soak_victim xthread_free
soak_run 120 "$SK_VICTIM"
soak_expect_status 0
soak_dumps
soak_site xt_shared --main 0/0/40000
soak_site xt_grow --main 0/0/20000
soak_site xt_batch --main 0/0/300
soak_site xt_keep --main 100/6400/100
soak_site xt_rsrc --main 0/0/200
soak_site xt_rdst --main 100/4800/200
soak_end
