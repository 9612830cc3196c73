//! The money flows (holds, captures, voids, reversals, transfers) as the suite sends them:
//! a write that an honest client sends again with the same reference and a fresh
//! signature, a user's balance view with its holds, and the `verify` every test ends with.

use credit_sync::protocol::{paths, HoldData, HoldsResponse, ReverseData, TransferData};
use credit_sync::signature;
use credit_sync_testkit::{now, Reply, Server, Wire};
use serde_json::{json, Value};

/// One v2-signed write: its path and body stay the same on every attempt, its signature
/// does not (each attempt signs at a second this call has not signed at), as an SDK's
/// retry does. The same bytes under one signature twice would be a replay of the
/// signature, which is another test's subject (`replay.rs`).
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub body: Vec<u8>,
    signed_at: Vec<i64>,
}

impl Call {
    pub fn new(path: impl Into<String>, body: &Value) -> Call {
        Call {
            path: path.into(),
            body: serde_json::to_vec(body).expect("JSON"),
            signed_at: Vec::new(),
        }
    }

    pub fn hold(telegram_id: i64, amount: i64, reference: &str, ttl_secs: Option<i64>) -> Call {
        let mut body = json!({
            "telegram_id": telegram_id, "amount": amount, "reason": "job",
            "external_reference": reference,
        });
        if let Some(ttl) = ttl_secs {
            body["ttl_secs"] = json!(ttl);
        }
        Call::new(paths::HOLDS, &body)
    }

    /// A capture of `amount` (`None`: all of the hold).
    pub fn capture(hold_id: &str, amount: Option<i64>, reference: &str) -> Call {
        let mut body = json!({"external_reference": reference});
        if let Some(amount) = amount {
            body["amount"] = json!(amount);
        }
        Call::new(paths::capture(hold_id), &body)
    }

    pub fn void(hold_id: &str, reference: &str) -> Call {
        Call::new(
            paths::void(hold_id),
            &json!({"external_reference": reference}),
        )
    }

    /// A reversal of `amount` of the record `original` names: `Ok(record_id)` or
    /// `Err(original_reference)`.
    pub fn reverse(original: Result<i64, &str>, amount: i64, reference: &str) -> Call {
        let mut body =
            json!({"amount": amount, "reason": "refund", "external_reference": reference});
        match original {
            Ok(record_id) => body["record_id"] = json!(record_id),
            Err(original_reference) => body["original_reference"] = json!(original_reference),
        }
        Call::new(paths::REVERSE, &body)
    }

    pub fn transfer(from: i64, to: i64, amount: i64, reference: &str) -> Call {
        Call::new(
            paths::TRANSFER,
            &json!({
                "from_telegram_id": from, "to_telegram_id": to, "amount": amount,
                "reason": "gift", "external_reference": reference,
            }),
        )
    }

    /// A second this call has not signed at: now, or the newest earlier one still free.
    fn fresh_time(&mut self) -> i64 {
        let mut t = now();
        while self.signed_at.contains(&t) {
            t -= 1;
        }
        self.signed_at.push(t);
        t
    }

    /// One attempt: `Err` when no whole answer arrived (refused, cut, timed out).
    pub async fn try_send(&mut self, wire: &Wire) -> Result<Reply, reqwest::Error> {
        let t = self.fresh_time();
        self.try_send_at(wire, t).await
    }

    /// One attempt signed at `t` (copies of one call sent at once each take their own).
    pub async fn try_send_at(&mut self, wire: &Wire, t: i64) -> Result<Reply, reqwest::Error> {
        if !self.signed_at.contains(&t) {
            self.signed_at.push(t);
        }
        let sig = signature::v2_header(&wire.secret, t, "POST", &self.path, &self.body);
        wire.send(
            "POST",
            &self.path,
            &[
                (credit_sync::protocol::headers::API_KEY, &wire.api_key),
                (credit_sync::protocol::headers::SIGNATURE, &sig),
                ("content-type", "application/json"),
            ],
            self.body.clone(),
        )
        .await
    }

    /// One attempt that must get an answer.
    pub async fn send(&mut self, wire: &Wire) -> Reply {
        self.try_send(wire)
            .await
            .unwrap_or_else(|e| panic!("{} got no answer: {e}", self.path))
    }

    /// How many times it was sent.
    pub fn attempts(&self) -> usize {
        self.signed_at.len()
    }
}

/// The `data` of a hold's answer (or of its `hold_resolved`), typed.
pub fn hold_data(reply: &Reply) -> HoldData {
    serde_json::from_value(reply.body["data"].clone())
        .unwrap_or_else(|e| panic!("hold data of {}: {e}", reply.text))
}

pub fn reverse_data(reply: &Reply) -> ReverseData {
    serde_json::from_value(reply.body["data"].clone())
        .unwrap_or_else(|e| panic!("reversal data of {}: {e}", reply.text))
}

pub fn transfer_data(reply: &Reply) -> TransferData {
    serde_json::from_value(reply.body["data"].clone())
        .unwrap_or_else(|e| panic!("transfer data of {}: {e}", reply.text))
}

/// A user's balance view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub credits: i64,
    pub held: i64,
    pub available: i64,
}

/// The balance view and the open holds of a user (`GET /api/credits/holds/{id}`), which
/// must agree with each other and with the balance read; `None` when not registered.
pub async fn holds(wire: &Wire, telegram_id: i64) -> Option<HoldsResponse> {
    let reply = wire.get(&paths::holds(telegram_id)).await;
    if reply.outcome() == (404, "user_not_found") {
        return None;
    }
    reply.expect_ok();
    let list: HoldsResponse = serde_json::from_value(reply.body.clone())
        .unwrap_or_else(|e| panic!("holds of {telegram_id}: {e}: {}", reply.text));
    let sum: i64 = list.holds.iter().map(|h| h.amount).sum();
    assert_eq!(
        list.held, sum,
        "user {telegram_id}: held is not the sum of the open holds: {}",
        reply.text
    );
    assert_eq!(list.available, list.credits - list.held, "{}", reply.text);
    Some(list)
}

/// The balance read's view, checked against itself (`available = credits - held`).
pub async fn view(wire: &Wire, telegram_id: i64) -> Option<View> {
    let reply = wire.get(&paths::balance(telegram_id)).await;
    if reply.outcome() == (404, "user_not_found") {
        return None;
    }
    reply.expect_ok();
    let n = |k: &str| {
        reply.body[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{k}: {}", reply.text))
    };
    let v = View {
        credits: n("credits"),
        held: n("held"),
        available: n("available"),
    };
    assert_eq!(v.available, v.credits - v.held, "{}", reply.text);
    Some(v)
}

/// `credit-sync-server verify --config …` on the server's database exits 0.
pub fn assert_verified(server: &Server) {
    let out = server.run_cli(&["verify", "--config", "{config}"]);
    assert!(
        out.status.success(),
        "credit-sync-server verify failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
