-- The ledger on PostgreSQL: the same tables, rules and names as on SQLite
-- (server/migrations/sqlite/0001_ledger.sql). One row per user holding the
-- current balance, and an append-only record of every change. The balance is
-- always the sum of its records.

CREATE TABLE users (
    telegram_id BIGINT      PRIMARY KEY CHECK (telegram_id > 0),
    nickname    TEXT,
    credits     BIGINT      NOT NULL DEFAULT 0 CHECK (credits >= 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE records (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    telegram_id        BIGINT      NOT NULL REFERENCES users (telegram_id),
    source             TEXT        NOT NULL,
    change             BIGINT      NOT NULL CHECK (change <> 0),
    balance_after      BIGINT      NOT NULL CHECK (balance_after >= 0),
    reason             TEXT        NOT NULL,
    external_reference TEXT,
    request_hash       TEXT        NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Idempotency: a reference is unique per source, forever (NULLs never collide).
    CONSTRAINT records_source_reference UNIQUE (source, external_reference)
);

-- Keyset pagination of one user's records, newest first.
CREATE INDEX records_user_newest ON records (telegram_id, id DESC);

CREATE FUNCTION records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'records are append-only';
END
$$;

CREATE TRIGGER records_no_update BEFORE UPDATE ON records
    FOR EACH ROW EXECUTE FUNCTION records_append_only();

CREATE TRIGGER records_no_delete BEFORE DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION records_append_only();

CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON records
    FOR EACH STATEMENT EXECUTE FUNCTION records_append_only();
