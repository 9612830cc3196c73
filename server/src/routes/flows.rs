//! Reversals and transfers (`POST /api/credits/reverse`, `POST /api/credits/transfer`),
//! and what every money-flow write shares: v2-only signing and the replay header.

use super::*;
use crate::ledger::{Reversal, Reversed, Target, Transfer, Transferred};
use credit_sync::protocol::{
    validate_reverse, validate_transfer, FieldError, ReverseData, ReverseRequest, TransferData,
    TransferLeg, TransferRequest,
};

/// A money-flow body: parsed by the core, naming its source optionally.
pub(super) trait FlowBody: Sized {
    fn parse(body: &[u8]) -> Result<Self, FieldError>;
    fn claimed_source(&self) -> Option<&str>;
}

macro_rules! flow_bodies {
    ($($request:ty),+) => {$(
        impl FlowBody for $request {
            fn parse(body: &[u8]) -> Result<Self, FieldError> {
                <$request>::from_slice(body)
            }
            fn claimed_source(&self) -> Option<&str> {
                self.source.as_deref()
            }
        }
    )+};
}

flow_bodies!(
    credit_sync::protocol::HoldRequest,
    credit_sync::protocol::CaptureRequest,
    credit_sync::protocol::VoidRequest,
    ReverseRequest,
    TransferRequest
);

/// A money-flow write, checked in the protocol's order up to its values: the caller
/// (write permission), the body, the claimed source, the v2 signature (these bodies have
/// no v1 token). Returns the caller, the parsed body and what the write spends.
pub(super) async fn signed_write<'a, T: FlowBody>(
    app: &'a App,
    uri: &Uri,
    headers: &HeaderMap,
    request: Request,
) -> Result<(&'a SourceConfig, T, Spend), ApiError> {
    let source = app.caller(headers, Permission::Write)?;
    let body = json_body(headers, request).await?;
    let parsed = T::parse(&body)?;
    if let Some(claimed) = parsed.claimed_source() {
        auth::same_source(source, claimed)?;
    }
    let spend = v2_write(app, source, headers, uri, &body)?;
    Ok((source, parsed, spend))
}

/// The write's v2 signature, spent with the write.
fn v2_write(
    app: &App,
    source: &SourceConfig,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<Spend, ApiError> {
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(uri),
        body,
    };
    app.check_write_signature(source, headers, &signed, || {
        Err(ApiError::new(
            Code::InvalidSignature,
            format!(
                "this endpoint requires an {} (v2) header",
                headers::SIGNATURE
            ),
        ))
    })
}

/// `response`, with `Idempotent-Replayed: true` when it answers a replay.
pub(super) fn replayed(mut response: Response, duplicate: bool) -> Response {
    if duplicate {
        response.headers_mut().insert(
            headers::IDEMPOTENT_REPLAYED,
            HeaderValue::from_static("true"),
        );
    }
    response
}

const DUPLICATE: &str = "duplicate: this reference was already applied";

pub(super) async fn reverse(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (source, request, spend) =
        signed_write::<ReverseRequest>(&app, &uri, &headers, request).await?;
    validate_reverse(&request, app.config.max_amount)?;
    let target = match (request.record_id, request.original_reference) {
        (Some(id), _) => Target::Record(id),
        (None, Some(reference)) => Target::Reference(reference),
        (None, None) => unreachable!("validate_reverse requires one of them"),
    };
    let reversal = Reversal {
        target,
        amount: request.amount,
        reason: request.reason,
        reference: request.external_reference,
    };
    let r: Reversed = app.ledger.reverse(actor(source), reversal, spend).await??;
    let data = ReverseData {
        record_id: r.record_id,
        reverses: r.reverses,
        telegram_id: r.telegram_id,
        change: r.change,
        balance: r.balance,
        reversed: r.reversed,
        remaining: r.remaining,
        duplicate: r.duplicate,
    };
    let message = if r.duplicate {
        DUPLICATE
    } else {
        "record reversed"
    };
    let envelope = ok_envelope(message, Some(r.balance), Some(data));
    Ok(replayed(ok_json(Code::Ok, &envelope), r.duplicate))
}

pub(super) async fn transfer(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (source, request, spend) =
        signed_write::<TransferRequest>(&app, &uri, &headers, request).await?;
    validate_transfer(&request, app.config.max_amount)?;
    let transfer = Transfer {
        from: request.from_telegram_id,
        to: request.to_telegram_id,
        amount: request.amount,
        reason: request.reason,
        reference: request.external_reference,
    };
    let t: Transferred = app
        .ledger
        .transfer(actor(source), transfer, spend)
        .await??;
    let leg = |leg: crate::ledger::Leg| TransferLeg {
        telegram_id: leg.telegram_id,
        record_id: leg.record_id,
        change: leg.change,
        balance: leg.balance,
    };
    let data = TransferData {
        transfer_id: t.transfer_id,
        amount: t.amount,
        from: leg(t.from),
        to: leg(t.to),
        duplicate: t.duplicate,
    };
    let message = if t.duplicate {
        DUPLICATE
    } else {
        "credits transferred"
    };
    let envelope = ok_envelope(message, Some(t.from.balance), Some(data));
    Ok(replayed(ok_json(Code::Ok, &envelope), t.duplicate))
}
