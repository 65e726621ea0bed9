#!/bin/sh
# soak_gcc: gcc -O1 on a generated 2,000-line C file.  The driver runs cc1,
# as, collect2 and ld: one dump from each exec'd process.  The objects
# built with and without the preload must be identical too.
. tests/soak/lib.sh
soak_init gcc
soak_need gcc
soak_setup() {
    awk 'BEGIN {
        for (f = 0; f < 200; f++) {
            printf "static int t%d[%d];\n", f, f + 3
            printf "/* fn%d: fills t%d, then recurses into fn%d */\n", f, f, (f ? f - 1 : 0)
            printf "int fn%d(int x)\n{\n", f
            printf "    int y = x + %d;\n\n", f
            printf "    for (int i = 0; i < %d; i++)\n", f + 3
            printf "        t%d[i] = x * i + %d;\n", f, f
            printf "    return t%d[y %% %d] + (x > %d ? fn%d(x - 1) : 0);\n}\n\n", f, f + 3, f, (f ? f - 1 : 0)
        }
        print "int main(void) { return fn199(3) & 1; }"
    }' >gen.c
}
soak_run 300 gcc -O1 -o gen gen.c
soak_expect_status 0
[ "$(wc -l <"$SK_TMP/preload/gen.c")" -ge 2000 ] || soak_fail "gen.c is shorter than 2,000 lines"
cmp -s "$SK_TMP/native/gen" "$SK_TMP/preload/gen" && echo "output: same program" ||
    soak_fail "the program built under the preload differs"
soak_dumps
soak_end
