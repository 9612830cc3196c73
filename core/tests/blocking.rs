//! The blocking client against the real server: every method and error variant,
//! retries through the fault proxy, many threads at once, and the clear refusal
//! inside an async runtime.

mod support;

use credit_sync::blocking::Client;
use credit_sync::protocol::Code;
use credit_sync::{BatchEntry, Error};
use std::time::Duration;
use support::{error_body, user, Fault, Server};

fn client_at(server: &Server, base_url: &str, max_retries: u32) -> Client {
    Client::new(server.retrying_config(base_url, max_retries)).unwrap()
}

fn records(client: &Client, telegram_id: i64) -> usize {
    client
        .records_iter(telegram_id, 200)
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .len()
}

#[test]
fn every_method() {
    let server = Server::start();
    let client = server.blocking_client();
    let u = user();

    let d = client.register_user(u, Some("bob")).unwrap();
    assert!(d.created);
    let r = client
        .add_credits(u, 100, "观看视频奖励", Some("video_1"))
        .unwrap();
    assert_eq!((r.balance, r.duplicate), (Some(100), false));
    let r = client
        .add_credits(u, 100, "观看视频奖励", Some("video_1"))
        .unwrap();
    assert!(r.duplicate);
    let r = client.deduct_credits(u, 40, "VIP", None).unwrap();
    assert_eq!((r.change, r.balance), (-40, Some(60)));
    assert!(r.reference.unwrap().starts_with("auto-"));
    let r = client.sync(u, -10, "signed", None).unwrap();
    assert_eq!(r.balance, Some(50));

    let other = user();
    let batch = client
        .batch_sync(
            vec![
                BatchEntry::new(u, 5, "1st"),
                BatchEntry::new(other, 7, "2nd").reference("camp_b_2"),
            ],
            false,
        )
        .unwrap();
    assert!(batch.success);
    assert_eq!((batch.succeeded, batch.failed), (2, 0));

    let b = client.get_balance(u).unwrap().unwrap();
    assert_eq!((b.credits, b.nickname.as_deref()), (55, Some("bob")));
    assert_eq!(client.get_balance(user()).unwrap(), None);

    let page = client.get_records(u, Some(2), None).unwrap();
    assert_eq!(page.records.len(), 2);
    assert_eq!(page.records[0].change, 5);
    assert!(page.next_cursor.is_some());
    let all: Vec<i64> = client
        .records_iter(u, 2)
        .map(|r| r.unwrap().change)
        .collect();
    assert_eq!(all, [5, -10, -40, 100]);
}

#[test]
fn business_and_auth_errors() {
    let server = Server::start();
    let client = server.blocking_client();
    let u = user();
    client.add_credits(u, 10, "seed", Some("ref_a")).unwrap();

    match client
        .deduct_credits(u, 11, "too much", None)
        .unwrap_err()
        .error
    {
        Error::InsufficientCredits { balance, .. } => assert_eq!(balance, Some(10)),
        other => panic!("{other:?}"),
    }
    match client
        .add_credits(u, 99, "seed", Some("ref_a"))
        .unwrap_err()
        .error
    {
        Error::ReferenceConflict { fields, .. } => assert!(fields.contains(&"amount".into())),
        other => panic!("{other:?}"),
    }
    let err = client.deduct_credits(user(), 1, "x", None).unwrap_err();
    assert!(matches!(err.error, Error::UserNotFound { .. }), "{err:?}");

    let wrong = Client::new(server.config().secret_key("wrong").build().unwrap()).unwrap();
    let err = wrong.add_credits(u, 1, "x", None).unwrap_err();
    assert!(
        matches!(
            err.error,
            Error::Authentication {
                code: Code::InvalidSignature,
                ..
            }
        ),
        "{err:?}"
    );
    let plain = Client::new(server.plain_config().build().unwrap()).unwrap();
    let err = plain.register_user(user(), None).unwrap_err();
    assert_eq!(err.code(), Code::Forbidden);

    match client.add_credits(u, 0, "x", None).unwrap_err().error {
        Error::Validation { code, field, .. } => {
            assert_eq!(
                (code, field.as_deref()),
                (Code::InvalidAmount, Some("amount"))
            )
        }
        other => panic!("{other:?}"),
    }
    let err = client
        .add_credits(u, support::MAX_AMOUNT + 1, "x", None)
        .unwrap_err();
    assert_eq!(err.code(), Code::AmountTooLarge);
}

#[test]
fn rate_limited() {
    let server = Server::start();
    let client = Client::new(server.limited_config().max_retries(0).build().unwrap()).unwrap();
    let u = user();
    let err = (0..20)
        .find_map(|_| client.add_credits(u, 1, "x", None).err())
        .expect("the server limits to 1 request per second");
    assert!(matches!(err.error, Error::RateLimited { .. }), "{err:?}");
}

#[test]
fn transport_timeout_server_and_timestamp_errors() {
    let server = Server::start();
    let closed = format!("http://127.0.0.1:{}", support::closed_port());
    let err = client_at(&server, &closed, 1).get_balance(1).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");

    let proxy = server.proxy([Fault::Hang]);
    let slow = Client::new(
        server
            .config_at(&proxy.url())
            .timeout(Duration::from_millis(300))
            .max_retries(0)
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = slow.get_balance(1).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    proxy.push_script(std::iter::repeat_n(
        Fault::respond(500, error_body("internal_error", "")),
        2,
    ));
    let err = client_at(&server, &proxy.url(), 1)
        .get_balance(1)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                code: Code::InternalError,
                status: 500,
                ..
            }
        ),
        "{err:?}"
    );

    proxy.push_script(std::iter::repeat_n(
        Fault::respond(
            401,
            error_body("timestamp_out_of_window", r#","server_time":5"#),
        ),
        2,
    ));
    let err = client_at(&server, &proxy.url(), 3)
        .get_balance(1)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timestamp {
                server_time: Some(5),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn dropped_and_reset_responses_apply_once() {
    let server = Server::start();
    let proxy = server.proxy([Fault::CloseBeforeResponse]);
    let client = client_at(&server, &proxy.url(), 3);
    let u = user();
    let r = client.add_credits(u, 10, "x", None).unwrap();
    assert!(r.duplicate);
    assert_eq!(proxy.exchange_count(), 2);
    proxy.push_script([Fault::DropResponse]);
    let r = client.deduct_credits(u, 4, "y", None).unwrap();
    assert_eq!(proxy.exchange_count(), 4);
    assert!(r.duplicate);
    assert_eq!(r.balance, Some(6));
    assert_eq!(records(&server.blocking_client(), u), 2);
}

#[test]
fn clock_skew_recovers() {
    let server = Server::start();
    let client = server.blocking_client();
    client.set_clock_offset(-1000);
    let u = user();
    client.add_credits(u, 1, "x", None).unwrap();
    assert!(client.clock_offset().abs() <= 2);
}

#[test]
fn many_threads_share_one_client() {
    let server = Server::start();
    let client = server.blocking_client();
    let u = user();
    std::thread::scope(|s| {
        for t in 0..8 {
            let client = client.clone();
            s.spawn(move || {
                for i in 0..5 {
                    client
                        .add_credits(u, 1, "x", Some(&format!("t{t}_{i}")))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(client.get_balance(u).unwrap().unwrap().credits, 40);
}

#[tokio::test]
async fn refuses_to_block_inside_a_runtime() {
    let server = Server::start();
    let client = server.blocking_client();
    let err = client.get_balance(1).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("async"), "{err}");
    // Dropping the last clone inside a runtime is fine too.
    drop(client);
}

#[test]
fn dropping_a_used_client_inside_a_runtime_does_not_panic() {
    let server = Server::start();
    let client = server.blocking_client();
    client.get_balance(1).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move { drop(client) });
}
