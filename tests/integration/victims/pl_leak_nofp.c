/* pl_leak_nofp: built -O2 -fomit-frame-pointer, so only DWARF unwinding
 * reaches main.  main -> level1 -> level2 -> level3 -> malloc(4011), three
 * times, every block kept.
 * Expected dump (exit): one site through level3 with live 3/12033, whose
 * stack also has frames in level2, level1 and main.
 * Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink[3];
volatile int rounds = 3;  /* volatile: -O2 must not unroll into 3 call sites */

__attribute__((noipa)) void *level3(size_t n)
{
    void *p = malloc(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noipa)) void *level2(size_t n)
{
    void *p = level3(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noipa)) void *level1(size_t n)
{
    void *p = level2(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

int main(int argc, char **argv)
{
    (void)argv;
    for (int i = 0; i < rounds; i++) sink[i] = level1((size_t)4010 + (size_t)argc);
    printf("ok\n");
    return 0;
}
