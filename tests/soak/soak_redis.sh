#!/bin/sh
# soak_redis: Debian's redis-server on 127.0.0.1 and a free port, without
# persistence (--save ''), loaded by redis-benchmark -n 100000 -c 50 -q, then
# stopped by redis-cli shutdown nosave; natively, then under the preload
# (the server only: the clients run natively).  Under the preload a SIGUSR1
# mid-load takes a snapshot; natively SIGUSR1 would kill redis, so it is not
# sent.  The server's exit status and what redis-cli reads back after the
# load must agree; the server's dumps (the snapshot and the exit dump) must
# land in LIBLEAK_DIR, redis rewriting its process title notwithstanding,
# and load.  Throughput is reported here and in make bench, never asserted.
. tests/soak/lib.sh
soak_init redis
soak_need redis-server redis-benchmark redis-cli
srv=""
trap '[ -n "$srv" ] && kill -KILL "$srv" 2>/dev/null; [ -z "${LIBLEAK_TEST_KEEP:-}" ] && rm -rf "$SK_TMP"' EXIT

# free_port: a port nothing listens on now, on 127.0.0.1.
free_port() {
    "$SK_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# gone PID: true once PID has exited (a zombie counts as exited).
gone() {
    [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# session DIR [preload]: one server's life; sets rc (the server's exit
# status, 124 when it had to be killed) and writes DIR.out (what the client
# read back) and DIR.bench (the benchmark's lines).
session() {
    dir=$1; rm -rf "$dir"; mkdir -p "$dir"
    port=$(free_port)
    cli="timeout 30 redis-cli -h 127.0.0.1 -p $port"
    if [ "${2:-}" = preload ]; then
        env LD_PRELOAD="$SK_SO" LIBLEAK_DIR="$SK_DUMPS" redis-server --bind 127.0.0.1 \
            --port "$port" --save '' --appendonly no --dir "$dir" </dev/null >"$dir.log" 2>&1 &
    else
        redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
            </dev/null >"$dir.log" 2>&1 &
    fi
    srv=$!
    i=0
    until [ "$($cli ping 2>/dev/null)" = PONG ]; do
        i=$((i + 1))
        if [ $i -gt 300 ] || gone "$srv"; then
            soak_fail "redis-server did not answer on port $port: $(tail -n 3 "$dir.log" | tr '\n' ' ')"
            kill -KILL "$srv" 2>/dev/null; wait "$srv"; srv=""; rc=1; return
        fi
        sleep 0.1
    done
    timeout -k 5 600 redis-benchmark -h 127.0.0.1 -p "$port" -n 100000 -c 50 -q \
        </dev/null >"$dir.bench.raw" 2>&1 &
    bench=$!
    if [ "${2:-}" = preload ]; then
        sleep 2
        kill -USR1 "$srv" || soak_fail "cannot signal redis-server"
    fi
    wait "$bench" || soak_fail "redis-benchmark exit $? ($(tail -n 1 "$dir.bench.raw"))"
    # the benchmark redraws its progress with carriage returns
    tr '\r' '\n' <"$dir.bench.raw" | grep 'requests per second' >"$dir.bench"
    { $cli dbsize; $cli get key:__rand_int__; $cli llen mylist; $cli scard myset; } >"$dir.out" 2>&1
    $cli shutdown nosave >/dev/null 2>&1
    i=0
    until gone "$srv"; do
        i=$((i + 1))
        if [ $i -gt 600 ]; then
            soak_fail "redis-server still runs 60 s after shutdown nosave"
            kill -KILL "$srv"
            break
        fi
        sleep 0.1
    done
    wait "$srv"; rc=$?
    srv_pid=$srv; srv=""
}

rm -rf "$SK_DUMPS"; mkdir -p "$SK_DUMPS"
s=$(soak_now); session "$SK_TMP/native"; e=$(soak_now)
native_rc=$rc; native_s=$(soak_secs "$s" "$e")
s=$(soak_now); session "$SK_TMP/preload" preload; e=$(soak_now)
pre_rc=$rc; pre_s=$(soak_secs "$s" "$e")
soak_report "$native_rc" "$pre_rc" "$native_s" "$pre_s" 600
SK_STATUS=$native_rc
soak_expect_status 0
for m in native preload; do
    echo "throughput $m (requests/s): $(sed -n 's/^\([A-Z_0-9]*\)[^:]*: \([0-9.]*\) requests per second.*/\1 \2/p' "$SK_TMP/$m.bench" | tr '\n' ' ')"
done
# a dump renamed outside LIBLEAK_DIR (redis moved its environment) is ours: report, then remove it
for f in /libleak."$srv_pid".*.json "$SK_TMP"/preload/libleak."$srv_pid".*.json; do
    [ -e "$f" ] || continue
    soak_fail "a redis dump landed outside LIBLEAK_DIR: $f"
    rm -f "$f"
done
soak_dumps
"$SK_PY" - "$SK_DUMPS" "$srv_pid" <<'PY' || soak_failed=1
import json, os, sys
d, pid = sys.argv[1], int(sys.argv[2])
t = []
for n in os.listdir(d):
    try:
        j = json.load(open(os.path.join(d, n)))
    except ValueError:
        continue
    if j["process"]["pid"] == pid:
        t.append(j["dump"]["trigger"])
print("redis-server dumps: %s" % (" ".join(sorted(t)) or "none"))
for want in ("signal", "exit"):
    if want not in t:
        print("FAIL: no %s dump from redis-server (pid %d) in LIBLEAK_DIR" % (want, pid))
        sys.exit(1)
PY
soak_end
