// rc_cxx: C++ families in the scan.  lose_node() leaks one 'new Node' (24
// bytes) that holds a 'new int[10]' array (40 bytes): definite (family
// new) + indirect (family new[]).  keep_vector() creates a std::vector<int>
// (24 bytes) with room for 100 ints (400 bytes), held by the global pointer
// g_vec: 2 blocks, 424 bytes, reachable, both held by g_vec (a global
// std::vector object would be destroyed before the exit dump).
// The victim functions are extern "C" so that their symbols are unmangled.
#include <cstring>
#include <vector>

struct Node {
    Node *next;
    int *values;
    long pad;
};

std::vector<int> *g_vec;

static __attribute__((noinline)) void scrub_stack()
{
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

extern "C" __attribute__((noinline)) int *make_values()
{
    return new int[10]();
}

extern "C" __attribute__((noinline)) void lose_node()
{
    Node *n = new Node();
    n->values = make_values();
    n = nullptr;
}

extern "C" __attribute__((noinline)) void keep_vector()
{
    g_vec = new std::vector<int>();
    g_vec->reserve(100);
    for (int i = 0; i < 100; i++) g_vec->push_back(i);
}

int main()
{
    lose_node();
    keep_vector();
    scrub_stack();
    return 0;
}
