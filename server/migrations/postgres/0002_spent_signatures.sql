-- Single-use write signatures (as server/migrations/sqlite/0002_spent_signatures.sql):
-- every v1 token and v2 signature hex that authorized a write, kept until its timestamp
-- is out of every server's window (`expires_at`, Unix seconds). The primary key makes a
-- second transaction spending the same signature wait for the first and then find it
-- taken, so two processes on one database cannot both spend it.

CREATE TABLE spent_signatures (
    source     TEXT   NOT NULL,
    signature  TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (source, signature)
);

CREATE INDEX spent_signatures_expiry ON spent_signatures (expires_at);
