//! Holds: `POST /api/credits/holds` places one, `POST .../{hold_id}/capture` and
//! `.../void` resolve it, `GET .../{telegram_id}` lists a user's open holds.

use super::flows::{replayed, signed_write};
use super::reads::{path_telegram_id, signed_read, user_not_found};
use super::*;
use crate::ledger::hold::{as_of, wire, HoldApplied};
use crate::ledger::{now_ms, NewHold, Resolution, Resolve};
use credit_sync::protocol::{
    is_hold_id, validate_capture, validate_hold, validate_reference, CaptureRequest, HoldRequest,
    HoldsResponse, VoidRequest,
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
    let (source, request, spend) =
        signed_write::<HoldRequest>(&app, &uri, &headers, request).await?;
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

/// A capture's or void's body, as the ledger takes it.
trait ResolveBody: super::flows::FlowBody {
    /// Checks the values; the resolution and its reference.
    fn resolution(self, max_amount: i64) -> Result<(Resolution, Option<String>), ApiError>;
}

impl ResolveBody for CaptureRequest {
    fn resolution(self, max_amount: i64) -> Result<(Resolution, Option<String>), ApiError> {
        validate_capture(&self, max_amount)?;
        let amount = self.amount;
        Ok((Resolution::Capture { amount }, self.external_reference))
    }
}

impl ResolveBody for VoidRequest {
    fn resolution(self, _max_amount: i64) -> Result<(Resolution, Option<String>), ApiError> {
        if let Some(reference) = &self.external_reference {
            validate_reference(reference)?;
        }
        Ok((Resolution::Void, self.external_reference))
    }
}

async fn resolve<T: ResolveBody>(
    app: AppState,
    uri: Uri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (source, body, spend) = signed_write::<T>(&app, &uri, &headers, request).await?;
    let (resolution, reference) = body.resolution(app.config.max_amount)?;
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
    resolve::<CaptureRequest>(app, uri, headers, path, request).await
}

pub(super) async fn void(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    resolve::<VoidRequest>(app, uri, headers, path, request).await
}

pub(super) async fn list(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    signed_read(&app, &uri, &headers)?;
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
