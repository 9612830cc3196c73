-- Single-use write signatures: every v1 token and v2 signature hex that authorized a
-- write, kept until its timestamp is out of every server's window (`expires_at`, Unix
-- seconds), then pruned by the writer. Inserted in the write's own transaction.

CREATE TABLE spent_signatures (
    source     TEXT    NOT NULL,
    signature  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (source, signature)
) WITHOUT ROWID;

CREATE INDEX spent_signatures_expiry ON spent_signatures (expires_at);
