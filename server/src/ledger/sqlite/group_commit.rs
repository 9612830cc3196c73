//! Group commit: one writer thread owns the SQLite write connection and applies every queued
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
//!
//! The writer is a thread of its own that keeps the connection locked and its statements
//! prepared while it runs: a write costs its hand-over to the thread and its answer back,
//! and nothing per group. An idle writer polls its queue a moment before it sleeps
//! ([`Limits::idle_spin`]), so a bot's next write does not also pay the thread's wake-up
//! (issue 16's last millisecond, docs/benchmarks.md).

use super::raw::{Db, SqliteFailure};
use sqlx::SqlitePool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch};

/// What one write did inside its savepoint, and whether to keep it.
pub struct Step<T> {
    pub output: T,
    /// `false` rolls back this write's savepoint (a refusal, a replay): nothing of it stays.
    pub keep: bool,
}

/// One write the writer thread applies inside a group.
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

/// How the writer takes its groups: how large one may grow (a group always takes at least
/// one write), and how long an idle writer keeps looking for the next one.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many requests per transaction.
    pub max_writes: usize,
    /// Stop adding requests once their changes reach this many (batches are heavy).
    pub max_weight: usize,
    /// Requests that may wait in the queue (beyond it, `submit` waits).
    pub queue: usize,
    /// After a group, a writer that finds the queue empty polls it for this long, giving
    /// its CPU to anyone who wants it between polls, before it sleeps. A sleeping writer
    /// costs the next write its wake-up, and on a VM an idle vCPU's halt and wake; a bot's
    /// next write from one client comes in well under this. Zero sleeps at once.
    pub idle_spin: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_writes: 256,
            max_weight: 4096,
            queue: 4096,
            // A sequential write's p50 fell 0.56–0.61 → 0.40–0.49 ms (docs/benchmarks.md,
            // issue 16's last millisecond); a client's next write comes 0.2–0.3 ms later.
            idle_spin: Duration::from_micros(400),
        }
    }
}

/// What the ledger does on the writer's connection besides the writes. A closure is an
/// upkeep with only [`GroupUpkeep::group`].
pub type Upkeep = Arc<dyn GroupUpkeep>;

pub trait GroupUpkeep: Send + Sync {
    /// Runs each time the writer takes a connection, outside any transaction and before
    /// its first group (the ledger builds its index of spent signatures there). A failure
    /// fails the next group, and the writer takes a fresh connection.
    fn prepare(&self, _db: &mut Db<'_>) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Work a group does once, after its writes and before its COMMIT, in a savepoint of
    /// its own (the ledger prunes expired signatures there: once per group instead of once
    /// per write). A failure rolls back only that savepoint and is logged; the writes
    /// stand. Its value, a mark read inside the transaction (the ledger's: the latest event
    /// `seq`), is what [`GroupCommit::commits`] shows once the group committed;
    /// [`UNKNOWN_MARK`] when the upkeep failed.
    fn group(&self, db: &mut Db<'_>) -> Result<i64, sqlx::Error>;
}

impl<F> GroupUpkeep for F
where
    F: Fn(&mut Db<'_>) -> Result<i64, sqlx::Error> + Send + Sync,
{
    fn group(&self, db: &mut Db<'_>) -> Result<i64, sqlx::Error> {
        self(db)
    }
}

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

/// The handle requests use to queue their writes. Cloning shares the one writer thread,
/// which ends after [`GroupCommit::stop`] or when the last handle is dropped (after
/// finishing what is queued).
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Message>,
    stats: Arc<Stats>,
    /// The last committed group's upkeep mark: changes after each durable COMMIT (the
    /// event feed's wake-up).
    commits: watch::Receiver<i64>,
    /// Messages in the queue's order (counted once `send` has put them there; a reserved
    /// but not yet sent slot does not count), so a test can queue writes in a known order.
    #[cfg(test)]
    sent: Arc<AtomicU64>,
}

/// What the writer thread receives.
enum Message {
    Write(Box<dyn Queued>),
    /// Finish what was queued before, hand the connection back to its pool, then answer.
    Stop(oneshot::Sender<()>),
}

impl GroupCommit {
    /// Starts the writer thread on `pool` (the single-connection write pool, which the
    /// writer then holds for as long as it runs: nobody else may use it), running `upkeep`
    /// in every group. Needs a runtime (the pool's).
    pub fn start(pool: SqlitePool, limits: Limits, upkeep: Upkeep) -> GroupCommit {
        let (queue, receiver) = mpsc::channel(limits.queue.max(1));
        let stats = Arc::new(Stats::default());
        let (committed, commits) = watch::channel(UNKNOWN_MARK);
        let writer = Writer {
            runtime: tokio::runtime::Handle::current(),
            pool,
            receiver,
            limits,
            stats: stats.clone(),
            upkeep,
            committed,
            stop: None,
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run())
            .expect("cannot start the SQLite writer thread");
        GroupCommit {
            queue,
            stats,
            commits,
            #[cfg(test)]
            sent: Arc::default(),
        }
    }

    /// Changes after every committed group, to its upkeep's mark.
    pub fn commits(&self) -> watch::Receiver<i64> {
        self.commits.clone()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The counters, for a watcher that outlives a borrow (the background checkpoints).
    pub fn shared_stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Lets the writer finish what is queued and hand its connection back (so the pool
    /// can close); later writes are refused. Returns once the connection is back.
    pub async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.queue.send(Message::Stop(done)).await.is_ok() {
            #[cfg(test)]
            self.sent.fetch_add(1, Ordering::SeqCst);
            let _ = stopped.await;
        }
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
            .send(Message::Write(queued))
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        #[cfg(test)]
        self.sent.fetch_add(1, Ordering::SeqCst);
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

/// Why the writer let go of its connection.
enum Release {
    /// Stopped or every handle dropped: hand the connection back and end.
    End,
    /// A failed group could not be rolled back: close the connection (SQLite rolls the
    /// transaction back on close) and go on with a fresh one.
    Discard,
}

/// The writer thread. It holds the write connection locked, with its prepared statements,
/// for as long as it runs: a write costs one hand-over from its request to this thread and
/// one back, nothing per group (no pool checkout, no sqlx worker round trip, no task).
struct Writer {
    runtime: tokio::runtime::Handle,
    pool: SqlitePool,
    receiver: mpsc::Receiver<Message>,
    limits: Limits,
    stats: Arc<Stats>,
    upkeep: Upkeep,
    committed: watch::Sender<i64>,
    /// A stop request seen while a group was being taken: answered once it is done.
    stop: Option<oneshot::Sender<()>>,
}

impl Writer {
    fn run(mut self) {
        // The pool's own tasks (returning or closing the connection) spawn on this runtime.
        let runtime = self.runtime.clone();
        let _context = runtime.enter();
        loop {
            let mut conn = match runtime.block_on(self.pool.acquire()) {
                Ok(conn) => conn,
                Err(e) => {
                    // No connection (the pool closed, the file is gone): fail what comes
                    // until one opens again.
                    tracing::error!(error = %e, "the writer cannot get the write connection");
                    if !self.fail_next_group(&e) {
                        break;
                    }
                    continue;
                }
            };
            let release = match runtime.block_on(conn.lock_handle()) {
                Ok(mut locked) => self.prepare_and_serve(&mut Db::new(&mut locked)),
                Err(e) => self.give_up_connection("lock", &e),
            };
            match release {
                Release::End => break,
                Release::Discard => {
                    tracing::error!(
                        "closing the write connection (a failed group could not be rolled back, or it could not be readied)"
                    );
                    if let Err(e) = runtime.block_on(conn.close()) {
                        tracing::error!(error = %e, "closing the write connection failed");
                    }
                }
            }
        }
        // The connection is back in its pool (dropped above): the stopper may close it.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Prepares a connection just taken (see [`GroupUpkeep::prepare`]), then serves it.
    fn prepare_and_serve(&mut self, db: &mut Db<'_>) -> Release {
        match self.upkeep.prepare(db) {
            Ok(()) => self.serve(db),
            Err(e) => self.give_up_connection("prepare", &e),
        }
    }

    /// The connection could not be made ready (`during` says how far it got): the next
    /// group is answered with `e`, and the connection is closed, or the writer ends when
    /// no group comes.
    fn give_up_connection(&mut self, during: &'static str, e: &sqlx::Error) -> Release {
        tracing::error!(error = %e, during, "the writer cannot ready the write connection");
        if self.fail_next_group(e) {
            Release::Discard
        } else {
            Release::End
        }
    }

    /// Commits groups on `db` until told to stop or the connection must go.
    fn serve(&mut self, db: &mut Db<'_>) -> Release {
        while let Some(mut group) = self.next_group() {
            let (result, clean) = apply_group(db, &mut group, &*self.upkeep);
            self.settle(group, result);
            if !clean {
                return Release::Discard;
            }
        }
        Release::End
    }

    /// Waits for the next write and takes what else is queued (within the limits); `None`
    /// once stopped or every handle is gone.
    fn next_group(&mut self) -> Option<Vec<Box<dyn Queued>>> {
        if self.stop.is_some() {
            return None;
        }
        let first = match self.next_message()? {
            Message::Write(first) => first,
            Message::Stop(stop) => {
                self.stop = Some(stop);
                return None;
            }
        };
        let mut weight = first.weight();
        let mut group = vec![first];
        while group.len() < self.limits.max_writes && weight < self.limits.max_weight {
            match self.receiver.try_recv() {
                Ok(Message::Write(next)) => {
                    weight += next.weight();
                    group.push(next);
                }
                Ok(Message::Stop(stop)) => {
                    // This group is the last one.
                    self.stop = Some(stop);
                    break;
                }
                Err(_) => break,
            }
        }
        Some(group)
    }

    /// The next message, polled for [`Limits::idle_spin`] (yielding the CPU between polls)
    /// before the writer sleeps until one comes; `None` once every handle is gone.
    fn next_message(&mut self) -> Option<Message> {
        let spin_until = Instant::now() + self.limits.idle_spin;
        loop {
            match self.receiver.try_recv() {
                Ok(message) => return Some(message),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) if Instant::now() < spin_until => std::thread::yield_now(),
                Err(TryRecvError::Empty) => return self.receiver.blocking_recv(),
            }
        }
    }

    /// Answers the next group with `e` (no connection to apply it on); `false` when there
    /// is none (stopped or every handle gone).
    fn fail_next_group(&mut self, e: &sqlx::Error) -> bool {
        match self.next_group() {
            Some(group) => {
                // Typed, so the requests answer `503` with `Retry-After`: nothing was applied.
                self.settle(group, Err(SqliteFailure::no_connection(e).into_sqlx()));
                true
            }
            None => false,
        }
    }

    /// Counts the group, wakes the feed's watchers after a commit, answers every write.
    fn settle(&self, group: Vec<Box<dyn Queued>>, result: Result<i64, sqlx::Error>) {
        match &result {
            // Every commit wakes the watchers, even with the mark unchanged.
            Ok(mark) => {
                self.committed.send_replace(*mark);
            }
            Err(e) => {
                tracing::error!(error = %e, size = group.len(), "group commit failed; no write of the group was acknowledged");
            }
        }
        self.stats.observe(group.len(), result.is_ok());
        for queued in group {
            queued.answer(result.as_ref().map(|_| ()));
        }
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

/// Applies the group on the writer's connection; says whether the connection is clean
/// afterwards (no transaction left open). A panic in a write's code fails its group (the
/// transaction is rolled back), not the writer.
fn apply_group(
    db: &mut Db<'_>,
    group: &mut [Box<dyn Queued>],
    upkeep: &dyn GroupUpkeep,
) -> (Result<i64, sqlx::Error>, bool) {
    // A transaction left open by an earlier group must never be committed with this one.
    let result = match db.rollback() {
        Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            apply_in_transaction(db, group, upkeep)
        }))
        .unwrap_or_else(|_| {
            tracing::error!(
                size = group.len(),
                "a write's code panicked; its group was not applied"
            );
            Err(sqlx::Error::Protocol(
                "a write of the group failed (panicked)".into(),
            ))
        }),
        Err(e) => Err(e.into_sqlx()),
    };
    // `apply_in_transaction` rolled back whatever failed (not after a panic: do it here); if
    // that was refused the transaction is still open, and the connection must go.
    let clean = db.rollback().is_ok();
    (result, clean)
}

/// The group in one transaction; on any failure the transaction is rolled back, and a
/// refused rollback is logged and left for [`apply_group`] to see (the handle still has a
/// transaction open) and act on.
fn apply_in_transaction(
    db: &mut Db<'_>,
    group: &mut [Box<dyn Queued>],
    upkeep: &dyn GroupUpkeep,
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
fn run_upkeep(db: &mut Db<'_>, upkeep: &dyn GroupUpkeep) -> Result<i64, sqlx::Error> {
    db.exec("SAVEPOINT group_upkeep")?;
    let mark = match upkeep.group(db) {
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
        Arc::new(|_: &mut Db<'_>| Ok(0))
    }

    /// The keys in `t`, read on a connection of their own (the writer holds the pool's).
    async fn keys(dir: &tempfile::TempDir) -> Vec<String> {
        let url = format!("sqlite://{}/g.db", dir.path().display());
        let reader = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::from_str(&url)
                    .unwrap()
                    .read_only(true),
            )
            .await
            .unwrap();
        let keys = sqlx::query_as::<_, (String,)>("SELECT k FROM t ORDER BY k")
            .fetch_all(&reader)
            .await
            .unwrap()
            .into_iter()
            .map(|(k,)| k)
            .collect();
        reader.close().await;
        keys
    }

    /// Messages sent to the writer so far. A slot counts only once its message is in the
    /// queue; the queue's capacity drops as soon as one is reserved, before the message is
    /// in, so a write sent next could overtake it.
    fn sent(commit: &GroupCommit) -> u64 {
        commit.sent.load(Ordering::SeqCst)
    }

    /// Waits until `n` more messages than `base` are in the queue.
    async fn until_sent(commit: &GroupCommit, base: u64, n: u64) {
        while sent(commit) < base + n {
            tokio::task::yield_now().await;
        }
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
        let base = sent(commit);
        let held = {
            let commit = commit.clone();
            let act = Act::Wait(entered.clone(), gate.clone());
            tokio::spawn(async move { commit.submit(TestJob(act)).await })
        };
        entered.notified().await;
        // Its own count too, so what the caller sends next is counted after it.
        until_sent(commit, base, 1).await;
        (gate, held)
    }

    /// Holds the writer busy, queues `acts` (in order) behind it, then lets it go: the acts
    /// are all in the next group. Returns their answers in order.
    async fn one_group(
        commit: &GroupCommit,
        acts: Vec<Act>,
    ) -> Vec<Result<&'static str, sqlx::Error>> {
        let (gate, held) = hold(commit).await;
        let base = sent(commit);
        let mut answers = Vec::new();
        for act in acts {
            let commit2 = commit.clone();
            answers.push(tokio::spawn(
                async move { commit2.submit(TestJob(act)).await },
            ));
            // Keep the queue order equal to the list order.
            until_sent(commit, base, answers.len() as u64).await;
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
        assert_eq!(keys(&dir).await, ["a", "c", "e"]);
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
        assert_eq!(keys(&dir).await, ["a", "b"]);
        fail.store(true, Ordering::SeqCst);
        assert_eq!(
            commit.submit(TestJob(Act::Insert("c"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&dir).await, ["a", "b", "c"]);
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
        assert!(keys(&dir).await.is_empty());
        assert_eq!(commit.stats().failed_groups.load(Ordering::Relaxed), 1);
        // The writer goes on with the next group.
        assert_eq!(
            commit.submit(TestJob(Act::Insert("z"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&dir).await, ["z"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_fails_its_group_but_not_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        let answers = one_group(&commit, vec![Act::Insert("a"), Act::Panic]).await;
        assert!(answers.iter().all(Result::is_err));
        assert!(keys(&dir).await.is_empty());
        assert_eq!(
            commit.submit(TestJob(Act::Insert("b"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&dir).await, ["b"]);
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
        assert_eq!(keys(&dir).await.len(), KEYS.len());
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
        let base = sent(&commit);
        let dropped = {
            let commit = commit.clone();
            tokio::spawn(async move { commit.submit(TestJob(Act::Insert("kept"))).await })
        };
        until_sent(&commit, base, 1).await;
        dropped.abort();
        gate.open();
        held.await.unwrap().unwrap();
        // The next write runs after the dropped one, in queue order.
        assert_eq!(
            commit.submit(TestJob(Act::Insert("next"))).await.unwrap(),
            "inserted"
        );
        assert_eq!(keys(&dir).await, ["kept", "next"]);
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
        assert_eq!(keys(&dir).await, kept);
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
        assert_eq!(keys(&dir).await, ["z"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_write_connection_answers_503_and_the_writer_opens_one_again() {
        let dir = tempfile::tempdir().unwrap();
        pool(&dir).await.close().await;
        let db = dir.path().join("g.db");
        let away = dir.path().join("g.db.away");
        // No `create_if_missing`: a database that is gone stays gone.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_millis(300))
            .connect_with(
                SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
                    .unwrap()
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full),
            )
            .await
            .unwrap();
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        assert_eq!(
            commit.submit(TestJob(Act::Insert("a"))).await.unwrap(),
            "inserted"
        );
        // The file goes away under the open connection; a group whose rollback is refused
        // makes the writer close that connection, and it cannot open another.
        std::fs::rename(&db, &away).unwrap();
        let answers = one_group(&commit, vec![Act::RefuseRollbacks, Act::Orphan("o")]).await;
        assert!(answers.iter().all(Result::is_err), "{answers:?}");
        let refused = commit.submit(TestJob(Act::Insert("b"))).await.unwrap_err();
        assert!(
            SqliteFailure::of(&refused).is_some_and(SqliteFailure::is_unavailable),
            "{refused}"
        );
        assert_eq!(
            crate::error::ApiError::from(super::super::ledger_error(refused)).into_response_parts(),
            (503, "service_unavailable", Some("1".to_string()))
        );
        // Back in place: the writer opens it again (the first write may still meet the
        // failed attempt in progress) and nothing of the failed writes is there.
        std::fs::rename(&away, &db).unwrap();
        let mut inserted = false;
        for _ in 0..10 {
            if commit.submit(TestJob(Act::Insert("c"))).await.is_ok() {
                inserted = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(inserted, "the writer never opened the database again");
        assert_eq!(keys(&dir).await, ["a", "c"]);
        commit.stop().await;
        pool.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stop_finishes_the_queue_and_hands_the_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let commit = GroupCommit::start(pool.clone(), Limits::default(), no_upkeep());
        // Statements stay prepared across groups: the same write many times, one group each.
        for k in ["a", "b", "c"] {
            assert_eq!(
                commit.submit(TestJob(Act::Insert(k))).await.unwrap(),
                "inserted"
            );
        }
        let (gate, held) = hold(&commit).await;
        let base = sent(&commit);
        let behind = {
            let commit = commit.clone();
            tokio::spawn(async move { commit.submit(TestJob(Act::Insert("d"))).await })
        };
        until_sent(&commit, base, 1).await;
        let stopping = {
            let commit = commit.clone();
            tokio::spawn(async move { commit.stop().await })
        };
        gate.open();
        held.await.unwrap().unwrap();
        // What was queued before the stop is applied; the stop returns with the connection
        // back in the pool, so the pool serves (and closes) again.
        assert_eq!(behind.await.unwrap().unwrap(), "inserted");
        stopping.await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 4);
        assert!(commit.submit(TestJob(Act::Insert("e"))).await.is_err());
        pool.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_writer_serves_the_next_write_whether_it_still_polls_or_sleeps() {
        for idle_spin in [
            Duration::ZERO,
            Duration::from_millis(5),
            Duration::from_secs(60),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let pool = pool(&dir).await;
            let limits = Limits {
                idle_spin,
                ..Limits::default()
            };
            let commit = GroupCommit::start(pool.clone(), limits, no_upkeep());
            for k in ["a", "b", "c"] {
                // Past a 5 ms poll the writer sleeps; within a minute's it is still polling.
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_eq!(
                    commit.submit(TestJob(Act::Insert(k))).await.unwrap(),
                    "inserted",
                    "idle_spin {idle_spin:?}"
                );
            }
            // A stop reaches a polling writer too.
            commit.stop().await;
            assert_eq!(keys(&dir).await, ["a", "b", "c"]);
            pool.close().await;
        }
    }
}
