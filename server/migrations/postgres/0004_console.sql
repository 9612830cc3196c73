-- The operator console on PostgreSQL: the same tables as on SQLite
-- (server/migrations/sqlite/0004_console.sql). Sessions live here so every server
-- process behind a load balancer knows them; the audit log is append-only.

CREATE TABLE console_sessions (
    token_hash    TEXT   PRIMARY KEY,
    operator      TEXT   NOT NULL,
    csrf          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE INDEX console_sessions_expiry ON console_sessions (expires_at_ms);

CREATE TABLE console_audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    operator    TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    telegram_id BIGINT,
    target      TEXT,
    amount      BIGINT,
    reason      TEXT,
    reference   TEXT,
    outcome     TEXT   NOT NULL,
    detail      TEXT,
    CONSTRAINT console_audit_reference UNIQUE (reference)
);

CREATE FUNCTION console_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER console_audit_no_update BEFORE UPDATE OR DELETE ON console_audit
    FOR EACH ROW EXECUTE FUNCTION console_audit_append_only();

CREATE INDEX records_created ON records (created_at);
