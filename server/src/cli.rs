//! The command line: `serve`, `demo`, and admin commands that work directly on the database.

use crate::config::{Config, DEFAULT_LISTEN};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "credit-sync-server",
    version,
    about = "The Credit Sync API server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API with a TOML config file (CREDIT_SYNC_* variables override it).
    Serve {
        #[arg(long, short, env = "CREDIT_SYNC_CONFIG")]
        config: PathBuf,
    },
    /// Serve the API on embedded SQLite with the quick-start guide's credentials.
    Demo {
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Defaults to credit-sync-demo.db in the system temp dir.
        #[arg(long)]
        database: Option<String>,
    },
    /// Manage users directly in the database.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Print a user's balance.
    Balance {
        telegram_id: i64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print a user's records, newest first.
    Records {
        telegram_id: i64,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Check that every balance equals the sum of its records and every balance_after chain
    /// is consistent; exits non-zero otherwise.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Tools for the operator console's `[[console.operators]]`.
    Operators {
        #[command(subcommand)]
        command: OperatorsCommand,
    },
    /// The `[[webhooks]]` deliveries: their state, and replays.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Print each configured endpoint's cursor, backlog, last error and failed deliveries
    /// (JSON).
    List {
        /// The server's config file (its `[[webhooks]]` and `database`).
        #[arg(long, short, env = "CREDIT_SYNC_CONFIG")]
        config: PathBuf,
    },
    /// Deliver an endpoint's events again, from a seq on (the running server picks it up).
    Replay {
        #[arg(long, short, env = "CREDIT_SYNC_CONFIG")]
        config: PathBuf,
        /// The endpoint's url as configured.
        #[arg(long)]
        endpoint: String,
        /// The first seq to deliver again.
        #[arg(long)]
        from: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorsCommand {
    /// Read a password on stdin (its first line) and print its argon2id PHC string, for an
    /// operator's `password_hash`.
    HashPassword,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Register a user (or update the nickname of a known one).
    Add {
        telegram_id: i64,
        #[arg(long)]
        nickname: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Which database an admin command works on.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL, e.g. sqlite:///var/lib/credit-sync/credit-sync.db.
    #[arg(long, env = "CREDIT_SYNC_DATABASE_URL", conflicts_with = "config")]
    pub database: Option<String>,
    /// Take the database from this config file instead.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl DbArgs {
    pub fn url(&self) -> Result<String, String> {
        match (&self.database, &self.config) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(path)) => Ok(Config::load(path)?.database),
            (None, None) => Ok(Config::default().database),
        }
    }
}

/// `credit-sync-demo.db` in the system temp dir.
pub fn demo_database() -> String {
    let path = std::env::temp_dir().join("credit-sync-demo.db");
    format!("sqlite://{}", path.display())
}

/// `operators hash-password`: the first line of `input` (without its line ending) as an
/// argon2id PHC string. An empty password is refused.
pub fn hash_password(input: &mut impl std::io::BufRead) -> Result<String, String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err("the password on stdin is empty".into());
    }
    crate::console::password::hash(password)
}

/// Turns the demo's console on with one operator, `demo`, whose random password is good
/// for this run only; returns the banner line that prints it.
pub fn demo_console(config: &mut Config) -> Result<String, String> {
    let bytes: [u8; 12] = rand::random();
    let password = hex::encode(bytes);
    config.console = crate::config::ConsoleConfig {
        enabled: true,
        public_url: None,
        operators: vec![crate::config::OperatorConfig {
            name: "demo".into(),
            password_hash: crate::console::password::hash(&password)?,
            role: crate::config::Role::Operator,
        }],
    };
    Ok(format!(
        "console: /console/login on the address above, user=demo password={password} (this run only)\n"
    ))
}
