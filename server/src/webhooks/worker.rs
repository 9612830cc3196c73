//! One endpoint's delivery loop: claim the endpoint (renewed every third of the lease),
//! read the events after its cursor in `seq` order, skip those its filter excludes, and
//! deliver each until a 2xx, retrying on the [`Schedule`] and giving up (the failure kept)
//! after the last attempt. It sleeps on the ledger's [`Notifier`] when caught up, with a
//! slow poll for what no notification announces (a replay). Each endpoint has its own task,
//! so a slow one holds up only itself.
//!
//! Progress is written once per page of events (or per renewal), not per event: a crash
//! re-delivers at most that page (at least once), and the ledger's writer is not asked for
//! a write per delivery.
//!
//! [`Schedule`]: super::schedule::Schedule
//! [`Notifier`]: crate::events::Notifier

use super::config::{DeliveryConfig, Endpoint};
use super::delivery::Delivery;
use super::stats::EndpointStats;
use super::store::{Failure, State, Store};
use crate::events::Events;
use crate::ledger::now_ms;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events read per page.
const PAGE: u32 = 100;

pub(super) struct Worker {
    pub endpoint: watch::Receiver<Arc<Endpoint>>,
    pub store: Store,
    pub events: Events,
    pub delivery: Delivery,
    pub settings: Arc<DeliveryConfig>,
    /// This process's name in `claimed_by`.
    pub me: Arc<str>,
    pub stats: Arc<EndpointStats>,
    pub shutdown: watch::Receiver<bool>,
}

/// How a claimed turn ended: `None` to go on at once (a page done, a renewal due), or
/// how long there is nothing to do (caught up, or waiting for a retry); and the state to
/// go on from (`None`: claim again, the claim or a replay changed it).
type Turn = (Option<Duration>, Option<State>);

impl Worker {
    pub async fn run(mut self) {
        let url = self.endpoint.borrow().url.clone();
        let label = super::config::label(&url);
        let mut latest = self.events.notifier().subscribe();
        // The state as this process last claimed or saved it, and when it claimed: a
        // fresh claim is not renewed for every batch of new events.
        let mut held: Option<(Instant, State)> = None;
        while !self.stopping() {
            let renew = self.settings.lease() / 3;
            let state = match held.take() {
                Some((claimed, state)) if claimed.elapsed() < renew => Ok(Some((claimed, state))),
                _ => {
                    let now = now_ms();
                    let lease = self.settings.lease().as_millis() as i64;
                    let claimed = Instant::now();
                    self.store
                        .claim(&url, &self.me, now, now + lease)
                        .await
                        .map(|state| state.map(|state| (claimed, state)))
                }
            };
            let pause = match state {
                Ok(Some((claimed, state))) => {
                    latest.borrow_and_update();
                    match self.turn(&url, claimed, state).await {
                        Ok((turn, state)) => {
                            held = state.map(|state| (claimed, state));
                            turn
                        }
                        Err(e) => {
                            tracing::warn!(endpoint = %label, error = %e, "webhook delivery paused");
                            Some(self.settings.poll())
                        }
                    }
                }
                // Another process delivers it; look again now and then (its lease may run out).
                Ok(None) => Some(self.settings.poll()),
                Err(e) => {
                    tracing::warn!(endpoint = %label, error = %e, "claiming a webhook endpoint failed");
                    Some(self.settings.poll())
                }
            };
            if let Some(pause) = pause {
                // Renew well within the lease even when idle.
                let pause = pause.min(renew);
                tokio::select! {
                    _ = latest.changed() => {}
                    () = tokio::time::sleep(pause) => {}
                    _ = self.shutdown.changed() => {}
                    _ = self.endpoint.changed() => {}
                }
            }
        }
        let _ = self.store.release(&url, &self.me).await;
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow() || self.endpoint.has_changed().is_err()
    }

    /// One turn while holding the claim: until a page is done, a retry must wait, or the
    /// claim needs renewing.
    async fn turn(
        &mut self,
        url: &str,
        claimed: Instant,
        mut state: State,
    ) -> Result<Turn, crate::ledger::LedgerError> {
        let renew = self.settings.lease() / 3;
        self.stats.cursor.store(state.cursor, Ordering::Relaxed);
        let now = now_ms();
        if state.next_attempt_at_ms > now {
            let wait = Duration::from_millis((state.next_attempt_at_ms - now) as u64);
            return Ok((Some(wait), Some(state)));
        }
        let rows = self.events.after(state.cursor, PAGE).await?;
        if rows.is_empty() {
            self.stats.pending_since_ms.store(0, Ordering::Relaxed);
            return Ok((Some(self.settings.poll()), Some(state)));
        }
        let endpoint = self.endpoint.borrow_and_update().clone();
        let schedule = self.settings.schedule();
        let timeout = endpoint.timeout.unwrap_or(self.settings.attempt_timeout());
        let mut dirty = false;
        for (created_at_ms, event) in rows {
            if claimed.elapsed() >= renew || self.stopping() {
                break;
            }
            if !endpoint.filter.matches(&event) {
                state.cursor = event.seq;
                dirty = true;
                continue;
            }
            self.stats
                .pending_since_ms
                .store(created_at_ms, Ordering::Relaxed);
            let body = serde_json::to_vec(&event).expect("an event serializes");
            match self
                .delivery
                .attempt(&endpoint, &event.id, &body, timeout)
                .await
            {
                Ok(()) => {
                    state = State {
                        cursor: event.seq,
                        ..State::default()
                    };
                    dirty = true;
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    self.stats.cursor.store(event.seq, Ordering::Relaxed);
                }
                Err(error) => {
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    let now = now_ms();
                    let attempts = state.attempts + 1;
                    let first_failed = *state.first_failed_at_ms.get_or_insert(now);
                    tracing::debug!(endpoint = %endpoint.label(), seq = event.seq, attempts, %error, "webhook attempt failed");
                    if schedule.gives_up(attempts as u32, first_failed, now) {
                        let failure = Failure {
                            seq: event.seq,
                            event_id: event.id.clone(),
                            kind: event.kind.as_str().to_string(),
                            attempts,
                            last_error: error,
                            first_failed_at_ms: first_failed,
                            failed_at_ms: now,
                        };
                        if !self.store.give_up(url, &self.me, &failure).await? {
                            return Ok((None, None));
                        }
                        tracing::warn!(endpoint = %endpoint.label(), seq = event.seq, attempts, error = %failure.last_error, "webhook delivery failed after its last attempt; kept");
                        self.stats.failed_deliveries.fetch_add(1, Ordering::Relaxed);
                        self.stats.cursor.store(event.seq, Ordering::Relaxed);
                        state = State {
                            cursor: event.seq,
                            ..State::default()
                        };
                        dirty = false;
                        continue;
                    }
                    state.attempts = attempts;
                    state.next_attempt_at_ms =
                        now + schedule.delay(attempts as u32).as_millis() as i64;
                    let saved = self
                        .store
                        .save(url, &self.me, &state, Some((&error, now)))
                        .await?;
                    return Ok((None, saved.then_some(state)));
                }
            }
        }
        if dirty && !self.store.save(url, &self.me, &state, None).await? {
            return Ok((None, None));
        }
        self.stats.cursor.store(state.cursor, Ordering::Relaxed);
        Ok((None, Some(state)))
    }
}
