//! Reads request bodies into typed requests, with errors that name the offending field.

use serde_json::{Map, Value};

#[cfg(doc)]
use super::validate_change;
use super::{
    fields, limits, BatchItem, BatchRequest, Code, FieldError, RegisterUserRequest, SyncRequest,
};

/// Reads typed fields out of a JSON object with errors that name the field.
/// serde's own messages do not name the field on type errors, so the server parses
/// through this instead.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// `value` must be a JSON object.
    pub fn new(value: &'a Value) -> Result<Self, FieldError> {
        Self::with_prefix(value, "")
    }

    /// Like `new`, naming fields `"{prefix}{name}"` in messages (e.g. `items[3].`).
    pub fn with_prefix(value: &'a Value, prefix: &str) -> Result<Self, FieldError> {
        match value.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                prefix: prefix.to_string(),
            }),
            None => Err(FieldError {
                code: Code::InvalidJson,
                field: None,
                message: format!("{}body must be a JSON object", prefix),
            }),
        }
    }

    fn missing(&self, name: &'static str) -> FieldError {
        FieldError::new(
            Code::MissingField,
            name,
            format!("missing field `{}{name}`", self.prefix),
        )
    }

    fn wrong(&self, name: &'static str, expected: &str) -> FieldError {
        FieldError::new(
            Code::InvalidField,
            name,
            format!("field `{}{name}` must be {expected}", self.prefix),
        )
    }

    fn get(&self, name: &'static str) -> Option<&'a Value> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn opt_i64(&self, name: &'static str) -> Result<Option<i64>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "an integer in the i64 range")),
        }
    }

    pub fn i64(&self, name: &'static str) -> Result<i64, FieldError> {
        self.opt_i64(name)?.ok_or_else(|| self.missing(name))
    }

    pub fn opt_str(&self, name: &'static str) -> Result<Option<&'a str>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "a string")),
        }
    }

    pub fn str(&self, name: &'static str) -> Result<&'a str, FieldError> {
        self.opt_str(name)?.ok_or_else(|| self.missing(name))
    }

    pub fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "a boolean")),
        }
    }

    pub fn array(&self, name: &'static str) -> Result<&'a Vec<Value>, FieldError> {
        match self.get(name) {
            None => Err(self.missing(name)),
            Some(v) => v.as_array().ok_or_else(|| self.wrong(name, "an array")),
        }
    }
}

impl SyncRequest {
    /// Parses a sync body with field-naming errors (types only; see [`validate_change`] for values).
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let f = Fields::new(value)?;
        Ok(SyncRequest {
            telegram_id: f.i64(fields::TELEGRAM_ID)?,
            amount: f.i64(fields::AMOUNT)?,
            source: f.str(fields::SOURCE)?.to_string(),
            reason: f.str(fields::REASON)?.to_string(),
            timestamp: f.opt_i64(fields::TIMESTAMP)?,
            token: f.opt_str(fields::TOKEN)?.map(str::to_string),
            external_reference: f.opt_str(fields::EXTERNAL_REFERENCE)?.map(str::to_string),
        })
    }
}

impl BatchRequest {
    /// Parses a batch body with field-naming errors. Item-level type errors fail the whole
    /// request (the body is malformed); item-level value errors are reported per item.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        Self::from_json_located(value).map_err(|(_, err)| err)
    }

    /// Like [`BatchRequest::from_json`], and also says which item an item-level error is
    /// in, so the server can name the field `items[i].amount` (see [`item_field`]).
    pub fn from_json_located(value: &Value) -> Result<Self, (Option<usize>, FieldError)> {
        let top = |err| (None, err);
        let f = Fields::new(value).map_err(top)?;
        let raw_items = f.array(fields::ITEMS).map_err(top)?;
        if raw_items.is_empty() || raw_items.len() > limits::MAX_BATCH_ITEMS {
            return Err(top(FieldError::new(
                Code::BatchTooLarge,
                fields::ITEMS,
                format!(
                    "items must hold 1 to {} entries, got {}",
                    limits::MAX_BATCH_ITEMS,
                    raw_items.len()
                ),
            )));
        }
        let mut items = Vec::with_capacity(raw_items.len());
        for (i, raw) in raw_items.iter().enumerate() {
            let parse = || -> Result<BatchItem, FieldError> {
                let item = Fields::with_prefix(raw, &format!("{}[{i}].", fields::ITEMS))?;
                Ok(BatchItem {
                    telegram_id: item.i64(fields::TELEGRAM_ID)?,
                    amount: item.i64(fields::AMOUNT)?,
                    reason: item.str(fields::REASON)?.to_string(),
                    external_reference: item
                        .opt_str(fields::EXTERNAL_REFERENCE)?
                        .map(str::to_string),
                    token: item.opt_str(fields::TOKEN)?.map(str::to_string),
                })
            };
            items.push(parse().map_err(|err| (Some(i), err))?);
        }
        Ok(BatchRequest {
            source: f.str(fields::SOURCE).map_err(top)?.to_string(),
            items,
            atomic: f.opt_bool(fields::ATOMIC).map_err(top)?.unwrap_or(false),
            timestamp: f.opt_i64(fields::TIMESTAMP).map_err(top)?,
        })
    }
}

/// The name of a field inside one batch item, as errors report it: `items[3].amount`.
pub fn item_field(index: usize, field: &str) -> String {
    format!("{}[{index}].{field}", fields::ITEMS)
}

impl RegisterUserRequest {
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let f = Fields::new(value)?;
        Ok(RegisterUserRequest {
            telegram_id: f.i64(fields::TELEGRAM_ID)?,
            nickname: f.opt_str(fields::NICKNAME)?.map(str::to_string),
            source: f.opt_str(fields::SOURCE)?.map(str::to_string),
            timestamp: f.opt_i64(fields::TIMESTAMP)?,
            token: f.opt_str(fields::TOKEN)?.map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sync_request_names_the_bad_field() {
        let err = SyncRequest::from_json(&json!({"telegram_id": 1, "source": "s", "reason": "r"}))
            .unwrap_err();
        assert_eq!((err.code, err.field), (Code::MissingField, Some("amount")));
        let err = SyncRequest::from_json(
            &json!({"telegram_id": "1", "amount": 1, "source": "s", "reason": "r"}),
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.field),
            (Code::InvalidField, Some("telegram_id"))
        );
        let err = SyncRequest::from_json(
            &json!({"telegram_id": 1.5, "amount": 1, "source": "s", "reason": "r"}),
        )
        .unwrap_err();
        assert_eq!(err.field, Some("telegram_id"));
        let err = SyncRequest::from_json(&json!([1])).unwrap_err();
        assert_eq!(err.code, Code::InvalidJson);
    }

    #[test]
    fn batch_errors_say_which_item() {
        let body = json!({"source": "s", "items": [
            {"telegram_id": 1, "amount": 1, "reason": "r"},
            {"telegram_id": 1, "amount": "1", "reason": "r"}]});
        let (index, err) = BatchRequest::from_json_located(&body).unwrap_err();
        assert_eq!(
            (index, err.code, err.field),
            (Some(1), Code::InvalidField, Some("amount"))
        );
        assert_eq!(item_field(1, fields::AMOUNT), "items[1].amount");
        let (index, err) = BatchRequest::from_json_located(&json!({"items": []})).unwrap_err();
        assert_eq!((index, err.code), (None, Code::BatchTooLarge));
    }
}
