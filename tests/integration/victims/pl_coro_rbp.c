/* pl_coro_rbp: a coroutine on a stack the program mmap'd, entered with rbp
 * pointing at an inaccessible page just above that stack, as a coroutine
 * library may leave it (rbp is only a general register to code without
 * frame pointers).  leaf() allocates first from main's stack, so that its
 * frame's rule is known, then from the coroutine, where the frame-pointer
 * chain above leaf() runs into that page.  libleak must not read it.
 * Expected: exit 0, "ok"; leaf's site has 2 live blocks of 4321 bytes. */
#define _GNU_SOURCE                     /* REG_RBP */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#define STACK (64 * 1024)

static ucontext_t main_ctx, co_ctx;
static void *keep[2];

__attribute__((noinline)) static void *leaf(void) { return malloc(4321); }

__attribute__((noinline)) static void co_entry(void)
{
    keep[1] = leaf();
}

int main(void)
{
    keep[0] = leaf();                   /* learns leaf's frame on main's stack */
    long page = 4096;
    char *m = mmap(NULL, STACK + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + STACK, page, PROT_NONE) != 0)
        return 2;
    getcontext(&co_ctx);
    co_ctx.uc_stack.ss_sp = m;
    co_ctx.uc_stack.ss_size = STACK;
    co_ctx.uc_link = &main_ctx;
    makecontext(&co_ctx, co_entry, 0);
    co_ctx.uc_mcontext.gregs[REG_RBP] = (greg_t)(m + STACK);   /* the inaccessible page */
    swapcontext(&main_ctx, &co_ctx);
    printf("ok\n");
    return keep[0] && keep[1] ? 0 : 1;
}
