#!/bin/sh
# soak_bash: a bash loop of 25 rounds, each with command substitutions,
# nested subshells and pipes into tr and wc: about 150 processes, most of
# them forked bash children that never exec.  Each leaves a dump.
. tests/soak/lib.sh
soak_init bash
soak_need bash tr wc
soak_run 300 bash -c '
s=0
for i in $(seq 1 25); do
    x=$( (echo "$i$i" | tr 0-9 a-j) )
    y=$(echo "$x" | wc -c)
    ( z=$((y * i)); echo "$z" >/dev/null )
    s=$((s + y))
done
echo "total $s"'
soak_expect_status 0
soak_dumps
soak_end
