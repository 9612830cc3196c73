-- The outbox: one row per ledger change, written by these triggers in the change's own
-- transaction (so a rolled-back change, a refusal or a replay leaves none, and no
-- committed change lacks one), with no extra round trip: the single-statement sync stays
-- one statement. The type names are core's `protocol::events::EventType`.
--
-- Commit order: a value drawn from a sequence inside a writer can commit after a higher
-- one, so writers never draw `seq`. Each row keeps its transaction's id (`xid`); one
-- sequencer at a time (an advisory lock, server/src/events/postgres.rs) numbers the rows
-- whose transaction is older than every transaction still running
-- (`pg_snapshot_xmin`), in (xid, id) order, from `event_feed.last_seq`. Every row that
-- commits later belongs to a transaction at or above that horizon, so it gets a higher
-- `seq`: a reader paging by `seq` never skips an event. Until numbered, an event is not
-- served.

ALTER TABLE users ADD COLUMN registered_by TEXT;

CREATE TABLE events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq           BIGINT UNIQUE,
    xid           xid8   NOT NULL DEFAULT pg_current_xact_id(),
    type          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
                  DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT,
    nonce         BIGINT NOT NULL
                  DEFAULT (random() * 9.0e18)::BIGINT,
    source        TEXT,
    telegram_id   BIGINT NOT NULL,
    data          JSONB  NOT NULL
);

-- What the sequencer numbers next.
CREATE INDEX events_unsequenced ON events (xid, id) WHERE seq IS NULL;
-- `events = "own"`: one source's events in order.
CREATE INDEX events_source ON events (source, seq);

-- The last `seq` given, and the highest pruned (a cursor below it: `410 cursor_expired`).
CREATE TABLE event_feed (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq       BIGINT  NOT NULL,
    pruned_through BIGINT  NOT NULL
);
INSERT INTO event_feed (id, last_seq, pruned_through) VALUES (1, 0, 0);

CREATE FUNCTION event_record(r records) RETURNS JSONB LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', r.id, 'change', r.change,
        'balance_after', r.balance_after, 'reason', r.reason, 'source', r.source,
        'external_reference', r.external_reference,
        'created_at', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'hold_id', r.hold_id, 'reverses', r.reverses, 'transfer_id', r.transfer_id)
$$;

CREATE FUNCTION event_hold(h holds) RETURNS JSONB LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('hold_id', h.hold_id, 'telegram_id', h.telegram_id,
        'source', h.source, 'amount', h.amount, 'captured', h.captured, 'state', h.state,
        'reason', h.reason, 'external_reference', h.external_reference,
        'created_at', to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'expires_at_ms', h.expires_at_ms,
        'resolved_at', to_char(h.resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'record_id', h.record_id)
$$;

CREATE FUNCTION events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    debit records;
BEGIN
    IF NEW.hold_id IS NOT NULL THEN
        RETURN NULL; -- a capture: `hold.captured` tells it
    END IF;
    IF NEW.transfer_id IS NOT NULL THEN
        IF NEW.change < 0 THEN
            RETURN NULL; -- the debit: the credit leg, written second, tells both
        END IF;
        SELECT * INTO debit FROM records WHERE transfer_id = NEW.transfer_id AND id <> NEW.id;
        INSERT INTO events (type, source, telegram_id, data) VALUES (
            'credits.transferred', NEW.source, debit.telegram_id,
            jsonb_build_object('transfer_id', NEW.transfer_id, 'amount', NEW.change,
                'from', event_record(debit), 'to', event_record(NEW)));
        RETURN NULL;
    END IF;
    INSERT INTO events (type, source, telegram_id, data) VALUES (
        CASE WHEN NEW.reverses IS NOT NULL THEN 'credits.reversed'
             WHEN NEW.change > 0 THEN 'credits.added'
             ELSE 'credits.deducted' END,
        NEW.source, NEW.telegram_id, event_record(NEW));
    RETURN NULL;
END
$$;

CREATE TRIGGER events_record AFTER INSERT ON records
    FOR EACH ROW EXECUTE FUNCTION events_record();

CREATE FUNCTION events_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events (type, source, telegram_id, data)
        VALUES ('hold.created', NEW.source, NEW.telegram_id, event_hold(NEW));
    ELSIF OLD.state = 'open' AND NEW.state <> 'open' THEN
        -- Captured, voided (by `resolved_by`) or expired (settled by a write).
        INSERT INTO events (type, source, telegram_id, data)
        VALUES ('hold.' || NEW.state, COALESCE(NEW.resolved_by, NEW.source),
                NEW.telegram_id, event_hold(NEW));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_hold AFTER INSERT OR UPDATE OF state ON holds
    FOR EACH ROW EXECUTE FUNCTION events_hold();

CREATE FUNCTION events_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type, source, telegram_id, data) VALUES (
        'user.registered', NEW.registered_by, NEW.telegram_id,
        jsonb_build_object('telegram_id', NEW.telegram_id, 'nickname', NEW.nickname));
    RETURN NULL;
END
$$;

CREATE TRIGGER events_user AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION events_user();
