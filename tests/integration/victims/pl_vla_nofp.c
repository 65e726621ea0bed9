/* pl_vla_nofp: like pl_vla, built -O2 without frame pointers: vla_outer()
 * has a variable-length array (so its frame is addressed from rbp), and
 * clobber(), called from it, keeps so many values alive across its call
 * that it saves rbp and uses it as an ordinary register.  An unwinder must
 * recover vla_outer's rbp from clobber's save slot, not from the register.
 * main calls vla_outer(n) for n = 4, 2000, 7, 5000 from one call site;
 * vla_outer fills void *buf[n] with its own return address and calls
 * clobber(), which calls leaf_nofp() -> malloc(1337).
 * Expected exit dump: one site through leaf_nofp, live 4/5348, not
 * truncated, with frames in clobber, vla_outer and exactly one in main.
 * Prints "ok <checksum>" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink[4];
volatile long vin[8] = {1, 2, 3, 4, 5, 6, 7, 8};
volatile long vout;

__attribute__((noipa)) void *leaf_nofp(size_t n)
{
    void *p = malloc(n);
    __asm__ volatile("" ::: "memory");  /* not a tail call */
    return p;
}

__attribute__((noipa)) void *clobber(size_t n)
{
    long a = vin[0], b = vin[1], c = vin[2], d = vin[3], e = vin[4], f = vin[5], g = vin[6],
         h = vin[7];
    long x0 = a * b, x1 = c * d, x2 = e * f, x3 = g * h, x4 = a * h, x5 = b * g, x6 = c * f;
    void *p = leaf_nofp(n);
    vout = x0 + x1 * 3 + x2 * 5 + x3 * 7 + x4 * 11 + x5 * 13 + x6 * 17 + a + b + c + d + e + f +
           g + h;
    return p;
}

__attribute__((noipa)) void *vla_outer(int n, size_t size)
{
    void *buf[n];
    for (int i = 0; i < n; i++) buf[i] = __builtin_return_address(0);
    void *p = clobber(size);
    __asm__ volatile("" : : "r"(buf) : "memory");
    return p;
}

int main(void)
{
    static const int sizes[4] = {4, 2000, 7, 5000};
    for (int i = 0; i < 4; i++) sink[i] = vla_outer(sizes[i], 1337);
    printf("ok %ld\n", (long)vout);
    return 0;
}
