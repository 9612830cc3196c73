//! Running the API: open the ledger, bind, announce the address on stdout (the contract
//! every test suite reads), serve until SIGTERM/SIGINT, then drain and close the database.
//! SIGHUP reloads the sources and webhooks from the config file without touching
//! connections.

use crate::config::Config;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::routes::{self, App, Current};
use crate::webhooks::Webhooks;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A client must send its request line and headers within this time (slow-loris guard);
/// it also closes keep-alive connections idle for that long.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger request heads are refused (431).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `config` until a shutdown signal. `config_file` is where a SIGHUP reloads the
/// sources from (`None` for `demo`). `banner` is printed after the listening line.
pub async fn run(
    config: Config,
    config_file: Option<&Path>,
    banner: Option<String>,
) -> Result<(), String> {
    let ledger = Ledger::serve(&config.database).await?;
    ledger
        .events()
        .set_retention_days(config.event_retention_days);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    tracing::info!(
        %addr,
        database = %crate::ledger::redact(&config.database),
        sources = config.sources.len(),
        "credit-sync-server started"
    );
    let webhooks = Webhooks::start(&ledger, &config.webhooks, &config.webhook_delivery).await?;
    let metrics = Arc::new(Metrics::default());
    metrics.attach_webhooks(webhooks.stats());
    let current = Current::new(App {
        limits: RateLimits::new(&config.sources),
        config,
        ledger: ledger.clone(),
        metrics,
    });
    // Installed before the listening line, so a SIGHUP sent as soon as the server is up
    // reloads it instead of killing it (the signal's default action).
    reload_on_hangup(
        current.clone(),
        webhooks.clone(),
        config_file.map(Path::to_path_buf),
    )?;
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "credit-sync-server listening on http://{addr}");
        if let Some(banner) = banner {
            let _ = write!(stdout, "{banner}");
        }
        let _ = stdout.flush();
    }
    serve(listener, routes::router(current)).await;
    webhooks.stop().await;
    ledger.close().await;
    tracing::info!("credit-sync-server stopped");
    Ok(())
}

/// Reloads the sources on every SIGHUP, one reload at a time, for the process's life.
#[cfg(unix)]
fn reload_on_hangup(
    current: Current,
    webhooks: Webhooks,
    config_file: Option<PathBuf>,
) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup())
        .map_err(|e| format!("cannot install the SIGHUP handler: {e}"))?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match &config_file {
                Some(path) => reload(&current, &webhooks, path).await,
                None => tracing::warn!("SIGHUP: the demo has no config file to reload"),
            }
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn reload_on_hangup(_: Current, _: Webhooks, _: Option<PathBuf>) -> Result<(), String> {
    Ok(())
}

/// Reads `path` again and puts its sources (keys, secrets, permissions, limits) and its
/// webhooks (endpoints, secrets, filters) in force. A file that does not load is refused,
/// and what is in force stays; the error never quotes the file or a credential. The other
/// settings wait for a restart.
async fn reload(current: &Current, webhooks: &Webhooks, path: &Path) {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "SIGHUP: reload refused; the sources in force are unchanged");
            return;
        }
    };
    let old = current.get();
    let changed = old.config.restart_settings_changed(&config);
    if !changed.is_empty() {
        tracing::warn!(
            settings = %changed.join(", "),
            "SIGHUP: these settings changed in the file and take effect only at a restart"
        );
    }
    let names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    if let Err(error) = webhooks.reconfigure(&config.webhooks).await {
        tracing::error!(%error, "SIGHUP: reload refused; the sources and webhooks in force are unchanged");
        return;
    }
    let hooks = config.webhooks.len();
    let mut next = old.config.clone();
    next.sources = config.sources;
    next.webhooks = config.webhooks;
    current.replace(App {
        limits: old.limits.carry_over(&next.sources),
        config: next,
        ledger: old.ledger.clone(),
        metrics: old.metrics.clone(),
    });
    tracing::info!(sources = %names.join(", "), webhooks = hooks, "SIGHUP: sources reloaded (and webhooks)");
}

/// Accepts HTTP/1.1 connections until a shutdown signal, then drains them. Served with
/// hyper directly (rather than `axum::serve`) to bound how long and how large a request
/// head may be.
async fn serve(listener: TcpListener, router: Router) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_header_size(MAX_HEADER_BYTES);
        let connection = builder.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("in-flight requests did not finish in {DRAIN_TIMEOUT:?}; stopping anyway");
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
