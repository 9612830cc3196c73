//! Synchronous SQLite calls on the writer's locked connection handle. Through sqlx every
//! statement is a round trip to its worker thread (two context switches, ~50 µs on a busy
//! 2-core machine, most of a write's cost); a group applies all its statements right here.
//!
//! Soundness rests on one rule: a [`Db`] mutably borrows sqlx's `LockedSqliteHandle` for
//! its whole life, so the compiler keeps it from outliving the lock, and nothing else (sqlx's
//! worker, another `Db`) touches the connection while it exists. Failures come back typed
//! ([`SqliteFailure`], with SQLite's extended result code) so the server can tell "busy,
//! full, I/O: retry later" from a constraint or a bug.

use libsqlite3_sys as ffi;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::LockedSqliteHandle;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A bound parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
}

/// What SQLite answered when a call on the writer's connection failed.
#[derive(Debug, Clone)]
pub struct SqliteFailure {
    /// SQLite's extended result code (`SQLITE_BUSY`, `SQLITE_IOERR_FSYNC`, ...).
    code: c_int,
    message: String,
    /// The statement (or step) that failed.
    during: &'static str,
    /// The failure hit a COMMIT in a way that may still have made the transaction durable
    /// (an I/O error while writing or syncing the commit): nobody can say it was not applied.
    outcome_unknown: bool,
}

impl SqliteFailure {
    fn new(code: c_int, message: impl Into<String>, during: &'static str) -> SqliteFailure {
        SqliteFailure {
            code,
            message: message.into(),
            during,
            outcome_unknown: false,
        }
    }

    /// The writer has no connection to write on (the pool could not open one): nothing was
    /// applied, and the same request may succeed once the database opens again.
    pub fn no_connection(cause: &sqlx::Error) -> SqliteFailure {
        SqliteFailure::new(
            ffi::SQLITE_CANTOPEN,
            format!("no write connection: {cause}"),
            "opening the write connection",
        )
    }

    /// Busy, locked, full, an I/O error or a file that cannot be opened: the database cannot
    /// write right now, and the same request may well succeed later (`503` with
    /// `Retry-After`, not a `500`).
    pub fn is_unavailable(&self) -> bool {
        is_unavailable(self.code)
    }

    /// SQLite's extended result code.
    pub fn result_code(&self) -> c_int {
        self.code
    }

    /// See the field: an I/O error at COMMIT leaves the outcome unknown.
    pub fn outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }

    /// This failure, seen as the failure of a COMMIT.
    pub fn at_commit(mut self) -> SqliteFailure {
        self.outcome_unknown = self.code & 0xff == ffi::SQLITE_IOERR;
        self
    }

    /// The failure as the `sqlx::Error` every ledger call returns (typed inside).
    pub fn into_sqlx(self) -> sqlx::Error {
        sqlx::Error::Database(Box::new(self))
    }

    /// The `SqliteFailure` inside `err`, if it is one.
    pub fn of(err: &sqlx::Error) -> Option<&SqliteFailure> {
        err.as_database_error()?.try_downcast_ref::<SqliteFailure>()
    }
}

/// Whether an (extended or primary) SQLite result code means "the database cannot write now,
/// try again later": `SQLITE_BUSY`, `SQLITE_LOCKED`, `SQLITE_FULL`, `SQLITE_IOERR*`,
/// `SQLITE_CANTOPEN`.
pub fn is_unavailable(code: c_int) -> bool {
    matches!(
        code & 0xff,
        ffi::SQLITE_BUSY
            | ffi::SQLITE_LOCKED
            | ffi::SQLITE_FULL
            | ffi::SQLITE_IOERR
            | ffi::SQLITE_CANTOPEN
    )
}

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sqlite error {} in {}: {}",
            self.code, self.during, self.message
        )
    }
}

impl std::error::Error for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    /// The extended result code, as sqlx's own `SqliteError` gives it.
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// The length SQLite is told for a text of `len` bytes. `sqlite3_bind_text64` takes a
/// 64-bit length and itself refuses (`SQLITE_TOOBIG`) anything over `i32::MAX` or over the
/// connection's length limit, so a long text is refused, never truncated or wrapped.
fn text_len(len: usize) -> ffi::sqlite3_uint64 {
    // usize is at most 64 bits on every target Rust supports.
    len as ffi::sqlite3_uint64
}

/// The length of a statement's SQL for `sqlite3_prepare_v2`, which takes an `int`.
fn sql_len(sql: &'static str) -> Result<c_int, SqliteFailure> {
    c_int::try_from(sql.len())
        .map_err(|_| SqliteFailure::new(ffi::SQLITE_TOOBIG, "statement too long", sql))
}

/// The write connection while the writer holds it locked (the borrow of the lock is the
/// `'c`). Prepared statements are kept for the group and finalized on drop; an open
/// transaction is rolled back on drop (a panic).
pub struct Db<'c> {
    handle: NonNull<ffi::sqlite3>,
    statements: HashMap<&'static str, NonNull<ffi::sqlite3_stmt>>,
    /// Ties the `Db` to the mutable borrow of the lock it came from.
    _lock: PhantomData<&'c mut ()>,
    /// Test-only fault: ROLLBACKs fail without running (SQLite gives no reliable way to make
    /// a real one fail), to prove a failed rollback never lets its group through.
    #[cfg(test)]
    refuse_rollbacks: bool,
}

/// The current row of a query.
pub struct Row(NonNull<ffi::sqlite3_stmt>);

impl Row {
    pub fn int(&self, column: c_int) -> i64 {
        // SAFETY: the statement is live and positioned on a row: only `Db::run` makes a
        // `Row`, right after `sqlite3_step` returned SQLITE_ROW, and lends it only for the
        // duration of the map call (before the next step or reset).
        unsafe { ffi::sqlite3_column_int64(self.0.as_ptr(), column) }
    }

    /// An integer column that may be NULL.
    pub fn opt_int(&self, column: c_int) -> Option<i64> {
        // SAFETY: as in `int`; `sqlite3_column_type` only reads the current row's value.
        let null = unsafe { ffi::sqlite3_column_type(self.0.as_ptr(), column) } == ffi::SQLITE_NULL;
        (!null).then(|| self.int(column))
    }

    pub fn opt_text(&self, column: c_int) -> Option<String> {
        // SAFETY: as in `int`. `sqlite3_column_text` returns NULL or a pointer valid until
        // the next step/reset, `sqlite3_column_bytes` (called after it, as SQLite requires)
        // its length in bytes; the bytes are copied before this returns.
        unsafe {
            let text = ffi::sqlite3_column_text(self.0.as_ptr(), column);
            if text.is_null() {
                return None;
            }
            let len =
                usize::try_from(ffi::sqlite3_column_bytes(self.0.as_ptr(), column)).unwrap_or(0);
            let bytes = std::slice::from_raw_parts(text, len);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    pub fn text(&self, column: c_int) -> String {
        self.opt_text(column).unwrap_or_default()
    }
}

impl<'c> Db<'c> {
    /// Borrows the locked connection for as long as the `Db` lives. Safe: while sqlx's
    /// `LockedSqliteHandle` is held its worker does not use the handle, and the mutable
    /// borrow keeps everyone else (and a second `Db`) off it.
    pub fn new(locked: &'c mut LockedSqliteHandle<'_>) -> Db<'c> {
        Db {
            handle: locked.as_raw_handle(),
            statements: HashMap::new(),
            _lock: PhantomData,
            #[cfg(test)]
            refuse_rollbacks: false,
        }
    }

    /// The failure SQLite reports for `rc`, with its message when the handle holds one.
    fn failure(&self, rc: c_int, during: &'static str) -> SqliteFailure {
        // SAFETY: the handle is open and ours (see `new`); `sqlite3_extended_errcode` only
        // reads the connection's last error.
        let extended = unsafe { ffi::sqlite3_extended_errcode(self.handle.as_ptr()) };
        if extended & 0xff == rc & 0xff {
            // SAFETY: as above; `sqlite3_errmsg` returns a NUL-terminated string owned by
            // SQLite, valid until the next call on the handle; it is copied at once.
            let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.handle.as_ptr())) };
            SqliteFailure::new(extended, message.to_string_lossy(), during)
        } else {
            // The call failed without recording an error on the connection (a bind that
            // SQLite refused up front): describe the code itself.
            // SAFETY: `sqlite3_errstr` returns a static NUL-terminated string for any code.
            let message = unsafe { CStr::from_ptr(ffi::sqlite3_errstr(rc)) };
            SqliteFailure::new(rc, message.to_string_lossy(), during)
        }
    }

    fn error(&self, rc: c_int, during: &'static str) -> sqlx::Error {
        self.failure(rc, during).into_sqlx()
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        // SAFETY: the handle is open and ours (see `new`).
        unsafe { ffi::sqlite3_get_autocommit(self.handle.as_ptr()) == 0 }
    }

    /// Runs a statement without parameters or results (BEGIN, SAVEPOINT, COMMIT...).
    pub fn exec(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        self.query(sql, &[], |_| ()).map(|_| ())
    }

    /// Rolls the open transaction back, and says whether it is gone. `Err` means SQLite
    /// refused and the transaction may still be open: the caller must not reuse the
    /// connection as it is.
    pub fn rollback(&mut self) -> Result<(), SqliteFailure> {
        if !self.in_transaction() {
            return Ok(());
        }
        // Statements that are mid-step can make ROLLBACK fail; ours are always reset, and
        // finalizing them all here removes even that doubt.
        self.finalize_all();
        #[cfg(test)]
        if self.refuse_rollbacks {
            return Err(SqliteFailure::new(
                ffi::SQLITE_BUSY,
                "rollback refused (test fault)",
                "ROLLBACK",
            ));
        }
        // SAFETY: the handle is open and ours; the SQL is a NUL-terminated literal; no
        // callback or error-message out-pointer is passed.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.handle.as_ptr(),
                c"ROLLBACK".as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.failure(rc, "ROLLBACK"));
        }
        if self.in_transaction() {
            return Err(SqliteFailure::new(
                ffi::SQLITE_ERROR,
                "the transaction is still open after ROLLBACK",
                "ROLLBACK",
            ));
        }
        Ok(())
    }

    /// Test-only: every later ROLLBACK on this `Db` fails (see the field).
    #[cfg(test)]
    pub fn refuse_rollbacks(&mut self) {
        self.refuse_rollbacks = true;
    }

    /// Runs a write; returns the number of rows it changed.
    pub fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        self.query(sql, params, |_| ())?;
        // SAFETY: the handle is open and ours.
        let changes = unsafe { ffi::sqlite3_changes64(self.handle.as_ptr()) };
        Ok(u64::try_from(changes).unwrap_or(0))
    }

    /// Runs an INSERT of one row and returns its rowid. `sqlite3_last_insert_rowid`, not a
    /// `RETURNING` clause: SQLite buffers a RETURNING row in an ephemeral table it opens and
    /// frees per call, a fifth of a single write's statement time (issue 16). The rowid of a
    /// row a trigger inserts is not it: SQLite restores the outer one when the trigger ends.
    pub fn insert(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<i64, sqlx::Error> {
        if self.execute(sql, params)? != 1 {
            return Err(sqlx::Error::RowNotFound);
        }
        // SAFETY: the handle is open and ours.
        Ok(unsafe { ffi::sqlite3_last_insert_rowid(self.handle.as_ptr()) })
    }

    /// Runs `sql` to completion and maps its first row, if any.
    pub fn query<T>(
        &mut self,
        sql: &'static str,
        params: &[Value<'_>],
        map: impl FnOnce(&Row) -> T,
    ) -> Result<Option<T>, sqlx::Error> {
        let stmt = self.statement(sql)?;
        let result = self.run(stmt, sql, params, map);
        // SAFETY: the statement was prepared on this connection and is not finalized (it is
        // in `statements`); reset makes it reusable and releases its locks on the database.
        // Their return values repeat the step's error, already in `result`.
        unsafe {
            ffi::sqlite3_reset(stmt.as_ptr());
            ffi::sqlite3_clear_bindings(stmt.as_ptr());
        }
        result
    }

    fn run<T>(
        &mut self,
        stmt: NonNull<ffi::sqlite3_stmt>,
        sql: &'static str,
        params: &[Value<'_>],
        map: impl FnOnce(&Row) -> T,
    ) -> Result<Option<T>, sqlx::Error> {
        let raw = stmt.as_ptr();
        for (i, param) in params.iter().enumerate() {
            let index = c_int::try_from(i + 1)
                .map_err(|_| SqliteFailure::new(ffi::SQLITE_RANGE, "too many parameters", sql))
                .map_err(SqliteFailure::into_sqlx)?;
            // SAFETY: `raw` is a live statement of this connection. The text pointer is valid
            // for `len` bytes for the duration of the call, and SQLITE_TRANSIENT makes SQLite
            // copy it before returning. The 64-bit length cannot wrap (see `text_len`).
            let rc = unsafe {
                match *param {
                    Value::Int(v) | Value::OptInt(Some(v)) => {
                        ffi::sqlite3_bind_int64(raw, index, v)
                    }
                    Value::Text(s) | Value::OptText(Some(s)) => ffi::sqlite3_bind_text64(
                        raw,
                        index,
                        s.as_ptr() as *const c_char,
                        text_len(s.len()),
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Value::OptText(None) | Value::OptInt(None) => {
                        ffi::sqlite3_bind_null(raw, index)
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error(rc, sql));
            }
        }
        let mut map = Some(map);
        let mut first = None;
        loop {
            // SAFETY: `raw` is a live, bound statement of this connection.
            match unsafe { ffi::sqlite3_step(raw) } {
                ffi::SQLITE_ROW => {
                    if let Some(map) = map.take() {
                        first = Some(map(&Row(stmt)));
                    }
                }
                ffi::SQLITE_DONE => return Ok(first),
                rc => return Err(self.error(rc, sql)),
            }
        }
    }

    fn statement(&mut self, sql: &'static str) -> Result<NonNull<ffi::sqlite3_stmt>, sqlx::Error> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(*stmt);
        }
        let len = sql_len(sql).map_err(SqliteFailure::into_sqlx)?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: the handle is open and ours; `sql` is valid for `len` bytes (no NUL is
        // needed when the length is given); `stmt` is a valid out-pointer.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.handle.as_ptr(),
                sql.as_ptr() as *const c_char,
                len,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        match NonNull::new(stmt) {
            Some(stmt) if rc == ffi::SQLITE_OK => {
                self.statements.insert(sql, stmt);
                Ok(stmt)
            }
            _ => {
                let err = self.error(rc, sql);
                // SAFETY: `stmt` is NULL or a statement prepared just now and never used
                // again; finalize accepts both.
                unsafe { ffi::sqlite3_finalize(stmt) };
                Err(err)
            }
        }
    }

    fn finalize_all(&mut self) {
        for (_, stmt) in self.statements.drain() {
            // SAFETY: each statement was prepared on this connection, and draining the map
            // makes this the only finalize of it.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
        }
    }
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        self.finalize_all();
        // Never hand the connection back with a half-done group (a panic got here). If even
        // this fails, the writer sees the open transaction on the handle and discards the
        // connection (see `group_commit::apply_group`).
        if let Err(e) = self.rollback() {
            tracing::error!(error = %e, "rollback of an abandoned group failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
    use std::str::FromStr;

    /// A pool of one connection to a new database file at `url` (SQLite's default busy
    /// timeout unless given), with `schema` applied.
    async fn single_connection(
        url: &str,
        busy_timeout: Option<std::time::Duration>,
        schema: Option<&'static str>,
    ) -> SqlitePool {
        let mut options = SqliteConnectOptions::from_str(url)
            .unwrap()
            .create_if_missing(true);
        if let Some(timeout) = busy_timeout {
            options = options.busy_timeout(timeout);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        if let Some(schema) = schema {
            sqlx::query(schema).execute(&pool).await.unwrap();
        }
        pool
    }

    #[tokio::test]
    async fn binds_reads_and_never_leaves_a_transaction_open() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/raw.db", dir.path().display());
        let pool = single_connection(
            &url,
            None,
            Some("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"),
        )
        .await;
        let mut conn = pool.acquire().await.unwrap();
        {
            let mut locked = conn.lock_handle().await.unwrap();
            let mut db = Db::new(&mut locked);
            let insert = "INSERT INTO t (id, name) VALUES (?, ?)";
            assert_eq!(
                db.execute(insert, &[Value::Int(1), Value::Text("ä'b")])
                    .unwrap(),
                1
            );
            assert_eq!(
                db.execute(insert, &[Value::Int(2), Value::OptText(None)])
                    .unwrap(),
                1
            );
            let select = "SELECT id, name FROM t WHERE id = ?";
            assert_eq!(
                db.query(select, &[Value::Int(1)], |r| (r.int(0), r.opt_text(1)))
                    .unwrap(),
                Some((1, Some("ä'b".to_string())))
            );
            assert_eq!(
                db.query(select, &[Value::Int(2)], |r| r.opt_text(1))
                    .unwrap(),
                Some(None)
            );
            assert_eq!(
                db.query(select, &[Value::Int(3)], |r| r.int(0)).unwrap(),
                None
            );
            // A constraint error is an error, and the statement stays usable.
            let err = db
                .execute(insert, &[Value::Int(1), Value::Text("again")])
                .unwrap_err();
            assert!(err.to_string().contains("UNIQUE"), "{err}");
            assert!(db.exec("NOT SQL").is_err());
            // Dropped inside a transaction (as after a panic): rolled back.
            db.exec("BEGIN IMMEDIATE").unwrap();
            db.execute(insert, &[Value::Int(3), Value::Text("gone")])
                .unwrap();
            assert!(db.in_transaction());
        }
        drop(conn);
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 2);
        // The connection is usable by sqlx again, outside any transaction.
        sqlx::query("INSERT INTO t (id, name) VALUES (4, 'x')")
            .execute(&pool)
            .await
            .unwrap();
    }

    /// A second connection (its own pool) that holds the write lock while `hold` runs.
    async fn other_writer(url: &str) -> sqlx::SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteConnectOptions::from_str(url).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn failures_are_typed_busy_is_unavailable_a_constraint_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/typed.db", dir.path().display());
        let pool = single_connection(
            &url,
            Some(std::time::Duration::from_millis(20)),
            Some("CREATE TABLE t (id INTEGER PRIMARY KEY)"),
        )
        .await;
        let other = other_writer(&url).await;
        let mut holder = other.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *holder)
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let mut locked = conn.lock_handle().await.unwrap();
        let mut db = Db::new(&mut locked);
        let busy = db.exec("BEGIN IMMEDIATE").unwrap_err();
        let failure = SqliteFailure::of(&busy).expect("a typed failure");
        assert_eq!(failure.code & 0xff, ffi::SQLITE_BUSY, "{busy}");
        assert!(failure.is_unavailable() && !failure.outcome_unknown());
        let answer =
            crate::error::ApiError::from(super::super::ledger_error(busy)).into_response_parts();
        assert_eq!(answer, (503, "service_unavailable", Some("1".to_string())));
        // An I/O error at COMMIT may have committed: its outcome is unknown.
        let ioerr = SqliteFailure::new(ffi::SQLITE_IOERR_FSYNC, "fsync", "COMMIT").at_commit();
        assert!(ioerr.is_unavailable() && ioerr.outcome_unknown());
        let full = SqliteFailure::new(ffi::SQLITE_FULL, "full", "COMMIT").at_commit();
        assert!(full.is_unavailable() && !full.outcome_unknown());
        sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
        drop(holder);
        // A constraint error stays a constraint error: typed, and not "retry later".
        db.execute("INSERT INTO t (id) VALUES (?)", &[Value::Int(1)])
            .unwrap();
        let taken = db
            .execute("INSERT INTO t (id) VALUES (?)", &[Value::Int(1)])
            .unwrap_err();
        let db_error = taken.as_database_error().unwrap();
        assert_eq!(db_error.kind(), ErrorKind::UniqueViolation, "{taken}");
        assert!(!SqliteFailure::of(&taken).unwrap().is_unavailable());
        assert_eq!(
            crate::error::ApiError::from(super::super::ledger_error(taken)).into_response_parts(),
            (500, "internal_error", None)
        );
    }

    #[tokio::test]
    async fn a_text_longer_than_i32_max_is_refused_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/long.db", dir.path().display());
        let pool = single_connection(&url, None, Some("CREATE TABLE t (name TEXT)")).await;
        // 4 GiB + 3 zero bytes: `as c_int` would make that 3. Zeroed pages are never
        // touched here (SQLite refuses on the length alone), so this costs no memory.
        let zeros = vec![0u8; (1usize << 32) + 3];
        // SAFETY: NUL bytes are valid UTF-8.
        let long = unsafe { std::str::from_utf8_unchecked(&zeros) };
        let mut conn = pool.acquire().await.unwrap();
        let mut locked = conn.lock_handle().await.unwrap();
        let mut db = Db::new(&mut locked);
        let err = db
            .execute("INSERT INTO t (name) VALUES (?)", &[Value::Text(long)])
            .unwrap_err();
        let failure = SqliteFailure::of(&err).expect("a typed failure");
        assert_eq!(failure.code, ffi::SQLITE_TOOBIG, "{err}");
        assert_eq!(
            db.query("SELECT COUNT(*) FROM t", &[], |r| r.int(0))
                .unwrap(),
            Some(0)
        );
        assert_eq!(text_len(5), 5);
    }

    #[tokio::test]
    async fn a_refused_rollback_is_reported_and_the_transaction_stays_visible() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/rb.db", dir.path().display());
        let pool = single_connection(&url, None, None).await;
        let mut conn = pool.acquire().await.unwrap();
        let mut locked = conn.lock_handle().await.unwrap();
        let mut db = Db::new(&mut locked);
        assert!(db.rollback().is_ok(), "no transaction: nothing to do");
        db.exec("BEGIN").unwrap();
        db.refuse_rollbacks();
        assert!(db.rollback().is_err());
        assert!(db.in_transaction());
        db.refuse_rollbacks = false;
        db.rollback().unwrap();
        assert!(!db.in_transaction());
    }
}
