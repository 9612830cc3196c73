#!/usr/bin/env python3
"""Does a SAVEPOINT per write cost anything? Runs our add's statements (spent signature,
reference check, user read/insert/update, record insert with its outbox trigger) on the
server's SQLite schema in groups of 40, with and without a SAVEPOINT around each write.

Usage: python3 bench/savepoint_cost.py   (prints CPU time per write, five runs each way)."""
import glob
import os
import random
import sqlite3
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
migrations = sorted(glob.glob(os.path.join(here, "..", "server", "migrations", "sqlite", "*.sql")))
# Python's SQLite may predate unixepoch('subsec'); the events default is not what is measured.
schema = "\n".join(
    open(m).read() for m in migrations
).replace("CAST(unixepoch('subsec') * 1000 AS INTEGER)", "0")

NOW = "2026-12-02T20:00:00.000Z"


def run(savepoints: bool, groups: int = 150, size: int = 40) -> float:
    """CPU microseconds per write, for `groups` transactions of `size` adds each."""
    db = sqlite3.connect(os.path.join(tempfile.mkdtemp(), "t.db"), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=OFF", "foreign_keys=ON", "temp_store=memory"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(schema)
    n = 0
    cpu = 0.0
    for _ in range(groups):
        started = time.process_time()
        db.execute("BEGIN IMMEDIATE")
        for _ in range(size):
            n += 1
            user = random.randint(1, 10_000)
            reference = f"bench-x-{n % 64}-{n}"
            if savepoints:
                db.execute("SAVEPOINT w")
            db.execute(
                "INSERT INTO spent_signatures VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (n // 400, "bench", random.getrandbits(63)),
            )
            db.execute(
                "SELECT id FROM records WHERE source = ? AND external_reference = ?",
                ("bench", reference),
            ).fetchall()
            row = db.execute("SELECT credits, held FROM users WHERE telegram_id = ?", (user,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO users (telegram_id, credits, created_at, updated_at, registered_by)"
                    " VALUES (?, 0, ?, ?, 'bench')",
                    (user, NOW, NOW),
                )
                credits = 0
            else:
                credits = row[0]
            db.execute(
                "UPDATE users SET credits = ?, updated_at = ? WHERE telegram_id = ?",
                (credits + 1, NOW, user),
            )
            db.execute(
                "INSERT INTO records (telegram_id, source, change, balance_after, reason,"
                " external_reference, request_hash, created_at)"
                " VALUES (?, ?, 1, ?, 'bench', ?, ?, ?) RETURNING id",
                (user, "bench", credits + 1, reference, "a" * 64, NOW),
            ).fetchall()
            if savepoints:
                db.execute("RELEASE w")
        db.execute("COMMIT")
        cpu += time.process_time() - started
    db.close()
    return cpu / n * 1e6


if __name__ == "__main__":
    results = {True: [], False: []}
    for _ in range(5):
        for savepoints in (True, False):
            results[savepoints].append(run(savepoints))
    for savepoints, label in ((True, "with a SAVEPOINT per write"), (False, "without")):
        runs = sorted(results[savepoints])
        print(f"{label}: median {runs[2]:.1f} us CPU per write (runs {', '.join(f'{r:.1f}' for r in runs)})")
