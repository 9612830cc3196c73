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
//! To keep those rules while reading the bytes once, reading a value never fails on its
//! type: each field's value is kept as a [`Json`] and judged once the whole body has
//! parsed. Every value goes through `deserialize_any`, so what counts as valid JSON (UTF-8,
//! number range, nesting depth) is exactly what `serde_json` accepts for a `Value`.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

use super::{
    fields, limits, BatchItem, BatchRequest, Code, FieldError, RegisterUserRequest, SyncRequest,
};

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

const SYNC_FIELDS: [&str; 7] = [
    fields::TELEGRAM_ID,
    fields::AMOUNT,
    fields::SOURCE,
    fields::REASON,
    fields::TIMESTAMP,
    fields::TOKEN,
    fields::EXTERNAL_REFERENCE,
];

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

const USER_FIELDS: [&str; 5] = [
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

const ITEM_FIELDS: [&str; 5] = [
    fields::TELEGRAM_ID,
    fields::AMOUNT,
    fields::REASON,
    fields::EXTERNAL_REFERENCE,
    fields::TOKEN,
];

fn judge_item(index: usize, values: Option<[Json; 5]>) -> Result<BatchItem, FieldError> {
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

/// A batch body as read: `items` is judged item by item while it is read, so no item's
/// raw values are kept.
struct RawBatch {
    values: Option<BatchValues>,
}

#[derive(Default)]
struct BatchValues {
    items: Items,
    source: Json,
    atomic: Json,
    timestamp: Json,
}

/// The `items` value as read.
#[derive(Default)]
enum Items {
    #[default]
    Absent,
    NotAnArray,
    Array {
        /// How many entries the array holds (beyond `MAX_BATCH_ITEMS` they are not kept).
        count: usize,
        /// The items, or the first item's type error.
        items: Result<Vec<BatchItem>, FieldError>,
    },
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

// ---------------------------------------------------------------------------
// Reading without judging
// ---------------------------------------------------------------------------

/// One field's value as read. Absent and `null` are both `Null`.
#[derive(Default)]
enum Json {
    #[default]
    Null,
    /// An integer in the i64 range.
    Int(i64),
    Str(String),
    Bool(bool),
    /// Anything else: a float, an integer outside i64, an array, an object.
    Other,
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(i64::try_from(v).map_or(Json::Other, Json::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Json, A::Error> {
        drain_seq(seq)?;
        Ok(Json::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Json, A::Error> {
        drain_map(map)?;
        Ok(Json::Other)
    }
}

/// A value that is read and dropped. Unlike `IgnoredAny` it goes through
/// `deserialize_any`, so an unknown field must still be valid JSON (UTF-8 strings, numbers
/// in range), as it must for a `Value`.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        drain_seq(seq).map(|()| Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
        drain_map(map).map(|()| Skip)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

/// Reads a key and says which of the names it is, without allocating.
struct KeyIn(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeyIn {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeyIn {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

/// Whatever a visitor of an object meets where the value is not an object: it is read
/// (so the body must still be valid JSON) and reported as `None`.
macro_rules! not_an_object {
    ($value:ty) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<$value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$value, A::Error> {
            drain_seq(seq).map(|()| None)
        }
    };
}

/// The values of the named fields of one object (`None`: the value is not an object).
/// `T` is the request it is read for, so each body has its own `Raw` type.
struct Object<const N: usize, T> {
    values: Option<[Json; N]>,
    of: std::marker::PhantomData<T>,
}

/// The field names of each body read as an [`Object`].
trait Names<const N: usize> {
    const NAMES: &'static [&'static str; N];
}

impl Names<7> for SyncRequest {
    const NAMES: &'static [&'static str; 7] = &SYNC_FIELDS;
}

impl Names<5> for RegisterUserRequest {
    const NAMES: &'static [&'static str; 5] = &USER_FIELDS;
}

impl<'de, const N: usize, T: Names<N>> Deserialize<'de> for Object<N, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let values = d.deserialize_any(ObjectVisitor::<N>(T::NAMES))?;
        Ok(Object {
            values,
            of: std::marker::PhantomData,
        })
    }
}

struct ObjectVisitor<const N: usize>(&'static [&'static str; N]);

impl<'de, const N: usize> Visitor<'de> for ObjectVisitor<N> {
    type Value = Option<[Json; N]>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    not_an_object!(Option<[Json; N]>);

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Json; N] = std::array::from_fn(|_| Json::Null);
        while let Some(key) = map.next_key_seed(KeyIn(self.0))? {
            match key {
                Some(i) => values[i] = map.next_value()?,
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(values))
    }
}

const BATCH_FIELDS: [&str; 4] = [
    fields::ITEMS,
    fields::SOURCE,
    fields::ATOMIC,
    fields::TIMESTAMP,
];

impl<'de> Deserialize<'de> for RawBatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let values = d.deserialize_any(BatchVisitor)?;
        Ok(RawBatch { values })
    }
}

struct BatchVisitor;

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = Option<BatchValues>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    not_an_object!(Option<BatchValues>);

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = BatchValues::default();
        while let Some(key) = map.next_key_seed(KeyIn(&BATCH_FIELDS))? {
            match key {
                Some(0) => values.items = map.next_value_seed(ItemsSeed)?,
                Some(1) => values.source = map.next_value()?,
                Some(2) => values.atomic = map.next_value()?,
                Some(_) => values.timestamp = map.next_value()?,
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(values))
    }
}

/// Reads `items`, judging each item as it comes; after the first bad item (or past
/// `MAX_BATCH_ITEMS`) the rest are only read and counted.
struct ItemsSeed;

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Items, E> {
        Ok(Items::NotAnArray)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Items, E> {
        Ok(Items::NotAnArray)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Items, E> {
        Ok(Items::NotAnArray)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Items, E> {
        Ok(Items::NotAnArray)
    }

    fn visit_str<E>(self, _: &str) -> Result<Items, E> {
        Ok(Items::NotAnArray)
    }

    fn visit_unit<E>(self) -> Result<Items, E> {
        Ok(Items::Absent)
    }

    fn visit_none<E>(self) -> Result<Items, E> {
        Ok(Items::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        drain_map(map)?;
        Ok(Items::NotAnArray)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let capacity = seq.size_hint().unwrap_or(0).min(limits::MAX_BATCH_ITEMS);
        let mut items = Ok(Vec::with_capacity(capacity));
        let mut count = 0;
        loop {
            if count < limits::MAX_BATCH_ITEMS && items.is_ok() {
                match seq.next_element_seed(ItemSeed(count))? {
                    None => break,
                    Some(Ok(item)) => {
                        if let Ok(list) = &mut items {
                            list.push(item);
                        }
                    }
                    Some(Err(err)) => items = Err(err),
                }
            } else if seq.next_element::<Skip>()?.is_none() {
                break;
            }
            count += 1;
        }
        Ok(Items::Array { count, items })
    }
}

/// Reads and judges the item at `index`.
struct ItemSeed(usize);

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Result<BatchItem, FieldError>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let values = d.deserialize_any(ObjectVisitor(&ITEM_FIELDS))?;
        Ok(judge_item(self.0, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
