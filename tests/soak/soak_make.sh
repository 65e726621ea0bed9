#!/bin/sh
# soak_make: make -j2 of a generated 12-file C project, then the program it
# built.  Every exec'd process (make, the gcc drivers, cc1, as, collect2,
# ld and the program) leaves a dump; make -s keeps stdout to the program's.
. tests/soak/lib.sh
soak_init make
soak_need make gcc
soak_setup() {
    i=0; objs=""
    while [ $i -lt 12 ]; do
        printf 'int part%d(int x)\n{\n    int s = 0;\n    for (int i = 0; i < x; i++)\n        s += i * %d;\n    return s;\n}\n' $i $((i + 1)) >p$i.c
        objs="$objs p$i.o"
        i=$((i + 1))
    done
    {
        i=0
        while [ $i -lt 12 ]; do printf 'int part%d(int x);\n' $i; i=$((i + 1)); done
        printf '#include <stdio.h>\nint main(void)\n{\n    int s = 0;\n'
        i=0
        while [ $i -lt 12 ]; do printf '    s += part%d(%d);\n' $i $((i + 10)); i=$((i + 1)); done
        printf '    printf("sum %%d\\n", s);\n    return 0;\n}\n'
    } >main.c
    printf 'prog: main.o%s\n\tgcc -o prog main.o%s\n%%.o: %%.c\n\tgcc -O1 -c $< -o $@\nrun: prog\n\t./prog\n' \
        "$objs" "$objs" >Makefile
}
soak_run 300 make -s -j2 run
soak_expect_status 0
soak_dumps
soak_end
