//! Who is calling and may they: API key to source, permissions, and the v1/v2 signature
//! checks (constant time, within the clock window) from the core's `signature` module.

use crate::config::{Permission, Scheme, SourceConfig};
use crate::error::{unix_now, ApiError};
use axum::http::HeaderMap;
use credit_sync::protocol::{fields, headers, Code};
use credit_sync::signature;
use sha2::{Digest, Sha256};

/// The source behind `X-Api-Key`. Every configured key (each source's current and next
/// one) is compared (as a fixed-length digest, in constant time), so timing reveals
/// neither which key matched nor its length.
pub fn identify<'a>(
    sources: &'a [SourceConfig],
    headers: &HeaderMap,
) -> Result<&'a SourceConfig, ApiError> {
    let key = headers
        .get(headers::API_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                Code::Unauthorized,
                format!("missing {} header", headers::API_KEY),
            )
        })?;
    let digest = Sha256::digest(key.as_bytes());
    let mut found = None;
    for source in sources {
        for api_key in &source.api_keys {
            let candidate = Sha256::digest(api_key.as_bytes());
            if signature::constant_time_eq(&candidate, &digest) && found.is_none() {
                found = Some(source);
            }
        }
    }
    found.ok_or_else(|| ApiError::new(Code::Unauthorized, "unknown API key"))
}

/// Does `verify` accept one of the source's secrets (two during a rotation)? Every secret
/// is tried, so the time taken does not say which one matched.
fn any_secret(source: &SourceConfig, verify: impl Fn(&str) -> bool) -> bool {
    source
        .secrets
        .iter()
        .fold(false, |matched, secret| verify(secret) | matched)
}

pub fn require(source: &SourceConfig, permission: Permission) -> Result<(), ApiError> {
    if source.may(permission) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            format!("source {} lacks the {permission} permission", source.name),
        ))
    }
}

/// The body's `source` must be the API key's source.
pub fn same_source(source: &SourceConfig, claimed: &str) -> Result<(), ApiError> {
    if claimed == source.name {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::SourceMismatch,
            format!("source {claimed:?} does not match the API key's source"),
        )
        .with_field(fields::SOURCE))
    }
}

/// What a v2 signature covers.
pub struct Signed<'a> {
    pub method: &'a str,
    /// The request target exactly as sent (`path?query`).
    pub target: &'a str,
    pub body: &'a [u8],
}

/// Checks the `X-Signature` header when there is one: `Ok(Some(header))` when it is valid
/// (its lower-case hex is what a write spends), `Ok(None)` when the request carries none
/// (the caller then needs v1 or refuses).
pub fn check_v2(
    source: &SourceConfig,
    headers: &HeaderMap,
    request: &Signed<'_>,
    tolerance: i64,
) -> Result<Option<signature::SignatureHeader>, ApiError> {
    let Some(value) = headers.get(headers::SIGNATURE) else {
        return Ok(None);
    };
    let header = value
        .to_str()
        .ok()
        .and_then(signature::parse_v2_header)
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidSignature,
                format!(
                    "malformed {} header: expected t=<unix seconds>,v2=<hex>",
                    headers::SIGNATURE
                ),
            )
        })?;
    if !any_secret(source, |secret| {
        signature::verify_v2(
            secret,
            &header,
            request.method,
            request.target,
            request.body,
        )
    }) {
        return Err(ApiError::new(
            Code::InvalidSignature,
            "the v2 signature does not match the request",
        ));
    }
    check_window(header.timestamp, tolerance)?;
    Ok(Some(header))
}

/// Reads accept only v2.
pub fn require_v2(
    source: &SourceConfig,
    headers: &HeaderMap,
    request: &Signed<'_>,
    tolerance: i64,
) -> Result<(), ApiError> {
    if check_v2(source, headers, request, tolerance)?.is_some() {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::InvalidSignature,
            format!(
                "this endpoint requires an {} (v2) header",
                headers::SIGNATURE
            ),
        ))
    }
}

/// The timestamp and token of a v1-signed body, both required when there is no v2 header.
pub fn v1_parts(timestamp: Option<i64>, token: Option<&str>) -> Result<(i64, &str), ApiError> {
    let token = token.ok_or_else(|| missing_for_v1(fields::TOKEN))?;
    let timestamp = timestamp.ok_or_else(|| missing_for_v1(fields::TIMESTAMP))?;
    Ok((timestamp, token))
}

fn missing_for_v1(field: &'static str) -> ApiError {
    ApiError::new(
        Code::MissingField,
        format!(
            "missing field `{field}`: sign with token and timestamp (v1) or an {} header (v2)",
            headers::SIGNATURE
        ),
    )
    .with_field(field)
}

/// Checks one v1 token (the window separately, once per request, with [`check_window`]).
/// Returns the token in lower case: what the write spends.
pub fn check_v1_token(
    source: &SourceConfig,
    telegram_id: i64,
    amount: i64,
    timestamp: i64,
    token: &str,
) -> Result<String, ApiError> {
    if any_secret(source, |secret| {
        signature::verify_v1(secret, telegram_id, amount, &source.name, timestamp, token)
    }) {
        Ok(token.to_ascii_lowercase())
    } else {
        Err(
            ApiError::new(Code::InvalidSignature, "the v1 token does not match")
                .with_field(fields::TOKEN),
        )
    }
}

/// The source's `signatures` setting allows `scheme` for writes.
pub fn allow_scheme(source: &SourceConfig, scheme: Scheme) -> Result<(), ApiError> {
    if source.signatures.contains(&scheme) {
        return Ok(());
    }
    let message = match scheme {
        Scheme::V1 => format!(
            "source {} does not accept v1 tokens: sign the request with an {} (v2) header",
            source.name,
            headers::SIGNATURE
        ),
        Scheme::V2 => format!(
            "source {} does not accept {} (v2) signatures",
            source.name,
            headers::SIGNATURE
        ),
    };
    Err(ApiError::new(Code::SignatureSchemeRefused, message))
}

pub fn check_window(timestamp: i64, tolerance: i64) -> Result<(), ApiError> {
    let now = unix_now();
    if signature::timestamp_in_window(timestamp, now, tolerance) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::TimestampOutOfWindow,
            format!(
                "timestamp {timestamp} is outside ±{tolerance}s of the server time {now}; correct the clock offset and sign again"
            ),
        ))
    }
}
