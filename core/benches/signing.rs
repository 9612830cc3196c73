//! How much signing costs per request: the v1 body token, the v2 header (which
//! hashes the body) and a whole signed sync body as the client builds it per attempt.

use credit_sync::protocol::SyncRequest;
use credit_sync::signature;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SECRET: &str = "your-secret-key-here";
const T: i64 = 1_700_000_000;

fn v1(c: &mut Criterion) {
    c.bench_function("v1_token", |b| {
        b.iter(|| {
            signature::v1_token(
                black_box(SECRET),
                black_box(123_456_789),
                black_box(100),
                "media_bot",
                black_box(T),
            )
        })
    });
}

fn v2(c: &mut Criterion) {
    let mut group = c.benchmark_group("v2_header");
    for size in [0usize, 128, 4 * 1024, 64 * 1024] {
        let body = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| {
                signature::v2_header(
                    black_box(SECRET),
                    black_box(T),
                    "POST",
                    "/api/credits/sync",
                    black_box(body),
                )
            })
        });
    }
    group.finish();
}

fn verify(c: &mut Criterion) {
    let header = signature::parse_v2_header(&signature::v2_header(SECRET, T, "GET", "/x", b""))
        .expect("valid header");
    c.bench_function("verify_v2", |b| {
        b.iter(|| signature::verify_v2(SECRET, black_box(&header), "GET", "/x", b""))
    });
}

fn signed_sync_body(c: &mut Criterion) {
    c.bench_function("signed_sync_request", |b| {
        b.iter(|| {
            let ts = black_box(T);
            let body = serde_json::to_vec(&SyncRequest {
                telegram_id: 123_456_789,
                amount: 100,
                source: "media_bot".into(),
                reason: "watched a video".into(),
                timestamp: Some(ts),
                token: Some(signature::v1_token(
                    SECRET,
                    123_456_789,
                    100,
                    "media_bot",
                    ts,
                )),
                external_reference: Some("video_12345".into()),
            })
            .expect("serializes");
            signature::v2_header(SECRET, ts, "POST", "/api/credits/sync", &body)
        })
    });
}

criterion_group!(benches, v1, v2, verify, signed_sync_body);
criterion_main!(benches);
