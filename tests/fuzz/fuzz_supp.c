/* fuzz_supp.c - libFuzzer target for the suppressions parser and matcher
 * (`make fuzz`).  The input is a suppressions file; every rule it yields is
 * matched against a few frames, so any pattern must load or fail with one
 * line, and match in time linear in the name (libFuzzer's -timeout). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char longname[4096];
    char err[512] = "", path[64];
    lk_supp_list_t l = { 0 };
    int fd = memfd_create("supp", 0);

    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (longname[0] == '\0')
        memset(longname, 'a', sizeof(longname) - 1);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (lk_supp_load(&l, path, err, sizeof(err)) == 0) {
        lk_frame_t f[] = {
            { .function = "main", .file = "/src/a.c", .module = "/usr/bin/app" },
            { .function = longname, .file = longname, .module = longname },
            { .function = "operator new(unsigned long)", .module = "/lib/libstdc++.so.6" },
        };
        for (size_t i = 0; i < l.n; i++)
            if (!lk_is_printable(l.v[i].pattern))
                __builtin_trap();   /* patterns are shown in reports */
        (void)lk_supp_match(&l, f, sizeof(f) / sizeof(f[0]));
    } else if (err[0] == '\0' || strchr(err, '\n') != NULL) {
        __builtin_trap();
    }
    lk_supp_list_free(&l);
    close(fd);
    return 0;
}
