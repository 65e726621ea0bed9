# libleak - one non-recursive Makefile for the preload, the analyzer, tests,
# demo and benchmarks.  New source files are picked up by wildcard, so adding
# preload/foo.c or tests/unit/check_foo.c needs no edit here.
#
#   make                      build/libleak.so and build/leak-analyze
#   make check                every test (unit, end-to-end, real programs)
#   make soak                 real programs and stress victims under the preload
#   make demo                 run the demo program under the wrapper
#   make bench                benchmarks against heaptrack, LSan, memcheck
#   make fuzz                 libFuzzer targets: dumps, suppressions, baselines, SVG
#   make install PREFIX=...   install the preload, analyzer, wrapper, header, man pages
#   make uninstall PREFIX=... remove what make install put there
#   make SANITIZER=address|undefined   analyzer and unit tests under a sanitizer
#   make WERROR=1             warnings are errors (CI)

# The first rule below is the deps stamp's; plain `make` means `all`.
.DEFAULT_GOAL := all

CC      ?= gcc
CXX     ?= g++
BUILD   ?= build
PREFIX  ?= /usr/local
OPT     ?= -O2
DEBUG   ?= -g
SANITIZER ?=

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef \
       -Wpointer-arith -Wsign-compare -Wformat=2
ifeq ($(WERROR),1)
WARN += -Werror
endif

# User CFLAGS add to ours, never replace them (Redis).
FINAL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Iinclude $(WARN) $(OPT) $(DEBUG) $(CFLAGS)

ifeq ($(SANITIZER),)
SAN_FLAGS =
else ifeq ($(SANITIZER),address)
SAN_FLAGS = -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(SANITIZER),undefined)
SAN_FLAGS = -fsanitize=undefined -fno-sanitize-recover=all
else ifeq ($(SANITIZER),thread)
SAN_FLAGS = -fsanitize=thread
else
$(error SANITIZER must be address, undefined or thread, not '$(SANITIZER)')
endif

# ### dependencies
# tools/deps.sh installs missing Debian packages.  Library flags come from
# pkg-config through recursively expanded variables, evaluated only inside
# recipes, i.e. after the deps stamp has been made.
DEPS_STAMP = $(BUILD)/.deps-build
TEST_DEPS_STAMP = $(BUILD)/.deps-test
$(DEPS_STAMP): tools/deps.sh
	@mkdir -p $(BUILD)
	@sh tools/deps.sh build
	@touch $@
$(TEST_DEPS_STAMP): tools/deps.sh
	@mkdir -p $(BUILD)
	@sh tools/deps.sh test
	@touch $@

UNWIND_LIBS  = $(shell pkg-config --libs libunwind)
JANSSON_LIBS = $(shell pkg-config --libs jansson)
DW_LIBS      = $(shell pkg-config --libs libdw) -lelf
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

# ### preload: build/libleak.so
# hooks.c holds the interposed symbols; everything else is the tracker core,
# which unit tests link directly (without LD_PRELOAD) as libleak-core.a.
PRELOAD_SRCS  = $(wildcard preload/*.c)
PRELOAD_CORE  = $(filter-out preload/hooks.c,$(PRELOAD_SRCS))
PRELOAD_OBJS  = $(patsubst preload/%.c,$(BUILD)/obj/preload/%.o,$(PRELOAD_SRCS))
PRELOAD_TOBJS = $(patsubst preload/%.c,$(BUILD)/obj/preload-test/%.o,$(PRELOAD_CORE))
# -fno-builtin-*: bootstrap code must not be turned back into calls to our own
# hooks.  -fexceptions: a C++ bad_alloc may unwind through the new/delete hooks.
PRELOAD_CFLAGS = -fPIC -fvisibility=hidden -ftls-model=initial-exec \
    -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
    -fexceptions -fno-omit-frame-pointer -pthread -Ipreload
# libleak.so only (not the unit-test archive): link-time optimisation inlines
# the hot path across hooks.c, stack.c, tracker.c and table.c (its gain is in
# preload/README.md's measurements).
PRELOAD_LTO = -flto=auto

# ### analyzer: build/leak-analyze
ANALYZER_SRCS = $(wildcard analyzer/*.c)
ANALYZER_CORE = $(filter-out analyzer/main.c,$(ANALYZER_SRCS))
ANALYZER_OBJS = $(patsubst analyzer/%.c,$(BUILD)/obj/analyzer/%.o,$(ANALYZER_SRCS))
ANALYZER_CORE_OBJS = $(patsubst analyzer/%.c,$(BUILD)/obj/analyzer/%.o,$(ANALYZER_CORE))
ANALYZER_CFLAGS = -Ianalyzer $(SAN_FLAGS)
# The HTML report's page, script and style (analyzer/html/) as C strings.
HTML_ASSETS = analyzer/html/template.html analyzer/html/report.js analyzer/html/report.css
HTML_GEN    = $(BUILD)/gen/html_assets.c
ANALYZER_OBJS      += $(BUILD)/obj/gen/html_assets.o
ANALYZER_CORE_OBJS += $(BUILD)/obj/gen/html_assets.o

# ### tests
UNIT_SRCS  = $(wildcard tests/unit/check_*.c)
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
# What the unit suites share (tests/unit/helpers_*.c), compiled once; an
# archive, so that a suite links only the helpers of the side it tests.
UNIT_HELPER_OBJS = $(patsubst tests/unit/%.c,$(BUILD)/obj/tests/unit/%.o,$(wildcard tests/unit/helpers_*.c))
UNIT_HELPERS = $(BUILD)/tests-unit-helpers.a
E2E_SRCS   = $(wildcard tests/integration/check_*.c)
E2E_BINS   = $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(E2E_SRCS))
# The end-to-end harness, compiled once and linked into every e2e suite.
E2E_HELPER = $(BUILD)/obj/tests/preload_helpers.o
VICTIM_C   = $(wildcard tests/integration/victims/*.c)
VICTIM_CXX = $(wildcard tests/integration/victims/*.cc)
VICTIMS    = $(patsubst tests/integration/victims/%.c,$(BUILD)/victims/%,$(VICTIM_C)) \
             $(patsubst tests/integration/victims/%.cc,$(BUILD)/victims/%,$(VICTIM_CXX))
# Victims keep exact lines: -O0 with frame pointers, except *_nofp, which is
# optimised without them so that only DWARF unwinding can reach main.
VICTIM_FLAGS = -g -O0 -fno-omit-frame-pointer -pthread -Iinclude
VICTIM_NOFP_FLAGS = -g -O2 -fomit-frame-pointer -fno-inline -pthread -Iinclude
# dlclose_loop's library (victims/lib/ holds libraries, not programs)
VICTIMS   += $(BUILD)/victims/libdlleak.so

# ### demo and bench programs
DEMO_SRCS  = $(wildcard demo/*.c)
DEMO_BINS  = $(patsubst demo/%.c,$(BUILD)/demo/%,$(DEMO_SRCS))
BENCH_SRCS = $(wildcard tools/bench/*.c)
BENCH_BINS = $(patsubst tools/bench/%.c,$(BUILD)/bench/%_fp,$(BENCH_SRCS)) \
             $(patsubst tools/bench/%.c,$(BUILD)/bench/%_nofp,$(BENCH_SRCS))

.PHONY: all check unit e2e demo bench fuzz install clean deps
all: $(BUILD)/libleak.so $(BUILD)/leak-analyze

deps: $(DEPS_STAMP) $(TEST_DEPS_STAMP)

$(BUILD)/obj/preload/%.o: preload/%.c $(wildcard preload/*.h preload/*.def) $(wildcard include/*.h include/libleak/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(PRELOAD_CFLAGS) $(PRELOAD_LTO) -c $< -o $@

$(BUILD)/obj/preload-test/%.o: preload/%.c $(wildcard preload/*.h preload/*.def) $(wildcard include/*.h include/libleak/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(PRELOAD_CFLAGS) -DLK_TESTING $(SAN_FLAGS) -c $< -o $@

$(BUILD)/libleak.so: $(PRELOAD_OBJS) preload/libleak.map
	$(CC) $(OPT) $(DEBUG) $(PRELOAD_LTO) -shared -o $@ $(PRELOAD_OBJS) -Wl,-z,defs -Wl,--version-script=preload/libleak.map \
	    -pthread -ldl

$(BUILD)/libleak-core.a: $(PRELOAD_TOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/analyzer/%.o: analyzer/%.c $(wildcard analyzer/*.h) $(wildcard include/libleak/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) $(ANALYZER_CFLAGS) -c $< -o $@

$(HTML_GEN): $(HTML_ASSETS) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh $(HTML_ASSETS) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/html_assets.o: $(HTML_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -c $< -o $@

$(BUILD)/analyzer-core.a: $(ANALYZER_CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/leak-analyze: $(ANALYZER_OBJS)
	$(CC) $(SAN_FLAGS) -o $@ $(ANALYZER_OBJS) $(DW_LIBS) $(JANSSON_LIBS) -lm

# Each tests/unit/check_X.c is its own Check binary (no shared runner to edit).
$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c $(wildcard tests/unit/*.h preload/*.h analyzer/*.h include/libleak/*.h) | $(TEST_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -Ipreload -Ianalyzer -Itests/unit -DLK_TESTING $(CHECK_CFLAGS) $(SAN_FLAGS) -pthread -c $< -o $@

$(UNIT_HELPERS): $(UNIT_HELPER_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/check_%: tests/unit/check_%.c $(wildcard tests/unit/*.h) $(UNIT_HELPERS) $(BUILD)/libleak-core.a $(BUILD)/analyzer-core.a | $(TEST_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -Ipreload -Ianalyzer -Itests/unit -DLK_TESTING $(CHECK_CFLAGS) $(SAN_FLAGS) -pthread \
	    -o $@ $< $(UNIT_HELPERS) $(BUILD)/libleak-core.a $(BUILD)/analyzer-core.a \
	    $(CHECK_LIBS) $(UNWIND_LIBS) $(JANSSON_LIBS) $(DW_LIBS) -ldl -lm

$(E2E_HELPER): tests/integration/preload_helpers.c tests/integration/preload_helpers.h tests/unit/testhelper.h $(wildcard include/libleak/*.h) | $(TEST_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -Itests/unit -Itests/integration $(CHECK_CFLAGS) $(SAN_FLAGS) -pthread -c $< -o $@

$(BUILD)/tests/check_%: tests/integration/check_%.c tests/unit/testhelper.h $(wildcard tests/integration/*.h) $(E2E_HELPER) $(BUILD)/analyzer-core.a | $(TEST_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(FINAL_CFLAGS) -Ianalyzer -Itests/unit -Itests/integration $(CHECK_CFLAGS) $(SAN_FLAGS) -pthread \
	    -o $@ $< $(E2E_HELPER) $(BUILD)/analyzer-core.a $(CHECK_LIBS) $(JANSSON_LIBS) $(DW_LIBS) -lm

# pl_gapped: holes between the program's segments (as Debian's make and node)
$(BUILD)/victims/pl_gapped: VICTIM_FLAGS += -Wl,-z,separate-code -Wl,-z,max-page-size=65536
$(BUILD)/victims/%_nofp: tests/integration/victims/%_nofp.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_NOFP_FLAGS) -o $@ $<
$(BUILD)/victims/%: tests/integration/victims/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_FLAGS) -o $@ $<
$(BUILD)/victims/%: tests/integration/victims/%.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(VICTIM_FLAGS) -o $@ $<
$(BUILD)/victims/libdlleak.so: tests/integration/victims/lib/dlleak.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(VICTIM_FLAGS) -fPIC -shared -o $@ $<

$(BUILD)/demo/%: demo/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -g -O0 -fno-omit-frame-pointer -Iinclude -pthread -o $@ $<

$(BUILD)/bench/%_fp: tools/bench/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -g -O2 -fno-omit-frame-pointer -pthread -o $@ $<
$(BUILD)/bench/%_nofp: tools/bench/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -g -O2 -fomit-frame-pointer -pthread -o $@ $<

unit: $(UNIT_BINS)
e2e: all $(E2E_BINS) $(VICTIMS) $(DEMO_BINS)

# tests/run.sh runs every test binary and script and ends with one
# "N passed, N failed" line; its exit status is make check's.
check: $(TEST_DEPS_STAMP) all $(UNIT_BINS) $(E2E_BINS) $(VICTIMS) $(DEMO_BINS)
	@sh tools/deps.sh soak
	@BUILD=$(BUILD) sh tests/run.sh

# The soak (tests/soak): real programs natively and under the preload, one
# line per case; make check runs it too, through tests/run.sh.
.PHONY: soak
soak: $(TEST_DEPS_STAMP) all $(VICTIMS)
	@sh tools/deps.sh soak
	@BUILD=$(BUILD) sh tests/soak/run.sh

demo: all $(DEMO_BINS)
	@sh tools/demo.sh $(BUILD)

# The growth demo: a leak that runs out of memory, then a program
# that survives one oversized request; the two verdicts tell them apart.
.PHONY: demo-growth
demo-growth: all $(BUILD)/demo/grow_until_oom $(BUILD)/demo/oversized
	-LIBLEAK_INTERVAL_MS=100 BUILD=$(BUILD) tools/libleak --html $(BUILD)/demo/report-grow_until_oom.html -- $(BUILD)/demo/grow_until_oom
	LIBLEAK_INTERVAL_MS=100 BUILD=$(BUILD) tools/libleak --html $(BUILD)/demo/report-oversized.html -- $(BUILD)/demo/oversized

bench: all $(BENCH_BINS)
	@sh tools/deps.sh bench
	@BUILD=$(BUILD) sh tools/bench/run.sh

# One libFuzzer target per input surface (tests/fuzz/fuzz_T.c), each run for
# FUZZ_SECONDS on its seeds: dumps (load, svg), suppressions, baselines.
FUZZ_TARGETS = load supp baseline svg
fuzz: $(HTML_GEN) | $(DEPS_STAMP)
	@sh tools/deps.sh fuzz
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus_$$t || exit 1; \
	    clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Ianalyzer -fsanitize=fuzzer,address \
	        -o $(BUILD)/fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c $(ANALYZER_CORE) $(HTML_GEN) $(DW_LIBS) \
	        $(JANSSON_LIBS) -ldl -lm || exit 1; \
	    case $$t in supp) seeds=tests/fuzz/corpus_supp ;; baseline) seeds=tests/fuzz/corpus_baseline ;; \
	        *) seeds=tests/fuzz/corpus ;; esac; \
	    echo "fuzz_$$t: $${FUZZ_SECONDS:-60} s"; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$${FUZZ_SECONDS:-60} -timeout=10 -max_len=65536 \
	        -print_final_stats=1 $(BUILD)/fuzz/corpus_$$t $$seeds 2>$(BUILD)/fuzz/fuzz_$$t.log \
	        || { tail -n 30 $(BUILD)/fuzz/fuzz_$$t.log; exit 1; }; \
	    grep -E "stat::number_of_executed_units|Done" $(BUILD)/fuzz/fuzz_$$t.log; \
	done

# libleak(7) is generated from preload/config.def, so it cannot drift from
# the settings the preload parses.
LK_VERSION = $(shell sed -n 's/^\#define LIBLEAK_TOOL_VERSION "\(.*\)"/\1/p' include/libleak/dump.h)
all: $(BUILD)/man/libleak.7
$(BUILD)/man/libleak.7: preload/config.def tools/gen-man7.sh include/libleak/dump.h
	@mkdir -p $(dir $@)
	sh tools/gen-man7.sh preload/config.def $(LK_VERSION) > $@.tmp && mv $@.tmp $@

# The preload goes to lib/libleak/, not lib/, so that -lleak cannot link it
# into a program by mistake; the installed wrapper knows where it is.
.PHONY: uninstall
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/libleak $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/libleak \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7 \
	    $(DESTDIR)$(PREFIX)/share/pkgconfig $(DESTDIR)$(PREFIX)/share/doc/libleak
	install -m 0755 $(BUILD)/libleak.so $(DESTDIR)$(PREFIX)/lib/libleak/libleak.so
	install -m 0755 $(BUILD)/leak-analyze $(DESTDIR)$(PREFIX)/bin/leak-analyze
	sed 's|^LIBLEAK_SO_DEFAULT=.*|LIBLEAK_SO_DEFAULT=$(PREFIX)/lib/libleak/libleak.so|; s|^ANALYZE_DEFAULT=.*|ANALYZE_DEFAULT=$(PREFIX)/bin/leak-analyze|' \
	    tools/libleak > $(DESTDIR)$(PREFIX)/bin/libleak
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/libleak
	install -m 0644 include/libleak.h $(DESTDIR)$(PREFIX)/include/libleak.h
	install -m 0644 include/libleak/dump.h $(DESTDIR)$(PREFIX)/include/libleak/dump.h
	sed 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(LK_VERSION)|' libleak.pc.in > $(DESTDIR)$(PREFIX)/share/pkgconfig/libleak.pc
	chmod 0644 $(DESTDIR)$(PREFIX)/share/pkgconfig/libleak.pc
	install -m 0644 docs/leak-analyze.1 docs/libleak.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(BUILD)/man/libleak.7 $(DESTDIR)$(PREFIX)/share/man/man7/libleak.7
	install -m 0644 docs/FORMAT.md $(DESTDIR)$(PREFIX)/share/doc/libleak/FORMAT.md

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libleak/libleak.so $(DESTDIR)$(PREFIX)/bin/leak-analyze \
	    $(DESTDIR)$(PREFIX)/bin/libleak $(DESTDIR)$(PREFIX)/include/libleak.h \
	    $(DESTDIR)$(PREFIX)/include/libleak/dump.h $(DESTDIR)$(PREFIX)/share/pkgconfig/libleak.pc \
	    $(DESTDIR)$(PREFIX)/share/man/man1/leak-analyze.1 $(DESTDIR)$(PREFIX)/share/man/man1/libleak.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man7/libleak.7 $(DESTDIR)$(PREFIX)/share/doc/libleak/FORMAT.md
	-rmdir $(DESTDIR)$(PREFIX)/lib/libleak $(DESTDIR)$(PREFIX)/include/libleak \
	    $(DESTDIR)$(PREFIX)/share/doc/libleak 2>/dev/null

clean:
	rm -rf $(BUILD)
