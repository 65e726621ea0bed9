/* fuzz_baseline.c - libFuzzer target for the --baseline / diff reader
 * (`make fuzz`).  The input is a file given as OLD: a leak-analyze JSON
 * report or a dump.  It must load or fail with one line; a loaded baseline
 * is applied to itself and diffed against itself into a bounded sink. */
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
    static lk_symbolizer_t *sym;
    char err[512] = "", path[64];
    lk_options_t opt = { .builtin_suppressions = true };
    lk_base_t b = { 0 };
    int fd = memfd_create("baseline", 0);

    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (sym == NULL && (sym = lk_symbolizer_new(fopen("/dev/null", "w"))) == NULL)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (lk_base_load(&b, path, sym, &opt, err, sizeof(err)) == 0) {
        FILE *null = fopen("/dev/null", "w");
        for (size_t i = 0; i < b.n; i++)
            if (!lk_is_printable(b.v[i].key) || !lk_is_printable(b.v[i].where)
                || b.v[i].bytes > (uint64_t)INT64_MAX)
                __builtin_trap();   /* shown by diff, written back as JSON */
        if (null != NULL) {
            lk_base_diff(null, &b, &b);
            fclose(null);
        }
    } else if (err[0] == '\0' || strchr(err, '\n') != NULL) {
        __builtin_trap();
    }
    lk_base_free(&b);
    close(fd);
    return 0;
}
