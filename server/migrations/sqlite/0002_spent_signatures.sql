-- Single-use write signatures: every v1 token and v2 signature (its first 64 bits) that authorized a
-- write, inserted in the write's own transaction and pruned by the writer once its
-- timestamp (`signed_at`, Unix seconds) is out of every server's window. A signature is
-- valid only with its own timestamp, so the timestamp leads the key: rows arrive nearly
-- in key order and leave from the front.

CREATE TABLE spent_signatures (
    signed_at INTEGER NOT NULL,
    source    TEXT    NOT NULL,
    signature INTEGER NOT NULL, -- its first 64 bits
    PRIMARY KEY (signed_at, source, signature)
) WITHOUT ROWID;
