/* helpers_preload.h - what the unit suites of the preload core share
 * (tests/unit/helpers_preload.c, compiled once). */
#ifndef LK_HELPERS_PRELOAD_H
#define LK_HELPERS_PRELOAD_H

#include <stdint.h>

#include "internal.h"

/* Fill 'f' with a fake stack of 'n' frames, 'base', 'base' + 0x10, ...,
 * not truncated, and hash it. */
void fake_frames(lk_frames_t *f, uintptr_t base, unsigned n);

#endif /* LK_HELPERS_PRELOAD_H */
