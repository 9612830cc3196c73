-- Webhook delivery state (server/src/webhooks/), one row per configured endpoint URL,
-- written only by the delivery worker and the admin commands, never by an API request.
-- `cursor` is the last `seq` done (delivered, given up, or not matching the filters);
-- `attempts`, `first_failed_at_ms`, `next_attempt_at_ms` and `last_error` describe the
-- failing attempts of the event after it. `replay_from`: a `webhooks replay` the worker
-- has not taken yet. `claimed_by`/`claimed_until_ms`: the process delivering it, a lease
-- taken with `FOR UPDATE SKIP LOCKED` (several processes share the database) that a
-- crashed process stops renewing, so another takes over when it expires.
CREATE TABLE webhook_endpoints (
    url                TEXT    PRIMARY KEY,
    cursor             BIGINT  NOT NULL,
    attempts           BIGINT  NOT NULL DEFAULT 0,
    first_failed_at_ms BIGINT,
    next_attempt_at_ms BIGINT NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_error_at_ms   BIGINT,
    replay_from        BIGINT,
    claimed_by         TEXT,
    claimed_until_ms   BIGINT  NOT NULL DEFAULT 0,
    created_at_ms      BIGINT  NOT NULL
);

-- Deliveries given up after their last attempt, kept for the operator
-- (`webhooks list`, the console) and for `webhooks replay`.
CREATE TABLE webhook_failures (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url           TEXT    NOT NULL,
    seq           BIGINT  NOT NULL,
    event_id      TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    attempts      BIGINT  NOT NULL,
    last_error    TEXT    NOT NULL,
    first_failed_at_ms BIGINT NOT NULL,
    failed_at_ms  BIGINT  NOT NULL
);
CREATE INDEX webhook_failures_url ON webhook_failures (url, id);
