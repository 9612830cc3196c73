//! Single changes: `POST /api/credits/sync` and `POST /api/users`.

use super::*;

fn sync_envelope(applied: &Applied) -> Response {
    let message = match (applied.duplicate, applied.change > 0) {
        (true, _) => "duplicate: this reference was already applied",
        (false, true) => "credits added",
        (false, false) => "credits deducted",
    };
    let data = SyncData {
        record_id: applied.record_id,
        telegram_id: applied.telegram_id,
        change: applied.change,
        balance: applied.balance,
        duplicate: applied.duplicate,
    };
    let envelope = ok_envelope(message, Some(applied.balance), Some(data));
    let mut response = ok_json(Code::Ok, &envelope);
    if applied.duplicate {
        response.headers_mut().insert(
            headers::IDEMPOTENT_REPLAYED,
            HeaderValue::from_static("true"),
        );
    }
    response
}

pub(super) async fn sync(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    // The caller first: an unknown key is refused before its body is read.
    let source = app.caller(&headers, Permission::Write)?;
    let body = json_body(&headers, request).await?;
    let request = SyncRequest::from_slice(&body)?;
    auth::same_source(source, &request.source)?;
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(&uri),
        body: &body,
    };
    let spend = app.check_write_signature(source, &headers, &signed, || {
        let (timestamp, token) = auth::v1_parts(request.timestamp, request.token.as_deref())?;
        let token = auth::check_v1_token(
            source,
            request.telegram_id,
            request.amount,
            timestamp,
            token,
        )?;
        Ok((timestamp, vec![token]))
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
    let outcome = app.ledger.apply(actor(source), change, spend).await?;
    app.metrics.ledger(&outcome);
    Ok(sync_envelope(&outcome?))
}

pub(super) async fn register_user(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let source = app.caller(&headers, Permission::Admin)?;
    let body = json_body(&headers, request).await?;
    let request = RegisterUserRequest::from_slice(&body)?;
    if let Some(claimed) = &request.source {
        auth::same_source(source, claimed)?;
    }
    let signed = Signed {
        method: Method::POST.as_str(),
        target: target(&uri),
        body: &body,
    };
    let spend = app.check_write_signature(source, &headers, &signed, || {
        let (timestamp, token) = auth::v1_parts(request.timestamp, request.token.as_deref())?;
        let token = auth::check_v1_token(source, request.telegram_id, 0, timestamp, token)?;
        Ok((timestamp, vec![token]))
    })?;
    validate_telegram_id(request.telegram_id)?;
    if let Some(nickname) = &request.nickname {
        validate_nickname(nickname)?;
    }
    let user = app
        .ledger
        .register_signed(request.telegram_id, request.nickname.as_deref(), spend)
        .await??;
    let message = if user.created {
        "user registered"
    } else {
        "user updated"
    };
    let data = UserData {
        telegram_id: user.telegram_id,
        credits: user.credits,
        nickname: user.nickname,
        created: user.created,
    };
    let envelope = ok_envelope(message, Some(user.credits), Some(data));
    Ok(ok_json(Code::Ok, &envelope))
}
