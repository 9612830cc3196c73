//! De-duplication references: deterministic, collision-free `external_reference`
//! strings built from parts, always valid for the server.
//!
//! The encoding: each part keeps its reference-safe characters as they are; `_` (the
//! separator), `=` (the escape) and every other byte become `=XX` (upper-case hex of the
//! UTF-8 byte). An empty part is `=`, an empty list `==`. Parts are joined with `_`, so
//! splitting on `_` and unescaping recovers the list: different lists never collide.
//! An encoding longer than 128 characters becomes `{readable prefix}=#{128-bit sha256}`;
//! `=#` never occurs in a short encoding, so long and short ones cannot collide either.

use crate::protocol::{is_reference_char, limits};
use sha2::{Digest, Sha256};

const SEPARATOR: char = '_';
const ESCAPE: char = '=';
/// Marks a shortened reference; never produced by the escaping.
const HASH_MARK: &str = "=#";
/// Hex characters of the hash kept in a shortened reference (128 bits).
const HASH_HEX_CHARS: usize = 32;

/// Builds a reference from parts: `reference(&["task", "42", "2024-01-05"])` → `task_42_2024-01-05`.
/// The separator inside a part is escaped so different part lists never collide; characters
/// outside the server's set are escaped; results over 128 characters become a readable
/// prefix plus a hash.
///
/// ```
/// use credit_sync::reference::reference;
/// assert_eq!(reference(&["task", "42", "2024-01-05"]), "task_42_2024-01-05");
/// assert_eq!(reference(&["a_b"]), "a=5Fb");
/// assert_ne!(reference(&["a_b"]), reference(&["a", "b"]));
/// ```
pub fn reference<S: AsRef<str>>(parts: &[S]) -> String {
    let encoded = encode(parts);
    if encoded.len() <= limits::MAX_REFERENCE_CHARS {
        return encoded;
    }
    let hash = hex::encode(Sha256::digest(encoded.as_bytes()));
    let keep = limits::MAX_REFERENCE_CHARS - HASH_MARK.len() - HASH_HEX_CHARS;
    // The encoding is ASCII, so byte slicing is char slicing.
    let mut prefix = &encoded[..keep];
    // Don't end the readable part in a cut escape (`=` or `=X`).
    if let Some(pos) = prefix[prefix.len().saturating_sub(2)..].find(ESCAPE) {
        prefix = &prefix[..prefix.len().saturating_sub(2) + pos];
    }
    format!("{prefix}{HASH_MARK}{}", &hash[..HASH_HEX_CHARS])
}

fn encode<S: AsRef<str>>(parts: &[S]) -> String {
    if parts.is_empty() {
        return "==".to_string();
    }
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        let part = part.as_ref();
        if part.is_empty() {
            out.push(ESCAPE);
            continue;
        }
        for c in part.chars() {
            if is_reference_char(c) && c != SEPARATOR && c != ESCAPE {
                out.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push(ESCAPE);
                    out.push_str(&format!("{b:02X}"));
                }
            }
        }
    }
    out
}

/// `video_{video_id}_{telegram_id}`: one reward per user and video (the guide's
/// "watched a video" reward).
pub fn video_watched(telegram_id: i64, video_id: &str) -> String {
    reference(&["video", video_id, &telegram_id.to_string()])
}

/// `auto-<uuid v7>`: the reference the SDK gives a change sent without one. Unique and
/// time-ordered; a binding that must report it even when the call is cut short (a client
/// closed mid-call) makes it up front with this and passes it in.
pub fn auto() -> String {
    format!("auto-{}", uuid::Uuid::now_v7())
}

/// `order_{order_id}` (the guide's shop purchase).
pub fn order_paid(order_id: &str) -> String {
    reference(&["order", order_id])
}

/// `task_{task_id}_{date}_{telegram_id}` (the guide's daily task).
pub fn daily_task(telegram_id: i64, task_id: &str, date: &str) -> String {
    reference(&["task", task_id, date, &telegram_id.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate_reference;
    use proptest::prelude::*;

    /// Inverse of `encode` for short references, to show injectivity constructively.
    fn decode(s: &str) -> Option<Vec<String>> {
        if s == "==" {
            return Some(vec![]);
        }
        s.split(SEPARATOR)
            .map(|p| {
                if p == "=" {
                    return Some(String::new());
                }
                let mut bytes = Vec::new();
                let mut it = p.bytes();
                while let Some(b) = it.next() {
                    if b == b'=' {
                        let hi = it.next()? as char;
                        let lo = it.next()? as char;
                        bytes.push(u8::from_str_radix(&format!("{hi}{lo}"), 16).ok()?);
                    } else {
                        bytes.push(b);
                    }
                }
                String::from_utf8(bytes).ok()
            })
            .collect()
    }

    #[test]
    fn readable_examples() {
        assert_eq!(
            reference(&["task", "42", "2024-01-05"]),
            "task_42_2024-01-05"
        );
        assert_eq!(order_paid("A-1001"), "order_A-1001");
        assert_eq!(video_watched(7, "12345"), "video_12345_7");
        assert_eq!(
            daily_task(7, "checkin", "2024-01-05"),
            "task_checkin_2024-01-05_7"
        );
        assert_eq!(reference(&["a b", "观"]), "a=20b_=E8=A7=82");
        assert_eq!(reference(&[""; 0]), "==");
        assert_eq!(reference(&[""]), "=");
        assert_eq!(reference(&["", ""]), "=_=");
    }

    #[test]
    fn long_references_keep_a_readable_prefix() {
        let long = "x".repeat(300);
        let r = reference(&["campaign", &long]);
        assert_eq!(r.len(), 128);
        assert!(r.starts_with("campaign_xxx"));
        assert!(validate_reference(&r).is_ok());
        assert_ne!(r, reference(&["campaign", &format!("{long}y")]));
        // A cut escape is dropped from the prefix rather than left dangling.
        let r = reference(&["观".repeat(100)]);
        assert!(r.contains("=#"));
        assert!(!r.split("=#").next().unwrap().ends_with('='));
    }

    fn tricky_part() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(
                prop::sample::select(vec!["_", "=", "a", "5F", "=5F", "#", "观", " ", ""]),
                0..4
            )
            .prop_map(|v| v.concat()),
            ".{0,12}",
        ]
    }

    proptest! {
        #[test]
        fn always_valid(parts in proptest::collection::vec(".*", 0..6)) {
            let r = reference(&parts);
            prop_assert!(validate_reference(&r).is_ok(), "{r:?}");
        }

        #[test]
        fn deterministic(parts in proptest::collection::vec(tricky_part(), 0..5)) {
            prop_assert_eq!(reference(&parts), reference(&parts.clone()));
        }

        #[test]
        fn injective(
            a in proptest::collection::vec(tricky_part(), 0..4),
            b in proptest::collection::vec(tricky_part(), 0..4),
        ) {
            if a != b {
                prop_assert_ne!(reference(&a), reference(&b));
            }
        }

        #[test]
        fn short_references_decode_to_their_parts(parts in proptest::collection::vec(tricky_part(), 0..5)) {
            let r = reference(&parts);
            if !r.contains(HASH_MARK) {
                prop_assert_eq!(decode(&r), Some(parts));
            }
        }

        #[test]
        fn injective_when_long(
            a in proptest::collection::vec("[a-z_=]{0,60}", 1..5),
            b in proptest::collection::vec("[a-z_=]{0,60}", 1..5),
        ) {
            if a != b {
                prop_assert_ne!(reference(&a), reference(&b));
            }
        }
    }
}
