-- Webhook delivery state (server/src/webhooks/), one row per configured endpoint URL,
-- written only by the delivery worker and the admin commands, never by an API request.
-- `cursor` is the last `seq` done (delivered, given up, or not matching the filters);
-- `attempts`, `first_failed_at_ms`, `next_attempt_at_ms` and `last_error` describe the
-- failing attempts of the event after it. `replay_from`: a `webhooks replay` the worker
-- has not taken yet. `claimed_by`/`claimed_until_ms`: the process delivering it (a lease;
-- on SQLite only one server process runs, so it always claims).
CREATE TABLE webhook_endpoints (
    url                TEXT    PRIMARY KEY,
    cursor             INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    first_failed_at_ms INTEGER,
    next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_error_at_ms   INTEGER,
    replay_from        INTEGER,
    claimed_by         TEXT,
    claimed_until_ms   INTEGER NOT NULL DEFAULT 0,
    created_at_ms      INTEGER NOT NULL
);

-- Deliveries given up after their last attempt, kept for the operator
-- (`webhooks list`, the console) and for `webhooks replay`.
CREATE TABLE webhook_failures (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    url           TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    event_id      TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT    NOT NULL,
    first_failed_at_ms INTEGER NOT NULL,
    failed_at_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_failures_url ON webhook_failures (url, id);
