//! The credentials every test server is started with, and SDK clients tuned for
//! tests: short backoff so thousands of retried calls fit in seconds.

use credit_sync::{Backoff, Config};
use credit_sync_testkit::{Server, ServerConfig, Source};
use std::time::Duration;

/// The guide's admin source.
pub fn media_bot() -> Source {
    Source::new(
        "media_bot",
        "media-bot-api-key-2024",
        "your-secret-key-here",
    )
    .admin()
}

/// A second, non-admin source.
pub fn game_bot() -> Source {
    Source::new("game_bot", "game-bot-api-key-7", "game-bot-secret-7")
}

/// A server with `media_bot` and `game_bot`.
pub fn config() -> ServerConfig {
    config_with(vec![media_bot(), game_bot()])
}

/// A server with these sources, on the suite's backend (the harness's choice: SQLite in
/// its temp dir, or a fresh PostgreSQL database with `CREDIT_SYNC_TEST_BACKEND=postgres`).
pub fn config_with(sources: Vec<Source>) -> ServerConfig {
    ServerConfig::new(sources)
}

pub fn start() -> Server {
    Server::start(config())
}

/// SDK config for `source` at `base_url`: 5 s timeout, 8 retries, backoff 5 ms .. 50 ms.
pub fn sdk_config(base_url: &str, source: &Source) -> Config {
    sdk_builder(base_url, source)
        .build()
        .expect("valid SDK config")
}

pub fn sdk_builder(base_url: &str, source: &Source) -> credit_sync::ConfigBuilder {
    Config::builder()
        .base_url(base_url)
        .api_key(&source.api_key)
        .secret_key(&source.secret)
        .source(&source.name)
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .max_retries(8)
        .backoff(Backoff {
            base: Duration::from_millis(5),
            factor: 2.0,
            cap: Duration::from_millis(50),
        })
}

pub fn client(base_url: &str, source: &Source) -> credit_sync::Client {
    credit_sync::Client::new(sdk_config(base_url, source)).expect("SDK client")
}

pub fn blocking_client(base_url: &str, source: &Source) -> credit_sync::blocking::Client {
    credit_sync::blocking::Client::new(sdk_config(base_url, source)).expect("blocking SDK client")
}

/// A small seeded RNG, so a failing round can be replayed from its seed.
pub fn rng(seed: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(seed)
}
