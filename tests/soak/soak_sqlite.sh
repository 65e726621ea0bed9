#!/bin/sh
# soak_sqlite: sqlite3 on a database file: 100,000 INSERT statements in one
# transaction, an index, then aggregate, join and sort queries.  One
# process, one exit dump that loads.
# soak: quick
. tests/soak/lib.sh
soak_init sqlite
soak_need sqlite3
soak_setup() {
    awk 'BEGIN {
        print "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER);"
        print "BEGIN;"
        for (i = 0; i < 100000; i++)
            printf "INSERT INTO t(k, v) VALUES (%ck%d%c, %d);\n", 39, (i * 7919) % 10007, 39, i % 977
        print "COMMIT;"
        print "CREATE INDEX tk ON t(k);"
        print "SELECT count(*), sum(v), count(DISTINCT k) FROM t;"
        print "SELECT k, count(*) AS n, max(v) FROM t GROUP BY k ORDER BY n DESC, k LIMIT 3;"
        print "SELECT a.k, count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.id < 50 GROUP BY a.k ORDER BY a.k LIMIT 3;"
        print "UPDATE t SET v = v + 1 WHERE v % 3 = 0; DELETE FROM t WHERE id % 5 = 0;"
        print "SELECT count(*), sum(v) FROM t;"
    }' >work.sql
}
soak_run 300 sh -c 'exec sqlite3 soak.db <work.sql'
soak_expect_status 0
soak_dumps
soak_end
