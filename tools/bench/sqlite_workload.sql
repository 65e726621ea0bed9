-- sqlite_workload.sql - the "real program" workload: sqlite3 :memory: fed this
-- script on stdin.  run.sh replaces @ROWS@ (100000 by default, less under
-- memcheck).  Inserts, two indexes, aggregates, an update that grows rows, a
-- delete, a sort, and a VACUUM, so sqlite allocates from many sites.
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < @ROWS@)
INSERT INTO t SELECT i, printf('row-%08d-%s', i, hex(randomblob(6))), abs(random()) % 997,
                     randomblob(40 + i % 80) FROM s;
CREATE INDEX t_grp ON t(grp);
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), sum(length(payload)) FROM t GROUP BY grp ORDER BY 2 DESC LIMIT 3;
UPDATE t SET name = name || '-updated' WHERE grp % 3 = 0;
SELECT count(DISTINCT substr(name, 1, 8)) FROM t;
DELETE FROM t WHERE grp % 5 = 0;
SELECT length(group_concat(name, ',')) FROM (SELECT name FROM t ORDER BY name DESC LIMIT 5000);
VACUUM;
SELECT count(*), total(grp) FROM t;
