// an_leaks_cc - C++ victim for leak-analyze end to end under the preload.
// Expectation (lines found by the tests through the AN_* markers):
//   AN_NEW: one app::Widget (new) leaked by app::Factory::make(int)
//   AN_NEW_ARRAY: new int[10] (40 bytes) leaked by leak_array()
//   AN_VECTOR: a std::vector's 400-byte buffer; the std:: frames are trimmed
//              so the top frame is fill_vector() at the reserve() call
//   AN_STRING: a std::string object (new, 32 bytes) and its 101-byte buffer,
//              made inside libstdc++.so; both report leak_string() on top
//   AN_MISMATCH_ALLOC / AN_MISMATCH_FREE: new[] released with delete
//   freed objects: never reported
#include <cstdio>
#include <string>
#include <vector>

namespace app {
struct Widget {
    long payload[6];
    explicit Widget(int id) { payload[0] = id; }
};

struct Factory {
    static Widget *make(int id);
};

__attribute__((noinline)) Widget *Factory::make(int id)
{
    return new Widget(id); // AN_NEW
}
} // namespace app

static int *volatile keep_array;
static std::vector<int> *volatile keep_vec;
static app::Widget *volatile keep_widget;
static std::string *volatile keep_string;

__attribute__((noinline)) static void leak_array()
{
    keep_array = new int[10]; // AN_NEW_ARRAY
}

__attribute__((noinline)) static void fill_vector()
{
    std::vector<int> *v = new std::vector<int>();
    v->reserve(100); // AN_VECTOR
    keep_vec = v;
}

__attribute__((noinline)) static void leak_string()
{
    keep_string = new std::string(100, 'x'); // AN_STRING
}

__attribute__((noinline)) static char *mismatch_alloc()
{
    return new char[32]; // AN_MISMATCH_ALLOC
}

__attribute__((noinline)) static void mismatch_free(char *p)
{
    delete reinterpret_cast<char (*)>(p); // AN_MISMATCH_FREE
}

int main()
{
    keep_widget = app::Factory::make(7);
    leak_array();
    fill_vector();
    leak_string();
    mismatch_free(mismatch_alloc());
    for (int i = 0; i < 50; i++)
        delete new app::Widget(i);
    std::printf("an_leaks_cc: done\n");
    keep_widget = nullptr;
    keep_array = nullptr;
    keep_vec = nullptr;
    keep_string = nullptr;
    return 0;
}
