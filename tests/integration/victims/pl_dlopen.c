/* pl_dlopen: allocations made inside a library loaded with dlopen() that
 * neither the program nor libleak.so links.  call_lib() dlopen()s libz.so.1
 * (zlib1g, a dependency of libelf) and calls gzdopen() on /dev/null ten
 * times, keeping every handle (zlib allocates its state with malloc).
 * Expected exit dump: modules[] lists libz.so.1 (still loaded); some sites
 * through call_lib have frames inside that module's range (the others are
 * dlopen()'s own, in ld.so), each with a multiple of 10 total blocks, and
 * their live blocks add up to a non-zero multiple of 10.  Prints "ok" and exits 0 (2 if
 * the library cannot be used). */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

static void *keep[10];

__attribute__((noinline)) static int call_lib(void)
{
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return 2;
    void *(*gzdopen_fn)(int, const char *) = (void *(*)(int, const char *))dlsym(h, "gzdopen");
    if (!gzdopen_fn) return 2;
    for (int i = 0; i < 10; i++) {
        int fd = open("/dev/null", O_WRONLY);
        keep[i] = gzdopen_fn(fd, "wb");
        if (!keep[i]) return 2;
    }
    return 0;
}

int main(void)
{
    int rc = call_lib();
    if (rc) {
        fprintf(stderr, "cannot use libz.so.1: %s\n", dlerror());
        return rc;
    }
    printf("ok\n");
    return 0;
}
