/* helpers_preload.c - fake stacks for the unit suites that drive the preload
 * core without LD_PRELOAD; helpers_preload.h has the contracts. */
#include <string.h>

#include "helpers_preload.h"

void fake_frames(lk_frames_t *f, uintptr_t base, unsigned n)
{
    memset(f, 0, sizeof *f);
    for (unsigned i = 0; i < n; i++)
        f->pc[i] = base + 0x10 * i;
    f->depth = n;
    lk_frames_hash(f);
}
