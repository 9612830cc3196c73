//! JSON field names that appear in bodies, in error messages and in `field`.

pub const TELEGRAM_ID: &str = "telegram_id";
pub const AMOUNT: &str = "amount";
pub const SOURCE: &str = "source";
pub const REASON: &str = "reason";
pub const TIMESTAMP: &str = "timestamp";
pub const TOKEN: &str = "token";
pub const EXTERNAL_REFERENCE: &str = "external_reference";
pub const ITEMS: &str = "items";
pub const ATOMIC: &str = "atomic";
pub const NICKNAME: &str = "nickname";
pub const LIMIT: &str = "limit";
pub const CURSOR: &str = "cursor";
pub const TTL_SECS: &str = "ttl_secs";
pub const HOLD_ID: &str = "hold_id";
pub const RECORD_ID: &str = "record_id";
pub const ORIGINAL_REFERENCE: &str = "original_reference";
pub const FROM_TELEGRAM_ID: &str = "from_telegram_id";
pub const TO_TELEGRAM_ID: &str = "to_telegram_id";
/// Not a body field: what `reference_conflict` names when a reference was used by another
/// kind of operation (a sync reference sent again as a transfer, say).
pub const OPERATION: &str = "operation";
