/* threads - the churn workload split over N threads: 'pairs' in total, each
 * thread doing pairs/N through the same 300 stacks.  With shared=1 every
 * thread runs the same sequence, as a thread pool's workers run the same
 * task: they hit the same call sites at about the same time, so whatever a
 * tracker keeps per site is contended; with shared=0 each thread has its own
 * sequence.
 * Usage: threads [threads=8] [pairs=10000000] [stacks=300] [shared=0]
 * Expectation: nothing leaks. */
#include <pthread.h>

#include "bench.h"

struct worker {
    pthread_t tid;
    long pairs;
    unsigned stacks;
    uint64_t seed;
    unsigned long sum;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->sum = churn_run(w->pairs, w->stacks, 5, 30, w->seed);
    return NULL;
}

int main(int argc, char **argv)
{
    long nthreads = bench_arg(argc, argv, 1, 8);
    long pairs = bench_arg(argc, argv, 2, 10000000);
    unsigned stacks = (unsigned)bench_arg(argc, argv, 3, 300);
    long shared = bench_arg(argc, argv, 4, 0);
    if (nthreads < 1 || nthreads > 256) {
        fprintf(stderr, "threads: thread count must be 1..256\n");
        return 2;
    }
    struct worker w[256];
    for (long i = 0; i < nthreads; i++) {
        w[i].pairs = pairs / nthreads;
        w[i].stacks = stacks;
        w[i].seed = 0x1234567 + (shared ? 0 : (uint64_t)i * 0x10001);
        int err = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
        if (err != 0) {
            fprintf(stderr, "threads: cannot create thread: %s\n", strerror(err));
            return 1;
        }
    }
    unsigned long sum = 0;
    for (long i = 0; i < nthreads; i++) {
        pthread_join(w[i].tid, NULL);
        sum += w[i].sum;
    }
    bench_probe_leak();
    return sum == 1 ? 3 : 0;
}
