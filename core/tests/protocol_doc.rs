//! Keeps `docs/protocol.md` (the written contract) and `core::protocol` (the code)
//! in step: every code with its HTTP status, and the signing test vectors.

use credit_sync::protocol::Code;
use credit_sync::signature;

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("docs/protocol.md exists")
}

#[test]
fn every_server_code_is_documented_with_its_status() {
    let doc = doc();
    for code in Code::ALL {
        // The codes only an SDK produces are named; the others have their row.
        if !code.sent_by_server() {
            assert!(
                doc.contains(&format!("`{}`", code.as_str())),
                "{code} not in docs/protocol.md"
            );
            continue;
        }
        let row = format!("| `{}` | {} |", code.as_str(), code.http_status());
        assert!(doc.contains(&row), "docs/protocol.md lacks the row {row:?}");
    }
}

#[test]
fn documented_vectors_match_the_code() {
    let doc = doc();
    let secret = "your-secret-key-here";
    let t = 1_700_000_000;
    let body = br#"{"telegram_id":123456789,"amount":100,"source":"media_bot","reason":"test","external_reference":"video_12345"}"#;
    let expected = [
        signature::v1_token(secret, 123456789, 100, "media_bot", t),
        signature::v1_token(secret, 123456789, -50, "media_bot", t),
        signature::v2_signature(secret, t, "POST", "/api/credits/sync", body),
        signature::v2_signature(
            secret,
            t,
            "GET",
            "/api/credits/records/123456789?limit=5",
            b"",
        ),
    ];
    for hex in expected {
        assert!(doc.contains(&hex), "docs/protocol.md lacks vector {hex}");
    }
    assert!(doc.contains(std::str::from_utf8(body).unwrap()));
}
