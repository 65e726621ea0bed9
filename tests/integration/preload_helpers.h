/* preload_helpers.h - the harness the end-to-end preload tests share
 * (tests/integration/check_*.c, linked with preload_helpers.c): run a victim
 * under LD_PRELOAD into a fresh LIBLEAK_DIR, capture its output and status,
 * load every dump with jansson, and look sites up by the victim function on
 * their stack.  Key names come only from include/libleak/dump.h.  Nothing
 * here uses the analyzer: symbols are read straight from the victim's ELF. */
#ifndef LK_PRELOAD_HELPERS_H
#define LK_PRELOAD_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libleak/dump.h"
#include "testhelper.h"

#define PL_TIMEOUT   300   /* seconds per test case: CI machines are slow */
#define PL_HANG_S    240   /* a victim still running after this is hung (a deadlock) */

/* Fail the test with a message unless 'cond' holds.  Unlike ck_assert_msg,
 * a passing check costs nothing: Check records a location (one write(2) to
 * its pipe) for every ck_assert, and the lookups below run millions of times. */
#define PL_REQUIRE(cond, ...)                \
    do {                                     \
        if (!(cond)) ck_abort_msg(__VA_ARGS__); \
    } while (0)

/* snprintf into the array 'buf', failing the test when the text is cut. */
#define PL_FMT(buf, ...)                                                        \
    PL_REQUIRE(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf), \
                  "%s: text too long", #buf)

/* One dump file of a run: its name split into parts, and its parsed JSON. */
typedef struct pl_dump {
    char name[256];          /* file name inside the run's LIBLEAK_DIR */
    long pid;                /* from the name */
    long seq;                /* from the name */
    char trigger[32];        /* from the name */
    mode_t mode;             /* permission bits of the file */
    json_t *root;            /* owned; NULL if it did not parse */
    char error[200];         /* jansson's message when root is NULL */
} pl_dump_t;

/* One run of a victim. */
typedef struct pl_run {
    char dir[PATH_MAX];      /* LIBLEAK_DIR given to the victim */
    char outdir[PATH_MAX];   /* holds stdout and stderr of the victim */
    char exe[PATH_MAX];      /* absolute path of the program run */
    pid_t pid;               /* pid of the victim */
    int status;              /* raw wait status */
    char *out;               /* captured stdout, NUL-terminated, owned */
    char *err;               /* captured stderr, NUL-terminated, owned */
    pl_dump_t *dumps;        /* owned, ndumps entries */
    int ndumps;
    char **others;           /* names in dir that are not dumps, owned */
    int nothers;
} pl_run_t;

/* Sums over the sites matching a query. */
typedef struct pl_agg {
    int nsites;
    long long live_blocks, live_bytes, total_blocks, total_bytes, freed_blocks;
    long long peak_live_bytes, max_request_bytes;
} pl_agg_t;

/* ### paths */

/* Return the build directory: $BUILD, default "build". */
const char *pl_build(void);

/* Put the absolute path of $BUILD/'rel' into 'buf' (PATH_MAX bytes); fails
 * the test when it does not exist. */
void pl_artifact(char *buf, const char *rel);

/* Put the absolute path of victim 'name' into 'buf'. */
void pl_victim_path(char *buf, const char *name);

/* ### files */

/* Return the contents of 'path', NUL-terminated, caller frees; "" when it
 * cannot be opened. */
char *pl_slurp(const char *path);

/* Remove directory 'dir' and everything below it; missing is not an error. */
void pl_rm_rf(const char *dir);

/* Return $TMPDIR, default "/tmp". */
const char *pl_tmpdir(void);

/* Make a fresh directory lk-e2e-<runner pid>-'what'-XXXXXX in pl_tmpdir()
 * and put its path into 'buf' (PATH_MAX bytes); fails the test on error. */
void pl_mkdtemp(char *buf, const char *what);

/* Create a test case with the e2e timeout and the cleanup fixture. */
TCase *pl_tcase(const char *name);

/* Load every file of r->dir: dumps into r->dumps (sorted by pid, seq), any
 * other name into r->others. */
void pl_load_dir(pl_run_t *r);

/* ### running a victim */

/* Run 'exe' (absolute path) with argv 'args' (NULL-terminated, without
 * argv[0]; may be NULL) and extra environment 'env' ("NAME=VALUE" strings,
 * NULL-terminated; may be NULL; applied last, so it may override
 * LIBLEAK_DIR; "-NAME" removes NAME, and "-LIBLEAK_DIR" also makes the dump
 * directory the victim's working directory).  With 'preload' the victim
 * runs with LD_PRELOAD set to $BUILD/libleak.so and LIBLEAK_DIR set to a
 * fresh directory.  Every
 * LIBLEAK_* variable of the test's own environment is removed first.  Waits
 * for the victim, then captures output and loads the dumps. */
void pl_run_exe(pl_run_t *r, const char *exe, const char *const *args,
                const char *const *env, int preload);

/* Run victim 'name' from $BUILD/victims; see pl_run_exe(). */
void pl_run(pl_run_t *r, const char *name, const char *const *args,
            const char *const *env, int preload);

/* Free what 'r' owns and remove its directories, unless LIBLEAK_TEST_KEEP
 * is set (then print where they are). */
void pl_run_free(pl_run_t *r);

/* Fail unless the victim exited normally with status 'code'; print its
 * stderr in the message. */
#define pl_assert_exit(r, code)                                                        \
    PL_REQUIRE(WIFEXITED((r)->status) && WEXITSTATUS((r)->status) == (code),       \
                  "%s: expected exit %d, got %s %d; stderr:\n%s", (r)->exe, (code),    \
                  WIFEXITED((r)->status) ? "exit" : "signal",                           \
                  WIFEXITED((r)->status) ? WEXITSTATUS((r)->status)                     \
                                         : WTERMSIG((r)->status),                       \
                  (r)->err)

/* Count the lines of 's'. */
int pl_count_lines(const char *s);

/* ### JSON access (each fails the test on a missing key or wrong type) */

/* Return member 'key' of object 'o' (borrowed). */
json_t *pl_obj(json_t *o, const char *key);

/* Return the integer, string (borrowed) or boolean member 'key' of 'o'. */
long long pl_int(json_t *o, const char *key);
const char *pl_str(json_t *o, const char *key);
int pl_bool(json_t *o, const char *key);

/* Parse the hex string address 'v' ("0x7f..."). */
uint64_t pl_hex(json_t *v);

/* ### dumps */

/* Return the only dump of process 'pid' with trigger 'trigger' (fails if
 * there is none or more than one). */
pl_dump_t *pl_dump_of(pl_run_t *r, long pid, const char *trigger);

/* Return the exit dump of the victim itself. */
pl_dump_t *pl_exit_dump(pl_run_t *r);

/* Count the dumps of process 'pid' (all triggers). */
int pl_count_dumps(pl_run_t *r, long pid);

/* Return the stack object with id 'id' (fails if absent). */
json_t *pl_stack(pl_dump_t *d, long long id);

/* Check everything FORMAT.md promises for any dump: header, pid and seq
 * agree with the file name, timeline arrays of one length, every frame
 * lies in a module of modules[] but none in libleak.so itself, totals
 * equal the sums of sites when complete, cost has its five counters,
 * every site's total == live + freed, every referenced stack exists, and
 * frames are hex strings. */
void pl_check_dump(pl_dump_t *d);

/* Check every dump of the run with pl_check_dump(), that the directory
 * holds nothing but dumps (no .tmp file left behind), and that a process's
 * exit dump is its last (highest seq): nothing is written after it, since
 * readers take the last dump of a pid as its final state. */
void pl_check_all(pl_run_t *r);

/* ### symbols of the victim */

/* Find function 'fn' in the symbol table of ELF file 'path': its value
 * (link-time address) and size.  Returns 1 when found.  Answers are cached
 * (the last 64 lookups), since tests ask the same question per site. */
int pl_elf_sym(const char *path, const char *fn, uint64_t *start, uint64_t *size);

/* Return the load base of the main program from the dump's modules[]: the
 * entry whose path is process.exe. */
uint64_t pl_exe_base(pl_dump_t *d);

/* Return 1 when some frame of stack 'sid' lies in function 'fn' of the main
 * program.  A return address may sit just past the function's end (a call
 * as the last instruction), so the test is on address - 1. */
int pl_stack_has_fn(pl_dump_t *d, long long sid, const char *fn);

/* Return how many frames of stack 'sid' lie in function 'fn' of the main
 * program (address - 1, as pl_stack_has_fn). */
int pl_stack_count_fn(pl_dump_t *d, long long sid, const char *fn);

/* Sum the sites of family 'family' (NULL: any) whose stack passes through
 * victim function 'fn'. */
pl_agg_t pl_sites(pl_dump_t *d, const char *fn, const char *family);

/* Assert the aggregate of sites through 'fn' of 'family': exactly one site,
 * with the given live blocks/bytes and total blocks/bytes (freed follows). */
#define pl_assert_site(d, fn, family, lblocks, lbytes, tblocks, tbytes)                     \
    do {                                                                                   \
        pl_agg_t a_ = pl_sites((d), (fn), (family));                                       \
        PL_REQUIRE(a_.nsites == 1, "%s: %d %s sites through %s(), expected 1",           \
                      (d)->name, a_.nsites, (family) ? (family) : "any", (fn));             \
        PL_REQUIRE(a_.live_blocks == (lblocks) && a_.live_bytes == (lbytes) &&           \
                          a_.total_blocks == (tblocks) && a_.total_bytes == (tbytes) &&     \
                          a_.freed_blocks == (long long)(tblocks) - (long long)(lblocks),   \
                      "%s: site through %s(): live %lld blocks/%lld bytes, total %lld/%lld, " \
                      "freed %lld; expected live %lld/%lld total %lld/%lld",                \
                      (d)->name, (fn), a_.live_blocks, a_.live_bytes, a_.total_blocks,      \
                      a_.total_bytes, a_.freed_blocks, (long long)(lblocks),                \
                      (long long)(lbytes), (long long)(tblocks), (long long)(tbytes));      \
    } while (0)

/* Assert that no site of any family passes through 'fn'. */
#define pl_assert_no_site(d, fn)                                                           \
    do {                                                                                   \
        pl_agg_t a_ = pl_sites((d), (fn), NULL);                                           \
        PL_REQUIRE(a_.nsites == 0, "%s: %d sites through %s(), expected none",          \
                      (d)->name, a_.nsites, (fn));                                         \
    } while (0)

/* Return the failures[] entries whose stack passes through 'fn', summed:
 * number of entries in *n, and the first one found. */
json_t *pl_failure(pl_dump_t *d, const char *fn, int *n);

/* Return the totals object of a dump. */
json_t *pl_totals(pl_dump_t *d);

#endif /* LK_PRELOAD_HELPERS_H */
