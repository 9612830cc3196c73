//! Each Rust example exits 0 against the real server started as `demo` (the guide's
//! credentials), the way the main job runs the quick start.

use std::process::Command;

fn run_against_demo(binary: &str) -> String {
    let server = credit_sync_testkit::Server::start_demo();
    let out = Command::new(binary)
        .env("CREDIT_SYNC_BASE_URL", server.base_url())
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{binary} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn quickstart_runs() {
    let out = run_against_demo(env!("CARGO_BIN_EXE_quickstart"));
    assert!(out.contains("every scenario behaved as expected"), "{out}");
}

#[test]
fn money_flows_runs() {
    let out = run_against_demo(env!("CARGO_BIN_EXE_money_flows"));
    assert!(
        out.contains("money flows: every scenario behaved as expected"),
        "{out}"
    );
    assert!(!out.contains("FAILED"), "{out}");
}
