//! Signed requests sent with plain reqwest, bypassing the SDK, so a test controls
//! every byte: the core's own `signature` functions sign them (v1 body token or v2
//! header), and hostile tests can sign wrongly on purpose.

use credit_sync::protocol::{headers, paths, Record, RecordsResponse};
use credit_sync::signature;
use credit_sync_testkit::Source;
use serde_json::{json, Value};
use std::time::Duration;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// One answer: status, headers and the body (parsed when it is JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// The envelope's `code`, or `""` when there is none.
    pub fn code(&self) -> &str {
        self.json.get("code").and_then(Value::as_str).unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `(status, code)`, for compact assertions.
    pub fn outcome(&self) -> (u16, &str) {
        (self.status, self.code())
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
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            text,
            json,
        })
    }

    /// A JSON POST with this source's API key and a v2 signature over the exact bytes.
    pub async fn post_v2_bytes(&self, path: &str, body: Vec<u8>) -> Reply {
        let sig = signature::v2_header(&self.secret, now(), "POST", path, &body);
        self.send_signed("POST", path, &sig, "application/json", body)
            .await
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

    pub async fn post_v2(&self, path: &str, body: &Value) -> Reply {
        self.post_v2_bytes(path, serde_json::to_vec(body).unwrap())
            .await
    }

    /// A JSON POST with only the API key (the body carries a v1 token, or nothing).
    pub async fn post_unsigned(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            &[
                (headers::API_KEY, &self.api_key),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(body).unwrap(),
        )
        .await
        .expect("the server answers")
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
        let token = signature::v1_token(&self.secret, telegram_id, amount, &self.source, timestamp);
        let mut body = json!({
            "telegram_id": telegram_id, "amount": amount, "source": self.source,
            "reason": reason, "timestamp": timestamp, "token": token,
        });
        if let Some(r) = reference {
            body["external_reference"] = json!(r);
        }
        body
    }

    /// A v1-signed sync, as the guide's bots send it.
    pub async fn sync_v1(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Reply {
        let body = self.v1_body(telegram_id, amount, reason, reference, now());
        self.post_unsigned(paths::SYNC, &body).await
    }

    /// A v2-signed sync.
    pub async fn sync_v2(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Reply {
        let mut body = json!({
            "telegram_id": telegram_id, "amount": amount, "source": self.source, "reason": reason,
        });
        if let Some(r) = reference {
            body["external_reference"] = json!(r);
        }
        self.post_v2(paths::SYNC, &body).await
    }

    /// A v2-signed GET.
    pub async fn get_v2(&self, path_and_query: &str) -> Reply {
        let sig = signature::v2_header(&self.secret, now(), "GET", path_and_query, b"");
        self.send(
            "GET",
            path_and_query,
            &[
                (headers::API_KEY, &self.api_key),
                (headers::SIGNATURE, &sig),
            ],
            Vec::new(),
        )
        .await
        .expect("the server answers")
    }

    /// The balance, or `None` when the user is not registered.
    pub async fn balance(&self, telegram_id: i64) -> Option<i64> {
        let reply = self.get_v2(&paths::balance(telegram_id)).await;
        match reply.outcome() {
            (200, "ok") => Some(reply.json["credits"].as_i64().expect("credits")),
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
            let reply = self.get_v2(&path).await;
            if reply.outcome() == (404, "user_not_found") {
                return out;
            }
            assert_eq!(reply.outcome(), (200, "ok"), "records: {}", reply.text);
            let page: RecordsResponse = serde_json::from_value(reply.json).expect("a records page");
            out.extend(page.page.records);
            match page.page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }
}
