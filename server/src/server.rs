//! Running the API: open the ledger, bind, announce the address on stdout (the contract
//! every test suite reads), serve until SIGTERM/SIGINT, then drain and close the database.

use crate::config::Config;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::routes::{self, App};
use crate::store::{self, Store};
use std::io::Write;
use std::sync::Arc;

/// Serves `config` until a shutdown signal. `banner` is printed after the listening line.
pub async fn run(config: Config, banner: Option<String>) -> Result<(), String> {
    let store = Store::open(&config.database).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    tracing::info!(
        %addr,
        database = %store::redact(&config.database),
        sources = config.sources.len(),
        "credit-sync-server started"
    );
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "credit-sync-server listening on http://{addr}");
        if let Some(banner) = banner {
            let _ = write!(stdout, "{banner}");
        }
        let _ = stdout.flush();
    }
    let app = App {
        limits: RateLimits::new(&config.sources),
        config,
        ledger: Ledger::new(store.clone()),
        metrics: Arc::new(Metrics::default()),
    };
    axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    store.close().await;
    tracing::info!("credit-sync-server stopped");
    Ok(())
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
