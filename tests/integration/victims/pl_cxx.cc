// pl_cxx: C++ operator new/new[] in all forms, attributed to the caller.
// Expected dump (exit):
//   new_one()          new     2 x new Obj1337 live:           live 2/2674
//   new_array()        new[]   new char[4011] live:            live 1/4011
//   nothrow_one()      new     new (nothrow) Obj3001 live:     live 1/3001
//   nothrow_array()    new[]   new (nothrow) char[2027] live:  live 1/2027
//   aligned_one()      new     new Aligned (alignas 128, 1280 bytes) live: 1/1280
//   aligned_array()    new[]   new Aligned[3] live:            live 1/3840
//   churn_new()        new     4 x new Obj2021 + delete:       live 0, total 4/8084
//   churn_array()      new[]   3 x new char[2222] + delete[]:  live 0, total 3/6666
//   huge_array()       new[] of 2^62 bytes throws std::bad_alloc (caught): no
//                      site; a failures entry kind enomem, function new[]
//   huge_nothrow()     new (nothrow) char[2^62] returns nullptr: no site;
//                      a failures entry kind enomem
//   No mismatches.  Prints "ok" and exits 0.
#include <cstdint>
#include <cstdio>
#include <new>

struct Obj1337 { char b[1337]; };
struct Obj3001 { char b[3001]; };
struct Obj2021 { char b[2021]; };
struct alignas(128) Aligned { char b[1280]; };

static void *keep[32];
static int nkeep;

__attribute__((noinline)) static void new_one() { keep[nkeep++] = new Obj1337; }
__attribute__((noinline)) static void new_array() { keep[nkeep++] = new char[4011]; }
__attribute__((noinline)) static void nothrow_one() { keep[nkeep++] = new (std::nothrow) Obj3001; }
__attribute__((noinline)) static void nothrow_array()
{
    keep[nkeep++] = new (std::nothrow) char[2027];
}
__attribute__((noinline)) static int aligned_one()
{
    Aligned *a = new Aligned;
    keep[nkeep++] = a;
    return (reinterpret_cast<std::uintptr_t>(a) % 128) != 0;
}
__attribute__((noinline)) static int aligned_array()
{
    Aligned *a = new Aligned[3];
    keep[nkeep++] = a;
    return (reinterpret_cast<std::uintptr_t>(a) % 128) != 0;
}
__attribute__((noinline)) static void churn_new()
{
    for (int i = 0; i < 4; i++) {
        Obj2021 *o = new Obj2021;
        o->b[0] = 1;
        delete o;
    }
}
__attribute__((noinline)) static void churn_array()
{
    for (int i = 0; i < 3; i++) {
        char *c = new char[2222];
        c[0] = 1;
        delete[] c;
    }
}
__attribute__((noinline)) static int huge_array()
{
    try {
        char *c = new char[(std::size_t)1 << 62];
        keep[nkeep++] = c;
        return 1;
    } catch (const std::bad_alloc &) {
        return 0;
    }
}
__attribute__((noinline)) static int huge_nothrow()
{
    char *c = new (std::nothrow) char[(std::size_t)1 << 62];
    return c != nullptr;
}

int main()
{
    for (int i = 0; i < 2; i++) new_one();  // one call site, one stack
    new_array();
    nothrow_one();
    nothrow_array();
    int bad = aligned_one() | aligned_array();
    churn_new();
    churn_array();
    bad |= huge_array() << 1;
    bad |= huge_nothrow() << 2;
    if (bad) {
        std::fprintf(stderr, "new semantics broken: %#x\n", bad);
        return 1;
    }
    std::printf("ok %d\n", nkeep);
    return 0;
}
