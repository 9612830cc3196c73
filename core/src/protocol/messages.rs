//! Messages whose wording is part of the contract (the docs quote them).

/// The answer to a write whose signature was already spent.
pub const SIGNATURE_REUSED: &str = "this signature already authorized a write: every write signature is single-use. \
To retry the same change, send it again with the same external_reference. \
To make another change, sign it again with a new timestamp: a v1 token covers only telegram_id, amount, source and timestamp, \
so two v1 changes of one user and amount in the same second need a second between them, or v2 signing (as the SDKs do) \
with an external_reference";
