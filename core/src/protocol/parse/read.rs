//! Reading a body with serde without judging it: a value never fails on its type, so
//! the whole body is read (and must be valid JSON) before any field is judged. Every value
//! goes through `deserialize_any`, so what counts as valid JSON is exactly what
//! `serde_json` accepts for a `Value`.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

use super::judge::{judge_item, ITEM_FIELDS};
use crate::protocol::{fields, limits, BatchItem, FieldError};

/// A batch body as read: `items` is judged item by item while it is read, so no item's
/// raw values are kept.
pub(super) struct RawBatch {
    pub(super) values: Option<BatchValues>,
}

#[derive(Default)]
pub(super) struct BatchValues {
    pub(super) items: Items,
    pub(super) source: Json,
    pub(super) atomic: Json,
    pub(super) timestamp: Json,
}

/// The `items` value as read.
#[derive(Default)]
pub(super) enum Items {
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

/// One field's value as read. Absent and `null` are both `Null`.
#[derive(Default)]
pub(super) enum Json {
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

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(super::whole_integer(v).map_or(Json::Other, Json::Int))
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
pub(super) struct Object<const N: usize, T> {
    pub(super) values: Option<[Json; N]>,
    of: std::marker::PhantomData<T>,
}

/// The field names of each body read as an [`Object`].
pub(super) trait Names<const N: usize> {
    const NAMES: &'static [&'static str; N];
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

pub(super) struct ObjectVisitor<const N: usize>(&'static [&'static str; N]);

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
