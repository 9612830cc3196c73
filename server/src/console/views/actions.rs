//! The operator's writes: adjust a balance, reverse a record (fully or partly), void a
//! hold. Each passes the same checks first (same origin, the session's CSRF token, the
//! operator role), carries a required reason, is a ledger change by the admin actor
//! `console:<operator>` with its form's reference (so a double click writes once), and
//! goes into the audit log with its outcome. The answer is the user's page with what
//! happened on top.

use super::integer;
use super::user::render;
use crate::console::audit::{self, action};
use crate::console::page::Notice;
use crate::console::store::AuditEntry;
use crate::console::{source_of, Signed};
use crate::error::ApiError;
use crate::ledger::{
    Actor, Change, LedgerError, Refusal, Resolution, Resolve, Reversal, Spend, Target,
};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use credit_sync::protocol::{
    is_hold_id, validate_amount, validate_reason, validate_reference, validate_telegram_id,
    FieldError,
};
use serde::Deserialize;

/// Every action form's fields (each form uses some of them).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
    reference: String,
    reason: String,
    amount: String,
    record_id: String,
    hold_id: String,
}

/// What the checks before the ledger found: the user's page with a notice, or the
/// validated pieces.
struct Checked {
    telegram_id: i64,
    reason: String,
    reference: String,
}

/// Origin, CSRF, role, then the fields every write has; a refusal of the role or the
/// fields is in the audit log too.
async fn check(
    signed: &Signed,
    headers: &HeaderMap,
    telegram_id: &str,
    form: &ActionForm,
    action: &str,
) -> Result<Checked, Box<Response>> {
    signed.check_write(headers, &form.csrf, false)?;
    let telegram_id = integer(Some(telegram_id))
        .filter(|id| validate_telegram_id(*id).is_ok())
        .ok_or_else(|| {
            Box::new(crate::console::page::message(
                StatusCode::NOT_FOUND,
                "No such user",
                "A telegram_id is a positive integer.",
                signed.base(),
            ))
        })?;
    let mut entry = audit::entry(&signed.name, action, "forbidden");
    entry.telegram_id = Some(telegram_id);
    entry.detail = Some("viewers cannot write".into());
    if !signed.role.may_write() {
        audit::append(&signed.app.ledger, entry).await;
        return Err(signed
            .check_write(headers, &form.csrf, true)
            .expect_err("a viewer is refused"));
    }
    let reason = form.reason.trim().to_string();
    let invalid = if reason.is_empty() {
        Some("A reason is required.".to_string())
    } else if let Err(e) = validate_reason(&reason) {
        Some(e.message)
    } else if let Err(e) = validate_reference(&form.reference) {
        Some(format!(
            "The form's reference is broken ({}); reload the page.",
            e.message
        ))
    } else {
        None
    };
    if let Some(text) = invalid {
        return Err(Box::new(
            refusal_page(signed, telegram_id, StatusCode::BAD_REQUEST, text).await,
        ));
    }
    Ok(Checked {
        telegram_id,
        reason,
        reference: form.reference.clone(),
    })
}

async fn refusal_page(
    signed: &Signed,
    telegram_id: i64,
    status: StatusCode,
    text: String,
) -> Response {
    render(signed, telegram_id, None, status, Some(Notice::error(text))).await
}

/// The console's actor: its own source per operator, an admin (it may reverse and void
/// what any source wrote), and it never registers users by crediting them.
fn actor(signed: &Signed) -> Actor {
    Actor {
        source: source_of(&signed.name),
        auto_register: false,
        admin: true,
    }
}

fn unsigned(signed: &Signed) -> Spend {
    Spend::unsigned(&source_of(&signed.name), signed.app.tolerance())
}

/// How a write ended, for the page and the audit log.
struct Ended {
    status: StatusCode,
    outcome: String,
    notice: Notice,
    detail: Option<String>,
}

fn applied(text: String, duplicate: bool) -> Ended {
    if duplicate {
        Ended {
            status: StatusCode::OK,
            outcome: "duplicate".into(),
            notice: Notice::ok(format!("Already done (this form was sent before): {text}")),
            detail: Some(text),
        }
    } else {
        Ended {
            status: StatusCode::OK,
            outcome: "ok".into(),
            notice: Notice::ok(text.clone()),
            detail: Some(text),
        }
    }
}

fn refused(refusal: Refusal) -> Ended {
    let status = StatusCode::from_u16(refusal.code.http_status()).unwrap_or(StatusCode::CONFLICT);
    Ended {
        status,
        outcome: refusal.code.as_str().into(),
        notice: Notice::error(format!(
            "Refused ({}): {}",
            refusal.code.as_str(),
            refusal.message
        )),
        detail: Some(refusal.message),
    }
}

fn failed(error: LedgerError) -> Ended {
    let api = ApiError::from(error);
    Ended {
        status: api.status(),
        outcome: api.code.as_str().into(),
        notice: Notice::error(format!("Failed ({}): {}", api.code.as_str(), api.message)),
        detail: Some(api.message),
    }
}

fn invalid(error: FieldError) -> String {
    error.message
}

/// Logs `ended` and answers with the user's page. A write that is in the ledger is
/// logged under its form's reference, which is unique in the log: a replay adds nothing,
/// and one whose first entry was lost (a crash between the two) adds it then. A refusal
/// is logged without it, so the same form may still succeed later and be logged too.
async fn finish(
    signed: &Signed,
    telegram_id: i64,
    mut entry: AuditEntry,
    ended: Ended,
) -> Response {
    let in_ledger = ended.outcome == "ok" || ended.outcome == "duplicate";
    entry.outcome = if in_ledger {
        "ok".into()
    } else {
        ended.outcome
    };
    entry.detail = ended.detail;
    if !in_ledger {
        let reference = entry.reference.take().unwrap_or_default();
        entry.detail = Some(format!(
            "{} (form {reference})",
            entry.detail.unwrap_or_default()
        ));
    }
    audit::append(&signed.app.ledger, entry).await;
    render(signed, telegram_id, None, ended.status, Some(ended.notice)).await
}

/// `POST /console/users/{telegram_id}/adjust`: a signed amount and a reason.
pub async fn adjust(
    signed: Signed,
    headers: HeaderMap,
    Path(telegram_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let checked = match check(&signed, &headers, &telegram_id, &form, action::ADJUST).await {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let telegram_id = checked.telegram_id;
    let amount = match integer(Some(&form.amount)) {
        Some(amount) => amount,
        None => {
            let text = "The amount is a whole number: positive adds, negative deducts.".into();
            return refusal_page(&signed, telegram_id, StatusCode::BAD_REQUEST, text).await;
        }
    };
    if let Err(e) = validate_amount(amount, signed.app.config.max_amount) {
        return refusal_page(&signed, telegram_id, StatusCode::BAD_REQUEST, invalid(e)).await;
    }
    let change = Change {
        telegram_id,
        amount,
        reason: checked.reason.clone(),
        reference: Some(checked.reference.clone()),
    };
    let outcome = signed
        .app
        .ledger
        .apply(actor(&signed), change, unsigned(&signed))
        .await;
    let ended = match outcome {
        Ok(outcome) => {
            signed.app.metrics.ledger(&outcome);
            match outcome {
                Ok(a) => applied(
                    format!(
                        "Adjusted by {:+}: record #{}, balance {}.",
                        a.change, a.record_id, a.balance
                    ),
                    a.duplicate,
                ),
                Err(refusal) => refused(refusal),
            }
        }
        Err(error) => failed(error),
    };
    let entry = AuditEntry {
        telegram_id: Some(telegram_id),
        amount: Some(amount),
        reason: Some(checked.reason),
        reference: Some(checked.reference),
        ..audit::entry(&signed.name, action::ADJUST, "")
    };
    finish(&signed, telegram_id, entry, ended).await
}

/// `POST /console/users/{telegram_id}/reverse`: a record, an optional amount (default:
/// all that is left of it) and a reason.
pub async fn reverse(
    signed: Signed,
    headers: HeaderMap,
    Path(telegram_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let checked = match check(&signed, &headers, &telegram_id, &form, action::REVERSE).await {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let telegram_id = checked.telegram_id;
    let Some(record_id) = integer(Some(&form.record_id)).filter(|id| *id > 0) else {
        let text = "Choose a record to reverse.".into();
        return refusal_page(&signed, telegram_id, StatusCode::BAD_REQUEST, text).await;
    };
    let amount = if form.amount.trim().is_empty() {
        None
    } else {
        match integer(Some(&form.amount)).filter(|a| *a > 0) {
            Some(amount) => {
                if let Err(e) = validate_amount(amount, signed.app.config.max_amount) {
                    return refusal_page(&signed, telegram_id, StatusCode::BAD_REQUEST, invalid(e))
                        .await;
                }
                Some(amount)
            }
            None => {
                let text = "The amount to reverse is a positive whole number, or empty for all that is left.".into();
                return refusal_page(&signed, telegram_id, StatusCode::BAD_REQUEST, text).await;
            }
        }
    };
    let reversal = Reversal {
        target: Target::Record(record_id),
        amount,
        reason: checked.reason.clone(),
        reference: Some(checked.reference.clone()),
    };
    let outcome = signed
        .app
        .ledger
        .reverse(actor(&signed), reversal, unsigned(&signed))
        .await;
    let ended = match outcome {
        Ok(Ok(r)) => applied(
            format!(
                "Reversed {} of record #{}: record #{} ({:+}), balance {}, {} left to reverse.",
                r.change.unsigned_abs(),
                r.reverses,
                r.record_id,
                r.change,
                r.balance,
                r.remaining
            ),
            r.duplicate,
        ),
        Ok(Err(refusal)) => refused(refusal),
        Err(error) => failed(error),
    };
    let entry = AuditEntry {
        telegram_id: Some(telegram_id),
        target: Some(format!("record #{record_id}")),
        amount,
        reason: Some(checked.reason),
        reference: Some(checked.reference),
        ..audit::entry(&signed.name, action::REVERSE, "")
    };
    finish(&signed, telegram_id, entry, ended).await
}

/// `POST /console/users/{telegram_id}/void`: releases a hold; the reason goes into the
/// audit log (a void writes no record).
pub async fn void(
    signed: Signed,
    headers: HeaderMap,
    Path(telegram_id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let checked = match check(&signed, &headers, &telegram_id, &form, action::VOID).await {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let telegram_id = checked.telegram_id;
    let hold_id = form.hold_id.trim().to_string();
    if !is_hold_id(&hold_id) {
        let text = "Choose a hold to void.".into();
        return refusal_page(&signed, telegram_id, StatusCode::BAD_REQUEST, text).await;
    }
    let resolve = Resolve {
        hold_id: hold_id.clone(),
        resolution: Resolution::Void,
        reference: Some(checked.reference.clone()),
    };
    let outcome = signed
        .app
        .ledger
        .resolve_hold(actor(&signed), resolve, unsigned(&signed))
        .await;
    let ended = match outcome {
        Ok(Ok(h)) => applied(
            format!(
                "Voided hold {} ({} released): available {}.",
                h.hold.hold_id,
                h.hold.amount,
                h.available()
            ),
            h.duplicate,
        ),
        Ok(Err(refusal)) => refused(refusal),
        Err(error) => failed(error),
    };
    let entry = AuditEntry {
        telegram_id: Some(telegram_id),
        target: Some(hold_id),
        reason: Some(checked.reason),
        reference: Some(checked.reference),
        ..audit::entry(&signed.name, action::VOID, "")
    };
    finish(&signed, telegram_id, entry, ended).await
}
