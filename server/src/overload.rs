//! Load shedding: beyond `max_concurrent_requests` in flight the server answers
//! `503 service_unavailable` at once (with `Retry-After`) instead of queueing without bound.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use credit_sync::protocol::{paths, Code};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// In-flight request slots; `None` when unlimited.
#[derive(Clone)]
pub struct Slots(Option<Arc<Semaphore>>);

impl Slots {
    pub fn new(max: usize) -> Self {
        Slots((max > 0).then(|| Arc::new(Semaphore::new(max))))
    }
}

pub async fn shed(State(slots): State<Slots>, request: Request, next: Next) -> Response {
    // A long poll of the event feed parks on a notifier and holds no slot: a thousand
    // waiting bots must not shed everyone else's requests.
    let Some(semaphore) = slots
        .0
        .as_ref()
        .filter(|_| request.uri().path() != paths::EVENTS)
    else {
        return next.run(request).await;
    };
    match semaphore.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                Code::ServiceUnavailable,
                "the server is overloaded; retry later with the same external_reference",
            )
        }
        .into_response(),
    }
}
