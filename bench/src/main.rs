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
    /// Print one JSON object per mix instead of text.
    #[arg(long)]
    json: bool,
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
        let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(args.concurrency);
        for worker in 0..args.concurrency {
            let (http, signer, plan) = (http.clone(), signer.clone(), plan.clone());
            tasks.push(tokio::spawn(async move {
                plan.drive(worker, &http, &signer, deadline).await
            }));
        }
        let mut total = stats::Sample::default();
        for task in tasks {
            total.merge(task.await?);
        }
        let report = total.report(*mix, started.elapsed());
        if args.json {
            println!("{}", report.to_json());
        } else {
            println!("{report}");
        }
    }
    drop(server);
    Ok(())
}
