/* deep - churn through 32 distinct stacks that are all 60 btalloc frames
 * deep, so a tracker that walks or caches whole stacks pays for depth.
 * Usage: deep [pairs=4000000] [stacks=32]
 * Expectation: nothing leaks (unless BENCH_PROBE_DEPTH is set: see bench.h). */
#include "bench.h"

int main(int argc, char **argv)
{
    long pairs = bench_arg(argc, argv, 1, 4000000);
    unsigned stacks = (unsigned)bench_arg(argc, argv, 2, 32);
    unsigned long sum = churn_run(pairs, stacks, 60, 60, 0x7654321);
    bench_probe_leak();
    return sum == 1 ? 3 : 0;
}
