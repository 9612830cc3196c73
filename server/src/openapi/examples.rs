//! The request examples of the document (the examples phase of Schemathesis sends them):
//! the guide's quick start, as the core's types.

use credit_sync::protocol::{
    BatchItem, BatchRequest, CaptureRequest, HoldRequest, RegisterUserRequest, ReverseRequest,
    SyncRequest, TransferRequest, VoidRequest,
};

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

/// A hold id of the shape the server makes (an unknown one: `hold_not_found`).
pub const HOLD_ID: &str = "hold_0123456789abcdef01234567";

pub fn hold() -> HoldRequest {
    HoldRequest {
        telegram_id: TELEGRAM_ID,
        amount: 30,
        reason: "image generation job".into(),
        external_reference: Some("job_7".into()),
        ttl_secs: Some(600),
        source: None,
    }
}

pub fn capture() -> CaptureRequest {
    CaptureRequest {
        amount: Some(20),
        external_reference: Some("job_7_done".into()),
        source: None,
    }
}

pub fn void() -> VoidRequest {
    VoidRequest {
        external_reference: Some("job_7_failed".into()),
        source: None,
    }
}

pub fn reverse() -> ReverseRequest {
    ReverseRequest {
        record_id: None,
        original_reference: Some("video_12345".into()),
        amount: Some(10),
        reason: "refund".into(),
        external_reference: Some("refund_video_12345".into()),
        source: None,
    }
}

pub fn transfer() -> TransferRequest {
    TransferRequest {
        from_telegram_id: TELEGRAM_ID,
        to_telegram_id: 987_654_321,
        amount: 25,
        reason: "gift".into(),
        external_reference: Some("gift_1".into()),
        source: None,
    }
}
