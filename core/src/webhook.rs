//! Standard Webhooks (<https://www.standardwebhooks.com>) signing, in one place: the server
//! signs every delivery attempt with it, and the SDKs' `verify_webhook` checks a received
//! one with it. What is signed is `"{webhook-id}.{webhook-timestamp}.{body}"`, with
//! HMAC-SHA256 keyed by the base64-decoded `whsec_` secret; the `webhook-signature`
//! header holds one `v1,<base64>` per secret (several during a rotation), space-separated.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::protocol::Code;

/// The delivery's stable id (the event's id).
pub const ID_HEADER: &str = "webhook-id";
/// Unix seconds of this attempt (every attempt is signed again).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// `v1,<base64>` per secret, space-separated.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// Every secret starts with this, followed by the base64 of its key.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a timestamp may be from the verifier's clock (the specification's five minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a secret or a received webhook was refused. Each has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` and non-empty base64.
    #[error("the webhook secret must be \"whsec_\" followed by base64")]
    MalformedSecret,
    /// A required header is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// A header is not in its specified form.
    #[error("the {0} header is malformed")]
    MalformedHeader(&'static str),
    /// The timestamp is further from now than the tolerance: a replay or a skewed clock.
    #[error("the webhook timestamp {timestamp} is more than {tolerance} s from now ({now})")]
    TimestampOutOfTolerance {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    /// No `v1` signature matches the body with this secret.
    #[error("no webhook signature matches")]
    InvalidSignature,
}

impl WebhookError {
    /// The stable code of the failure (its wire string lives in [`Code`]).
    pub fn code(&self) -> Code {
        match self {
            WebhookError::MalformedSecret => Code::WebhookSecretMalformed,
            WebhookError::MissingHeader(_) | WebhookError::MalformedHeader(_) => {
                Code::WebhookHeaderMalformed
            }
            WebhookError::TimestampOutOfTolerance { .. } => Code::WebhookTimestampOutOfTolerance,
            WebhookError::InvalidSignature => Code::WebhookSignatureInvalid,
        }
    }
}

/// A webhook secret's key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Reads `whsec_<base64>` (padding optional, as the reference libraries accept it).
    pub fn parse(text: &str) -> Result<Secret, WebhookError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(WebhookError::MalformedSecret)?
            .trim_end_matches('=');
        let padded = format!("{encoded}{}", "=".repeat((4 - encoded.len() % 4) % 4));
        match STANDARD.decode(padded) {
            Ok(key) if !key.is_empty() => Ok(Secret(key)),
            _ => Err(WebhookError::MalformedSecret),
        }
    }

    /// The raw signature of one message.
    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

/// The `webhook-signature` value of one attempt: `v1,<base64>` for each secret.
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| format!("v1,{}", STANDARD.encode(secret.mac(id, timestamp, body))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a received webhook: its three headers (looked up by `header`, by lower-case
/// name), its timestamp within `tolerance` seconds of `now`, and one `v1` signature of
/// `body` by `secret`. On success, returns the webhook's id.
pub fn verify<'h>(
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<&'h str, WebhookError> {
    let secret = Secret::parse(secret)?;
    let required = |name: &'static str| {
        header(name)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingHeader(name))
    };
    let id = required(ID_HEADER)?;
    let timestamp: i64 = required(TIMESTAMP_HEADER)?
        .trim()
        .parse()
        .map_err(|_| WebhookError::MalformedHeader(TIMESTAMP_HEADER))?;
    let signatures = required(SIGNATURE_HEADER)?;
    if (now - timestamp).abs() > tolerance {
        return Err(WebhookError::TimestampOutOfTolerance {
            timestamp,
            now,
            tolerance,
        });
    }
    let expected = secret.mac(id, timestamp, body);
    let mut well_formed = false;
    for versioned in signatures.split(' ').filter(|s| !s.is_empty()) {
        let Some((version, encoded)) = versioned.split_once(',') else {
            continue;
        };
        let Ok(candidate) = STANDARD.decode(encoded) else {
            continue;
        };
        well_formed = true;
        if version == "v1" && subtle::ConstantTimeEq::ct_eq(&candidate[..], &expected[..]).into() {
            return Ok(id);
        }
    }
    if !well_formed {
        return Err(WebhookError::MalformedHeader(SIGNATURE_HEADER));
    }
    Err(WebhookError::InvalidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "evt_01a23510-75f3-7010-9027-b1d4f14b2000";
    const T: i64 = 1_796_186_818;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"credits.added"}"#;
    /// What the `standardwebhooks` Python package (1.1.0) signs for the above.
    const REFERENCE: &str = "v1,B9fO9HmsbLPW4Imku66ielLPpJb1kTqWPiWQqnBXP4w=";

    fn headers<'a>(signature: &'a str, t: &'a str) -> impl Fn(&str) -> Option<&'a str> {
        move |name| match name {
            ID_HEADER => Some(ID),
            TIMESTAMP_HEADER => Some(t),
            SIGNATURE_HEADER => Some(signature),
            _ => None,
        }
    }

    #[test]
    fn signs_as_the_reference_library_does() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(sign(&[secret], ID, T, BODY), REFERENCE);
    }

    #[test]
    fn verifies_the_reference_signature_and_refuses_the_rest() {
        let t = T.to_string();
        let verify = |sig: &str, t: &str, body: &[u8], now: i64| {
            verify(headers(sig, t), body, SECRET, now, DEFAULT_TOLERANCE_SECS).map(|_| ())
        };
        assert_eq!(verify(REFERENCE, &t, BODY, T + 10), Ok(()));
        // A rotation: one of several matches.
        let rotated = format!("v1,AAAA {REFERENCE}");
        assert_eq!(verify(&rotated, &t, BODY, T), Ok(()));
        assert_eq!(
            verify(REFERENCE, &t, b"{}", T),
            Err(WebhookError::InvalidSignature)
        );
        assert!(matches!(
            verify(REFERENCE, &t, BODY, T + 301),
            Err(WebhookError::TimestampOutOfTolerance { .. })
        ));
        assert_eq!(
            verify(REFERENCE, "soon", BODY, T),
            Err(WebhookError::MalformedHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify("garbage", &t, BODY, T),
            Err(WebhookError::MalformedHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            super::verify(headers(REFERENCE, &t), BODY, "not-a-secret", T, 300),
            Err(WebhookError::MalformedSecret)
        );
        let no_id = |name: &str| (name != ID_HEADER).then_some("x");
        assert_eq!(
            super::verify(no_id, BODY, SECRET, T, 300),
            Err(WebhookError::MissingHeader(ID_HEADER))
        );
        assert_eq!(
            WebhookError::InvalidSignature.code().as_str(),
            "webhook_signature_invalid"
        );
    }
}
