//! The SDK suite's fixtures on top of the workspace's harness (`credit-sync-testkit`):
//! the real server binary with three sources, on the suite's backend, client configs for
//! them, and the harness's fault proxy in front of it with a script of faults and
//! scripted answers.
// Each test binary uses its own part of the fixtures.
#![allow(dead_code, unused_imports)]

use credit_sync::{Backoff, Config};
pub use credit_sync_testkit::proxy::error_body;
use credit_sync_testkit::{self as testkit, ServerConfig, Source};
pub use credit_sync_testkit::{Fault, Proxy};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const SOURCE: &str = "media_bot";
pub const API_KEY: &str = "media-bot-api-key-2024";
pub const SECRET: &str = "your-secret-key-here";
/// A source with the default permissions (read, write: no admin) and no auto-registration.
pub const PLAIN_SOURCE: &str = "plain_bot";
pub const PLAIN_API_KEY: &str = "plain-bot-key";
pub const PLAIN_SECRET: &str = "plain-bot-secret";
/// A source limited to one request per second.
pub const LIMITED_SOURCE: &str = "limited_bot";
pub const LIMITED_API_KEY: &str = "limited-bot-key";
pub const LIMITED_SECRET: &str = "limited-bot-secret";
/// The server's `max_amount` in these tests.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// A running `credit-sync-server serve` (the harness's, `credit-sync-testkit`) with the
/// three sources above; killed on drop.
pub struct Server {
    inner: testkit::Server,
    pub base_url: String,
}

impl Server {
    pub fn start() -> Server {
        let config = ServerConfig::new(vec![
            Source::new(SOURCE, API_KEY, SECRET).admin(),
            Source::new(PLAIN_SOURCE, PLAIN_API_KEY, PLAIN_SECRET).auto_register(false),
            Source::new(LIMITED_SOURCE, LIMITED_API_KEY, LIMITED_SECRET).rate_limit_per_sec(1),
        ])
        .max_amount(MAX_AMOUNT);
        let inner = testkit::Server::start(config);
        Server {
            base_url: inner.base_url(),
            inner,
        }
    }

    /// `host:port` of the server, for the proxy.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.inner.addr()
    }

    /// The harness's fault proxy in front of this server; its first requests get
    /// `script`, the others pass.
    pub fn proxy(&self, script: impl IntoIterator<Item = Fault>) -> Proxy {
        let proxy = Proxy::start(self.addr());
        proxy.push_script(script);
        proxy
    }

    /// A config for `media_bot` at `base_url`, with a fast backoff so retry tests are quick.
    pub fn config_at(&self, base_url: &str) -> credit_sync::ConfigBuilder {
        fast(
            Config::builder()
                .base_url(base_url)
                .api_key(API_KEY)
                .secret_key(SECRET)
                .source(SOURCE),
        )
    }

    /// A built config for `media_bot` at `base_url` with `max_retries`.
    pub fn retrying_config(&self, base_url: &str, max_retries: u32) -> Config {
        self.config_at(base_url)
            .max_retries(max_retries)
            .build()
            .unwrap()
    }

    /// A config for `media_bot` talking to the server directly.
    pub fn config(&self) -> credit_sync::ConfigBuilder {
        self.config_at(&self.base_url)
    }

    pub fn plain_config(&self) -> credit_sync::ConfigBuilder {
        fast(
            Config::builder()
                .base_url(&self.base_url)
                .api_key(PLAIN_API_KEY)
                .secret_key(PLAIN_SECRET)
                .source(PLAIN_SOURCE),
        )
    }

    pub fn limited_config(&self) -> credit_sync::ConfigBuilder {
        fast(
            Config::builder()
                .base_url(&self.base_url)
                .api_key(LIMITED_API_KEY)
                .secret_key(LIMITED_SECRET)
                .source(LIMITED_SOURCE),
        )
    }

    pub fn client(&self) -> credit_sync::Client {
        credit_sync::Client::new(self.config().build().unwrap()).unwrap()
    }

    pub fn blocking_client(&self) -> credit_sync::blocking::Client {
        credit_sync::blocking::Client::new(self.config().build().unwrap()).unwrap()
    }

    pub fn log(&self) -> String {
        self.inner.stderr_log()
    }
}

fn fast(b: credit_sync::ConfigBuilder) -> credit_sync::ConfigBuilder {
    b.backoff(Backoff {
        base: Duration::from_millis(20),
        factor: 2.0,
        cap: Duration::from_millis(200),
    })
}

/// A fresh telegram id per call, so tests sharing a server never share users.
pub fn user() -> i64 {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let pid = std::process::id() as i64 % 10_000;
    1_000_000 + pid * 100_000 + NEXT.fetch_add(1, Ordering::Relaxed) as i64
}

/// A port nobody listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
