#!/bin/sh
# test_real_sqlite: sqlite3 with a few queries on a file database (create,
# a 5000-row recursive insert, an index, aggregates, a join) under the
# preload: same exit status and stdout as without it, and a valid dump.
# A second session ends with a failing statement: the same non-zero status.
. tests/integration/lib.sh
lk_init real_sqlite
command -v sqlite3 >/dev/null || lk_fail "sqlite3 missing (tools/deps.sh test)"

cat >"$LK_TMP/q.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO t(k, v) SELECT printf('k%03d', i % 250), i * 7 % 1009 FROM n;
CREATE INDEX t_k ON t(k);
SELECT count(*), sum(v), min(k), max(k) FROM t;
SELECT k, count(*), sum(v) FROM t GROUP BY k ORDER BY sum(v) DESC LIMIT 3;
CREATE TABLE u AS SELECT DISTINCT k, length(k) AS n FROM t;
SELECT count(*) FROM t JOIN u USING (k) WHERE v > 500;
SELECT group_concat(k, ',') FROM (SELECT k FROM u ORDER BY k LIMIT 5);
SQL
# sh starts each run on a fresh database, so both runs see the same state
lk_run_both sh -c "rm -f '$LK_TMP/db.sqlite'; sqlite3 -batch '$LK_TMP/db.sqlite' <'$LK_TMP/q.sql'"
[ "$LK_STATUS" -eq 0 ] || lk_fail "sqlite3 exited $LK_STATUS"
[ "$(wc -l <"$LK_TMP/pre.out")" -eq 6 ] || lk_fail "unexpected output: $(cat "$LK_TMP/pre.out")"
n=$(lk_check_dumps "$LK_DUMPS" 1) || exit 1
lk_dump_exes "$LK_DUMPS" | grep sqlite3 >/dev/null || lk_fail "no dump from sqlite3"

lk_run_both sqlite3 -batch -bail :memory: "SELECT 1;" "SELECT * FROM missing;"
[ "$LK_STATUS" -ne 0 ] || lk_fail "a failing statement exited 0"
m=$(lk_check_dumps "$LK_DUMPS" 1) || exit 1
echo "ok: $n + $m dump(s)"
