//! Random JSON at every endpoint (proptest): whatever a client sends, the server
//! answers with a 4xx or a success, never a 5xx, never a dropped connection, never a
//! panic, and the ledger it keeps stays consistent (`credit-sync-server verify`).
//! Bodies are v2-signed with the right key, so they get past authentication and
//! reach the parsers.

use credit_sync::protocol::{headers, paths};
use credit_sync::signature;
use credit_sync_reliability::setup;
use credit_sync_testkit::{now, Sign, Wire};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

/// Cases per endpoint strategy.
const CASES: u32 = 400;

/// Names the parsers look for, so random objects often hit real fields.
const FIELDS: &[&str] = &[
    "telegram_id",
    "amount",
    "source",
    "reason",
    "timestamp",
    "token",
    "external_reference",
    "items",
    "atomic",
    "nickname",
];

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(1_000_000_000_001)
        ]
        .prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "[\\x00-\\x1f'\";%_\\\\]{0,10}".prop_map(Value::String),
        Just(json!("media_bot")),
        Just(json!("x".repeat(300))),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_scalar().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(FIELDS).prop_map(str::to_string),
                        ".{0,12}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid sync body with one field replaced, removed, or an extra one added.
fn arb_near_sync() -> impl Strategy<Value = Value> {
    (prop::sample::select(FIELDS), arb_json(), 0..3u8).prop_map(|(field, value, how)| {
        let mut body = json!({"telegram_id": 77, "amount": 5, "source": "media_bot",
                              "reason": "fuzz", "external_reference": "pt-1"});
        let obj = body.as_object_mut().unwrap();
        match how {
            0 => {
                obj.insert(field.to_string(), value);
            }
            1 => {
                obj.remove(field);
            }
            _ => {
                obj.insert(format!("{field}_extra"), value);
            }
        }
        body
    })
}

/// A valid batch with one item replaced by random JSON or one item field replaced.
fn arb_near_batch() -> impl Strategy<Value = Value> {
    (
        arb_json(),
        prop::sample::select(FIELDS),
        any::<bool>(),
        1..4usize,
    )
        .prop_map(|(value, field, whole, n)| {
            let mut items: Vec<Value> = (0..n)
                .map(|i| json!({"telegram_id": 78 + i as i64, "amount": 3, "reason": "b"}))
                .collect();
            if whole {
                items[0] = value;
            } else {
                items[0][field] = value;
            }
            json!({"source": "media_bot", "atomic": n % 2 == 0, "items": items})
        })
}

#[test]
fn random_json_never_gets_a_5xx() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    // `TestRunner::run` takes an `Fn`, hence the cells.
    let sent = Cell::new(0u32);
    let statuses = RefCell::new(BTreeMap::new());
    let runner = || {
        TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        })
    };
    let post = |path: &'static str, body: Vec<u8>, signed: bool| -> Result<(), TestCaseError> {
        sent.set(sent.get() + 1);
        let reply = rt.block_on(async {
            if signed {
                Ok(wire
                    .post_raw(path, body.clone(), "application/json", Sign::V2)
                    .await)
            } else {
                wire.send(
                    "POST",
                    path,
                    &[
                        (headers::API_KEY, &wire.api_key),
                        ("content-type", "application/json"),
                    ],
                    body.clone(),
                )
                .await
            }
        });
        let reply =
            reply.map_err(|e| TestCaseError::fail(format!("connection dropped on {path}: {e}")))?;
        *statuses.borrow_mut().entry(reply.status).or_insert(0u32) += 1;
        prop_assert!(
            reply.status < 500,
            "{path} answered {} to {}: {}",
            reply.status,
            String::from_utf8_lossy(&body),
            reply.text
        );
        prop_assert!(
            reply.body.get("code").is_some(),
            "{path}: no envelope: {}",
            reply.text
        );
        Ok(())
    };

    for (path, strategy) in [
        (paths::SYNC, arb_json().boxed()),
        (paths::SYNC, arb_near_sync().boxed()),
        (paths::BATCH, arb_json().boxed()),
        (paths::BATCH, arb_near_batch().boxed()),
        (paths::USERS, arb_json().boxed()),
    ] {
        runner()
            .run(&(strategy, any::<bool>()), |(body, signed)| {
                post(path, serde_json::to_vec(&body).unwrap(), signed)
            })
            .unwrap();
    }
    // Not JSON at all.
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            post(paths::SYNC, bytes, true)
        })
        .unwrap();

    // Random path segments and query strings on the reads.
    let get = |target: String| -> Result<(), TestCaseError> {
        sent.set(sent.get() + 1);
        let reply = rt
            .block_on(wire.send(
                "GET",
                &target,
                &[
                    (headers::API_KEY, &wire.api_key),
                    (
                        headers::SIGNATURE,
                        &signature::v2_header(&wire.secret, now(), "GET", &target, b""),
                    ),
                ],
                Vec::new(),
            ))
            .map_err(|e| TestCaseError::fail(format!("connection dropped on {target}: {e}")))?;
        *statuses.borrow_mut().entry(reply.status).or_insert(0u32) += 1;
        prop_assert!(
            reply.status < 500,
            "GET {target} answered {}: {}",
            reply.status,
            reply.text
        );
        Ok(())
    };
    let segment = "[A-Za-z0-9_.~%-]{0,24}";
    runner()
        .run(&(segment, segment, segment), |(id, limit, cursor)| {
            get(format!("{}/{id}", paths::BALANCE))?;
            get(format!(
                "{}/77?limit={limit}&cursor={cursor}",
                paths::RECORDS
            ))
        })
        .unwrap();

    let mut server = server;
    assert!(server.is_running(), "the server died under random input");
    let log = server.stderr_log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    server.stop();
    let out = server.run_cli(&["verify", "--config", "{config}"]);
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "random_json: {} random requests in {:.1?}, statuses {:?}",
        sent.get(),
        started.elapsed(),
        statuses.borrow()
    );
}
