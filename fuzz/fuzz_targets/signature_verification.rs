//! Signature verification on arbitrary input: `parse_v2_header`, `verify_v1` and
//! `verify_v2` never panic, a header the SDK makes always parses back, and only the
//! exact signature verifies (no other string, whatever its case tricks or length).
#![no_main]

use credit_sync::signature::{
    parse_v2_header, v1_token, v2_header, v2_signature, verify_v1, verify_v2, SignatureHeader,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    header: &'a str,
    secret: &'a str,
    claimed: &'a str,
    telegram_id: i64,
    amount: i64,
    source: &'a str,
    timestamp: i64,
    method: &'a str,
    path: &'a str,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    // Arbitrary header text: parsing and verifying never panic.
    if let Some(parsed) = parse_v2_header(input.header) {
        let ok = verify_v2(input.secret, &parsed, input.method, input.path, input.body);
        let expected = v2_signature(
            input.secret,
            parsed.timestamp,
            input.method,
            input.path,
            input.body,
        );
        assert_eq!(ok, parsed.v2 == expected);
    }

    // A header the SDK makes parses back to itself and verifies.
    let made = v2_header(
        input.secret,
        input.timestamp,
        input.method,
        input.path,
        input.body,
    );
    let parsed = parse_v2_header(&made).expect("a made header parses");
    assert_eq!(parsed.timestamp, input.timestamp);
    assert!(verify_v2(
        input.secret,
        &parsed,
        input.method,
        input.path,
        input.body
    ));
    // ...and any other claimed signature does not.
    let forged = SignatureHeader {
        timestamp: input.timestamp,
        v2: input.claimed.to_ascii_lowercase(),
    };
    assert_eq!(
        verify_v2(input.secret, &forged, input.method, input.path, input.body),
        forged.v2 == parsed.v2
    );

    // v1: only the exact token (any letter case) verifies.
    let token = v1_token(
        input.secret,
        input.telegram_id,
        input.amount,
        input.source,
        input.timestamp,
    );
    assert!(verify_v1(
        input.secret,
        input.telegram_id,
        input.amount,
        input.source,
        input.timestamp,
        &token
    ));
    let claimed_ok = verify_v1(
        input.secret,
        input.telegram_id,
        input.amount,
        input.source,
        input.timestamp,
        input.claimed,
    );
    assert_eq!(claimed_ok, input.claimed.to_ascii_lowercase() == token);
});
