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
/// A hold's lifetime when `ttl_secs` is not given.
pub const DEFAULT_HOLD_TTL_SECS: i64 = 600;
/// The longest hold: seven days.
pub const MAX_HOLD_TTL_SECS: i64 = 7 * 24 * 3600;
/// Most open holds one user may have at once (`too_many_holds` beyond it), so the list of
/// a user's holds is always one bounded page.
pub const MAX_OPEN_HOLDS_PER_USER: usize = 100;
/// Every hold id starts with this, followed by [`HOLD_ID_RANDOM_CHARS`] lowercase hex digits.
pub const HOLD_ID_PREFIX: &str = "hold_";
pub const HOLD_ID_RANDOM_CHARS: usize = 24;
/// Every transfer id starts with this, followed by 24 lowercase hex digits.
pub const TRANSFER_ID_PREFIX: &str = "tr_";
