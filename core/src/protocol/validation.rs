//! Value rules shared by the server and the SDK, so both reject the same input with the same code.

use std::borrow::Cow;
use std::fmt;

use super::{fields, limits, Code};

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
    if telegram_id <= 0 {
        return Err(FieldError::new(
            Code::InvalidTelegramId,
            fields::TELEGRAM_ID,
            format!("telegram_id must be a positive integer, got {telegram_id}"),
        ));
    }
    Ok(())
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
    if reference.is_empty() {
        return Err(FieldError::new(
            Code::InvalidReference,
            fields::EXTERNAL_REFERENCE,
            "external_reference must not be empty",
        ));
    }
    let chars = reference.chars().count();
    if chars > limits::MAX_REFERENCE_CHARS {
        return Err(FieldError::new(
            Code::InvalidReference,
            fields::EXTERNAL_REFERENCE,
            format!(
                "external_reference must be at most {} characters, got {chars}",
                limits::MAX_REFERENCE_CHARS
            ),
        ));
    }
    if let Some(bad) = reference.chars().find(|c| !is_reference_char(*c)) {
        return Err(FieldError::new(
            Code::InvalidReference,
            fields::EXTERNAL_REFERENCE,
            format!(
                "external_reference may only use ASCII letters, digits and _-.:/@#=+ (found {bad:?})"
            ),
        ));
    }
    Ok(())
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
}
