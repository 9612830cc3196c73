//! What an operator sees of the deliveries (`credit-sync-server webhooks list`, the
//! console's webhooks page) and `webhooks replay`: read and written straight on the
//! database, like the other admin commands.

use super::config::Endpoint;
use super::store::{Failure, Store};
use crate::ledger::{rfc3339_ms, Ledger, LedgerError};
use serde::Serialize;

/// Failed deliveries listed per endpoint (the count covers all of them).
pub const LISTED_FAILURES: i64 = 20;

/// One endpoint's delivery state.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Without credentials or query.
    pub endpoint: String,
    /// The last `seq` done.
    pub cursor: i64,
    /// Events after the cursor that match the endpoint's filters.
    pub backlog: i64,
    /// Failed attempts of the event being delivered.
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// A replay asked for and not yet taken by the worker.
    pub replay_from: Option<i64>,
    pub failed_deliveries: i64,
    pub failures: Vec<FailureView>,
}

/// A failed delivery as shown.
#[derive(Debug, Clone, Serialize)]
pub struct FailureView {
    pub seq: i64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub attempts: i64,
    pub last_error: String,
    pub first_failed_at: String,
    pub failed_at: String,
}

impl From<Failure> for FailureView {
    fn from(f: Failure) -> Self {
        FailureView {
            seq: f.seq,
            event_id: f.event_id,
            kind: f.kind,
            attempts: f.attempts,
            last_error: f.last_error,
            first_failed_at: rfc3339_ms(f.first_failed_at_ms),
            failed_at: rfc3339_ms(f.failed_at_ms),
        }
    }
}

/// The state of each configured endpoint (one the worker never registered shows as new).
pub async fn summaries(store: &Store, endpoints: &[Endpoint]) -> Result<Vec<Summary>, LedgerError> {
    let mut out = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let row = store.endpoint(&endpoint.url).await?;
        let cursor = row.as_ref().map_or(0, |r| r.cursor);
        let backlog = store
            .counts_after(cursor)
            .await?
            .into_iter()
            .filter(|c| endpoint.filter.matches_parts(&c.kind, c.source.as_deref()))
            .map(|c| c.n)
            .sum();
        let failures = match &row {
            Some(_) => store.failures(&endpoint.url, LISTED_FAILURES).await?,
            None => Vec::new(),
        };
        let row = row.as_ref();
        out.push(Summary {
            endpoint: endpoint.label(),
            cursor,
            backlog,
            attempts: row.map_or(0, |r| r.attempts),
            next_attempt_at: row
                .filter(|r| r.attempts > 0)
                .map(|r| rfc3339_ms(r.next_attempt_at_ms)),
            last_error: row.and_then(|r| r.last_error.clone()),
            last_error_at: row.and_then(|r| r.last_error_at_ms).map(rfc3339_ms),
            replay_from: row.and_then(|r| r.replay_from),
            failed_deliveries: row.map_or(0, |r| r.failed),
            failures: failures.into_iter().map(FailureView::from).collect(),
        });
    }
    Ok(out)
}

/// `webhooks list`: every configured endpoint's state, as JSON.
pub async fn list(url: &str, endpoints: &[Endpoint]) -> Result<(), String> {
    let ledger = Ledger::open_existing(url).await?;
    let result = summaries(&Store::of(&ledger), endpoints).await;
    ledger.close().await;
    let summaries = result.map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&summaries).expect("summaries serialize")
    );
    Ok(())
}

/// `webhooks replay --endpoint URL --from SEQ`: the endpoint's worker delivers every
/// matching event from `from` again (at its next claim, within a third of the lease).
pub async fn replay(
    url: &str,
    endpoints: &[Endpoint],
    endpoint: &str,
    from: i64,
) -> Result<(), String> {
    if from < 1 {
        return Err("--from must be a seq of 1 or more".into());
    }
    let Some(endpoint) = endpoints
        .iter()
        .find(|e| e.url == endpoint || e.label() == endpoint)
    else {
        return Err(format!(
            "no [[webhooks]] endpoint {endpoint:?} in the config"
        ));
    };
    let ledger = Ledger::open_existing(url).await?;
    let store = Store::of(&ledger);
    let result = async {
        store
            .register(&endpoint.url, crate::ledger::now_ms())
            .await?;
        store.replay(&endpoint.url, from).await
    }
    .await;
    ledger.close().await;
    result.map_err(|e| e.to_string())?;
    println!(
        "replay of {} from seq {from} requested; the server delivers it at its next claim",
        endpoint.label()
    );
    Ok(())
}
