//! The rules a body's fields are judged by, once the whole body has been read: a fixed
//! order per request, `null` as absent, and messages that quote the field's path.

use std::borrow::Cow;

use super::read::{Items, Json, Names, Object, RawBatch};
use super::{item_field, Body};
use crate::protocol::{
    fields, limits, BatchItem, BatchRequest, CaptureRequest, Code, FieldError, HoldRequest,
    RegisterUserRequest, ReverseRequest, SyncRequest, TransferRequest, VoidRequest,
};

pub(super) const SYNC_FIELDS: [&str; 7] = [
    fields::TELEGRAM_ID,
    fields::AMOUNT,
    fields::SOURCE,
    fields::REASON,
    fields::TIMESTAMP,
    fields::TOKEN,
    fields::EXTERNAL_REFERENCE,
];

impl Names<7> for SyncRequest {
    const NAMES: &'static [&'static str; 7] = &SYNC_FIELDS;
}

impl Names<5> for RegisterUserRequest {
    const NAMES: &'static [&'static str; 5] = &USER_FIELDS;
}

impl Body for SyncRequest {
    type Raw = Object<7, SyncRequest>;

    fn judge(raw: Self::Raw) -> Result<Self, FieldError> {
        let at = At::TOP;
        let [telegram_id, amount, source, reason, timestamp, token, external_reference] =
            raw.values.ok_or_else(|| at.not_an_object())?;
        Ok(SyncRequest {
            telegram_id: at.i64(fields::TELEGRAM_ID, telegram_id)?,
            amount: at.i64(fields::AMOUNT, amount)?,
            source: at.string(fields::SOURCE, source)?,
            reason: at.string(fields::REASON, reason)?,
            timestamp: at.opt_i64(fields::TIMESTAMP, timestamp)?,
            token: at.opt_string(fields::TOKEN, token)?,
            external_reference: at.opt_string(fields::EXTERNAL_REFERENCE, external_reference)?,
        })
    }
}

pub(super) const USER_FIELDS: [&str; 5] = [
    fields::TELEGRAM_ID,
    fields::NICKNAME,
    fields::SOURCE,
    fields::TIMESTAMP,
    fields::TOKEN,
];

impl Body for RegisterUserRequest {
    type Raw = Object<5, RegisterUserRequest>;

    fn judge(raw: Self::Raw) -> Result<Self, FieldError> {
        let at = At::TOP;
        let [telegram_id, nickname, source, timestamp, token] =
            raw.values.ok_or_else(|| at.not_an_object())?;
        Ok(RegisterUserRequest {
            telegram_id: at.i64(fields::TELEGRAM_ID, telegram_id)?,
            nickname: at.opt_string(fields::NICKNAME, nickname)?,
            source: at.opt_string(fields::SOURCE, source)?,
            timestamp: at.opt_i64(fields::TIMESTAMP, timestamp)?,
            token: at.opt_string(fields::TOKEN, token)?,
        })
    }
}

pub(super) const ITEM_FIELDS: [&str; 5] = [
    fields::TELEGRAM_ID,
    fields::AMOUNT,
    fields::REASON,
    fields::EXTERNAL_REFERENCE,
    fields::TOKEN,
];

pub(super) fn judge_item(index: usize, values: Option<[Json; 5]>) -> Result<BatchItem, FieldError> {
    let at = At { item: Some(index) };
    let [telegram_id, amount, reason, external_reference, token] =
        values.ok_or_else(|| at.not_an_object())?;
    Ok(BatchItem {
        telegram_id: at.i64(fields::TELEGRAM_ID, telegram_id)?,
        amount: at.i64(fields::AMOUNT, amount)?,
        reason: at.string(fields::REASON, reason)?,
        external_reference: at.opt_string(fields::EXTERNAL_REFERENCE, external_reference)?,
        token: at.opt_string(fields::TOKEN, token)?,
    })
}

impl Body for BatchRequest {
    type Raw = RawBatch;

    fn judge(raw: Self::Raw) -> Result<Self, FieldError> {
        let at = At::TOP;
        let values = raw.values.ok_or_else(|| at.not_an_object())?;
        let items = match values.items {
            Items::Absent => return Err(at.missing(fields::ITEMS)),
            Items::NotAnArray => return Err(at.wrong(fields::ITEMS, "an array")),
            Items::Array { count, items } => {
                if count == 0 || count > limits::MAX_BATCH_ITEMS {
                    return Err(FieldError::new(
                        Code::BatchTooLarge,
                        fields::ITEMS,
                        format!(
                            "items must hold 1 to {} entries, got {count}",
                            limits::MAX_BATCH_ITEMS
                        ),
                    ));
                }
                items?
            }
        };
        Ok(BatchRequest {
            source: at.string(fields::SOURCE, values.source)?,
            items,
            atomic: at.opt_bool(fields::ATOMIC, values.atomic)?.unwrap_or(false),
            timestamp: at.opt_i64(fields::TIMESTAMP, values.timestamp)?,
        })
    }
}

/// The money-flow bodies: each a flat object, judged in its struct's field order.
macro_rules! flat_bodies {
    ($($request:ident { $($field:ident: $kind:ident = $name:expr),+ $(,)? })+) => {$(
        impl Names<{ [$($name),+].len() }> for $request {
            const NAMES: &'static [&'static str; [$($name),+].len()] = &[$($name),+];
        }

        impl Body for $request {
            type Raw = Object<{ [$($name),+].len() }, $request>;

            fn judge(raw: Self::Raw) -> Result<Self, FieldError> {
                let at = At::TOP;
                let [$($field),+] = raw.values.ok_or_else(|| at.not_an_object())?;
                Ok($request {
                    $($field: at.$kind($name, $field)?,)+
                })
            }
        }
    )+};
}

flat_bodies! {
    HoldRequest {
        telegram_id: i64 = fields::TELEGRAM_ID,
        amount: i64 = fields::AMOUNT,
        reason: string = fields::REASON,
        external_reference: opt_string = fields::EXTERNAL_REFERENCE,
        ttl_secs: opt_i64 = fields::TTL_SECS,
        source: opt_string = fields::SOURCE,
    }
    CaptureRequest {
        amount: opt_i64 = fields::AMOUNT,
        external_reference: opt_string = fields::EXTERNAL_REFERENCE,
        source: opt_string = fields::SOURCE,
    }
    VoidRequest {
        external_reference: opt_string = fields::EXTERNAL_REFERENCE,
        source: opt_string = fields::SOURCE,
    }
    ReverseRequest {
        record_id: opt_i64 = fields::RECORD_ID,
        original_reference: opt_string = fields::ORIGINAL_REFERENCE,
        amount: opt_i64 = fields::AMOUNT,
        reason: string = fields::REASON,
        external_reference: opt_string = fields::EXTERNAL_REFERENCE,
        source: opt_string = fields::SOURCE,
    }
    TransferRequest {
        from_telegram_id: i64 = fields::FROM_TELEGRAM_ID,
        to_telegram_id: i64 = fields::TO_TELEGRAM_ID,
        amount: i64 = fields::AMOUNT,
        reason: string = fields::REASON,
        external_reference: opt_string = fields::EXTERNAL_REFERENCE,
        source: opt_string = fields::SOURCE,
    }
}

// ---------------------------------------------------------------------------
// Judging one object's values
// ---------------------------------------------------------------------------

/// Where the fields being judged are: the body itself, or one batch item.
#[derive(Clone, Copy)]
struct At {
    item: Option<usize>,
}

impl At {
    const TOP: At = At { item: None };

    fn path(self, name: &'static str) -> Cow<'static, str> {
        match self.item {
            None => Cow::Borrowed(name),
            Some(index) => Cow::Owned(item_field(index, name)),
        }
    }

    fn not_an_object(self) -> FieldError {
        let message = match self.item {
            None => "body must be a JSON object".to_string(),
            Some(index) => format!("{}[{index}].body must be a JSON object", fields::ITEMS),
        };
        FieldError {
            code: Code::InvalidJson,
            field: None,
            message,
        }
    }

    fn missing(self, name: &'static str) -> FieldError {
        let path = self.path(name);
        FieldError {
            code: Code::MissingField,
            message: format!("missing field `{path}`"),
            field: Some(path),
        }
    }

    fn wrong(self, name: &'static str, expected: &str) -> FieldError {
        let path = self.path(name);
        FieldError {
            code: Code::InvalidField,
            message: format!("field `{path}` must be {expected}"),
            field: Some(path),
        }
    }

    fn opt_i64(self, name: &'static str, value: Json) -> Result<Option<i64>, FieldError> {
        match value {
            Json::Null => Ok(None),
            Json::Int(n) => Ok(Some(n)),
            _ => Err(self.wrong(name, "an integer in the i64 range")),
        }
    }

    fn i64(self, name: &'static str, value: Json) -> Result<i64, FieldError> {
        self.opt_i64(name, value)?.ok_or_else(|| self.missing(name))
    }

    fn opt_string(self, name: &'static str, value: Json) -> Result<Option<String>, FieldError> {
        match value {
            Json::Null => Ok(None),
            Json::Str(s) => Ok(Some(s)),
            _ => Err(self.wrong(name, "a string")),
        }
    }

    fn string(self, name: &'static str, value: Json) -> Result<String, FieldError> {
        self.opt_string(name, value)?
            .ok_or_else(|| self.missing(name))
    }

    fn opt_bool(self, name: &'static str, value: Json) -> Result<Option<bool>, FieldError> {
        match value {
            Json::Null => Ok(None),
            Json::Bool(b) => Ok(Some(b)),
            _ => Err(self.wrong(name, "a boolean")),
        }
    }
}
