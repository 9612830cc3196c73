//! The SDK side of the event feed: a page of `GET /api/events`, the resumable reader
//! every stream and iterator of every binding steps through, and `verify_webhook`, the
//! one check of a received webhook that all SDKs wrap.

use crate::error::{Error, Result};
use crate::protocol::{self, decode_event_cursor, fields, Event};
use crate::webhook::{self, WebhookError};
use std::collections::VecDeque;

/// The `wait` of each long poll an event stream makes (below the server's 30 s cap, and
/// below the idle timeouts of common proxies).
pub const LONG_POLL_WAIT_SECS: u32 = 25;

/// One page of the feed, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page; store it to resume. Always set (the same
    /// cursor again after an empty page).
    pub next_cursor: String,
}

/// Checks `get_events`'s arguments before anything is sent.
pub(crate) fn check_page_args(
    after: Option<&str>,
    limit: Option<u32>,
    wait: Option<u32>,
) -> Result<()> {
    let argument = |field: &'static str, message: String| Error::Validation {
        code: protocol::Code::InvalidArgument,
        message,
        field: Some(field.to_string()),
    };
    if let Some(after) = after {
        if decode_event_cursor(after).is_none() {
            return Err(argument(
                protocol::events::AFTER,
                format!("after must be a cursor returned by the feed (digits), got {after:?}"),
            ));
        }
    }
    if let Some(limit) = limit {
        if limit == 0 || limit > protocol::events::MAX_EVENTS_LIMIT {
            return Err(argument(
                fields::LIMIT,
                format!(
                    "limit must be 1 to {}, got {limit}",
                    protocol::events::MAX_EVENTS_LIMIT
                ),
            ));
        }
    }
    if let Some(wait) = wait {
        if wait > protocol::events::MAX_EVENTS_WAIT_SECS {
            return Err(argument(
                protocol::events::WAIT,
                format!(
                    "wait must be 0 to {} seconds, got {wait}",
                    protocol::events::MAX_EVENTS_WAIT_SECS
                ),
            ));
        }
    }
    Ok(())
}

/// A resumable reader of the feed, shared by the async stream, the blocking iterator and
/// the bindings' iterators: it hands out buffered events and says when to fetch.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    cursor: Option<String>,
    buffer: VecDeque<Event>,
    failed: bool,
}

/// What a [`Feed`] wants next.
#[derive(Debug)]
pub enum Step {
    /// The next event; its [`Event::cursor`] resumes right after it.
    Yield(Event),
    /// Fetch the page after this cursor (`None`: from the oldest retained event),
    /// long-polling [`LONG_POLL_WAIT_SECS`].
    Fetch(Option<String>),
    /// The feed failed before; it ends.
    Done,
}

impl Feed {
    /// A feed that starts after `after` (a stored cursor), or at the oldest event.
    pub fn new(after: Option<&str>) -> Feed {
        Feed {
            cursor: after.map(str::to_string),
            ..Feed::default()
        }
    }

    pub fn step(&mut self) -> Step {
        if self.failed {
            return Step::Done;
        }
        match self.buffer.pop_front() {
            Some(event) => Step::Yield(event),
            None => Step::Fetch(self.cursor.clone()),
        }
    }

    pub fn feed(&mut self, page: EventsPage) {
        self.buffer.extend(page.events);
        self.cursor = Some(page.next_cursor);
    }

    /// After an error is handed out, the feed ends: the bot resumes from its stored cursor.
    pub fn fail(&mut self) {
        self.failed = true;
    }
}

/// Checks a received webhook (Standard Webhooks) and returns its event.
///
/// `headers` are the request's (name, value) pairs, names in any case; `body` the raw
/// body; `secrets` one `whsec_` secret or several (during a rotation, any may match).
/// The timestamp must be within 5 minutes of this machine's clock. Errors:
/// `webhook_signature_invalid`, `webhook_timestamp_out_of_tolerance`,
/// `webhook_header_malformed` (a header missing or malformed), `webhook_secret_malformed`
/// (all [`Error::Webhook`]), or `invalid_json` when a verified body is not an event.
pub fn verify_webhook<K: AsRef<str>, V: AsRef<str>, S: AsRef<str>>(
    headers: &[(K, V)],
    body: &[u8],
    secrets: &[S],
) -> Result<Event> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.as_ref().trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref().trim())
    };
    let mut outcome = Err(WebhookError::MalformedSecret);
    for secret in secrets {
        outcome = webhook::verify(
            header,
            body,
            secret.as_ref(),
            now,
            webhook::DEFAULT_TOLERANCE_SECS,
        )
        .map(|_| ());
        // Only the signature depends on the secret: another secret may match it.
        if !matches!(outcome, Err(WebhookError::InvalidSignature)) {
            break;
        }
    }
    outcome?;
    serde_json::from_slice(body).map_err(|e| Error::Validation {
        code: protocol::Code::InvalidJson,
        message: format!("the webhook's body is signed but is not an event: {e}"),
        field: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn signed(body: &[u8], t: i64) -> Vec<(String, String)> {
        let secret = webhook::Secret::parse(SECRET).unwrap();
        vec![
            ("Webhook-Id".into(), "evt_1".into()),
            ("WEBHOOK-TIMESTAMP".into(), t.to_string()),
            (
                "webhook-signature".into(),
                webhook::sign(&[secret], "evt_1", t, body),
            ),
        ]
    }

    #[test]
    fn verify_webhook_codes() {
        let body = br#"{"id":"evt_1","seq":3,"type":"credits.added","created_at":"2026-01-01T00:00:00Z","source":"a","telegram_id":1,"data":{}}"#;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let h = signed(body, now);
        let event = verify_webhook(&h, body, &[SECRET]).unwrap();
        assert_eq!((event.seq, event.cursor()), (3, "3".to_string()));
        let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(verify_webhook(&h, body, &[other, SECRET]).is_ok());
        let code = |r: Result<Event>| r.unwrap_err().code().as_str();
        assert_eq!(
            code(verify_webhook(&h, b"{}", &[SECRET])),
            "webhook_signature_invalid"
        );
        assert_eq!(
            code(verify_webhook(&h, body, &[other])),
            "webhook_signature_invalid"
        );
        assert_eq!(
            code(verify_webhook(&signed(body, now - 301), body, &[SECRET])),
            "webhook_timestamp_out_of_tolerance"
        );
        assert_eq!(
            code(verify_webhook(&h[..2], body, &[SECRET])),
            "webhook_header_malformed"
        );
        assert_eq!(
            code(verify_webhook(&h, body, &["nope"])),
            "webhook_secret_malformed"
        );
        assert_eq!(
            code(verify_webhook::<_, _, &str>(&h, body, &[])),
            "webhook_secret_malformed"
        );
    }
}
