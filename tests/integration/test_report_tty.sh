#!/bin/sh
# test_report_tty.sh - the text report's terminal behaviour: color on a
# terminal only (not piped, not with NO_COLOR), --color=always|never and a
# bad value, and the progress line on stderr only when stderr is a terminal,
# cleared at the end.  A pty from python3 stands in for the terminal.
set -u
BUILD=${BUILD:-build}
LA=$BUILD/leak-analyze
V=$BUILD/victims/an_selfdump
[ -x "$LA" ] && [ -x "$V" ] || { echo "FAIL: build $LA and $V first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lk-report-tty-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ESC=$(printf '\033')
has_esc() { grep -q "$ESC" "$1"; }

# on_tty out|err FILE CMD...: run CMD with its stdout (or stderr) on a pty,
# the pty's bytes to FILE, the other stream to $T/other; bounded to 20 s.
on_tty() {
    which=$1 file=$2; shift 2
    python3 - "$which" "$file" "$T/other" "$@" <<'PY'
import os, pty, select, subprocess, sys, time
which, path, other = sys.argv[1:4]
master, slave = pty.openpty()
with open(other, "wb") as o:
    kw = {"stdout": slave, "stderr": o} if which == "out" else {"stdout": o, "stderr": slave}
    p = subprocess.Popen(sys.argv[4:], stdin=subprocess.DEVNULL, **kw)
    os.close(slave)
    data, end = b"", time.time() + 20
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            data += chunk
        elif p.poll() is not None:
            break
    if p.poll() is None:
        p.kill()
    p.wait()
open(path, "wb").write(data)
sys.exit(p.returncode)
PY
}

"$V" "$T/d.json" || { echo "FAIL: victim" >&2; exit 1; }

# ### color
"$LA" "$T/d.json" >"$T/piped" 2>&1
has_esc "$T/piped" && fail "color when piped"
grep -q "^SUMMARY: libleak: 4075 byte(s) leaked in 4 allocation(s)\.$" "$T/piped" \
    || fail "SUMMARY line changed"
on_tty out "$T/tty" env -u NO_COLOR TERM=xterm "$LA" "$T/d.json"
has_esc "$T/tty" || fail "no color on a terminal"
grep -q "Unfreed: 4011" "$T/tty" || fail "no report on the terminal: $(head -c 300 "$T/tty")"
on_tty out "$T/nocolor" env NO_COLOR=1 TERM=xterm "$LA" "$T/d.json"
has_esc "$T/nocolor" && fail "color with NO_COLOR set"
grep -q "Unfreed: 4011" "$T/nocolor" || fail "no report with NO_COLOR"
on_tty out "$T/never" env -u NO_COLOR TERM=xterm "$LA" --color=never "$T/d.json"
has_esc "$T/never" && fail "color with --color=never"
NO_COLOR=1 "$LA" --color=always "$T/d.json" >"$T/always" 2>/dev/null
has_esc "$T/always" || fail "no color with --color=always"
"$LA" --color=sometimes "$T/d.json" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--color=sometimes: exit $rc, want 2"
[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "--color" "$T/err" || fail "--color=sometimes: $(cat "$T/err")"
[ -s "$T/out" ] && fail "--color=sometimes printed a report"

# ### progress line (the test knob shows it at once instead of after 1 s)
LEAK_ANALYZE_PROGRESS_MS=0 "$LA" "$T/d.json" >"$T/out" 2>"$T/err"
[ -s "$T/err" ] && fail "progress line on a piped stderr: $(cat -v "$T/err")"
LEAK_ANALYZE_PROGRESS_MS=0 on_tty err "$T/prog" "$LA" "$T/d.json"
grep -q "leak-analyze: .*\.\.\." "$T/prog" || fail "no progress line on a terminal: $(cat -v "$T/prog")"
# the last bytes clear the line
[ "$(tail -c 4 "$T/prog" | od -An -c | tr -d ' \n')" = '\r033[K' ] \
    || fail "progress line not cleared: $(tail -c 20 "$T/prog" | od -An -c)"
has_esc "$T/other" && fail "progress or color in the piped report"
grep -q "^SUMMARY: libleak: 4075" "$T/other" || fail "report missing with the progress line"

[ "$fails" -eq 0 ] || exit 1
echo "ok"
