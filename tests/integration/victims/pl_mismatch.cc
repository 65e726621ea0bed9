// pl_mismatch: wrong deallocators.  Each is recorded in mismatches[] with
// the allocating and the freeing stack, and the program behaves as without
// the preload (output "ok" and exit 0 either way).
// Expected dump (exit), mismatches:
//   arr_alloc() new[] 1234 bytes, freed by scalar_delete() with delete:
//       alloc_family new[], free_family new, count 1, bytes 1234
//   mal_alloc() malloc 1555, freed by delete_malloc() with operator delete:
//       alloc_family malloc, free_family new, count 1, bytes 1555
//   obj_alloc() new 1666, freed by free_new() with free():
//       alloc_family new, free_family malloc, count 2, bytes 3332 (twice)
//   obj_alloc2() new 1777, freed by array_delete_new() with delete[]:
//       alloc_family new, free_family new[], count 1, bytes 1777
// The mismatched blocks are gone: their sites have live 0 and freed 1 (2).
// good_alloc() new 1888 + delete: no mismatch.
#include <cstdio>
#include <cstdlib>
#include <new>

struct Obj1666 { char b[1666]; };
struct Obj1777 { char b[1777]; };
struct Obj1888 { char b[1888]; };

__attribute__((noinline)) static char *arr_alloc() { return new char[1234]; }
__attribute__((noinline)) static void scalar_delete(char *p) { delete p; }
__attribute__((noinline)) static void *mal_alloc() { return std::malloc(1555); }
__attribute__((noinline)) static void delete_malloc(void *p) { ::operator delete(p); }
__attribute__((noinline)) static Obj1666 *obj_alloc() { return new Obj1666; }
__attribute__((noinline)) static void free_new(Obj1666 *p) { std::free(p); }
__attribute__((noinline)) static Obj1777 *obj_alloc2() { return new Obj1777; }
__attribute__((noinline)) static void array_delete_new(Obj1777 *p) { delete[] p; }
__attribute__((noinline)) static void good_alloc()
{
    Obj1888 *o = new Obj1888;
    o->b[0] = 0;
    delete o;
}

int main()
{
    char *a = arr_alloc();
    a[0] = 'a';
    scalar_delete(a);
    void *m = mal_alloc();
    delete_malloc(m);
    for (int i = 0; i < 2; i++) free_new(obj_alloc());
    array_delete_new(obj_alloc2());
    good_alloc();
    std::printf("ok\n");
    return 0;
}
