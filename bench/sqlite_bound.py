import sqlite3, time, tempfile, os, sys
d = tempfile.mkdtemp(dir=sys.argv[1] if len(sys.argv) > 1 else None)
db = sqlite3.connect(os.path.join(d, "x.db"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.executescript(open("server/migrations/sqlite/0001_ledger.sql").read())
now = "2026-11-25T12:00:00Z"
def apply(i, src="bench"):
    ref = f"r{i}"
    db.execute("SELECT id, telegram_id, change, reason, balance_after FROM records WHERE source = ? AND external_reference = ?", (src, ref)).fetchone()
    uid = 1 + i % 10000
    row = db.execute("SELECT credits FROM users WHERE telegram_id = ?", (uid,)).fetchone()
    if row is None:
        db.execute("INSERT INTO users (telegram_id, nickname, credits, created_at, updated_at) VALUES (?, NULL, 0, ?, ?)", (uid, now, now)); c = 0
    else: c = row[0]
    db.execute("UPDATE users SET credits = ?, updated_at = ? WHERE telegram_id = ?", (c + 1, now, uid))
    db.execute("INSERT INTO records (telegram_id, source, change, balance_after, reason, external_reference, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", (uid, src, 1, c + 1, "bench", ref, "h" * 64, now)).fetchone()
i = 0
for label, per_tx, n in (("single (1 change per commit)", 1, 5000), ("batch (100 changes per commit)", 100, 100000)):
    t = time.perf_counter()
    for _ in range(n // per_tx):
        db.execute("BEGIN IMMEDIATE")
        for _ in range(per_tx):
            apply(i); i += 1
        db.execute("COMMIT")
    el = time.perf_counter() - t
    print(f"{label}: {n/el:,.0f} changes/s ({el/n*1e6:.1f} us per change)")
