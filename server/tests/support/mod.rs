//! The server suite's fixtures: the five sources every test server has, on top of the
//! workspace's one harness (`credit-sync-testkit`), which spawns the real binary on the
//! suite's backend (SQLite, or a fresh PostgreSQL database with
//! `CREDIT_SYNC_TEST_BACKEND=postgres`) and signs raw requests with the core.
// Each test binary uses its own part of the fixtures.
#![allow(dead_code, unused_imports)]

pub mod backend;

use credit_sync_testkit::{self as testkit, ServerConfig};
pub use credit_sync_testkit::{
    now, postgres_sessions, postgres_url, raw_execute, server_bin, server_sessions_name,
    signing_time, Database, Reply, Sign, Source, Wire,
};

/// Sources every test server has: (name, api_key, secret).
pub const ADMIN: (&str, &str, &str) = (
    "media_bot",
    "media-bot-api-key-2024",
    "your-secret-key-here",
);
pub const WRITER: (&str, &str, &str) = ("shop_bot", "shop-key", "shop-secret");
pub const READER: (&str, &str, &str) = ("stats_bot", "stats-key", "stats-secret");
pub const NO_AUTO: (&str, &str, &str) = ("strict_bot", "strict-key", "strict-secret");
pub const LIMITED: (&str, &str, &str) = ("slow_bot", "slow-key", "slow-secret");

pub fn source(source: (&str, &str, &str)) -> Source {
    Source::new(source.0, source.1, source.2)
}

/// The suite's standard config: the five sources, ±300 s, `max_amount` 10¹².
pub fn config() -> ServerConfig {
    ServerConfig::new(vec![
        source(ADMIN).admin(),
        source(WRITER).permissions(&["write"]),
        source(READER).permissions(&["read"]),
        source(NO_AUTO).auto_register(false),
        source(LIMITED).rate_limit_per_sec(2),
    ])
    .timestamp_tolerance_secs(300)
    .max_amount(1_000_000_000_000)
}

/// The standard config's file text on `database`.
pub fn config_toml(database: &str) -> String {
    config().to_toml(database)
}

/// A running server with the standard sources; killed when dropped.
pub struct Server(pub testkit::Server);

impl std::ops::Deref for Server {
    type Target = testkit::Server;
    fn deref(&self) -> &testkit::Server {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut testkit::Server {
        &mut self.0
    }
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(|toml| toml)
    }

    /// Starts a server whose config file is `edit(standard config)`.
    pub fn start_with(edit: impl FnOnce(String) -> String) -> Server {
        Server(testkit::Server::start_edited(config(), edit))
    }

    /// A server on SQLite whatever the suite's backend (to compare the backends).
    pub fn start_sqlite() -> Server {
        Server(testkit::Server::start(config().on_sqlite()))
    }

    /// A server on a database someone else owns.
    pub fn start_on(database: &str, edit: impl FnOnce(String) -> String) -> Server {
        Server(testkit::Server::start_edited(
            config().database(database),
            edit,
        ))
    }

    /// Another server process on this server's database (as behind a load balancer).
    pub fn start_sibling(&self) -> Server {
        Server::start_on(self.database_url(), |toml| toml)
    }

    pub fn client(&self, credentials: (&str, &str, &str)) -> Wire {
        Wire::new(&self.base_url(), &source(credentials))
    }

    pub fn admin(&self) -> Wire {
        self.client(ADMIN)
    }

    /// Runs an admin subcommand on this server's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut args = args.to_vec();
        args.extend(["--database", "{database}"]);
        self.run_cli(&args)
    }
}

/// Runs `verify` on the server's database and asserts it found nothing.
pub fn assert_verified(server: &Server) {
    let out = server.cli(&["verify"]);
    assert!(
        out.status.success(),
        "verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
