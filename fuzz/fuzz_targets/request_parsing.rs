//! Request parsing on arbitrary bytes: the server's one parser
//! (`SyncRequest::from_slice`, `BatchRequest::from_slice`, `RegisterUserRequest::from_slice`)
//! and the value rules never panic, and whatever they accept survives a round trip.
#![no_main]

use credit_sync::protocol::limits::{DEFAULT_MAX_AMOUNT, MAX_BATCH_ITEMS, MAX_REASON_CHARS};
use credit_sync::protocol::{
    validate_change, validate_nickname, BatchRequest, RegisterUserRequest, SyncRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The serde impls run the same parser; they must not panic either.
    let _ = serde_json::from_slice::<SyncRequest>(data);
    let _ = serde_json::from_slice::<BatchRequest>(data);
    if let Ok(req) = SyncRequest::from_slice(data) {
        check_change(
            req.telegram_id,
            req.amount,
            &req.reason,
            req.external_reference.as_deref(),
        );
        let again = SyncRequest::from_slice(&serde_json::to_vec(&req).unwrap())
            .expect("a parsed sync request parses again");
        assert_eq!(again, req);
    }
    if let Ok(req) = BatchRequest::from_slice(data) {
        assert!(!req.items.is_empty() && req.items.len() <= MAX_BATCH_ITEMS);
        for item in &req.items {
            check_change(
                item.telegram_id,
                item.amount,
                &item.reason,
                item.external_reference.as_deref(),
            );
        }
        let again = BatchRequest::from_slice(&serde_json::to_vec(&req).unwrap())
            .expect("a parsed batch parses again");
        assert_eq!(again, req);
    }
    if let Ok(req) = RegisterUserRequest::from_slice(data) {
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
