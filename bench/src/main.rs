//! `credit-sync-bench`: a load generator for the Credit Sync API server.
//!
//! It signs real requests (the core's v1 token and v2 signature), drives the
//! server with N concurrent keep-alive connections for a fixed time, and prints
//! throughput, p50, p99 and the error count for each workload mix.

mod mix;
mod stats;
mod target;

use clap::Parser;
use mix::{Mix, Signer};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Server to drive. When omitted, the bench starts `--server-bin` itself on a
    /// free loopback port with a fresh SQLite database in a temp dir.
    #[arg(long)]
    base_url: Option<String>,
    /// Server binary to start when no `--base-url` is given.
    #[arg(long, default_value = "target/release/credit-sync-server")]
    server_bin: String,
    /// Database URL for the started server (default: SQLite in a temp dir).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value = "bench-api-key")]
    api_key: String,
    #[arg(long, default_value = "bench-secret")]
    secret: String,
    #[arg(long, default_value = "bench")]
    source: String,
    /// Workload mixes to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "adds,hot-deducts,batch,reads"
    )]
    mix: Vec<Mix>,
    /// Concurrent keep-alive connections (one request in flight each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds each mix runs.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Distinct users for the adds and reads mixes.
    #[arg(long, default_value_t = 10_000)]
    users: i64,
    /// Items per request in the batch mix.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Run this mix in the background while each measured mix runs (e.g. `--mix reads
    /// --under adds` measures reads while writes load the server); reported on its own line.
    #[arg(long, value_enum)]
    under: Option<Mix>,
    /// Concurrent connections of the `--under` background mix.
    #[arg(long, default_value_t = 32)]
    under_concurrency: usize,
    /// Print one JSON object per mix instead of text.
    #[arg(long)]
    json: bool,
}

type Workers = Vec<tokio::task::JoinHandle<stats::Sample>>;

/// Starts `plan.concurrency` workers that send back to back until `deadline`.
fn start(
    plan: &mix::Plan,
    http: &reqwest::Client,
    signer: &Signer,
    deadline: Instant,
    first_worker: usize,
) -> Workers {
    (0..plan.concurrency)
        .map(|i| {
            let (http, signer, plan) = (http.clone(), signer.clone(), plan.clone());
            tokio::spawn(
                async move { plan.drive(first_worker + i, &http, &signer, deadline).await },
            )
        })
        .collect()
}

async fn collect(workers: Workers) -> Result<stats::Sample, tokio::task::JoinError> {
    let mut total = stats::Sample::default();
    for worker in workers {
        total.merge(worker.await?);
    }
    Ok(total)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let server = match &args.base_url {
        Some(url) => target::Target::remote(url.clone()),
        None => target::Target::spawn(
            &args.server_bin,
            args.database.as_deref(),
            &args.api_key,
            &args.secret,
            &args.source,
        )?,
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let signer = Signer {
        base_url: server.base_url().to_string(),
        api_key: args.api_key.clone(),
        secret: args.secret.clone(),
        source: args.source.clone(),
    };
    println!(
        "credit-sync-bench: {} concurrency={} duration={}s users={} batch_size={} ({} cores)",
        server.base_url(),
        args.concurrency,
        args.duration,
        args.users,
        args.batch_size,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    for mix in &args.mix {
        let plan = mix::Plan {
            mix: *mix,
            users: args.users,
            batch_size: args.batch_size,
            concurrency: args.concurrency,
        };
        plan.prepare(&http, &signer).await?;
        let background = match args.under {
            Some(under) => {
                let plan = mix::Plan {
                    mix: under,
                    concurrency: args.under_concurrency,
                    ..plan.clone()
                };
                plan.prepare(&http, &signer).await?;
                Some(plan)
            }
            None => None,
        };
        let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
        let started = Instant::now();
        let workers = start(&plan, &http, &signer, deadline, 0);
        let background = background.map(|under| {
            (
                under.mix,
                start(&under, &http, &signer, deadline, args.concurrency),
            )
        });
        let report = collect(workers).await?.report(*mix, started.elapsed());
        print(&report, args.json, "");
        if let Some((under, workers)) = background {
            let report = collect(workers).await?.report(under, started.elapsed());
            print(&report, args.json, "  (background)");
        }
    }
    drop(server);
    Ok(())
}

fn print(report: &stats::Report, json: bool, note: &str) {
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{report}{note}");
    }
}
