/* dlclose_loop: a library that leaks, unloaded before the exit dump.
 * Five times: dlopen libdlleak.so (beside this program), call dlleak_leak()
 * (one malloc(4242) that is never freed: the pointer is dropped), dlclose it,
 * and check it is really gone (dlopen RTLD_NOLOAD fails).  Then dlopen
 * libz.so.1, which the loader may map where libdlleak.so was.
 * Expected exit dump: one site through dlleak_leak with 5 live blocks,
 * 21210 bytes, whose frames lie in an unloaded module of modules[];
 * leak-analyze names dlleak_leak at dlleak.c, not ??.
 * Prints "ok" and exits 0; 2 if a library cannot be loaded or stays. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 5

int main(void)
{
    char lib[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", lib, sizeof lib - 32);
    if (n <= 0)
        return 2;
    lib[n] = '\0';
    strcpy(strrchr(lib, '/') + 1, "libdlleak.so");
    for (int i = 0; i < ROUNDS; i++) {
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
            return 2;
        }
        void *(*leak)(void) = (void *(*)(void))dlsym(h, "dlleak_leak");
        if (!leak || !leak())
            return 2;
        dlclose(h);
        if (dlopen(lib, RTLD_NOW | RTLD_NOLOAD)) {
            fprintf(stderr, "%s still loaded after dlclose\n", lib);
            return 2;
        }
    }
    if (!dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL)) {
        fprintf(stderr, "dlopen libz.so.1: %s\n", dlerror());
        return 2;
    }
    printf("ok\n");
    return 0;
}
