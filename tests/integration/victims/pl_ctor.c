/* pl_ctor: allocations before libleak's constructor has run.
 * .preinit_array functions run before any shared library initialiser,
 * LD_PRELOADed ones included; a constructor runs after them.
 *   preinit_leak()  (preinit) 2 x malloc(1337) live:   live 2/2674
 *   preinit_keep()  (preinit) malloc(2021), freed in main: live 0, total 1, freed 1
 *   ctor_leak()     (constructor) malloc(3001) live:  live 1/3001
 *   main_leak()     malloc(4011) live:                live 1/4011
 * Prints "ok" and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[8];
static char *early;

__attribute__((noinline)) static void *preinit_leak(void) { return malloc(1337); }
__attribute__((noinline)) static char *preinit_keep(void) { return malloc(2021); }
__attribute__((noinline)) static void *ctor_leak(void) { return malloc(3001); }
__attribute__((noinline)) static void *main_leak(void) { return malloc(4011); }

static void preinit(void)
{
    for (int i = 0; i < 2; i++) keep[i] = preinit_leak();  /* one call site */
    early = preinit_keep();
    strcpy(early, "early");
}
__attribute__((used, section(".preinit_array"))) static void (*const preinit_fn)(void) = preinit;

__attribute__((constructor)) static void ctor(void) { keep[2] = ctor_leak(); }

int main(void)
{
    keep[3] = main_leak();
    printf("ok %s\n", early);
    free(early);
    return 0;
}
