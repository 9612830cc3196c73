//! Single-use signatures: the signatures that authorized a write are spent in the write's
//! own transaction, so a captured request cannot be sent again within its window.

use super::{Outcome, Refusal};

/// The signatures that authorized one write request (a v2 header's hex, or the v1 tokens
/// of its changes). They are spent in the write's own transaction, so each authorizes one
/// write within the timestamp window, on every process sharing a PostgreSQL database (on
/// SQLite, whose unique key is in the one serving process's memory, in that process); a
/// request that brings a spent one is refused (see [`reused`]).
#[derive(Debug, Clone)]
pub struct Spend {
    /// The source whose secret made them (the key's scope).
    pub(super) source: String,
    /// The first 64 bits of each signature (see [`Spend::new`]); sorted and distinct, so
    /// two transactions always take their keys in one order.
    pub(super) keys: Vec<i64>,
    /// The Unix seconds the signature covers. The first column of the key: a signature is
    /// only valid with its own timestamp, and keyed by time the rows are inserted nearly
    /// in order and pruned from the front.
    pub(super) signed_at: i64,
    /// The window the signature was accepted in, for pruning.
    pub(super) tolerance: i64,
}

/// Kept a little past the window, so a server clock stepped back cannot bring a pruned
/// signature back into it.
const SPENT_MARGIN_SECS: i64 = 60;

impl Spend {
    /// `source`'s signatures (lower-case hex, already verified) signed at `signed_at`,
    /// accepted within `tolerance` seconds of it.
    ///
    /// A signature is kept as its first 64 bits, beside its timestamp: an 18-byte row, so
    /// one second of writes fills few pages and a group commit writes few. Two different
    /// valid signatures of one source and second share those bits with a chance of about
    /// n² / 2⁶⁵ (n signatures in that second), and only a valid signature is ever spent.
    pub fn new(source: &str, signatures: Vec<String>, signed_at: i64, tolerance: i64) -> Spend {
        let mut keys: Vec<i64> = signatures
            .iter()
            .map(|hex| {
                let prefix = hex.get(..16).unwrap_or(hex);
                u64::from_str_radix(prefix, 16).unwrap_or(0) as i64
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Spend {
            source: source.to_string(),
            keys,
            signed_at,
            tolerance,
        }
    }

    /// A write that no request signature authorized, so it spends nothing: only the
    /// operator console uses it, whose operators sign in with a password and whose
    /// writes are made idempotent by their form's reference. `tolerance` is the server's
    /// window, so pruning after the write keeps its usual bounds.
    pub fn unsigned(source: &str, tolerance: i64) -> Spend {
        Spend {
            source: source.to_string(),
            keys: Vec::new(),
            signed_at: crate::error::unix_now(),
            tolerance,
        }
    }

    /// Signatures signed before this are outside every window now and can be pruned.
    pub(super) fn prune_before(&self) -> i64 {
        expired_before(self.tolerance)
    }
}

/// Signatures signed before this are outside a window of `tolerance` seconds now.
pub(super) fn expired_before(tolerance: i64) -> i64 {
    crate::error::unix_now()
        .saturating_sub(tolerance)
        .saturating_sub(SPENT_MARGIN_SECS)
}

/// The answer to a write whose signature was already spent: only the same referenced
/// change (an idempotent retry, `original` is its replay) is answered as before; anything
/// else would be a captured signature used again, and writes nothing.
pub(super) fn reused(original: Option<Outcome>) -> Outcome {
    match original {
        Some(Ok(applied)) => Ok(applied),
        _ => Err(Refusal::signature_reused()),
    }
}
