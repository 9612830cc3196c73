//! The one reader of request bodies: serde, straight from the bytes, under the server's
//! rules, with errors that name the offending field by its path (`items[3].amount`).
//!
//! The rules (the contract `docs/protocol.md` states):
//! - a syntax error anywhere in the body is `invalid_json`, before any field is judged;
//! - `null` is the same as an absent field;
//! - of duplicate keys the last one wins, as in any JSON object read into a map;
//! - fields are judged in a fixed order (the struct's), not the document's, so one body
//!   always gets one answer.
//!
//! To keep those rules while reading the bytes once, `read` never fails on a value's type
//! (it keeps each field's value), and `judge` applies the rules once the whole body has
//! been read.

mod judge;
mod read;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::{
    fields, BatchRequest, CaptureRequest, Code, FieldError, HoldRequest, RegisterUserRequest,
    ReverseRequest, SyncRequest, TransferRequest, VoidRequest,
};

/// JSON does not tell `2` from `2.0`, and JSON Schema (the OpenAPI document) reads both
/// as the integer 2: so does the parser. A whole number written with a fraction or an
/// exponent is that integer, up to 2^53 (beyond it a float no longer spells every integer);
/// any other non-integer stays a type error.
pub fn whole_integer(f: f64) -> Option<i64> {
    const LARGEST_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    (f.fract() == 0.0 && f.abs() <= LARGEST_EXACT).then_some(f as i64)
}

/// The name of a field inside one batch item, as errors report it: `items[3].amount`.
pub fn item_field(index: usize, field: &str) -> String {
    format!("{}[{index}].{field}", fields::ITEMS)
}

impl SyncRequest {
    /// Parses a sync body; types only (see [`validate_change`](super::validate_change) for
    /// values).
    pub fn from_slice(body: &[u8]) -> Result<Self, FieldError> {
        from_slice(body)
    }
}

impl BatchRequest {
    /// Parses a batch body. Item-level type errors fail the whole request (the body is
    /// malformed) and name the item (`items[3].amount`); item-level value errors are the
    /// server's to report per item.
    pub fn from_slice(body: &[u8]) -> Result<Self, FieldError> {
        from_slice(body)
    }
}

impl RegisterUserRequest {
    /// Parses a `POST /api/users` body; types only.
    pub fn from_slice(body: &[u8]) -> Result<Self, FieldError> {
        from_slice(body)
    }
}

/// `from_slice` and serde's `Deserialize` for the money-flow bodies (types only; see
/// `validate_hold` and its siblings for values).
macro_rules! flat_parsers {
    ($($request:ident),+) => {$(
        impl $request {
            /// Parses the body; types only.
            pub fn from_slice(body: &[u8]) -> Result<Self, FieldError> {
                from_slice(body)
            }
        }

        impl<'de> Deserialize<'de> for $request {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_judged(d)
            }
        }
    )+};
}

flat_parsers!(
    HoldRequest,
    CaptureRequest,
    VoidRequest,
    ReverseRequest,
    TransferRequest
);

/// A request body: what serde reads without judging it, and the judgement.
trait Body: Sized {
    type Raw: de::DeserializeOwned;
    fn judge(raw: Self::Raw) -> Result<Self, FieldError>;
}

fn from_slice<T: Body>(body: &[u8]) -> Result<T, FieldError> {
    let raw = serde_json::from_slice::<T::Raw>(body).map_err(|e| FieldError {
        code: Code::InvalidJson,
        field: None,
        message: format!("body is not valid JSON: {e}"),
    })?;
    T::judge(raw)
}

/// The same rules for any serde format (the message without the code).
fn deserialize_judged<'de, T: Body, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let raw = T::Raw::deserialize(d)?;
    T::judge(raw).map_err(|e| de::Error::custom(e.message))
}

impl<'de> Deserialize<'de> for SyncRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_judged(d)
    }
}

impl<'de> Deserialize<'de> for BatchRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_judged(d)
    }
}

impl<'de> Deserialize<'de> for RegisterUserRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_judged(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{limits, BatchItem};
    use serde_json::{json, Value};

    fn bytes(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    fn sync_err(value: Value) -> FieldError {
        SyncRequest::from_slice(&bytes(&value)).unwrap_err()
    }

    #[test]
    fn sync_request_names_the_bad_field() {
        let err = sync_err(json!({"telegram_id": 1, "source": "s", "reason": "r"}));
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::MissingField, Some("amount"))
        );
        assert_eq!(err.message, "missing field `amount`");
        let err = sync_err(json!({"telegram_id": "1", "amount": 1, "source": "s", "reason": "r"}));
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::InvalidField, Some("telegram_id"))
        );
        assert_eq!(
            err.message,
            "field `telegram_id` must be an integer in the i64 range"
        );
        let err = sync_err(json!({"telegram_id": 1.5, "amount": 1, "source": "s", "reason": "r"}));
        assert_eq!(err.field.as_deref(), Some("telegram_id"));
        let err = sync_err(json!([1]));
        assert_eq!(
            (err.code, err.field, err.message.as_str()),
            (Code::InvalidJson, None, "body must be a JSON object")
        );
    }

    #[test]
    fn a_whole_number_is_that_integer_however_it_is_written() {
        let body =
            br#"{"telegram_id": 2251799813685247.0, "amount": -7e3, "source": "s", "reason": "r"}"#;
        let request = SyncRequest::from_slice(body).unwrap();
        assert_eq!(
            (request.telegram_id, request.amount),
            (2_251_799_813_685_247, -7000)
        );
        for (f, whole) in [(2.0, Some(2)), (-0.0, Some(0)), (0.5, None), (1e300, None)] {
            assert_eq!(whole_integer(f), whole, "{f}");
        }
        assert_eq!(whole_integer(9_007_199_254_740_994.0), None, "beyond 2^53");
    }

    #[test]
    fn fields_are_judged_in_a_fixed_order_not_the_documents() {
        // `amount` comes first in the document, but `telegram_id` is judged first.
        let err = sync_err(json!({"amount": "x", "source": 5}));
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::MissingField, Some("telegram_id"))
        );
    }

    #[test]
    fn null_is_absent_and_the_last_duplicate_wins() {
        let body = br#"{"telegram_id": 1, "amount": "x", "amount": 2, "source": "s",
                        "reason": "r", "token": null, "external_reference": null}"#;
        let request = SyncRequest::from_slice(body).unwrap();
        assert_eq!((request.amount, request.token), (2, None));
        let err = sync_err(json!({"telegram_id": 1, "amount": 1, "source": "s", "reason": null}));
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::MissingField, Some("reason"))
        );
        let batch = BatchRequest::from_slice(
            br#"{"source": "s", "atomic": null, "items": [{"telegram_id": 1, "amount": 1, "reason": "r"}]}"#,
        )
        .unwrap();
        assert!(!batch.atomic);
    }

    #[test]
    fn invalid_json_anywhere_comes_first() {
        let deep = format!(r#"{{"other": {}{}}}"#, "[".repeat(200), "]".repeat(200));
        for body in [
            deep.as_bytes(),
            br#"{"telegram_id": "x", "amount": }"#,
            br#"{"telegram_id": 1} trailing"#,
            br#"{"telegram_id": 1, "other": 1e400}"#,
            b"{\"telegram_id\": 1, \"other\": \"\xff\"}",
            b"",
        ] {
            let err = SyncRequest::from_slice(body).unwrap_err();
            let expected = serde_json::from_slice::<Value>(body).unwrap_err();
            assert_eq!(err.code, Code::InvalidJson);
            assert_eq!(err.message, format!("body is not valid JSON: {expected}"));
        }
    }

    #[test]
    fn batch_errors_say_which_item() {
        let body = json!({"source": "s", "items": [
            {"telegram_id": 1, "amount": 1, "reason": "r"},
            {"telegram_id": 1, "amount": "1", "reason": "r"}]});
        let err = BatchRequest::from_slice(&bytes(&body)).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::InvalidField, Some("items[1].amount"))
        );
        assert_eq!(
            err.message,
            "field `items[1].amount` must be an integer in the i64 range"
        );
        assert_eq!(item_field(1, fields::AMOUNT), "items[1].amount");
        let err = BatchRequest::from_slice(br#"{"items": [{"telegram_id": 1}, 7]}"#).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::MissingField, Some("items[0].amount"))
        );
        let err = BatchRequest::from_slice(br#"{"items": [7]}"#).unwrap_err();
        assert_eq!(
            (err.code, err.field, err.message.as_str()),
            (
                Code::InvalidJson,
                None,
                "items[0].body must be a JSON object"
            )
        );
        let err = BatchRequest::from_slice(br#"{"items": []}"#).unwrap_err();
        assert_eq!(err.code, Code::BatchTooLarge);
        // The count is judged before the items.
        let mut many = vec![json!(7)];
        many.extend((0..limits::MAX_BATCH_ITEMS).map(|_| json!({})));
        let err = BatchRequest::from_slice(&bytes(&json!({"items": many}))).unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "items must hold 1 to {} entries, got {}",
                limits::MAX_BATCH_ITEMS,
                limits::MAX_BATCH_ITEMS + 1
            )
        );
        // Items before the other fields.
        let err = BatchRequest::from_slice(br#"{"source": 5}"#).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::MissingField, Some("items"))
        );
    }

    #[test]
    fn serde_users_get_the_same_rules() {
        let request: SyncRequest = serde_json::from_value(
            json!({"telegram_id": 1, "amount": 1, "source": "s", "reason": "r", "token": null}),
        )
        .unwrap();
        assert_eq!(request.token, None);
        let err = serde_json::from_value::<SyncRequest>(json!({"telegram_id": 1})).unwrap_err();
        assert_eq!(err.to_string(), "missing field `amount`");
        // A JSON array is not a struct here, as it would be for a derive.
        assert!(serde_json::from_value::<RegisterUserRequest>(json!([1])).is_err());
    }

    #[test]
    fn flow_bodies_name_their_fields() {
        let err = HoldRequest::from_slice(br#"{"telegram_id": 1, "amount": 2}"#).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::MissingField, Some("reason"))
        );
        let hold = HoldRequest::from_slice(
            br#"{"telegram_id": 1, "amount": 2, "reason": "r", "ttl_secs": null}"#,
        )
        .unwrap();
        assert_eq!(hold.ttl_secs, None);
        let err = TransferRequest::from_slice(br#"{"from_telegram_id": "1"}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("from_telegram_id"));
        assert_eq!(
            CaptureRequest::from_slice(b"{}").unwrap(),
            CaptureRequest::default()
        );
        assert_eq!(
            VoidRequest::from_slice(b"[]").unwrap_err().code,
            Code::InvalidJson
        );
        let reverse = ReverseRequest::from_slice(br#"{"record_id": 7, "reason": "refund"}"#);
        assert_eq!(reverse.unwrap().record_id, Some(7));
    }

    #[test]
    fn requests_round_trip() {
        let request = BatchRequest {
            source: "s".into(),
            items: vec![BatchItem {
                telegram_id: 1,
                amount: -2,
                reason: "r".into(),
                external_reference: Some("ref".into()),
                token: None,
            }],
            atomic: true,
            timestamp: Some(3),
        };
        let again = BatchRequest::from_slice(&serde_json::to_vec(&request).unwrap()).unwrap();
        assert_eq!(again, request);
    }
}
