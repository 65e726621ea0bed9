/* exit_roots: main holds two blocks and calls exit(0), so main's frame is
 * live when the exit dump runs: both are reachable (valgrind: "still
 * reachable", 2 blocks, 64 bytes), 24 bytes from hold_on_stack through a
 * local in main's frame and 40 from hold_in_register through a callee-saved
 * register (r12 on x86-64, elsewhere a second stack local), which libc's
 * exit frames save below main's. */
#include <stdlib.h>
#include <string.h>

static __attribute__((noinline)) char *hold_on_stack(void)
{
    char *p = malloc(24);
    memset(p, 'a', 24);
    return p;
}

static __attribute__((noinline)) char *hold_in_register(void)
{
    char *p = malloc(40);
    memset(p, 'b', 40);
    return p;
}

int main(void)
{
    char *volatile on_stack = hold_on_stack();
#if defined(__x86_64__)
    register char *in_reg __asm__("r12") = hold_in_register();
    __asm__ volatile("" : "+r"(in_reg));
#else
    char *volatile in_reg = hold_in_register();
#endif
    (void)on_stack;
    exit(in_reg == NULL);
}
