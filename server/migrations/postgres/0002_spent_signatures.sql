-- Single-use write signatures (as server/migrations/sqlite/0002_spent_signatures.sql):
-- every v1 token and v2 signature (its first 64 bits) that authorized a write, kept until its timestamp
-- (`signed_at`, Unix seconds) is out of every server's window. The primary key makes a
-- second transaction spending the same signature wait for the first and then find it
-- taken, so two processes on one database cannot both spend it.

CREATE TABLE spent_signatures (
    signed_at BIGINT NOT NULL,
    source    TEXT   NOT NULL,
    signature BIGINT NOT NULL, -- its first 64 bits
    PRIMARY KEY (signed_at, source, signature)
);
