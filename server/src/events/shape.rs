//! An outbox row as the wire shows it: the `evt_` id built from the row's time and nonce,
//! and `data` read back through the core's types (a `Record`, a `Hold`, ...), so an event
//! shows a record or hold exactly as the other endpoints do.

use crate::ledger::hold;
use crate::ledger::rfc3339_ms;
use crate::ledger::rows::HoldRow;
use credit_sync::protocol::events::EVENT_ID_PREFIX;
use credit_sync::protocol::{Event, EventType, Record, TransferEvent, UserEvent};
use serde::Deserialize;

/// One outbox row, as both backends read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub seq: i64,
    /// A key of the row that never changes (SQLite: `seq`; PostgreSQL: `id`).
    pub key: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub created_at_ms: i64,
    pub nonce: i64,
    pub source: Option<String>,
    pub telegram_id: i64,
    pub data: String,
}

/// A hold's columns as the triggers store them.
#[derive(Deserialize)]
struct StoredHold {
    hold_id: String,
    telegram_id: i64,
    source: String,
    amount: i64,
    captured: i64,
    state: String,
    reason: String,
    external_reference: Option<String>,
    created_at: String,
    expires_at_ms: i64,
    resolved_at: Option<String>,
    record_id: Option<i64>,
}

impl EventRow {
    pub fn into_event(self) -> Event {
        let kind = EventType::parse(&self.kind);
        let data = wire_data(kind, &self.data);
        Event {
            id: event_id(self.created_at_ms, self.nonce, self.key),
            seq: self.seq,
            kind,
            created_at: rfc3339_ms(self.created_at_ms),
            source: self.source,
            telegram_id: self.telegram_id,
            data,
        }
    }
}

/// `data` through its core type; the stored JSON as is when it does not parse (a newer
/// server's type).
fn wire_data(kind: EventType, stored: &str) -> serde_json::Value {
    fn through<T: serde::de::DeserializeOwned + serde::Serialize>(
        stored: &str,
    ) -> Option<serde_json::Value> {
        serde_json::from_str::<T>(stored)
            .ok()
            .and_then(|typed| serde_json::to_value(typed).ok())
    }
    let typed = match kind {
        EventType::CreditsAdded | EventType::CreditsDeducted | EventType::CreditsReversed => {
            through::<Record>(stored)
        }
        EventType::CreditsTransferred => through::<TransferEvent>(stored),
        EventType::UserRegistered => through::<UserEvent>(stored),
        EventType::HoldCreated
        | EventType::HoldCaptured
        | EventType::HoldVoided
        | EventType::HoldExpired => serde_json::from_str::<StoredHold>(stored)
            .ok()
            .and_then(|h| serde_json::to_value(hold::wire(&h.into_row())).ok()),
        EventType::Unknown => None,
    };
    typed.unwrap_or_else(|| serde_json::from_str(stored).unwrap_or(serde_json::Value::Null))
}

impl StoredHold {
    fn into_row(self) -> HoldRow {
        HoldRow {
            hold_id: self.hold_id,
            telegram_id: self.telegram_id,
            source: self.source,
            amount: self.amount,
            captured: self.captured,
            state: self.state,
            reason: self.reason,
            external_reference: self.external_reference,
            created_at: self.created_at,
            expires_at_ms: self.expires_at_ms,
            resolved_at: self.resolved_at,
            record_id: self.record_id,
            resolved_by: None,
            resolution_reference: None,
        }
    }
}

/// `evt_` and a UUID v7: the row's time in its 48 timestamp bits, its nonce and key in
/// the random ones. Built from stored columns only, so the same event always has one id.
pub fn event_id(created_at_ms: i64, nonce: i64, key: i64) -> String {
    let ms = (created_at_ms.max(0) as u64) & 0xffff_ffff_ffff;
    let nonce = nonce.to_be_bytes();
    let key = (key as u16).to_be_bytes();
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | (key[0] & 0x0f);
    b[7] = key[1];
    b[8] = 0x80 | (nonce[0] & 0x3f);
    b[9..16].copy_from_slice(&nonce[1..8]);
    let hex = hex::encode(b);
    format!(
        "{EVENT_ID_PREFIX}{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_uuid_v7() {
        let id = event_id(1_700_000_000_123, -5, 7);
        assert_eq!(id, event_id(1_700_000_000_123, -5, 7));
        assert_ne!(id, event_id(1_700_000_000_123, -5, 8));
        let uuid = id.strip_prefix("evt_").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "7", "{uuid}");
        assert!("89ab".contains(&uuid[19..20]), "{uuid}");
        assert!(uuid.starts_with("018bcfe5-687b"), "{uuid}");
    }

    #[test]
    fn record_data_drops_absent_links() {
        let stored = r#"{"id":1,"change":5,"balance_after":5,"reason":"r","source":"s",
            "external_reference":null,"created_at":"2026-01-01T00:00:00.000Z","reverses":null}"#;
        let data = wire_data(EventType::CreditsAdded, stored);
        assert_eq!(data["id"], 1);
        assert!(data.get("reverses").is_none());
        assert!(data.get("external_reference").unwrap().is_null());
    }
}
