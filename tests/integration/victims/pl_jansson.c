/* pl_jansson: a program that uses jansson with its own allocator
 * (json_set_alloc_funcs) must not have libleak's dumps go through it.
 * The setting is process-wide: a libleak that wrote its dumps with the
 * shared libjansson.so.4 would go through it (libleak.so now writes JSON
 * itself).  The victim dlopen()s libjansson.so.4 (as a program linked
 * with -ljansson would share it), installs counting allocator functions,
 * then calls LIBLEAK_SNAPSHOT("mine") (a no-op without the preload) and
 * counts the calls made meanwhile; after main returns, any call writes
 * "program allocator called at exit" to stderr once.
 * Prints "calls 0" and exits 0, with an empty stderr, with and without the
 * preload.  Exits 2 if libjansson.so.4 cannot be loaded. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libleak.h>

static volatile int armed, calls, told;

static void *my_malloc(size_t n)
{
    if (armed) calls++;
    if (armed == 2 && !told) {
        told = 1;
        static const char m[] = "program allocator called at exit\n";
        if (write(2, m, sizeof m - 1) < 0) _exit(3);
    }
    return malloc(n);
}

static void my_free(void *p)
{
    if (armed) calls++;
    free(p);
}

int main(void)
{
    void *h = dlopen("libjansson.so.4", RTLD_NOW);
    if (!h) return 2;
    void (*set)(void *(*)(size_t), void (*)(void *)) =
        (void (*)(void *(*)(size_t), void (*)(void *)))dlsym(h, "json_set_alloc_funcs");
    if (!set) return 2;
    set(my_malloc, my_free);
    armed = 1;
    LIBLEAK_SNAPSHOT("mine");
    printf("calls %d\n", calls);
    armed = 2;
    return 0;
}
