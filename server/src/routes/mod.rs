//! The HTTP surface: each handler checks the request in the protocol's order (transport,
//! key, permission, rate, body, source, signature, values) and then asks the ledger, which
//! spends the write's signature with the change.
//! This module holds the router and the checks every handler shares.

mod batch;
mod events;
mod flows;
mod holds;
mod ops;
mod reads;
mod writes;

use crate::auth::{self, Signed};
use crate::config::{Config, Permission, Scheme, SourceConfig};
use crate::error::{panic_response, ApiError};
use crate::ledger::{self, Actor, Applied, Change, Ledger, Outcome, Spend};
use crate::metrics::{self, Metrics};
use crate::openapi;
use crate::overload;
use crate::ratelimit::RateLimits;
use crate::request_id;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, OriginalUri, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use credit_sync::protocol::{
    fields, headers, item_field, limits, paths, validate_change, validate_nickname,
    validate_telegram_id, BalanceResponse, BatchData, BatchItemResult, BatchRequest, Code,
    Envelope, RecordsResponse, RegisterUserRequest, SyncData, SyncRequest, UserData,
};
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// Everything a handler needs, shared by all requests until a reload replaces it.
pub struct App {
    pub config: Config,
    pub ledger: Ledger,
    pub metrics: Arc<Metrics>,
    pub limits: RateLimits,
}

pub(crate) type AppState = Arc<App>;

/// The router's state: the [`App`] in force. A SIGHUP reload swaps in a whole new one, so
/// a request runs from start to end on the one it began with, and connections and
/// requests in flight are untouched. A request costs one uncontended read lock and one
/// `Arc` clone (what axum's `State` costs anyway).
#[derive(Clone)]
pub struct Current(Arc<RwLock<AppState>>);

impl Current {
    pub fn new(app: App) -> Current {
        Current(Arc::new(RwLock::new(Arc::new(app))))
    }

    pub fn get(&self) -> AppState {
        // A panic cannot leave a half-written `Arc` behind, so a poisoned lock is usable.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, app: App) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(app);
    }
}

/// Handlers take `State<AppState>`: the current [`App`], loaded once per request.
impl FromRef<Current> for AppState {
    fn from_ref(current: &Current) -> AppState {
        current.get()
    }
}

/// The longest a client may take to send a request body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

pub fn router(state: Current) -> Router {
    let app = state.get();
    let metrics = app.metrics.clone();
    let slots = overload::Slots::new(app.config.max_concurrent_requests);
    Router::new()
        .route(paths::SYNC, post(writes::sync))
        .route(paths::BATCH, post(batch::batch))
        .route(
            &format!("{}/{{telegram_id}}", paths::BALANCE),
            get(reads::balance),
        )
        .route(
            &format!("{}/{{telegram_id}}", paths::RECORDS),
            get(reads::records),
        )
        .route(paths::USERS, post(writes::register_user))
        .route(paths::HOLDS, post(holds::place))
        .route(
            &format!("{}/{{telegram_id}}", paths::HOLDS),
            get(holds::list),
        )
        .route(
            &format!("{}/{{hold_id}}/{}", paths::HOLDS, paths::CAPTURE),
            post(holds::capture),
        )
        .route(
            &format!("{}/{{hold_id}}/{}", paths::HOLDS, paths::VOID),
            post(holds::void),
        )
        .route(paths::REVERSE, post(flows::reverse))
        .route(paths::TRANSFER, post(flows::transfer))
        .route(paths::EVENTS, get(events::feed))
        .route(paths::HEALTHZ, get(ops::healthz))
        .route(paths::METRICS, get(ops::metrics_text))
        .route(paths::OPENAPI, get(ops::openapi_json))
        .nest("/console", crate::console::router(&state))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(slots, overload::shed))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_by_source,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_id::tag))
}

/// Middleware: counts each answer under the source its API key names (a key no source
/// has, or none, is not counted here: only configured names become labels).
async fn count_by_source(
    State(current): State<Current>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let app = current.get();
    let source = auth::identify(&app.config.sources, request.headers())
        .ok()
        .map(|source| source.name.clone());
    let response = next.run(request).await;
    if let Some(source) = source {
        app.metrics
            .answered(&source, metrics::answer_code(&response));
    }
    response
}

impl App {
    /// The calling source, allowed `permission` and within its rate limit.
    pub(crate) fn caller(
        &self,
        headers: &HeaderMap,
        permission: Permission,
    ) -> Result<&SourceConfig, ApiError> {
        let source = auth::identify(&self.config.sources, headers)?;
        auth::require(source, permission)?;
        if let Err(wait) = self.limits.take(&source.name) {
            return Err(ApiError {
                retry_after: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
                ..ApiError::new(
                    Code::RateLimited,
                    format!("rate limit of source {} exceeded", source.name),
                )
            });
        }
        Ok(source)
    }

    pub(crate) fn tolerance(&self) -> i64 {
        self.config.timestamp_tolerance_secs
    }

    /// A write's signature: v2 when the header is there, else the v1 token(s) in the body
    /// (`v1` checks them and returns the timestamp and the tokens), each only when the
    /// source's `signatures` allow it. Returns what the write spends.
    pub(crate) fn check_write_signature(
        &self,
        source: &SourceConfig,
        headers: &HeaderMap,
        signed: &Signed<'_>,
        v1: impl FnOnce() -> Result<(i64, Vec<String>), ApiError>,
    ) -> Result<Spend, ApiError> {
        let tolerance = self.tolerance();
        if headers.contains_key(headers::SIGNATURE) {
            auth::allow_scheme(source, Scheme::V2)?;
        }
        if let Some(header) = auth::check_v2(source, headers, signed, tolerance)? {
            return Ok(Spend::new(
                &source.name,
                vec![header.v2],
                header.timestamp,
                tolerance,
            ));
        }
        auth::allow_scheme(source, Scheme::V1)?;
        let (timestamp, tokens) = v1()?;
        auth::check_window(timestamp, tolerance)?;
        Ok(Spend::new(&source.name, tokens, timestamp, tolerance))
    }
}

/// `path?query` exactly as sent, which is what a v2 signature covers.
pub(crate) fn target(uri: &Uri) -> &str {
    uri.path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or_else(|| uri.path())
}

/// Reads a body and checks its size and content type; the request's type parses it
/// (`SyncRequest::from_slice`, ...).
pub(crate) async fn json_body(headers: &HeaderMap, request: Request) -> Result<Bytes, ApiError> {
    // A total deadline, not an idle one: a client trickling one byte at a time must not
    // hold a connection (and a request slot) forever.
    let body = tokio::time::timeout(BODY_DEADLINE, Bytes::from_request(request, &()))
        .await
        .map_err(|_| {
            ApiError::new(
                Code::ServiceUnavailable,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_DEADLINE.as_secs()
                ),
            )
        })?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::PayloadTooLarge,
                format!("body is larger than {} bytes", limits::MAX_BODY_BYTES),
            )
        } else {
            ApiError::new(Code::InvalidJson, format!("cannot read body: {rejection}"))
        }
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "body must be sent as Content-Type: application/json",
        ));
    }
    Ok(body)
}

/// A JSON 200 answer, tagged with its code for the metrics.
pub(crate) fn ok_json<T: Serialize>(code: Code, body: &T) -> Response {
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(code);
    response
}

/// A successful envelope.
pub(crate) fn ok_envelope<T>(
    message: impl Into<String>,
    balance: Option<i64>,
    data: Option<T>,
) -> Envelope<T> {
    Envelope {
        success: true,
        code: Code::Ok,
        message: message.into(),
        balance,
        data,
        field: None,
        fields: None,
        server_time: None,
    }
}

pub(crate) fn actor(source: &SourceConfig) -> Actor {
    Actor {
        source: source.name.clone(),
        auto_register: source.auto_register,
        admin: source.permissions.contains(&Permission::Admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_becomes_an_internal_error_envelope() {
        let router: Router = Router::new()
            .route("/boom", get(|| async { panic!("boom") as &str }))
            .layer(CatchPanicLayer::custom(panic_response));
        let response = router
            .oneshot(
                axum::http::Request::get("/boom")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let envelope: Envelope<Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(envelope.code, Code::InternalError);
        assert!(!envelope.success);
        assert!(envelope.server_time.is_some());
    }
}
