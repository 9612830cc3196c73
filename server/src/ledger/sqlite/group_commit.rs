//! Group commit: one writer task owns the SQLite write connection and applies every queued
//! write of a moment in ONE transaction, each inside its own SAVEPOINT, so many requests share
//! one fsync (`synchronous=FULL` stays) and one refused or failed write never rolls back its
//! neighbours. Nobody is answered before the COMMIT is durable; if it fails, nobody is told
//! "applied".
//!
//! Writes run in queue order, one after the other, inside the group: a write sees every write
//! queued before it (so two requests with one reference behave exactly as if sequential),
//! and a check that reads inside the transaction (the overdraft check) stays correct. The
//! writer owns a queued write: a client that goes away cannot cancel it halfway.
//!
//! Failures stay typed ([`SqliteFailure`]) on their way to the requests, so a busy, full or
//! failing disk answers `503` with `Retry-After`. A failed group is rolled back, and the
//! rollback is checked: if SQLite refuses it, the connection is closed (SQLite rolls back an
//! open transaction on close) and the pool opens a fresh one, so no half-applied group can
//! ever be committed by a later one.

use super::raw::{Db, SqliteFailure};
use sqlx::SqlitePool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// What one write did inside its savepoint, and whether to keep it.
pub struct Step<T> {
    pub output: T,
    /// `false` rolls back this write's savepoint (a refusal, a replay): nothing of it stays.
    pub keep: bool,
}

/// One write the writer task applies inside a group.
pub trait Job: Send + 'static {
    type Output: Send + 'static;

    /// How many changes the write holds (a batch counts its items), for the group budget.
    fn weight(&self) -> usize {
        1
    }

    /// Applies the write on the group's transaction, inside the write's own savepoint.
    /// An `Err` rolls back this write's savepoint only; the write is answered with an error.
    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<Self::Output>, sqlx::Error>;
}

/// How large one group may grow. A group always takes at least one write.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many requests per transaction.
    pub max_writes: usize,
    /// Stop adding requests once their changes reach this many (batches are heavy).
    pub max_weight: usize,
    /// Requests that may wait in the queue (beyond it, `submit` waits).
    pub queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_writes: 256,
            max_weight: 4096,
            queue: 4096,
        }
    }
}

/// Work a group does once, after its writes and before its COMMIT, in a savepoint of its
/// own (the ledger prunes expired signatures there: once per group instead of once per
/// write). A failure rolls back only that savepoint and is logged; the writes stand.
/// Its value, a mark read inside the transaction (the ledger's: the latest event `seq`),
/// is what [`GroupCommit::commits`] shows once the group committed; [`UNKNOWN_MARK`] when
/// the upkeep failed.
pub type Upkeep = Arc<UpkeepFn>;
pub type UpkeepFn = dyn Fn(&mut Db<'_>) -> Result<i64, sqlx::Error> + Send + Sync;

/// The mark of a group whose upkeep failed: watchers must look for themselves.
pub const UNKNOWN_MARK: i64 = -1;

/// Upper bounds of the group-size histogram (requests per transaction).
pub const SIZE_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// Counters of what the writer did, for `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Groups whose transaction failed (every request of it got an error).
    pub failed_groups: AtomicU64,
    /// Requests answered after a committed transaction.
    pub writes: AtomicU64,
    /// Committed transactions by number of requests (cumulative, like Prometheus `le`).
    pub sizes: [AtomicU64; SIZE_BUCKETS.len()],
}

impl Stats {
    fn observe(&self, size: usize, committed: bool) {
        if !committed {
            self.failed_groups.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(size as u64, Ordering::Relaxed);
        for (bound, count) in SIZE_BUCKETS.iter().zip(&self.sizes) {
            if size as u64 <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Prometheus text: a histogram of requests per commit and the failed groups.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let commits = self.commits.load(Ordering::Relaxed);
        out.push_str(
            "# HELP credit_sync_group_commit_size Write requests per SQLite transaction (group commit).\n\
             # TYPE credit_sync_group_commit_size histogram\n",
        );
        for (bound, count) in SIZE_BUCKETS.iter().zip(&self.sizes) {
            let _ = writeln!(
                out,
                "credit_sync_group_commit_size_bucket{{le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "credit_sync_group_commit_size_bucket{{le=\"+Inf\"}} {commits}\n\
             credit_sync_group_commit_size_sum {}\n\
             credit_sync_group_commit_size_count {commits}",
            self.writes.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP credit_sync_group_commit_failures_total Groups whose transaction failed; none of their requests was acknowledged.\n\
             # TYPE credit_sync_group_commit_failures_total counter\n\
             credit_sync_group_commit_failures_total {}",
            self.failed_groups.load(Ordering::Relaxed)
        );
    }
}

/// The handle requests use to queue their writes. Cloning shares the one writer task, which
/// ends when the last handle is dropped (after finishing what is queued).
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Box<dyn Queued>>,
    stats: Arc<Stats>,
    /// The last committed group's upkeep mark: changes after each durable COMMIT (the
    /// event feed's wake-up).
    commits: watch::Receiver<i64>,
}

impl GroupCommit {
    /// Starts the writer task on `pool` (the single-connection write pool), running
    /// `upkeep` in every group. Needs a runtime.
    pub fn start(pool: SqlitePool, limits: Limits, upkeep: Upkeep) -> GroupCommit {
        let (queue, receiver) = mpsc::channel(limits.queue.max(1));
        let stats = Arc::new(Stats::default());
        let (committed, commits) = watch::channel(UNKNOWN_MARK);
        tokio::spawn(writer(
            pool,
            receiver,
            limits,
            stats.clone(),
            upkeep,
            committed,
        ));
        GroupCommit {
            queue,
            stats,
            commits,
        }
    }

    /// Changes after every committed group, to its upkeep's mark.
    pub fn commits(&self) -> watch::Receiver<i64> {
        self.commits.clone()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Queues `job` and waits for its answer, which comes only after the group's COMMIT is
    /// durable. Dropping this future after the job is queued does not cancel the job.
    pub async fn submit<J: Job>(&self, job: J) -> Result<J::Output, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let queued: Box<dyn Queued> = Box::new(Pending {
            job,
            result: None,
            reply,
        });
        self.queue
            .send(queued)
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| {
            sqlx::Error::Protocol(
                "the writer dropped the write before its transaction committed".into(),
            )
        })?
    }
}

/// A job with its reply channel, type-erased so one queue carries every kind of write.
trait Queued: Send {
    fn weight(&self) -> usize;
    /// Runs the job; returns whether to keep its savepoint. Keeps the result for `answer`.
    fn apply(&mut self, db: &mut Db<'_>) -> bool;
    /// The job's own error, once applied, if it failed.
    fn failure(&self) -> Option<&sqlx::Error>;
    /// Sends the answer once the group's fate is known.
    fn answer(self: Box<Self>, commit: Result<(), &sqlx::Error>);
}

struct Pending<J: Job> {
    job: J,
    result: Option<Result<J::Output, sqlx::Error>>,
    reply: oneshot::Sender<Result<J::Output, sqlx::Error>>,
}

impl<J: Job> Queued for Pending<J> {
    fn weight(&self) -> usize {
        self.job.weight()
    }

    fn apply(&mut self, db: &mut Db<'_>) -> bool {
        let (result, keep) = match self.job.apply(db) {
            Ok(step) => (Ok(step.output), step.keep),
            Err(e) => (Err(e), false),
        };
        self.result = Some(result);
        keep
    }

    fn failure(&self) -> Option<&sqlx::Error> {
        self.result.as_ref()?.as_ref().err()
    }

    fn answer(self: Box<Self>, commit: Result<(), &sqlx::Error>) {
        let answer = match (commit, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(sqlx::Error::Protocol("the write was not applied".into())),
            (Err(e), _) => Err(retyped(e)),
        };
        // The client may have gone away; the write stands (or not) either way.
        let _ = self.reply.send(answer);
    }
}

/// The writer task: takes what is queued (within `limits`), commits it as one group, answers.
async fn writer(
    pool: SqlitePool,
    mut receiver: mpsc::Receiver<Box<dyn Queued>>,
    limits: Limits,
    stats: Arc<Stats>,
    upkeep: Upkeep,
    committed: watch::Sender<i64>,
) {
    let committed = Arc::new(committed);
    while let Some(first) = receiver.recv().await {
        let mut weight = first.weight();
        let mut group = vec![first];
        while group.len() < limits.max_writes && weight < limits.max_weight {
            match receiver.try_recv() {
                Ok(next) => {
                    weight += next.weight();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let size = group.len();
        // On its own task so that a panic in one write's code fails its group (the dropped
        // replies answer with an error, the dropped transaction rolls back), not the writer.
        let committed = tokio::spawn(commit_group(
            pool.clone(),
            group,
            stats.clone(),
            upkeep.clone(),
            committed.clone(),
        ))
        .await;
        if let Err(e) = committed {
            tracing::error!(error = %e, size, "a group commit task failed; its writes were not applied");
            stats.observe(size, false);
        }
    }
}

/// Applies `group` in one transaction, counts it, then answers every write.
async fn commit_group(
    pool: SqlitePool,
    mut group: Vec<Box<dyn Queued>>,
    stats: Arc<Stats>,
    upkeep: Upkeep,
    committed: Arc<watch::Sender<i64>>,
) {
    let result = apply_group(&pool, &mut group, &*upkeep).await;
    if let Ok(mark) = result {
        // Every commit wakes the watchers, even with the mark unchanged.
        committed.send_replace(mark);
    }
    if let Err(e) = &result {
        tracing::error!(error = %e, size = group.len(), "group commit failed; no write of the group was acknowledged");
    }
    stats.observe(group.len(), result.is_ok());
    for queued in group {
        queued.answer(result.as_ref().map(|_| ()));
    }
}

/// A copy of a group's error for each of its requests: a [`SqliteFailure`] stays typed (its
/// kind decides the status), anything else becomes a message.
fn retyped(e: &sqlx::Error) -> sqlx::Error {
    match SqliteFailure::of(e) {
        Some(failure) => failure.clone().into_sqlx(),
        None => sqlx::Error::Protocol(format!("the group's transaction did not commit: {e}")),
    }
}

/// Locks the write connection and applies the group on this thread: one statement costs
/// microseconds instead of a round trip to sqlx's worker thread.
async fn apply_group(
    pool: &SqlitePool,
    group: &mut [Box<dyn Queued>],
    upkeep: &UpkeepFn,
) -> Result<i64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut locked = conn.lock_handle().await?;
    let (result, clean) = blocking(|| {
        let mut db = Db::new(&mut locked);
        // A transaction left open by an earlier group (one whose code panicked and whose
        // rollback failed) must never be committed with this one.
        let result = match db.rollback() {
            Ok(()) => apply_in_transaction(&mut db, group, upkeep),
            Err(e) => Err(e.into_sqlx()),
        };
        // `apply_in_transaction` rolled back whatever failed; if that was refused the
        // transaction is still open here.
        let clean = !db.in_transaction();
        (result, clean)
    });
    drop(locked);
    if !clean {
        // The transaction could not be rolled back: discard the connection. Closing it makes
        // SQLite roll the transaction back; the pool opens a fresh connection for the next
        // group. Every request of this group is answered with the error.
        tracing::error!("a failed group could not be rolled back; closing the write connection");
        if let Err(e) = conn.close().await {
            tracing::error!(error = %e, "closing the write connection failed");
        }
        return Err(result.err().unwrap_or_else(|| {
            sqlx::Error::Protocol("the transaction stayed open after its group".into())
        }));
    }
    result
}

/// Runs `f`, telling a multi-threaded runtime that this thread blocks (on SQLite and fsync).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The group in one transaction; on any failure the transaction is rolled back, and a
/// refused rollback is logged and left for [`apply_group`] to see (the handle still has a
/// transaction open) and act on.
fn apply_in_transaction(
    db: &mut Db<'_>,
    group: &mut [Box<dyn Queued>],
    upkeep: &UpkeepFn,
) -> Result<i64, sqlx::Error> {
    db.exec("BEGIN IMMEDIATE")?;
    let result = apply_each(db, group)
        .and_then(|()| run_upkeep(db, upkeep))
        .and_then(|mark| db.exec("COMMIT").map_err(at_commit).map(|()| mark));
    if let Err(e) = &result {
        if let Err(rollback) = db.rollback() {
            tracing::error!(error = %e, rollback = %rollback, "ROLLBACK of a failed group failed");
        }
    }
    result
}

/// Runs the group's [`Upkeep`] in its own savepoint. Only a failure that ended the whole
/// transaction (SQLite rolls back on some I/O errors) fails the group.
fn run_upkeep(db: &mut Db<'_>, upkeep: &UpkeepFn) -> Result<i64, sqlx::Error> {
    db.exec("SAVEPOINT group_upkeep")?;
    let mark = match upkeep(db) {
        Ok(mark) => mark,
        Err(e) => {
            if !db.in_transaction() {
                return Err(retyped(&e));
            }
            tracing::warn!(error = %e, "a group's upkeep failed; its writes stand");
            db.exec("ROLLBACK TO group_upkeep")?;
            UNKNOWN_MARK
        }
    };
    db.exec("RELEASE group_upkeep").map(|()| mark)
}

/// A COMMIT's failure: an I/O error there may still have made the transaction durable.
fn at_commit(e: sqlx::Error) -> sqlx::Error {
    match SqliteFailure::of(&e) {
        Some(failure) => failure.clone().at_commit().into_sqlx(),
        None => e,
    }
}

/// Each write in its own savepoint. An error here (not a write's own error, which only
/// rolls back its savepoint) means the transaction itself is broken: the group fails.
fn apply_each(db: &mut Db<'_>, group: &mut [Box<dyn Queued>]) -> Result<(), sqlx::Error> {
    for queued in group.iter_mut() {
        db.exec("SAVEPOINT group_write")?;
        if !queued.apply(db) {
            if !db.in_transaction() {
                // SQLite rolled back the whole transaction under the write (disk full, I/O
                // error): the group fails with that write's own, typed, error.
                return Err(queued.failure().map(retyped).unwrap_or_else(|| {
                    sqlx::Error::Protocol("the transaction ended inside a write".into())
                }));
            }
            db.exec("ROLLBACK TO group_write")?;
        }
        db.exec("RELEASE group_write")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::raw::Value;
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
    use std::str::FromStr;

    async fn pool(dir: &tempfile::TempDir) -> SqlitePool {
        let url = format!("sqlite://{}/g.db", dir.path().display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY);
             CREATE TABLE t (k TEXT PRIMARY KEY, parent INTEGER
                 REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool
    }

    /// What a test write does.
    #[derive(Clone)]
    enum Act {
        /// Insert `k`; answer whether it was already there (then keep nothing).
        Insert(&'static str),
        /// Insert `k`, then refuse: the savepoint must undo the insert.
        InsertThenRefuse(&'static str),
        /// Insert `k` twice: a constraint error after a first write.
        InsertTwice(&'static str),
        /// Insert `k` with a parent that does not exist: fails only at COMMIT.
        Orphan(&'static str),
        /// Say so on the notify, then hold the writer until the gate opens (so the next
        /// writes queue up as one group).
        Wait(Arc<tokio::sync::Notify>, Arc<Gate>),
        Panic,
        /// Insert `k` with 256 KiB of text (past a small `max_page_count`: disk full).
        Big(&'static str),
        /// Make every ROLLBACK of this group fail (the test fault of `Db`).
        RefuseRollbacks,
    }

    /// A blocking gate (writes run synchronously on the writer's thread).
    #[derive(Default)]
    struct Gate(std::sync::Mutex<bool>, std::sync::Condvar);

    impl Gate {
        fn open(&self) {
            *self.0.lock().unwrap() = true;
            self.1.notify_all();
        }

        fn wait(&self) {
            let mut open = self.0.lock().unwrap();
            while !*open {
                open = self.1.wait(open).unwrap();
            }
        }
    }

    struct TestJob(Act);

    fn step(output: &'static str, keep: bool) -> Result<Step<&'static str>, sqlx::Error> {
        Ok(Step { output, keep })
    }

    impl Job for TestJob {
        type Output = &'static str;

        fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<&'static str>, sqlx::Error> {
            const INSERT: &str = "INSERT INTO t (k) VALUES (?)";
            match &self.0 {
                Act::Insert(k) => {
                    let seen =
                        db.query("SELECT k FROM t WHERE k = ?", &[Value::Text(k)], |_| ())?;
                    if seen.is_some() {
                        return step("duplicate", false);
                    }
                    db.execute(INSERT, &[Value::Text(k)])?;
                    step("inserted", true)
                }
                Act::InsertThenRefuse(k) => {
                    db.execute(INSERT, &[Value::Text(k)])?;
                    step("refused", false)
                }
                Act::InsertTwice(k) => {
                    db.execute(INSERT, &[Value::Text(k)])?;
                    db.execute(INSERT, &[Value::Text(k)])?;
                    step("impossible", true)
                }
                Act::Orphan(k) => {
                    db.execute(
                        "INSERT INTO t (k, parent) VALUES (?, 42)",
                        &[Value::Text(k)],
                    )?;
                    step("orphan", true)
                }
                Act::Wait(entered, gate) => {
                    entered.notify_one();
                    gate.wait();
                    step("waited", false)
                }
                Act::Panic => panic!("a write's code panicked"),
                Act::Big(k) => {
                    let text = "x".repeat(256 * 1024);
                    db.execute(
                        "INSERT INTO t (k, parent) VALUES (?, NULL)",
                        &[Value::Text(&format!("{k}{text}"))],
                    )?;
                    step("big", true)
                }
                Act::RefuseRollbacks => {
                    db.refuse_rollbacks();
                    step("armed", true)
                }
            }
        }
    }

    fn no_upkeep() -> Upkeep {
        Arc::new(|_| Ok(0))
    }

    async fn keys(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_as::<_, (String,)>("SELECT k FROM t ORDER BY k")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(k,)| k)
            .collect()
    }

    /// Queued writes not yet taken by the writer.
    fn queued(commit: &GroupCommit) -> usize {
        commit.queue.max_capacity() - commit.queue.capacity()
    }

    /// Starts a write that holds the writer until `gate` opens; returns once it is applying.
    async fn hold(
        commit: &GroupCommit,
    ) -> (
        Arc<Gate>,
        tokio::task::JoinHandle<Result<&'static str, sqlx::Error>>,
    ) {
        let entered = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::new(Gate::default());
        let held = {
            let commit = commit.clone();
            let act = Act::Wait(entered.clone(), gate.clone());
            tokio::spawn(async move { commit.submit(TestJob(act)).await })
        };
        entered.notified().await;
        (gate, held)
    }

    /// Holds the writer busy, queues `acts` (in order) behind it, then lets it go: the acts
    /// are all in the next group. Returns their answers in order.
    async fn one_group(
        commit: &GroupCommit,
        acts: Vec<Act>,
    ) -> Vec<Result<&'static str, sqlx::Error>> {
        let (gate, held) = hold(commit).await;
        let mut answers = Vec::new();
        for act in acts {
            let commit2 = commit.clone();
            answers.push(tokio::spawn(
                async move { commit2.submit(TestJob(act)).await },
            ));
            // Keep the queue order equal to the list order.
            while queued(commit) < answers.len() {
                tokio::task::yield_now().await;
            }
        }
        gate.open();
        held.await.unwrap().unwrap();
        let mut out = Vec::new();
        for answer in answers {
            out.push(answer.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failure_never_rolls_back_its_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        let answers = one_group(
            &commit,
            vec![
                Act::Insert("a"),
                Act::InsertThenRefuse("b"),
                Act::Insert("c"),
                Act::InsertTwice("d"),
                Act::Insert("a"),
                Act::Insert("e"),
            ],
        )
        .await;
        let shown: Vec<String> = answers
            .iter()
            .map(|a| match a {
                Ok(s) => s.to_string(),
                Err(_) => "error".into(),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "inserted",
                "refused",
                "inserted",
                "error",
                "duplicate",
                "inserted"
            ]
        );
        assert_eq!(keys(&pool).await, ["a", "c", "e"]);
        assert_eq!(commit.stats().commits.load(Ordering::Relaxed), 2);
        // The gate write alone, then the six together.
        assert_eq!(commit.stats().sizes[0].load(Ordering::Relaxed), 1);
        assert_eq!(commit.stats().writes.load(Ordering::Relaxed), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upkeep_runs_once_per_group_and_its_failure_keeps_the_writes() {
        use std::sync::atomic::AtomicBool;
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let runs = Arc::new(AtomicU64::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let upkeep: Upkeep = {
            let (runs, fail) = (runs.clone(), fail.clone());
            Arc::new(move |db: &mut Db<'_>| {
                runs.fetch_add(1, Ordering::SeqCst);
                if fail.load(Ordering::SeqCst) {
                    db.execute("INSERT INTO t (k) VALUES ('upkeep')", &[])?;
                    return Err(sqlx::Error::Protocol("upkeep refused".into()));
                }
                // After the group's writes: it sees them.
                db.execute("DELETE FROM t WHERE k = 'scratch'", &[])?;
                Ok(0)
            })
        };
        let commit = GroupCommit::start(pool.clone(), Limits::default(), upkeep);
        let answers = one_group(
            &commit,
            vec![Act::Insert("a"), Act::Insert("scratch"), Act::Insert("b")],
        )
        .await;
        assert!(answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|s| *s == "inserted")));
        // Once per committed group, not once per write: the holding write's group, then
        // the three (together, unless a loaded machine let the writer start early).
        let commits = commit.stats().commits.load(Ordering::Relaxed);
        assert_eq!(runs.load(Ordering::SeqCst), commits);
        assert!(commits < 4, "{commits} groups for 4 writes");
        assert_eq!(keys(&pool).await, ["a", "b"]);
        fail.store(true, Ordering::SeqCst);
        assert_eq!(
            commit.submit(TestJob(Act::Insert("c"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&pool).await, ["a", "b", "c"]);
        assert_eq!(commit.stats().failed_groups.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_acknowledges_nothing_of_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        let answers = one_group(
            &commit,
            vec![Act::Insert("a"), Act::Orphan("o"), Act::Insert("b")],
        )
        .await;
        assert!(answers.iter().all(Result::is_err));
        assert!(keys(&pool).await.is_empty());
        assert_eq!(commit.stats().failed_groups.load(Ordering::Relaxed), 1);
        // The writer goes on with the next group.
        assert_eq!(
            commit.submit(TestJob(Act::Insert("z"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&pool).await, ["z"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_fails_its_group_but_not_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        let answers = one_group(&commit, vec![Act::Insert("a"), Act::Panic]).await;
        assert!(answers.iter().all(Result::is_err));
        assert!(keys(&pool).await.is_empty());
        assert_eq!(
            commit.submit(TestJob(Act::Insert("b"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&pool).await, ["b"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_transactions_within_the_limits() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let limits = Limits {
            max_writes: 8,
            ..Limits::default()
        };
        let commit = GroupCommit::start(pool.clone(), limits, no_upkeep());
        const KEYS: [&str; 40] = [
            "k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11",
            "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23",
            "k24", "k25", "k26", "k27", "k28", "k29", "k30", "k31", "k32", "k33", "k34", "k35",
            "k36", "k37", "k38", "k39",
        ];
        let tasks: Vec<_> = KEYS
            .iter()
            .map(|k| {
                let commit = commit.clone();
                tokio::spawn(async move { commit.submit(TestJob(Act::Insert(k))).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "inserted");
        }
        assert_eq!(keys(&pool).await.len(), KEYS.len());
        let stats = commit.stats();
        let commits = stats.commits.load(Ordering::Relaxed);
        assert_eq!(stats.writes.load(Ordering::Relaxed), 40);
        assert!(commits < 40, "{commits} commits for 40 queued writes");
        assert!(commits >= 5, "a group never exceeds max_writes");
        // Every commit fits the 8 bucket.
        assert_eq!(stats.sizes[3].load(Ordering::Relaxed), commits);
        let mut text = String::new();
        stats.render(&mut text);
        assert!(text.contains("credit_sync_group_commit_size_count "));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_caller_does_not_cancel_its_queued_write() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        let (gate, held) = hold(&commit).await;
        let dropped = {
            let commit = commit.clone();
            tokio::spawn(async move { commit.submit(TestJob(Act::Insert("kept"))).await })
        };
        while queued(&commit) < 1 {
            tokio::task::yield_now().await;
        }
        dropped.abort();
        gate.open();
        held.await.unwrap().unwrap();
        // The next write runs after the dropped one, in queue order.
        assert_eq!(
            commit.submit(TestJob(Act::Insert("next"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&pool).await, ["kept", "next"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_answers_503_with_retry_after_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
            .fetch_one(&pool)
            .await
            .unwrap();
        // The write pool has one connection: the writer's. This caps its database size.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {}",
            pages + 4
        )))
        .execute(&pool)
        .await
        .unwrap();
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        let full = commit.submit(TestJob(Act::Big("big"))).await.unwrap_err();
        let failure = SqliteFailure::of(&full)
            .expect("a typed failure")
            .to_string();
        assert_eq!(
            crate::error::ApiError::from(super::super::ledger_error(full)).into_response_parts(),
            (503, "service_unavailable", Some("1".to_string())),
            "{failure}"
        );
        // In one group with others: the full write fails (503), and whatever else the group
        // answered "inserted" is there.
        let answers = one_group(
            &commit,
            vec![Act::Insert("a"), Act::Big("big2"), Act::Insert("b")],
        )
        .await;
        let big = answers[1].as_ref().unwrap_err();
        assert!(SqliteFailure::of(big).unwrap().is_unavailable(), "{big}");
        let kept: Vec<String> = ["a", "b"]
            .iter()
            .zip([&answers[0], &answers[2]])
            .filter(|(_, a)| a.is_ok())
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(keys(&pool).await, kept);
        for answer in [&answers[0], &answers[2]] {
            if let Err(e) = answer {
                assert!(SqliteFailure::of(e).unwrap().is_unavailable(), "{e}");
            }
        }
        assert_eq!(
            commit.submit(TestJob(Act::Insert("z"))).await.unwrap(),
            "inserted"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_rollback_fails_the_group_and_replaces_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        // The COMMIT fails (a deferred foreign key), and its ROLLBACK is refused: the
        // transaction with "a" and "o" stays open on the connection.
        let answers = one_group(
            &commit,
            vec![Act::RefuseRollbacks, Act::Insert("a"), Act::Orphan("o")],
        )
        .await;
        assert!(answers.iter().all(Result::is_err), "{answers:?}");
        assert_eq!(commit.stats().failed_groups.load(Ordering::Relaxed), 1);
        // The next group runs on a fresh connection: the open transaction was discarded,
        // never committed along with it.
        assert_eq!(
            commit.submit(TestJob(Act::Insert("z"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&pool).await, ["z"]);
    }
}
