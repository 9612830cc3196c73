-- Money flows on PostgreSQL: the same tables, rules and names as on SQLite
-- (server/migrations/sqlite/0003_money_flows.sql): holds, and records linked to the hold
-- they captured, the record they reverse, or the other leg of their transfer.
--
-- `users.held` is the sum of the user's holds in state 'open', expired or not; it changes
-- only under the user's row lock, together with the holds. What a deduct, a hold or a
-- transfer may take is `credits` minus the open holds with `expires_at_ms` > now.

ALTER TABLE users ADD COLUMN held BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0);

CREATE TABLE holds (
    hold_id              TEXT        PRIMARY KEY,
    telegram_id          BIGINT      NOT NULL REFERENCES users (telegram_id),
    source               TEXT        NOT NULL,
    amount               BIGINT      NOT NULL CHECK (amount > 0),
    reason               TEXT        NOT NULL,
    external_reference   TEXT,
    request_hash         TEXT        NOT NULL,
    state                TEXT        NOT NULL DEFAULT 'open'
                         CHECK (state IN ('open', 'captured', 'voided', 'expired')),
    captured             BIGINT      NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    record_id            BIGINT      REFERENCES records (id),
    resolved_by          TEXT,
    resolution_reference TEXT,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at_ms        BIGINT      NOT NULL,
    resolved_at          TIMESTAMPTZ,
    CONSTRAINT holds_source_reference UNIQUE (source, external_reference)
);

CREATE INDEX holds_user_open ON holds (telegram_id, expires_at_ms) WHERE state = 'open';

ALTER TABLE records ADD COLUMN hold_id TEXT REFERENCES holds (hold_id);
ALTER TABLE records ADD COLUMN reverses BIGINT REFERENCES records (id);
ALTER TABLE records ADD COLUMN transfer_id TEXT;

CREATE INDEX records_reverses ON records (reverses) WHERE reverses IS NOT NULL;
CREATE INDEX records_transfer ON records (transfer_id) WHERE transfer_id IS NOT NULL;
