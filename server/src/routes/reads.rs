//! The v2-signed reads: a user's balance and one page of their records.

use super::*;
use credit_sync::protocol::whole_integer;

/// The `{telegram_id}` of a read path.
pub(super) fn path_telegram_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let raw = path.map_err(|e| {
        ApiError::new(Code::InvalidTelegramId, format!("invalid path: {e}"))
            .with_field(fields::TELEGRAM_ID)
    })?;
    let telegram_id = integer_text(&raw.0).ok_or_else(|| {
        ApiError::new(
            Code::InvalidTelegramId,
            format!("telegram_id must be a positive integer, got {:?}", raw.0),
        )
        .with_field(fields::TELEGRAM_ID)
    })?;
    validate_telegram_id(telegram_id)?;
    Ok(telegram_id)
}

/// An integer in a path or query: decimal digits, or (as in a body, see
/// [`whole_integer`]) a whole number written with a fraction or an exponent.
fn integer_text(text: &str) -> Option<i64> {
    text.parse::<i64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().and_then(whole_integer))
}

/// A v2-signed read: the caller (read permission, rate) and the signature over the
/// path and query.
pub(super) fn signed_read(app: &App, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let source = app.caller(headers, Permission::Read)?;
    let signed = Signed {
        method: Method::GET.as_str(),
        target: target(uri),
        body: b"",
    };
    auth::require_v2(source, headers, &signed, app.tolerance())
}

pub(super) fn user_not_found(telegram_id: i64) -> ApiError {
    ApiError::new(
        Code::UserNotFound,
        format!("user {telegram_id} is not registered"),
    )
}

pub(super) async fn balance(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    signed_read(&app, &uri, &headers)?;
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
            limit = integer_text(value)
                .and_then(|l| u32::try_from(l).ok())
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
            // Only a cursor exactly as issued (the document's pattern): `r01` or `R1` are not.
            let issued =
                ledger::decode_cursor(value).filter(|id| ledger::encode_cursor(*id) == value);
            before = Some(issued.ok_or_else(|| {
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

pub(super) async fn records(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    signed_read(&app, &uri, &headers)?;
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
