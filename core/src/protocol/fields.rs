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
