//! Limits both sides enforce, so the server, the SDK and the docs agree on one number.

/// Longest `reason`, in characters (Unicode scalar values).
pub const MAX_REASON_CHARS: usize = 256;
/// Longest `external_reference`, in characters.
pub const MAX_REFERENCE_CHARS: usize = 128;
/// Longest `nickname`, in characters.
pub const MAX_NICKNAME_CHARS: usize = 128;
/// Most items in one batch.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// Default largest `|amount|` of one change (configurable on the server).
pub const DEFAULT_MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Default accepted clock difference, in seconds (configurable on the server).
pub const DEFAULT_TIMESTAMP_TOLERANCE_SECS: i64 = 300;
/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Records page size when `limit` is not given.
pub const DEFAULT_RECORDS_LIMIT: u32 = 20;
/// Largest records page size.
pub const MAX_RECORDS_LIMIT: u32 = 200;
