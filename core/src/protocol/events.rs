//! The event stream's wire shapes: what `GET /api/events` (and, later, a webhook) carries.
//! Every ledger change that commits becomes one [`Event`]; its `type` is one of
//! [`EventType`], and its `data` is the record or hold as the other endpoints show it.

use serde::{Deserialize, Serialize};

use super::{Code, Hold, Record};

/// Events per page when `limit` is not given.
pub const DEFAULT_EVENTS_LIMIT: u32 = 100;
/// Largest page of events.
pub const MAX_EVENTS_LIMIT: u32 = 500;
/// The longest long poll (`wait`), in seconds.
pub const MAX_EVENTS_WAIT_SECS: u32 = 30;
/// The feed's query parameters (beside `fields::LIMIT`).
pub const AFTER: &str = "after";
pub const WAIT: &str = "wait";
/// Every event id starts with this, followed by a UUID v7.
pub const EVENT_ID_PREFIX: &str = "evt_";

/// What happened. The wire form is dotted (`credits.added`); it never changes once
/// published. A type this build does not know deserializes as [`EventType::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// A positive change (`data`: the [`Record`]).
    CreditsAdded,
    /// A negative change that is not a capture (`data`: the [`Record`]).
    CreditsDeducted,
    /// A hold was placed (`data`: the [`Hold`]).
    HoldCreated,
    /// A hold was captured; its deduction is `data.record_id` (`data`: the [`Hold`]).
    HoldCaptured,
    /// A hold was voided (`data`: the [`Hold`]).
    HoldVoided,
    /// A write found the hold past its expiry and settled it (`data`: the [`Hold`]).
    HoldExpired,
    /// A reversal record was written (`data`: the [`Record`], with `reverses`).
    CreditsReversed,
    /// Credits moved between two users: one event for both legs (`data`: [`TransferEvent`]).
    CreditsTransferred,
    /// A user was registered (`data`: [`UserEvent`]).
    UserRegistered,
    /// A type this build does not know (sent by a newer server).
    Unknown,
}

impl EventType {
    /// Every known type, for docs, filters and tests.
    pub const ALL: &'static [EventType] = &[
        EventType::CreditsAdded,
        EventType::CreditsDeducted,
        EventType::HoldCreated,
        EventType::HoldCaptured,
        EventType::HoldVoided,
        EventType::HoldExpired,
        EventType::CreditsReversed,
        EventType::CreditsTransferred,
        EventType::UserRegistered,
    ];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CreditsAdded => "credits.added",
            EventType::CreditsDeducted => "credits.deducted",
            EventType::HoldCreated => "hold.created",
            EventType::HoldCaptured => "hold.captured",
            EventType::HoldVoided => "hold.voided",
            EventType::HoldExpired => "hold.expired",
            EventType::CreditsReversed => "credits.reversed",
            EventType::CreditsTransferred => "credits.transferred",
            EventType::UserRegistered => "user.registered",
            EventType::Unknown => "unknown",
        }
    }

    /// Parses a wire string; unknown strings give [`EventType::Unknown`].
    pub fn parse(text: &str) -> EventType {
        EventType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == text)
            .unwrap_or(EventType::Unknown)
    }

    /// Whether `data` is a [`Hold`] (else a [`Record`], a transfer or a user).
    pub fn is_hold(self) -> bool {
        matches!(
            self,
            EventType::HoldCreated
                | EventType::HoldCaptured
                | EventType::HoldVoided
                | EventType::HoldExpired
        )
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(EventType::parse(&s))
    }
}

/// One committed ledger change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Stable: `evt_` and a UUID v7. The same event always has the same id.
    pub id: String,
    /// Strictly increasing in commit order; what `after` pages by.
    pub seq: i64,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "credits.added"))]
    pub kind: EventType,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The source whose request made the change (`null` for an operator's command).
    pub source: Option<String>,
    /// The user it concerns (a transfer's sender).
    pub telegram_id: i64,
    /// The record, hold, transfer or user, as the other endpoints show it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

impl Event {
    /// The cursor that resumes the feed right after this event: store it once the
    /// event is handled, and pass it as `after`.
    pub fn cursor(&self) -> String {
        encode_event_cursor(self.seq)
    }
}

/// `data` of `credits.transferred`: both legs of one transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferEvent {
    pub transfer_id: String,
    pub amount: i64,
    /// The sender's record (negative change; it carries the reference).
    pub from: Record,
    /// The receiver's record.
    pub to: Record,
}

/// `data` of `user.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserEvent {
    pub telegram_id: i64,
    pub nickname: Option<String>,
}

/// `data` of a hold event, typed.
pub type HoldEvent = Hold;

/// Response of `GET /api/events`: oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsResponse {
    pub success: bool,
    pub code: Code,
    pub message: String,
    pub events: Vec<Event>,
    /// Pass as `after` for the next page. Always set: the same cursor again on an empty
    /// page, so a bot stores it and resumes from it.
    pub next_cursor: String,
}

/// A cursor of the feed: the `seq` of the last event a reader has seen, as text
/// (`"0"`: from the oldest retained event). Opaque to bots, which only store it.
pub fn encode_event_cursor(seq: i64) -> String {
    seq.to_string()
}

/// The `seq` a cursor stands for; `None` when it is not one.
pub fn decode_event_cursor(cursor: &str) -> Option<i64> {
    if cursor.is_empty() || cursor.len() > 19 || !cursor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    cursor.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_are_dotted() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), *t);
            assert!(t.as_str().contains('.'), "{t}");
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(serde_json::from_str::<EventType>(&json).unwrap(), *t);
        }
        assert_eq!(EventType::parse("credits.minted"), EventType::Unknown);
    }

    #[test]
    fn cursors_are_sequence_numbers() {
        assert_eq!(decode_event_cursor(&encode_event_cursor(42)), Some(42));
        assert_eq!(decode_event_cursor("0"), Some(0));
        for bad in ["", "-1", "1e3", "r1", "99999999999999999999"] {
            assert_eq!(decode_event_cursor(bad), None, "{bad}");
        }
    }
}
