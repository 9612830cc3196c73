//! The HTTP surface: each handler checks the request in the protocol's order (transport,
//! key, permission, rate, body, source, signature, values) and then asks the ledger.

use crate::auth::{self, Signed};
use crate::config::{Config, Permission, SourceConfig};
use crate::error::{panic_response, ApiError};
use crate::ledger::{self, Actor, Applied, Change, Ledger, Outcome};
use crate::metrics::{self, Metrics};
use crate::openapi;
use crate::overload;
use crate::ratelimit::RateLimits;
use crate::request_id;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, OriginalUri, Path, Request, State};
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
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// Everything a handler needs, shared by all requests.
pub struct App {
    pub config: Config,
    pub ledger: Ledger,
    pub metrics: Arc<Metrics>,
    pub limits: RateLimits,
}

type AppState = Arc<App>;

/// The longest a client may take to send a request body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

pub fn router(app: App) -> Router {
    let metrics = app.metrics.clone();
    let slots = overload::Slots::new(app.config.max_concurrent_requests);
    let state = Arc::new(app);
    Router::new()
        .route(paths::SYNC, post(sync))
        .route(paths::BATCH, post(batch))
        .route(&format!("{}/{{telegram_id}}", paths::BALANCE), get(balance))
        .route(&format!("{}/{{telegram_id}}", paths::RECORDS), get(records))
        .route(paths::USERS, post(register_user))
        .route(paths::HEALTHZ, get(healthz))
        .route(paths::METRICS, get(metrics_text))
        .route(paths::OPENAPI, get(openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(slots, overload::shed))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_id::tag))
}

impl App {
    /// The calling source, allowed `permission` and within its rate limit.
    fn caller(
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

    fn tolerance(&self) -> i64 {
        self.config.timestamp_tolerance_secs
    }

    /// A write's signature: v2 when the header is there, else the v1 token(s) in the body.
    fn check_write_signature(
        &self,
        source: &SourceConfig,
        headers: &HeaderMap,
        signed: &Signed<'_>,
        v1: impl FnOnce() -> Result<i64, ApiError>,
    ) -> Result<(), ApiError> {
        if auth::check_v2(source, headers, signed, self.tolerance())? {
            return Ok(());
        }
        let timestamp = v1()?;
        auth::check_window(timestamp, self.tolerance())
    }
}

/// `path?query` exactly as sent, which is what a v2 signature covers.
fn target(uri: &Uri) -> &str {
    uri.path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or_else(|| uri.path())
}

/// Checks size and content type and parses a JSON body.
async fn json_body(headers: &HeaderMap, request: Request) -> Result<(Bytes, Value), ApiError> {
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
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("body is not valid JSON: {e}")))?;
    Ok((body, value))
}

/// A JSON 200 answer, tagged with its code for the metrics.
fn ok_json<T: Serialize>(code: Code, body: &T) -> Response {
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(code);
    response
}

fn sync_envelope(applied: &Applied) -> Response {
    let message = match (applied.duplicate, applied.change > 0) {
        (true, _) => "duplicate: this reference was already applied",
        (false, true) => "credits added",
        (false, false) => "credits deducted",
    };
    let envelope = Envelope {
        success: true,
        code: Code::Ok,
        message: message.to_string(),
        balance: Some(applied.balance),
        data: Some(SyncData {
            record_id: applied.record_id,
            telegram_id: applied.telegram_id,
            change: applied.change,
            balance: applied.balance,
            duplicate: applied.duplicate,
        }),
        field: None,
        fields: None,
        server_time: None,
    };
    let mut response = ok_json(Code::Ok, &envelope);
    if applied.duplicate {
        response.headers_mut().insert(
            headers::IDEMPOTENT_REPLAYED,
            HeaderValue::from_static("true"),
        );
    }
    response
}

async fn sync(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (body, value) = json_body(&headers, request).await?;
    let source = app.caller(&headers, Permission::Write)?;
    let request = SyncRequest::from_json(&value)?;
    auth::same_source(source, &request.source)?;
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(&uri),
        body: &body,
    };
    app.check_write_signature(source, &headers, &signed, || {
        let (timestamp, token) = auth::v1_parts(request.timestamp, request.token.as_deref())?;
        auth::check_v1_token(
            source,
            request.telegram_id,
            request.amount,
            timestamp,
            token,
        )?;
        Ok(timestamp)
    })?;
    validate_change(
        request.telegram_id,
        request.amount,
        &request.reason,
        request.external_reference.as_deref(),
        app.config.max_amount,
    )?;
    let change = Change {
        telegram_id: request.telegram_id,
        amount: request.amount,
        reason: request.reason,
        reference: request.external_reference,
    };
    let outcome = app.ledger.apply(actor(source), &change).await?;
    app.metrics.ledger(&outcome);
    Ok(sync_envelope(&outcome?))
}

fn actor(source: &SourceConfig) -> Actor<'_> {
    Actor {
        source: &source.name,
        auto_register: source.auto_register,
    }
}

async fn batch(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (body, value) = json_body(&headers, request).await?;
    let source = app.caller(&headers, Permission::Write)?;
    let request = BatchRequest::from_json_located(&value).map_err(|(index, err)| {
        let field = match (index, err.field) {
            (Some(i), Some(field)) => Some(item_field(i, field)),
            (_, field) => field.map(str::to_string),
        };
        ApiError {
            field,
            ..ApiError::from(err)
        }
    })?;
    auth::same_source(source, &request.source)?;
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(&uri),
        body: &body,
    };
    app.check_write_signature(source, &headers, &signed, || {
        let timestamp = request.timestamp.ok_or_else(|| {
            ApiError::new(
                Code::MissingField,
                format!(
                    "missing field `timestamp`: sign the batch with per-item tokens and a timestamp (v1) or an {} header (v2)",
                    headers::SIGNATURE
                ),
            )
            .with_field(fields::TIMESTAMP)
        })?;
        for (i, item) in request.items.iter().enumerate() {
            let field = item_field(i, fields::TOKEN);
            let token = item.token.as_deref().ok_or_else(|| {
                ApiError::new(Code::MissingField, format!("missing field `{field}`"))
                    .with_field(field.clone())
            })?;
            auth::check_v1_token(source, item.telegram_id, item.amount, timestamp, token)
                .map_err(|e| e.with_field(field))?;
        }
        Ok(timestamp)
    })?;

    // Values are checked per item: a bad item fails alone (or aborts an atomic batch).
    let checked: Vec<Result<Change, ApiError>> = request
        .items
        .iter()
        .map(|item| {
            validate_change(
                item.telegram_id,
                item.amount,
                &item.reason,
                item.external_reference.as_deref(),
                app.config.max_amount,
            )
            .map_err(ApiError::from)
            .map(|()| Change {
                telegram_id: item.telegram_id,
                amount: item.amount,
                reason: item.reason.clone(),
                reference: item.external_reference.clone(),
            })
        })
        .collect();
    let invalid = checked.iter().position(Result::is_err);
    let outcomes: Vec<Result<Applied, ApiError>> = match invalid {
        Some(first) if request.atomic => checked
            .into_iter()
            .enumerate()
            .map(|(i, c)| match c {
                Err(e) if i == first => Err(e),
                _ => Err(ledger::Refusal::aborted().into()),
            })
            .collect(),
        _ => {
            let valid: Vec<Change> = checked
                .iter()
                .filter_map(|c| c.as_ref().ok().cloned())
                .collect();
            let applied = app
                .ledger
                .apply_batch(actor(source), &valid, request.atomic)
                .await?;
            applied.iter().for_each(|o: &Outcome| app.metrics.ledger(o));
            let mut applied = applied.into_iter();
            checked
                .into_iter()
                .map(|c| match c {
                    Err(e) => Err(e),
                    Ok(_) => applied
                        .next()
                        .expect("one outcome per valid change")
                        .map_err(ApiError::from),
                })
                .collect()
        }
    };

    let results: Vec<BatchItemResult> = request
        .items
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(index, (item, outcome))| match outcome {
            Ok(applied) => BatchItemResult {
                index,
                success: true,
                code: Code::Ok,
                message: if applied.duplicate {
                    "duplicate: this reference was already applied".into()
                } else {
                    "ok".into()
                },
                telegram_id: applied.telegram_id,
                change: applied.change,
                balance: Some(applied.balance),
                record_id: Some(applied.record_id),
                duplicate: applied.duplicate,
                external_reference: item.external_reference.clone(),
                field: None,
            },
            Err(e) => BatchItemResult {
                index,
                success: false,
                code: e.code,
                message: e.message,
                telegram_id: item.telegram_id,
                change: item.amount,
                balance: e.balance,
                record_id: None,
                duplicate: false,
                external_reference: item.external_reference.clone(),
                field: e.field,
            },
        })
        .collect();
    let succeeded = results.iter().filter(|r| r.success).count();
    let failed = results.len() - succeeded;
    let code = if failed == 0 {
        Code::Ok
    } else {
        Code::PartialFailure
    };
    let message = if failed > 0 && request.atomic {
        "atomic batch aborted; nothing was applied".to_string()
    } else {
        format!("{succeeded} applied, {failed} failed")
    };
    let envelope = Envelope {
        success: failed == 0,
        code,
        message,
        balance: None,
        data: Some(BatchData {
            success: succeeded,
            failed,
            results,
        }),
        field: None,
        fields: None,
        server_time: None,
    };
    Ok(ok_json(code, &envelope))
}

async fn register_user(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (body, value) = json_body(&headers, request).await?;
    let source = app.caller(&headers, Permission::Admin)?;
    let request = RegisterUserRequest::from_json(&value)?;
    if let Some(claimed) = &request.source {
        auth::same_source(source, claimed)?;
    }
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(&uri),
        body: &body,
    };
    app.check_write_signature(source, &headers, &signed, || {
        let (timestamp, token) = auth::v1_parts(request.timestamp, request.token.as_deref())?;
        auth::check_v1_token(source, request.telegram_id, 0, timestamp, token)?;
        Ok(timestamp)
    })?;
    validate_telegram_id(request.telegram_id)?;
    if let Some(nickname) = &request.nickname {
        validate_nickname(nickname)?;
    }
    let user = app
        .ledger
        .register(request.telegram_id, request.nickname.as_deref())
        .await?;
    let envelope = Envelope {
        success: true,
        code: Code::Ok,
        message: if user.created {
            "user registered".into()
        } else {
            "user updated".into()
        },
        balance: Some(user.credits),
        data: Some(UserData {
            telegram_id: user.telegram_id,
            credits: user.credits,
            nickname: user.nickname,
            created: user.created,
        }),
        field: None,
        fields: None,
        server_time: None,
    };
    Ok(ok_json(Code::Ok, &envelope))
}

/// The `{telegram_id}` of a read path.
fn path_telegram_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let raw = path.map_err(|e| {
        ApiError::new(Code::InvalidTelegramId, format!("invalid path: {e}"))
            .with_field(fields::TELEGRAM_ID)
    })?;
    let telegram_id: i64 = raw.0.parse().map_err(|_| {
        ApiError::new(
            Code::InvalidTelegramId,
            format!("telegram_id must be a positive integer, got {:?}", raw.0),
        )
        .with_field(fields::TELEGRAM_ID)
    })?;
    validate_telegram_id(telegram_id)?;
    Ok(telegram_id)
}

fn user_not_found(telegram_id: i64) -> ApiError {
    ApiError::new(
        Code::UserNotFound,
        format!("user {telegram_id} is not registered"),
    )
}

async fn balance(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let source = app.caller(&headers, Permission::Read)?;
    let signed = Signed {
        method: Method::GET.as_str(),
        target: target(&uri),
        body: b"",
    };
    auth::require_v2(source, &headers, &signed, app.tolerance())?;
    let telegram_id = path_telegram_id(path)?;
    let balance = app
        .ledger
        .balance(telegram_id)
        .await?
        .ok_or_else(|| user_not_found(telegram_id))?;
    let response = BalanceResponse {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        balance,
    };
    Ok(ok_json(Code::Ok, &response))
}

/// `limit` and `cursor` of a records query; other parameters are ignored.
fn records_query(uri: &Uri) -> Result<(u32, Option<i64>), ApiError> {
    let mut limit = limits::DEFAULT_RECORDS_LIMIT;
    let mut before = None;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == fields::LIMIT {
            limit = value
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=limits::MAX_RECORDS_LIMIT).contains(l))
                .ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidField,
                        format!(
                            "limit must be an integer from 1 to {}, got {value:?}",
                            limits::MAX_RECORDS_LIMIT
                        ),
                    )
                    .with_field(fields::LIMIT)
                })?;
        } else if key == fields::CURSOR && !value.is_empty() {
            before = Some(ledger::decode_cursor(value).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidField,
                    "cursor is not one this server issued; pass next_cursor back unchanged",
                )
                .with_field(fields::CURSOR)
            })?);
        }
    }
    Ok((limit, before))
}

async fn records(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let source = app.caller(&headers, Permission::Read)?;
    let signed = Signed {
        method: Method::GET.as_str(),
        target: target(&uri),
        body: b"",
    };
    auth::require_v2(source, &headers, &signed, app.tolerance())?;
    let telegram_id = path_telegram_id(path)?;
    let (limit, before) = records_query(&uri)?;
    let page = app.ledger.records(telegram_id, before, limit).await?;
    let response = RecordsResponse {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        page,
    };
    Ok(ok_json(Code::Ok, &response))
}

async fn healthz(State(app): State<AppState>) -> Result<Response, ApiError> {
    sqlx::query("SELECT 1")
        .execute(&app.ledger.store().reader)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "health check failed");
            ApiError::new(Code::ServiceUnavailable, "database unavailable")
        })?;
    let envelope: Envelope<Value> = Envelope {
        success: true,
        code: Code::Ok,
        message: "healthy".into(),
        balance: None,
        data: None,
        field: None,
        fields: None,
        server_time: None,
    };
    Ok(ok_json(Code::Ok, &envelope))
}

async fn metrics_text(State(app): State<AppState>) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(),
    )
        .into_response();
    response.extensions_mut().insert(Code::Ok);
    response
}

async fn openapi_json() -> Response {
    ok_json(Code::Ok, &openapi::document())
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
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
