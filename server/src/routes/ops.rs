//! Unsigned operational endpoints and the envelopes for unknown routes and methods.

use super::*;

pub(super) async fn healthz(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.ledger.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check failed");
        ApiError::new(Code::ServiceUnavailable, "database unavailable")
    })?;
    let envelope = ok_envelope::<Value>("healthy", None, None);
    Ok(ok_json(Code::Ok, &envelope))
}

pub(super) async fn metrics_text(State(app): State<AppState>) -> Response {
    let mut text = app.metrics.render();
    app.ledger.backend_metrics(&mut text);
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response();
    response.extensions_mut().insert(Code::Ok);
    response
}

pub(super) async fn openapi_json() -> Response {
    ok_json(Code::Ok, &openapi::document())
}

pub(super) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("no route for {method} {}", uri.path()),
    )
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
