//! `credit-sync-server`: the Credit Sync API and its admin commands (the library runs
//! them; this binary parses the command line and reports).

use clap::Parser;
use credit_sync_server::cli::{
    self, Cli, Command, OperatorsCommand, UsersCommand, WebhooksCommand,
};
use credit_sync_server::config::Config;
use credit_sync_server::{admin, ledger, server, webhooks};
use std::io::IsTerminal;
use std::process::ExitCode;

/// The server frees on its SQLite writer thread what request tasks allocated (every
/// queued write), which glibc's per-thread arenas pay for in locks and consolidation;
/// mimalloc frees cross-thread cheaply (docs/benchmarks.md, issue 16).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("credit-sync-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("credit-sync-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { config } => {
            server::run(Config::load(&config)?, Some(config.as_path()), None).await
        }
        Command::Demo { listen, database } => {
            let mut config = Config::demo(listen, database.unwrap_or_else(cli::demo_database));
            let console = cli::demo_console(&mut config)?;
            let banner = demo_banner(&config) + &console;
            server::run(config, None, Some(banner)).await
        }
        Command::Users {
            command:
                UsersCommand::Add {
                    telegram_id,
                    nickname,
                    db,
                },
        } => admin::add_user(&db.url()?, telegram_id, nickname.as_deref()).await,
        Command::Balance { telegram_id, db } => admin::balance(&db.url()?, telegram_id).await,
        Command::Records {
            telegram_id,
            limit,
            db,
        } => admin::records(&db.url()?, telegram_id, limit).await,
        Command::Verify { db } => admin::verify(&db.url()?).await,
        Command::Operators {
            command: OperatorsCommand::HashPassword,
        } => {
            println!("{}", cli::hash_password(&mut std::io::stdin().lock())?);
            Ok(())
        }
        Command::Webhooks {
            command: WebhooksCommand::List { config },
        } => {
            let config = Config::load(&config)?;
            webhooks::admin::list(&config.database, &config.webhooks).await
        }
        Command::Webhooks {
            command:
                WebhooksCommand::Replay {
                    config,
                    endpoint,
                    from,
                },
        } => {
            let config = Config::load(&config)?;
            webhooks::admin::replay(&config.database, &config.webhooks, &endpoint, from).await
        }
    }
}

/// The demo's credentials, printed for the quick-start guide (they are public demo values).
fn demo_banner(config: &Config) -> String {
    let mut banner = format!("database: {}\n", ledger::redact(&config.database));
    for source in &config.sources {
        let permissions: Vec<String> = source.permissions.iter().map(|p| p.to_string()).collect();
        banner.push_str(&format!(
            "source {}: api_key={} secret={} permissions={}\n",
            source.name,
            source.api_keys.join(","),
            source.secrets.join(","),
            permissions.join(",")
        ));
    }
    banner
}
