#!/bin/sh
# bench.sh - time leak-analyze on a synthetic dump of N leak sites (default
# 100000) whose frames are real code addresses in libc and in the victim
# binary, so libdw really symbolizes them.  Prints wall times; asserts
# nothing (see analyzer/README.md for results).
#   sh analyzer/bench.sh [BUILD_DIR] [SITES]
set -eu
build=${1:-${BUILD:-build}}
sites=${2:-100000}
la=$build/leak-analyze
exe=$(cd "$build/victims" && pwd)/an_selfdump
[ -x "$la" ] && [ -x "$exe" ] || { echo "bench.sh: build $la and $exe first" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lk-bench-XXXXXX")
[ -n "${KEEP:-}" ] && echo "keeping $tmp" >&2 || trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp/libleak.1.0.exit.json" "$sites" "$exe" <<'PY'
import json, random, subprocess, sys
out, n, exe = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(42)
libc = "/lib/x86_64-linux-gnu/libc.so.6"
def text_range(path):
    for line in subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout.splitlines():
        f = line.replace("[ ", "[").split()
        if len(f) > 5 and f[1] == ".text":
            return int(f[3], 16), int(f[5], 16)
    raise SystemExit("no .text in " + path)
def build_id(path):
    for line in subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout.splitlines():
        if "Build ID:" in line:
            return line.split()[-1]
    return None
mods = [(exe, 0x555555554000), (libc, 0x7ffff7d80000)]
ranges = []
for path, base in mods:
    lo, size = text_range(path)
    ranges.append((base + lo, size))
# Realistic sharing: innermost frames vary most, outer frames repeat.
pool_inner = [ranges[1][0] + random.randrange(ranges[1][1]) for _ in range(20000)]
pool_mid = [ranges[1][0] + random.randrange(ranges[1][1]) for _ in range(4000)]
pool_outer = [ranges[0][0] + random.randrange(ranges[0][1]) for _ in range(200)]
stacks, sitesl = [], []
for i in range(n):
    frames = [random.choice(pool_inner)] + [random.choice(pool_mid) for _ in range(5)] + \
             [random.choice(pool_outer) for _ in range(4)]
    stacks.append({"id": i + 1, "frames": ["0x%x" % f for f in frames], "truncated": False})
    b = random.randrange(1, 5000)
    sitesl.append({"stack": i + 1, "family": "malloc", "live_blocks": 1, "live_bytes": b,
                   "total_blocks": 1, "total_bytes": b, "freed_blocks": 0})
dump = {"format": "libleak-dump", "version": 1, "process": {"pid": 1, "exe": exe},
        "dump": {"seq": 0, "trigger": "exit"},
        "modules": [{"path": p, "base": "0x%x" % b, "size": 0x400000 if p == exe else 0x200000,
                     "build_id": build_id(p)} for p, b in mods],
        "stacks": stacks, "sites": sitesl}
json.dump(dump, open(out, "w"))
PY
echo "synthetic dump: $sites sites, $(du -h "$tmp/libleak.1.0.exit.json" | cut -f1)"
for fmt in text json folded; do
    start=$(date +%s.%N)
    "$la" --format=$fmt "$tmp" > "$tmp/out.$fmt" 2>"$tmp/err"
    end=$(date +%s.%N)
    echo "leak-analyze --format=$fmt: $(echo "$end - $start" | bc) s, $(wc -l < "$tmp/out.$fmt") lines"
done
tail -n 1 "$tmp/out.text"

# ### anchor: a real program with 2^17 distinct leak sites, under libleak
# and under heaptrack (if installed), each with its own analyzer.
cat > "$tmp/sites.c" <<'C'
#include <stdlib.h>
#define NOINL __attribute__((noinline))
static void *volatile sink;
NOINL static void leaf(void) { sink = malloc(16); }
NOINL static void b0(int d, unsigned bits);
NOINL static void b1(int d, unsigned bits);
static inline __attribute__((always_inline)) void step(int d, unsigned bits)
{
    if (d == 0) leaf();
    else if (bits & 1) b1(d - 1, bits >> 1);
    else b0(d - 1, bits >> 1);
}
/* the empty asm after the call keeps it from becoming a tail call */
NOINL static void b0(int d, unsigned bits) { step(d, bits); __asm__ volatile(""); }
NOINL static void b1(int d, unsigned bits) { step(d, bits); __asm__ volatile(""); }
int main(void) { for (unsigned i = 0; i < (1u << 17); i++) step(17, i); return 0; }
C
cc -g -O1 -fno-omit-frame-pointer -o "$tmp/sites" "$tmp/sites.c"
so=$(cd "$build" && pwd)/libleak.so
if [ -f "$so" ]; then
    mkdir -p "$tmp/ll"
    LIBLEAK_DIR="$tmp/ll" LD_PRELOAD="$so" "$tmp/sites"
    start=$(date +%s.%N)
    "$la" "$tmp/ll" > "$tmp/ll.txt" 2>&1
    end=$(date +%s.%N)
    echo "libleak: 131072 sites: leak-analyze (text): $(echo "$end - $start" | bc) s; $(tail -n 1 "$tmp/ll.txt")"
fi
if command -v heaptrack >/dev/null 2>&1 && command -v heaptrack_print >/dev/null 2>&1; then
    (cd "$tmp" && heaptrack -o "$tmp/ht" "$tmp/sites" >/dev/null 2>&1)
    ht=$(ls "$tmp"/ht*.zst "$tmp"/ht*.gz 2>/dev/null | head -n 1)
    if [ -n "$ht" ]; then
        start=$(date +%s.%N)
        heaptrack_print -f "$ht" -l 1 > "$tmp/ht.txt" 2>&1
        end=$(date +%s.%N)
        echo "heaptrack: 131072 sites: heaptrack_print --print-leaks: $(echo "$end - $start" | bc) s; $(grep -m1 'leaked' "$tmp/ht.txt")"
    fi
fi
