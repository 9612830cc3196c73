//! `POST /api/credits/batch`: up to 1,000 changes, each judged on its own, or all or none.

use super::*;
use credit_sync::protocol::BatchItem;

pub(super) async fn batch(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    // The caller first: an unknown key is refused before its body is read.
    let source = app.caller(&headers, Permission::Write)?;
    let body = json_body(&headers, request).await?;
    let request = BatchRequest::from_slice(&body)?;
    auth::same_source(source, &request.source)?;
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(&uri),
        body: &body,
    };
    let spend =
        app.check_write_signature(source, &headers, &signed, || v1_tokens(source, &request))?;

    let checked = check_items(&request, app.config.max_amount);
    let outcomes = match checked.iter().position(Result::is_err) {
        // A bad item in an atomic batch: the ledger is not even asked.
        Some(first) if request.atomic => checked
            .into_iter()
            .enumerate()
            .map(|(i, c)| match c {
                Err(e) if i == first => Err(e),
                _ => Err(ledger::Refusal::aborted().into()),
            })
            .collect(),
        _ => apply(&app, source, checked, request.atomic, spend).await?,
    };
    Ok(answer(&request, outcomes))
}

/// v1: the batch `timestamp` plus one token per item; any bad token fails the request.
/// Returns the timestamp and the tokens (all spent by the batch).
fn v1_tokens(
    source: &SourceConfig,
    request: &BatchRequest,
) -> Result<(i64, Vec<String>), ApiError> {
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
    let mut tokens = Vec::with_capacity(request.items.len());
    for (i, item) in request.items.iter().enumerate() {
        let field = item_field(i, fields::TOKEN);
        let token = item.token.as_deref().ok_or_else(|| {
            ApiError::new(Code::MissingField, format!("missing field `{field}`"))
                .with_field(field.clone())
        })?;
        tokens.push(
            auth::check_v1_token(source, item.telegram_id, item.amount, timestamp, token)
                .map_err(|e| e.with_field(field))?,
        );
    }
    Ok((timestamp, tokens))
}

/// The value rules, per item: a bad item fails alone (or aborts an atomic batch).
fn check_items(request: &BatchRequest, max_amount: i64) -> Vec<Result<Change, ApiError>> {
    request
        .items
        .iter()
        .map(|item| {
            validate_change(
                item.telegram_id,
                item.amount,
                &item.reason,
                item.external_reference.as_deref(),
                max_amount,
            )
            .map_err(ApiError::from)
            .map(|()| Change {
                telegram_id: item.telegram_id,
                amount: item.amount,
                reason: item.reason.clone(),
                reference: item.external_reference.clone(),
            })
        })
        .collect()
}

/// Sends the valid changes to the ledger, which spends the batch's signatures with them,
/// and puts the outcomes back in item order.
async fn apply(
    app: &App,
    source: &SourceConfig,
    checked: Vec<Result<Change, ApiError>>,
    atomic: bool,
    spend: Spend,
) -> Result<Vec<Result<Applied, ApiError>>, ApiError> {
    let valid: Vec<Change> = checked
        .iter()
        .filter_map(|c| c.as_ref().ok().cloned())
        .collect();
    let outcomes = app
        .ledger
        .apply_batch(actor(source), valid, atomic, spend)
        .await??;
    outcomes
        .iter()
        .for_each(|o: &Outcome| app.metrics.ledger(o));
    let mut outcomes = outcomes.into_iter();
    Ok(checked
        .into_iter()
        .map(|c| match c {
            Err(e) => Err(e),
            Ok(_) => outcomes
                .next()
                .expect("one outcome per valid change")
                .map_err(ApiError::from),
        })
        .collect())
}

fn item_result(
    index: usize,
    item: &BatchItem,
    outcome: Result<Applied, ApiError>,
) -> BatchItemResult {
    match outcome {
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
    }
}

/// `ok` when every item succeeded, else `partial_failure` (still HTTP 200).
fn answer(request: &BatchRequest, outcomes: Vec<Result<Applied, ApiError>>) -> Response {
    let results: Vec<BatchItemResult> = request
        .items
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(index, (item, outcome))| item_result(index, item, outcome))
        .collect();
    let succeeded = results.iter().filter(|r| r.success).count();
    let failed = results.len() - succeeded;
    let data = BatchData {
        success: succeeded,
        failed,
        results,
    };
    if failed == 0 {
        let envelope = ok_envelope(format!("{succeeded} applied"), None, Some(data));
        return ok_json(Code::Ok, &envelope);
    }
    let envelope = Envelope {
        success: false,
        code: Code::PartialFailure,
        message: if request.atomic {
            "atomic batch aborted; nothing was applied".to_string()
        } else {
            format!("{succeeded} applied, {failed} failed")
        },
        ..ok_envelope(String::new(), None, Some(data))
    };
    ok_json(Code::PartialFailure, &envelope)
}
