//! Telegram Stars purchases as ledger changes: which payments count, how many credits they
//! buy, and the references that make a redelivered `successful_payment` (or a refund told
//! twice) a replay. Every SDK takes these rules from here.
//!
//! A payment is keyed on `telegram_payment_charge_id`, never on the invoice payload: an
//! old invoice can be paid again, and each payment gets a new charge id.

use crate::error::Error;
use crate::protocol::validate_reference;
use sha2::{Digest, Sha256};

/// The currency of Telegram Stars payments.
pub const CURRENCY: &str = "XTR";

/// The bindings' `credits_per_star` / `creditsPerStar` when the caller gives none (Rust's
/// [`Client::credit_stars_payment`](crate::Client::credit_stars_payment) takes it as an
/// argument): one credit per Star.
pub const DEFAULT_CREDITS_PER_STAR: i64 = 1;

/// The bindings' refund `reason` when the caller gives none. A refund told twice must
/// send the same reason to replay, so every SDK sends this one.
pub const DEFAULT_REFUND_REASON: &str = "Telegram Stars refund";

/// What a Stars bot tells a payer whose `pre_checkout_query` is not a payment in Stars.
pub const NOT_STARS_MESSAGE: &str = "This bot takes Telegram Stars only.";

/// What a Stars bot tells a payer whose invoice payload the bot no longer sells (its own
/// payload check, `accept_payload` / `acceptPayload`, refused it).
pub const OFFER_REFUSED_MESSAGE: &str = "This offer is no longer available.";

/// How a Stars bot answers a `pre_checkout_query` before its own payload check: `None`
/// goes on to that check (then `ok`), `Some(message)` refuses with `message`. Every
/// framework handler of every SDK asks this. Only a positive amount in [`CURRENCY`] is a
/// payment [`credits_for`] can credit.
pub fn pre_checkout_refusal(currency: &str, total_amount: i64) -> Option<&'static str> {
    check_paid_in_stars(currency, total_amount)
        .err()
        .map(|_| NOT_STARS_MESSAGE)
}

/// The three fields of a Bot API `SuccessfulPayment` (aiogram's, python-telegram-bot's,
/// grammY's `successful_payment`) that a credit needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarsPayment {
    /// Must be [`CURRENCY`].
    pub currency: String,
    /// The Stars paid: positive.
    pub total_amount: i64,
    /// Telegram's id of this payment; refunds (`refundStarPayment`) name it too.
    pub telegram_payment_charge_id: String,
}

/// The reference of the credit for the payment `charge_id`: `stars:<charge_id>` when that
/// is a valid reference, else `stars#<sha256 of the charge id, hex>`. The two forms never
/// collide (`:` and `#` after the same prefix).
pub fn payment_reference(charge_id: &str) -> String {
    derived("stars", charge_id)
}

/// The reference of the refund of the payment `charge_id`: `stars-refund:<charge_id>`, or
/// `stars-refund#<sha256 hex>` as [`payment_reference`].
pub fn refund_reference(charge_id: &str) -> String {
    derived("stars-refund", charge_id)
}

fn derived(prefix: &str, charge_id: &str) -> String {
    let plain = format!("{prefix}:{charge_id}");
    if validate_reference(&plain).is_ok() {
        return plain;
    }
    format!(
        "{prefix}#{}",
        hex::encode(Sha256::digest(charge_id.as_bytes()))
    )
}

/// The `reason` of a Stars credit: fixed by the payment, so a redelivery sends the same
/// change and replays instead of conflicting.
pub fn payment_reason(payment: &StarsPayment) -> String {
    format!(
        "Telegram Stars payment: {} {CURRENCY}",
        payment.total_amount
    )
}

/// How many credits `payment` buys at `credits_per_star`, or why it buys none
/// (`invalid_argument`: not Stars, nothing paid, no charge id, a rate below 1, an
/// overflow).
pub fn credits_for(payment: &StarsPayment, credits_per_star: i64) -> Result<i64, Error> {
    check_paid_in_stars(&payment.currency, payment.total_amount)?;
    check_charge_id(&payment.telegram_payment_charge_id)?;
    if credits_per_star <= 0 {
        return Err(Error::invalid_argument(format!(
            "credits_per_star must be positive, got {credits_per_star}"
        )));
    }
    payment
        .total_amount
        .checked_mul(credits_per_star)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "{} Stars at {credits_per_star} credits each overflow a 64-bit amount",
                payment.total_amount
            ))
        })
}

/// A payment in Stars: a positive `total_amount` in [`CURRENCY`] (the pre-checkout rule
/// and the credit's).
fn check_paid_in_stars(currency: &str, total_amount: i64) -> Result<(), Error> {
    if currency != CURRENCY {
        return Err(Error::invalid_argument(format!(
            "a Stars payment has currency {CURRENCY:?}, got {currency:?}"
        )));
    }
    if total_amount <= 0 {
        return Err(Error::invalid_argument(format!(
            "a Stars payment's total_amount must be positive, got {total_amount}"
        )));
    }
    Ok(())
}

/// A charge id names one payment: it must not be empty.
pub fn check_charge_id(charge_id: &str) -> Result<(), Error> {
    if charge_id.is_empty() {
        return Err(Error::invalid_argument(
            "telegram_payment_charge_id must not be empty",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Code;

    fn payment(currency: &str, total_amount: i64, charge: &str) -> StarsPayment {
        StarsPayment {
            currency: currency.into(),
            total_amount,
            telegram_payment_charge_id: charge.into(),
        }
    }

    #[test]
    fn pre_checkout_goes_on_only_for_what_credits_for_can_credit() {
        assert_eq!(pre_checkout_refusal("XTR", 50), None);
        assert!(credits_for(&payment("XTR", 50, "c"), 1).is_ok());
        for (currency, amount) in [("USD", 50), ("xtr", 50), ("XTR", 0), ("XTR", -1), ("", 1)] {
            assert_eq!(
                pre_checkout_refusal(currency, amount),
                Some(NOT_STARS_MESSAGE),
                "{currency} {amount}"
            );
            assert!(credits_for(&payment(currency, amount, "c"), 1).is_err());
        }
    }

    #[test]
    fn references_are_the_charge_id_or_its_hash() {
        assert_eq!(payment_reference("stxAbc-1_2"), "stars:stxAbc-1_2");
        assert_eq!(refund_reference("stxAbc-1_2"), "stars-refund:stxAbc-1_2");
        let odd = payment_reference("a b");
        assert!(odd.starts_with("stars#") && odd.len() == 6 + 64, "{odd}");
        assert!(validate_reference(&odd).is_ok());
        let long = "x".repeat(200);
        assert!(validate_reference(&payment_reference(&long)).is_ok());
        assert!(validate_reference(&refund_reference(&long)).is_ok());
        assert_ne!(payment_reference("a"), refund_reference("a"));
        assert_ne!(payment_reference("a b"), payment_reference("a c"));
        // A charge id that looks like a hash stays plain: the forms differ by `:` and `#`.
        assert_ne!(payment_reference(&odd[6..]), odd);
    }

    #[test]
    fn only_stars_with_a_positive_amount_buy_credits() {
        assert_eq!(credits_for(&payment("XTR", 50, "c"), 3), Ok(150));
        for (p, rate) in [
            (payment("USD", 50, "c"), 1),
            (payment("XTR", 0, "c"), 1),
            (payment("XTR", -5, "c"), 1),
            (payment("XTR", 5, ""), 1),
            (payment("XTR", 5, "c"), 0),
            (payment("XTR", i64::MAX, "c"), 2),
        ] {
            let e = credits_for(&p, rate).unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{p:?} x {rate}");
        }
        assert_eq!(
            payment_reason(&payment("XTR", 50, "c")),
            "Telegram Stars payment: 50 XTR"
        );
    }
}
