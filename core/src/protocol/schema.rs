//! The JSON Schema of the wire's constrained values, for the server's OpenAPI document
//! (feature `openapi`). Every bound comes from [`limits`] and every pattern from the
//! validators' own predicates, so the document refuses exactly what the validators refuse.

use super::{is_reference_char, limits, Code};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// A JSON integer in the signed 64-bit range (every integer on the wire is one).
fn int64(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min))
        .maximum(Some(max))
}

fn nullable(t: Type) -> SchemaType {
    SchemaType::from_iter([t, Type::Null])
}

/// `telegram_id`: a positive integer (see `validate_telegram_id`).
pub fn telegram_id() -> Schema {
    int64(1, i64::MAX)
        .description(Some("A Telegram user id: a positive integer."))
        .into()
}

/// `amount`: non-zero, `|amount| <= max_amount` (see `validate_amount`); the bound is the
/// default of the server's `max_amount` setting.
pub fn amount() -> Schema {
    let max = limits::DEFAULT_MAX_AMOUNT;
    OneOfBuilder::new()
        .item(int64(-max, -1).description(Some("a deduct")))
        .item(int64(1, max).description(Some("an add")))
        .description(Some(format!(
            "Positive adds credits, negative deducts them; never 0, and |amount| at most the server's max_amount (default {max})."
        )))
        .into()
}

/// A positive amount (holds, transfers): 1 to the default `max_amount`.
pub fn positive_amount() -> Schema {
    int64(1, limits::DEFAULT_MAX_AMOUNT)
        .description(Some(format!(
            "Positive, at most the server's max_amount (default {}).",
            limits::DEFAULT_MAX_AMOUNT
        )))
        .into()
}

/// [`positive_amount`], or `null` / absent.
pub fn optional_positive_amount() -> Schema {
    int64(1, limits::DEFAULT_MAX_AMOUNT)
        .schema_type(nullable(Type::Integer))
        .into()
}

/// `ttl_secs` of a hold: 1 to [`limits::MAX_HOLD_TTL_SECS`], or `null` / absent.
pub fn ttl_secs() -> Schema {
    int64(1, limits::MAX_HOLD_TTL_SECS)
        .schema_type(nullable(Type::Integer))
        .default(Some(limits::DEFAULT_HOLD_TTL_SECS.into()))
        .into()
}

/// A record id (positive), or `null` / absent.
pub fn optional_record_id() -> Schema {
    int64(1, i64::MAX)
        .schema_type(nullable(Type::Integer))
        .into()
}

/// A hold id: [`limits::HOLD_ID_PREFIX`] and lowercase hex digits.
pub fn hold_id() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^{}[0-9a-f]{{{}}}$",
            limits::HOLD_ID_PREFIX,
            limits::HOLD_ID_RANDOM_CHARS
        )))
        .into()
}

/// What a reversal body's fields cannot say one by one (`validate_reverse`): exactly one
/// of `record_id` and `original_reference` is given (`null` is absent). Merged into the
/// `ReverseRequest` schema as its `anyOf` and `not`.
pub fn reverse_target_rule() -> Value {
    let given = |field: &str, ty: &str| {
        serde_json::json!({
            "required": [field],
            "properties": {field: {"type": ty}},
        })
    };
    serde_json::json!({
        "anyOf": [given("record_id", "integer"), given("original_reference", "string")],
        "not": {
            "required": ["record_id", "original_reference"],
            "properties": {
                "record_id": {"type": "integer"},
                "original_reference": {"type": "string"},
            },
        },
    })
}

/// Any signed 64-bit integer, required.
pub fn any_int64() -> Schema {
    int64(i64::MIN, i64::MAX).into()
}

/// Any signed 64-bit integer, or `null` / absent.
pub fn optional_int64() -> Schema {
    int64(i64::MIN, i64::MAX)
        .schema_type(nullable(Type::Integer))
        .into()
}

/// `atomic`: a flag that `null` or absence leaves off.
pub fn flag() -> Schema {
    ObjectBuilder::new()
        .schema_type(nullable(Type::Boolean))
        .default(Some(false.into()))
        .into()
}

/// `reason`: free text up to [`limits::MAX_REASON_CHARS`] characters, no control characters.
pub fn reason() -> Schema {
    text(limits::MAX_REASON_CHARS).into()
}

/// `nickname`: like a reason, up to [`limits::MAX_NICKNAME_CHARS`], or `null` / absent.
pub fn nickname() -> Schema {
    text(limits::MAX_NICKNAME_CHARS)
        .schema_type(nullable(Type::String))
        .into()
}

fn text(max_chars: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(format!(
            "^[^{}]*$",
            char_class(char::is_control, char::MAX)
        )))
}

/// `external_reference`: 1 to [`limits::MAX_REFERENCE_CHARS`] characters from
/// [`is_reference_char`], or `null` / absent.
pub fn external_reference() -> Schema {
    ObjectBuilder::new()
        .schema_type(nullable(Type::String))
        .min_length(Some(1))
        .max_length(Some(limits::MAX_REFERENCE_CHARS))
        .pattern(Some(format!(
            "^[{}]*$",
            char_class(is_reference_char, '\u{7f}')
        )))
        .into()
}

/// The name of [`batch_item_shape`] in the document.
pub const BATCH_ITEM_SHAPE: &str = "BatchItemShape";

/// `items` of a batch: 1 to [`limits::MAX_BATCH_ITEMS`] items. An item that breaks a value
/// rule does not make the request invalid (it comes back failed in the results, or aborts
/// an atomic batch): only its types must hold. So an item is a [`super::BatchItem`] (applied)
/// or a [`batch_item_shape`] (well-typed, refused on its own).
pub fn batch_items() -> Schema {
    let item = |name: &str| RefOr::Ref(Ref::from_schema_name(name));
    ArrayBuilder::new()
        .items(
            AnyOfBuilder::new()
                .item(item(&super::BatchItem::name()))
                .item(item(BATCH_ITEM_SHAPE)),
        )
        .min_items(Some(1))
        .max_items(Some(limits::MAX_BATCH_ITEMS))
        .into()
}

/// A batch item with only its types: [`super::BatchItem`]'s schema without its value rules
/// (bounds within the i64 range, lengths, patterns).
pub fn batch_item_shape() -> RefOr<Schema> {
    let mut value = serde_json::to_value(super::BatchItem::schema()).expect("a schema serializes");
    types_only(&mut value);
    value["description"] = Value::from(
        "A batch item that breaks a value rule of BatchItem: the request is still answered 200, \
         and this item comes back failed in `data.results` with its code (an atomic batch is aborted).",
    );
    serde_json::from_value(value).expect("a schema deserializes")
}

fn types_only(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let integer_ranges = object
        .get("oneOf")
        .and_then(Value::as_array)
        .is_some_and(|ranges| ranges.iter().all(|r| r["type"] == "integer"));
    if integer_ranges {
        object.remove("oneOf");
        object.insert("type".into(), "integer".into());
        object.insert("format".into(), "int64".into());
    }
    if object.contains_key("minimum") || integer_ranges {
        object.insert("minimum".into(), i64::MIN.into());
        object.insert("maximum".into(), i64::MAX.into());
    }
    for rule in ["minLength", "maxLength", "pattern"] {
        object.remove(rule);
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(types_only);
    }
}

/// The `limit` query parameter of the records read.
pub fn records_limit() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(limits::MAX_RECORDS_LIMIT))
        .default(Some(limits::DEFAULT_RECORDS_LIMIT.into()))
        .into()
}

/// The regex character class (without brackets) of the chars up to `last` that `allowed`
/// accepts, as `\uXXXX` ranges, which ECMA-262 and Python's `re` read alike.
fn char_class(allowed: impl Fn(char) -> bool, last: char) -> String {
    let mut class = String::new();
    let mut run: Option<(char, char)> = None;
    let flush = |run: (char, char), class: &mut String| {
        assert!(
            u32::from(run.1) <= 0xFFFF,
            "a \\uXXXX class covers the BMP only"
        );
        class.push_str(&format!("\\u{:04X}", u32::from(run.0)));
        if run.1 != run.0 {
            class.push_str(&format!("-\\u{:04X}", u32::from(run.1)));
        }
    };
    for c in (0..=u32::from(last)).filter_map(char::from_u32) {
        match (allowed(c), run) {
            (true, Some((start, end))) if u32::from(end) + 1 == u32::from(c) => {
                run = Some((start, c))
            }
            (true, previous) => {
                if let Some(previous) = previous {
                    flush(previous, &mut class);
                }
                run = Some((c, c));
            }
            (false, Some(previous)) => {
                flush(previous, &mut class);
                run = None;
            }
            (false, None) => {}
        }
    }
    if let Some(run) = run {
        flush(run, &mut class);
    }
    class
}

/// `code`: one of the stable strings a server sends (never the SDK-only ones).
impl PartialSchema for Code {
    fn schema() -> RefOr<Schema> {
        RefOr::T(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(
                    Code::ALL
                        .iter()
                        .filter(|c| c.sent_by_server())
                        .map(|c| c.as_str()),
                ))
                .description(Some(
                    "The stable, machine-readable outcome; see docs/protocol.md.",
                ))
                .into(),
        )
    }
}

impl ToSchema for Code {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Code")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_item_shape_keeps_the_types_and_drops_the_rules() {
        let shape = serde_json::to_value(batch_item_shape()).unwrap();
        let properties = &shape["properties"];
        assert_eq!(properties["telegram_id"]["minimum"], Value::from(i64::MIN));
        assert_eq!(properties["amount"]["type"], Value::from("integer"));
        assert_eq!(properties["amount"]["maximum"], Value::from(i64::MAX));
        assert!(properties["amount"].get("oneOf").is_none());
        assert!(properties["reason"].get("maxLength").is_none());
        assert!(properties["external_reference"].get("pattern").is_none());
        let item = serde_json::to_value(super::super::BatchItem::schema()).unwrap();
        assert_eq!(shape["required"], item["required"]);
    }

    #[test]
    fn character_classes_come_from_the_predicates() {
        assert_eq!(
            char_class(char::is_control, char::MAX),
            "\\u0000-\\u001F\\u007F-\\u009F"
        );
        assert_eq!(
            char_class(is_reference_char, '\u{7f}'),
            "\\u0023\\u002B\\u002D-\\u003A\\u003D\\u0040-\\u005A\\u005F\\u0061-\\u007A"
        );
    }
}
