//! Checkpoints off the writer's path. Under load (groups of more than one write), a
//! connection of its own copies the WAL back into the database file every
//! [`EVERY`] (`PASSIVE`: it never blocks the writer or a reader), so the writer's commits
//! do not stall on checkpoints, and the WAL may grow to [`WAL_LIMIT_FRAMES`] between them
//! (pages written again and again in that time are copied once). A writer with no
//! company (sequential writes: a group of one at a time) checkpoints inline, as SQLite
//! does, when the WAL reaches that limit: a background checkpoint's fsync would compete
//! with each of its commits' (issue 16, docs/benchmarks.md). Durability is SQLite's own:
//! `synchronous=FULL` on every connection, a checkpoint syncs the WAL before it copies.

use super::group_commit::Stats;
use sqlx::SqlitePool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The writer's `wal_autocheckpoint`: it checkpoints inline once the WAL holds this many
/// frames (16 MiB of 4 KiB pages), which a writer with the background checkpoints rarely
/// reaches. SQLite's default is 1,000: a sequential writer with it stalled on a checkpoint
/// every ~125 writes (p99 1.5 ms against 0.75 ms at 4,000, p50 unchanged); 16,000 made
/// its p50 slower (a longer WAL to grow after each start) and gained nothing under load.
pub const WAL_LIMIT_FRAMES: u32 = 4_000;

/// How often the background checkpoint runs while writes come in groups.
pub const EVERY: Duration = Duration::from_millis(100);

/// Background checkpoints run (for `/metrics`).
#[derive(Default)]
pub struct Checkpoints {
    runs: AtomicU64,
}

impl Checkpoints {
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP credit_sync_sqlite_background_checkpoints_total WAL checkpoints run beside the writer under load.\n\
             # TYPE credit_sync_sqlite_background_checkpoints_total counter\n\
             credit_sync_sqlite_background_checkpoints_total {}",
            self.runs.load(Ordering::Relaxed)
        );
    }

    #[cfg(test)]
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

/// Runs the background checkpoints on `pool` (a read-write connection of its own) while the
/// writer's `stats` show groups of more than one write; ends when the pool closes.
pub async fn run(pool: SqlitePool, stats: Arc<Stats>, checkpoints: Arc<Checkpoints>) {
    let mut last = (0, 0);
    loop {
        tokio::time::sleep(EVERY).await;
        if pool.is_closed() {
            return;
        }
        let now = (
            stats.commits.load(Ordering::Relaxed),
            stats.writes.load(Ordering::Relaxed),
        );
        let (commits, writes) = (now.0 - last.0, now.1 - last.1);
        last = now;
        if commits == 0 || writes <= commits {
            continue; // idle, or one write at a time: the writer checkpoints inline
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Ok(_) => {
                checkpoints.runs.fetch_add(1, Ordering::Relaxed);
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!(error = %e, "a background WAL checkpoint failed"),
        }
    }
}
