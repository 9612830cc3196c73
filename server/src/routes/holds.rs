//! Holds: `POST /api/credits/holds` places one, `POST .../{hold_id}/capture` and
//! `.../void` resolve it, `GET .../{telegram_id}` lists a user's open holds.

use super::flows::{replayed, v2_write};
use super::reads::{path_telegram_id, user_not_found};
use super::*;
use crate::ledger::hold::{as_of, wire, HoldApplied};
use crate::ledger::{now_ms, NewHold, Resolution, Resolve};
use credit_sync::protocol::{
    is_hold_id, validate_capture, validate_hold, CaptureRequest, HoldRequest, HoldsResponse,
    VoidRequest,
};

fn hold_envelope(applied: &HoldApplied, message: &str) -> Response {
    let message = if applied.duplicate {
        "duplicate: this reference was already applied"
    } else {
        message
    };
    let envelope = ok_envelope(message, Some(applied.credits), Some(applied.data()));
    replayed(ok_json(Code::Ok, &envelope), applied.duplicate)
}

pub(super) async fn place(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let source = app.caller(&headers, Permission::Write)?;
    let body = json_body(&headers, request).await?;
    let request = HoldRequest::from_slice(&body)?;
    if let Some(claimed) = &request.source {
        auth::same_source(source, claimed)?;
    }
    let spend = v2_write(&app, source, &headers, &uri, &body)?;
    let ttl_secs = validate_hold(&request, app.config.max_amount)?;
    let hold = NewHold {
        telegram_id: request.telegram_id,
        amount: request.amount,
        reason: request.reason,
        reference: request.external_reference,
        ttl_secs,
    };
    let applied = app.ledger.place_hold(actor(source), hold, spend).await??;
    Ok(hold_envelope(&applied, "credits held"))
}

/// The `{hold_id}` of a capture or void path: an id this server could have made, else
/// `hold_not_found` (no hold has it).
fn path_hold_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let not_found = |id: &str| {
        ApiError::new(Code::HoldNotFound, format!("no hold has the id {id:?}"))
            .with_field(fields::HOLD_ID)
    };
    let id = path.map_err(|e| not_found(&e.to_string()))?.0;
    if is_hold_id(&id) {
        Ok(id)
    } else {
        Err(not_found(&id))
    }
}

async fn resolve(
    app: AppState,
    uri: Uri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    request: Request,
    resolution: impl FnOnce(
        &[u8],
        i64,
    ) -> Result<(Resolution, Option<String>, Option<String>), ApiError>,
) -> Result<Response, ApiError> {
    let source = app.caller(&headers, Permission::Write)?;
    let body = json_body(&headers, request).await?;
    let (resolution, reference, claimed) = resolution(&body, app.config.max_amount)?;
    if let Some(claimed) = &claimed {
        auth::same_source(source, claimed)?;
    }
    let spend = v2_write(&app, source, &headers, &uri, &body)?;
    let hold_id = path_hold_id(path)?;
    let resolve = Resolve {
        hold_id,
        resolution,
        reference,
    };
    let applied = app
        .ledger
        .resolve_hold(actor(source), resolve, spend)
        .await??;
    let message = match resolution {
        Resolution::Capture { .. } => "hold captured",
        Resolution::Void => "hold voided",
    };
    Ok(hold_envelope(&applied, message))
}

pub(super) async fn capture(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    resolve(app, uri, headers, path, request, |body, max_amount| {
        let request = CaptureRequest::from_slice(body)?;
        validate_capture(&request, max_amount)?;
        Ok((
            Resolution::Capture {
                amount: request.amount,
            },
            request.external_reference,
            request.source,
        ))
    })
    .await
}

pub(super) async fn void(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    resolve(app, uri, headers, path, request, |body, _| {
        let request = VoidRequest::from_slice(body)?;
        if let Some(reference) = &request.external_reference {
            credit_sync::protocol::validate_reference(reference)?;
        }
        Ok((Resolution::Void, request.external_reference, request.source))
    })
    .await
}

pub(super) async fn list(
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
    let (balance, holds) = app
        .ledger
        .holds(telegram_id)
        .await?
        .ok_or_else(|| user_not_found(telegram_id))?;
    let now = now_ms();
    let response = HoldsResponse {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        telegram_id,
        credits: balance.credits,
        held: balance.held,
        available: balance.credits - balance.held,
        holds: holds
            .into_iter()
            .map(|row| wire(&as_of(row, now)))
            .collect(),
    };
    Ok(ok_json(Code::Ok, &response))
}
