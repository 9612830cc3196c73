//! Client configuration: a builder with the SDK's defaults, and `from_env`.
//! `Debug` never prints the API key or the secret.

use crate::error::{Error, Result};
use std::fmt;
use std::time::Duration;

/// Environment variables read by [`Config::from_env`].
pub mod env {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub const BASE_URL: &str = "CREDIT_SYNC_BASE_URL";
    /// The source's API key (sent as `X-Api-Key`).
    pub const API_KEY: &str = "CREDIT_SYNC_API_KEY";
    /// The source's signing secret (never sent).
    pub const SECRET_KEY: &str = "CREDIT_SYNC_SECRET_KEY";
    /// The source's name, e.g. `media_bot`.
    pub const SOURCE: &str = "CREDIT_SYNC_SOURCE";
}

/// Exponential backoff with full jitter: attempt `n` sleeps a random time in
/// `[0, min(cap, base * factor^n)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first wait (default 0.5 s).
    pub base: Duration,
    /// How much the ceiling grows per retry (default 2).
    pub factor: f64,
    /// The largest ceiling (default 8 s).
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            factor: 2.0,
            cap: Duration::from_secs(8),
        }
    }
}

/// Everything a client needs. Build one with [`Config::builder`].
#[derive(Clone)]
pub struct Config {
    /// The server's base URL, without a trailing `/`.
    pub base_url: String,
    /// Sent as `X-Api-Key`; never printed by `Debug`.
    pub api_key: String,
    /// Signs every request; never sent, never printed by `Debug`.
    pub secret_key: String,
    /// The source (bot) name the API key belongs to.
    pub source: String,
    /// Whole call, per attempt. Default 10 s.
    pub timeout: Duration,
    /// TCP/TLS connect. Default 2 s.
    pub connect_timeout: Duration,
    /// Retries after the first attempt. Default 3.
    pub max_retries: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// Default `credit-sync-rust/<version>`.
    pub user_agent: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("source", &self.source)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl Config {
    /// A builder with the SDK's defaults; the four credentials are required.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Reads `CREDIT_SYNC_BASE_URL`, `CREDIT_SYNC_API_KEY`, `CREDIT_SYNC_SECRET_KEY`
    /// and `CREDIT_SYNC_SOURCE`; every other setting keeps its default.
    pub fn from_env() -> Result<Config> {
        ConfigBuilder::from_env().build()
    }
}

/// The default `User-Agent`.
pub fn default_user_agent() -> String {
    format!("credit-sync-rust/{}", env!("CARGO_PKG_VERSION"))
}

/// Builder for [`Config`]; `build` checks that the four credentials are present.
#[derive(Clone, Default)]
pub struct ConfigBuilder {
    base_url: Option<String>,
    api_key: Option<String>,
    secret_key: Option<String>,
    source: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_retries: Option<u32>,
    backoff: Option<Backoff>,
    user_agent: Option<String>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("base_url", &self.base_url)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// A builder pre-filled from the `CREDIT_SYNC_*` environment variables that are set.
    pub fn from_env() -> ConfigBuilder {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        ConfigBuilder {
            base_url: var(env::BASE_URL),
            api_key: var(env::API_KEY),
            secret_key: var(env::SECRET_KEY),
            source: var(env::SOURCE),
            ..Default::default()
        }
    }
    /// The server's base URL (`http://` or `https://`).
    pub fn base_url(mut self, v: impl Into<String>) -> Self {
        self.base_url = Some(v.into());
        self
    }
    /// The source's API key.
    pub fn api_key(mut self, v: impl Into<String>) -> Self {
        self.api_key = Some(v.into());
        self
    }
    /// The source's signing secret.
    pub fn secret_key(mut self, v: impl Into<String>) -> Self {
        self.secret_key = Some(v.into());
        self
    }
    /// The source's name.
    pub fn source(mut self, v: impl Into<String>) -> Self {
        self.source = Some(v.into());
        self
    }
    /// The time one attempt may take (default 10 s).
    pub fn timeout(mut self, v: Duration) -> Self {
        self.timeout = Some(v);
        self
    }
    /// The time a connection may take to open (default 2 s).
    pub fn connect_timeout(mut self, v: Duration) -> Self {
        self.connect_timeout = Some(v);
        self
    }
    /// Retries after the first attempt (default 3; 0 turns retries off).
    pub fn max_retries(mut self, v: u32) -> Self {
        self.max_retries = Some(v);
        self
    }
    /// The wait before each retry (default 0.5 s × 2, cap 8 s, full jitter).
    pub fn backoff(mut self, v: Backoff) -> Self {
        self.backoff = Some(v);
        self
    }
    /// The `User-Agent` (default `credit-sync-rust/<version>`).
    pub fn user_agent(mut self, v: impl Into<String>) -> Self {
        self.user_agent = Some(v.into());
        self
    }

    /// The config, or an `invalid_argument` error naming what is missing or wrong.
    pub fn build(self) -> Result<Config> {
        fn required(v: Option<String>, name: &str, var: &str) -> Result<String> {
            v.filter(|s| !s.is_empty()).ok_or_else(|| {
                Error::invalid_argument(format!("{name} is required (or set {var})"))
            })
        }
        let base_url = required(self.base_url, "base_url", env::BASE_URL)?;
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::invalid_argument(format!(
                "base_url must start with http:// or https://, got {base_url:?}"
            )));
        }
        let timeout = self.timeout.unwrap_or(Duration::from_secs(10));
        if timeout.is_zero() {
            return Err(Error::invalid_argument("timeout must be positive"));
        }
        Ok(Config {
            base_url,
            api_key: required(self.api_key, "api_key", env::API_KEY)?,
            secret_key: required(self.secret_key, "secret_key", env::SECRET_KEY)?,
            source: required(self.source, "source", env::SOURCE)?,
            timeout,
            connect_timeout: self.connect_timeout.unwrap_or(Duration::from_secs(2)),
            max_retries: self.max_retries.unwrap_or(3),
            backoff: self.backoff.unwrap_or_default(),
            user_agent: self.user_agent.unwrap_or_else(default_user_agent),
        })
    }
}
