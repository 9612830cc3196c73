//! Request parsing on arbitrary bytes: the server's strict parsers
//! (`SyncRequest::from_json`, `BatchRequest::from_json`, `RegisterUserRequest::from_json`)
//! and the value rules never panic, and whatever they accept survives a round trip.
#![no_main]

use credit_sync::protocol::limits::{DEFAULT_MAX_AMOUNT, MAX_BATCH_ITEMS, MAX_REASON_CHARS};
use credit_sync::protocol::{
    validate_change, validate_nickname, BatchRequest, RegisterUserRequest, SyncRequest,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // The serde derives the SDK uses to read answers must not panic either.
    let _ = serde_json::from_slice::<SyncRequest>(data);
    let _ = serde_json::from_slice::<BatchRequest>(data);
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(req) = SyncRequest::from_json(&value) {
        check_change(
            req.telegram_id,
            req.amount,
            &req.reason,
            req.external_reference.as_deref(),
        );
        let again = SyncRequest::from_json(&serde_json::to_value(&req).unwrap())
            .expect("a parsed sync request parses again");
        assert_eq!(again, req);
    }
    if let Ok(req) = BatchRequest::from_json(&value) {
        assert!(!req.items.is_empty() && req.items.len() <= MAX_BATCH_ITEMS);
        for item in &req.items {
            check_change(
                item.telegram_id,
                item.amount,
                &item.reason,
                item.external_reference.as_deref(),
            );
        }
        let again = BatchRequest::from_json(&serde_json::to_value(&req).unwrap())
            .expect("a parsed batch parses again");
        assert_eq!(again, req);
    }
    if let Ok(req) = RegisterUserRequest::from_json(&value) {
        if let Some(nickname) = &req.nickname {
            let _ = validate_nickname(nickname);
        }
    }
});

/// What `validate_change` accepts really keeps the protocol's rules.
fn check_change(telegram_id: i64, amount: i64, reason: &str, reference: Option<&str>) {
    if validate_change(telegram_id, amount, reason, reference, DEFAULT_MAX_AMOUNT).is_ok() {
        assert!(telegram_id > 0);
        assert!(amount != 0 && amount.unsigned_abs() <= DEFAULT_MAX_AMOUNT as u64);
        assert!(reason.chars().count() <= MAX_REASON_CHARS);
        assert!(!reason.chars().any(char::is_control));
        if let Some(r) = reference {
            assert!(!r.is_empty() && r.len() <= 128 && r.is_ascii());
            assert!(!r.contains(['\'', '"', ';', ' ', '%', '\\']));
        }
    }
}
