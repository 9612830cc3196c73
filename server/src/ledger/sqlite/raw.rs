//! Synchronous SQLite calls on the writer's locked connection handle. Through sqlx every
//! statement is a round trip to its worker thread (two context switches, ~50 µs on a busy
//! 2-core machine, most of a write's cost); a group applies all its statements right here.

use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr};
use std::ptr::NonNull;

/// A bound parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
}

/// The write connection while the writer holds it locked. Prepared statements are kept for
/// the group and finalized on drop; an open transaction is rolled back on drop (a panic).
pub struct Db {
    handle: NonNull<ffi::sqlite3>,
    statements: HashMap<&'static str, NonNull<ffi::sqlite3_stmt>>,
}

/// The current row of a query.
pub struct Row(NonNull<ffi::sqlite3_stmt>);

impl Row {
    pub fn int(&self, column: c_int) -> i64 {
        // SAFETY: the statement is positioned on a row (only `Db::query` makes a `Row`).
        unsafe { ffi::sqlite3_column_int64(self.0.as_ptr(), column) }
    }

    pub fn opt_text(&self, column: c_int) -> Option<String> {
        // SAFETY: as above; the text pointer is valid until the next step, and copied now.
        unsafe {
            let text = ffi::sqlite3_column_text(self.0.as_ptr(), column);
            if text.is_null() {
                return None;
            }
            let len = ffi::sqlite3_column_bytes(self.0.as_ptr(), column) as usize;
            let bytes = std::slice::from_raw_parts(text, len);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    pub fn text(&self, column: c_int) -> String {
        self.opt_text(column).unwrap_or_default()
    }
}

impl Db {
    /// # Safety
    /// `handle` must be an open connection that nothing else uses while this `Db` lives
    /// (sqlx's `LockedSqliteHandle` guarantees that for as long as it is held).
    pub unsafe fn new(handle: NonNull<ffi::sqlite3>) -> Db {
        Db {
            handle,
            statements: HashMap::new(),
        }
    }

    fn error(&self, rc: c_int, what: &str) -> sqlx::Error {
        // SAFETY: the handle is open; errmsg returns a NUL-terminated string owned by SQLite.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.handle.as_ptr())) };
        sqlx::Error::Protocol(format!(
            "sqlite error {rc} in {what}: {}",
            message.to_string_lossy()
        ))
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        // SAFETY: the handle is open.
        unsafe { ffi::sqlite3_get_autocommit(self.handle.as_ptr()) == 0 }
    }

    /// Runs a statement without parameters or results (BEGIN, SAVEPOINT, COMMIT...).
    pub fn exec(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        self.query(sql, &[], |_| ()).map(|_| ())
    }

    /// Runs a write; returns the number of rows it changed.
    pub fn execute(&mut self, sql: &'static str, params: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        self.query(sql, params, |_| ())?;
        // SAFETY: the handle is open.
        Ok(unsafe { ffi::sqlite3_changes64(self.handle.as_ptr()) } as u64)
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
        // SAFETY: the statement belongs to this connection; reset makes it reusable and
        // releases its read/write locks on the database.
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
            let index = i as c_int + 1;
            // SAFETY: `raw` is a live statement; SQLITE_TRANSIENT makes SQLite copy the text.
            let rc = unsafe {
                match *param {
                    Value::Int(v) => ffi::sqlite3_bind_int64(raw, index, v),
                    Value::Text(s) | Value::OptText(Some(s)) => ffi::sqlite3_bind_text(
                        raw,
                        index,
                        s.as_ptr() as *const c_char,
                        s.len() as c_int,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                    Value::OptText(None) => ffi::sqlite3_bind_null(raw, index),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error(rc, sql));
            }
        }
        let mut map = Some(map);
        let mut first = None;
        loop {
            // SAFETY: `raw` is a live, bound statement.
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
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes (no NUL needed when the length is given).
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.handle.as_ptr(),
                sql.as_ptr() as *const c_char,
                sql.len() as c_int,
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
                // SAFETY: finalize accepts NULL.
                unsafe { ffi::sqlite3_finalize(stmt) };
                Err(err)
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        for (_, stmt) in self.statements.drain() {
            // SAFETY: each statement was prepared on this connection and is finalized once.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
        }
        if self.in_transaction() {
            // Never hand the connection back with a half-done group (a panic got here).
            // SAFETY: the handle is open; the SQL is a NUL-terminated literal.
            unsafe {
                ffi::sqlite3_exec(
                    self.handle.as_ptr(),
                    c"ROLLBACK".as_ptr(),
                    None,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;

    #[tokio::test]
    async fn binds_reads_and_never_leaves_a_transaction_open() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/raw.db", dir.path().display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        {
            let mut locked = conn.lock_handle().await.unwrap();
            // SAFETY: the handle stays locked for the whole block.
            let mut db = unsafe { Db::new(locked.as_raw_handle()) };
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
}
