/* size.h - the one size grammar of libleak: LIBLEAK_* byte values in the
 * preload and leak-analyze's size options parse here, so a value that one
 * side takes the other takes too, with the same meaning.
 *
 *   size   = digits [unit ["i"]] ["b"]      (letters in either case)
 *   digits = one or more of 0-9              (decimal; no sign, no fraction)
 *   unit   = k | m | g | t                   (powers of 1024: 2^10 .. 2^40)
 *
 * So "4096", "64k", "3MiB", "1G", "1T", "512KB" and "10B" are sizes; "",
 * " 1", "1 ", "-1", "+1", "1.5G", "0x10", "1P" and anything past 2^64 - 1
 * are not.  Static inline and free of malloc, locale and errno, because the
 * preload parses its environment before libc is ready. */
#ifndef LIBLEAK_SIZE_H
#define LIBLEAK_SIZE_H

#include <errno.h>
#include <stdint.h>

/* Parse 's' as a size into *out; -EINVAL (and *out untouched) if it is not one. */
static inline int lk_size_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;

    if (s == 0 || *s < '0' || *s > '9')
        return -EINVAL;
    for (; *s >= '0' && *s <= '9'; s++)
        if (__builtin_mul_overflow(v, 10, &v)
            || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return -EINVAL;
    switch (*s) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
    }
    if (shift != 0) {
        s++;
        if (*s == 'i' || *s == 'I')
            s++;
    }
    if (*s == 'b' || *s == 'B')
        s++;
    if (*s != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
        return -EINVAL;
    *out = v << shift;
    return 0;
}

#endif
