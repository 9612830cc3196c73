//! The server's settings: a TOML file (`serve --config FILE`) with `CREDIT_SYNC_*`
//! environment overrides, checked at start-up (and on each SIGHUP reload) so a bad file
//! fails loudly. A source's key and secret may live outside the file (`_file`, `_env`).

use crate::webhooks::{DeliveryConfig, Endpoint, WebhookEntry};
use credit_sync::protocol::limits;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

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

/// Which events a source's feed shows: every source's (the default) or only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventScope {
    #[default]
    All,
    Own,
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

/// One bot (project) allowed to talk to the server, with its credentials resolved.
#[derive(Clone)]
pub struct SourceConfig {
    pub name: String,
    /// `api_key`, then `next_api_key` during a rotation: each one identifies the source.
    pub api_keys: Vec<String>,
    /// `secret`, then `next_secret` during a rotation: a signature by either one verifies.
    pub secrets: Vec<String>,
    pub permissions: Vec<Permission>,
    /// Register unknown users on their first credit.
    pub auto_register: bool,
    /// Requests per second for this source; 0 turns the limit off.
    pub rate_limit_per_sec: u32,
    /// The signing schemes this source's writes may use; `["v2"]` refuses v1 tokens.
    pub signatures: Vec<Scheme>,
    /// `events = "own"`: its event feed shows only its own events.
    pub events: EventScope,
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
            .field(
                "api_keys",
                &format_args!("<{} redacted>", self.api_keys.len()),
            )
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("permissions", &self.permissions)
            .field("auto_register", &self.auto_register)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("signatures", &self.signatures)
            .field("events", &self.events)
            .finish()
    }
}

/// A `[[sources]]` entry as written: each credential inline, in a file (`_file`) or in an
/// environment variable (`_env`), resolved into a [`SourceConfig`] by [`Config::parse`].
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceEntry {
    name: String,
    api_key: Option<String>,
    api_key_file: Option<PathBuf>,
    api_key_env: Option<String>,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
    next_api_key: Option<String>,
    next_api_key_file: Option<PathBuf>,
    next_api_key_env: Option<String>,
    next_secret: Option<String>,
    next_secret_file: Option<PathBuf>,
    next_secret_env: Option<String>,
    #[serde(default = "default_permissions")]
    permissions: Vec<Permission>,
    #[serde(default = "default_true")]
    auto_register: bool,
    #[serde(default)]
    rate_limit_per_sec: u32,
    #[serde(default = "default_signatures")]
    signatures: Vec<Scheme>,
    #[serde(default)]
    events: EventScope,
}

impl fmt::Debug for SourceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One credential's three forms, of which exactly one may be given.
struct Forms<'a> {
    field: &'static str,
    inline: &'a Option<String>,
    file: &'a Option<PathBuf>,
    env: &'a Option<String>,
}

impl SourceEntry {
    /// Reads each credential from where the entry says. Errors name the source, the field
    /// and the file or variable, never a value. Relative paths are relative to `base`
    /// (the config file's directory).
    fn resolve(
        &self,
        base: &Path,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<SourceConfig, String> {
        let name = &self.name;
        if name.is_empty() {
            return Err("a source has an empty name".into());
        }
        let get = |forms: Forms<'_>| resolve_credential(name, &forms, base, var);
        let api_key = get(Forms {
            field: "api_key",
            inline: &self.api_key,
            file: &self.api_key_file,
            env: &self.api_key_env,
        })?;
        let secret = get(Forms {
            field: "secret",
            inline: &self.secret,
            file: &self.secret_file,
            env: &self.secret_env,
        })?;
        let next_api_key = get(Forms {
            field: "next_api_key",
            inline: &self.next_api_key,
            file: &self.next_api_key_file,
            env: &self.next_api_key_env,
        })?;
        let next_secret = get(Forms {
            field: "next_secret",
            inline: &self.next_secret,
            file: &self.next_secret_file,
            env: &self.next_secret_env,
        })?;
        let required = |value: Option<String>, field: &str| {
            value.ok_or_else(|| {
                format!(
                    "source {name:?}: missing {field}: set {field}, {field}_file or {field}_env"
                )
            })
        };
        Ok(SourceConfig {
            name: name.clone(),
            api_keys: std::iter::once(required(api_key, "api_key")?)
                .chain(next_api_key)
                .collect(),
            secrets: std::iter::once(required(secret, "secret")?)
                .chain(next_secret)
                .collect(),
            permissions: self.permissions.clone(),
            auto_register: self.auto_register,
            rate_limit_per_sec: self.rate_limit_per_sec,
            signatures: self.signatures.clone(),
            events: self.events,
        })
    }
}

/// The credential's value, `None` when none of its forms is given.
fn resolve_credential(
    source: &str,
    forms: &Forms<'_>,
    base: &Path,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let field = forms.field;
    let given =
        forms.inline.is_some() as u8 + forms.file.is_some() as u8 + forms.env.is_some() as u8;
    if given > 1 {
        return Err(format!(
            "source {source:?}: set only one of {field}, {field}_file and {field}_env"
        ));
    }
    let value = if let Some(value) = forms.inline {
        if value.is_empty() {
            return Err(format!("source {source:?}: {field} is empty"));
        }
        value.clone()
    } else if let Some(path) = forms.file {
        let path = base.join(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "source {source:?}: cannot read {field}_file {}: {e}",
                path.display()
            )
        })?;
        // `echo value > file` and most secret stores end the file with a newline.
        let value = text.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(format!(
                "source {source:?}: {field}_file {} is empty",
                path.display()
            ));
        }
        value.to_string()
    } else if let Some(name) = forms.env {
        match var(name) {
            Some(value) if !value.is_empty() => value,
            Some(_) => {
                return Err(format!(
                    "source {source:?}: {field}_env names {name}, which is empty"
                ))
            }
            None => {
                return Err(format!(
                    "source {source:?}: {field}_env names {name}, which is not set"
                ))
            }
        }
    } else {
        return Ok(None);
    };
    Ok(Some(value))
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
    /// Days the event feed keeps an event; a cursor older than that is `410 cursor_expired`.
    #[serde(default = "default_event_retention_days")]
    pub event_retention_days: u32,
    /// The file's `[[sources]]`, resolved into `sources` by [`Config::parse`] (then empty).
    #[serde(default, rename = "sources")]
    entries: Vec<SourceEntry>,
    #[serde(skip)]
    pub sources: Vec<SourceConfig>,
    /// The operator console (`[console]`), off unless enabled.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// The file's `[[webhooks]]`, resolved into `webhooks` by [`Config::parse`].
    #[serde(default, rename = "webhooks")]
    webhook_entries: Vec<WebhookEntry>,
    #[serde(skip)]
    pub webhooks: Vec<Endpoint>,
    /// `[webhook_delivery]`: the retry schedule and timeouts of every endpoint.
    #[serde(default)]
    pub webhook_delivery: DeliveryConfig,
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
fn default_event_retention_days() -> u32 {
    crate::events::DEFAULT_RETENTION_DAYS
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
            event_retention_days: default_event_retention_days(),
            entries: Vec::new(),
            sources: Vec::new(),
            console: ConsoleConfig::default(),
            webhook_entries: Vec::new(),
            webhooks: Vec::new(),
            webhook_delivery: DeliveryConfig::default(),
        }
    }
}

impl Config {
    /// Reads `path`, applies the environment overrides, reads the sources' credentials
    /// and checks the result. Its errors never quote the file or a credential.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base, |name| std::env::var(name).ok())
            .map_err(|e| format!("invalid config {}: {e}", path.display()))
    }

    /// [`Config::load`] on the text of a file in `base`, with `var` as the environment.
    pub fn parse(
        text: &str,
        base: &Path,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let mut config: Config = toml::from_str(text).map_err(|e| describe(&e, text))?;
        config.apply_env(&var)?;
        config.sources = std::mem::take(&mut config.entries)
            .iter()
            .map(|entry| entry.resolve(base, &var))
            .collect::<Result<_, _>>()?;
        config.webhooks = crate::webhooks::config::resolve_all(
            &std::mem::take(&mut config.webhook_entries),
            &config.webhook_delivery,
            base,
            &var,
        )?;
        config.check()?;
        Ok(config)
    }

    /// The settings that differ from `other` but take effect only at a restart (a reload
    /// puts only the sources and the webhooks in force).
    pub fn restart_settings_changed(&self, other: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.listen != other.listen {
            changed.push("listen");
        }
        if self.database != other.database {
            changed.push("database");
        }
        if self.timestamp_tolerance_secs != other.timestamp_tolerance_secs {
            changed.push("timestamp_tolerance_secs");
        }
        if self.max_amount != other.max_amount {
            changed.push("max_amount");
        }
        if self.max_concurrent_requests != other.max_concurrent_requests {
            changed.push("max_concurrent_requests");
        }
        if self.console != other.console {
            changed.push("console");
        }
        if self.webhook_delivery != other.webhook_delivery {
            changed.push("webhook_delivery");
        }
        changed
    }

    /// `CREDIT_SYNC_LISTEN`, `CREDIT_SYNC_DATABASE` (or `CREDIT_SYNC_DATABASE_URL`),
    /// `CREDIT_SYNC_TIMESTAMP_TOLERANCE_SECS`, `CREDIT_SYNC_MAX_AMOUNT` and
    /// `CREDIT_SYNC_MAX_CONCURRENT_REQUESTS` win over the file.
    pub fn apply_env(&mut self, var: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
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
        if self.event_retention_days == 0 {
            return Err("event_retention_days must be at least 1".into());
        }
        if self.max_amount <= 0 {
            return Err("max_amount must be > 0".into());
        }
        let mut names = HashSet::new();
        // Every key (current and next) names exactly one source.
        let mut keys: HashMap<&str, &str> = HashMap::new();
        for source in &self.sources {
            let name = source.name.as_str();
            if name.is_empty()
                || source.api_keys.iter().any(String::is_empty)
                || source.secrets.iter().any(String::is_empty)
            {
                return Err(format!(
                    "source {name:?}: name, api keys and secrets must not be empty"
                ));
            }
            if !names.insert(name) {
                return Err(format!("source {name:?} is configured twice"));
            }
            for key in &source.api_keys {
                if let Some(owner) = keys.insert(key, name) {
                    return Err(if owner == name {
                        format!("source {name:?}: next_api_key is the same as api_key")
                    } else {
                        format!("source {name:?} reuses an api_key of source {owner:?}")
                    });
                }
            }
        }
        self.console.check()
    }

    /// The ready-made configuration of `credit-sync-server demo`: the guide's credentials.
    pub fn demo(listen: String, database: String) -> Config {
        let source = |name: &str, api_key: &str, secret: &str, admin: bool| SourceConfig {
            name: name.into(),
            api_keys: vec![api_key.into()],
            secrets: vec![secret.into()],
            permissions: if admin {
                vec![Permission::Read, Permission::Write, Permission::Admin]
            } else {
                default_permissions()
            },
            auto_register: true,
            rate_limit_per_sec: 0,
            signatures: default_signatures(),
            events: EventScope::All,
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

/// `[console]`: the operator console's switch and the people who may sign in to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The console's address as its users' browsers see it (`https://ops.example.com`):
    /// the only `Origin` a state change may come from, and `Secure` cookies when it is
    /// https. Unset: the request's own `Host`.
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub operators: Vec<OperatorConfig>,
}

/// What an operator may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every view.
    Viewer,
    /// Also adjusts balances, reverses records and voids holds.
    Operator,
}

impl Role {
    pub fn may_write(self) -> bool {
        self == Role::Operator
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// One `[[console.operators]]` entry: a name, an argon2id PHC string and a role.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub name: String,
    pub password_hash: String,
    pub role: Role,
}

/// The hash stays out of logs, like a source's secret.
impl fmt::Debug for OperatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorConfig")
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// The longest operator name (it becomes part of a source, `console:<name>`).
pub const MAX_OPERATOR_NAME: usize = 64;

impl ConsoleConfig {
    /// The operator called `name`, if configured.
    pub fn operator(&self, name: &str) -> Option<&OperatorConfig> {
        self.operators.iter().find(|o| o.name == name)
    }

    /// Names are short and plain, unique; every hash is an argon2 PHC string. Errors
    /// name the operator, never the hash.
    fn check(&self) -> Result<(), String> {
        let mut names = HashSet::new();
        for operator in &self.operators {
            let name = &operator.name;
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            if name.is_empty() || name.len() > MAX_OPERATOR_NAME || !name.chars().all(plain) {
                return Err(format!(
                    "console operator {name:?}: a name is 1 to {MAX_OPERATOR_NAME} of A-Z a-z 0-9 _ - ."
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("console operator {name:?} is configured twice"));
            }
            if !crate::console::password::is_argon2_phc(&operator.password_hash) {
                return Err(format!(
                    "console operator {name:?}: password_hash is not an argon2 PHC string \
                     (make one with `credit-sync-server operators hash-password`)"
                ));
            }
        }
        if self.enabled && self.operators.is_empty() {
            return Err("console.enabled needs at least one [[console.operators]]".into());
        }
        if let Some(url) = &self.public_url {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.ends_with('/') {
                return Err(format!(
                    "console.public_url {url:?} must be http:// or https:// and a host, without a trailing /"
                ));
            }
        }
        Ok(())
    }
}

/// A TOML error without the quoted source line, which could hold a secret.
fn describe(err: &toml::de::Error, text: &str) -> String {
    let message = without_value(err.message());
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// serde's "invalid type: integer `123`, expected a string" quotes the value, which may be
/// a secret written without quotes: keep its kind, drop the value.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            let kind = found.split(['`', '"']).next().unwrap_or_default().trim();
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_string()
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

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/nonexistent"), no_env)
    }

    #[test]
    fn parses_the_team_contract_and_defaults() {
        let config = parse(FILE).unwrap();
        assert_eq!(config.sources[0].permissions.len(), 3);
        assert_eq!(
            config.sources[1].permissions,
            [Permission::Read, Permission::Write]
        );
        assert!(config.sources[1].auto_register);
        assert_eq!(config.sources[1].api_keys, ["k2"]);
        assert_eq!(config.sources[1].secrets, ["s2"]);
        assert!(!format!("{config:?}").contains("\"s2\""));
    }

    #[test]
    fn env_overrides_the_file() {
        let config = Config::parse(FILE, Path::new("."), |name| match name {
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
            "[[sources]]\nname = \"a\"\napi_key = \"KEY\"\nsecret = 12345678901\n",
            "[[sources]]\nname = \"a\"\napi_key = \"KEY\"\nsecret = 1.2345\n",
            "[[sources]]\nname = \"a\"\napi_key = [\"KEY\"]\n",
        ] {
            let err = toml::from_str::<Config>(text).unwrap_err();
            let message = describe(&err, text);
            assert!(message.starts_with("line "), "{message}");
            assert!(
                !message.contains("SECRET")
                    && !message.contains("KEY")
                    && !message.contains("2345"),
                "{message}"
            );
        }
    }

    #[test]
    fn rejects_duplicate_keys() {
        let reused = FILE.replace("\"k2\"", "\"k\"");
        assert!(parse(&reused).unwrap_err().contains("reuses an api_key"));
        let next_reused = FILE.replace("secret = \"s2\"", "secret = \"s2\"\nnext_api_key = \"k\"");
        assert!(parse(&next_reused)
            .unwrap_err()
            .contains("reuses an api_key"));
        let next_same = FILE.replace("secret = \"s2\"", "secret = \"s2\"\nnext_api_key = \"k2\"");
        assert!(parse(&next_same)
            .unwrap_err()
            .contains("next_api_key is the same as api_key"));
    }

    #[test]
    fn credentials_come_from_files_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "FILE-KEY\r\n").unwrap();
        std::fs::write(dir.path().join("next-secret"), "NEXT-SECRET\n\n").unwrap();
        let text = FILE.replace(
            "api_key = \"k2\"\nsecret = \"s2\"",
            "api_key_file = \"key\"\nsecret_env = \"OTHER_SECRET\"\n\
             next_api_key_env = \"OTHER_NEXT_KEY\"\nnext_secret_file = \"next-secret\"",
        );
        let config = Config::parse(&text, dir.path(), |name| match name {
            "OTHER_SECRET" => Some("ENV-SECRET".into()),
            "OTHER_NEXT_KEY" => Some("ENV-NEXT-KEY".into()),
            _ => None,
        })
        .unwrap();
        let other = &config.sources[1];
        assert_eq!(other.api_keys, ["FILE-KEY", "ENV-NEXT-KEY"]);
        assert_eq!(other.secrets, ["ENV-SECRET", "NEXT-SECRET"]);
        // The inline form still works next to them.
        assert_eq!(config.sources[0].secrets, ["s"]);
    }

    #[test]
    fn bad_credentials_name_the_source_and_field_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let with = |lines: &str| FILE.replace("api_key = \"k2\"\nsecret = \"s2\"", lines);
        let cases = [
            (with("api_key = \"k2\""), "missing secret"),
            (with("secret = \"s2\""), "missing api_key"),
            (
                with("api_key = \"k2\"\nsecret = \"s2\"\nsecret_file = \"empty\""),
                "only one of secret, secret_file and secret_env",
            ),
            (
                with("api_key = \"k2\"\nsecret_file = \"missing\""),
                "cannot read secret_file",
            ),
            (
                with("api_key = \"k2\"\nsecret_file = \"empty\""),
                "secret_file",
            ),
            (
                with("api_key = \"k2\"\nsecret_env = \"UNSET\""),
                "which is not set",
            ),
            (
                with("api_key = \"k2\"\nsecret_env = \"EMPTY\""),
                "which is empty",
            ),
            (with("api_key = \"\"\nsecret = \"s2\""), "api_key is empty"),
            (
                with("api_key = \"k2\"\nsecret = \"s2\"\nnext_secret_env = \"UNSET\""),
                "next_secret_env names UNSET",
            ),
        ];
        for (text, expected) in cases {
            let err = Config::parse(&text, dir.path(), |name| {
                (name == "EMPTY").then(String::new)
            })
            .unwrap_err();
            assert!(err.starts_with("source \"other\": "), "{err}");
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("k2") && !err.contains("s2"), "{err}");
        }
    }

    #[test]
    fn webhooks_are_resolved_and_checked() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let hooks = format!(
            "{FILE}\n[webhook_delivery]\nfirst_retry_ms = 10\nmax_retry_ms = 100\n\
             attempt_timeout_ms = 200\nlease_ms = 1000\n\
             [[webhooks]]\nurl = \"http://127.0.0.1:9/a\"\nsecret = \"{secret}\"\n\
             events = [\"credits.*\"]\nsources = [\"media_bot\"]\n"
        );
        let config = parse(&hooks).unwrap();
        assert_eq!(config.webhooks.len(), 1);
        assert_eq!(config.webhook_delivery.first_retry_ms, 10);
        assert!(!format!("{config:?}").contains("MfKQ9r8"));
        let twice =
            format!("{hooks}[[webhooks]]\nurl = \"http://127.0.0.1:9/a\"\nsecret = \"{secret}\"\n");
        assert!(parse(&twice).unwrap_err().contains("configured twice"));
        let bad = hooks.replace(secret, "whsec_!!");
        let err = parse(&bad).unwrap_err();
        assert!(
            err.contains("webhook \"http://127.0.0.1:9/a\": secret 1"),
            "{err}"
        );
        let unknown = hooks.replace("first_retry_ms", "first_retry");
        assert!(parse(&unknown).unwrap_err().contains("unknown field"));
    }

    #[test]
    fn only_fixed_settings_need_a_restart() {
        let config = parse(FILE).unwrap();
        let mut other = parse(&FILE.replace("\"s2\"", "\"s3\"")).unwrap();
        assert!(config.restart_settings_changed(&other).is_empty());
        other.listen = "127.0.0.1:1".into();
        other.max_amount = 5;
        assert_eq!(
            config.restart_settings_changed(&other),
            ["listen", "max_amount"]
        );
    }

    #[test]
    fn the_console_section_is_checked_without_echoing_a_hash() {
        let hash = "$argon2id$v=19$m=65536,t=3,p=4$R9dhK9t8FTKvJwbwubD8oQ$rTG8MOzj4783fpssF9vn8WwY7SdOfF/5t6jt+MBWYG8";
        let with = |section: &str| format!("{FILE}\n{section}");
        let good = with(&format!(
            "[console]\nenabled = true\n[[console.operators]]\nname = \"ops\"\npassword_hash = \"{hash}\"\nrole = \"operator\"\n"
        ));
        let config = parse(&good).unwrap();
        assert!(config.console.enabled);
        assert_eq!(config.console.operators[0].role, Role::Operator);
        assert!(!format!("{config:?}").contains("R9dhK9"));
        assert!(
            !parse(FILE).unwrap().console.enabled,
            "off unless configured"
        );
        let cases = [
            ("[console]\nenabled = true\n".to_string(), "at least one"),
            (
                format!("[[console.operators]]\nname = \"ops\"\npassword_hash = \"{hash}x!\"\nrole = \"viewer\"\n"),
                "not an argon2 PHC string",
            ),
            (
                format!("[[console.operators]]\nname = \"o p\"\npassword_hash = \"{hash}\"\nrole = \"viewer\"\n"),
                "a name is",
            ),
            (
                format!("[[console.operators]]\nname = \"ops\"\npassword_hash = \"{hash}\"\nrole = \"root\"\n"),
                "unknown variant",
            ),
        ];
        for (section, expected) in cases {
            let err = parse(&with(&section)).unwrap_err();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("R9dhK9"), "{err}");
        }
    }
}
