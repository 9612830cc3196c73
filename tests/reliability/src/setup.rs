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

/// The environment variable that points the suite at PostgreSQL instead of a
/// throwaway SQLite file (as `scripts/with-postgres.sh` sets it).
pub const POSTGRES_URL_VAR: &str = "CREDIT_SYNC_TEST_POSTGRES_URL";

/// A server with `media_bot` and `game_bot`.
pub fn config() -> ServerConfig {
    config_with(vec![media_bot(), game_bot()])
}

/// Set to `postgres` (together with [`POSTGRES_URL_VAR`]) to run the suite on PostgreSQL,
/// as the server's suite does.
pub const BACKEND_VAR: &str = "CREDIT_SYNC_TEST_BACKEND";

/// A server with these sources, on SQLite in its temp dir, or, with
/// `CREDIT_SYNC_TEST_BACKEND=postgres`, on the PostgreSQL database named by
/// `$CREDIT_SYNC_TEST_POSTGRES_URL`. (Every test uses its own telegram_id range, so the
/// tests can share one PostgreSQL database.)
pub fn config_with(sources: Vec<Source>) -> ServerConfig {
    let config = ServerConfig::new(sources);
    if std::env::var(BACKEND_VAR).ok().as_deref() != Some("postgres") {
        return config;
    }
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => config.database(url),
        _ => panic!("{BACKEND_VAR}=postgres needs {POSTGRES_URL_VAR} (scripts/with-postgres.sh)"),
    }
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
