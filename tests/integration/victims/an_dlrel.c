/* an_dlrel: a library dlopen'ed by a relative path.  Run in a directory
 * holding a copy of libdlleak.so: dlopen("./libdlleak.so"), call
 * dlleak_leak() once (one malloc(4242), never freed) and keep the library
 * loaded.  Expected exit dump: modules[] names "./libdlleak.so" as given;
 * leak-analyze, run where that file is (or given the dumps in that
 * directory), names dlleak_leak at dlleak.c; elsewhere it warns once.
 * Prints "ok" and exits 0; 2 if the library cannot be loaded. */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
    void *h = dlopen("./libdlleak.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    void *(*leak)(void) = (void *(*)(void))dlsym(h, "dlleak_leak");
    if (!leak || !leak())
        return 2;
    printf("ok\n");
    return 0;
}
