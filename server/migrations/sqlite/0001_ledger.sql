-- The ledger: one row per user holding the current balance, and an append-only
-- record of every change. The balance is always the sum of its records.

CREATE TABLE users (
    telegram_id INTEGER PRIMARY KEY CHECK (telegram_id > 0),
    nickname    TEXT,
    credits     INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE records (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    telegram_id        INTEGER NOT NULL REFERENCES users (telegram_id),
    source             TEXT    NOT NULL,
    change             INTEGER NOT NULL CHECK (change <> 0),
    balance_after      INTEGER NOT NULL CHECK (balance_after >= 0),
    reason             TEXT    NOT NULL,
    external_reference TEXT,
    request_hash       TEXT    NOT NULL,
    created_at         TEXT    NOT NULL
);

-- Idempotency: a reference is unique per source, forever.
CREATE UNIQUE INDEX records_source_reference
    ON records (source, external_reference)
    WHERE external_reference IS NOT NULL;

-- Keyset pagination of one user's records, newest first.
CREATE INDEX records_user_newest ON records (telegram_id, id DESC);

CREATE TRIGGER records_no_update BEFORE UPDATE ON records
BEGIN
    SELECT RAISE(ABORT, 'records are append-only');
END;

CREATE TRIGGER records_no_delete BEFORE DELETE ON records
BEGIN
    SELECT RAISE(ABORT, 'records are append-only');
END;
