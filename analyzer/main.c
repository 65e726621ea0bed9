/* main.c - leak-analyze's command line: parse options, run the passes in
 * model.h's order, print the report, and turn the gate into the exit
 * status (0 ok, 1 gate tripped, 2 usage or input error).  Analysis lives in
 * the pass files; this file only wires them. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "report_formats.h"
#include "report_ci.h"

static const char usage_text[] =
    "usage: leak-analyze [OPTIONS] PATH...\n"
    "       leak-analyze diff [OPTIONS] OLD NEW\n"
    "Report the memory that libleak dumps show as leaked.  Each PATH is a dump\n"
    "or a directory of libleak.*.json dumps; OLD and NEW are dumps, directories\n"
    "or leak-analyze JSON reports.\n"
    "\n"
    "  -f, --format=FMT           text (default), json, folded or svg (growth chart)\n"
    "                             valgrind-xml (memcheck's XML), lsan (LeakSanitizer's text),\n"
    "                             sarif (code scanning), junit (test reporters) or\n"
    "                             html (one page to open in a browser)\n"
    "      --source-root=DIR      sarif: paths relative to DIR (default: the current one)\n"
    "      --chart=FILE           also write the growth chart (SVG) to FILE\n"
    "      --html=FILE            also write the report as one HTML page to FILE\n"
    "  -o, --output=FILE          write the report to FILE instead of stdout\n"
    "      --top=N                show only the N largest leak sites (per process)\n"
    "      --min-bytes=N          show only leak sites of at least N bytes\n"
    "      --fail-on-leak         exit 1 when any unsuppressed leak remains\n"
    "      --max-leak-bytes=N     exit 1 when more than N bytes leak\n"
    "      --baseline=OLD         exit 1 only for leak sites new or grown since OLD\n"
    "      --suppressions=FILE    LSan-format rules (leak:PATTERN); repeatable\n"
    "      --no-builtin-suppressions  also report glibc/libstdc++/loader memory\n"
    "      --gen-suppressions     print suppression rules for the leaks, not a report\n"
    "      --show=KINDS           kinds the text report shows: definite, indirect,\n"
    "                             possible, reachable, unfreed, inherited (a forked\n"
    "                             child's blocks from before the fork) or all\n"
    "                             (default all but reachable and inherited)\n"
    "      --fail-on=KINDS        kinds the gate counts (default definite,indirect,\n"
    "                             and unfreed for dumps without a reachability scan)\n"
    "      --color=WHEN           text: color auto (on a terminal, unless NO_COLOR\n"
    "                             is set), always or never\n"
    "      --full-names           keep long C++ template arguments (default <...>)\n"
    "      --folded-lines         folded: add [file:line] to every frame\n"
    "  -h, --help                 this text\n"
    "  -V, --version              print the version\n"
    "Sizes accept k, M, G and T suffixes (powers of 1024; 64k, 3MiB, 1T).\n"
    "Exit status: 0 ok, 1 the leak gate tripped, 2 usage or input error.\n";

enum {
    OPT_TOP = 256, OPT_MIN_BYTES, OPT_FAIL_ON_LEAK, OPT_MAX_LEAK_BYTES, OPT_BASELINE,
    OPT_SUPPRESSIONS, OPT_NO_BUILTIN, OPT_GEN_SUPP, OPT_SHOW, OPT_FAIL_ON,
    OPT_CHART,
    OPT_COLOR, OPT_FULL_NAMES, OPT_FOLDED_LINES, OPT_SOURCE_ROOT, OPT_HTML
};

static const struct option long_options[] = {
    { "format", required_argument, NULL, 'f' },
    { "output", required_argument, NULL, 'o' },
    { "top", required_argument, NULL, OPT_TOP },
    { "min-bytes", required_argument, NULL, OPT_MIN_BYTES },
    { "fail-on-leak", no_argument, NULL, OPT_FAIL_ON_LEAK },
    { "max-leak-bytes", required_argument, NULL, OPT_MAX_LEAK_BYTES },
    { "baseline", required_argument, NULL, OPT_BASELINE },
    { "suppressions", required_argument, NULL, OPT_SUPPRESSIONS },
    { "no-builtin-suppressions", no_argument, NULL, OPT_NO_BUILTIN },
    { "gen-suppressions", no_argument, NULL, OPT_GEN_SUPP },
    { "show", required_argument, NULL, OPT_SHOW },
    { "fail-on", required_argument, NULL, OPT_FAIL_ON },
    { "chart", required_argument, NULL, OPT_CHART },
    { "color", required_argument, NULL, OPT_COLOR },
    { "full-names", no_argument, NULL, OPT_FULL_NAMES },
    { "folded-lines", no_argument, NULL, OPT_FOLDED_LINES },
    { "source-root", required_argument, NULL, OPT_SOURCE_ROOT },
    { "html", required_argument, NULL, OPT_HTML },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

typedef enum fmt { FMT_TEXT, FMT_JSON, FMT_FOLDED, FMT_SVG,
                   FMT_VGXML, FMT_LSAN, FMT_SARIF, FMT_JUNIT, FMT_HTML } fmt_t;

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print one usage error line; returns the exit status for it. */
static int die_usage(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof(msg) - len, " (see leak-analyze --help)");
    lk_print_line(stderr, "leak-analyze: ", msg);
    return LK_EXIT_INPUT;
}

static void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print one error line, escaped: file names and values come from outside. */
static void print_error(const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lk_print_line(stderr, "leak-analyze: ", msg);
}

/* LEAK_ANALYZE_TIMING=1: print the CPU time of each phase to stderr (for
 * analyzer/bench.sh; not an interface). */
static void phase_time(const char *what)
{
    static double last;
    static int enabled = -1;
    struct timespec ts;

    if (enabled < 0)
        enabled = getenv("LEAK_ANALYZE_TIMING") != NULL;
    if (!enabled)
        return;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    fprintf(stderr, "leak-analyze: timing: %-36s %8.3f s cpu\n", what, now - last);
    last = now;
}

/* Parse "definite,indirect" into a kind mask; "all" means every kind. */
static int parse_kinds(const char *s, unsigned *mask)
{
    char buf[128];
    unsigned m = 0;

    if (strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "all") == 0) {
            m |= ((1u << LK_KIND_COUNT) - 1) | LK_SHOW_INHERITED;
            continue;
        }
        if (strcmp(t, "inherited") == 0) {
            m |= LK_SHOW_INHERITED;
            continue;
        }
        int k = lk_kind_parse(t);
        if (k < 0)
            return -EINVAL;
        m |= 1u << k;
    }
    if (m == 0)
        return -EINVAL;
    *mask = m;
    return 0;
}

/* The files options name, checked before any dump is read, so that a wrapper
 * running "leak-analyze OPTIONS --version" first learns of a missing
 * baseline or a bad suppressions file before the program runs. */
static int check_files(const char *baseline, const char **supp_files, size_t nsupp)
{
    lk_supp_list_t l = { 0 };
    char err[512] = "";
    struct stat sb;
    int rc = 0;

    if (baseline != NULL && stat(baseline, &sb) < 0) {
        print_error("--baseline: cannot open '%s': %s", baseline, strerror(errno));
        return LK_EXIT_INPUT;
    }
    if (baseline != NULL && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        print_error("--baseline: '%s' is not a regular file or a directory", baseline);
        return LK_EXIT_INPUT;
    }
    for (size_t i = 0; i < nsupp && rc == 0; i++)
        if (lk_supp_load(&l, supp_files[i], err, sizeof(err)) < 0) {
            print_error("%s", err);
            rc = LK_EXIT_INPUT;
        }
    lk_supp_list_free(&l);
    return rc;
}

/* `leak-analyze diff OLD NEW` */
static int run_diff(FILE *out, char **paths, int n, lk_symbolizer_t *sym,
                    const lk_options_t *opt)
{
    lk_base_t old = { 0 }, cur = { 0 };
    char err[512] = "";
    int rc = LK_EXIT_OK;

    if (n != 2)
        return die_usage("%s", "diff needs exactly two paths, OLD and NEW");
    if (lk_base_load(&old, paths[0], sym, opt, err, sizeof(err)) < 0
        || lk_base_load(&cur, paths[1], sym, opt, err, sizeof(err)) < 0) {
        print_error("%s", err);
        rc = LK_EXIT_INPUT;
    } else {
        lk_base_diff(out, &old, &cur);
        if (fflush(out) != 0 || ferror(out)) {
            print_error("cannot write the diff: %s", strerror(errno));
            rc = LK_EXIT_INPUT;
        }
    }
    lk_base_free(&old);
    lk_base_free(&cur);
    return rc;
}

int main(int argc, char **argv)
{
    lk_options_t opt = {
        .builtin_suppressions = true,
        .fail_kinds = (1u << LK_KIND_UNFREED) | (1u << LK_KIND_DEFINITE)
                      | (1u << LK_KIND_INDIRECT),
        .show_kinds = (1u << LK_KIND_UNFREED) | (1u << LK_KIND_DEFINITE)
                      | (1u << LK_KIND_INDIRECT) | (1u << LK_KIND_POSSIBLE),
    };
    const char *output = NULL;
    const char *chart = NULL;   /* --chart FILE (growth.h) */
    const char *html = NULL;    /* --html FILE: the page beside the report */
    const char *source_root = ".";
    char *root_abs = NULL;
    /* static: the option checks return early (--version, a usage error)
     * with the list still held, and it lives as long as the run anyway */
    static const char **supp_files;
    static size_t nsupp_files;
    fmt_t fmt = FMT_TEXT;
    bool diff = false;
    const char *color = "auto";
    bool version = false;
    int c, rc;

    if (argc > 1 && strcmp(argv[1], "diff") == 0) {
        diff = true;
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:hV", long_options, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "text") == 0) fmt = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0) fmt = FMT_JSON;
            else if (strcmp(optarg, "folded") == 0) fmt = FMT_FOLDED;
            else if (strcmp(optarg, "svg") == 0) fmt = FMT_SVG;
            else if (strcmp(optarg, "valgrind-xml") == 0) fmt = FMT_VGXML;
            else if (strcmp(optarg, "lsan") == 0) fmt = FMT_LSAN;
            else if (strcmp(optarg, "sarif") == 0) fmt = FMT_SARIF;
            else if (strcmp(optarg, "junit") == 0) fmt = FMT_JUNIT;
            else if (strcmp(optarg, "html") == 0) fmt = FMT_HTML;
            else return die_usage("--format: unknown format '%s' (text, json, folded, svg, valgrind-xml, lsan, sarif, junit or html)", optarg);
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_TOP:
            if (lk_parse_size(optarg, &opt.top) < 0)
                return die_usage("--top: expected a number, got '%s'", optarg);
            break;
        case OPT_MIN_BYTES:
            if (lk_parse_size(optarg, &opt.min_bytes) < 0)
                return die_usage("--min-bytes: expected a size, got '%s'", optarg);
            break;
        case OPT_FAIL_ON_LEAK:
            opt.fail_on_leak = true;
            break;
        case OPT_MAX_LEAK_BYTES:
            if (lk_parse_size(optarg, &opt.max_leak_bytes) < 0)
                return die_usage("--max-leak-bytes: expected a size, got '%s'", optarg);
            opt.has_max_leak_bytes = true;
            break;
        case OPT_BASELINE:
            opt.baseline = optarg;
            break;
        case OPT_SUPPRESSIONS: {
            const char **nv = realloc(supp_files, (nsupp_files + 1) * sizeof(*nv));
            if (nv == NULL)
                return die_usage("%s", "out of memory");
            supp_files = nv;
            supp_files[nsupp_files++] = optarg;
            break;
        }
        case OPT_NO_BUILTIN:
            opt.builtin_suppressions = false;
            break;
        case OPT_GEN_SUPP:
            opt.gen_suppressions = true;
            break;
        case OPT_SHOW:
            if (parse_kinds(optarg, &opt.show_kinds) < 0)
                return die_usage("--show: unknown kind list '%s'", optarg);
            break;
        case OPT_FAIL_ON:
            if (parse_kinds(optarg, &opt.fail_kinds) < 0)
                return die_usage("--fail-on: unknown kind list '%s'", optarg);
            break;
        case OPT_CHART:
            chart = optarg;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "always") != 0
                && strcmp(optarg, "never") != 0)
                return die_usage("--color: expected auto, always or never, got '%s'", optarg);
            color = optarg;
            break;
        case OPT_FULL_NAMES:
            opt.full_names = true;
            break;
        case OPT_FOLDED_LINES:
            opt.folded_lines = true;
            break;
        case OPT_SOURCE_ROOT:
            source_root = optarg;
            break;
        case OPT_HTML:
            html = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return LK_EXIT_OK;
        case 'V':   /* after every option is checked: tools/libleak relies on it */
            version = true;
            break;
        case ':':
            return die_usage("option '%s' needs a value", argv[optind - 1]);
        default:
            return die_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if ((rc = check_files(opt.baseline, supp_files, nsupp_files)) != 0) {
        free(supp_files);
        return rc;
    }
    if (version) {
        free(supp_files);
        printf("leak-analyze %s (dump format %d)\n", LIBLEAK_TOOL_VERSION,
               LIBLEAK_DUMP_VERSION);
        return LK_EXIT_OK;
    }
    if (optind >= argc)
        return die_usage("%s", "no dump given");
    /* SARIF paths are relative to the root as the file system names it */
    if (fmt == FMT_SARIF && (root_abs = realpath(source_root, NULL)) == NULL) {
        print_error("--source-root: cannot resolve '%s': %s", source_root, strerror(errno));
        free(supp_files);
        return LK_EXIT_INPUT;
    }

    FILE *out = stdout;
    if (output != NULL && (out = fopen(output, "w")) == NULL) {
        print_error("cannot open '%s': %s", output, strerror(errno));
        free(supp_files);
        return LK_EXIT_INPUT;
    }
    /* https://no-color.org: a non-empty NO_COLOR turns auto off */
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    opt.color = strcmp(color, "always") == 0
                || (strcmp(color, "auto") == 0 && isatty(fileno(out))
                    && (nc == NULL || *nc == '\0') && (term == NULL || strcmp(term, "dumb") != 0));
    lk_progress_start();
    lk_symbolizer_t *sym = lk_symbolizer_new(stderr);
    lk_input_t in = { 0 };
    lk_report_t r = { 0 };
    lk_base_t base = { 0 };
    char err[512] = "";
    if (sym == NULL) {
        print_error("out of memory");
        rc = LK_EXIT_INPUT;
        goto out;
    }
    if (diff) {
        rc = run_diff(out, argv + optind, argc - optind, sym, &opt);
        goto out;
    }

    rc = LK_EXIT_INPUT;
    for (int i = optind; i < argc; i++)
        if (lk_load_path(&in, argv[i], err, sizeof(err)) < 0)
            goto out_err;
    if (lk_input_group(&in, err, sizeof(err)) < 0)
        goto out_err;
    phase_time("load");
    lk_progress_phase("symbolizing leak sites");
    for (size_t i = 0; i < nsupp_files; i++)
        if (lk_supp_load(&r.supps, supp_files[i], err, sizeof(err)) < 0)
            goto out_err;
    if (opt.builtin_suppressions && lk_supp_add_builtins(&r.supps) < 0)
        goto out_nomem;
    if (lk_leaks_collect(&r, &in, sym, &opt) < 0)
        goto out_nomem;
    phase_time("leaks (symbolize, trim, suppress)");
    lk_progress_phase("growth and reachability");
    if (lk_growth_run(&r, &in, sym) < 0)
        goto out_nomem;
    if (lk_overflow_run(&r, &in, sym) < 0)    /* the verdict reads growth's trends */
        goto out_nomem;
    if (lk_reach_collect(&r, &in, sym) < 0)   /* after growth: it marks held sites that grow */
        goto out_nomem;
    if (opt.baseline != NULL) {
        if (lk_base_load(&base, opt.baseline, sym, &opt, err, sizeof(err)) < 0)
            goto out_err;
        lk_base_apply(&r, &base);
    }
    rc = lk_leaks_gate(&r, &opt);
    phase_time("later passes, baseline, gate");
    lk_progress_end();

    int wrc;
    if (opt.gen_suppressions)
        wrc = lk_report_suppressions(out, &r, &opt);
    else if (fmt == FMT_JSON)
        wrc = lk_report_json(out, &r, &opt);
    else if (fmt == FMT_FOLDED)
        wrc = lk_report_folded(out, &r, &opt);
    else if (fmt == FMT_SVG)
        wrc = lk_report_svg(out, &r);
    else if (fmt == FMT_VGXML)
        wrc = lk_report_vgxml(out, &r, &opt, &in);
    else if (fmt == FMT_LSAN)
        wrc = lk_report_lsan(out, &r, &opt);
    else if (fmt == FMT_SARIF)
        wrc = lk_report_sarif(out, &r, &opt, root_abs);
    else if (fmt == FMT_JUNIT)
        wrc = lk_report_junit(out, &r, &opt);
    else if (fmt == FMT_HTML)
        wrc = lk_report_html(out, &r, &opt, &in, sym);
    else
        wrc = lk_report_text(out, &r, &opt);
    if (wrc == 0 && chart != NULL) {   /* --chart: the SVG next to the report */
        FILE *cf = fopen(chart, "w");
        int crc = cf != NULL ? lk_report_svg(cf, &r) : -errno;
        if (cf != NULL && fclose(cf) != 0 && crc == 0)
            crc = -errno;
        if (crc < 0) {
            print_error("cannot write '%s': %s", chart, strerror(-crc));
            rc = LK_EXIT_INPUT;
        }
    }
    if (wrc == 0 && html != NULL) {   /* one run, so one analysis and one gate line */
        FILE *hf = fopen(html, "w");
        int hrc = hf != NULL ? lk_report_html(hf, &r, &opt, &in, sym) : -errno;
        if (hf != NULL && fclose(hf) != 0 && hrc == 0)
            hrc = -errno;
        if (hrc < 0) {
            print_error("cannot write '%s': %s", html, strerror(-hrc));
            rc = LK_EXIT_INPUT;
        }
    }
    phase_time("report");
    if (wrc < 0) {
        print_error("cannot write the report: %s", strerror(-wrc));
        rc = LK_EXIT_INPUT;
    } else if (r.gate_failed) {
        print_error("leak gate failed: %s", r.gate_reason);
    }
    goto out;

out_nomem:
    snprintf(err, sizeof(err), "out of memory");
out_err:
    print_error("%s", err);
    rc = LK_EXIT_INPUT;
out:
    lk_progress_end();
    lk_base_free(&base);
    lk_growth_free(&r);
    lk_report_free(&r);
    lk_input_free(&in);
    lk_symbolizer_free(sym);
    free(supp_files);
    free(root_abs);
    if (out != stdout && fclose(out) != 0 && rc != LK_EXIT_INPUT) {
        print_error("cannot write '%s': %s", output, strerror(errno));
        rc = LK_EXIT_INPUT;
    }
    return rc;
}
