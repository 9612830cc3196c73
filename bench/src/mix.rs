//! The workloads the bench drives, and how each request of them is built and
//! signed with the core's protocol types and signature functions.

use crate::stats::Sample;
use clap::ValueEnum;
use credit_sync::protocol::{
    headers, paths, BatchItem, BatchRequest, CaptureRequest, HoldRequest, SyncRequest,
};
use credit_sync::signature;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A workload mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mix {
    /// Single syncs adding 1 credit to users spread over `--users`.
    Adds,
    /// Single syncs deducting 1 credit from one hot, well-funded user.
    HotDeducts,
    /// Batches of `--batch-size` adds.
    Batch,
    /// Balance reads (v2-signed GETs) over `--users` seeded users.
    Reads,
    /// A hold of 1 credit, then its capture, on users spread over `--users` (funded
    /// first): one operation is the pair, two requests.
    Holds,
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            self.to_possible_value()
                .expect("no skipped variants")
                .get_name(),
        )
    }
}

/// Credentials and the base URL; signs each request as the SDK does (v1 token + v2 header).
#[derive(Clone)]
pub struct Signer {
    pub base_url: String,
    pub api_key: String,
    pub secret: String,
    pub source: String,
}

const HOT_USER: i64 = 1_000_000_007;
/// Users the reads mix seeds before it starts.
const MAX_READ_USERS: i64 = 1_000;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Signer {
    fn sync_request(&self, telegram_id: i64, amount: i64, reference: String) -> Vec<u8> {
        let timestamp = now();
        let body = SyncRequest {
            telegram_id,
            amount,
            source: self.source.clone(),
            reason: "bench".into(),
            timestamp: Some(timestamp),
            token: Some(signature::v1_token(
                &self.secret,
                telegram_id,
                amount,
                &self.source,
                timestamp,
            )),
            external_reference: Some(reference),
        };
        serde_json::to_vec(&body).expect("serializable")
    }

    fn batch_request(&self, items: Vec<BatchItem>) -> Vec<u8> {
        let body = BatchRequest {
            source: self.source.clone(),
            items,
            atomic: false,
            timestamp: None,
        };
        serde_json::to_vec(&body).expect("serializable")
    }

    /// Places a hold and captures it; whether both succeeded.
    async fn hold_and_capture(
        &self,
        http: &reqwest::Client,
        telegram_id: i64,
        reference: String,
    ) -> Result<bool, reqwest::Error> {
        let hold = HoldRequest {
            telegram_id,
            amount: 1,
            reason: "bench".into(),
            external_reference: Some(reference.clone()),
            ttl_secs: None,
            source: None,
        };
        let body = serde_json::to_vec(&hold).expect("serializable");
        let Some(answer) = self
            .send_json(http, reqwest::Method::POST, paths::HOLDS, body)
            .await?
        else {
            return Ok(false);
        };
        let Some(hold_id) = answer["data"]["hold"]["hold_id"].as_str() else {
            return Ok(false);
        };
        let capture = CaptureRequest {
            amount: None,
            external_reference: Some(format!("{reference}-c")),
            source: None,
        };
        let body = serde_json::to_vec(&capture).expect("serializable");
        self.send(http, reqwest::Method::POST, &paths::capture(hold_id), body)
            .await
    }

    /// Sends one signed request; its JSON answer when the server answered 2xx.
    async fn send_json(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Option<serde_json::Value>, reqwest::Error> {
        let header = signature::v2_header(&self.secret, now(), method.as_str(), path, &body);
        let response = http
            .request(method, format!("{}{}", self.base_url, path))
            .header(headers::API_KEY, &self.api_key)
            .header(headers::SIGNATURE, header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        if !response.status().is_success() {
            response.bytes().await?;
            return Ok(None);
        }
        Ok(response.json().await.ok())
    }

    /// Sends one signed request; returns whether the server answered 2xx.
    async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<bool, reqwest::Error> {
        let header = signature::v2_header(&self.secret, now(), method.as_str(), path, &body);
        let mut request = http
            .request(method, format!("{}{}", self.base_url, path))
            .header(headers::API_KEY, &self.api_key)
            .header(headers::SIGNATURE, header);
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let ok = response.status().is_success();
        response.bytes().await?;
        Ok(ok)
    }
}

/// One mix with its parameters: what to seed and what each worker sends.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mix: Mix,
    pub users: i64,
    pub batch_size: usize,
    pub concurrency: usize,
}

impl Plan {
    /// Seeds what the mix needs (a funded hot user, registered read users).
    pub async fn prepare(
        &self,
        http: &reqwest::Client,
        signer: &Signer,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let run = uuid_like();
        match self.mix {
            Mix::HotDeducts => {
                let body =
                    signer.sync_request(HOT_USER, 900_000_000_000, format!("bench-fund-{run}"));
                ensure(
                    signer
                        .send(http, reqwest::Method::POST, paths::SYNC, body)
                        .await?,
                    "fund the hot user",
                )?;
            }
            Mix::Reads | Mix::Holds => {
                // The holds mix funds its users well: each pair takes one credit.
                let amount = if self.mix == Mix::Holds {
                    1_000_000_000
                } else {
                    1
                };
                let users: Vec<i64> = (1..=self.users.min(MAX_READ_USERS)).collect();
                for chunk in users.chunks(credit_sync::protocol::limits::MAX_BATCH_ITEMS) {
                    let items = chunk
                        .iter()
                        .map(|&id| item(id, amount, format!("bench-seed-{run}-{id}")))
                        .collect();
                    ensure(
                        signer
                            .send(
                                http,
                                reqwest::Method::POST,
                                paths::BATCH,
                                signer.batch_request(items),
                            )
                            .await?,
                        "seed read users",
                    )?;
                }
            }
            Mix::Adds | Mix::Batch => {}
        }
        Ok(())
    }

    /// One worker: sends requests back to back on its connection until the deadline.
    pub async fn drive(
        &self,
        worker: usize,
        http: &reqwest::Client,
        signer: &Signer,
        deadline: Instant,
    ) -> Sample {
        let mut sample = Sample::default();
        let run = uuid_like();
        let mut seq: i64 = 0;
        while Instant::now() < deadline {
            seq += 1;
            let user = 1 + (seq * self.concurrency as i64 + worker as i64) % self.users.max(1);
            let reference = format!("bench-{run}-{worker}-{seq}");
            let (method, path, body, items) = match self.mix {
                Mix::Adds => (
                    reqwest::Method::POST,
                    paths::SYNC.to_string(),
                    signer.sync_request(user, 1, reference),
                    1,
                ),
                Mix::HotDeducts => (
                    reqwest::Method::POST,
                    paths::SYNC.to_string(),
                    signer.sync_request(HOT_USER, -1, reference),
                    1,
                ),
                Mix::Batch => {
                    let items = (0..self.batch_size)
                        .map(|i| {
                            item(
                                1 + (user + i as i64) % self.users.max(1),
                                1,
                                format!("{reference}-{i}"),
                            )
                        })
                        .collect();
                    (
                        reqwest::Method::POST,
                        paths::BATCH.to_string(),
                        signer.batch_request(items),
                        self.batch_size,
                    )
                }
                Mix::Reads => {
                    let id = 1 + user % self.users.min(MAX_READ_USERS);
                    (reqwest::Method::GET, paths::balance(id), Vec::new(), 1)
                }
                Mix::Holds => {
                    let id = 1 + user % self.users.min(MAX_READ_USERS);
                    let started = Instant::now();
                    let ok = matches!(signer.hold_and_capture(http, id, reference).await, Ok(true));
                    sample.record(started.elapsed(), 1, ok);
                    continue;
                }
            };
            let started = Instant::now();
            let ok = matches!(signer.send(http, method, &path, body).await, Ok(true));
            sample.record(started.elapsed(), items, ok);
        }
        sample
    }
}

fn item(telegram_id: i64, amount: i64, reference: String) -> BatchItem {
    BatchItem {
        telegram_id,
        amount,
        reason: "bench".into(),
        external_reference: Some(reference),
        token: None,
    }
}

fn ensure(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("could not {what}: the server refused").into())
    }
}

/// A per-run tag so repeated runs against one database never reuse a reference.
fn uuid_like() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", nanos, std::process::id())
}
