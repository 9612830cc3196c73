//! Several server processes on one PostgreSQL database (as behind a load balancer): the
//! promises hold across processes. Runs with `CREDIT_SYNC_TEST_BACKEND=postgres`; on SQLite
//! (one process per database file) it checks that a second `serve` is refused.

mod support;

use futures_util::future::join_all;
use std::time::Duration;
use support::*;

fn two_servers() -> Option<(Server, Server)> {
    let first = Server::start();
    assert_eq!(first.is_postgres(), postgres_url().is_some());
    if !first.is_postgres() {
        eprintln!("skipped: two processes share a database only on PostgreSQL");
        return None;
    }
    let second = first.start_sibling();
    assert_ne!(first.addr(), second.addr());
    Some((first, second))
}

#[tokio::test]
async fn parallel_deducts_across_two_processes_never_overdraw() {
    let Some((a, b)) = two_servers() else { return };
    let (bot_a, bot_b) = (a.admin(), b.admin());
    bot_a.fund(501, 100).await;
    let deducts = (0..160).map(|i| {
        let bot = if i % 2 == 0 { &bot_a } else { &bot_b };
        async move { bot.sync(501, -1, "spend", None).await }
    });
    let answers = join_all(deducts).await;
    let applied = answers.iter().filter(|a| a.status == 200).count();
    for answer in answers.iter().filter(|a| a.status != 200) {
        answer.expect_error(answer.status, "insufficient_credits");
    }
    assert_eq!(applied, 100);
    assert_eq!(bot_b.balance(501).await, Some(0));
    assert_eq!(bot_a.record_count(501).await, 101);
    let out = a.cli(&["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn one_reference_raced_across_two_processes_applies_once() {
    let Some((a, b)) = two_servers() else { return };
    let (bot_a, bot_b) = (a.admin(), b.admin());
    bot_a.fund(502, 1_000).await;
    for round in 0..20 {
        let reference = format!("race-{round}");
        let amount = if round % 2 == 0 { 7 } else { -7 };
        let (first, second) = tokio::join!(
            bot_a.sync(502, amount, "raced", Some(&reference)),
            bot_b.sync(502, amount, "raced", Some(&reference)),
        );
        first.expect_ok();
        second.expect_ok();
        let (x, y) = (&first.body["data"], &second.body["data"]);
        assert_eq!(x["record_id"], y["record_id"], "{x} {y}");
        assert_eq!(
            [x["duplicate"].as_bool(), y["duplicate"].as_bool()]
                .iter()
                .filter(|d| **d == Some(false))
                .count(),
            1,
            "exactly one applies: {x} {y}"
        );
    }
    // Ten adds and ten deducts of 7, each once.
    assert_eq!(bot_a.balance(502).await, Some(1_000));
    assert_eq!(bot_b.record_count(502).await, 21);
    // Many processes' worth of replays of one reference at once, through both servers.
    let replays = (0..40).map(|i| {
        let bot = if i % 2 == 0 { &bot_a } else { &bot_b };
        async move { bot.sync(502, 5, "burst", Some("burst-1")).await }
    });
    let answers = join_all(replays).await;
    for answer in &answers {
        answer.expect_ok();
    }
    let fresh = answers
        .iter()
        .filter(|a| a.body["data"]["duplicate"] == false)
        .count();
    assert_eq!(fresh, 1);
    assert_eq!(bot_b.balance(502).await, Some(1_005));
    let out = b.cli(&["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn instances_starting_together_on_a_fresh_database_all_come_up() {
    if postgres_url().is_none() {
        eprintln!("skipped: PostgreSQL only");
        return;
    }
    let database = Database::for_suite(tempfile::tempdir().unwrap().path());
    // The migrations run under an advisory lock: exactly one instance applies them.
    let servers: Vec<Server> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| Server::start_on(database.url(), |toml| toml)))
            .collect();
        starting.into_iter().map(|s| s.join().unwrap()).collect()
    });
    for (i, server) in servers.iter().enumerate() {
        server.admin().get("/healthz").await.expect_ok();
        server.admin().fund(600, 1 + i as i64).await;
    }
    assert_eq!(servers[0].admin().balance(600).await, Some(6));
}

#[tokio::test]
async fn healthz_answers_at_once_when_the_database_is_gone() {
    let server = Server::start();
    if !server.is_postgres() {
        eprintln!("skipped: PostgreSQL only");
        return;
    }
    server.admin().get("/healthz").await.expect_ok();
    let name = server
        .database_url()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let dropped = raw_execute(
        &postgres_url().unwrap(),
        &[&format!("DROP DATABASE {name} WITH (FORCE)")],
    );
    assert_eq!(dropped[0], Ok(0));
    let started = std::time::Instant::now();
    server
        .admin()
        .get("/healthz")
        .await
        .expect_error(503, "service_unavailable");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
}

/// Each process names its sessions (`credit-sync-server/<pid>`), so after a `kill -9` the
/// dead one's can be told from the living's; the harness's `kill9` waits for them to end
/// (a COMMIT the dead process had sent may still land until then).
#[tokio::test]
async fn a_killed_instance_s_sessions_are_its_own_and_end() {
    let Some((mut a, b)) = two_servers() else {
        return;
    };
    // Every route that writes opens pool sessions; the feed's listener holds one anyway.
    a.admin().fund(601, 5).await;
    b.admin().fund(602, 5).await;
    let url = a.database_url().to_string();
    let (a_name, b_name) = (
        server_sessions_name(a.pid().unwrap()),
        server_sessions_name(b.pid().unwrap()),
    );
    assert!(
        postgres_sessions(&url, &a_name) > 0,
        "no session named {a_name}"
    );
    assert!(
        postgres_sessions(&url, &b_name) > 0,
        "no session named {b_name}"
    );
    a.kill9();
    assert_eq!(postgres_sessions(&url, &a_name), 0);
    assert!(postgres_sessions(&url, &b_name) > 0);
    assert_eq!(b.admin().balance(601).await, Some(5));
}

#[tokio::test]
async fn a_second_serve_on_one_sqlite_file_is_refused_until_the_first_process_is_gone() {
    let mut first = Server::start();
    if first.is_postgres() {
        // Several instances share a PostgreSQL database: a second serve is no error.
        let run = second_serve(&first, Duration::from_secs(2));
        assert!(
            run.is_none(),
            "{:?}",
            run.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        );
        return;
    }
    first.admin().fund(700, 5).await;
    let pid = first.pid().unwrap();
    let refused = second_serve(&first, Duration::from_secs(10))
        .expect("a second serve on the same SQLite file exits at once");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("already served by another credit-sync-server process"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("(pid {pid})")), "{stderr}");
    // The refused process touched nothing: the first one still serves.
    first.admin().fund(700, 5).await;
    assert_eq!(first.admin().balance(700).await, Some(10));
    // The kernel drops the lock with the process, even on kill -9: a restart serves at once.
    first.restart();
    assert_eq!(first.admin().balance(700).await, Some(10));
    let refused = second_serve(&first, Duration::from_secs(10))
        .expect("refused again while the restarted server runs");
    assert!(!refused.status.success());
}

/// `serve` again on `server`'s config: its output, or `None` while it still runs after
/// `within`.
fn second_serve(server: &Server, within: Duration) -> Option<std::process::Output> {
    server.run_cli_within(&["serve", "--config", "{config}"], within)
}
