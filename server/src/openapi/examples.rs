//! The request examples of the document (the examples phase of Schemathesis sends them):
//! the guide's quick start, as the core's types.

use credit_sync::protocol::{BatchItem, BatchRequest, RegisterUserRequest, SyncRequest};

pub const TELEGRAM_ID: i64 = 123_456_789;
const SOURCE: &str = "media_bot";

pub fn sync() -> SyncRequest {
    SyncRequest {
        telegram_id: TELEGRAM_ID,
        amount: 100,
        source: SOURCE.into(),
        reason: "reward for watching a video".into(),
        timestamp: None,
        token: None,
        external_reference: Some("video_12345".into()),
    }
}

pub fn batch() -> BatchRequest {
    let item = |telegram_id, amount, reference: &str| BatchItem {
        telegram_id,
        amount,
        reason: "campaign prize".into(),
        external_reference: Some(reference.into()),
        token: None,
    };
    BatchRequest {
        source: SOURCE.into(),
        items: vec![
            item(TELEGRAM_ID, 1000, "camp_1_1"),
            item(987_654_321, 500, "camp_1_2"),
        ],
        atomic: false,
        timestamp: None,
    }
}

pub fn register_user() -> RegisterUserRequest {
    RegisterUserRequest {
        telegram_id: TELEGRAM_ID,
        nickname: Some("alice".into()),
        source: Some(SOURCE.into()),
        timestamp: None,
        token: None,
    }
}
