/* rc_thread_leak: a thread leaks 4 blocks of 123 bytes in leak_in_thread()
 * and ends; main joins it.  Definite: 4 blocks, 492 bytes, all on a stack
 * through leak_in_thread(). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

static __attribute__((noinline)) void leak_in_thread(void)
{
    for (int i = 0; i < 4; i++) {
        char *p = malloc(123);
        memset(p, 'z', 123);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    leak_in_thread();
    scrub_stack();
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 2;
    pthread_join(t, NULL);
    scrub_stack();
    return 0;
}
