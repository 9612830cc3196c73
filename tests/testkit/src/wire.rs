//! Signed requests sent with plain reqwest, bypassing the SDK, so a test controls every
//! byte: the core's own `signature` module signs them (v1 body token or v2 header), and
//! hostile tests can sign wrongly, or send another content type, on purpose.

use crate::server::Source;
use credit_sync::protocol::{headers, paths, Record, RecordsResponse};
use credit_sync::signature;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A timestamp for a v1 signature that this process has not used before: now, or the
/// newest earlier second still free. Two equal unreferenced v1 changes a test sends in
/// one second then carry two signatures, as two honest requests a second apart would;
/// the same signature twice is a replay (`signature_reused`, docs/protocol.md).
///
/// A burst of n signatures reaches n seconds back, so it panics past 250 (the server's
/// window is ±300 s): such a test gives its bodies explicit timestamps.
pub fn signing_time() -> i64 {
    static USED: Mutex<BTreeSet<i64>> = Mutex::new(BTreeSet::new());
    let now = now();
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    let mut t = now;
    while used.contains(&t) {
        t -= 1;
    }
    assert!(
        now - t <= 250,
        "more than 250 v1 signatures in a few minutes: use explicit timestamps"
    );
    used.insert(t);
    t
}

/// One answer: status, headers, the body's text, and the body parsed (`Null` when it is
/// not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    /// Reads the whole answer.
    pub async fn read(response: reqwest::Response) -> Result<Reply, reqwest::Error> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            text,
            body,
        })
    }

    /// The envelope's `code`, or `""` when there is none.
    pub fn code(&self) -> &str {
        self.body.get("code").and_then(Value::as_str).unwrap_or("")
    }

    /// The envelope's `field`, or `""` when there is none.
    pub fn field(&self) -> &str {
        self.body.get("field").and_then(Value::as_str).unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `(status, code)`, for compact assertions.
    pub fn outcome(&self) -> (u16, &str) {
        (self.status, self.code())
    }

    /// Asserts status, code and the error envelope's shape.
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.outcome(),
            (status, code),
            "unexpected answer: {}",
            self.text
        );
        assert_eq!(self.body["success"], false, "{}", self.text);
        // Only `hold_resolved` carries data: the hold's final state (docs/protocol.md).
        assert_eq!(
            self.body["data"].is_null(),
            code != "hold_resolved",
            "{}",
            self.text
        );
        assert!(self.body["server_time"].is_i64(), "{}", self.text);
        self
    }

    pub fn expect_ok(&self) -> &Self {
        assert_eq!(
            self.outcome(),
            (200, "ok"),
            "unexpected answer: {}",
            self.text
        );
        self
    }
}

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// No `X-Signature` header: the body carries its own v1 token.
    V1,
    /// A v2 `X-Signature` header over the exact bytes, at now.
    V2,
    /// v2 at this timestamp.
    V2At(i64),
    /// No signature at all.
    None,
}

impl Sign {
    fn v2_timestamp(self) -> Option<i64> {
        match self {
            Sign::V2 => Some(now()),
            Sign::V2At(t) => Some(t),
            Sign::V1 | Sign::None => None,
        }
    }
}

/// A raw client for one source at one server.
#[derive(Clone)]
pub struct Wire {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub secret: String,
    pub source: String,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of assertion messages.
        f.debug_struct("Wire")
            .field("base_url", &self.base_url)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Wire {
    pub fn new(base_url: &str, source: &Source) -> Wire {
        Wire {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("reqwest client"),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: source.api_key.clone(),
            secret: source.secret.clone(),
            source: source.name.clone(),
        }
    }

    /// Sends exactly what it is given: no signature, no content type unless in `headers`.
    pub async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path_and_query}", self.base_url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        Reply::read(req.send().await?).await
    }

    /// Sends `body` with this source's API key and exactly the `X-Signature` value and
    /// content type given (hostile-input tests forge either).
    pub async fn send_signed(
        &self,
        method: &str,
        path_and_query: &str,
        signature: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        self.send(
            method,
            path_and_query,
            &[
                (headers::API_KEY, &self.api_key),
                (headers::SIGNATURE, signature),
                ("content-type", content_type),
            ],
            body,
        )
        .await
        .expect("the server answers")
    }

    /// A JSON POST with this source's API key, signed as `sign` says.
    pub async fn post(&self, path: &str, body: &Value, sign: Sign) -> Reply {
        self.post_raw(
            path,
            serde_json::to_vec(body).expect("JSON"),
            "application/json",
            sign,
        )
        .await
    }

    /// A POST of these exact bytes and content type with this source's API key.
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        sign: Sign,
    ) -> Reply {
        match sign.v2_timestamp() {
            Some(t) => {
                let sig = signature::v2_header(&self.secret, t, "POST", path, &body);
                self.send_signed("POST", path, &sig, content_type, body)
                    .await
            }
            None => self
                .send(
                    "POST",
                    path,
                    &[
                        (headers::API_KEY, &self.api_key),
                        ("content-type", content_type),
                    ],
                    body,
                )
                .await
                .expect("the server answers"),
        }
    }

    /// A v2-signed GET (reads require v2).
    pub async fn get(&self, path_and_query: &str) -> Reply {
        self.get_signed(path_and_query, Sign::V2).await
    }

    pub async fn get_signed(&self, path_and_query: &str, sign: Sign) -> Reply {
        let sig = sign
            .v2_timestamp()
            .map(|t| signature::v2_header(&self.secret, t, "GET", path_and_query, b""));
        let mut headers = vec![(headers::API_KEY, self.api_key.as_str())];
        if let Some(sig) = &sig {
            headers.push((headers::SIGNATURE, sig));
        }
        self.send("GET", path_and_query, &headers, Vec::new())
            .await
            .expect("the server answers")
    }

    /// The v1 token of this source for a change at `timestamp`.
    pub fn v1_token(&self, telegram_id: i64, amount: i64, timestamp: i64) -> String {
        signature::v1_token(&self.secret, telegram_id, amount, &self.source, timestamp)
    }

    /// A sync body without a signature (v2 signs the bytes instead).
    pub fn change_body(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Value {
        let mut body = json!({
            "telegram_id": telegram_id, "amount": amount, "source": self.source, "reason": reason,
        });
        if let Some(r) = reference {
            body["external_reference"] = json!(r);
        }
        body
    }

    /// The guide's sync body with a v1 token at `timestamp`.
    pub fn v1_body(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
        timestamp: i64,
    ) -> Value {
        let mut body = self.change_body(telegram_id, amount, reason, reference);
        body["timestamp"] = json!(timestamp);
        body["token"] = json!(self.v1_token(telegram_id, amount, timestamp));
        body
    }

    /// A v1-signed sync, as the guide's bots send it, at a fresh [`signing_time`].
    pub async fn sync(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Reply {
        let body = self.v1_body(telegram_id, amount, reason, reference, signing_time());
        self.post(paths::SYNC, &body, Sign::V1).await
    }

    /// A v2-signed sync (the body carries no token).
    pub async fn sync_v2(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Reply {
        let body = self.change_body(telegram_id, amount, reason, reference);
        self.post(paths::SYNC, &body, Sign::V2).await
    }

    /// Adds credits (v1) and asserts success.
    pub async fn fund(&self, telegram_id: i64, amount: i64) -> Reply {
        let reply = self.sync(telegram_id, amount, "funding", None).await;
        reply.expect_ok();
        reply
    }

    /// The `/metrics` page (Prometheus text; no credentials needed).
    pub async fn metrics(&self) -> String {
        self.send("GET", paths::METRICS, &[], Vec::new())
            .await
            .expect("the server answers")
            .text
    }

    /// The balance, or `None` when the user is not registered.
    pub async fn balance(&self, telegram_id: i64) -> Option<i64> {
        let reply = self.get(&paths::balance(telegram_id)).await;
        match reply.outcome() {
            (200, "ok") => Some(reply.body["credits"].as_i64().expect("credits")),
            (404, "user_not_found") => None,
            other => panic!(
                "balance of {telegram_id}: unexpected {other:?}: {}",
                reply.text
            ),
        }
    }

    /// Every record of a user, newest first (all pages of 200).
    pub async fn records(&self, telegram_id: i64) -> Vec<Record> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = paths::records(telegram_id, Some(200), cursor.as_deref());
            let reply = self.get(&path).await;
            if reply.outcome() == (404, "user_not_found") {
                return out;
            }
            assert_eq!(reply.outcome(), (200, "ok"), "records: {}", reply.text);
            let page: RecordsResponse = serde_json::from_value(reply.body).expect("a records page");
            out.extend(page.page.records);
            match page.page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    pub async fn record_count(&self, telegram_id: i64) -> usize {
        self.records(telegram_id).await.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_times_are_distinct_and_recent() {
        let times: Vec<i64> = (0..100).map(|_| signing_time()).collect();
        let distinct: BTreeSet<i64> = times.iter().copied().collect();
        assert_eq!(distinct.len(), times.len());
        assert!(times.iter().all(|t| now() - t <= 101));
    }
}
