//! The SDK's `tracing` log of a run with retries and a clock correction: every attempt,
//! retry, backoff and correction is there with the request id, and no credential is.

mod support;

use credit_sync::Client;
use std::sync::{Arc, Mutex};
use support::{error_body, user, Fault, Server, API_KEY, SECRET};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Keeps every SDK event as `level line`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        credit_sync::log::is_sdk_target(metadata.target())
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let line = format!(
            "{} {}",
            event.metadata().level(),
            credit_sync::log::line(event)
        );
        self.0.lock().unwrap().push(line);
    }
}

#[tokio::test]
async fn a_run_with_retries_is_logged_without_credentials() {
    let server = Server::start();
    let unavailable = || Fault::respond(503, error_body("service_unavailable", ""));
    let proxy = server.proxy([unavailable(), Fault::DropResponse]);
    let client = Client::new(server.retrying_config(&proxy.url(), 3)).unwrap();
    let capture = Capture::default();
    let u = user();
    let offset = {
        let _guard = tracing::subscriber::set_default(capture.clone());
        // Entered on this thread: the current-thread test runtime polls the call here.
        let r = client.add_credits(u, 7, "logged", None).await.unwrap();
        assert_eq!(r.attempts, 3);
        client.set_clock_offset(-3600);
        client.get_balance(u).await.unwrap();
        client.clock_offset()
    };
    let text = capture.0.lock().unwrap().join("\n");
    assert!(
        text.contains("DEBUG credit-sync attempt method=POST path=/api/credits/sync attempt=1"),
        "{text}"
    );
    assert!(
        text.contains("INFO credit-sync retry after backoff attempt=1 code=service_unavailable"),
        "{text}"
    );
    assert!(text.contains("code=connection_error"), "{text}");
    assert!(text.contains("backoff_ms="), "{text}");
    assert!(text.contains("clock skew corrected"), "{text}");
    assert!(text.contains("request_id="), "{text}");
    for secret in [API_KEY, SECRET] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
    for word in ["x-signature", "x-api-key", "token=", "signature="] {
        assert!(!text.to_lowercase().contains(word), "{word} in\n{text}");
    }
    // Tokens and signatures are long hex strings (HMAC-SHA256): none is in the log.
    let longest_hex = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_hex < 32, "a hex string of {longest_hex} in\n{text}");
    assert!(offset.abs() <= 2, "the clock was corrected: {offset}");
}
