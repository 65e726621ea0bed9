/* pl_jit: allocations through generated code with no unwind information, as
 * in a JIT (node, Java, LuaJIT).  Tiny x86-64 stubs that call a function
 * pointer are copied to many places in an anonymous executable mapping, as a
 * JIT keeps emitting code; each call of a stub lands in jit_alloc, which
 * mallocs.  Half the stubs keep a frame pointer, half do not.  Prints the
 * number of blocks kept, and the mapping's range ("jit LO HI") on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGES 16
#define CALLS 20000

/* push %rbp; mov %rsp,%rbp; call *%rdi; pop %rbp; ret */
static const unsigned char stub_fp[] = {0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3};
/* sub $8,%rsp; call *%rdi; add $8,%rsp; ret */
static const unsigned char stub_nofp[] = {0x48, 0x83, 0xec, 0x08, 0xff, 0xd7,
                                          0x48, 0x83, 0xc4, 0x08, 0xc3};

static void *kept[CALLS];
static unsigned nkept, ncall;

__attribute__((noinline)) static void jit_alloc(void)
{
    void *p = malloc(24 + ncall % 8);
    if (ncall % 4 == 0)
        kept[nkept++] = p;      /* leaked */
    else
        free(p);
    ncall++;
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    size_t len = (size_t)PAGES * 4096;
    unsigned char *code = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    /* a stub every 16 bytes: 4096 places, each called about 5 times */
    for (size_t off = 0; off + 16 <= len; off += 16) {
        if ((off / 16) % 2 == 0)
            memcpy(code + off, stub_fp, sizeof stub_fp);
        else
            memcpy(code + off, stub_nofp, sizeof stub_nofp);
    }
    if (mprotect(code, len, PROT_READ | PROT_EXEC) != 0)
        return 1;
    for (unsigned i = 0; i < CALLS; i++) {
        size_t off = (size_t)(i * 16u) % len;
        ((void (*)(void (*)(void)))(void *)(code + off))(jit_alloc);
    }
    fprintf(stderr, "jit %#lx %#lx\n", (unsigned long)(uintptr_t)code,
            (unsigned long)(uintptr_t)(code + len));
    printf("kept %u\n", nkept);
    return 0;
}
