//! A junk flood cannot grow the server's memory: 10,000 requests with random methods,
//! random paths and random API keys leave `/metrics` with exactly the series it had after
//! one request of each kind, because every label comes from a fixed set (known methods,
//! the protocol's route templates, codes, or `other`).

use credit_sync::protocol::{headers, paths};
use credit_sync_reliability::setup;
use credit_sync_testkit::{Server, Wire};
use rand::Rng;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const JUNK: usize = 10_000;
const WORKERS: usize = 16;
/// The whole flood must finish within this (a debug server on a loaded 2-core box).
const FLOOD_BOUND: Duration = Duration::from_secs(240);

/// The methods the flood uses: the standard ones, and random tokens (`None`).
const METHODS: [Option<&str>; 6] = [
    Some("GET"),
    Some("POST"),
    Some("PUT"),
    Some("DELETE"),
    Some("PATCH"),
    None,
];

/// The kinds of path the flood uses: each route (with a random id where it takes one) and
/// random junk (`None`).
const PATHS: [Option<&str>; 9] = [
    Some(paths::SYNC),
    Some(paths::BATCH),
    Some(paths::BALANCE),
    Some(paths::RECORDS),
    Some(paths::USERS),
    Some(paths::HEALTHZ),
    Some(paths::METRICS),
    Some(paths::OPENAPI),
    None,
];

fn token(rng: &mut impl Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// One request of the given kinds, with fresh random text in every free part.
fn request(
    client: &reqwest::Client,
    base: &str,
    rng: &mut impl Rng,
    method: Option<&str>,
    path: Option<&str>,
    keyed: bool,
) -> reqwest::RequestBuilder {
    let method = match method {
        Some(m) => reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
        // Prefixed so it never spells a standard method.
        None => reqwest::Method::from_bytes(format!("J{}", token(rng, 10)).as_bytes()).unwrap(),
    };
    let path = match path {
        Some(p) if p == paths::BALANCE || p == paths::RECORDS => {
            format!("{p}/{}", rng.random_range(1..1_000_000_000i64))
        }
        Some(p) => p.to_string(),
        None => format!(
            "/{}/{}?{}={}",
            token(rng, 12),
            token(rng, 6),
            token(rng, 4),
            token(rng, 8)
        ),
    };
    let mut builder = client.request(method, format!("{base}{path}"));
    if keyed {
        builder = builder.header(headers::API_KEY, token(rng, 24));
    }
    builder
}

/// Every series of the `/metrics` text: its name and labels, without the value.
async fn series(wire: &Wire) -> BTreeSet<String> {
    wire.metrics()
        .await
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            l.rsplit_once(' ')
                .map_or(l, |(series, _)| series)
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_junk_requests_add_no_metrics_series() {
    let server = Server::start(setup::config_with(vec![setup::media_bot()]));
    let base = server.base_url();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // One request of every kind: the series a flood of them may legitimately touch.
    let mut rng = setup::rng(0x6a75_6e6b);
    for method in METHODS {
        for path in PATHS {
            for keyed in [false, true] {
                request(&client, &base, &mut rng, method, path, keyed)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    let wire = Wire::new(&base, &setup::media_bot());
    let before = series(&wire).await;

    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut rng = setup::rng(0x1000 + w as u64);
                let mut statuses = BTreeSet::new();
                for _ in 0..JUNK / WORKERS {
                    let method = METHODS[rng.random_range(0..METHODS.len())];
                    let path = PATHS[rng.random_range(0..PATHS.len())];
                    let keyed = rng.random_bool(0.5);
                    let response = request(&client, &base, &mut rng, method, path, keyed)
                        .send()
                        .await
                        .expect("the server answers junk");
                    statuses.insert(response.status().as_u16());
                }
                statuses
            })
        })
        .collect();
    let mut statuses = BTreeSet::new();
    for worker in workers {
        statuses.extend(
            tokio::time::timeout(FLOOD_BOUND, worker)
                .await
                .expect("the flood finished in time")
                .unwrap(),
        );
    }
    let elapsed = started.elapsed();
    let after = series(&wire).await;
    let added: Vec<_> = after.difference(&before).take(5).collect();
    assert!(
        added.is_empty(),
        "{} junk requests added {} series, e.g. {added:?}",
        JUNK,
        after.len() - before.len()
    );
    assert_eq!(after.len(), before.len());
    // The series carry only fixed labels, never the client's text.
    for line in &after {
        assert!(!line.contains("method=\"J"), "{line}");
    }
    eprintln!(
        "junk flood: {JUNK} requests in {elapsed:.1?}, statuses {statuses:?}, {} series before and after",
        after.len()
    );
}
