/* pl_coro: allocations on stacks that are not the thread's own: two
 * ucontext coroutines with heap-allocated stacks, and a thread whose stack
 * the program supplied (pthread_attr_setstack).
 * co_a() and co_b() loop: allocate via co_a_leaf()/co_b_leaf() (malloc 1337
 * and 2021, kept), then swapcontext back to main; main resumes them
 * alternately 100 times each.  own_stack_thread() runs on a 256 KiB malloc'd
 * stack and leaks 50 x malloc(3001) via thread_leaf().
 * Expected exit dump: one site through co_a_leaf (live 100/133700) whose
 * stack has co_a; one through co_b_leaf (live 100/202100) with co_b; one
 * through thread_leaf (live 50/150050) with own_stack_thread.
 * Prints "ok" and exits 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#define STACK (256 * 1024)

static ucontext_t main_ctx, a_ctx, b_ctx;
static void *keep[300];
static int nkeep;

__attribute__((noinline)) static void *co_a_leaf(void) { return malloc(1337); }
__attribute__((noinline)) static void *co_b_leaf(void) { return malloc(2021); }
__attribute__((noinline)) static void *thread_leaf(void) { return malloc(3001); }

static void co_a(void)
{
    for (;;) {
        keep[nkeep++] = co_a_leaf();
        swapcontext(&a_ctx, &main_ctx);
    }
}

static void co_b(void)
{
    for (;;) {
        keep[nkeep++] = co_b_leaf();
        swapcontext(&b_ctx, &main_ctx);
    }
}

static void *own_stack_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) keep[200 + i] = thread_leaf();
    return NULL;
}

int main(void)
{
    getcontext(&a_ctx);
    a_ctx.uc_stack.ss_sp = malloc(STACK);
    a_ctx.uc_stack.ss_size = STACK;
    a_ctx.uc_link = &main_ctx;
    makecontext(&a_ctx, co_a, 0);
    getcontext(&b_ctx);
    b_ctx.uc_stack.ss_sp = malloc(STACK);
    b_ctx.uc_stack.ss_size = STACK;
    b_ctx.uc_link = &main_ctx;
    makecontext(&b_ctx, co_b, 0);
    for (int i = 0; i < 100; i++) {
        swapcontext(&main_ctx, &a_ctx);
        swapcontext(&main_ctx, &b_ctx);
    }

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    void *stack = NULL;
    if (posix_memalign(&stack, 4096, STACK) != 0) return 2;
    pthread_attr_setstack(&attr, stack, STACK);
    pthread_t th;
    if (pthread_create(&th, &attr, own_stack_thread, NULL) != 0) return 2;
    pthread_join(th, NULL);
    printf("ok %d\n", nkeep);
    return 0;
}
