-- Money flows: holds (reserve, then capture or void, or let expire), reversals and
-- transfers. A record may now be linked: to the hold it captured, to the record it
-- reverses, or to the other leg of its transfer.
--
-- `users.held` is the sum of the user's holds in state 'open', expired or not. What a
-- deduct, a hold or a transfer may take is `credits` minus the open holds that have not
-- expired (`expires_at_ms` > now): a hold past its expiry no longer counts, even before a
-- write marks it 'expired' (and takes it out of `held`).

ALTER TABLE users ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0);

CREATE TABLE holds (
    hold_id              TEXT    PRIMARY KEY,
    telegram_id          INTEGER NOT NULL REFERENCES users (telegram_id),
    source               TEXT    NOT NULL,
    amount               INTEGER NOT NULL CHECK (amount > 0),
    reason               TEXT    NOT NULL,
    external_reference   TEXT,
    request_hash         TEXT    NOT NULL,
    state                TEXT    NOT NULL DEFAULT 'open'
                         CHECK (state IN ('open', 'captured', 'voided', 'expired')),
    -- What a capture charged: 0 unless captured, never more than the hold.
    captured             INTEGER NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    -- The deduction a capture wrote.
    record_id            INTEGER REFERENCES records (id),
    -- Who captured or voided it, and the reference that makes that call a replay.
    resolved_by          TEXT,
    resolution_reference TEXT,
    created_at           TEXT    NOT NULL,
    -- Unix milliseconds, compared with the server's clock.
    expires_at_ms        INTEGER NOT NULL,
    resolved_at          TEXT
);

-- Idempotency: a hold's reference is unique among its source's holds, forever.
CREATE UNIQUE INDEX holds_source_reference
    ON holds (source, external_reference)
    WHERE external_reference IS NOT NULL;

-- A user's open holds, for the balance check and the list.
CREATE INDEX holds_user_open ON holds (telegram_id, expires_at_ms) WHERE state = 'open';

ALTER TABLE records ADD COLUMN hold_id TEXT REFERENCES holds (hold_id);
ALTER TABLE records ADD COLUMN reverses INTEGER REFERENCES records (id);
ALTER TABLE records ADD COLUMN transfer_id TEXT;

CREATE INDEX records_reverses ON records (reverses) WHERE reverses IS NOT NULL;
CREATE INDEX records_transfer ON records (transfer_id) WHERE transfer_id IS NOT NULL;
