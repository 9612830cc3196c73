//! `[[webhooks]]` and `[webhook_delivery]` as the config file writes them, resolved and
//! checked into [`Endpoint`]s (secrets parsed by core's `webhook::Secret`, filters
//! compiled) so a bad entry fails at start-up or at a SIGHUP reload, never mid-delivery.

use super::filter::Filter;
use super::schedule::Schedule;
use credit_sync::webhook::Secret;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A `[[webhooks]]` entry as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEntry {
    url: String,
    /// One `whsec_` secret (`secret`), several during a rotation (`secrets`), or one in
    /// a file or an environment variable.
    secret: Option<String>,
    secrets: Option<Vec<String>>,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
    /// Event types, `*` matching any run of characters (`credits.*`); default all.
    events: Option<Vec<String>>,
    /// Source names; default all.
    sources: Option<Vec<String>>,
    /// This endpoint's attempt timeout, in milliseconds (default: `[webhook_delivery]`'s).
    timeout_ms: Option<u64>,
}

impl fmt::Debug for WebhookEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEntry")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// One endpoint, ready to deliver to.
#[derive(Clone)]
pub struct Endpoint {
    /// The endpoint's identity in the database (its state, its failed deliveries).
    pub url: String,
    /// Every current secret: each attempt carries one signature per secret.
    pub secrets: Vec<Secret>,
    pub filter: Filter,
    /// The attempt timeout when the entry sets one.
    pub timeout: Option<Duration>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("filter", &self.filter)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PartialEq for Endpoint {
    /// Secrets compare by what they sign, so a reload that changes nothing is no change.
    fn eq(&self, other: &Self) -> bool {
        let sign = |e: &Endpoint| credit_sync::webhook::sign(&e.secrets, "x", 0, b"");
        self.url == other.url
            && self.filter == other.filter
            && self.timeout == other.timeout
            && sign(self) == sign(other)
    }
}

impl Endpoint {
    /// The URL as logs, metrics and pages show it: without credentials or query, which
    /// may carry a token.
    pub fn label(&self) -> String {
        label(&self.url)
    }
}

/// `url` without `user:password@` and without its query.
pub fn label(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// `[webhook_delivery]`: the retry schedule and the worker's pace, for every endpoint.
/// The defaults are production's; tests shrink them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// The first retry's longest delay (full jitter: a random delay up to it).
    pub first_retry_ms: u64,
    /// The longest delay between two attempts.
    pub max_retry_ms: u64,
    /// An event still failing this long after its first failed attempt is given up.
    pub give_up_after_ms: u64,
    /// Or after this many attempts (0: no limit but the time).
    pub max_attempts: u32,
    /// Each attempt's timeout, connection included.
    pub attempt_timeout_ms: u64,
    /// How often an idle worker looks for work nobody told it about (a replay, an
    /// endpoint another process gave up).
    pub poll_ms: u64,
    /// How long a process's claim on an endpoint lasts without renewal (PostgreSQL).
    pub lease_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let schedule = Schedule::default();
        DeliveryConfig {
            first_retry_ms: schedule.first_retry.as_millis() as u64,
            max_retry_ms: schedule.max_retry.as_millis() as u64,
            give_up_after_ms: schedule.give_up_after.as_millis() as u64,
            max_attempts: schedule.max_attempts,
            attempt_timeout_ms: 10_000,
            poll_ms: 5_000,
            lease_ms: 30_000,
        }
    }
}

impl DeliveryConfig {
    pub fn schedule(&self) -> Schedule {
        Schedule {
            first_retry: Duration::from_millis(self.first_retry_ms),
            max_retry: Duration::from_millis(self.max_retry_ms),
            give_up_after: Duration::from_millis(self.give_up_after_ms),
            max_attempts: self.max_attempts,
        }
    }

    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("first_retry_ms", self.first_retry_ms),
            ("max_retry_ms", self.max_retry_ms),
            ("attempt_timeout_ms", self.attempt_timeout_ms),
            ("poll_ms", self.poll_ms),
            ("lease_ms", self.lease_ms),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("webhook_delivery.{name} must be > 0"));
            }
        }
        if self.max_retry_ms < self.first_retry_ms {
            return Err("webhook_delivery.max_retry_ms must be >= first_retry_ms".into());
        }
        // A claim must outlive an attempt, or a slow attempt would let another process
        // deliver the same event at the same time.
        if self.lease_ms < 3 * self.attempt_timeout_ms {
            return Err("webhook_delivery.lease_ms must be at least 3 × attempt_timeout_ms".into());
        }
        Ok(())
    }
}

impl WebhookEntry {
    /// The endpoint this entry stands for. Errors name the URL (without its credentials)
    /// and the field, never a secret.
    pub fn resolve(
        &self,
        base: &Path,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<Endpoint, String> {
        let name = label(&self.url);
        let at = |message: String| format!("webhook {name:?}: {message}");
        let scheme_ok = self.url.starts_with("http://") || self.url.starts_with("https://");
        if !scheme_ok || self.url.contains(char::is_whitespace) || name.ends_with("://") {
            return Err(at("url must be an http:// or https:// URL".into()));
        }
        let texts = self.secret_texts(base, var).map_err(at)?;
        let secrets = texts
            .iter()
            .enumerate()
            .map(|(i, text)| Secret::parse(text).map_err(|e| at(format!("secret {}: {e}", i + 1))))
            .collect::<Result<Vec<_>, _>>()?;
        let filter = Filter::new(self.events.as_deref(), self.sources.as_deref()).map_err(at)?;
        if self.timeout_ms == Some(0) {
            return Err(at("timeout_ms must be > 0".into()));
        }
        Ok(Endpoint {
            url: self.url.clone(),
            secrets,
            filter,
            timeout: self.timeout_ms.map(Duration::from_millis),
        })
    }

    /// The secrets' texts from the one form the entry uses.
    fn secret_texts(
        &self,
        base: &Path,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, String> {
        let given = self.secret.is_some() as u8
            + self.secrets.is_some() as u8
            + self.secret_file.is_some() as u8
            + self.secret_env.is_some() as u8;
        if given != 1 {
            return Err("set exactly one of secret, secrets, secret_file and secret_env".into());
        }
        let texts = if let Some(secret) = &self.secret {
            vec![secret.clone()]
        } else if let Some(secrets) = &self.secrets {
            secrets.clone()
        } else if let Some(path) = &self.secret_file {
            let path = base.join(path);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read secret_file {}: {e}", path.display()))?;
            // One secret per line: a rotation adds a line.
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        } else {
            let name = self.secret_env.as_deref().unwrap_or_default();
            let value =
                var(name).ok_or_else(|| format!("secret_env names {name}, which is not set"))?;
            value.split_whitespace().map(String::from).collect()
        };
        if texts.is_empty() {
            return Err("no secret given".into());
        }
        Ok(texts)
    }
}

/// Resolves every entry and checks that no URL is configured twice.
pub fn resolve_all(
    entries: &[WebhookEntry],
    delivery: &DeliveryConfig,
    base: &Path,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<Endpoint>, String> {
    delivery.check()?;
    let endpoints = entries
        .iter()
        .map(|entry| entry.resolve(base, var))
        .collect::<Result<Vec<_>, _>>()?;
    let mut urls = HashSet::new();
    for endpoint in &endpoints {
        if !urls.insert(endpoint.url.as_str()) {
            return Err(format!(
                "webhook {:?} is configured twice",
                endpoint.label()
            ));
        }
    }
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn entry(toml_text: &str) -> Result<Endpoint, String> {
        let entry: WebhookEntry = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        entry.resolve(Path::new("/nonexistent"), &|name| {
            (name == "HOOK_SECRET").then(|| format!("{SECRET} {SECRET}"))
        })
    }

    #[test]
    fn resolves_secrets_in_every_form() {
        let one = entry(&format!("url = \"http://h/x\"\nsecret = \"{SECRET}\"")).unwrap();
        assert_eq!(one.secrets.len(), 1);
        let two = entry(&format!(
            "url = \"https://h/x\"\nsecrets = [\"{SECRET}\", \"{SECRET}\"]\ntimeout_ms = 50"
        ))
        .unwrap();
        assert_eq!(two.secrets.len(), 2);
        assert_eq!(two.timeout, Some(Duration::from_millis(50)));
        let env = entry("url = \"http://h/x\"\nsecret_env = \"HOOK_SECRET\"").unwrap();
        assert_eq!(env.secrets.len(), 2);
    }

    #[test]
    fn errors_name_the_endpoint_never_the_secret() {
        let cases = [
            ("url = \"ftp://h/x\"\nsecret = \"whsec_AAAA\"", "http:// or https://"),
            ("url = \"http://h/x\"", "exactly one of secret"),
            ("url = \"http://h/x\"\nsecret = \"SECRETVALUE\"", "secret 1: the webhook secret must be"),
            (
                "url = \"http://u:pw@h/x?token=T\"\nsecret = \"whsec_AAAA\"\nevents = [\"credit.added\"]",
                "matches no event type",
            ),
            ("url = \"http://h/x\"\nsecret_env = \"UNSET\"", "which is not set"),
        ];
        for (text, expected) in cases {
            let err = entry(text).unwrap_err();
            assert!(err.contains(expected), "{err}");
            assert!(
                !err.contains("SECRETVALUE") && !err.contains("pw") && !err.contains("T\""),
                "{err}"
            );
        }
    }

    #[test]
    fn labels_drop_credentials_and_queries() {
        assert_eq!(label("https://u:p@h:8/a/b?k=v"), "https://h:8/a/b");
        assert_eq!(label("http://h"), "http://h");
    }

    #[test]
    fn the_schedule_is_checked() {
        let mut delivery = DeliveryConfig::default();
        assert_eq!(delivery.check(), Ok(()));
        delivery.lease_ms = delivery.attempt_timeout_ms;
        assert!(delivery.check().unwrap_err().contains("lease_ms"));
    }
}
