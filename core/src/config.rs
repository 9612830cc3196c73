//! Client configuration: a builder with the SDK's defaults, and `from_env`.
//! `Debug` never prints the API key or the secret.

use crate::error::{Error, Result};
use std::fmt;
use std::path::PathBuf;
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

/// The retry budget: a token bucket per client (the AWS SDKs' "standard" retry mode).
/// A retry costs tokens, a success refills a little, so when many calls fail at once the
/// bucket empties, retries stop, and calls fail fast with their real error instead of
/// multiplying the load on a struggling server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// Tokens in a full bucket, and at the start (default 500).
    pub capacity: u32,
    /// What a retry after an answered failure (503, 429, a broken connection) costs (default 5).
    pub retry_cost: u32,
    /// What a retry after a timeout costs (default 10): timeouts hint at overload.
    pub timeout_cost: u32,
    /// What a call that succeeded at its first attempt puts back (default 1). A call
    /// that succeeded after retries puts back what its retries took.
    pub success_refill: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refill: 1,
        }
    }
}

/// Which HTTP proxy the client goes through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Proxy {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, read when the client is built.
    #[default]
    FromEnv,
    /// No proxy, whatever the environment says.
    Direct,
    /// Every request through this proxy (`http://host:port`, credentials allowed in the URL),
    /// whatever the environment says.
    Url(String),
}

impl Proxy {
    /// The bindings' spelling: no value is [`Proxy::FromEnv`], `""` is [`Proxy::Direct`],
    /// anything else a proxy URL.
    pub fn from_option(v: Option<&str>) -> Proxy {
        match v {
            None => Proxy::FromEnv,
            Some("") => Proxy::Direct,
            Some(url) => Proxy::Url(url.to_string()),
        }
    }
}

/// The per-attempt timeout when none is set; an attempt never outlives the call's deadline.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// The whole call's deadline, retries and backoff included. Default 10 s.
    pub timeout: Duration,
    /// One attempt's limit; `None` is the smaller of 10 s and what remains of the deadline.
    pub attempt_timeout: Option<Duration>,
    /// TCP/TLS connect. Default 2 s.
    pub connect_timeout: Duration,
    /// Retries after the first attempt. Default 3.
    pub max_retries: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// Default `credit-sync-rust/<version>`.
    pub user_agent: String,
    /// Shared by every call of the client; `None` turns it off (every call gets its retries).
    pub retry_budget: Option<RetryBudget>,
    /// Default: from the environment.
    pub proxy: Proxy,
    /// A PEM bundle trusted beside the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("source", &self.source)
            .field("timeout", &self.timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("user_agent", &self.user_agent)
            .field("retry_budget", &self.retry_budget)
            .field("proxy", &redacted_proxy(&self.proxy))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A proxy URL may carry a password: `Debug` shows only its scheme, host and port.
fn redacted_proxy(proxy: &Proxy) -> String {
    match proxy {
        Proxy::FromEnv => "from environment".into(),
        Proxy::Direct => "direct".into(),
        Proxy::Url(url) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{host}")
        }
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
    attempt_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_retries: Option<u32>,
    backoff: Option<Backoff>,
    user_agent: Option<String>,
    retry_budget: Option<Option<RetryBudget>>,
    proxy: Option<Proxy>,
    ca_file: Option<PathBuf>,
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
    /// The whole call's deadline, retries and backoff included (default 10 s). A call
    /// that reaches it returns `timeout` (a write's error still carries its reference).
    pub fn timeout(mut self, v: Duration) -> Self {
        self.timeout = Some(v);
        self
    }
    /// The time one attempt may take (default: the smaller of 10 s and what remains of
    /// the deadline).
    pub fn attempt_timeout(mut self, v: Duration) -> Self {
        self.attempt_timeout = Some(v);
        self
    }
    /// The client's retry budget (default [`RetryBudget::default`]).
    pub fn retry_budget(mut self, v: RetryBudget) -> Self {
        self.retry_budget = Some(Some(v));
        self
    }
    /// No retry budget: every call gets its `max_retries`, however many fail at once.
    pub fn disable_retry_budget(mut self) -> Self {
        self.retry_budget = Some(None);
        self
    }
    /// The HTTP proxy (default [`Proxy::FromEnv`]).
    pub fn proxy(mut self, v: Proxy) -> Self {
        self.proxy = Some(v);
        self
    }
    /// A PEM bundle of CA certificates trusted beside the system's roots.
    pub fn ca_file(mut self, v: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(v.into());
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
        if self.attempt_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_argument("attempt_timeout must be positive"));
        }
        let proxy = self.proxy.unwrap_or_default();
        if let Proxy::Url(url) = &proxy {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::invalid_argument(format!(
                    "proxy must be an http:// or https:// URL, got {:?}",
                    redacted_proxy(&proxy)
                )));
            }
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
            attempt_timeout: self.attempt_timeout,
            retry_budget: self.retry_budget.unwrap_or(Some(RetryBudget::default())),
            proxy,
            ca_file: self.ca_file,
        })
    }
}
