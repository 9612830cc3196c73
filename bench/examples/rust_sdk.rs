//! Rust SDK benchmark: the async `credit_sync::Client`'s `add_credits`, one call after the
//! other and from `--concurrency` tasks sharing one client.
//!
//! Each variant adds 1 credit to users spread over `--users`, runs for `--duration` seconds
//! or `--count` calls (whichever ends first) after `--warmup` calls, and prints calls/s,
//! p50, p99 and the failed calls. Without `--base-url` it starts its own release server on
//! a free loopback port with a temp SQLite database.
//!
//! ```text
//! cargo build --release -p credit-sync-server -p credit-sync-bench --examples
//! target/release/examples/rust_sdk --duration 10
//! ```

#[path = "../src/target.rs"]
mod target;

use clap::Parser;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const API_KEY: &str = "media-bot-api-key-2024";
const SECRET: &str = "your-secret-key-here";
const SOURCE: &str = "media_bot";

#[derive(Parser, Debug)]
#[command(about = "Rust SDK benchmark: add_credits sequential and concurrent")]
struct Args {
    /// Server to use (default: start `--server-bin` on a free port with a temp database).
    #[arg(long)]
    base_url: Option<String>,
    #[arg(long, default_value = "target/release/credit-sync-server")]
    server_bin: String,
    /// Seconds per variant.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Maximum calls per variant.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Untimed calls before each variant.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Tasks sharing the client in the concurrent variant.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 10_000)]
    users: i64,
    /// Print one JSON object per variant.
    #[arg(long)]
    json: bool,
}

struct Shared {
    client: credit_sync::Client,
    user: AtomicI64,
    users: i64,
    issued: AtomicUsize,
    count: usize,
}

impl Shared {
    async fn call(&self) -> bool {
        let user = 1 + self.user.fetch_add(1, Ordering::Relaxed) % self.users;
        matches!(self.client.add_credits(user, 1, "bench", None).await, Ok(r) if r.success)
    }

    /// One loop: calls back to back until the budget or the deadline runs out.
    async fn drive(&self, deadline: Instant) -> (Vec<Duration>, usize) {
        let (mut latencies, mut errors) = (Vec::new(), 0);
        while self.issued.fetch_add(1, Ordering::Relaxed) < self.count {
            let t0 = Instant::now();
            let ok = self.call().await;
            let t1 = Instant::now();
            latencies.push(t1 - t0);
            errors += usize::from(!ok);
            if t1 >= deadline {
                break;
            }
        }
        (latencies, errors)
    }
}

async fn measure(shared: &Arc<Shared>, name: &str, loops: usize, args: &Args) -> (f64, usize) {
    for _ in 0..args.warmup {
        shared.call().await;
    }
    shared.issued.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration);
    let tasks: Vec<_> = (0..loops)
        .map(|_| {
            let shared = shared.clone();
            tokio::spawn(async move { shared.drive(deadline).await })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await.expect("bench task");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1000.0
    };
    let rate = latencies.len() as f64 / elapsed;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"variant": name, "concurrency": loops, "calls": latencies.len(),
                "calls_per_sec": rate, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": errors})
        );
    } else {
        println!(
            "{name:<16} c={loops:<3} calls={:<7} {rate:>8.0} calls/s  p50={:.2}ms p99={:.2}ms errors={errors}",
            latencies.len(),
            pct(0.5),
            pct(0.99)
        );
    }
    (rate, errors)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let server = match &args.base_url {
        Some(url) => target::Target::remote(url.clone()),
        None => target::Target::spawn(&args.server_bin, None, API_KEY, SECRET, SOURCE)?,
    };
    let config = credit_sync::Config::builder()
        .base_url(server.base_url())
        .api_key(API_KEY)
        .secret_key(SECRET)
        .source(SOURCE)
        .build()?;
    let shared = Arc::new(Shared {
        client: credit_sync::Client::new(config)?,
        user: AtomicI64::new(0),
        users: args.users.max(1),
        issued: AtomicUsize::new(0),
        count: args.count,
    });
    println!(
        "rust_sdk: {} duration={}s count={} concurrency={}",
        server.base_url(),
        args.duration,
        args.count,
        args.concurrency
    );
    let (sequential, e1) = measure(&shared, "sdk", 1, &args).await;
    let (concurrent, e2) = measure(&shared, "sdk-concurrent", args.concurrency, &args).await;
    println!(
        "ratio sdk-concurrent / sdk = {:.2}x",
        concurrent / sequential.max(1e-9)
    );
    drop(server);
    if e1 + e2 > 0 {
        std::process::exit(1);
    }
    Ok(())
}
