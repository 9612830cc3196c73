//! Fixtures for the suites that drive the `LedgerBackend` trait directly, without HTTP:
//! the acting source, fresh and repeated signatures, and running one check on the
//! concrete backend and again through `AnyBackend`.

use credit_sync_server::ledger::Spend;
use std::sync::atomic::{AtomicU64, Ordering};

/// The source every trait-level test acts as.
pub const SOURCE: &str = "bot";
/// The signature window the tests' spends are kept for.
pub const TOLERANCE: i64 = 300;

/// A signature never used before (in this process), signed at the process's time.
pub fn fresh() -> Spend {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    signed(&format!("{n:016x}{:048x}", 0))
}

/// The signature `hex`, signed at one time for the whole test process (sending it twice
/// is a reuse). The ledger keys a signature by its timestamp and its first 16 hex digits:
/// a fresh `now()` per call made a second "reuse" a new signature whenever the clock
/// ticked between the two.
pub fn signed(hex: &str) -> Spend {
    static SIGNED_AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let at = *SIGNED_AT.get_or_init(super::now);
    Spend::new(SOURCE, vec![hex.to_string()], at, TOLERANCE)
}

/// Runs `check` on the concrete backend of a fresh database, then on another fresh
/// database through the `AnyBackend` that `Ledger::open` chooses; then `after` (a
/// verify, say) on each, when given.
#[macro_export]
macro_rules! on_each_backend {
    ($check:ident $(, $after:ident)?) => {{
        use credit_sync_server::ledger::{Ledger, LedgerBackend, PgLedger, SqliteLedger};
        let dir = tempfile::tempdir().unwrap();
        let database = support::Database::for_suite(dir.path());
        if database.is_postgres() {
            let ledger = PgLedger::open(database.url(), true).await.unwrap();
            $check(&ledger).await;
            $($after(&ledger).await;)?
            ledger.close().await;
        } else {
            let ledger = SqliteLedger::open(database.url(), true).await.unwrap();
            $check(&ledger).await;
            $($after(&ledger).await;)?
            ledger.close().await;
        }
        drop(database);
        let dir = tempfile::tempdir().unwrap();
        let database = support::Database::for_suite(dir.path());
        let ledger = Ledger::open(database.url()).await.unwrap();
        $check(ledger.backend()).await;
        $($after(ledger.backend()).await;)?
        ledger.close().await;
    }};
}
