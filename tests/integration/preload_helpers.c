/* preload_helpers.c - the end-to-end harness, compiled once and linked into
 * every tests/integration/check_*.c suite; preload_helpers.h has the contracts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
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

#include "preload_helpers.h"

/* ### paths */

const char *pl_build(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

void pl_artifact(char *buf, const char *rel)
{
    char tmp[PATH_MAX];
    PL_FMT(tmp, "%s/%s", pl_build(), rel);
    PL_REQUIRE(realpath(tmp, buf) != NULL, "missing '%s' (run make BUILD=%s e2e)", tmp,
                  pl_build());
}

void pl_victim_path(char *buf, const char *name)
{
    char rel[PATH_MAX];
    PL_FMT(rel, "victims/%s", name);
    pl_artifact(buf, rel);
}

/* ### files */

char *pl_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

void pl_rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        PL_FMT(p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) pl_rm_rf(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* The pid of the test runner: every directory the tests make is named
 * lk-e2e-<runner>-..., so pl_suite_teardown() can remove those a failed test
 * left behind (Check ends a failed test's process without running cleanup). */
static pid_t pl_runner;

const char *pl_tmpdir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

void pl_mkdtemp(char *buf, const char *what)
{
    PL_REQUIRE(snprintf(buf, PATH_MAX, "%s/lk-e2e-%ld-%s-XXXXXX", pl_tmpdir(),
                        (long)(pl_runner ? pl_runner : getpid()), what) < PATH_MAX,
               "TMPDIR too long");
    PL_REQUIRE(mkdtemp(buf) != NULL, "mkdtemp '%s': %s", buf, strerror(errno));
}

/* Unchecked fixture (runs in the runner process): remember the runner. */
static void pl_suite_setup(void)
{
    pl_runner = getpid();
}

/* Unchecked fixture: remove what failed tests left in TMPDIR, unless
 * LIBLEAK_TEST_KEEP is set (then say where it is). */
static void pl_suite_teardown(void)
{
    char pre[64];
    snprintf(pre, sizeof pre, "lk-e2e-%ld-", (long)pl_runner);
    DIR *d = opendir(pl_tmpdir());
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, pre, strlen(pre)) != 0) continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", pl_tmpdir(), e->d_name) >= (int)sizeof p) continue;
        if (getenv("LIBLEAK_TEST_KEEP")) fprintf(stderr, "kept %s\n", p);
        else pl_rm_rf(p);
    }
    closedir(d);
}

TCase *pl_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, PL_TIMEOUT);
    tcase_add_unchecked_fixture(tc, pl_suite_setup, pl_suite_teardown);
    return tc;
}

static int pl_cmp_dump(const void *a, const void *b)
{
    const pl_dump_t *x = a, *y = b;
    if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parse "libleak.<pid>.<seq>.<trigger>.json" into 'd'; returns 1 if the
 * name has that exact shape. */
static int pl_parse_name(const char *name, pl_dump_t *d)
{
    const char *pre = LIBLEAK_DUMP_PREFIX ".";
    size_t plen = strlen(pre), slen = strlen(LIBLEAK_DUMP_SUFFIX), n = strlen(name);
    if (n <= plen + slen || strncmp(name, pre, plen) != 0 ||
        strcmp(name + n - slen, LIBLEAK_DUMP_SUFFIX) != 0)
        return 0;
    char mid[256];
    if (n - plen - slen >= sizeof mid) return 0;
    memcpy(mid, name + plen, n - plen - slen);
    mid[n - plen - slen] = '\0';
    char *end;
    errno = 0;
    long pid = strtol(mid, &end, 10);
    if (end == mid || *end != '.' || pid <= 0) return 0;
    char *s = end + 1;
    long seq = strtol(s, &end, 10);
    if (end == s || *end != '.' || seq < 0) return 0;
    const char *trig = end + 1;
    static const char *const names[] = LK_TRIGGER_NAMES;
    int ok = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(trig, names[i])) ok = 1;
    if (!ok) return 0;
    d->pid = pid;
    d->seq = seq;
    PL_FMT(d->trigger, "%s", trig);
    return 1;
}

void pl_load_dir(pl_run_t *r)
{
    DIR *d = opendir(r->dir);
    PL_REQUIRE(d != NULL, "opendir '%s': %s", r->dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        pl_dump_t tmp;
        memset(&tmp, 0, sizeof tmp);
        if (pl_parse_name(e->d_name, &tmp)) {
            r->dumps = realloc(r->dumps, (size_t)(r->ndumps + 1) * sizeof *r->dumps);
            ck_assert(r->dumps != NULL);
            pl_dump_t *dp = &r->dumps[r->ndumps++];
            *dp = tmp;
            PL_FMT(dp->name, "%s", e->d_name);
            char p[PATH_MAX];
            PL_FMT(p, "%s/%s", r->dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0) dp->mode = st.st_mode & 07777;
            json_error_t jerr;
            dp->root = json_load_file(p, 0, &jerr);
            if (!dp->root)
                PL_FMT(dp->error, "line %d: %s", jerr.line, jerr.text);
        } else {
            r->others = realloc(r->others, (size_t)(r->nothers + 1) * sizeof *r->others);
            ck_assert(r->others != NULL);
            r->others[r->nothers++] = strdup(e->d_name);
        }
    }
    closedir(d);
    if (r->ndumps > 0) qsort(r->dumps, (size_t)r->ndumps, sizeof r->dumps[0], pl_cmp_dump);
}

/* ### running a victim */

/* Print what every thread of every process in process group 'pgid' is
 * blocked in (state, wchan, syscall and its arguments: a futex address names
 * the lock), and gdb's backtraces when gdb is installed, so that a hang seen
 * once in CI can be explained afterwards. */
static void pl_dump_hung(pid_t pgid)
{
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    while (proc && (pe = readdir(proc)) != NULL) {
        pid_t pid = (pid_t)atoi(pe->d_name);
        if (pid <= 0 || getpgid(pid) != pgid)
            continue;
        char path[320], line[512];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        DIR *task = opendir(path);
        struct dirent *te;
        while (task && (te = readdir(task)) != NULL) {
            if (te->d_name[0] == '.')
                continue;
            fprintf(stderr, "hung: pid %d tid %s:", (int)pid, te->d_name);
            static const char *const files[] = { "stat", "wchan", "syscall" };
            for (int k = 0; k < 3; k++) {
                snprintf(path, sizeof path, "/proc/%d/task/%s/%s", (int)pid, te->d_name, files[k]);
                FILE *f = fopen(path, "r");
                if (f && fgets(line, sizeof line, f)) {
                    const char *l = line;
                    int len = (int)strcspn(line, "\n");
                    if (k == 0 && strrchr(line, ')')) {     /* stat: "(comm) S" only */
                        l = strchr(line, '(');
                        len = (int)(strrchr(line, ')') - l) + 3;
                    }
                    fprintf(stderr, " %s=[%.*s]", files[k], len, l);
                }
                if (f)
                    fclose(f);
            }
            fputc('\n', stderr);
        }
        if (task)
            closedir(task);
        if (access("/usr/bin/gdb", X_OK) == 0) {
            char cmd[160];
            snprintf(cmd, sizeof cmd, "/usr/bin/gdb -p %d -batch -ex 'thread apply all bt' "
                     "2>/dev/null | grep -E '^(#|Thread)' >&2", (int)pid);
            if (system(cmd) != 0)
                fprintf(stderr, "hung: gdb could not attach to %d\n", (int)pid);
        }
    }
    if (proc)
        closedir(proc);
}

void pl_run_exe(pl_run_t *r, const char *exe, const char *const *args,
                const char *const *env, int preload)
{
    memset(r, 0, sizeof *r);
    PL_FMT(r->exe, "%s", exe);
    pl_mkdtemp(r->dir, "dumps");
    pl_mkdtemp(r->outdir, "out");
    char so[PATH_MAX];
    if (preload) pl_artifact(so, "libleak.so");

    char outp[PATH_MAX], errp[PATH_MAX];
    PL_FMT(outp, "%s/stdout", r->outdir);
    PL_FMT(errp, "%s/stderr", r->outdir);

    const char *argv[64];
    int argc = 0;
    argv[argc++] = exe;
    for (int i = 0; args && args[i] && argc < 63; i++) argv[argc++] = args[i];
    argv[argc] = NULL;

    fflush(NULL);
    pid_t pid = fork();
    PL_REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        extern char **environ;
        setpgid(0, 0);  /* its own group, so a hung victim's children die with it */
        for (;;) {  /* drop inherited LIBLEAK_* and LD_PRELOAD */
            int again = 0;
            for (char **e = environ; *e; e++) {
                if (!strncmp(*e, "LIBLEAK_", 8) || !strncmp(*e, "LD_PRELOAD=", 11)) {
                    char *name = strndup(*e, strcspn(*e, "="));
                    if (!name) _exit(126);
                    unsetenv(name);
                    free(name);
                    again = 1;
                    break;
                }
            }
            if (!again) break;
        }
        if (preload) {
            setenv("LD_PRELOAD", so, 1);
            setenv("LIBLEAK_DIR", r->dir, 1);
        }
        for (int i = 0; env && env[i]; i++) {
            if (env[i][0] != '-') {
                putenv((char *)env[i]);
                continue;
            }
            unsetenv(env[i] + 1);
            if (!strcmp(env[i] + 1, "LIBLEAK_DIR") && chdir(r->dir) != 0) _exit(126);
        }
        int in = open("/dev/null", O_RDONLY);
        int out = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        /* the victim starts with 0, 1 and 2 only, not Check's pipes */
        for (int fd = 3; fd < 1024; fd++) close(fd);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    setpgid(pid, pid);
    /* Wait, but not forever: a deadlocked victim is killed with its process
     * group and reported as hung, instead of outliving the test.  This is a
     * bound on a hang, not a speed assertion (LIBLEAK_TEST_HANG_S overrides). */
    const char *hs = getenv("LIBLEAK_TEST_HANG_S");
    long hang_ms = (hs && atol(hs) > 0 ? atol(hs) : PL_HANG_S) * 1000L, waited_ms = 0;
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        PL_REQUIRE(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (waited_ms >= hang_ms) {
            pl_dump_hung(pid);
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            ck_abort_msg("%s hung: killed after %ld s (dumps in %s)", exe, hang_ms / 1000,
                         r->dir);
        }
        usleep(5000);
        waited_ms += 5;
    }
    kill(-pid, SIGKILL);  /* stragglers the victim left behind, if any */
    r->status = st;
    r->out = pl_slurp(outp);
    r->err = pl_slurp(errp);
    pl_load_dir(r);
}

void pl_run(pl_run_t *r, const char *name, const char *const *args,
            const char *const *env, int preload)
{
    char exe[PATH_MAX];
    pl_victim_path(exe, name);
    pl_run_exe(r, exe, args, env, preload);
}

void pl_run_free(pl_run_t *r)
{
    for (int i = 0; i < r->ndumps; i++) json_decref(r->dumps[i].root);
    for (int i = 0; i < r->nothers; i++) free(r->others[i]);
    free(r->dumps);
    free(r->others);
    free(r->out);
    free(r->err);
    if (getenv("LIBLEAK_TEST_KEEP")) {
        fprintf(stderr, "kept %s (dumps) and %s (output)\n", r->dir, r->outdir);
    } else {
        pl_rm_rf(r->dir);
        pl_rm_rf(r->outdir);
    }
    memset(r, 0, sizeof *r);
}

int pl_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        if (*s == '\n') n++;
    return n;
}

/* ### JSON access (each fails the test on a missing key or wrong type) */

json_t *pl_obj(json_t *o, const char *key)
{
    PL_REQUIRE(json_is_object(o), "not an object when looking up '%s'", key);
    json_t *v = json_object_get(o, key);
    PL_REQUIRE(v != NULL, "missing key '%s'", key);
    return v;
}

long long pl_int(json_t *o, const char *key)
{
    json_t *v = pl_obj(o, key);
    PL_REQUIRE(json_is_integer(v), "key '%s' is not an integer", key);
    return (long long)json_integer_value(v);
}

const char *pl_str(json_t *o, const char *key)
{
    json_t *v = pl_obj(o, key);
    PL_REQUIRE(json_is_string(v), "key '%s' is not a string", key);
    return json_string_value(v);
}

int pl_bool(json_t *o, const char *key)
{
    json_t *v = pl_obj(o, key);
    PL_REQUIRE(json_is_boolean(v), "key '%s' is not a boolean", key);
    return json_is_true(v);
}

uint64_t pl_hex(json_t *v)
{
    PL_REQUIRE(json_is_string(v), "address is not a string");
    const char *s = json_string_value(v);
    PL_REQUIRE(s[0] == '0' && (s[1] == 'x' || s[1] == 'X'), "address '%s' is not 0x-hex", s);
    char *end;
    errno = 0;
    uint64_t a = strtoull(s + 2, &end, 16);
    PL_REQUIRE(*end == '\0' && end != s + 2 && errno == 0, "bad address '%s'", s);
    return a;
}

/* ### dumps */

pl_dump_t *pl_dump_of(pl_run_t *r, long pid, const char *trigger)
{
    pl_dump_t *found = NULL;
    int n = 0;
    for (int i = 0; i < r->ndumps; i++)
        if (r->dumps[i].pid == pid && !strcmp(r->dumps[i].trigger, trigger)) {
            found = &r->dumps[i];
            n++;
        }
    PL_REQUIRE(n == 1, "expected one '%s' dump of pid %ld in %s, found %d (of %d dumps)",
                  trigger, pid, r->dir, n, r->ndumps);
    PL_REQUIRE(found->root != NULL, "%s: does not parse: %s", found->name, found->error);
    return found;
}

pl_dump_t *pl_exit_dump(pl_run_t *r)
{
    return pl_dump_of(r, (long)r->pid, "exit");
}

int pl_count_dumps(pl_run_t *r, long pid)
{
    int n = 0;
    for (int i = 0; i < r->ndumps; i++)
        if (r->dumps[i].pid == pid) n++;
    return n;
}

json_t *pl_stack(pl_dump_t *d, long long id)
{
    json_t *stacks = pl_obj(d->root, LK_KEY_STACKS);
    size_t i;
    json_t *s;
    json_array_foreach(stacks, i, s)
        if (pl_int(s, LK_KEY_ID) == id) return s;
    ck_abort_msg("%s: no stack with id %lld", d->name, id);
    return NULL;
}

void pl_check_dump(pl_dump_t *d)
{
    PL_REQUIRE(d->root != NULL, "%s: does not parse: %s", d->name, d->error);
    PL_REQUIRE(d->mode == 0600, "%s: mode %o, expected 0600", d->name, (unsigned)d->mode);
    json_t *root = d->root;
    ck_assert_str_eq(pl_str(root, LK_KEY_FORMAT), LIBLEAK_DUMP_FORMAT);
    ck_assert_int_eq(pl_int(root, LK_KEY_VERSION), LIBLEAK_DUMP_VERSION);
    pl_str(root, LK_KEY_TOOL_VERSION);
    json_t *proc = pl_obj(root, LK_KEY_PROCESS);
    ck_assert_int_eq(pl_int(proc, LK_KEY_PID), d->pid);
    const char *exe = pl_str(proc, LK_KEY_EXE);
    PL_REQUIRE(exe[0] == '/', "%s: process.exe '%s' is not an absolute path", d->name, exe);
    PL_REQUIRE(json_array_size(pl_obj(proc, LK_KEY_CMDLINE)) > 0, "%s: process.cmdline is empty",
               d->name);
    json_t *dump = pl_obj(root, LK_KEY_DUMP);
    ck_assert_int_eq(pl_int(dump, LK_KEY_SEQ), d->seq);
    ck_assert_str_eq(pl_str(dump, LK_KEY_TRIGGER), d->trigger);
    PL_REQUIRE(pl_int(dump, LK_KEY_UNIX_MS) >= pl_int(proc, LK_KEY_START_UNIX_MS),
               "%s: dumped before the process started", d->name);
    /* timeline: parallel arrays of one length */
    json_t *tl = pl_obj(root, LK_KEY_TIMELINE);
    size_t tlen = json_array_size(pl_obj(tl, LK_KEY_TL_UPTIME_NS));
    const char *tkeys[] = {LK_KEY_TL_LIVE_BYTES, LK_KEY_TL_RSS_BYTES, LK_KEY_TL_ALLOCS,
                           LK_KEY_TL_FREES};
    for (int t = 0; t < 4; t++)
        PL_REQUIRE(json_is_array(pl_obj(tl, tkeys[t])) &&
                       json_array_size(pl_obj(tl, tkeys[t])) == tlen,
                   "%s: timeline.%s is not an array of %zu", d->name, tkeys[t], tlen);
    /* timeline.sites: at most LIBLEAK_TL_MAX_SITES, each as long as the samples */
    json_t *tsites = pl_obj(tl, LK_KEY_TL_SITES), *ts;
    size_t tsi;
    PL_REQUIRE(json_is_array(tsites) && json_array_size(tsites) <= LIBLEAK_TL_MAX_SITES,
               "%s: timeline.sites is not an array of at most %d", d->name, LIBLEAK_TL_MAX_SITES);
    json_array_foreach(tsites, tsi, ts)
        PL_REQUIRE(json_array_size(pl_obj(ts, LK_KEY_TL_LIVE_BYTES)) == tlen,
                   "%s: timeline.sites[%zu].live_bytes is not an array of %zu", d->name, tsi, tlen);

    /* cost: libleak's own memory and its unwinds, non-negative integers */
    json_t *cost = pl_obj(root, LK_KEY_COST);
    const char *ckeys[] = {LK_KEY_BLOCK_TABLE_BYTES, LK_KEY_SITE_TABLE_BYTES,
                           LK_KEY_STACK_TABLE_BYTES, LK_KEY_UNWINDS_LEARNING,
                           LK_KEY_UNWINDS_FALLBACK};
    for (int c = 0; c < 5; c++)
        PL_REQUIRE(pl_int(cost, ckeys[c]) >= 0, "%s: cost.%s is negative", d->name, ckeys[c]);
    /* every dump says what address space and memory libleak itself holds */
    PL_REQUIRE(pl_int(cost, LK_KEY_ADDRESS_SPACE_BYTES) > 0 &&
                   pl_int(cost, LK_KEY_COST_RSS_BYTES) <= pl_int(cost, LK_KEY_ADDRESS_SPACE_BYTES),
               "%s: cost.address_space_bytes %lld, cost.rss_bytes %lld", d->name,
               pl_int(cost, LK_KEY_ADDRESS_SPACE_BYTES), pl_int(cost, LK_KEY_COST_RSS_BYTES));

    json_t *totals = pl_obj(root, LK_KEY_TOTALS);
    json_t *stacks = pl_obj(root, LK_KEY_STACKS);
    json_t *sites = pl_obj(root, LK_KEY_SITES);
    ck_assert(json_is_array(stacks));
    ck_assert(json_is_array(sites));
    size_t i, j;
    json_t *s, *f;
    json_array_foreach(stacks, i, s) {
        pl_int(s, LK_KEY_ID);
        pl_bool(s, LK_KEY_TRUNCATED);
        json_t *frames = pl_obj(s, LK_KEY_FRAMES);
        ck_assert(json_is_array(frames));
        json_array_foreach(frames, j, f) pl_hex(f);
    }
    /* libleak's own frames are removed: no frame lies in libleak.so */
    json_t *mods = pl_obj(root, LK_KEY_MODULES), *m;
    size_t k;
    json_array_foreach(mods, k, m) {
        const char *path = pl_str(m, LK_KEY_PATH), *base = strrchr(path, '/');
        if (strcmp(base ? base + 1 : path, "libleak.so") != 0) continue;
        uint64_t lo = pl_hex(pl_obj(m, LK_KEY_BASE)), hi = lo + (uint64_t)pl_int(m, LK_KEY_SIZE);
        json_array_foreach(stacks, i, s) {
            json_array_foreach(pl_obj(s, LK_KEY_FRAMES), j, f) {
                uint64_t a = pl_hex(f);
                PL_REQUIRE(a < lo || a >= hi, "%s: stacks[%zu] has libleak's own frame %s",
                              d->name, i, json_string_value(f));
            }
        }
    }
    /* every frame lies in some module (the analyzer symbolizes by module),
     * but the generated code a jit_cut stack ends at */
    json_array_foreach(stacks, i, s) {
        json_t *jc = json_object_get(s, LK_KEY_JIT_CUT);
        size_t nf = json_array_size(pl_obj(s, LK_KEY_FRAMES));
        json_array_foreach(pl_obj(s, LK_KEY_FRAMES), j, f) {
            if (json_is_true(jc) && j + 1 == nf) continue;
            uint64_t a = pl_hex(f) - 1;
            int in = 0;
            json_array_foreach(mods, k, m) {
                uint64_t lo = pl_hex(pl_obj(m, LK_KEY_BASE));
                if (a >= lo && a - lo < (uint64_t)pl_int(m, LK_KEY_SIZE)) in = 1;
            }
            PL_REQUIRE(in, "%s: stacks[%zu] frame %s lies in no module", d->name, i,
                       json_string_value(f));
        }
    }
    long long live_bytes = 0, live_blocks = 0;
    json_array_foreach(sites, i, s) {
        long long lb = pl_int(s, LK_KEY_LIVE_BLOCKS), tb = pl_int(s, LK_KEY_TOTAL_BLOCKS);
        long long fb = pl_int(s, LK_KEY_FREED_BLOCKS);
        PL_REQUIRE(tb == lb + fb, "%s: sites[%zu]: total_blocks %lld != live %lld + freed %lld",
                      d->name, i, tb, lb, fb);
        live_bytes += pl_int(s, LK_KEY_LIVE_BYTES);
        live_blocks += lb;
        pl_stack(d, pl_int(s, LK_KEY_STACK));
    }
    if (pl_bool(totals, LK_KEY_COMPLETE)) {
        ck_assert_int_eq(pl_int(totals, LK_KEY_DROPPED_EVENTS), 0);
        PL_REQUIRE(pl_int(totals, LK_KEY_LIVE_BYTES) == live_bytes,
                      "%s: totals.live_bytes %lld != sum of sites %lld", d->name,
                      pl_int(totals, LK_KEY_LIVE_BYTES), live_bytes);
        PL_REQUIRE(pl_int(totals, LK_KEY_LIVE_BLOCKS) == live_blocks,
                      "%s: totals.live_blocks %lld != sum of sites %lld", d->name,
                      pl_int(totals, LK_KEY_LIVE_BLOCKS), live_blocks);
    }
    json_t *mm = json_object_get(root, LK_KEY_MISMATCHES);
    if (mm) json_array_foreach(mm, i, s) {
        pl_stack(d, pl_int(s, LK_KEY_ALLOC_STACK));
        pl_stack(d, pl_int(s, LK_KEY_FREE_STACK));
    }
    json_t *fl = json_object_get(root, LK_KEY_FAILURES);
    if (fl) json_array_foreach(fl, i, s) pl_stack(d, pl_int(s, LK_KEY_STACK));
}

void pl_check_all(pl_run_t *r)
{
    for (int i = 0; i < r->nothers; i++)
        ck_abort_msg("%s: unexpected file '%s'", r->dir, r->others[i]);
    for (int i = 0; i < r->ndumps; i++) pl_check_dump(&r->dumps[i]);
    for (int i = 0; i < r->ndumps; i++) {  /* sorted by pid, then seq */
        pl_dump_t *d = &r->dumps[i];
        if (strcmp(d->trigger, "exit") != 0) continue;
        PL_REQUIRE(i + 1 == r->ndumps || r->dumps[i + 1].pid != d->pid,
                   "%s: '%s' written after the exit dump '%s'", r->dir, r->dumps[i + 1].name,
                   d->name);
    }
}

/* ### symbols of the victim */

int pl_elf_sym(const char *path, const char *fn, uint64_t *start, uint64_t *size)
{
    static struct { char path[PATH_MAX]; char fn[128]; uint64_t start, size; int found; } cache[64];
    static unsigned ncache;
    for (unsigned c = 0; c < ncache && c < 64; c++)
        if (!strcmp(cache[c].path, path) && !strcmp(cache[c].fn, fn)) {
            *start = cache[c].start;
            *size = cache[c].size;
            return cache[c].found;
        }
    int found = 0;
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY);
    PL_REQUIRE(fd >= 0, "open '%s': %s", path, strerror(errno));
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    PL_REQUIRE(elf != NULL, "'%s': not ELF", path);
    Elf_Scn *scn = NULL;
    while (!found && (scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB) continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, (int)i, &sym)) continue;
            if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0) continue;
            const char *nm = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (nm && !strcmp(nm, fn)) {
                *start = sym.st_value;
                *size = sym.st_size;
                found = 1;
                break;
            }
        }
    }
    elf_end(elf);
    close(fd);
    if (strlen(path) < PATH_MAX && strlen(fn) < 128) {
        unsigned c = ncache++ % 64;
        strcpy(cache[c].path, path);
        strcpy(cache[c].fn, fn);
        cache[c].start = found ? *start : 0;
        cache[c].size = found ? *size : 0;
        cache[c].found = found;
    }
    return found;
}

uint64_t pl_exe_base(pl_dump_t *d)
{
    const char *exe = pl_str(pl_obj(d->root, LK_KEY_PROCESS), LK_KEY_EXE);
    json_t *mods = pl_obj(d->root, LK_KEY_MODULES);
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m)
        if (!strcmp(pl_str(m, LK_KEY_PATH), exe)) return pl_hex(pl_obj(m, LK_KEY_BASE));
    ck_abort_msg("%s: no module with path '%s' (process.exe)", d->name, exe);
    return 0;
}

int pl_stack_has_fn(pl_dump_t *d, long long sid, const char *fn)
{
    return pl_stack_count_fn(d, sid, fn) > 0;
}

int pl_stack_count_fn(pl_dump_t *d, long long sid, const char *fn)
{
    const char *exe = pl_str(pl_obj(d->root, LK_KEY_PROCESS), LK_KEY_EXE);
    uint64_t start, size;
    PL_REQUIRE(pl_elf_sym(exe, fn, &start, &size), "no function '%s' in '%s'", fn, exe);
    uint64_t lo = pl_exe_base(d) + start, hi = lo + size;
    json_t *frames = pl_obj(pl_stack(d, sid), LK_KEY_FRAMES), *f;
    size_t i;
    int n = 0;
    json_array_foreach(frames, i, f) {
        uint64_t a = pl_hex(f) - 1;
        if (a >= lo && a < hi) n++;
    }
    return n;
}

pl_agg_t pl_sites(pl_dump_t *d, const char *fn, const char *family)
{
    pl_agg_t a;
    memset(&a, 0, sizeof a);
    json_t *sites = pl_obj(d->root, LK_KEY_SITES);
    size_t i;
    json_t *s;
    json_array_foreach(sites, i, s) {
        if (family && strcmp(pl_str(s, LK_KEY_FAMILY), family) != 0) continue;
        if (!pl_stack_has_fn(d, pl_int(s, LK_KEY_STACK), fn)) continue;
        a.nsites++;
        a.live_blocks += pl_int(s, LK_KEY_LIVE_BLOCKS);
        a.live_bytes += pl_int(s, LK_KEY_LIVE_BYTES);
        a.total_blocks += pl_int(s, LK_KEY_TOTAL_BLOCKS);
        a.total_bytes += pl_int(s, LK_KEY_TOTAL_BYTES);
        a.freed_blocks += pl_int(s, LK_KEY_FREED_BLOCKS);
        long long p = pl_int(s, LK_KEY_PEAK_LIVE_BYTES), m = pl_int(s, LK_KEY_MAX_REQUEST);
        if (p > a.peak_live_bytes) a.peak_live_bytes = p;
        if (m > a.max_request_bytes) a.max_request_bytes = m;
    }
    return a;
}

json_t *pl_failure(pl_dump_t *d, const char *fn, int *n)
{
    json_t *fl = pl_obj(d->root, LK_KEY_FAILURES), *first = NULL, *e;
    size_t i;
    *n = 0;
    json_array_foreach(fl, i, e) {
        if (!pl_stack_has_fn(d, pl_int(e, LK_KEY_STACK), fn)) continue;
        if (!first) first = e;
        (*n)++;
    }
    return first;
}

json_t *pl_totals(pl_dump_t *d)
{
    return pl_obj(d->root, LK_KEY_TOTALS);
}
