/* pl_vla: a function whose frame size changes from call to call (a
 * variable-length array), called twice from one call site, must give one
 * correct stack both times.  An unwinder that remembers frame sizes per
 * return address must not reuse the first call's size for the second.
 * The array holds copies of the function's own return address (a program
 * may keep code pointers on its stack), so a walk that looks for the caller
 * at the remembered offset reads a plausible return address.
 * main calls varframe(n) for n = 4, then 2000 (one call site, in a loop);
 * varframe fills void *buf[n] with __builtin_return_address(0) and calls
 * leaf_vla(), which leaks malloc(1337).
 * Expected exit dump: one site through leaf_vla, live 2/2674; its stack is
 * not truncated, passes through varframe and main, and has exactly one
 * frame in main.  Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

static void *keep[2];

__attribute__((noinline)) static void *leaf_vla(void) { return malloc(1337); }

__attribute__((noinline)) static void *varframe(int n)
{
    void *buf[n];
    for (int i = 0; i < n; i++) buf[i] = __builtin_return_address(0);
    void *p = leaf_vla();
    __asm__ volatile("" : : "r"(buf) : "memory");  /* keep buf alive, no tail call */
    return p;
}

int main(void)
{
    static const int sizes[2] = {4, 2000};
    for (int i = 0; i < 2; i++) keep[i] = varframe(sizes[i]);
    printf("ok\n");
    return 0;
}
