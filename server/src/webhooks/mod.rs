//! Webhook delivery (issue 14): every committed event, in `seq` order, to each configured
//! `[[webhooks]]` endpoint, signed per Standard Webhooks by core's `webhook::sign`, at
//! least once. The outbox rows the API's transactions already write are the queue: the
//! API does nothing more per event, and a worker task per endpoint (this module's
//! [`Webhooks`]) reads them after the endpoint's cursor. See docs/events.md.
//!
//! - [`config`]: the config file's entries, resolved and checked; [`filter`]: which
//!   events an endpoint takes; [`schedule`]: the retry backoff.
//! - [`delivery`]: one HTTP attempt; [`worker`]: one endpoint's loop; [`store`]: its
//!   state per backend; [`stats`]: its `/metrics`; [`admin`]: `webhooks list|replay`.

pub mod admin;
pub mod config;
mod delivery;
pub mod filter;
pub mod schedule;
pub mod stats;
pub mod store;
mod worker;

pub use config::{DeliveryConfig, Endpoint, WebhookEntry};
pub use stats::Stats;

use crate::ledger::{now_ms, Ledger};
use delivery::Delivery;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use worker::Worker;

/// How long a stopping server lets its workers write their progress.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// This process's delivery workers, one per endpoint.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    ledger: Ledger,
    store: Store,
    delivery: Delivery,
    settings: Arc<DeliveryConfig>,
    me: Arc<str>,
    stats: Arc<Stats>,
    shutdown: watch::Sender<bool>,
    /// By URL: the endpoint's settings (a reload sends new ones) and its task.
    workers: Mutex<HashMap<String, Running>>,
}

/// A running worker: where its settings come from (dropped: it stops) and its task.
type Running = (watch::Sender<Arc<Endpoint>>, JoinHandle<()>);

impl Webhooks {
    /// Registers the endpoints in the database and starts their workers.
    pub async fn start(
        ledger: &Ledger,
        endpoints: &[Endpoint],
        settings: &DeliveryConfig,
    ) -> Result<Webhooks, String> {
        let events = ledger.events();
        let webhooks = Webhooks {
            inner: Arc::new(Inner {
                ledger: ledger.clone(),
                store: Store::of(ledger),
                delivery: Delivery::new()?,
                settings: Arc::new(settings.clone()),
                me: format!("{}-{:08x}", std::process::id(), rand::random::<u32>()).into(),
                stats: Arc::new(Stats::new(events.notifier().clone())),
                shutdown: watch::channel(false).0,
                workers: Mutex::new(HashMap::new()),
            }),
        };
        webhooks.reconfigure(endpoints).await?;
        Ok(webhooks)
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.inner.stats.clone()
    }

    /// Puts `endpoints` in force (a SIGHUP reload): new ones start, changed ones take
    /// their new secrets and filters at their next event, removed ones stop. Their state
    /// stays in the database, so an endpoint added back resumes where it stopped.
    pub async fn reconfigure(&self, endpoints: &[Endpoint]) -> Result<(), String> {
        let inner = &self.inner;
        for endpoint in endpoints {
            inner
                .store
                .register(&endpoint.url, now_ms())
                .await
                .map_err(|e| format!("cannot register webhook {:?}: {e}", endpoint.label()))?;
        }
        let mut workers = inner.workers.lock().expect("webhook workers lock");
        workers.retain(|url, (settings, _)| {
            let kept = endpoints.iter().any(|e| &e.url == url);
            // Dropping a removed endpoint's sender stops its worker.
            if !kept {
                settings.send_modify(|_| {});
                inner.stats.remove(&config::label(url));
            }
            kept
        });
        for endpoint in endpoints {
            let endpoint = Arc::new(endpoint.clone());
            if let Some((settings, _)) = workers.get(&endpoint.url) {
                settings.send_if_modified(|current| {
                    let changed = **current != *endpoint;
                    *current = endpoint.clone();
                    changed
                });
                continue;
            }
            let (settings, receiver) = watch::channel(endpoint.clone());
            let worker = Worker {
                endpoint: receiver,
                store: inner.store.clone(),
                events: inner.ledger.events(),
                delivery: inner.delivery.clone(),
                settings: inner.settings.clone(),
                me: inner.me.clone(),
                stats: inner.stats.endpoint(&endpoint.label()),
                shutdown: inner.shutdown.subscribe(),
            };
            let task = tokio::spawn(worker.run());
            workers.insert(endpoint.url.clone(), (settings, task));
        }
        Ok(())
    }

    /// Stops every worker, letting each write its progress and release its claim.
    pub async fn stop(&self) {
        let _ = self.inner.shutdown.send(true);
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .workers
            .lock()
            .expect("webhook workers lock")
            .drain()
            .map(|(_, (_, task))| task)
            .collect();
        for mut task in tasks {
            if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}
