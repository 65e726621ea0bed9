/* churn - millions of malloc/free pairs of mixed small sizes (8-512 bytes)
 * through a few hundred distinct call stacks of depth 5 to 30.
 * Usage: churn [pairs=10000000] [stacks=300]
 * Expectation: nothing leaks (unless BENCH_PROBE_DEPTH is set: see bench.h). */
#include "bench.h"

int main(int argc, char **argv)
{
    long pairs = bench_arg(argc, argv, 1, 10000000);
    unsigned stacks = (unsigned)bench_arg(argc, argv, 2, 300);
    unsigned long sum = churn_run(pairs, stacks, 5, 30, 0x1234567);
    bench_probe_leak();
    return sum == 1 ? 3 : 0;   /* use the checksum; it is never 1 */
}
