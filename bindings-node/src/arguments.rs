//! JavaScript arguments to core types. JS has three ways to spell a 64-bit id
//! (a safe-integer number, a BigInt, a decimal string); this is the one place
//! that accepts them, and a wrong value becomes a `TypeError` naming the argument.

use crate::errors::type_error;
use napi::bindgen_prelude::{BigInt, FromNapiValue, JsObjectValue, Object, Unknown};
use napi::{Env, ValueType};

/// A positive id (`telegramId`): `0`, negatives, fractions, `NaN` and other types are a `TypeError`.
pub fn positive_id(env: &Env, value: Unknown<'_>, name: &str) -> napi::Result<i64> {
    match integer(env, value, name)? {
        id if id > 0 => Ok(id),
        id => Err(type_error(
            env,
            format!("{name} must be a positive integer, got {id}"),
        )),
    }
}

/// Any i64 given as a safe-integer number, a BigInt or a decimal string.
pub fn integer(env: &Env, value: Unknown<'_>, name: &str) -> napi::Result<i64> {
    let expected = "a safe integer number, a BigInt or a decimal string";
    match value.get_type()? {
        ValueType::Number => {
            // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
            // just above (`get_type` / `is_array`) to be the one cast to.
            let n: f64 = unsafe { value.cast()? };
            // 2^53 - 1: beyond it a JS number no longer names one integer.
            const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
            if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
                Ok(n as i64)
            } else {
                Err(type_error(
                    env,
                    format!("{name} must be {expected}, got {n}"),
                ))
            }
        }
        ValueType::BigInt => {
            // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
            // just above (`get_type` / `is_array`) to be the one cast to.
            let big: BigInt = unsafe { value.cast()? };
            match big.get_i64() {
                (n, true) => Ok(n),
                _ => Err(type_error(
                    env,
                    format!("{name} is out of the 64-bit range"),
                )),
            }
        }
        ValueType::String => {
            // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
            // just above (`get_type` / `is_array`) to be the one cast to.
            let s: String = unsafe { value.cast()? };
            let digits = s.strip_prefix('-').unwrap_or(&s);
            match s.parse::<i64>() {
                Ok(n) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                _ => Err(type_error(
                    env,
                    format!("{name} must be {expected}, got the string {s:?}"),
                )),
            }
        }
        other => Err(type_error(
            env,
            format!("{name} must be {expected}, got {}", type_name(other)),
        )),
    }
}

/// An optional string argument (`reference`, `cursor`): `undefined`/`null` mean absent.
pub fn optional_string(
    env: &Env,
    value: Option<Unknown<'_>>,
    name: &str,
) -> napi::Result<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
        // just above (`get_type` / `is_array`) to be the one cast to.
        ValueType::String => Ok(Some(unsafe { value.cast()? })),
        other => Err(type_error(
            env,
            format!("{name} must be a string, got {}", type_name(other)),
        )),
    }
}

/// A required string argument (`reason`, `nickname`).
pub fn string(env: &Env, value: Unknown<'_>, name: &str) -> napi::Result<String> {
    match value.get_type()? {
        // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
        // just above (`get_type` / `is_array`) to be the one cast to.
        ValueType::String => Ok(unsafe { value.cast()? }),
        other => Err(type_error(
            env,
            format!("{name} must be a string, got {}", type_name(other)),
        )),
    }
}

/// One batch item `{ telegramId, amount, reason, reference? }`, named `items[i]` in errors.
pub fn batch_entry(
    env: &Env,
    item: Unknown<'_>,
    index: usize,
) -> napi::Result<credit_sync::BatchEntry> {
    let name = format!("items[{index}]");
    if item.get_type()? != ValueType::Object {
        return Err(type_error(
            env,
            format!("{name} must be an object {{ telegramId, amount, reason, reference? }}"),
        ));
    }
    // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
    // just above (`get_type` / `is_array`) to be the one cast to.
    let item: Object<'_> = unsafe { item.cast()? };
    // A misspelt key (the guide's Python `telegram_id`) would otherwise read as a missing one.
    const KEYS: [&str; 4] = ["telegramId", "amount", "reason", "reference"];
    if let Some(key) = Object::keys(&item)?
        .into_iter()
        .find(|k| !KEYS.contains(&k.as_str()))
    {
        return Err(type_error(
            env,
            format!("{name} has an unexpected key {key:?} (expected telegramId, amount, reason, reference)"),
        ));
    }
    let field = |key: &str| -> napi::Result<Unknown<'_>> { item.get_named_property(key) };
    Ok(credit_sync::BatchEntry {
        telegram_id: positive_id(env, field("telegramId")?, &format!("{name}.telegramId"))?,
        amount: integer(env, field("amount")?, &format!("{name}.amount"))?,
        reason: string(env, field("reason")?, &format!("{name}.reason"))?,
        reference: optional_string(env, Some(field("reference")?), &format!("{name}.reference"))?,
    })
}

/// An options object (`{ limit, cursor }`, ...): `undefined`/`null` mean none; a field of the
/// wrong type is a `TypeError` naming the options argument.
pub fn options<T: FromNapiValue>(
    env: &Env,
    value: Option<Unknown<'_>>,
    name: &str,
) -> napi::Result<Option<T>> {
    let Some(value) = value else { return Ok(None) };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
        // just above (`get_type` / `is_array`) to be the one cast to.
        ValueType::Object => unsafe { value.cast::<T>() }
            .map(Some)
            .map_err(|e| type_error(env, format!("{name}: {}", e.reason))),
        other => Err(type_error(
            env,
            format!("{name} must be an object, got {}", type_name(other)),
        )),
    }
}

/// A count option (`maxRetries`, `limit`): a non-negative integer number.
pub fn count(env: &Env, value: Option<f64>, name: &str) -> napi::Result<Option<u32>> {
    match value {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
            Ok(Some(n as u32))
        }
        Some(n) => Err(type_error(
            env,
            format!("{name} must be a non-negative integer, got {n}"),
        )),
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Object => "an object",
        ValueType::Function => "a function",
        ValueType::External => "an external",
        ValueType::BigInt => "a BigInt",
        _ => "an unknown value",
    }
}

/// An optional integer argument (`amount` of a capture): `undefined`/`null` mean absent.
pub fn optional_integer(
    env: &Env,
    value: Option<Unknown<'_>>,
    name: &str,
) -> napi::Result<Option<i64>> {
    let Some(value) = value else { return Ok(None) };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => integer(env, value, name).map(Some),
    }
}

/// The options of `reverseRecord`: `{ recordId?, reference?, amount?, reason?, reversalReference? }`.
pub struct ReverseArguments {
    pub original: Result<credit_sync::Original, credit_sync::Error>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub reversal_reference: Option<String>,
}

/// Reads `reverseRecord`'s options; which of `recordId` and `reference` names the record
/// is the core's to judge (`Original::from_parts`).
pub fn reverse_arguments(env: &Env, value: Unknown<'_>) -> napi::Result<ReverseArguments> {
    let name = "options";
    if value.get_type()? != ValueType::Object {
        return Err(type_error(
            env,
            format!("{name} must be an object {{ recordId?, reference?, amount?, reason?, reversalReference? }}"),
        ));
    }
    // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
    // just above (`get_type` / `is_array`) to be the one cast to.
    let options: Object<'_> = unsafe { value.cast()? };
    const KEYS: [&str; 5] = [
        "recordId",
        "reference",
        "amount",
        "reason",
        "reversalReference",
    ];
    if let Some(key) = Object::keys(&options)?
        .into_iter()
        .find(|k| !KEYS.contains(&k.as_str()))
    {
        return Err(type_error(
            env,
            format!(
                "{name} has an unexpected key {key:?} (expected {})",
                KEYS.join(", ")
            ),
        ));
    }
    let field = |key: &str| -> napi::Result<Unknown<'_>> { options.get_named_property(key) };
    let record_id = optional_integer(env, Some(field("recordId")?), "options.recordId")?;
    let reference = optional_string(env, Some(field("reference")?), "options.reference")?;
    Ok(ReverseArguments {
        original: credit_sync::Original::from_parts(record_id, reference),
        amount: optional_integer(env, Some(field("amount")?), "options.amount")?,
        reason: optional_string(env, Some(field("reason")?), "options.reason")?,
        reversal_reference: optional_string(
            env,
            Some(field("reversalReference")?),
            "options.reversalReference",
        )?,
    })
}

/// A Telegram Stars payment: the Bot API's `successful_payment` object as grammY and
/// Telegraf hand it over (`total_amount`, `telegram_payment_charge_id`), or the same in
/// camelCase. Only the three fields a credit needs are read; the core judges them.
pub fn stars_payment(env: &Env, value: Unknown<'_>) -> napi::Result<credit_sync::StarsPayment> {
    if value.get_type()? != ValueType::Object {
        return Err(type_error(
            env,
            "payment must be a successful_payment object { currency, total_amount, telegram_payment_charge_id }".to_string(),
        ));
    }
    // SAFETY: `cast` reinterprets the JS value without checking; its type was checked
    // just above (`get_type` / `is_array`) to be the one cast to.
    let payment: Object<'_> = unsafe { value.cast()? };
    let field = |snake: &str, camel: &str| -> napi::Result<Unknown<'_>> {
        let v: Unknown<'_> = payment.get_named_property(snake)?;
        match v.get_type()? {
            ValueType::Undefined | ValueType::Null => payment.get_named_property(camel),
            _ => Ok(v),
        }
    };
    Ok(credit_sync::StarsPayment {
        currency: string(env, field("currency", "currency")?, "payment.currency")?,
        total_amount: integer(
            env,
            field("total_amount", "totalAmount")?,
            "payment.total_amount",
        )?,
        telegram_payment_charge_id: string(
            env,
            field("telegram_payment_charge_id", "telegramPaymentChargeId")?,
            "payment.telegram_payment_charge_id",
        )?,
    })
}
