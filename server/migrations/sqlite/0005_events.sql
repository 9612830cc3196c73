-- The outbox: one row per ledger change, written by these triggers in the change's own
-- transaction (so a rolled-back change, a refusal or a replay leaves none, and no
-- committed change lacks one). The single group-commit writer commits in queue order, so
-- `seq` (AUTOINCREMENT: never reused, even after pruning) is commit order. The event's
-- id (`evt_` + UUID v7) is built from `created_at_ms` and `nonce`; its wire shape from
-- `data` (server/src/events/). The type names are core's `protocol::events::EventType`.

-- Who registered the user (`NULL`: the operator's `users add`), for `user.registered`.
ALTER TABLE users ADD COLUMN registered_by TEXT;

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    nonce         INTEGER NOT NULL DEFAULT (random()),
    source        TEXT,
    telegram_id   INTEGER NOT NULL,
    -- The record, hold, transfer or user's columns as JSON.
    data          TEXT    NOT NULL
);

-- `events = "own"`: one source's events in order.
CREATE INDEX events_source ON events (source, seq);

-- The highest `seq` pruned: a cursor below it lost events (`410 cursor_expired`).
CREATE TABLE event_horizon (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL
);
INSERT INTO event_horizon (id, pruned_through) VALUES (1, 0);

-- A change that is not a capture or a transfer leg.
CREATE TRIGGER events_change AFTER INSERT ON records
WHEN NEW.hold_id IS NULL AND NEW.transfer_id IS NULL
BEGIN
    INSERT INTO events (type, source, telegram_id, data) VALUES (
        CASE WHEN NEW.reverses IS NOT NULL THEN 'credits.reversed'
             WHEN NEW.change > 0 THEN 'credits.added'
             ELSE 'credits.deducted' END,
        NEW.source, NEW.telegram_id,
        json_object('id', NEW.id, 'change', NEW.change, 'balance_after', NEW.balance_after,
                    'reason', NEW.reason, 'source', NEW.source,
                    'external_reference', NEW.external_reference, 'created_at', NEW.created_at,
                    'reverses', NEW.reverses));
END;

-- A transfer: one event, when its second leg (the credit; the debit is written first)
-- is in.
CREATE TRIGGER events_transfer AFTER INSERT ON records
WHEN NEW.transfer_id IS NOT NULL AND NEW.change > 0
BEGIN
    INSERT INTO events (type, source, telegram_id, data)
    SELECT 'credits.transferred', NEW.source, d.telegram_id,
           json_object('transfer_id', NEW.transfer_id, 'amount', NEW.change,
               'from', json_object('id', d.id, 'change', d.change,
                   'balance_after', d.balance_after, 'reason', d.reason, 'source', d.source,
                   'external_reference', d.external_reference, 'created_at', d.created_at,
                   'transfer_id', d.transfer_id),
               'to', json_object('id', NEW.id, 'change', NEW.change,
                   'balance_after', NEW.balance_after, 'reason', NEW.reason,
                   'source', NEW.source, 'external_reference', NEW.external_reference,
                   'created_at', NEW.created_at, 'transfer_id', NEW.transfer_id))
    FROM records d WHERE d.transfer_id = NEW.transfer_id AND d.id <> NEW.id;
END;

CREATE TRIGGER events_hold_created AFTER INSERT ON holds
BEGIN
    INSERT INTO events (type, source, telegram_id, data) VALUES (
        'hold.created', NEW.source, NEW.telegram_id,
        json_object('hold_id', NEW.hold_id, 'telegram_id', NEW.telegram_id,
                    'source', NEW.source, 'amount', NEW.amount, 'captured', NEW.captured,
                    'state', NEW.state, 'reason', NEW.reason,
                    'external_reference', NEW.external_reference,
                    'created_at', NEW.created_at, 'expires_at_ms', NEW.expires_at_ms,
                    'resolved_at', NEW.resolved_at, 'record_id', NEW.record_id));
END;

-- Captured, voided (by `resolved_by`) or expired (settled by a write; the hold's source).
CREATE TRIGGER events_hold_resolved AFTER UPDATE OF state ON holds
WHEN OLD.state = 'open' AND NEW.state <> 'open'
BEGIN
    INSERT INTO events (type, source, telegram_id, data) VALUES (
        'hold.' || NEW.state, COALESCE(NEW.resolved_by, NEW.source), NEW.telegram_id,
        json_object('hold_id', NEW.hold_id, 'telegram_id', NEW.telegram_id,
                    'source', NEW.source, 'amount', NEW.amount, 'captured', NEW.captured,
                    'state', NEW.state, 'reason', NEW.reason,
                    'external_reference', NEW.external_reference,
                    'created_at', NEW.created_at, 'expires_at_ms', NEW.expires_at_ms,
                    'resolved_at', NEW.resolved_at, 'record_id', NEW.record_id));
END;

CREATE TRIGGER events_user AFTER INSERT ON users
BEGIN
    INSERT INTO events (type, source, telegram_id, data) VALUES (
        'user.registered', NEW.registered_by, NEW.telegram_id,
        json_object('telegram_id', NEW.telegram_id, 'nickname', NEW.nickname));
END;
