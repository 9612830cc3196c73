-- The operator console: its sessions (stored here so they hold across processes and
-- restarts, and expire) and its audit log of who did what and when.

-- A signed-in browser. The cookie carries a random token; only its SHA-256 is kept, so
-- a copy of the database signs no one in.
CREATE TABLE console_sessions (
    token_hash    TEXT    PRIMARY KEY,
    operator      TEXT    NOT NULL,
    -- The token every form of this session carries.
    csrf          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);

CREATE INDEX console_sessions_expiry ON console_sessions (expires_at_ms);

-- Append-only: sign-ins (and refused ones), sign-outs, and every write an operator asked
-- for with its outcome. A write's form reference is unique, so a double click is one entry.
CREATE TABLE console_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    operator    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    telegram_id INTEGER,
    target      TEXT,
    amount      INTEGER,
    reason      TEXT,
    reference   TEXT,
    outcome     TEXT    NOT NULL,
    detail      TEXT
);

CREATE UNIQUE INDEX console_audit_reference ON console_audit (reference)
    WHERE reference IS NOT NULL;

CREATE TRIGGER console_audit_no_update BEFORE UPDATE ON console_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER console_audit_no_delete BEFORE DELETE ON console_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- The overview's per-day volumes read the last 30 days of records.
CREATE INDEX records_created ON records (created_at);
