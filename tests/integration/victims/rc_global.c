/* rc_global: g_holder holds a 777-byte block from hold_me(), which holds a
 * 99-byte block from hold_child(): both reachable and held by the global
 * g_holder (the child through the chain).  Nothing is lost. */
#include <stdlib.h>
#include <string.h>

void **g_holder;

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void *hold_child(void)
{
    return calloc(1, 99);
}

static __attribute__((noinline)) void hold_me(void)
{
    g_holder = calloc(1, 777);
    g_holder[0] = hold_child();
}

int main(void)
{
    hold_me();
    scrub_stack();
    return 0;
}
