/* pl_gapped: a main program whose segments leave holes between them (linked
 * with 64 KiB segment alignment, see the Makefile), like Debian 12's make and
 * node: glibc's _dl_find_object then gives the program's span as its code
 * segment alone, with no ELF header at its start.  Leaks 3 blocks of 4242
 * bytes from leak_4242, called from two_deep, called from main. */
#include <stdio.h>
#include <stdlib.h>

static void *keep[3];

__attribute__((noinline)) static void *leak_4242(void)
{
    void *p = malloc(4242);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void two_deep(int i)
{
    keep[i] = leak_4242();
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        two_deep(i);
    printf("ok\n");
    return keep[2] ? 0 : 1;
}
