//! Value rules shared by the server and the SDK, so both reject the same input with the same code.

use std::borrow::Cow;
use std::fmt;

use super::{fields, limits, CaptureRequest, Code, HoldRequest, ReverseRequest, TransferRequest};

/// A rejected input: the code, the field it concerns and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: Code,
    /// The field's path: a name (`amount`), or inside a batch item `items[3].amount`.
    pub field: Option<Cow<'static, str>>,
    pub message: String,
}

impl FieldError {
    pub fn new(code: Code, field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            code,
            field: Some(Cow::Borrowed(field)),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

pub fn validate_telegram_id(telegram_id: i64) -> Result<(), FieldError> {
    telegram_id_in(fields::TELEGRAM_ID, telegram_id)
}

/// A Telegram id in the field `field` (`from_telegram_id`, say).
fn telegram_id_in(field: &'static str, telegram_id: i64) -> Result<(), FieldError> {
    if telegram_id <= 0 {
        return Err(FieldError::new(
            Code::InvalidTelegramId,
            field,
            format!("{field} must be a positive integer, got {telegram_id}"),
        ));
    }
    Ok(())
}

/// A positive amount (`hold`, `capture`, `reverse`, `transfer`): at least 1, at most
/// `max_amount`.
fn positive_amount(amount: i64, max_amount: i64) -> Result<(), FieldError> {
    if amount <= 0 {
        return Err(FieldError::new(
            Code::InvalidAmount,
            fields::AMOUNT,
            format!("amount must be positive, got {amount}"),
        ));
    }
    validate_amount(amount, max_amount)
}

/// `amount` must be non-zero and `|amount| <= max_amount`.
pub fn validate_amount(amount: i64, max_amount: i64) -> Result<(), FieldError> {
    if amount == 0 {
        return Err(FieldError::new(
            Code::InvalidAmount,
            fields::AMOUNT,
            "amount must not be 0",
        ));
    }
    if amount.unsigned_abs() > max_amount.unsigned_abs() {
        return Err(FieldError::new(
            Code::AmountTooLarge,
            fields::AMOUNT,
            format!("|amount| must be at most {max_amount}, got {amount}"),
        ));
    }
    Ok(())
}

/// A reason is free text (any language) up to 256 characters, without control characters.
pub fn validate_reason(reason: &str) -> Result<(), FieldError> {
    validate_text(
        reason,
        Code::InvalidReason,
        fields::REASON,
        limits::MAX_REASON_CHARS,
    )
}

/// A nickname follows the reason's rules, up to 128 characters, with its own code.
pub fn validate_nickname(nickname: &str) -> Result<(), FieldError> {
    validate_text(
        nickname,
        Code::InvalidNickname,
        fields::NICKNAME,
        limits::MAX_NICKNAME_CHARS,
    )
}

fn validate_text(
    text: &str,
    code: Code,
    field: &'static str,
    max: usize,
) -> Result<(), FieldError> {
    let chars = text.chars().count();
    if chars > max {
        return Err(FieldError::new(
            code,
            field,
            format!("{field} must be at most {max} characters, got {chars}"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            code,
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// Is `c` allowed in an `external_reference`? ASCII letters, digits and `_ - . : / @ # = +`.
pub fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '@' | '#' | '=' | '+')
}

/// A reference is 1..=128 characters from [`is_reference_char`].
pub fn validate_reference(reference: &str) -> Result<(), FieldError> {
    reference_in(fields::EXTERNAL_REFERENCE, reference)
}

/// A reference in the field `field` (`original_reference`, say).
fn reference_in(field: &'static str, reference: &str) -> Result<(), FieldError> {
    if reference.is_empty() {
        return Err(FieldError::new(
            Code::InvalidReference,
            field,
            format!("{field} must not be empty"),
        ));
    }
    let chars = reference.chars().count();
    if chars > limits::MAX_REFERENCE_CHARS {
        return Err(FieldError::new(
            Code::InvalidReference,
            field,
            format!(
                "{field} must be at most {} characters, got {chars}",
                limits::MAX_REFERENCE_CHARS
            ),
        ));
    }
    if let Some(bad) = reference.chars().find(|c| !is_reference_char(*c)) {
        return Err(FieldError::new(
            Code::InvalidReference,
            field,
            format!("{field} may only use ASCII letters, digits and _-.:/@#=+ (found {bad:?})"),
        ));
    }
    Ok(())
}

fn optional_reference(reference: Option<&str>) -> Result<(), FieldError> {
    reference.map_or(Ok(()), validate_reference)
}

/// Checks a hold against every rule; returns its lifetime in seconds (`ttl_secs`, or the
/// default).
pub fn validate_hold(request: &HoldRequest, max_amount: i64) -> Result<i64, FieldError> {
    validate_telegram_id(request.telegram_id)?;
    positive_amount(request.amount, max_amount)?;
    validate_reason(&request.reason)?;
    optional_reference(request.external_reference.as_deref())?;
    let ttl = request.ttl_secs.unwrap_or(limits::DEFAULT_HOLD_TTL_SECS);
    if !(1..=limits::MAX_HOLD_TTL_SECS).contains(&ttl) {
        return Err(FieldError::new(
            Code::InvalidField,
            fields::TTL_SECS,
            format!(
                "ttl_secs must be 1 to {} (7 days), got {ttl}",
                limits::MAX_HOLD_TTL_SECS
            ),
        ));
    }
    Ok(ttl)
}

/// Checks a capture's body (its amount against the hold is the ledger's to judge).
pub fn validate_capture(request: &CaptureRequest, max_amount: i64) -> Result<(), FieldError> {
    if let Some(amount) = request.amount {
        positive_amount(amount, max_amount)?;
    }
    optional_reference(request.external_reference.as_deref())
}

/// Checks a reversal: exactly one of `record_id` and `original_reference`.
pub fn validate_reverse(request: &ReverseRequest, max_amount: i64) -> Result<(), FieldError> {
    match (request.record_id, request.original_reference.as_deref()) {
        (None, None) => {
            return Err(FieldError::new(
                Code::MissingField,
                fields::RECORD_ID,
                "give record_id or original_reference",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                Code::InvalidField,
                fields::ORIGINAL_REFERENCE,
                "give record_id or original_reference, not both",
            ))
        }
        (Some(id), None) if id <= 0 => {
            return Err(FieldError::new(
                Code::InvalidField,
                fields::RECORD_ID,
                format!("record_id must be a positive integer, got {id}"),
            ))
        }
        (Some(_), None) => {}
        (None, Some(reference)) => reference_in(fields::ORIGINAL_REFERENCE, reference)?,
    }
    if let Some(amount) = request.amount {
        positive_amount(amount, max_amount)?;
    }
    validate_reason(&request.reason)?;
    optional_reference(request.external_reference.as_deref())
}

/// Checks a transfer: two different users and a positive amount.
pub fn validate_transfer(request: &TransferRequest, max_amount: i64) -> Result<(), FieldError> {
    telegram_id_in(fields::FROM_TELEGRAM_ID, request.from_telegram_id)?;
    telegram_id_in(fields::TO_TELEGRAM_ID, request.to_telegram_id)?;
    if request.from_telegram_id == request.to_telegram_id {
        return Err(FieldError::new(
            Code::InvalidField,
            fields::TO_TELEGRAM_ID,
            "to_telegram_id must differ from from_telegram_id",
        ));
    }
    positive_amount(request.amount, max_amount)?;
    validate_reason(&request.reason)?;
    optional_reference(request.external_reference.as_deref())
}

/// Is `text` a hold id as the server makes them ([`limits::HOLD_ID_PREFIX`] and
/// [`limits::HOLD_ID_RANDOM_CHARS`] lowercase hex digits)?
pub fn is_hold_id(text: &str) -> bool {
    text.strip_prefix(limits::HOLD_ID_PREFIX)
        .is_some_and(|hex| {
            hex.len() == limits::HOLD_ID_RANDOM_CHARS
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// Checks one change (sync or batch item) against every rule.
pub fn validate_change(
    telegram_id: i64,
    amount: i64,
    reason: &str,
    reference: Option<&str>,
    max_amount: i64,
) -> Result<(), FieldError> {
    validate_telegram_id(telegram_id)?;
    validate_amount(amount, max_amount)?;
    validate_reason(reason)?;
    if let Some(reference) = reference {
        validate_reference(reference)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rules() {
        assert_eq!(
            validate_amount(0, 10).unwrap_err().code,
            Code::InvalidAmount
        );
        assert_eq!(
            validate_amount(11, 10).unwrap_err().code,
            Code::AmountTooLarge
        );
        assert_eq!(
            validate_amount(i64::MIN, 10).unwrap_err().code,
            Code::AmountTooLarge
        );
        assert!(validate_amount(-10, 10).is_ok());
        assert_eq!(
            validate_telegram_id(0).unwrap_err().code,
            Code::InvalidTelegramId
        );
        assert!(validate_reason(&"观".repeat(256)).is_ok());
        assert!(validate_reason(&"观".repeat(257)).is_err());
        assert!(validate_reason("a\u{0}b").is_err());
        assert!(validate_reference("video_12345").is_ok());
        assert!(validate_reference("x'; DROP TABLE users;--").is_err());
        assert!(validate_reference(&"a".repeat(129)).is_err());
        assert!(validate_reference("").is_err());
    }

    fn transfer(from: i64, to: i64, amount: i64) -> TransferRequest {
        TransferRequest {
            from_telegram_id: from,
            to_telegram_id: to,
            amount,
            reason: "gift".into(),
            external_reference: None,
            source: None,
        }
    }

    #[test]
    fn flow_rules() {
        let hold = |amount, ttl_secs| HoldRequest {
            telegram_id: 1,
            amount,
            reason: "job".into(),
            external_reference: None,
            ttl_secs,
            source: None,
        };
        assert_eq!(validate_hold(&hold(5, None), 10), Ok(600));
        assert_eq!(
            validate_hold(&hold(-5, None), 10).unwrap_err().code,
            Code::InvalidAmount
        );
        let err = validate_hold(&hold(5, Some(7 * 86400 + 1)), 10).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ttl_secs"));
        assert!(validate_hold(&hold(5, Some(0)), 10).is_err());
        let err = validate_transfer(&transfer(1, 1, 5), 10).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("to_telegram_id"));
        let err = validate_transfer(&transfer(0, 1, 5), 10).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::InvalidTelegramId, Some("from_telegram_id"))
        );
        assert!(validate_transfer(&transfer(1, 2, 5), 10).is_ok());
        let reverse = |record_id, original_reference: Option<&str>| ReverseRequest {
            record_id,
            original_reference: original_reference.map(Into::into),
            amount: None,
            reason: "refund".into(),
            external_reference: None,
            source: None,
        };
        assert_eq!(
            validate_reverse(&reverse(None, None), 10).unwrap_err().code,
            Code::MissingField
        );
        assert!(validate_reverse(&reverse(Some(1), Some("x")), 10).is_err());
        assert!(validate_reverse(&reverse(None, Some("order-1")), 10).is_ok());
        let err = validate_reverse(&reverse(None, Some("a b")), 10).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("original_reference"));
        assert!(is_hold_id("hold_0123456789abcdef01234567"));
        assert!(!is_hold_id("hold_0123456789ABCDEF01234567"));
        assert!(!is_hold_id("hold_1"));
    }
}
