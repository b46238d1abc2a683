#!/usr/bin/env bash
# tests/vectors/pg15-checksum-pages.sh - how pg15-checksum-pages.bin was
# made: five pages written by PostgreSQL 15 in a cluster with data
# checksums (initdb --data-checksums), for tests/unit/test_pagecheck.c.
#
# Each record is 8 + 8192 bytes: the page's block number in its relation
# fork (uint32, little-endian), 4 zero bytes, the page as on disk.
# Pages: heap blocks 0 and 7 of table t, block 1 of its primary key index,
# block 2 of the heap's free space map, block 0 of its visibility map.
# Run as a user PostgreSQL accepts (not root): bash pg15-checksum-pages.sh OUT
set -euo pipefail
out=${1:-pg15-checksum-pages.bin}
bin=/usr/lib/postgresql/15/bin
work=$(mktemp -d)
trap '"$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin/initdb" -D "$work/data" -A trust --data-checksums --no-locale -E UTF8 >/dev/null
"$bin/pg_ctl" -D "$work/data" -o "-c listen_addresses='' -k $work" -w start >/dev/null
q() { "$bin/psql" -X -At -h "$work" -d postgres -c "$1"; }
q "CREATE TABLE t (i int PRIMARY KEY, s text)" >/dev/null
q "INSERT INTO t SELECT g, repeat('x', 200) || g FROM generate_series(1, 400) g" >/dev/null
q "VACUUM t" >/dev/null
q "CHECKPOINT" >/dev/null
heap=$work/data/$(q "SELECT pg_relation_filepath('t')")
index=$work/data/$(q "SELECT pg_relation_filepath('t_pkey')")
"$bin/pg_ctl" -D "$work/data" -w stop >/dev/null
python3 - "$out" "$heap" "$index" <<'PY'
import struct, sys
out, heap, index = sys.argv[1:]
with open(out, 'wb') as f:
    for path, block in ((heap, 0), (heap, 7), (index, 1), (heap + '_fsm', 2), (heap + '_vm', 0)):
        with open(path, 'rb') as r:
            r.seek(block * 8192)
            page = r.read(8192)
        assert len(page) == 8192 and any(page)
        f.write(struct.pack('<II', block, 0) + page)
PY
