//! The money flows against the real server, through the async and the blocking client:
//! holds (capture, void, replays, `hold_resolved`), reversals, transfers and Telegram
//! Stars purchases, and the SDK's retries of a lost answer replaying instead of doubling.

mod support;

use credit_sync::protocol::Code;
use credit_sync::{
    Client, Error, FlowResult, HoldResult, HoldState, Original, StarsPayment, SyncResult,
};
use support::{user, Fault, Server};

async fn funded(client: &Client, credits: i64) -> i64 {
    let u = user();
    client
        .add_credits(u, credits, "top up", None)
        .await
        .unwrap();
    u
}

async fn view(client: &Client, u: i64) -> (i64, i64, i64) {
    let b = client.get_balance(u).await.unwrap().unwrap();
    (b.credits, b.held, b.available.unwrap())
}

fn hold_id(r: &HoldResult) -> String {
    r.hold().expect("a hold").hold_id.clone()
}

#[tokio::test]
async fn a_partial_capture_charges_once_and_releases_the_rest() {
    let server = Server::start();
    let client = server.client();
    let u = funded(&client, 100).await;

    let hold = client
        .hold_credits(u, 60, "generation job", None, Some(120))
        .await
        .unwrap();
    assert!(hold.success && !hold.duplicate());
    let data = hold.data.as_ref().unwrap();
    assert_eq!((data.credits, data.held, data.available), (100, 60, 40));
    assert_eq!(hold.hold().unwrap().state, HoldState::Open);
    assert!(hold.reference.as_deref().unwrap().starts_with("auto-"));
    assert_eq!(view(&client, u).await, (100, 60, 40));
    let open = client.get_holds(u).await.unwrap().unwrap();
    assert_eq!((open.held, open.available, open.holds.len()), (60, 40, 1));

    // Held credits count in every balance check: a deduct of 50 exceeds the 40 available.
    let e = client
        .deduct_credits(u, 50, "spend", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InsufficientCredits);

    let id = hold_id(&hold);
    let captured = client
        .capture_hold(&id, Some(25), Some("job-1-done"))
        .await
        .unwrap();
    let data = captured.data.as_ref().unwrap();
    assert_eq!((data.credits, data.held, data.available), (75, 0, 75));
    let h = captured.hold().unwrap();
    assert_eq!((h.state, h.captured), (HoldState::Captured, 25));
    assert!(h.record_id.is_some());
    assert_eq!(view(&client, u).await, (75, 0, 75));
    assert!(client.get_holds(u).await.unwrap().unwrap().holds.is_empty());

    // The same capture again (its reference) is a replay of the answer.
    let again = client
        .capture_hold(&id, Some(25), Some("job-1-done"))
        .await
        .unwrap();
    assert!(again.duplicate());
    assert_eq!(again.hold().unwrap().record_id, h.record_id);
    assert_eq!(view(&client, u).await, (75, 0, 75));

    // Any other capture or void is hold_resolved, with the final state.
    let e = client.capture_hold(&id, None, None).await.unwrap_err();
    let Error::HoldResolved {
        hold: Some(final_state),
        ..
    } = &e.error
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (final_state.state, final_state.captured),
        (HoldState::Captured, 25)
    );
    let failed = HoldResult::settle(client.void_hold(&id, None).await).unwrap();
    assert!(!failed.success);
    assert_eq!(failed.code, Code::HoldResolved);
    assert_eq!(failed.hold().unwrap().state, HoldState::Captured);
    assert_eq!(view(&client, u).await, (75, 0, 75));
}

#[tokio::test]
async fn a_void_releases_everything_and_resolves_once() {
    let server = Server::start();
    let client = server.client();
    let u = funded(&client, 50).await;
    let hold = client
        .hold_credits(u, 50, "job", Some("job-2"), None)
        .await
        .unwrap();
    assert_eq!(view(&client, u).await, (50, 50, 0));
    // A second hold finds nothing available.
    let e = client
        .hold_credits(u, 1, "job", None, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InsufficientCredits);
    // The same hold again (its reference) is a replay, not a second hold.
    let again = client
        .hold_credits(u, 50, "job", Some("job-2"), None)
        .await
        .unwrap();
    assert!(again.duplicate());
    assert_eq!(hold_id(&again), hold_id(&hold));

    let id = hold_id(&hold);
    let voided = client.void_hold(&id, Some("job-2-void")).await.unwrap();
    assert_eq!(voided.hold().unwrap().state, HoldState::Voided);
    assert_eq!(view(&client, u).await, (50, 0, 50));
    let replay = client.void_hold(&id, Some("job-2-void")).await.unwrap();
    assert!(replay.duplicate());
    let e = client.capture_hold(&id, None, None).await.unwrap_err();
    assert_eq!(e.code(), Code::HoldResolved);
    assert_eq!(view(&client, u).await, (50, 0, 50));

    // Capturing more than was held is refused; an unknown hold is not found.
    let hold = client.hold_credits(u, 10, "job", None, None).await.unwrap();
    let e = client
        .capture_hold(&hold_id(&hold), Some(11), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidAmount);
    let e = client
        .capture_hold("hold_000000000000000000000000", None, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::HoldNotFound);
    assert!(matches!(e.error, Error::NotFound { .. }));
    assert_eq!(client.get_holds(user()).await.unwrap(), None);
}

#[tokio::test]
async fn reversals_are_partial_then_whole_and_never_exceed_the_record() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    let order = client
        .add_credits(u, 100, "order paid", Some("order-7"))
        .await
        .unwrap();

    let part = client
        .reverse_record(
            Original::Reference("order-7".into()),
            Some(30),
            "partial refund",
            Some("refund-7a"),
        )
        .await
        .unwrap();
    let d = part.data.as_ref().unwrap();
    assert_eq!(
        (d.change, d.balance, d.reversed, d.remaining),
        (-30, 70, 30, 70)
    );
    assert_eq!(Some(d.reverses), order.record_id);
    let replay = client
        .reverse_record(
            Original::Reference("order-7".into()),
            Some(30),
            "partial refund",
            Some("refund-7a"),
        )
        .await
        .unwrap();
    assert!(replay.duplicate());

    let rest = client
        .reverse_record(
            Original::Record(order.record_id.unwrap()),
            None,
            "refund",
            None,
        )
        .await
        .unwrap();
    let d = rest.data.as_ref().unwrap();
    assert_eq!((d.balance, d.reversed, d.remaining), (0, 100, 0));

    let e = client
        .reverse_record(Original::Reference("order-7".into()), Some(1), "more", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ReversalExceedsRecord);
    assert!(matches!(e.error, Error::Conflict { .. }));
    let e = client
        .reverse_record(Original::Reference("no-such-order".into()), None, "x", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::RecordNotFound);
    // A reversal is not reversed.
    let e = client
        .reverse_record(Original::Record(d.record_id), None, "undo", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::RecordNotReversible);
    assert_eq!(view(&client, u).await, (0, 0, 0));
}

#[tokio::test]
async fn a_transfer_moves_credits_once() {
    let server = Server::start();
    let client = server.client();
    let from = funded(&client, 100).await;
    let to = user();
    let t = client
        .transfer_credits(from, to, 40, "gift", Some("gift-1"))
        .await
        .unwrap();
    let d = t.data.as_ref().unwrap();
    assert_eq!((d.from.change, d.from.balance), (-40, 60));
    assert_eq!((d.to.change, d.to.balance), (40, 40));
    assert!(d.transfer_id.starts_with("tr_"));
    let replay = client
        .transfer_credits(from, to, 40, "gift", Some("gift-1"))
        .await
        .unwrap();
    assert!(replay.duplicate());
    assert_eq!(replay.data.unwrap().transfer_id, d.transfer_id);
    assert_eq!(view(&client, from).await.0, 60);
    assert_eq!(view(&client, to).await.0, 40);
    let e = client
        .transfer_credits(from, to, 61, "gift", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InsufficientCredits);
    let records = client.get_records(to, None, None).await.unwrap().records;
    assert_eq!(
        records[0].transfer_id.as_deref(),
        Some(d.transfer_id.as_str())
    );
}

#[tokio::test]
async fn a_stars_payment_credits_once_and_refunds_once() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    let payment = StarsPayment {
        currency: "XTR".into(),
        total_amount: 50,
        telegram_payment_charge_id: format!("stxCharge{u}"),
    };
    let paid = client.credit_stars_payment(u, &payment, 10).await.unwrap();
    assert_eq!(
        (paid.change, paid.balance, paid.duplicate),
        (500, Some(500), false)
    );
    assert_eq!(
        paid.reference.as_deref(),
        Some(format!("stars:stxCharge{u}").as_str())
    );
    // `successful_payment` delivered again: a duplicate, not a second credit.
    let redelivered = client.credit_stars_payment(u, &payment, 10).await.unwrap();
    assert!(redelivered.duplicate);
    assert_eq!(view(&client, u).await.0, 500);

    let refund = client
        .refund_stars_payment(&payment.telegram_payment_charge_id, "refunded")
        .await
        .unwrap();
    assert!(!refund.duplicate());
    assert_eq!(refund.data.as_ref().unwrap().balance, 0);
    // The `refunded_payment` update after `refundStarPayment`: the same refund, a duplicate.
    let told_again = client
        .refund_stars_payment(&payment.telegram_payment_charge_id, "refunded")
        .await
        .unwrap();
    assert!(told_again.duplicate());
    assert_eq!(view(&client, u).await.0, 0);

    let not_stars = StarsPayment {
        currency: "EUR".into(),
        ..payment.clone()
    };
    let r = SyncResult::settle(client.credit_stars_payment(u, &not_stars, 1).await).unwrap();
    assert_eq!(
        (r.success, r.code, r.attempts),
        (false, Code::InvalidArgument, 0)
    );
}

/// The answer of a capture and of a transfer is lost: the SDK's retry carries the same
/// reference, so it replays the applied call instead of doing it twice.
#[tokio::test]
async fn a_lost_answer_is_retried_as_a_replay() {
    let server = Server::start();
    let direct = server.client();
    let proxy = server.proxy([]);
    let client = Client::new(server.retrying_config(&proxy.url(), 3)).unwrap();
    let u = funded(&direct, 100).await;
    let hold = client.hold_credits(u, 30, "job", None, None).await.unwrap();

    proxy.push_script([Fault::DropResponse]);
    let captured = client
        .capture_hold(&hold_id(&hold), None, None)
        .await
        .unwrap();
    assert_eq!(captured.attempts, 2);
    assert!(
        captured.duplicate(),
        "the retry replays the applied capture"
    );
    assert_eq!(view(&direct, u).await, (70, 0, 70));

    proxy.push_script([Fault::CloseBeforeResponse]);
    let to = user();
    let moved = client
        .transfer_credits(u, to, 20, "gift", None)
        .await
        .unwrap();
    assert_eq!((moved.attempts, moved.duplicate()), (2, true));
    assert_eq!(view(&direct, u).await.0, 50);
    assert_eq!(view(&direct, to).await.0, 20);
}

#[test]
fn the_blocking_client_has_every_flow() {
    let server = Server::start();
    let client = server.blocking_client();
    let u = user();
    client.add_credits(u, 100, "top up", Some("bl-1")).unwrap();
    let hold = client.hold_credits(u, 40, "job", None, None).unwrap();
    assert_eq!(client.get_holds(u).unwrap().unwrap().held, 40);
    let id = hold.hold().unwrap().hold_id.clone();
    client.capture_hold(&id, Some(10), None).unwrap();
    let hold = client.hold_credits(u, 5, "job", None, None).unwrap();
    let voided = client
        .void_hold(&hold.hold().unwrap().hold_id, None)
        .unwrap();
    assert_eq!(voided.data.unwrap().available, 90);
    let r = client
        .reverse_record(Original::Reference("bl-1".into()), Some(10), "undo", None)
        .unwrap();
    assert_eq!(r.data.unwrap().balance, 80);
    let t = client
        .transfer_credits(u, user(), 30, "gift", None)
        .unwrap();
    assert_eq!(t.data.unwrap().from.balance, 50);
    let payment = StarsPayment {
        currency: "XTR".into(),
        total_amount: 3,
        telegram_payment_charge_id: format!("bl{u}"),
    };
    assert_eq!(
        client.credit_stars_payment(u, &payment, 2).unwrap().balance,
        Some(56)
    );
    let refund = client
        .refund_stars_payment(&payment.telegram_payment_charge_id, "refund")
        .unwrap();
    assert_eq!(refund.data.unwrap().balance, 50);
    let b = client.get_balance(u).unwrap().unwrap();
    assert_eq!((b.credits, b.held, b.available), (50, 0, Some(50)));
    // The guide's style settles every failure into a result.
    let failed = FlowResult::settle(client.void_hold(&id, None)).unwrap();
    assert_eq!(failed.code, Code::HoldResolved);
}

/// Many captures and voids of one hold at once, each with its own reference: exactly
/// one resolves it, every other is `hold_resolved` with the same final state.
#[tokio::test]
async fn a_hold_resolves_once_under_concurrent_captures_and_voids() {
    let server = Server::start();
    let client = server.client();
    let u = funded(&client, 100).await;
    let hold = client.hold_credits(u, 40, "job", None, None).await.unwrap();
    let id = hold_id(&hold);
    let calls = (0..16).map(|i| {
        let (client, id) = (client.clone(), id.clone());
        tokio::spawn(async move {
            let outcome = if i % 2 == 0 {
                client.capture_hold(&id, Some(10), None).await
            } else {
                client.void_hold(&id, None).await
            };
            HoldResult::settle(outcome).unwrap()
        })
    });
    let results: Vec<HoldResult> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<_> = results.iter().filter(|r| r.success).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let final_state = winners[0].hold().unwrap().state;
    for r in results.iter().filter(|r| !r.success) {
        assert_eq!(r.code, Code::HoldResolved, "{r:?}");
        assert_eq!(r.hold().unwrap().state, final_state);
    }
    let expected = match final_state {
        HoldState::Captured => 90,
        _ => 100,
    };
    assert_eq!(view(&client, u).await, (expected, 0, expected));
}

/// Past `expires_at` a hold no longer counts and cannot be captured.
#[tokio::test]
async fn an_expired_hold_cannot_be_captured() {
    let server = Server::start();
    let client = server.client();
    let u = funded(&client, 10).await;
    let hold = client
        .hold_credits(u, 10, "job", None, Some(2))
        .await
        .unwrap();
    assert_eq!(view(&client, u).await, (10, 10, 0));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(view(&client, u).await, (10, 0, 10));
    let e = client
        .capture_hold(&hold_id(&hold), None, None)
        .await
        .unwrap_err();
    let Error::HoldResolved { hold: Some(h), .. } = &e.error else {
        panic!("{e:?}")
    };
    assert_eq!(h.state, HoldState::Expired);
    assert_eq!(view(&client, u).await, (10, 0, 10));
}
