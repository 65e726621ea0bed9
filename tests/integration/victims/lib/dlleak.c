/* dlleak: the library dlclose_loop dlopens, calls and dlcloses in a loop
 * (built to build/victims/libdlleak.so).  Each call of dlleak_leak() leaks
 * one malloc(4242) from the line marked below. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *dlleak_leak(void)
{
    void *p = malloc(4242);     /* dlleak: the leak */
    if (p)
        memset(p, 0x5a, 4242);
    return p;
}
