/* fuzz_load.c - libFuzzer target for leak-analyze's dump loader (`make fuzz`).
 * Any byte string must either load or give an error message, never crash,
 * leak or read out of bounds (built with -fsanitize=fuzzer,address).  A
 * loaded dump is also grouped, so the series code sees it too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    lk_dump_t *d = NULL;

    err[0] = '\0';
    if (lk_load_buffer("fuzz.json", (const char *)data, size, &d, err, sizeof(err)) == 0) {
        lk_input_t in = { 0 };
        in.dumps = &d;
        in.ndumps = 1;
        if (lk_input_group(&in, err, sizeof(err)) == 0 && in.nprocs != 1)
            __builtin_trap();
        free(in.procs);
        lk_dump_free(d);
    } else if (err[0] == '\0' || strchr(err, '\n') != NULL) {
        __builtin_trap();   /* every failure must explain itself in one line */
    }
    return 0;
}
