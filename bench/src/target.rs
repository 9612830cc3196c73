//! The server under load: one given by URL, or one the bench starts itself through the
//! workspace's harness (`credit-sync-testkit`): on `127.0.0.1:0` with a throwaway SQLite
//! database (or `--database`), read its bound address, and stop it when done.

use credit_sync_testkit::{Server, ServerConfig, Source};
use std::path::Path;

pub struct Target {
    base_url: String,
    /// The server the bench started (killed on drop), `None` for a remote one.
    _server: Option<Server>,
}

impl Target {
    pub fn remote(base_url: String) -> Target {
        Target {
            base_url: base_url.trim_end_matches('/').to_string(),
            _server: None,
        }
    }

    /// Starts `server_bin serve` with one admin source holding the bench's credentials.
    pub fn spawn(
        server_bin: &str,
        database: Option<&str>,
        api_key: &str,
        secret: &str,
        source: &str,
    ) -> Result<Target, Box<dyn std::error::Error>> {
        if !Path::new(server_bin).is_file() {
            return Err(format!(
                "cannot start {server_bin}: no such file (build it with `cargo build --release -p credit-sync-server`)"
            )
            .into());
        }
        let config = ServerConfig::new(vec![Source::new(source, api_key, secret).admin()])
            .binary(server_bin);
        let config = match database {
            Some(url) => config.database(url),
            None => config.on_sqlite(),
        };
        let server = Server::start(config);
        Ok(Target {
            base_url: server.base_url(),
            _server: Some(server),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}
