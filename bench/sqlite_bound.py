#!/usr/bin/env python3
"""What the disk and SQLite alone allow, without the server around them.

1. The raw fsync rate of the directory (4 KiB write + fsync, like one WAL commit).
2. The ledger's statements for one change (the server's `apply_in`: replay SELECT,
   SELECT credits, INSERT user when new, UPDATE users, INSERT records RETURNING id),
   on the server's own schema (server/migrations/sqlite) with WAL and synchronous=FULL,
   run back to back from one thread with Python's sqlite3:
   - one change per BEGIN IMMEDIATE ... COMMIT (the server's single syncs);
   - 100 changes per transaction (the server's batch endpoint).
Python's own per-statement overhead is included, so these are lower bounds of what a
writer that runs a transaction's statements without a thread hop each would reach.

Usage: python3 bench/sqlite_bound.py [DIR]   (default: the temp dir, i.e. $TMPDIR or /tmp)
"""

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[1] / "server" / "migrations" / "sqlite" / "0001_ledger.sql"
NOW = "2026-11-25T12:00:00Z"


def fsync_probe(directory: str, n: int = 500) -> None:
    path = os.path.join(directory, "fsync-probe.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    lat = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
        lat.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    os.close(fd)
    os.unlink(path)
    lat.sort()
    print(f"fsync: {n / elapsed:,.0f}/s  p50={lat[n // 2] * 1e3:.3f}ms p99={lat[int(n * 0.99)] * 1e3:.3f}ms")


def main() -> None:
    directory = tempfile.mkdtemp(dir=sys.argv[1] if len(sys.argv) > 1 else None)
    fsync_probe(directory)
    db = sqlite3.connect(os.path.join(directory, "bound.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA.read_text())

    def apply(i: int, source: str = "bench") -> None:
        reference = f"r{i}"
        db.execute(
            "SELECT id, telegram_id, change, reason, balance_after FROM records"
            " WHERE source = ? AND external_reference = ?",
            (source, reference),
        ).fetchone()
        user = 1 + i % 10_000
        row = db.execute("SELECT credits FROM users WHERE telegram_id = ?", (user,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO users (telegram_id, nickname, credits, created_at, updated_at)"
                " VALUES (?, NULL, 0, ?, ?)",
                (user, NOW, NOW),
            )
            credits = 0
        else:
            credits = row[0]
        db.execute("UPDATE users SET credits = ?, updated_at = ? WHERE telegram_id = ?", (credits + 1, NOW, user))
        db.execute(
            "INSERT INTO records (telegram_id, source, change, balance_after, reason, external_reference,"
            " request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (user, source, 1, credits + 1, "bench", reference, "h" * 64, NOW),
        ).fetchone()

    i = 0
    for label, per_tx, n in (("single (1 change per commit)", 1, 5_000), ("batch (100 changes per commit)", 100, 100_000)):
        started = time.perf_counter()
        for _ in range(n // per_tx):
            db.execute("BEGIN IMMEDIATE")
            for _ in range(per_tx):
                apply(i)
                i += 1
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        print(f"sqlite {label}: {n / elapsed:,.0f} changes/s ({elapsed / n * 1e6:.1f} us per change)")
    db.close()
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


if __name__ == "__main__":
    main()
