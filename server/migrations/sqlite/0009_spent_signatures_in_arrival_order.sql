-- Issue 16: spent signatures were keyed (signed_at, source, signature), so within one
-- second every insert landed on a random one of that second's pages: 0.57 WAL pages per
-- write under load (bench/wal_pages.py), a fifth of what a commit writes. The table is now
-- the durable log of spent signatures in arrival order (its inserts append), and the
-- uniqueness check runs on an in-memory index of it that the writer's connection builds
-- when it opens (`temp.spent_keys`, server/src/ledger/sqlite/spent.rs; it also holds each
-- key's log rowid, by which the log is pruned, with no index of its own): one server process
-- serves a SQLite file, and its one write connection makes every spend. The index is
-- transactional like the log (same transaction, same savepoints), so a rolled-back write
-- or group spends nothing, exactly as before.

CREATE TABLE spent_signatures_log (
    signed_at INTEGER NOT NULL,
    source    TEXT    NOT NULL,
    signature INTEGER NOT NULL -- its first 64 bits
);
INSERT INTO spent_signatures_log (signed_at, source, signature)
    SELECT signed_at, source, signature FROM spent_signatures ORDER BY signed_at;
DROP TABLE spent_signatures;
ALTER TABLE spent_signatures_log RENAME TO spent_signatures;
