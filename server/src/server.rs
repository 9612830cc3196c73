//! Running the API: open the ledger, bind, announce the address on stdout (the contract
//! every test suite reads), serve until SIGTERM/SIGINT, then drain and close the database.

use crate::config::Config;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::routes::{self, App};
use crate::store;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io::Write;
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

/// Serves `config` until a shutdown signal. `banner` is printed after the listening line.
pub async fn run(config: Config, banner: Option<String>) -> Result<(), String> {
    let ledger = Ledger::open(&config.database).await?;
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
        ledger: ledger.clone(),
        metrics: Arc::new(Metrics::default()),
    };
    serve(listener, routes::router(app)).await;
    ledger.close().await;
    tracing::info!("credit-sync-server stopped");
    Ok(())
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
