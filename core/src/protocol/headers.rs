//! HTTP header names, spelled once for the server and every client.

pub const API_KEY: &str = "X-Api-Key";
pub const SIGNATURE: &str = "X-Signature";
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
pub const RETRY_AFTER: &str = "Retry-After";
pub const REQUEST_ID: &str = "X-Request-Id";
