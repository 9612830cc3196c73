//! One delivery attempt over HTTP: the event's JSON, signed afresh (a new
//! `webhook-timestamp` and `webhook-signature` per attempt, the same `webhook-id`), with a
//! bounded time for the whole exchange. Its own client, so a slow endpoint holds only its
//! own connections; redirects are not followed (a 3xx is a failure, never a hop to an
//! address the operator did not configure).

use super::config::Endpoint;
use credit_sync::webhook::{self, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use std::time::Duration;

/// The HTTP client every worker of this process shares.
#[derive(Clone)]
pub struct Delivery {
    client: reqwest::Client,
}

/// The longest `last_error` kept.
const MAX_ERROR: usize = 300;

impl Delivery {
    pub fn new() -> Result<Delivery, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("credit-sync-webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        Ok(Delivery { client })
    }

    /// POSTs `body` (the event `id`'s JSON) to the endpoint. `Ok` for any 2xx; otherwise
    /// why not, in words that never include the URL (its query may hold a token).
    pub async fn attempt(
        &self,
        endpoint: &Endpoint,
        id: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<(), String> {
        let timestamp = crate::ledger::now_ms() / 1000;
        let signature = webhook::sign(&endpoint.secrets, id, timestamp, body);
        let sent = self
            .client
            .post(&endpoint.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
            Err(e) if e.is_timeout() => Err(format!("timed out after {} ms", timeout.as_millis())),
            Err(e) => Err(shorten(describe(&e.without_url()))),
        }
    }
}

/// The error and its causes, on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn shorten(mut text: String) -> String {
    if text.len() > MAX_ERROR {
        let mut end = MAX_ERROR;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
