//! Holds: credits reserved by one source until it captures them (one deduction, linked to
//! the hold), voids them, or they expire. The rules both backends share live here: what a
//! hold counts for, who may resolve it, when a second call is a replay, and what each
//! answer looks like. A backend only reads and writes the rows.

use super::rows::HoldRow;
use super::{rfc3339_ms, Actor, Refusal};
use credit_sync::protocol::{fields, limits, Code, Hold, HoldData, HoldState};

/// A hold to place (already validated).
#[derive(Debug, Clone)]
pub struct NewHold {
    pub telegram_id: i64,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub ttl_secs: i64,
}

/// What a capture or void asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Charge `amount` (`None`: the whole hold) and release the rest.
    Capture {
        amount: Option<i64>,
    },
    Void,
}

/// A capture or void of one hold (already validated).
#[derive(Debug, Clone)]
pub struct Resolve {
    pub hold_id: String,
    pub resolution: Resolution,
    /// Makes the call retryable: the same call with the same reference is a replay.
    pub reference: Option<String>,
}

/// A hold after a call, with its user's balance view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldApplied {
    /// The hold, with [`HoldRow::state`] as of the call (an open hold past its expiry
    /// reads `expired`).
    pub hold: HoldRow,
    pub credits: i64,
    /// The user's open, unexpired holds.
    pub held: i64,
    pub duplicate: bool,
}

impl HoldApplied {
    pub fn available(&self) -> i64 {
        self.credits - self.held
    }
}

pub type HoldOutcome = Result<HoldApplied, Refusal>;

/// A hold as the wire shows it (its state as stored: pass a row through [`as_of`] first).
pub fn wire(row: &HoldRow) -> Hold {
    Hold {
        hold_id: row.hold_id.clone(),
        telegram_id: row.telegram_id,
        source: row.source.clone(),
        amount: row.amount,
        captured: row.captured,
        state: HoldState::parse(&row.state).unwrap_or(HoldState::Expired),
        reason: row.reason.clone(),
        external_reference: row.external_reference.clone(),
        created_at: row.created_at.clone(),
        expires_at: rfc3339_ms(row.expires_at_ms),
        resolved_at: row.resolved_at.clone(),
        record_id: row.record_id,
    }
}

impl HoldApplied {
    /// The `data` of a hold answer (and of `hold_resolved`).
    pub fn data(&self) -> HoldData {
        HoldData {
            hold: wire(&self.hold),
            credits: self.credits,
            held: self.held,
            available: self.available(),
            duplicate: self.duplicate,
        }
    }
}

/// A new hold id: [`limits::HOLD_ID_PREFIX`] and random lowercase hex.
pub fn new_hold_id() -> String {
    format!("{}{}", limits::HOLD_ID_PREFIX, random_hex())
}

/// A new transfer id: [`limits::TRANSFER_ID_PREFIX`] and random lowercase hex.
pub fn new_transfer_id() -> String {
    format!("{}{}", limits::TRANSFER_ID_PREFIX, random_hex())
}

fn random_hex() -> String {
    let bytes: [u8; limits::HOLD_ID_RANDOM_CHARS / 2] = rand::random();
    hex::encode(bytes)
}

/// When a hold placed at `now_ms` with `ttl_secs` stops counting.
pub fn expires_at_ms(now_ms: i64, ttl_secs: i64) -> i64 {
    now_ms.saturating_add(ttl_secs.saturating_mul(1000))
}

/// The state a stored hold is in at `now_ms`: an open hold past its expiry is expired,
/// whether or not a write has marked it so yet.
pub fn state_at(row: &HoldRow, now_ms: i64) -> HoldState {
    let stored = HoldState::parse(&row.state).unwrap_or(HoldState::Expired);
    if stored == HoldState::Open && row.expires_at_ms <= now_ms {
        HoldState::Expired
    } else {
        stored
    }
}

/// `row` as of `now_ms` (its `state` rewritten by [`state_at`]).
pub fn as_of(mut row: HoldRow, now_ms: i64) -> HoldRow {
    row.state = state_at(&row, now_ms).as_str().to_string();
    row
}

/// The answer to a hold whose reference was used before: the original, or the fields
/// that differ.
pub fn replay_hold(new: &NewHold, original: &HoldRow) -> Result<(), Refusal> {
    let mut differ = Vec::new();
    if original.telegram_id != new.telegram_id {
        differ.push(fields::TELEGRAM_ID);
    }
    if original.amount != new.amount {
        differ.push(fields::AMOUNT);
    }
    if original.reason != new.reason {
        differ.push(fields::REASON);
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(Refusal::conflict(&differ))
    }
}

/// What a capture or void of `row` comes to, judged at `now_ms` for `actor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Charge this much (1 ..= the hold), release the rest, write one record.
    Capture(i64),
    /// Release the whole hold; no record.
    Void,
    /// The same call again with its reference: answer the hold as it is.
    Replay,
    /// Refused; nothing is written but the spent signature.
    Refused(Refusal),
}

/// The one judgement of a capture or void, on the hold as stored.
pub fn judge(actor: &Actor, row: &HoldRow, resolve: &Resolve, now_ms: i64) -> Verdict {
    if row.source != actor.source && !actor.admin {
        return Verdict::Refused(Refusal::new(
            Code::Forbidden,
            format!(
                "hold {} was placed by source {}: only it or an admin source may resolve it",
                row.hold_id, row.source
            ),
        ));
    }
    let state = state_at(row, now_ms);
    if state != HoldState::Open {
        let same_call = resolve.reference.is_some()
            && row.resolution_reference == resolve.reference
            && row.resolved_by.as_deref() == Some(actor.source.as_str())
            && match resolve.resolution {
                Resolution::Capture { amount } => {
                    state == HoldState::Captured && amount.unwrap_or(row.amount) == row.captured
                }
                Resolution::Void => state == HoldState::Voided,
            };
        return if same_call {
            Verdict::Replay
        } else {
            Verdict::Refused(Refusal::hold_resolved(row.hold_id.as_str(), state))
        };
    }
    match resolve.resolution {
        Resolution::Void => Verdict::Void,
        Resolution::Capture { amount } => {
            let amount = amount.unwrap_or(row.amount);
            if amount > row.amount {
                Verdict::Refused(Refusal::new(
                    Code::InvalidAmount,
                    format!(
                        "cannot capture {amount}: hold {} holds {}",
                        row.hold_id, row.amount
                    ),
                ))
            } else {
                Verdict::Capture(amount)
            }
        }
    }
}

/// `too_many_holds`: the user already has [`limits::MAX_OPEN_HOLDS_PER_USER`] open holds.
pub fn too_many(telegram_id: i64) -> Refusal {
    Refusal::new(
        Code::TooManyHolds,
        format!(
            "user {telegram_id} already has {} open holds",
            limits::MAX_OPEN_HOLDS_PER_USER
        ),
    )
}

/// `hold_not_found`.
pub fn not_found(hold_id: &str) -> Refusal {
    Refusal::new(
        Code::HoldNotFound,
        format!("no hold has the id {hold_id:?}"),
    )
}

/// A capture's or void's reason on the record and in messages.
pub fn verb(resolution: Resolution) -> &'static str {
    match resolution {
        Resolution::Capture { .. } => "captured",
        Resolution::Void => "voided",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, expires_at_ms: i64) -> HoldRow {
        HoldRow {
            hold_id: "hold_1".into(),
            telegram_id: 7,
            source: "bot".into(),
            amount: 10,
            captured: 0,
            state: state.into(),
            reason: "job".into(),
            external_reference: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            expires_at_ms,
            resolved_at: None,
            record_id: None,
            resolved_by: None,
            resolution_reference: None,
        }
    }

    fn actor(source: &str, admin: bool) -> Actor {
        Actor {
            source: source.into(),
            auto_register: false,
            admin,
        }
    }

    fn capture(amount: Option<i64>, reference: Option<&str>) -> Resolve {
        Resolve {
            hold_id: "hold_1".into(),
            resolution: Resolution::Capture { amount },
            reference: reference.map(Into::into),
        }
    }

    #[test]
    fn an_open_hold_past_its_expiry_is_expired_and_cannot_be_captured() {
        let open = row("open", 1_000);
        assert_eq!(state_at(&open, 999), HoldState::Open);
        assert_eq!(state_at(&open, 1_000), HoldState::Expired);
        let Verdict::Refused(refusal) =
            judge(&actor("bot", false), &open, &capture(None, None), 1_000)
        else {
            panic!("an expired hold was captured")
        };
        assert_eq!(refusal.code, Code::HoldResolved);
    }

    #[test]
    fn only_its_source_or_an_admin_resolves_a_hold() {
        let open = row("open", 10_000);
        let call = capture(Some(4), None);
        assert!(matches!(
            judge(&actor("other", false), &open, &call, 0),
            Verdict::Refused(Refusal {
                code: Code::Forbidden,
                ..
            })
        ));
        assert_eq!(
            judge(&actor("other", true), &open, &call, 0),
            Verdict::Capture(4)
        );
        assert_eq!(
            judge(&actor("bot", false), &open, &capture(None, None), 0),
            Verdict::Capture(10)
        );
        assert!(matches!(
            judge(&actor("bot", false), &open, &capture(Some(11), None), 0),
            Verdict::Refused(Refusal {
                code: Code::InvalidAmount,
                ..
            })
        ));
    }

    #[test]
    fn the_same_call_with_its_reference_is_a_replay_any_other_is_resolved() {
        let mut captured = row("captured", 10_000);
        captured.captured = 4;
        captured.resolved_by = Some("bot".into());
        captured.resolution_reference = Some("r1".into());
        let bot = actor("bot", false);
        assert_eq!(
            judge(&bot, &captured, &capture(Some(4), Some("r1")), 0),
            Verdict::Replay
        );
        for other in [
            capture(Some(4), Some("r2")),
            capture(Some(5), Some("r1")),
            capture(Some(4), None),
        ] {
            assert!(matches!(
                judge(&bot, &captured, &other, 0),
                Verdict::Refused(Refusal {
                    code: Code::HoldResolved,
                    ..
                })
            ));
        }
        let void = Resolve {
            resolution: Resolution::Void,
            ..capture(None, Some("r1"))
        };
        assert!(matches!(
            judge(&bot, &captured, &void, 0),
            Verdict::Refused(_)
        ));
    }
}
