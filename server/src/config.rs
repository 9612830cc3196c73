//! The server's settings: a TOML file (`serve --config FILE`) with `CREDIT_SYNC_*`
//! environment overrides, checked once at start-up so a bad file fails loudly.

use credit_sync::protocol::limits;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://credit-sync.db";

/// What a source may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Balance and records.
    Read,
    /// Sync and batch.
    Write,
    /// `POST /api/users`.
    Admin,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        })
    }
}

/// A signing scheme a source may use for writes (reads always need v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// The guide's body `token` (covers only telegram_id, amount, source, timestamp).
    V1,
    /// The `X-Signature` header (covers the whole request).
    V2,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::V1 => "v1",
            Scheme::V2 => "v2",
        })
    }
}

fn default_signatures() -> Vec<Scheme> {
    vec![Scheme::V1, Scheme::V2]
}

/// One bot (project) allowed to talk to the server.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub api_key: String,
    pub secret: String,
    #[serde(default = "default_permissions")]
    pub permissions: Vec<Permission>,
    /// Register unknown users on their first credit.
    #[serde(default = "default_true")]
    pub auto_register: bool,
    /// Requests per second for this source; 0 turns the limit off.
    #[serde(default)]
    pub rate_limit_per_sec: u32,
    /// The signing schemes this source's writes may use; `["v2"]` refuses v1 tokens.
    #[serde(default = "default_signatures")]
    pub signatures: Vec<Scheme>,
}

impl SourceConfig {
    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// Secrets stay out of logs and panics, even through `{:?}`.
impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceConfig")
            .field("name", &self.name)
            .field("api_key", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("permissions", &self.permissions)
            .field("auto_register", &self.auto_register)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("signatures", &self.signatures)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_database")]
    pub database: String,
    #[serde(default = "default_tolerance")]
    pub timestamp_tolerance_secs: i64,
    #[serde(default = "default_max_amount")]
    pub max_amount: i64,
    /// Requests in flight beyond this get `503 service_unavailable`; 0 turns the limit off.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_requests: usize,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
}

fn default_permissions() -> Vec<Permission> {
    vec![Permission::Read, Permission::Write]
}
fn default_true() -> bool {
    true
}
fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}
fn default_database() -> String {
    DEFAULT_DATABASE.to_string()
}
fn default_tolerance() -> i64 {
    limits::DEFAULT_TIMESTAMP_TOLERANCE_SECS
}
fn default_max_amount() -> i64 {
    limits::DEFAULT_MAX_AMOUNT
}
fn default_max_concurrent() -> usize {
    1024
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            database: default_database(),
            timestamp_tolerance_secs: default_tolerance(),
            max_amount: default_max_amount(),
            max_concurrent_requests: default_max_concurrent(),
            sources: Vec::new(),
        }
    }
}

impl Config {
    /// Reads `path`, applies the environment overrides and checks the result.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|e| format!("invalid config {}: {}", path.display(), describe(&e, &text)))?;
        config.apply_env(|name| std::env::var(name).ok())?;
        config.check()?;
        Ok(config)
    }

    /// `CREDIT_SYNC_LISTEN`, `CREDIT_SYNC_DATABASE` (or `CREDIT_SYNC_DATABASE_URL`),
    /// `CREDIT_SYNC_TIMESTAMP_TOLERANCE_SECS`, `CREDIT_SYNC_MAX_AMOUNT` and
    /// `CREDIT_SYNC_MAX_CONCURRENT_REQUESTS` win over the file.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(listen) = var("CREDIT_SYNC_LISTEN") {
            self.listen = listen;
        }
        if let Some(db) = var("CREDIT_SYNC_DATABASE_URL").or_else(|| var("CREDIT_SYNC_DATABASE")) {
            self.database = db;
        }
        if let Some(v) = var("CREDIT_SYNC_TIMESTAMP_TOLERANCE_SECS") {
            self.timestamp_tolerance_secs = v.parse().map_err(|_| {
                format!("CREDIT_SYNC_TIMESTAMP_TOLERANCE_SECS is not an integer: {v}")
            })?;
        }
        if let Some(v) = var("CREDIT_SYNC_MAX_CONCURRENT_REQUESTS") {
            self.max_concurrent_requests = v.parse().map_err(|_| {
                format!("CREDIT_SYNC_MAX_CONCURRENT_REQUESTS is not an integer: {v}")
            })?;
        }
        if let Some(v) = var("CREDIT_SYNC_MAX_AMOUNT") {
            self.max_amount = v
                .parse()
                .map_err(|_| format!("CREDIT_SYNC_MAX_AMOUNT is not an integer: {v}"))?;
        }
        Ok(())
    }

    pub fn check(&self) -> Result<(), String> {
        if self.timestamp_tolerance_secs < 0 {
            return Err("timestamp_tolerance_secs must be >= 0".into());
        }
        if self.max_amount <= 0 {
            return Err("max_amount must be > 0".into());
        }
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for source in &self.sources {
            if source.name.is_empty() || source.api_key.is_empty() || source.secret.is_empty() {
                return Err(format!(
                    "source {:?}: name, api_key and secret must not be empty",
                    source.name
                ));
            }
            if !names.insert(source.name.as_str()) {
                return Err(format!("source {:?} is configured twice", source.name));
            }
            if !keys.insert(source.api_key.as_str()) {
                return Err(format!(
                    "source {:?} reuses another source's api_key",
                    source.name
                ));
            }
        }
        Ok(())
    }

    /// The ready-made configuration of `credit-sync-server demo`: the guide's credentials.
    pub fn demo(listen: String, database: String) -> Config {
        let source = |name: &str, api_key: &str, secret: &str, admin: bool| SourceConfig {
            name: name.into(),
            api_key: api_key.into(),
            secret: secret.into(),
            permissions: if admin {
                vec![Permission::Read, Permission::Write, Permission::Admin]
            } else {
                default_permissions()
            },
            auto_register: true,
            rate_limit_per_sec: 0,
            signatures: default_signatures(),
        };
        Config {
            listen,
            database,
            sources: vec![
                source(
                    "media_bot",
                    "media-bot-api-key-2024",
                    "your-secret-key-here",
                    true,
                ),
                source("test", "your-api-key", "your-secret-key", false),
            ],
            ..Config::default()
        }
    }
}

/// A TOML error without the quoted source line, which could hold a secret.
fn describe(err: &toml::de::Error, text: &str) -> String {
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {}", err.message())
        }
        None => err.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
listen = "127.0.0.1:0"
database = "sqlite:///tmp/x/credit-sync.db"
timestamp_tolerance_secs = 300
max_amount = 1000000000000

[[sources]]
name = "media_bot"
api_key = "k"
secret = "s"
permissions = ["read", "write", "admin"]
auto_register = true
rate_limit_per_sec = 0

[[sources]]
name = "other"
api_key = "k2"
secret = "s2"
"#;

    #[test]
    fn parses_the_team_contract_and_defaults() {
        let config: Config = toml::from_str(FILE).unwrap();
        config.check().unwrap();
        assert_eq!(config.sources[0].permissions.len(), 3);
        assert_eq!(
            config.sources[1].permissions,
            [Permission::Read, Permission::Write]
        );
        assert!(config.sources[1].auto_register);
        assert!(!format!("{config:?}").contains("\"s2\""));
    }

    #[test]
    fn env_overrides_the_file() {
        let mut config: Config = toml::from_str(FILE).unwrap();
        config
            .apply_env(|name| match name {
                "CREDIT_SYNC_LISTEN" => Some("0.0.0.0:9".into()),
                "CREDIT_SYNC_DATABASE_URL" => Some("sqlite://y.db".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9");
        assert_eq!(config.database, "sqlite://y.db");
    }

    #[test]
    fn errors_never_quote_the_file() {
        for text in [
            "[[sources]]\nname = \"a\"\napi_key = \"KEY\"\nsecret_key = \"SECRET\"\n",
            "[[sources]]\nname = \"a\"\napi_key = \"KEY\"\nsecret = \"SECRET\n",
            "[[sources]]\nname = \"a\"\napi_key = \"KEY\"\napi_key = \"KEY\"\n",
        ] {
            let err = toml::from_str::<Config>(text).unwrap_err();
            let message = describe(&err, text);
            assert!(message.starts_with("line "), "{message}");
            assert!(
                !message.contains("SECRET") && !message.contains("KEY"),
                "{message}"
            );
        }
    }

    #[test]
    fn rejects_duplicate_keys() {
        let mut config: Config = toml::from_str(FILE).unwrap();
        config.sources[1].api_key = "k".into();
        assert!(config.check().is_err());
    }
}
